//! smol: async-io's `Async<TcpStream>`/`Async<TcpListener>` and `Timer`,
//! tasks on smol's global executor or on an `Executor` the user passes.

use std::fmt;
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use smol::{Async, Executor};

use super::Handle;

/// Where tasks run: smol's global executor (`smol::spawn`) or the user's.
#[derive(Clone, Default)]
pub(crate) struct Smol {
    executor: Option<Arc<Executor<'static>>>,
}

impl Smol {
    /// Tasks on `executor`, or on smol's global executor for `None`.
    pub(crate) fn new(executor: Option<Arc<Executor<'static>>>) -> Self {
        Self { executor }
    }
}

impl fmt::Debug for Smol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let executor = match self.executor {
            Some(_) => "user",
            None => "global",
        };
        f.debug_struct("Smol").field("executor", &executor).finish()
    }
}

impl super::Runtime for Smol {
    type Socket = Socket;
    type Listener = Async<TcpListener>;
    type Timer = Timer;
    type Task = TaskHandle;

    async fn connect(addr: SocketAddr) -> io::Result<Socket> {
        Socket::new(Async::<TcpStream>::connect(addr).await?)
    }

    async fn bind(addr: SocketAddr) -> io::Result<Async<TcpListener>> {
        Async::<TcpListener>::bind(addr)
    }

    fn local_addr(listener: &Async<TcpListener>) -> io::Result<SocketAddr> {
        listener.get_ref().local_addr()
    }

    fn poll_accept(
        listener: &Async<TcpListener>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Socket>> {
        loop {
            match listener.get_ref().accept() {
                Ok((stream, _)) => return Poll::Ready(Async::new(stream).and_then(Socket::new)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            ready!(listener.poll_readable(cx))?;
        }
    }

    fn spawn<F>(&self, task: F) -> TaskHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let task = match &self.executor {
            Some(ex) => ex.spawn(task),
            None => smol::spawn(task),
        };
        TaskHandle(Some(task))
    }

    async fn sleep(d: Duration) {
        smol::Timer::after(d).await;
    }

    fn blocking<T>(f: impl FnOnce() -> T) -> T {
        // smol's executors have no per-thread slot that others cannot take
        // from; the work runs in place.
        f()
    }

    fn handle(&self) -> Handle {
        Handle::Smol
    }
}

/// Resolves `addr` (async-net's resolver).
pub(crate) async fn resolve(
    addr: impl smol::net::AsyncToSocketAddrs,
) -> io::Result<Vec<SocketAddr>> {
    smol::net::resolve(addr).await
}

/// A connected TCP socket with `TCP_NODELAY` set.
#[derive(Debug)]
pub(crate) struct Socket {
    stream: Async<TcpStream>,
}

impl Socket {
    fn new(stream: Async<TcpStream>) -> io::Result<Self> {
        stream.get_ref().set_nodelay(true)?;
        Ok(Self { stream })
    }
}

// async-io reports readiness through its reactor thread; trying the system
// call first (the socket is non-blocking) saves that round trip whenever
// bytes (or buffer room) are already there, as async-io's own `poll_read`
// does. Only calls that moved bytes return `Ready(Ok(n))`.
impl super::Socket for Socket {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.get_ref().peer_addr()
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.get_ref().local_addr()
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            match { self.stream.get_ref() }.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return Poll::Ready(r),
            }
            ready!(self.stream.poll_readable(cx))?;
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            match { self.stream.get_ref() }.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return Poll::Ready(r),
            }
            ready!(self.stream.poll_writable(cx))?;
        }
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            match { self.stream.get_ref() }.write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return Poll::Ready(r),
            }
            ready!(self.stream.poll_writable(cx))?;
        }
    }

    fn poll_shutdown(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.stream.get_ref().shutdown(Shutdown::Write))
    }
}

/// A resettable one-shot timer.
#[derive(Debug)]
pub(crate) struct Timer(smol::Timer);

impl Default for Timer {
    fn default() -> Self {
        Self(smol::Timer::never())
    }
}

impl super::Timer for Timer {
    fn reset(&mut self, at: Instant) {
        self.0.set_at(at);
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

/// A spawned task; dropping the handle detaches it (a dropped
/// `smol::Task` would cancel it).
#[derive(Debug)]
pub(crate) struct TaskHandle(Option<smol::Task<()>>);

impl super::Task for TaskHandle {
    fn abort(mut self) {
        // Dropping a `smol::Task` cancels it.
        drop(self.0.take());
    }

    fn is_finished(&self) -> bool {
        self.0.as_ref().is_none_or(smol::Task::is_finished)
    }
}

impl Drop for TaskHandle {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.detach();
        }
    }
}

/// `f`'s output, or `None` if `at` came first.
pub(crate) async fn timeout_at<F: Future>(at: Instant, f: F) -> Option<F::Output> {
    use smol::future::FutureExt;
    let timer = async {
        smol::Timer::at(at).await;
        None
    };
    async { Some(f.await) }.or(timer).await
}
