//! The driver on tokio (feature `tokio`, on by default): sockets, timers
//! and tasks of the tokio runtime these functions are called in (they panic
//! outside one). The crate root re-exports this module's [`connect`] and
//! [`Listener`].

use std::io;
use std::net::SocketAddr;

use tokio::net::ToSocketAddrs;
use zerowire::proto::Config;
use zerowire::rpc::Service;

use crate::runtime::tokio::{resolve, Tokio};
use crate::{listener, Context, Peer};

/// Connects to `addr`, serves `service` to the peer on the same connection
/// (`()` for a pure client), and returns once both HELLOs are exchanged.
///
/// This side is the connection's initiator. The socket has `TCP_NODELAY`
/// set; one driver task (spawned on the current tokio runtime) owns it.
///
/// # Errors
///
/// The connect error, or a handshake failure: `InvalidData` for a peer that
/// is not zerowire or speaks another protocol version, `TimedOut` when its
/// HELLO does not arrive within [`Config::handshake_timeout`],
/// `ConnectionAborted` when it hangs up.
///
/// # Panics
///
/// Outside a tokio runtime.
pub async fn connect<S: Service<Context>>(
    addr: impl ToSocketAddrs,
    service: S,
    config: Config,
) -> io::Result<Peer> {
    let rt = Tokio::current();
    listener::connect(rt, resolve(addr).await, service, config).await
}

/// A TCP listener that serves a zerowire service on every connection it
/// accepts (as the connections' acceptor), on tokio.
#[derive(Debug)]
pub struct Listener(listener::Listener<Tokio>);

impl Listener {
    /// Listens on `addr` (`127.0.0.1:0` picks a free port: see
    /// [`local_addr`](Self::local_addr)); every connection gets `config`.
    /// Connections run on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn bind(addr: impl ToSocketAddrs, config: Config) -> io::Result<Self> {
        let rt = Tokio::current();
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
    /// Dropping the future (or aborting its task) drops every connection it
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
