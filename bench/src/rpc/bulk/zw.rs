//! zerowire: an ordinary `#[zerowire::service]` method with a `Vec<u8>`
//! argument over `zerowire-tcp`. An argument too big for one frame travels
//! in chunks: the client's driver encodes it once and writes each chunk's
//! header and payload with one vectored write; the server's driver reads
//! the payload straight into a buffer of the announced size, then the
//! generated dispatcher decodes the `Vec<u8>` from it.
//!
//! Configuration: `Config::default()` on both ends except `max_message`,
//! raised from 64 MiB to [`MAX_MESSAGE`] so the 64 MiB argument plus its
//! length prefix fits (as tonic's `max_decoding_message_size` and tarpc's
//! frame limit are raised).
//!
//! Three rows: the ordinary `async fn upload(&self, data: Vec<u8>)` (the
//! issue's targets are judged on it); a plain `fn upload_bytes(&self,
//! data: Bytes)`, which takes the fewest copies the transport offers today;
//! and the same with 1 MiB chunks and 4 MiB of credit per call.
//!
//! (b) runs as 1 MiB calls with 8 in flight ([`frames_as_calls`]) in those
//! rows, and as one call with a request stream (`Source<Bytes>`, 64 items of
//! 1 MiB) in a fourth row, which measures (b) only.
//!
//! Counts come from the transport's own [`Peer::stats`] of the client's
//! `Peer` (the sending side).

use std::sync::Arc;

use prost::bytes::Bytes;
use zerowire::proto::Config;
use zerowire::rpc::Source;
use zerowire_tcp::{connect, Listener, Peer};

use super::{check, combine, frames_as_calls, Bulk, MAX_MESSAGE};
use crate::rpc::{IoCounts, Meter, Running};

/// The bulk service (`ZwBulkService<S>` serves it, `ZwBulkClient<C>` calls
/// it).
#[zerowire::service]
pub trait ZwBulk {
    /// Answers the [`check`] of `data`: the ordinary method of the main
    /// row.
    async fn upload(&self, data: Vec<u8>) -> u64;
    /// The same as a plain `fn` taking `Bytes`, the second row: the
    /// transport runs a plain `fn` on the connection's task with the
    /// arguments in place (an `async fn` gets its own copy of them first),
    /// and `Bytes` decodes in one copy (`Vec<u8>` zero-fills, then copies).
    fn upload_bytes(&self, data: Bytes) -> u64;
    /// Adds three numbers: the small call of (c).
    async fn add3(&self, a: u32, b: u32, c: u32) -> u32;
    /// Answers the [`combine`] of the [`check`] of every frame: (b) through
    /// a request stream (the streaming row).
    async fn stream(&self, frames: Source<Bytes>) -> u64;
}

/// The handler.
pub struct Sink;

impl ZwBulk for Sink {
    async fn upload(&self, data: Vec<u8>) -> u64 {
        check(&data)
    }
    fn upload_bytes(&self, data: Bytes) -> u64 {
        check(&data)
    }
    async fn add3(&self, a: u32, b: u32, c: u32) -> u32 {
        a.wrapping_add(b).wrapping_add(c)
    }
    async fn stream(&self, mut frames: Source<Bytes>) -> u64 {
        let mut answer = 0;
        while let Some(frame) = frames.next().await {
            match frame {
                Ok(f) => answer = combine([answer, check(&f)]),
                // A wrong answer: the bench aborts.
                Err(_) => return 0,
            }
        }
        answer
    }
}

/// A zerowire bulk client; clones share the connection.
#[derive(Clone)]
pub struct ZwClient(pub ZwBulkClient<Peer>);

impl Bulk for ZwClient {
    type Arg = Vec<u8>;

    fn arg(&self, data: &Bytes) -> Vec<u8> {
        data.to_vec()
    }

    async fn upload(&mut self, arg: Vec<u8>) -> Result<u64, String> {
        self.0.upload(arg).await.map_err(|e| format!("{e:?}"))
    }

    async fn stream(&mut self, frames: Vec<Vec<u8>>, expect: Arc<[u64]>) -> Result<(), String> {
        frames_as_calls(self, frames, expect).await
    }

    async fn add3(&mut self, a: u32, b: u32, c: u32) -> Result<u32, String> {
        self.0.add3(a, b, c).await.map_err(|e| format!("{e:?}"))
    }
}

/// A zerowire client of the plain-`fn`, `Bytes` method; clones share the
/// connection.
#[derive(Clone)]
pub struct ZwBytesClient(pub ZwBulkClient<Peer>);

impl Bulk for ZwBytesClient {
    type Arg = Bytes;

    fn arg(&self, data: &Bytes) -> Bytes {
        data.clone()
    }

    async fn upload(&mut self, arg: Bytes) -> Result<u64, String> {
        self.0.upload_bytes(arg).await.map_err(|e| format!("{e:?}"))
    }

    async fn stream(&mut self, frames: Vec<Bytes>, expect: Arc<[u64]>) -> Result<(), String> {
        frames_as_calls(self, frames, expect).await
    }

    async fn add3(&mut self, a: u32, b: u32, c: u32) -> Result<u32, String> {
        self.0.add3(a, b, c).await.map_err(|e| format!("{e:?}"))
    }
}

