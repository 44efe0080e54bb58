//! smoltcp 0.14: [`ByteSocket`] for `tcp::Socket`, and [`ListenPool`],
//! several sockets listening on one port (smoltcp has no accept backlog).
//!
//! ```ignore
//! let mut pool = ListenPool::new([h0, h1], 7000);
//! loop {
//!     iface.poll(now, &mut device, &mut sockets);
//!     let socket = pool.poll(&mut sockets);
//!     endpoint.poll(zerowire_now, socket, &service);
//! }
//! ```

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, State};

use crate::socket::{ByteSocket, Eof, SocketState};

impl ByteSocket for tcp::Socket<'_> {
    fn state(&self) -> SocketState {
        match tcp::Socket::state(self) {
            State::Established => SocketState::Open,
            State::Closed | State::Listen | State::SynSent | State::SynReceived => {
                SocketState::Idle
            }
            State::CloseWait
            | State::FinWait1
            | State::FinWait2
            | State::Closing
            | State::LastAck
            | State::TimeWait => SocketState::Closing,
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Eof> {
        match self.recv_slice(buf) {
            Ok(n) => Ok(n),
            // Not connected yet: nothing to read.
            Err(tcp::RecvError::InvalidState) if !self.is_active() => Err(Eof),
            Err(tcp::RecvError::InvalidState) => Ok(0),
            Err(tcp::RecvError::Finished) => Err(Eof),
        }
    }

    fn send(&mut self, buf: &[u8]) -> Result<usize, Eof> {
        if !self.may_send() {
            return Err(Eof);
        }
        self.send_slice(buf).map_err(|_| Eof)
    }

    fn close(&mut self) {
        tcp::Socket::close(self);
    }
}

/// `N` TCP sockets listening on one port, served one connection at a time.
///
/// smoltcp has no accept backlog: a listening socket takes one connection
/// and stays busy with it until it is fully closed (LAST-ACK, TIME-WAIT).
/// With one socket, a peer that reconnects right after closing gets a reset.
/// The pool keeps every idle socket listening, hands the driver the socket of
/// the connection being served, and the next established one when that
/// connection ends; a second peer's connection waits, already established,
/// until then. Use `N >= 2` (4 on lossy links).
///
/// Sockets are put back to listening with Nagle's algorithm off (an RPC
/// frame must leave at once, as with `TCP_NODELAY` on the desktop) and
/// without smoltcp's 10 ms delayed ACK: with a socket buffer of a few KiB
/// the peer's window is a few segments, and a delayed ACK of the last one
/// stalls a stream to this side for 10 ms per window (the sensor node's
/// 1 MiB upload in QEMU: 0.20 MiB/s with it, 13 MiB/s without). When
/// every socket is busy and one is in TIME-WAIT (the side that closed first
/// keeps it 10 s in smoltcp), that one is recycled at once: its data is all
/// delivered, and refusing a reconnecting desktop for 10 s is worse.
#[derive(Debug)]
pub struct ListenPool<const N: usize> {
    handles: [SocketHandle; N],
    port: u16,
    current: usize,
}

impl<const N: usize> ListenPool<N> {
    /// A pool of the sockets `handles` (already added to a `SocketSet`)
    /// listening on `port`.
    pub fn new(handles: [SocketHandle; N], port: u16) -> Self {
        assert!(N > 0, "a ListenPool needs at least one socket");
        Self {
            handles,
            port,
            current: 0,
        }
    }

    /// The port listened on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The handle of the socket [`poll`](Self::poll) returned last.
    pub fn current(&self) -> SocketHandle {
        self.handles
            .get(self.current)
            .copied()
            .unwrap_or(self.handles[0])
    }

    /// Puts every closed socket back to listening and returns the socket to
    /// drive: the current connection's while it is established or its peer
    /// has just closed it, else the first established one, else the current
    /// (idle or closing) one.
    ///
    /// # Panics
    /// If a handle does not name a TCP socket of `sockets`.
    pub fn poll<'a, 'b>(&mut self, sockets: &'a mut SocketSet<'b>) -> &'a mut tcp::Socket<'b> {
        let mut listening = false;
        for &h in &self.handles {
            let s = sockets.get_mut::<tcp::Socket<'b>>(h);
            if tcp::Socket::state(s) == State::Closed {
                s.set_nagle_enabled(false);
                s.set_ack_delay(None);
                // Cannot fail: the port is not 0 and the socket is closed.
                let _ = s.listen(self.port);
            }
            listening |= tcp::Socket::state(s) == State::Listen;
        }
        if !listening {
            // Every socket is busy. One in TIME-WAIT has delivered all its
            // data and waits only for stray segments (smoltcp: 10 s); take
            // it back rather than refuse the next connection.
            if let Some(&h) = self.handles.iter().find(|&&h| {
                tcp::Socket::state(sockets.get::<tcp::Socket<'b>>(h)) == State::TimeWait
            }) {
                let s = sockets.get_mut::<tcp::Socket<'b>>(h);
                s.abort();
                let _ = s.listen(self.port);
            }
        }
        let keep = matches!(
            tcp::Socket::state(sockets.get::<tcp::Socket<'b>>(self.current())),
            State::Established | State::CloseWait
        );
        if !keep {
            if let Some(i) = self.handles.iter().position(|&h| {
                tcp::Socket::state(sockets.get::<tcp::Socket<'b>>(h)) == State::Established
            }) {
                self.current = i;
            }
        }
        sockets.get_mut::<tcp::Socket<'b>>(self.current())
    }
}
