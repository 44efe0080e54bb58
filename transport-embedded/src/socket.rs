//! [`ByteSocket`]: the small, non-blocking byte-stream interface the driver
//! is written against. Each network stack or serial port is a thin adapter.

/// What a [`ByteSocket`] can do right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketState {
    /// No peer: listening, connecting, or closed. A new session starts when
    /// the socket becomes [`Open`](Self::Open).
    Idle,
    /// Connected: bytes flow both ways.
    Open,
    /// The connection is ending (the peer closed its side, or this side
    /// did): the driver finishes its session and waits for the socket to be
    /// [`Idle`](Self::Idle) or [`Open`](Self::Open) with a new peer.
    Closing,
}

/// The end of a byte stream: the peer closed its side, or the connection
/// failed. Further reads or writes on this connection are pointless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eof;

/// A non-blocking byte stream: a TCP socket of some network stack, a UART,
/// a USB CDC port.
///
/// Every method returns at once. The driver
/// ([`Endpoint::poll`](crate::Endpoint::poll)) calls them from the
/// application's poll loop; the stack itself (smoltcp's `Interface::poll`)
/// runs between those calls.
pub trait ByteSocket {
    /// The socket's state.
    fn state(&self) -> SocketState;

    /// Reads up to `buf.len()` received bytes; `Ok(0)` when none are
    /// waiting, `Err(Eof)` when the peer closed and everything it sent was
    /// read.
    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Eof>;

    /// Queues up to `buf.len()` bytes for sending; `Ok(0)` when the send
    /// buffer is full, `Err(Eof)` when the connection cannot send any more.
    fn send(&mut self, buf: &[u8]) -> Result<usize, Eof>;

    /// Ends the connection gracefully (TCP: sends FIN). Called once when a
    /// session ends; a stream without connections (a UART) ignores it.
    fn close(&mut self);
}

impl<S: ByteSocket + ?Sized> ByteSocket for &mut S {
    fn state(&self) -> SocketState {
        (**self).state()
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Eof> {
        (**self).recv(buf)
    }
    fn send(&mut self, buf: &[u8]) -> Result<usize, Eof> {
        (**self).send(buf)
    }
    fn close(&mut self) {
        (**self).close();
    }
}
