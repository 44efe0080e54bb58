//! [`Counted`]: an `AsyncRead + AsyncWrite` wrapper that counts bytes and
//! write calls.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Counters of one socket (one side of a connection).
#[derive(Debug, Default)]
pub struct IoStats {
    read: AtomicU64,
    written: AtomicU64,
    writes: AtomicU64,
}

/// A snapshot of [`IoStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoSnapshot {
    /// Bytes read.
    pub read: u64,
    /// Bytes written.
    pub written: u64,
    /// `poll_write`/`poll_write_vectored` calls that wrote at least one byte,
    /// i.e. `write`/`writev` (`send`/`sendmsg`) system calls that moved data.
    pub writes: u64,
}

impl IoStats {
    /// New zeroed counters, shared.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// The counts so far.
    pub fn get(&self) -> IoSnapshot {
        IoSnapshot {
            read: self.read.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }

    fn wrote(&self, n: usize) {
        if n > 0 {
            self.written.fetch_add(n as u64, Ordering::Relaxed);
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Wraps a socket (or one half of it) and counts what goes through it into
/// an [`IoStats`]. A `poll_write` that returns `Pending` or an error is not
/// counted: tokio's `TcpStream` only reaches the system call when the socket
/// is known writable, so completed writes are the system calls.
#[derive(Debug)]
pub struct Counted<T> {
    inner: T,
    stats: Arc<IoStats>,
}

impl<T> Counted<T> {
    /// Counts `inner`'s traffic into `stats`.
    pub fn new(inner: T, stats: Arc<IoStats>) -> Self {
        Self { inner, stats }
    }

    /// The wrapped socket.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.stats.read.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.stats.wrote(n);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.stats.wrote(n);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
