//! tokio: `net::TcpStream`/`TcpListener`, `time::Sleep`, `task::spawn`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::AsyncWrite;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};

/// A connected TCP socket with `TCP_NODELAY` set. Every `poll_read` and
/// `poll_write` that reaches the kernel is exactly one system call.
#[derive(Debug)]
pub(crate) struct Socket {
    stream: TcpStream,
}

impl Socket {
    fn new(stream: TcpStream) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        Ok(Self { stream })
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// One `read` into `buf` once the socket is readable.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.stream.poll_read_ready(cx))?;
            match self.stream.try_read(buf) {
                // Readiness was stale; polling again registers the waker.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return Poll::Ready(r),
            }
        }
    }

    /// One `write` of `buf` once the socket is writable.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            match self.stream.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return Poll::Ready(r),
            }
        }
    }

    /// Shuts the sending direction down (FIN after the written bytes).
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Connects to the first address of `addr` that accepts.
pub(crate) async fn connect(addr: impl ToSocketAddrs) -> io::Result<Socket> {
    Socket::new(TcpStream::connect(addr).await?)
}

/// A listening socket.
#[derive(Debug)]
pub(crate) struct Listener {
    inner: TcpListener,
}

impl Listener {
    pub(crate) async fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Ok(Self {
            inner: TcpListener::bind(addr).await?,
        })
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The next connection; an error concerns that connection (or a
    /// passing shortage of descriptors), not the listener.
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<Socket>> {
        let (stream, _) = ready!(self.inner.poll_accept(cx))?;
        Poll::Ready(Socket::new(stream))
    }
}

/// A resettable one-shot timer.
#[derive(Debug, Default)]
pub(crate) struct Timer {
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Timer {
    /// Fires at `at` (instead of any earlier setting).
    pub(crate) fn reset(&mut self, at: Instant) {
        let at = tokio::time::Instant::from_std(at);
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().reset(at),
            None => self.sleep = Some(Box::pin(tokio::time::sleep_until(at))),
        }
    }

    /// Ready once the time set by [`reset`](Self::reset) has come.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

/// Aborts a spawned task.
#[derive(Debug)]
pub(crate) struct TaskHandle(tokio::task::AbortHandle);

impl TaskHandle {
    /// Drops the task's future at its next scheduling point.
    pub(crate) fn abort(&self) {
        self.0.abort();
    }
}

/// Runs `task` in the background.
pub(crate) fn spawn<F>(task: F) -> TaskHandle
where
    F: Future<Output = ()> + Send + 'static,
{
    TaskHandle(tokio::spawn(task).abort_handle())
}

/// Tasks that are aborted together when the set is dropped.
#[derive(Debug, Default)]
pub(crate) struct TaskSet(tokio::task::JoinSet<()>);

impl TaskSet {
    pub(crate) fn spawn<F>(&mut self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.spawn(task);
    }

    /// Forgets the tasks that have finished.
    pub(crate) fn poll_reap(&mut self, cx: &mut Context<'_>) {
        while let Poll::Ready(Some(_)) = self.0.poll_join_next(cx) {}
    }
}

/// The runtime a connection runs on, for blocking callers.
#[derive(Clone, Debug)]
pub(crate) struct Handle(tokio::runtime::Handle);

impl Handle {
    /// The runtime of the calling task.
    pub(crate) fn current() -> Self {
        Self(tokio::runtime::Handle::current())
    }

    /// Runs `f` to completion on this thread (not a runtime worker thread).
    pub(crate) fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }
}

/// `f`'s output, or `None` if `at` came first.
pub(crate) async fn timeout_at<F: Future>(at: Instant, f: F) -> Option<F::Output> {
    tokio::time::timeout_at(tokio::time::Instant::from_std(at), f)
        .await
        .ok()
}

/// Waits for `d`.
pub(crate) async fn sleep(d: Duration) {
    tokio::time::sleep(d).await;
}
