//! The connection protocol as a sans-IO state machine: no sockets, no clocks,
//! no spawning, no allocation. Every transport (tokio and smol on the
//! desktop, smoltcp on a microcontroller) drives this same code.
//!
//! See [`Connection`] for the call order and who owns which buffer.

mod connection;
mod error;
mod method;
mod sendbuf;
mod tables;
mod time;

pub use connection::{service_fingerprint, Connection, StaticConnection};
pub use error::{CloseReason, ErrorBody, ErrorCode, Failure, SendError, StartError};
pub use method::{method_id, signature_fingerprint, MethodDesc, StreamKind};
#[cfg(feature = "alloc")]
pub use tables::VecTables;
pub use tables::{ArrayTables, InSlot, OutSlot, PeerMethod, Tables};
pub use time::Instant;

use core::time::Duration;

/// Which end of the connection this is; it decides the call-id space
/// (the initiator uses even ids, the acceptor odd ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// This side opened the connection.
    Initiator,
    /// This side accepted it.
    Acceptor,
}

impl Role {
    pub(crate) const fn parity(self) -> u64 {
        match self {
            Self::Initiator => 0,
            Self::Acceptor => 1,
        }
    }
}

/// Limits and timers of a connection.
#[derive(Clone, Debug)]
pub struct Config {
    /// Peer calls served at once; announced in HELLO (capped by the
    /// tables' `in_calls` capacity). A peer that exceeds it gets
    /// `Overloaded` replies. The default, 256, lets a desktop peer keep
    /// hundreds of small calls on the wire (the HTTP/2 guidance for
    /// concurrent streams is at least 100); alloc-backed tables cost about
    /// 150 bytes per slot. An MCU's const tables cap it to their size.
    pub max_calls: u16,
    /// Largest frame accepted (capped by the receive buffer).
    pub max_frame: u32,
    /// Time allowed for the peer's HELLO.
    pub handshake_timeout: Duration,
    /// Silence after which a PING is sent.
    pub keepalive_interval: Duration,
    /// Silence after which the connection is closed (`IdleTimeout`).
    pub idle_timeout: Duration,
    /// Deadline of calls started without one; `None`: no deadline.
    pub default_deadline: Option<Duration>,
    /// Time a cancelled call's final frame may take before the connection
    /// is closed (`CancelTimeout`).
    pub cancel_timeout: Duration,
    /// Pending outgoing bytes above which new calls wait
    /// (`StartError::Backpressure`) and the driver stops reading.
    pub send_high_water: usize,
    /// Largest message this side accepts in chunks (announced in HELLO);
    /// the peer checks it before sending.
    pub max_message: u32,
    /// Payload bytes the peer may send on each call (each direction)
    /// before it needs CREDIT; announced in HELLO. With the send buffer's
    /// high-water mark and one chunk it bounds a call's memory (see
    /// `docs/streams.md`). Default 1 MiB.
    pub initial_credit: u32,
    /// Largest payload of one bulk chunk this side sends: a small call
    /// queued behind a transfer waits for at most one chunk. Keep it well
    /// below the peer's `initial_credit`, or the sender stops after each
    /// window until its credit comes back. Default 256 KiB.
    pub max_chunk: u32,
    /// Sent in HELLO to identify this build.
    pub build: &'static str,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_calls: 256,
            max_frame: 16 * 1024,
            handshake_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(45),
            default_deadline: None,
            cancel_timeout: Duration::from_secs(10),
            send_high_water: 64 * 1024,
            // 64 MiB of payload, plus room for the message's own length
            // prefixes (a 64 MiB `Vec<u8>` argument encodes to 64 MiB + 4).
            max_message: 64 * 1024 * 1024 + 64 * 1024,
            // A chunk well below the window, so the next one follows
            // while credit for the last is on its way back. Measured over
            // loopback TCP (`docs/benchmarks.md`): 256 KiB chunks in a
            // 1 MiB window cost a third less CPU per streamed byte than
            // 64 KiB in 256 KiB; a small call waits behind at most one
            // chunk (`docs/streams.md`, section 4).
            initial_credit: 1024 * 1024,
            max_chunk: 256 * 1024,
            build: "",
        }
    }
}

/// An outgoing call started by [`Connection::call`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CallId {
    pub(crate) id: u64,
    pub(crate) generation: u32,
}

impl CallId {
    /// The call id on the wire.
    pub fn wire_id(&self) -> u64 {
        self.id
    }

    /// The index of this side's call slot the call takes (its id is
    /// `2 * (slot + 1) + parity`): no two calls in flight share it, so a
    /// transport can keep per-call state in an array instead of a map.
    pub fn slot(&self) -> usize {
        // This side's ids are never 0 or 1.
        connection::id_slot(self.id).unwrap_or(0)
    }
}

/// A peer's call being served here, from [`Event::Call`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IncomingCall {
    pub(crate) id: u64,
    pub(crate) slot: u16,
    pub(crate) generation: u32,
}

impl IncomingCall {
    /// The call id on the wire.
    pub fn wire_id(&self) -> u64 {
        self.id
    }
}

/// One call's data path, named from this side: an outgoing call (this
/// side sends the request, receives the reply stream) or a peer's call
/// being served (this side receives the request stream, sends the reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A call this side started.
    Out(CallId),
    /// A peer's call served here.
    In(IncomingCall),
}

