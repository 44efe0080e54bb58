//! Streams on the poll loop: the application's [`StreamHandler`] hears the
//! pieces of incoming streams as they come out of the receive buffer and
//! queues outgoing items and chunks through [`StreamTx`] as the peer's
//! credit and the send buffer allow. Nothing is reassembled: every buffer
//! is fixed (the connection's, the application's own).

use zerowire::frame::MAX_DATA_HEAD_LEN;
use zerowire::proto::{
    CallId, Channel, CloseReason, Connection, Data, ErrorCode, MethodDesc, ReplyError, SendError,
    StaticConnection,
};
use zerowire::Encode;

/// A call with a stream in the current session: a peer's call of a
/// streaming method served here ([`Channel::In`]: this side receives its
/// request stream and sends its reply stream and result) or this side's
/// call started with [`Endpoint::open`](crate::Endpoint::open)
/// ([`Channel::Out`]: this side sends the request stream and receives the
/// reply stream; the result goes to the call's [`Pending`](crate::Pending)).
///
/// A handle of an ended session is stale: [`StreamTx`] refuses it
/// (`Stale`), even if the new session reuses the call's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stream {
    channel: Channel,
    session: u32,
}

impl Stream {
    pub(crate) fn new(channel: Channel, session: u32) -> Self {
        Self { channel, session }
    }

    /// The call's data path in the state machine.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// Whether this is a peer's call served here.
    pub fn is_served(&self) -> bool {
        matches!(self.channel, Channel::In(_))
    }

    fn out(&self) -> Option<CallId> {
        match self.channel {
            Channel::Out(c) => Some(c),
            Channel::In(_) => None,
        }
    }
}

/// Why a stream ended before its normal end ([`StreamHandler::ended`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ended<'a> {
    /// The peer cancelled its call (or this side's limit ended it): drop
    /// it; nothing more is sent or received, a reply is `Stale`.
    Cancelled,
    /// The caller ended its request stream with an error; the call still
    /// needs its answer.
    Aborted {
        /// The caller's error code.
        code: ErrorCode,
        /// Its text.
        message: &'a str,
    },
}

/// The application's side of streaming, given to
/// [`Endpoint::poll_streams`](crate::Endpoint::poll_streams).
///
/// Input comes as callbacks while the endpoint handles the connection's
/// events (`opened`, `data`, `ended`, `closed`: their slices borrow the
/// receive buffer, so they cannot send); output goes through
/// [`produce`](Self::produce), called in every read/handle/write round of
/// the poll right before the endpoint writes, and through
/// [`Endpoint::stream_tx`](crate::Endpoint::stream_tx) between polls.
///
/// The wire mapping is the desktop's: a reply stream is items (whole
/// messages, or chunks of a message with its total on the first chunk)
/// and then the final result; a request stream is the arguments as the
/// first message, then the items, then the end of the stream.
pub trait StreamHandler {
    /// Whether the endpoint routes streams here at all (only
    /// [`NoStreams`] says no, so that an endpoint without streams carries
    /// none of this code).
    #[doc(hidden)]
    const STREAMS: bool = true;

    /// A peer called `method`, a streaming method of the served table
    /// (`method.streams` says which directions stream). Its arguments
    /// follow as the first message through [`data`](Self::data) (at once
    /// for a call without a request stream: one piece, also the end of the
    /// request stream), then the request stream's items.
    ///
    /// Keep `stream` to match those pieces and to send the reply stream and
    /// the result with [`StreamTx`]. `Err(code)` refuses the call (the
    /// caller gets `code`; e.g. `Overloaded` when busy).
    ///
    /// # Errors
    /// The error code to answer the caller with.
    fn opened(&mut self, stream: Stream, method: &MethodDesc) -> Result<(), ErrorCode>;

