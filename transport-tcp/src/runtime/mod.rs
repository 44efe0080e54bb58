//! Runtime specifics (sockets, timers, tasks), one small module per
//! runtime. The driver ([`crate::driver`]) and the listener are generic over
//! [`Runtime`]; handles ([`crate::Peer`]) are not: they keep a [`Handle`],
//! an enum of the enabled runtimes, for the little they need (a deadline
//! timer and blocking on a call).

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

#[cfg(feature = "smol")]
pub(crate) mod smol;
#[cfg(feature = "tokio")]
pub(crate) mod tokio;

/// Everything the driver needs from an async runtime.
pub(crate) trait Runtime: Clone + Debug + Send + Sync + 'static {
    /// A connected TCP socket with `TCP_NODELAY` set. Every `poll_read` and
    /// `poll_write` that returns `Ready(Ok(n))` made exactly one system
    /// call that moved `n` bytes.
    type Socket: Socket;
    /// A listening socket.
    type Listener: Debug + Send + Sync + 'static;
    /// A resettable one-shot timer.
    type Timer: Timer;
    /// A spawned task. Dropping it lets the task run on (detaches it).
    type Task: Task;

    /// Connects to `addr`.
    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Socket>> + Send;

    /// Listens on `addr`.
    fn bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send;

    /// The address `listener` listens on.
    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr>;

    /// The next connection; an error concerns that connection (or a
    /// passing shortage of descriptors), not the listener.
    fn poll_accept(
        listener: &Self::Listener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Self::Socket>>;

    /// Runs `task` in the background.
    fn spawn<F>(&self, task: F) -> Self::Task
    where
        F: Future<Output = ()> + Send + 'static;

    /// Waits for `d`.
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send;

    /// Runs `f`, which may hold the thread for milliseconds, from a task:
    /// the runtime first moves its other tasks queued on this thread to
    /// another one where it can (tokio's multi-thread runtime); elsewhere
    /// `f` just runs.
    fn blocking<T>(f: impl FnOnce() -> T) -> T;

    /// What a [`crate::Peer`] keeps of the runtime.
    fn handle(&self) -> Handle;
}

/// A connected socket (see [`Runtime::Socket`]).
pub(crate) trait Socket: Send + 'static {
    fn peer_addr(&self) -> io::Result<SocketAddr>;
    fn local_addr(&self) -> io::Result<SocketAddr>;
    /// One `read` into `buf` (once the socket is readable).
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    /// One `write` of `buf` (once the socket is writable).
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
    /// One `writev` of `bufs`, in order (once the socket is writable).
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>>;
    /// Shuts the sending direction down (FIN after the written bytes).
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// A resettable one-shot timer (see [`Runtime::Timer`]).
pub(crate) trait Timer: Default + Send + 'static {
    /// Fires at `at` (instead of any earlier setting).
    fn reset(&mut self, at: Instant);
    /// Ready once the time set by [`reset`](Self::reset) has come.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

/// A spawned task (see [`Runtime::Task`]).
pub(crate) trait Task: Debug + Send + 'static {
    /// Drops the task's future (at its next scheduling point if it is
    /// running right now).
    fn abort(self);
    /// Whether the task has completed.
    fn is_finished(&self) -> bool;
}

/// The runtime a connection runs on, as its handles keep it.
#[derive(Clone, Debug)]
pub(crate) enum Handle {
    #[cfg(feature = "tokio")]
    Tokio(::tokio::runtime::Handle),
    #[cfg(feature = "smol")]
    Smol,
}

impl Handle {
    /// Runs `f` to completion on this thread (not a runtime worker thread).
    pub(crate) fn block_on<F: Future>(&self, f: F) -> F::Output {
        match self {
            #[cfg(feature = "tokio")]
            Self::Tokio(h) => h.block_on(f),
            #[cfg(feature = "smol")]
            Self::Smol => ::smol::block_on(f),
        }
    }

    /// `f`'s output, or `None` if `at` came first.
    pub(crate) async fn timeout_at<F: Future>(&self, at: Instant, f: F) -> Option<F::Output> {
        match self {
            #[cfg(feature = "tokio")]
            Self::Tokio(h) => tokio::timeout_at(h, at, f).await,
            #[cfg(feature = "smol")]
            Self::Smol => smol::timeout_at(at, f).await,
        }
    }
}
