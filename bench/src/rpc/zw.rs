//! zerowire: `#[zerowire::service]` over the `zerowire-tcp` tokio transport.
//!
//! The service is the issue's: `async fn add3`, whose calls the transport
//! runs each in a task of its own (as tarpc's and tonic's servers do); a
//! second row serves a plain `fn add3`, which the transport runs on the
//! connection's own task.
//!
//! Both ends use `Config::default()` (as tarpc and tonic use their
//! defaults). Its `max_calls` is 256, so all 256 calls in flight are on the
//! wire. [`start_max_calls`] runs the same service with `max_calls = 32`
//! on both ends (the default before `c862075`): of 256 calls in flight, 32
//! are on the wire and the client's driver queues the rest, starting them
//! as replies free call slots.
//!
//! Bytes and write calls come from the transport's own counters
//! ([`Peer::stats`] of the client's and the server's `Peer`).

use zerowire::proto::Config;
use zerowire_tcp::{connect, Listener, Peer};

use super::{Add3, IoCounts, Meter, Running};

/// The zerowire service with an `async fn` handler (`ZwCalcService<S>`
/// serves it, `ZwCalcClient<C>` calls it).
#[zerowire::service]
pub trait ZwCalc {
    /// Adds three numbers.
    async fn add3(&self, a: u32, b: u32, c: u32) -> u32;
}

/// The same method with a plain `fn` handler, which the transport runs on
/// the connection's own task (no spawn).
#[zerowire::service]
pub trait ZwCalcFn {
    /// Adds three numbers.
    fn add3(&self, a: u32, b: u32, c: u32) -> u32;
}

/// The handler.
#[derive(Default)]
pub struct Calculator;

impl ZwCalcFn for Calculator {
    fn add3(&self, a: u32, b: u32, c: u32) -> u32 {
        a.wrapping_add(b).wrapping_add(c)
    }
}

/// A client of the plain-`fn` service.
#[derive(Clone)]
pub struct ZwFnClient(pub ZwCalcFnClient<Peer>);

impl Add3 for ZwFnClient {
    async fn add3(&mut self, a: u32, b: u32, c: u32) -> Result<u32, String> {
        self.0.add3(a, b, c).await.map_err(|e| format!("{e:?}"))
    }
}

/// zerowire with the plain `fn` handler, default configuration.
pub async fn start_plain_fn() -> Result<Running<ZwFnClient>, String> {
    let (client, server) = pair(ZwCalcFnService::new(Calculator), Config::default()).await?;
    Ok(Running {
        client: ZwFnClient(ZwCalcFnClient::new(client.clone())),
        meter: Box::new(ZwStats { client, server }),
        tasks: Vec::new(),
    })
}

impl ZwCalc for Calculator {
    async fn add3(&self, a: u32, b: u32, c: u32) -> u32 {
        a.wrapping_add(b).wrapping_add(c)
    }
}

/// A zerowire client; clones share the connection.
#[derive(Clone)]
pub struct ZwClient(pub ZwCalcClient<Peer>);

impl Add3 for ZwClient {
    async fn add3(&mut self, a: u32, b: u32, c: u32) -> Result<u32, String> {
        self.0.add3(a, b, c).await.map_err(|e| format!("{e:?}"))
    }
}

/// The transport's counters of both ends of the connection. Holding the
/// two `Peer`s also keeps the connection open until the system stops.
pub struct ZwStats {
    client: Peer,
    server: Peer,
}

impl Meter for ZwStats {
    fn counts(&self) -> IoCounts {
        let c = self.client.stats();
        let s = self.server.stats();
        IoCounts {
            bytes: c.bytes_read + c.bytes_written,
            writes: c.writes + s.writes,
        }
    }

    fn check(&self) -> Result<(), String> {
        let c = self.client.stats();
        let s = self.server.stats();
        if c.bytes_written == s.bytes_read && s.bytes_written == c.bytes_read {
            Ok(())
        } else {
            Err(format!("client {c:?} and server {s:?} disagree"))
        }
    }
}

/// Starts a server of `service` on `127.0.0.1:0` and connects one client;
/// returns the client's and the server's `Peer`.
async fn pair<S>(service: S, config: Config) -> Result<(Peer, Peer), String>
where
    S: zerowire::rpc::Service<zerowire_tcp::Context>,
{
    let listener = Listener::bind("127.0.0.1:0", config.clone())
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (server, client) = tokio::join!(listener.accept(service), connect(addr, (), config));
    let (server, client) = (
        server.map_err(|e| e.to_string())?,
        client.map_err(|e| e.to_string())?,
    );
    server.handshake().await.map_err(|e| e.to_string())?;
    Ok((client, server))
}

/// zerowire with the `async fn` handler, default configuration.
pub async fn start() -> Result<Running<ZwClient>, String> {
    start_with(Config::default()).await
}

/// zerowire with the `async fn` handler, `max_calls` on both ends.
pub async fn start_max_calls(max_calls: u16) -> Result<Running<ZwClient>, String> {
    start_with(Config {
        max_calls,
        ..Config::default()
    })
    .await
}

async fn start_with(config: Config) -> Result<Running<ZwClient>, String> {
    let (client, server) = pair(ZwCalcService::new(Calculator), config).await?;
    Ok(Running {
        client: ZwClient(ZwCalcClient::new(client.clone())),
        meter: Box::new(ZwStats { client, server }),
        tasks: Vec::new(),
    })
}
