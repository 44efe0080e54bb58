//! tokio: `net::TcpStream`/`TcpListener`, `time::Sleep`, `task::spawn`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::AsyncWrite;
use tokio::net::{TcpListener, TcpStream};

use super::Handle;

/// The tokio runtime the connection was made on.
#[derive(Clone, Debug)]
pub(crate) struct Tokio(tokio::runtime::Handle);

impl Tokio {
    /// The runtime of the calling task (panics outside a tokio runtime).
    pub(crate) fn current() -> Self {
        Self(tokio::runtime::Handle::current())
    }
}

impl super::Runtime for Tokio {
    type Socket = Socket;
    type Listener = TcpListener;
    type Timer = Timer;
    type Task = TaskHandle;

    async fn connect(addr: SocketAddr) -> io::Result<Socket> {
        Socket::new(TcpStream::connect(addr).await?)
    }

    async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::bind(addr).await
    }

    fn local_addr(listener: &TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    fn poll_accept(listener: &TcpListener, cx: &mut Context<'_>) -> Poll<io::Result<Socket>> {
        let (stream, _) = ready!(listener.poll_accept(cx))?;
        Poll::Ready(Socket::new(stream))
    }

    fn spawn<F>(&self, task: F) -> TaskHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        TaskHandle(self.0.spawn(task).abort_handle())
    }

    async fn sleep(d: Duration) {
        tokio::time::sleep(d).await;
    }

    fn blocking<T>(f: impl FnOnce() -> T) -> T {
        // `block_in_place` hands this worker's queue (its LIFO slot too) to
        // another thread; it panics on a current-thread runtime.
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi {
            tokio::task::block_in_place(f)
        } else {
            f()
        }
    }

    fn handle(&self) -> Handle {
        Handle::Tokio(self.0.clone())
    }
}

/// Resolves `addr` (tokio's resolver).
pub(crate) async fn resolve(addr: impl tokio::net::ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    Ok(tokio::net::lookup_host(addr).await?.collect())
}

/// A connected TCP socket with `TCP_NODELAY` set.
#[derive(Debug)]
pub(crate) struct Socket {
    stream: TcpStream,
}

impl Socket {
    fn new(stream: TcpStream) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        Ok(Self { stream })
    }
}

impl super::Socket for Socket {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        // Through `AsyncRead`: a short read clears tokio's readiness, so the
        // next poll waits for the reactor instead of trying a read that can
        // only return `EAGAIN` (one system call per wake-up, not two).
        let mut read = tokio::io::ReadBuf::new(buf);
        ready!(tokio::io::AsyncRead::poll_read(
            Pin::new(&mut self.stream),
            cx,
            &mut read
        ))?;
        Poll::Ready(Ok(read.filled().len()))
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write(Pin::new(&mut self.stream), cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write_vectored(Pin::new(&mut self.stream), cx, bufs)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A resettable one-shot timer.
#[derive(Debug, Default)]
pub(crate) struct Timer {
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl super::Timer for Timer {
    fn reset(&mut self, at: Instant) {
        let at = tokio::time::Instant::from_std(at);
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().reset(at),
            None => self.sleep = Some(Box::pin(tokio::time::sleep_until(at))),
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

/// Aborts a spawned task; dropping it detaches the task.
#[derive(Debug)]
pub(crate) struct TaskHandle(tokio::task::AbortHandle);

impl super::Task for TaskHandle {
    fn abort(self) {
        self.0.abort();
    }

    fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

/// `f`'s output, or `None` if `at` came first; the timer runs on `rt`, so
/// the call may be awaited outside it (from another runtime's task).
pub(crate) async fn timeout_at<F: Future>(
    rt: &tokio::runtime::Handle,
    at: Instant,
    f: F,
) -> Option<F::Output> {
    let timeout = {
        let _in_rt = rt.enter();
        tokio::time::timeout_at(tokio::time::Instant::from_std(at), f)
    };
    timeout.await.ok()
}