    /// A piece of a message on `stream`: of a served call's request
    /// direction (the arguments, then items) or of the reply stream of this
    /// side's call. `data.first` starts a message (a chunked one also gives
    /// its `total`), `data.end_of_message` ends it, `data.end_of_stream`
    /// ends the direction. Pieces follow the receive buffer, not the
    /// sender's chunks.
    ///
    /// Returns how many of the piece's bytes the application is done with:
    /// they go back to the sender's credit now. The others count against
    /// the sender's window until reported with [`StreamTx::consumed`];
    /// that window (the receiver's `Config::initial_credit`) bounds what
    /// the application must be able to hold. For a stream it does not know
    /// (refused, ended), return `data.bytes.len()`.
    ///
    /// On this side's call, a final result larger than a frame also comes
    /// here, as a message that ends with `end_of_stream`; the call's
    /// [`Pending`](crate::Pending) then fails with `TooLarge` (size `REPLY`
    /// for the result instead).
    fn data(&mut self, stream: Stream, data: Data<'_>) -> usize;

    /// A served call ended before its answer (`Cancelled`), or its request
    /// stream ended with the caller's error (`Aborted`).
    fn ended(&mut self, stream: Stream, why: Ended<'_>) {
        let _ = (stream, why);
    }

    /// The session ended: every [`Stream`] of it is stale.
    fn closed(&mut self, reason: CloseReason) {
        let _ = reason;
    }

    /// Queue what can go now: items, chunks, final results (see
    /// [`StreamTx::capacity`]). Called in every round of a poll, before
    /// the endpoint writes.
    fn produce(&mut self, tx: &mut StreamTx<'_>) {
        let _ = tx;
    }
}

/// No streams: what [`Endpoint::poll`](crate::Endpoint::poll) uses. A
/// streaming method is refused (`UnknownMethod`), reply-stream items of
/// this side's calls are dropped.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoStreams;

impl StreamHandler for NoStreams {
    const STREAMS: bool = false;

    fn opened(&mut self, _: Stream, _: &MethodDesc) -> Result<(), ErrorCode> {
        Err(ErrorCode::UnknownMethod)
    }

    fn data(&mut self, _: Stream, data: Data<'_>) -> usize {
        data.bytes.len()
    }
}

/// The connection operations [`StreamTx`] needs, object-safe so that
/// `StreamTx` does not carry the endpoint's const generics.
trait Conn {
    fn send_capacity(&mut self, channel: Channel) -> usize;
    /// Room for a chunk's payload in the send buffer now (0 while a chunk
    /// is unwritten or the buffer is above its high-water mark).
    fn chunk_room(&self) -> usize;
    fn is_live(&mut self, channel: Channel) -> bool;
    fn send_message(&mut self, channel: Channel, item: &dyn Encode) -> Result<(), SendError>;
    fn send_chunk(
        &mut self,
        channel: Channel,
        total: Option<u64>,
        bytes: &[u8],
    ) -> Result<(), SendError>;
    fn finish(&mut self, call: CallId) -> Result<(), SendError>;
    fn reply(
        &mut self,
        channel: Channel,
        result: Result<&dyn Encode, (ErrorCode, &str)>,
    ) -> Result<(), ReplyError>;
    fn consumed(&mut self, channel: Channel, n: usize);
}

impl<const RX: usize, const TX: usize, const CALLS: usize, const METHODS: usize> Conn
    for StaticConnection<'_, RX, TX, CALLS, METHODS>
{
    fn send_capacity(&mut self, channel: Channel) -> usize {
        Connection::send_capacity(self, channel)
    }

    fn chunk_room(&self) -> usize {
        let pending = self.pending_send();
        if self.bulk_pending() || pending > self.config().send_high_water {
            return 0;
        }
        TX.saturating_sub(pending).saturating_sub(MAX_DATA_HEAD_LEN)
    }

    fn is_live(&mut self, channel: Channel) -> bool {
        Connection::is_live(self, channel)
    }

    fn send_message(&mut self, channel: Channel, item: &dyn Encode) -> Result<(), SendError> {
        Connection::send_message(self, channel, item, false)
    }

    fn send_chunk(
        &mut self,
        channel: Channel,
        total: Option<u64>,
        bytes: &[u8],
    ) -> Result<(), SendError> {
        Connection::send_chunk(self, channel, total, bytes, false)
    }

    fn finish(&mut self, call: CallId) -> Result<(), SendError> {
        Connection::finish(self, call)
    }

    fn reply(
        &mut self,
        channel: Channel,
        result: Result<&dyn Encode, (ErrorCode, &str)>,
    ) -> Result<(), ReplyError> {
        let Channel::In(call) = channel else {
            return Err(ReplyError::Stale);
        };
        match result {
            Ok(r) => Connection::reply(self, call, r),
            Err((code, message)) => Connection::reply_error(self, call, code, message),
        }
    }

    fn consumed(&mut self, channel: Channel, n: usize) {
        Connection::consumed(self, channel, n);
    }
}

/// Sending on streams of the running session: reply-stream items, chunks
/// and final results of served calls; request-stream items, chunks and the
/// end of this side's calls; credit for received bytes.
///
/// Given to [`StreamHandler::produce`] in every poll round, and by
/// [`Endpoint::stream_tx`](crate::Endpoint::stream_tx) between polls. What
/// is queued is written by the endpoint's next write.
pub struct StreamTx<'a> {
    conn: &'a mut dyn Conn,
    session: u32,
}

