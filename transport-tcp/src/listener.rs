//! [`connect`] and [`Listener`]: where connections and their drivers start.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::ToSocketAddrs;
use zerowire::proto::{CloseReason, Config, Role};
use zerowire::rpc::Service;

use crate::driver;
use crate::peer::{Context, Peer, Shared};
use crate::runtime::{self, Socket, TaskSet};

/// Pause after an accept error that is not about one connection (such as
/// running out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

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
pub async fn connect<S: Service<Context>>(
    addr: impl ToSocketAddrs,
    service: S,
    config: Config,
) -> io::Result<Peer> {
    let socket = runtime::connect(addr).await?;
    let (shared, driver) = start(socket, Arc::new(service), config, Role::Initiator)?;
    let _ = runtime::spawn(driver);
    let peer = Peer::first(shared);
    peer.handshake().await.map_err(handshake_error)?;
    Ok(peer)
}

/// A TCP listener that serves a zerowire service on every connection it
/// accepts (as the connections' acceptor).
#[derive(Debug)]
pub struct Listener {
    inner: runtime::Listener,
    config: Config,
}

impl Listener {
    /// Listens on `addr` (`127.0.0.1:0` picks a free port: see
    /// [`local_addr`](Self::local_addr)); every connection gets `config`.
    pub async fn bind(addr: impl ToSocketAddrs, config: Config) -> io::Result<Self> {
        Ok(Self {
            inner: runtime::Listener::bind(addr).await?,
            config,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Accepts one connection and serves `service` on it in a task of its
    /// own. The returned [`Peer`] calls the client back; the handshake may
    /// still be under way (see [`Peer::handshake`]). The connection closes
    /// gracefully once every clone of the `Peer` is dropped.
    pub async fn accept<S: Service<Context>>(&self, service: S) -> io::Result<Peer> {
        let socket = poll_fn(|cx| self.inner.poll_accept(cx)).await?;
        let (shared, driver) = start(
            socket,
            Arc::new(service),
            self.config.clone(),
            Role::Acceptor,
        )?;
        let _ = runtime::spawn(driver);
        Ok(Peer::first(shared))
    }

    /// Accepts connections until this future is dropped, serving a new
    /// `make_service()` on each, each connection in a task of its own.
    ///
    /// A connection ends only when its peer closes it or fails; an error on
    /// one connection (or on accepting it) never affects the others.
    /// Dropping the future (or aborting its task) drops every connection it
    /// accepted at once, without a GOAWAY: their peers see
    /// [`CloseReason::TransportClosed`].
    pub async fn serve<S, F>(self, mut make_service: F)
    where
        S: Service<Context>,
        F: FnMut() -> S,
    {
        let mut connections = TaskSet::default();
        loop {
            let accepted = poll_fn(|cx| {
                connections.poll_reap(cx);
                self.inner.poll_accept(cx)
            })
            .await;
            let started = accepted.and_then(|socket| {
                start(
                    socket,
                    Arc::new(make_service()),
                    self.config.clone(),
                    Role::Acceptor,
                )
            });
            match started {
                Ok((_, driver)) => connections.spawn(driver),
                Err(e) if concerns_one_connection(&e) => {}
                Err(_) => runtime::sleep(ACCEPT_BACKOFF).await,
            }
        }
    }
}

/// The shared state of a new connection and its driver, to spawn.
fn start<S: Service<Context>>(
    socket: Socket,
    service: Arc<S>,
    config: Config,
    role: Role,
) -> io::Result<(Arc<Shared>, impl Future<Output = ()> + Send + 'static)> {
    let (shared, cmds) = Shared::new(
        socket.peer_addr()?,
        socket.local_addr()?,
        config.default_deadline,
    );
    let driver = driver::run(socket, service, config, role, shared.clone(), cmds);
    Ok((shared, driver))
}

fn concerns_one_connection(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted
            | ConnectionReset
            | ConnectionRefused
            | NotConnected
            | Interrupted
            | WouldBlock
            | TimedOut
            | InvalidInput
    )
}

fn handshake_error(reason: CloseReason) -> io::Error {
    let kind = match reason {
        CloseReason::Incompatible | CloseReason::ProtocolViolation | CloseReason::FramingError => {
            io::ErrorKind::InvalidData
        }
        CloseReason::HandshakeTimeout => io::ErrorKind::TimedOut,
        CloseReason::TransportClosed => io::ErrorKind::ConnectionAborted,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("zerowire handshake failed: {reason}"))
}
