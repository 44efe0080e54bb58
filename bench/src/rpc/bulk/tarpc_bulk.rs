//! tarpc 0.38 for bulk transfers: the same transport as the add3 row
//! (`serde_transport`, tokio-serde's bincode, `LengthDelimitedCodec`, the
//! documented server loop spawning a task per request, default client and
//! server configuration), with the codec's frame limit raised from 8 MiB to
//! [`MAX_MESSAGE`] on both ends.
//!
//! tarpc has no streams: (b) runs as 1 MiB calls with 8 in flight
//! ([`frames_as_calls`]).
//!
//! Two argument types, two rows:
//!
//! - `Vec<u8>`, what a tarpc method declares for bytes unless told
//!   otherwise: serde handles it as a sequence of `u8`, one element at a
//!   time on both ends;
//! - [`Blob`], a newtype that serializes as one byte string
//!   (`serialize_bytes`, what `serde_bytes` does): one copy each way.

use std::sync::Arc;

use futures::StreamExt;
use prost::bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tarpc::context::{self, Context};
use tarpc::serde_transport;
use tarpc::server::{BaseChannel, Channel};
use tarpc::tokio_serde::formats::Bincode;
use tarpc::tokio_util::codec::LengthDelimitedCodec;
use tokio::net::{TcpListener, TcpStream};

use super::{check, frames_as_calls, Bulk, SentMeter, MAX_MESSAGE};
use crate::rpc::{Counted, IoStats, Running};

/// Bytes that serde serializes as one byte string instead of a sequence of
/// `u8`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// The tarpc bulk service.
#[tarpc::service]
pub trait TarpcBulk {
    /// Answers the [`check`] of `data` (a sequence of `u8` to serde).
    async fn upload(data: Vec<u8>) -> u64;
    /// The same for a byte string.
    async fn upload_bytes(data: Blob) -> u64;
    /// Adds three numbers: the small call of (c).
    async fn add3(a: u32, b: u32, c: u32) -> u32;
}

#[derive(Clone)]
struct Server;

impl TarpcBulk for Server {
    async fn upload(self, _: Context, data: Vec<u8>) -> u64 {
        check(&data)
    }
    async fn upload_bytes(self, _: Context, data: Blob) -> u64 {
        check(&data.0)
    }
    async fn add3(self, _: Context, a: u32, b: u32, c: u32) -> u32 {
        a.wrapping_add(b).wrapping_add(c)
    }
}

/// The tarpc client, `Vec<u8>` arguments; clones share the connection.
#[derive(Clone)]
pub struct TarpcVecClient(TarpcBulkClient);

/// The tarpc client, [`Blob`] arguments; clones share the connection.
#[derive(Clone)]
pub struct TarpcBlobClient(TarpcBulkClient);

async fn add3(c: &TarpcBulkClient, a: u32, b: u32, x: u32) -> Result<u32, String> {
    c.add3(context::current(), a, b, x)
        .await
        .map_err(|e| e.to_string())
}

impl Bulk for TarpcVecClient {
    type Arg = Vec<u8>;

    fn arg(&self, data: &Bytes) -> Vec<u8> {
        data.to_vec()
    }

    async fn upload(&mut self, arg: Vec<u8>) -> Result<u64, String> {
        self.0
            .upload(context::current(), arg)
            .await
            .map_err(|e| e.to_string())
    }

    async fn stream(&mut self, frames: Vec<Vec<u8>>, expect: Arc<[u64]>) -> Result<(), String> {
        frames_as_calls(self, frames, expect).await
    }

    async fn add3(&mut self, a: u32, b: u32, c: u32) -> Result<u32, String> {
        add3(&self.0, a, b, c).await
    }
}

impl Bulk for TarpcBlobClient {
    type Arg = Blob;

    fn arg(&self, data: &Bytes) -> Blob {
        Blob(data.to_vec())
    }

    async fn upload(&mut self, arg: Blob) -> Result<u64, String> {
        self.0
            .upload_bytes(context::current(), arg)
            .await
            .map_err(|e| e.to_string())
    }

    async fn stream(&mut self, frames: Vec<Blob>, expect: Arc<[u64]>) -> Result<(), String> {
        frames_as_calls(self, frames, expect).await
    }

    async fn add3(&mut self, a: u32, b: u32, c: u32) -> Result<u32, String> {
        add3(&self.0, a, b, c).await
    }
}

fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(MAX_MESSAGE)
        .new_codec()
}

/// Starts a tarpc bulk server on `127.0.0.1:0` and connects one client.
async fn start() -> Result<Running<TarpcBulkClient>, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server_stats = IoStats::new();
    let ss = server_stats.clone();
    let server = tokio::spawn(async move {
        if let Ok((sock, _)) = listener.accept().await {
            let _ = sock.set_nodelay(true);
            let framed = tarpc::tokio_util::codec::Framed::new(Counted::new(sock, ss), codec());
            let transport = serde_transport::new(framed, Bincode::default());
            BaseChannel::with_defaults(transport)
                .execute(Server.serve())
                .for_each(|request| async {
                    tokio::spawn(request);
                })
                .await;
        }
    });

    let sock = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    sock.set_nodelay(true).map_err(|e| e.to_string())?;
    let client_stats = IoStats::new();
    let framed =
        tarpc::tokio_util::codec::Framed::new(Counted::new(sock, client_stats.clone()), codec());
    let transport = serde_transport::new(framed, Bincode::default());
    let client = TarpcBulkClient::new(tarpc::client::Config::default(), transport).spawn();
    Ok(Running {
        client,
        meter: Box::new(SentMeter {
            client: client_stats,
            server: server_stats,
        }),
        tasks: vec![server],
    })
}

/// tarpc with `Vec<u8>` arguments.
pub async fn start_vec() -> Result<Running<TarpcVecClient>, String> {
    let r = start().await?;
    Ok(Running {
        client: TarpcVecClient(r.client),
        meter: r.meter,
        tasks: r.tasks,
    })
}

/// tarpc with [`Blob`] arguments.
pub async fn start_bytes() -> Result<Running<TarpcBlobClient>, String> {
    let r = start().await?;
    Ok(Running {
        client: TarpcBlobClient(r.client),
        meter: r.meter,
        tasks: r.tasks,
    })
}