impl core::fmt::Debug for StreamTx<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamTx")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl<'a> StreamTx<'a> {
    pub(crate) fn new<
        const RX: usize,
        const TX: usize,
        const CALLS: usize,
        const METHODS: usize,
    >(
        conn: &'a mut StaticConnection<'_, RX, TX, CALLS, METHODS>,
        session: u32,
    ) -> Self {
        Self { conn, session }
    }

    fn check(&self, stream: Stream) -> Result<Channel, SendError> {
        if stream.session == self.session {
            Ok(stream.channel)
        } else {
            Err(SendError::Stale)
        }
    }

    /// Payload bytes the next [`send_chunk`](Self::send_chunk) on `stream`
    /// may carry now: the peer's credit, capped by `Config::max_chunk` and
    /// by the room in the send buffer; 0 while the previous chunk (of any
    /// stream: one bulk chunk at a time) is unwritten, the send buffer is
    /// above its high-water mark, the peer's credit is used up, or the
    /// stream cannot send.
    pub fn capacity(&mut self, stream: Stream) -> usize {
        match self.check(stream) {
            Ok(ch) => self.conn.send_capacity(ch).min(self.conn.chunk_room()),
            Err(_) => 0,
        }
    }

    /// Whether the stream's call is still in flight.
    pub fn is_live(&mut self, stream: Stream) -> bool {
        self.check(stream).is_ok_and(|ch| self.conn.is_live(ch))
    }

    /// Queues `item` as one whole message (one frame, copied into the send
    /// buffer).
    ///
    /// # Errors
    /// `Backpressure` (write, then retry), `NoCredit` (wait for the peer's
    /// credit), `TooLarge` (larger than a frame: send it in chunks),
    /// `Misuse` (a chunked message is half sent), `Stale` (the call or the
    /// session is over), `Finished`, `Closed`.
    pub fn send_item<T: Encode + ?Sized>(
        &mut self,
        stream: Stream,
        item: &T,
    ) -> Result<(), SendError> {
        let ch = self.check(stream)?;
        let item: &dyn Encode = &Dyn(item);
        self.conn.send_message(ch, item)
    }

    /// Queues one chunk of a message (copied into the send buffer): the
    /// first chunk gives the message's `total` length, the others `None`;
    /// the chunk that reaches `total` ends the message. At most
    /// [`capacity`](Self::capacity) bytes.
    ///
    /// # Errors
    /// As [`send_item`](Self::send_item); `Misuse` for a chunk that does not
    /// continue the message as declared, `MessageTooLarge` for a total
    /// above the peer's `max_message`.
    pub fn send_chunk(
        &mut self,
        stream: Stream,
        total: Option<u64>,
        bytes: &[u8],
    ) -> Result<(), SendError> {
        let ch = self.check(stream)?;
        self.conn.send_chunk(ch, total, bytes)
    }

    /// Ends the request stream of this side's call (after its last item).
    ///
    /// # Errors
    /// `Backpressure`, `Misuse` (a message is half sent, or `stream` is a
    /// served call), `Stale`, `Finished`, `Closed`.
    pub fn finish(&mut self, stream: Stream) -> Result<(), SendError> {
        self.check(stream)?;
        let call = stream.out().ok_or(SendError::Misuse)?;
        self.conn.finish(call)
    }

    /// Answers a served call with its final `result` (after its reply
    /// stream's last item).
    ///
    /// # Errors
    /// `Backpressure` (the send buffer is full, or a chunked item is half
    /// sent: finish it first), `TooLarge`, `Stale` (cancelled, answered,
    /// another session, or `stream` is this side's call).
    pub fn reply<R: Encode + ?Sized>(
        &mut self,
        stream: Stream,
        result: &R,
    ) -> Result<(), ReplyError> {
        let ch = self.check(stream).map_err(|_| ReplyError::Stale)?;
        let result: &dyn Encode = &Dyn(result);
        self.conn.reply(ch, Ok(result))
    }

    /// Answers a served call with an error (at any point of its streams).
    ///
    /// # Errors
    /// As [`reply`](Self::reply).
    pub fn reply_error(
        &mut self,
        stream: Stream,
        code: ErrorCode,
        message: &str,
    ) -> Result<(), ReplyError> {
        let ch = self.check(stream).map_err(|_| ReplyError::Stale)?;
        self.conn.reply(ch, Err((code, message)))
    }

    /// The application is done with `n` more received bytes of `stream`
    /// (those it did not count in [`StreamHandler::data`]'s result): they
    /// go back to the sender's credit.
    pub fn consumed(&mut self, stream: Stream, n: usize) {
        if let Ok(ch) = self.check(stream) {
            self.conn.consumed(ch, n);
        }
    }
}