impl Channel {
    /// The call id on the wire.
    pub fn wire_id(&self) -> u64 {
        match self {
            Self::Out(c) => c.id,
            Self::In(c) => c.id,
        }
    }
}

impl From<CallId> for Channel {
    fn from(c: CallId) -> Self {
        Self::Out(c)
    }
}

impl From<IncomingCall> for Channel {
    fn from(c: IncomingCall) -> Self {
        Self::In(c)
    }
}

/// A piece of a message received on a [`Channel`] ([`Event::Data`]).
///
/// A message arrives whole (`first` and `end_of_message` both set) or in
/// pieces: the first carries `first` and the message's `total` length, the
/// last `end_of_message`. The pieces follow how the bytes arrived, so a
/// receiver with a small buffer consumes a large message piece by piece.
/// Every piece counts against the channel's credit: report the bytes with
/// [`Connection::consumed`] once the application has taken them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Data<'a> {
    /// The bytes (may be empty: a piece that only carries flags).
    pub bytes: &'a [u8],
    /// The piece starts a message.
    pub first: bool,
    /// The message's whole length, on its first piece (`None` on the
    /// others).
    pub total: Option<u64>,
    /// The piece ends a message.
    pub end_of_message: bool,
    /// The peer ended this direction: no message follows.
    pub end_of_stream: bool,
}

/// The bytes to write now ([`Connection::transmit`]), in this order: `head`,
/// then `spliced` bytes of the payload the driver passed to
/// [`Connection::send_chunk_spliced`] (the last `spliced` bytes of it), then
/// `tail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// Frames before the spliced payload.
    pub head: &'a [u8],
    /// Payload bytes the driver writes from its own storage.
    pub spliced: usize,
    /// Frames after it.
    pub tail: &'a [u8],
}

impl Transmit<'_> {
    /// Total bytes to write.
    pub fn len(&self) -> usize {
        self.head
            .len()
            .saturating_add(self.spliced)
            .saturating_add(self.tail.len())
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the peer announced in its HELLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerInfo<'a> {
    /// Calls it serves at once.
    pub max_calls: u16,
    /// Largest frame it accepts.
    pub max_frame: u32,
    /// Fingerprint over the methods it serves.
    pub service_fp: u64,
    /// Number of methods it serves.
    pub n_methods: u16,
    /// Largest message it accepts in chunks.
    pub max_message: u32,
    /// Bytes per call it lets this side send before CREDIT.
    pub initial_credit: u32,
    /// Its build identification.
    pub build: &'a str,
}

/// What happened, from [`Connection::poll_event`]; slices borrow the
/// connection's receive buffer until the next `&mut` call.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The peer's HELLO arrived.
    Connected(PeerInfo<'a>),
    /// The peer calls `method` (an index into the served table); answer with
    /// [`Connection::reply`] or [`Connection::reply_error`].
    Call {
        /// The call, for the reply.
        call: IncomingCall,
        /// Index into the served methods.
        method: u16,
        /// The encoded arguments.
        body: &'a [u8],
    },
    /// The peer opened a streaming call (or one whose arguments come in
    /// chunks) of `method`; its request messages follow as [`Event::Data`]
    /// on `Channel::In(call)`: first the arguments, then the stream items.
    /// Answer as for [`Event::Call`] once ready.
    Opened {
        /// The call.
        call: IncomingCall,
        /// Index into the served methods.
        method: u16,
    },
    /// A piece of a message on a call's data path: the peer's request
    /// stream (`In`) or the reply stream of this side's call (`Out`). A
    /// reply stream's last piece (`end_of_stream`) completes the call.
    Data {
        /// The call.
        channel: Channel,
        /// The piece.
        data: Data<'a>,
    },
    /// The caller ended its request stream with an error; the call itself
    /// still needs its answer.
    Aborted {
        /// The call.
        call: IncomingCall,
        /// The caller's error code.
        code: ErrorCode,
        /// Its text.
        message: &'a str,
    },
    /// A one-way notification for `method` (no reply).
    Notification {
        /// Index into the served methods.
        method: u16,
        /// The encoded arguments.
        body: &'a [u8],
    },
    /// A call being served has ended without this side's answer: drop its
    /// handler. Either the peer cancelled it, or this side ended it because
    /// a request-stream message announced more than `max_message` (the
    /// caller got `MessageTooLarge`). The final frame was sent already; a
    /// later reply is `Stale`.
    Cancelled(IncomingCall),
    /// A call of this side completed with the callee's result.
    Reply {
        /// The call.
        call: CallId,
        /// The encoded result.
        body: &'a [u8],
    },
    /// A call of this side failed.
    Failed {
        /// The call.
        call: CallId,
        /// Why.
        failure: Failure<'a>,
    },
    /// The connection is closed; nothing more will happen. Every pending
    /// call was reported as `Failed` with `Disconnected` before this.
    Closed(CloseReason),
}

/// Why a reply could not be queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyError {
    /// The call was cancelled or already answered; the reply is dropped.
    Stale,
    /// The send buffer cannot hold the frame now: keep the result and retry
    /// after the driver has written.
    Backpressure,
    /// The result does not fit in a frame under the peer's limit.
    TooLarge {
        /// The frame's length.
        len: usize,
        /// The limit.
        max: usize,
    },
}
