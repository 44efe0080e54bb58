//! Where connections and their drivers start, for any [`Runtime`]; the
//! public `connect` and `Listener` of each runtime module wrap these.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use zerowire::proto::{CloseReason, Config, Role};
use zerowire::rpc::Service;

use crate::driver;
use crate::peer::{Context, Peer, Shared};
use crate::runtime::{Runtime, Socket as _, Task as _};

/// Pause after an accept error that is not about one connection (such as
/// running out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Connects to the first of `addrs` that accepts, starts the driver on `rt`
/// and waits for the handshake.
pub(crate) async fn connect<R: Runtime, S: Service<Context>>(
    rt: R,
    addrs: io::Result<Vec<SocketAddr>>,
    service: S,
    config: Config,
) -> io::Result<Peer> {
    let socket = first_of(addrs?, R::connect).await?;
    let (shared, driver) = start(&rt, socket, Arc::new(service), config, Role::Initiator)?;
    let _ = rt.spawn(driver);
    let peer = Peer::first(shared);
    peer.handshake().await.map_err(handshake_error)?;
    Ok(peer)
}

/// `f` on each address until one succeeds; else the last error.
async fn first_of<T, F: Future<Output = io::Result<T>>>(
    addrs: Vec<SocketAddr>,
    f: impl Fn(SocketAddr) -> F,
) -> io::Result<T> {
    let mut last = io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any address",
    );
    for addr in addrs {
        match f(addr).await {
            Ok(t) => return Ok(t),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A listener on runtime `R`.
#[derive(Debug)]
pub(crate) struct Listener<R: Runtime> {
    rt: R,
    inner: R::Listener,
    config: Config,
}

impl<R: Runtime> Listener<R> {
    pub(crate) async fn bind(
        rt: R,
        addrs: io::Result<Vec<SocketAddr>>,
        config: Config,
    ) -> io::Result<Self> {
        Ok(Self {
            inner: first_of(addrs?, R::bind).await?,
            rt,
            config,
        })
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        R::local_addr(&self.inner)
    }

    pub(crate) async fn accept<S: Service<Context>>(&self, service: S) -> io::Result<Peer> {
        let socket = poll_fn(|cx| R::poll_accept(&self.inner, cx)).await?;
        let (shared, driver) = start(
            &self.rt,
            socket,
            Arc::new(service),
            self.config.clone(),
            Role::Acceptor,
        )?;
        let _ = self.rt.spawn(driver);
        Ok(Peer::first(shared))
    }

    pub(crate) async fn serve<S, F>(self, mut make_service: F)
    where
        S: Service<Context>,
        F: FnMut() -> S,
    {
        let mut connections = TaskSet::<R>(Vec::new());
        loop {
            let accepted = poll_fn(|cx| R::poll_accept(&self.inner, cx)).await;
            let started = accepted.and_then(|socket| {
                start(
                    &self.rt,
                    socket,
                    Arc::new(make_service()),
                    self.config.clone(),
                    Role::Acceptor,
                )
            });
            match started {
                Ok((_, driver)) => {
                    connections.0.retain(|t| !t.is_finished());
                    connections.0.push(self.rt.spawn(driver));
                }
                Err(e) if concerns_one_connection(&e) => {}
                Err(_) => R::sleep(ACCEPT_BACKOFF).await,
            }
        }
    }
}

/// Connection tasks, aborted together when the set is dropped.
struct TaskSet<R: Runtime>(Vec<R::Task>);

impl<R: Runtime> Drop for TaskSet<R> {
    fn drop(&mut self) {
        for task in self.0.drain(..) {
            task.abort();
        }
    }
}

/// The shared state of a new connection and its driver, to spawn.
fn start<R: Runtime, S: Service<Context>>(
    rt: &R,
    socket: R::Socket,
    service: Arc<S>,
    config: Config,
    role: Role,
) -> io::Result<(Arc<Shared>, impl Future<Output = ()> + Send + 'static)> {
    let shared = Shared::new(
        socket.peer_addr()?,
        socket.local_addr()?,
        config.default_deadline,
        rt.handle(),
    );
    let driver = driver::run(rt.clone(), socket, service, config, role, shared.clone());
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
