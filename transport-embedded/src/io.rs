//! `embedded-io` 0.7: [`IoStream`], a [`ByteSocket`] over any
//! `Read + Write + ReadReady + WriteReady` byte stream (a UART, USB CDC, a
//! pipe).

use embedded_io::{Read, ReadReady, Write, WriteReady};

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

impl<T: Read + Write + ReadReady + WriteReady> ByteSocket for IoStream<T> {
    fn state(&self) -> SocketState {
        if self.failed {
            SocketState::Closing
        } else {
            SocketState::Open
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Eof> {
        if self.failed {
            return Err(Eof);
        }
        match self.inner.read_ready() {
            Ok(false) => return Ok(0),
            Ok(true) => {}
            Err(_) => {
                self.failed = true;
                return Err(Eof);
            }
        }
        match self.inner.read(buf) {
            Ok(0) if !buf.is_empty() => {
                self.failed = true;
                Err(Eof)
            }
            Ok(n) => Ok(n),
            Err(_) => {
                self.failed = true;
                Err(Eof)
            }
        }
    }

    fn send(&mut self, buf: &[u8]) -> Result<usize, Eof> {
        if self.failed {
            return Err(Eof);
        }
        match self.inner.write_ready() {
            Ok(false) => return Ok(0),
            Ok(true) => {}
            Err(_) => {
                self.failed = true;
                return Err(Eof);
            }
        }
        match self.inner.write(buf) {
            Ok(0) if !buf.is_empty() => {
                self.failed = true;
                Err(Eof)
            }
            Ok(n) => Ok(n),
            Err(_) => {
                self.failed = true;
                Err(Eof)
            }
        }
    }

    fn close(&mut self) {
        let _ = self.inner.flush();
        self.failed = false;
    }
}
