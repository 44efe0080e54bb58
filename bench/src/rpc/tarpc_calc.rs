//! tarpc 0.38: `#[tarpc::service]`, `serde_transport` over a
//! `LengthDelimitedCodec` framed socket with tokio-serde's bincode, the
//! documented server loop (`BaseChannel::with_defaults(..).execute(..)`, one
//! spawned task per request) and default client and server configuration.

use futures::StreamExt;
use tarpc::context::{self, Context};
use tarpc::serde_transport;
use tarpc::server::{BaseChannel, Channel};
use tarpc::tokio_serde::formats::Bincode;
use tarpc::tokio_util::codec::LengthDelimitedCodec;
use tokio::net::{TcpListener, TcpStream};

use super::{Add3, Counted, IoStats, PeerStats, Running};

/// The tarpc service.
#[tarpc::service]
pub trait TarpcCalc {
    /// Adds three numbers.
    async fn add3(a: u32, b: u32, c: u32) -> u32;
}

#[derive(Clone)]
struct Server;

impl TarpcCalc for Server {
    async fn add3(self, _: Context, a: u32, b: u32, c: u32) -> u32 {
        a.wrapping_add(b).wrapping_add(c)
    }
}

/// A tarpc client; clones share the connection.
#[derive(Clone)]
pub struct TarpcClient(TarpcCalcClient);

impl Add3 for TarpcClient {
    async fn add3(&mut self, a: u32, b: u32, c: u32) -> Result<u32, String> {
        self.0
            .add3(context::current(), a, b, c)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Starts a tarpc server on `127.0.0.1:0` and connects one client to it.
pub async fn start() -> Result<Running<TarpcClient>, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server_stats = IoStats::new();
    let ss = server_stats.clone();
    let server = tokio::spawn(async move {
        if let Ok((sock, _)) = listener.accept().await {
            let _ = sock.set_nodelay(true);
            let framed = LengthDelimitedCodec::builder().new_framed(Counted::new(sock, ss));
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
        LengthDelimitedCodec::builder().new_framed(Counted::new(sock, client_stats.clone()));
    let transport = serde_transport::new(framed, Bincode::default());
    let client = TarpcCalcClient::new(tarpc::client::Config::default(), transport).spawn();
    Ok(Running {
        client: TarpcClient(client),
        meter: Box::new(PeerStats {
            client: client_stats,
            server: server_stats,
        }),
        tasks: vec![server],
    })
}