/// `&T` as `Encode`, so an unsized `T` can go through `&dyn Encode`.
pub(crate) struct Dyn<'a, T: ?Sized>(pub(crate) &'a T);

impl<T: Encode + ?Sized> Encode for Dyn<'_, T> {
    fn encoded_len(&self) -> usize {
        self.0.encoded_len()
    }

    fn encode(&self, buf: &mut [u8]) -> Result<usize, zerowire::EncodeError> {
        self.0.encode(buf)
    }
}

/// One small message that may arrive in pieces, collected into `N` bytes:
/// a streaming call's arguments, taken from [`StreamHandler::data`].
#[derive(Clone, Debug)]
pub struct Collect<const N: usize> {
    bytes: [u8; N],
    len: usize,
    complete: bool,
}

impl<const N: usize> Default for Collect<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Collect<N> {
    /// Empty.
    pub const fn new() -> Self {
        Self {
            bytes: [0; N],
            len: 0,
            complete: false,
        }
    }

    /// Whether the message is complete (later pieces are the next
    /// messages).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Adds a piece; once the message's last piece arrived, the whole
    /// message (`Ok`), or its length if it did not fit in `N` bytes
    /// (`Err`).
    ///
    /// # Errors
    /// The message's length, when it is longer than `N`.
    pub fn push(&mut self, data: &Data<'_>) -> Option<Result<&[u8], usize>> {
        if self.complete {
            return None;
        }
        let end = self.len.saturating_add(data.bytes.len());
        if let Some(dst) = self.bytes.get_mut(self.len..end) {
            dst.copy_from_slice(data.bytes);
        }
        self.len = end;
        if !data.end_of_message {
            return None;
        }
        self.complete = true;
        Some(self.bytes.get(..self.len).ok_or(self.len))
    }
}
