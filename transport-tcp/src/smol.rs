//! The driver on smol (feature `smol`): async-io sockets and timers, and
//! tasks on smol's global executor ([`smol::spawn`], whose thread count is
//! the `SMOL_THREADS` environment variable, 1 by default) or on an
//! [`Executor`] you pass ([`connect_on`], [`Listener::bind_on`]) and run
//! yourself.
//!
//! These functions need no runtime context: any executor may poll them
//! (async-io's reactor runs on its own thread, or in `smol::block_on`).
//! When the `tokio` feature is off too, the crate root re-exports this
//! module's [`connect`] and [`Listener`].
//!
//! ```
//! use zerowire::proto::Config;
//! use zerowire_tcp::smol::{connect, Listener};
//!
//! #[zerowire::service]
//! pub trait Calc {
//!     fn add3(&self, a: u32, b: u32, c: u32) -> u32;
//! }
//!
//! struct Calculator;
//!
//! impl Calc for Calculator {
//!     fn add3(&self, a: u32, b: u32, c: u32) -> u32 {
//!         a + b + c
//!     }
//! }
//!
//! smol::block_on(async {
//!     let listener = Listener::bind("127.0.0.1:0", Config::default()).await?;
//!     let addr = listener.local_addr()?;
//!     smol::spawn(listener.serve(|| CalcService::new(Calculator))).detach();
//!
//!     let calc = CalcClient::new(connect(addr, (), Config::default()).await?);
//!     assert_eq!(calc.add3(1, 2, 3).await, Ok(6));
//!     std::io::Result::Ok(())
//! })?;
//! # std::io::Result::Ok(())
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use smol::net::AsyncToSocketAddrs;
use smol::Executor;
use zerowire::proto::Config;
use zerowire::rpc::Service;

use crate::runtime::smol::{resolve, Smol};
use crate::{listener, Context, Peer};

/// Connects to `addr`, serves `service` to the peer on the same connection
/// (`()` for a pure client), and returns once both HELLOs are exchanged.
///
/// This side is the connection's initiator. The socket has `TCP_NODELAY`
/// set; one driver task (spawned on smol's global executor) owns it, and
/// every peer call's handler runs in a task there too.
///
/// # Errors
///
/// The connect error, or a handshake failure: `InvalidData` for a peer that
/// is not zerowire or speaks another protocol version, `TimedOut` when its
/// HELLO does not arrive within [`Config::handshake_timeout`],
/// `ConnectionAborted` when it hangs up.
pub async fn connect<S: Service<Context>>(
    addr: impl AsyncToSocketAddrs,
    service: S,
    config: Config,
) -> io::Result<Peer> {
    listener::connect(Smol::new(None), resolve(addr).await, service, config).await
}

/// As [`connect`], with the connection's tasks (driver and handlers) on
/// `executor`, which the application runs (for example
/// `executor.run(...)` on threads of its own). Nothing happens on the
/// connection while no thread runs `executor`.
pub async fn connect_on<S: Service<Context>>(
    executor: Arc<Executor<'static>>,
    addr: impl AsyncToSocketAddrs,
    service: S,
    config: Config,
) -> io::Result<Peer> {
    let rt = Smol::new(Some(executor));
    listener::connect(rt, resolve(addr).await, service, config).await
}

/// A TCP listener that serves a zerowire service on every connection it
/// accepts (as the connections' acceptor), on smol.
#[derive(Debug)]
pub struct Listener(listener::Listener<Smol>);

impl Listener {
    /// Listens on `addr` (`127.0.0.1:0` picks a free port: see
    /// [`local_addr`](Self::local_addr)); every connection gets `config`.
    /// Connections run on smol's global executor.
    pub async fn bind(addr: impl AsyncToSocketAddrs, config: Config) -> io::Result<Self> {
        let rt = Smol::new(None);
        Ok(Self(
            listener::Listener::bind(rt, resolve(addr).await, config).await?,
        ))
    }

    /// As [`bind`](Self::bind), with every connection's tasks on
    /// `executor` (see [`connect_on`]).
    pub async fn bind_on(
        executor: Arc<Executor<'static>>,
        addr: impl AsyncToSocketAddrs,
        config: Config,
    ) -> io::Result<Self> {
        let rt = Smol::new(Some(executor));
        Ok(Self(
            listener::Listener::bind(rt, resolve(addr).await, config).await?,
        ))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }

    /// Accepts one connection and serves `service` on it in a task of its
    /// own. The returned [`Peer`] calls the client back; the handshake may
    /// still be under way (see [`Peer::handshake`]). The connection closes
    /// gracefully once every clone of the `Peer` is dropped.
    pub async fn accept<S: Service<Context>>(&self, service: S) -> io::Result<Peer> {
        self.0.accept(service).await
    }

    /// Accepts connections until this future is dropped, serving a new
    /// `make_service()` on each, each connection in a task of its own.
    ///
    /// A connection ends only when its peer closes it or fails; an error on
    /// one connection (or on accepting it) never affects the others.
    /// Dropping the future (or its `smol::Task`) drops every connection it
    /// accepted at once, without a GOAWAY: their peers see
    /// [`CloseReason::TransportClosed`](zerowire::proto::CloseReason::TransportClosed).
    pub async fn serve<S, F>(self, make_service: F)
    where
        S: Service<Context>,
        F: FnMut() -> S,
    {
        self.0.serve(make_service).await;
    }
}
