//! `embedded-io` 0.7: [`IoStream`], a [`ByteSocket`] over any
//! `Read + Write + ReadReady + WriteReady` byte stream (a UART, USB CDC, a
//! pipe).

use embedded_io::{ErrorType, Read, ReadReady, Write, WriteReady};

use crate::socket::{ByteSocket, Eof, SocketState};

/// A byte stream as a [`ByteSocket`].
///
/// The readiness traits keep every call non-blocking: the endpoint reads only
/// when `read_ready` and writes only when `write_ready`. A stream has no
/// connections: it is [`Open`](SocketState::Open) until a read or write
/// fails (or a read returns end of stream); then the session ends, and
/// [`close`](ByteSocket::close) makes it `Open` again, so the next session
/// starts at once with a new HELLO. The peer must start its next session
/// too (for a serial port: reopen it), since a byte stream cannot resume a
/// frame cut in the middle.
#[derive(Debug)]
pub struct IoStream<T> {
    inner: T,
    failed: bool,
}

impl<T> IoStream<T> {
    /// Wraps a stream.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            failed: false,
        }
    }

    /// The stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: ErrorType> IoStream<T> {
    /// One non-blocking read or write: nothing unless `ready` says so; an
    /// error, or no byte moved for a non-empty buffer (end of stream), ends
    /// the session.
    fn transfer(
        &mut self,
        len: usize,
        ready: impl FnOnce(&mut T) -> Result<bool, T::Error>,
        op: impl FnOnce(&mut T) -> Result<usize, T::Error>,
    ) -> Result<usize, Eof> {
        if self.failed {
            return Err(Eof);
        }
        let moved = match ready(&mut self.inner) {
            Ok(false) => return Ok(0),
            Ok(true) => op(&mut self.inner),
            Err(e) => Err(e),
        };
        match moved {
            Ok(n) if n > 0 || len == 0 => Ok(n),
            _ => {
                self.failed = true;
                Err(Eof)
            }
        }
    }
}

impl<T: Read + Write + ReadReady + WriteReady> ByteSocket for IoStream<T> {
    fn state(&self) -> SocketState {
        if self.failed {
            SocketState::Closing
        } else {
            SocketState::Open
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Eof> {
        let len = buf.len();
        self.transfer(len, T::read_ready, |s| s.read(buf))
    }

    fn send(&mut self, buf: &[u8]) -> Result<usize, Eof> {
        self.transfer(buf.len(), T::write_ready, |s| s.write(buf))
    }

    fn close(&mut self) {
        let _ = self.inner.flush();
        self.failed = false;
    }
}