/// A zerowire client whose (b) is one call with a request stream of
/// `Bytes` frames (the client passes `futures::stream::iter` of them); its
/// (a) and (c) are not measured (the other rows cover them), its check
/// upload uses `upload_bytes`.
#[derive(Clone)]
pub struct ZwStreamClient(pub ZwBulkClient<Peer>);

impl Bulk for ZwStreamClient {
    type Arg = Bytes;
    const UPLOADS: bool = false;

    fn arg(&self, data: &Bytes) -> Bytes {
        data.clone()
    }

    async fn upload(&mut self, arg: Bytes) -> Result<u64, String> {
        self.0.upload_bytes(arg).await.map_err(|e| format!("{e:?}"))
    }

    async fn stream(&mut self, frames: Vec<Bytes>, expect: Arc<[u64]>) -> Result<(), String> {
        let got = self
            .0
            .stream(futures::stream::iter(frames))
            .await
            .map_err(|e| format!("{e:?}"))?;
        let want = combine(expect.iter().copied());
        if got == want {
            Ok(())
        } else {
            Err(format!("stream answered {got}, expected {want}"))
        }
    }

    async fn add3(&mut self, a: u32, b: u32, c: u32) -> Result<u32, String> {
        self.0.add3(a, b, c).await.map_err(|e| format!("{e:?}"))
    }
}

/// The client's transport counters (the sending side); the server's `Peer`
/// for the consistency check. Holding both also keeps the connection open
/// until the system stops.
pub struct ZwSent {
    client: Peer,
    server: Peer,
}

impl Meter for ZwSent {
    fn counts(&self) -> IoCounts {
        let c = self.client.stats();
        IoCounts {
            bytes: c.bytes_written,
            writes: c.writes,
        }
    }

    fn check(&self) -> Result<(), String> {
        let (c, s) = (self.client.stats(), self.server.stats());
        if c.bytes_written == s.bytes_read && s.bytes_written == c.bytes_read {
            Ok(())
        } else {
            Err(format!("client {c:?} and server {s:?} disagree"))
        }
    }
}

/// `max_chunk` of the big-chunk row (default: 256 KiB).
pub const BIG_CHUNK: u32 = 1 << 20;
/// `initial_credit` of the big-chunk row (default: 1 MiB).
pub const BIG_CREDIT: u32 = 4 << 20;

/// The bulk configuration: the defaults with `max_message` raised to
/// [`MAX_MESSAGE`].
pub fn config() -> Config {
    Config {
        max_message: MAX_MESSAGE as u32,
        ..Config::default()
    }
}

/// Starts a zerowire bulk server on `127.0.0.1:0` and connects one client
/// (of the `async fn upload(Vec<u8>)` method).
pub async fn start() -> Result<Running<ZwClient>, String> {
    start_with(config(), ZwClient).await
}

/// The same server and client, calling the plain `fn upload_bytes(Bytes)`.
pub async fn start_bytes() -> Result<Running<ZwBytesClient>, String> {
    start_with(config(), ZwBytesClient).await
}

/// As [`start_bytes`], with [`BIG_CHUNK`] chunks and [`BIG_CREDIT`] of
/// credit per call on both ends: fewer, larger writes, more bytes in
/// flight ahead of a small call.
pub async fn start_bytes_big_chunks() -> Result<Running<ZwBytesClient>, String> {
    start_with(big_chunks(), ZwBytesClient).await
}

/// The same server and client, streaming (b) through `stream(Source<Bytes>)`.
pub async fn start_stream() -> Result<Running<ZwStreamClient>, String> {
    start_with(config(), ZwStreamClient).await
}

/// As [`start_stream`], with [`BIG_CHUNK`] chunks and [`BIG_CREDIT`] of
/// credit per call on both ends.
pub async fn start_stream_big_chunks() -> Result<Running<ZwStreamClient>, String> {
    start_with(big_chunks(), ZwStreamClient).await
}

/// The bulk configuration with [`BIG_CHUNK`] chunks and [`BIG_CREDIT`] of
/// credit per call.
fn big_chunks() -> Config {
    Config {
        max_chunk: BIG_CHUNK,
        initial_credit: BIG_CREDIT,
        ..config()
    }
}

/// A server and client with `config`, called through the wrapper `client`
/// makes of the generated client.
async fn start_with<C>(
    config: Config,
    client: fn(ZwBulkClient<Peer>) -> C,
) -> Result<Running<C>, String> {
    let r = start_peer(config).await?;
    Ok(Running {
        client: client(r.client),
        meter: r.meter,
        tasks: r.tasks,
    })
}

async fn start_peer(config: Config) -> Result<Running<ZwBulkClient<Peer>>, String> {
    let listener = Listener::bind("127.0.0.1:0", config.clone())
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (server, client) = tokio::join!(
        listener.accept(ZwBulkService::new(Sink)),
        connect(addr, (), config)
    );
    let (server, client) = (
        server.map_err(|e| e.to_string())?,
        client.map_err(|e| e.to_string())?,
    );
    server.handshake().await.map_err(|e| e.to_string())?;
    Ok(Running {
        client: ZwBulkClient::new(client.clone()),
        meter: Box::new(ZwSent { client, server }),
        tasks: Vec::new(),
    })
}
