//! Streams and chunked messages: DATA payloads received piece by piece,
//! credit-based flow control, and the sending side of a call's data path.
//!
//! A child module of `connection`, so it extends [`Connection`] and its
//! inner state directly.

use super::super::sendbuf::SendBuf;
use super::super::tables::Flow;
use super::{
    slot_id, slot_index, CallId, Channel, CloseReason, Connection, Data, DataFlags, ErrorBody,
    ErrorCode, Event, Failure, IncomingCall, Inner, Instant, MethodDesc, OutState, SendError,
    StartError, Tables,
};
use crate::frame::{self, DataHead, FrameReader};
use crate::wire::{varint, Encode, Wire};

/// The DATA frame whose payload is being received.
#[derive(Clone, Copy, Debug)]
pub(super) struct RxChunk {
    /// Where the payload goes; `None`: it is discarded (a finished,
    /// cancelled or refused call).
    target: Option<Channel>,
    /// Payload bytes still to come.
    left: u64,
    /// The piece that starts the message is not reported yet.
    announce: bool,
    total: Option<u64>,
    fin_msg: bool,
    fin_stream: bool,
}

/// Whether a DATA frame of type byte `ty` is received piece by piece: it
/// opens a call, is the first or last chunk of a chunked message (both
/// carry TOTAL), or does not end its message (a middle chunk, a bare end
/// of stream). Other DATA frames hold a whole message and are received
/// whole.
pub(super) fn piecewise(ty: u8) -> bool {
    if !(0x80..=0x9F).contains(&ty) {
        return false;
    }
    let flags = DataFlags::from_bits(ty);
    flags.contains(DataFlags::OPEN)
        || flags.contains(DataFlags::TOTAL)
        || !flags.contains(DataFlags::FIN_MSG)
}

/// Why a message header is refused.
enum Refusal {
    /// A protocol rule is broken: the connection closes.
    Violation,
    /// The message exceeds this side's `max_message`.
    TooLarge(u64),
}

/// Checks a received DATA frame against the channel's message and credit
/// state and records it. Returns whether the frame starts a message.
fn accept(
    flow: &mut Flow,
    head: &DataHead,
    opens: bool,
    max_message: u32,
) -> Result<bool, Refusal> {
    let p = head.payload_len;
    let fin_msg = head.flags.contains(DataFlags::FIN_MSG);
    let fin_stream = head.flags.contains(DataFlags::FIN_STREAM);
    if flow.recv_done {
        return Err(Refusal::Violation);
    }
    // (starts a message, bytes left in it after this frame, a message at all)
    let (first, left, message) = match (flow.recv_left, head.total_len) {
        // The last chunk repeats the total; the middle ones carry none.
        (l @ 1.., t) => {
            if t != fin_msg.then_some(u64::from(flow.recv_total)) {
                return Err(Refusal::Violation);
            }
            (
                false,
                u64::from(l).checked_sub(p).ok_or(Refusal::Violation)?,
                true,
            )
        }
        (0, Some(t)) => {
            if t > u64::from(max_message) {
                return Err(Refusal::TooLarge(t));
            }
            // Below `max_message`, so it fits.
            flow.recv_total = u32::try_from(t).map_err(|_| Refusal::Violation)?;
            (true, t.checked_sub(p).ok_or(Refusal::Violation)?, true)
        }
        // A whole message in the frame that opens the call.
        (0, None) if opens && fin_msg => (true, 0, true),
        // End of stream, no message.
        (0, None) if !opens && p == 0 && !fin_msg && fin_stream => (false, 0, false),
        (0, None) => return Err(Refusal::Violation),
    };
    let completes = message && left == 0;
    if fin_msg != completes || (fin_stream && message && !completes) {
        return Err(Refusal::Violation);
    }
    let p32 = u32::try_from(p).map_err(|_| Refusal::Violation)?;
    flow.recv_allowed = flow
        .recv_allowed
        .checked_sub(p32)
        .ok_or(Refusal::Violation)?;
    flow.unconsumed = flow.unconsumed.saturating_add(p32);
    flow.recv_left = u32::try_from(left).map_err(|_| Refusal::Violation)?;
    flow.recv_done = fin_stream;
    Ok(first)
}

/// The flow state of `channel` while its call is in flight (a free
/// function over the tables, so the send buffer can be borrowed beside it).
fn live_flow<T: Tables>(tables: &mut T, parity: u64, channel: Channel) -> Option<&mut Flow> {
    match channel {
        Channel::Out(call) => slot_index(call.id, parity)
            .and_then(|i| tables.out_calls().get_mut(i))
            .filter(|s| s.generation == call.generation && s.state == OutState::Waiting)
            .map(|s| &mut s.flow),
        Channel::In(call) => tables
            .in_calls()
            .get_mut(usize::from(call.slot))
            .filter(|s| s.running && s.generation == call.generation && s.id == call.id)
            .map(|s| &mut s.flow),
    }
}

/// How long the peer's last call or one-frame reply keeps the receive
/// windows narrow, in units of 1,024 µs (about 10 ms). While it does, a
/// channel's window is a quarter of `initial_credit`: the transfer's bytes
/// that can sit in the socket buffers ahead of a small call (and that the
/// receiver must read through before it sees the call) stay a quarter of
/// what they may be when the connection carries the transfer alone.
///
/// On a host (feature `std`) only: a microcontroller's windows are small
/// to begin with, and its flash and RAM budgets have no room for it.
#[cfg(feature = "std")]
pub(super) const MIXED_FOR: u16 = 10;

/// `at` in units of 1,024 µs, wrapping (every 67 s).
#[cfg(feature = "std")]
fn ticks(at: Instant) -> u16 {
    (at.as_micros() >> 10) as u16
}

/// Sends CREDIT for `flow`'s consumed bytes once they reach `threshold`
/// (and the peer may still send), granting no more than lets the peer
/// have `window` bytes allowed; false if the send buffer could not take
/// the frame, so it is owed. Bytes not granted for the window stay in
/// `flow.grant` for a later call.
fn grant_due<B: AsRef<[u8]> + AsMut<[u8]>>(
    tx: &mut SendBuf<B>,
    call_id: u64,
    flow: &mut Flow,
    (threshold, window): (u32, u32),
) -> bool {
    #[cfg(feature = "std")]
    let grant = flow.grant.min(window.saturating_sub(flow.recv_allowed));
    // Without `std` the window is always `initial_credit`, which the
    // peer's allowance plus the consumed bytes never exceed.
    #[cfg(not(feature = "std"))]
    let grant = {
        let _ = window;
        flow.grant
    };
    if grant < threshold || flow.recv_done {
        return true;
    }
    let fields = [call_id, u64::from(grant)];
    if tx
        .append(|b| frame::encode_fields(b, frame::ty::CREDIT, &fields, &[]))
        .is_err()
    {
        return false;
    }
    flow.recv_allowed = flow.recv_allowed.saturating_add(grant);
    flow.grant = flow.grant.saturating_sub(grant);
    true
}

impl<'s, Rx, Tx, T> Connection<'s, Rx, Tx, T>
where
    Rx: AsRef<[u8]> + AsMut<[u8]>,
    Tx: AsRef<[u8]> + AsMut<[u8]>,
    T: Tables,
{
    /// Starts a call whose request travels as DATA: a streaming request,
    /// or arguments too large for one frame. Nothing is sent until the
    /// first [`send_message`](Self::send_message) or
    /// [`send_chunk`](Self::send_chunk) on `Channel::Out(id)`, which opens
    /// the call at the callee: the first message is the arguments, the
    /// following ones the stream items; end the request with
    /// `end_of_stream` or [`finish`](Self::finish). The reply stream
    /// arrives as [`Event::Data`], the final result as [`Event::Reply`]
    /// (or as the `end_of_stream` piece of a chunked reply) or
    /// [`Event::Failed`].
    ///
    /// Waits (`Backpressure`) until the peer's HELLO has arrived, since
    /// its credit is needed.
    pub fn open(
        &mut self,
        now: Instant,
        method: &MethodDesc,
        deadline: Option<Instant>,
    ) -> Result<CallId, StartError> {
        self.inner.open(now, method, deadline)
    }

    /// Queues a whole message on `channel` in one frame (copied into the
    /// send buffer). `end_of_stream` ends this side's direction; on a
    /// served call (`In`) that makes the message the call's final result.
    pub fn send_message<M: Encode + ?Sized>(
        &mut self,
        channel: Channel,
        message: &M,
        end_of_stream: bool,
    ) -> Result<(), SendError> {
        self.inner.send_message(channel, message, end_of_stream)
    }

    /// Queues one chunk of a message on `channel`, copying `bytes` into the
    /// send buffer. The first chunk of a message gives the message's
    /// `total` length (checked against the peer's `max_message`), the
    /// following ones `None`; the chunk that completes the message ends it.
    /// `end_of_stream` (only on a message's last chunk) ends this side's
    /// direction, as for [`send_message`](Self::send_message).
    ///
    /// One bulk chunk at a time: until the previous chunk is written this
    /// returns `Backpressure`, so a small frame queued now never waits
    /// behind more than one chunk. A chunk takes at most
    /// [`send_capacity`](Self::send_capacity) bytes.
    pub fn send_chunk(
        &mut self,
        channel: Channel,
        total: Option<u64>,
        bytes: &[u8],
        end_of_stream: bool,
    ) -> Result<(), SendError> {
        self.inner
            .send_chunk(channel, total, bytes.len(), Some(bytes), end_of_stream)
    }

    /// As [`send_chunk`](Self::send_chunk), but the `len` payload bytes stay
    /// in the driver's storage: only the header is queued, and the driver
    /// writes the payload in its place (see [`transmit`](Self::transmit)),
    /// so a large payload is never copied into the send buffer.
    pub fn send_chunk_spliced(
        &mut self,
        channel: Channel,
        total: Option<u64>,
        len: usize,
        end_of_stream: bool,
    ) -> Result<(), SendError> {
        self.inner
            .send_chunk(channel, total, len, None, end_of_stream)
    }

    /// Ends this side's request stream on an outgoing call without a
    /// further message.
    pub fn finish(&mut self, call: CallId) -> Result<(), SendError> {
        self.inner.finish(call)
    }

    /// Ends this side's request stream on an outgoing call with an error;
    /// the callee sees [`Event::Aborted`] and still answers the call.
    pub fn abort(&mut self, call: CallId, code: ErrorCode, message: &str) -> Result<(), SendError> {
        self.inner.abort(call, code, message)
    }

    /// Payload bytes a chunk on `channel` may carry now: the peer's credit,
    /// capped by [`Config::max_chunk`](super::Config::max_chunk); 0 when
    /// the channel cannot send.
    pub fn send_capacity(&mut self, channel: Channel) -> usize {
        let max_chunk = self.inner.config.max_chunk;
        match self.inner.flow(channel) {
            Ok((_, flow)) if !flow.send_done => {
                usize::try_from(flow.send_credit.min(max_chunk)).unwrap_or(usize::MAX)
            }
            _ => 0,
        }
    }

    /// Whether `channel`'s call is still in flight (not finished,
    /// cancelled or unknown).
    pub fn is_live(&mut self, channel: Channel) -> bool {
        self.inner.flow(channel).is_ok()
    }

    /// Whether the last bulk chunk is still (partly) unwritten; the next
    /// chunk waits for it.
    pub fn bulk_pending(&self) -> bool {
        self.inner.tx.bulk_pending()
    }

    /// The application has taken `n` bytes received on `channel`: they may
    /// be sent again (CREDIT). Until then they count against the channel's
    /// window, which bounds what the peer can make this side hold.
    pub fn consumed(&mut self, channel: Channel, n: usize) {
        self.inner.consumed(channel, n);
    }

    /// Bytes received on `channel` and not yet reported with
    /// [`consumed`](Self::consumed); never above
    /// [`Config::initial_credit`](super::Config::initial_credit).
    pub fn unconsumed(&mut self, channel: Channel) -> usize {
        match self.inner.flow(channel) {
            Ok((_, flow)) => usize::try_from(flow.unconsumed).unwrap_or(usize::MAX),
            Err(_) => 0,
        }
    }

    /// When the reader is inside a DATA payload for `channel` and has no
    /// buffered bytes: up to how many bytes the driver may read from the
    /// transport straight into its own storage for that channel (then
    /// [`handle_direct`](Self::handle_direct)), skipping the receive buffer.
    pub fn direct_read(&self) -> Option<(Channel, usize)> {
        let rc = self.inner.rx_chunk?;
        let target = rc.target?;
        if rc.announce || rc.left == 0 || self.rx.buffered() > 0 {
            return None;
        }
        Some((target, usize::try_from(rc.left).unwrap_or(usize::MAX)))
    }

    /// `n` bytes of the payload announced by
    /// [`direct_read`](Self::direct_read) were read into the driver's
    /// storage at `now`. They count as received on that channel (report
    /// them with [`consumed`](Self::consumed) like any other data); the
    /// message's end, if this completes it, comes as an empty
    /// [`Event::Data`].
    pub fn handle_direct(&mut self, now: Instant, n: usize) {
        if let Some(rc) = &mut self.inner.rx_chunk {
            rc.left = rc.left.saturating_sub(n as u64);
            if n > 0 {
                self.inner.heard(now);
            }
        }
    }
}

/// What [`next_piece`] found.
pub(super) enum Piece<'a> {
    /// Inside a payload, but no bytes are buffered: read more.
    Wait,
    /// Bytes were taken and discarded (or carried nothing to report).
    Skipped,
    /// A piece to report.
    Event(Event<'a>),
}

/// The next piece of the DATA payload being received (call only while
/// `inner.rx_chunk` is set). A free function over the two halves of the
/// connection so the event can borrow the receive buffer.
pub(super) fn next_piece<'a, B, Tx, T>(
    rx: &'a FrameReader<B>,
    inner: &mut Inner<'_, Tx, T>,
) -> Piece<'a>
where
    B: AsRef<[u8]> + AsMut<[u8]>,
{
    let Some(mut rc) = inner.rx_chunk else {
        return Piece::Skipped;
    };
    let left = usize::try_from(rc.left).unwrap_or(usize::MAX);
    let n = left.min(rx.buffered());
    if n == 0 && rc.left > 0 && !rc.announce {
        return Piece::Wait;
    }
    let bytes = rx.take(n);
    // A message in one frame has no TOTAL: its length is the payload's.
    let total = rc.total.or(rc.fin_msg.then_some(rc.left));
    rc.left = rc.left.saturating_sub(n as u64);
    let done = rc.left == 0;
    let first = core::mem::take(&mut rc.announce);
    inner.rx_chunk = (!done).then_some(rc);
    let end_of_message = done && rc.fin_msg;
    let end_of_stream = done && rc.fin_stream;
    let Some(channel) = rc.target else {
        return Piece::Skipped;
    };
    if bytes.is_empty() && !first && !end_of_message && !end_of_stream {
        return Piece::Skipped;
    }
    Piece::Event(Event::Data {
        channel,
        data: Data {
            bytes,
            first,
            total: total.filter(|_| first),
            end_of_message,
            end_of_stream,
        },
    })
}

/// If the frame at the front of the receive buffer is a DATA frame
/// received piece by piece ([`piecewise`]), takes its header once complete
/// and records it.
pub(super) fn next_data_head<B, Tx, T>(
    rx: &FrameReader<B>,
    inner: &mut Inner<'_, Tx, T>,
) -> HeadStep
where
    B: AsRef<[u8]> + AsMut<[u8]>,
    Tx: AsRef<[u8]> + AsMut<[u8]>,
    T: Tables,
{
    let Some(&ty) = rx.pending().first() else {
        return HeadStep::NotData;
    };
    if !piecewise(ty) {
        return HeadStep::NotData;
    }
    match frame::parse_data_head(rx.pending()) {
        Ok(Some(head)) => {
            rx.take(head.head_len);
            HeadStep::Taken(inner.on_data_head(&head))
        }
        Ok(None) => HeadStep::Incomplete,
        Err(e) => {
            inner.on_framing_error(e);
            HeadStep::Taken(None)
        }
    }
}

/// What [`next_data_head`] found.
pub(super) enum HeadStep {
    /// The next frame is not received piece by piece.
    NotData,
    /// More bytes are needed for its header.
    Incomplete,
    /// The header was taken; an event to report, if any.
    Taken(Option<Event<'static>>),
}

impl<Tx, T> Inner<'_, Tx, T>
where
    Tx: AsRef<[u8]> + AsMut<[u8]>,
    T: Tables,
{
    /// The call id and flow state of a live channel.
    pub(super) fn flow(&mut self, channel: Channel) -> Result<(u64, &mut Flow), SendError> {
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        let flow = live_flow(&mut self.tables, self.role.parity(), channel);
        flow.map(|f| (channel.wire_id(), f)).ok_or(SendError::Stale)
    }

    fn open(
        &mut self,
        now: Instant,
        method: &MethodDesc,
        deadline: Option<Instant>,
    ) -> Result<CallId, StartError> {
        self.check_can_start()?;
        let peer = self.peer.ok_or(StartError::Backpressure)?;
        let slot = self.free_out_slot()?;
        let index = self.declare(method)?;
        let flow = Flow {
            send_credit: peer.initial_credit,
            recv_allowed: self.config.initial_credit,
            streaming: true,
            method: index,
            ..Flow::default()
        };
        self.start_out(slot, now, deadline, flow)
    }

    /// The method field of the next frame on `channel`: this side's index
    /// when the frame opens an outgoing streaming call.
    fn opening(channel: Channel, flow: &Flow) -> Option<u64> {
        match channel {
            Channel::Out(_) if flow.streaming && !flow.opened => Some(u64::from(flow.method)),
            _ => None,
        }
    }

    fn send_message<M: Encode + ?Sized>(
        &mut self,
        channel: Channel,
        message: &M,
        end_of_stream: bool,
    ) -> Result<(), SendError> {
        let max_frame = self.peer_max_frame();
        let high_water = self.config.send_high_water;
        let pending = self.tx.pending_len();
        let capacity = self.tx.capacity();
        let (id, flow) = self.flow(channel)?;
        if flow.send_done {
            return Err(SendError::Finished);
        }
        if flow.send_left > 0 {
            return Err(SendError::Misuse);
        }
        let len = message.encoded_len();
        let method = Self::opening(channel, flow);
        let rest = varint::len(id)
            .saturating_add(method.map_or(0, varint::len))
            .saturating_add(len);
        let limit = usize::try_from(max_frame)
            .unwrap_or(usize::MAX)
            .min(capacity.saturating_sub(frame::MAX_HEADER_LEN));
        if rest > limit {
            return Err(SendError::TooLarge {
                len: rest,
                max: limit,
            });
        }
        // A callee's single-frame final result needs no credit.
        let exempt = matches!(channel, Channel::In(_)) && end_of_stream;
        let len32 = u32::try_from(len).unwrap_or(u32::MAX);
        if !exempt && len32 > flow.send_credit {
            return Err(SendError::NoCredit);
        }
        if !exempt && pending > high_water {
            return Err(SendError::Backpressure);
        }
        let mut flags = DataFlags::FIN_MSG;
        if end_of_stream {
            flags = flags.with(DataFlags::FIN_STREAM);
        }
        self.tx
            .append(|b| frame::encode_data(b, flags, id, method, None, message))
            .map_err(|_| SendError::Backpressure)?;
        self.after_send(channel, if exempt { 0 } else { len32 }, 0, end_of_stream);
        Ok(())
    }

    fn send_chunk(
        &mut self,
        channel: Channel,
        total: Option<u64>,
        len: usize,
        copy: Option<&[u8]>,
        end_of_stream: bool,
    ) -> Result<(), SendError> {
        let max_message = self.peer.map_or(0, |p| u64::from(p.max_message));
        let max_chunk = self.config.max_chunk;
        if self.tx.bulk_pending() || self.tx.pending_len() > self.config.send_high_water {
            if self.is_closed() {
                return Err(SendError::Closed);
            }
            return Err(SendError::Backpressure);
        }
        let capacity = self.tx.capacity();
        let (id, flow) = self.flow(channel)?;
        if flow.send_done {
            return Err(SendError::Finished);
        }
        let len64 = len as u64;
        let left = match (flow.send_left, total) {
            (0, Some(t)) => {
                if t > max_message {
                    return Err(SendError::MessageTooLarge {
                        len: t,
                        max: max_message,
                    });
                }
                t.checked_sub(len64).ok_or(SendError::Misuse)?
            }
            (l @ 1.., None) => u64::from(l).checked_sub(len64).ok_or(SendError::Misuse)?,
            _ => return Err(SendError::Misuse),
        };
        if end_of_stream && left > 0 {
            return Err(SendError::Misuse);
        }
        let len32 = u32::try_from(len).map_err(|_| SendError::TooLarge {
            len,
            max: usize::try_from(max_chunk).unwrap_or(usize::MAX),
        })?;
        if len32 > max_chunk {
            return Err(SendError::TooLarge {
                len,
                max: usize::try_from(max_chunk).unwrap_or(usize::MAX),
            });
        }
        if len32 > flow.send_credit {
            return Err(SendError::NoCredit);
        }
        let method = Self::opening(channel, flow);
        let mut flags = DataFlags::from_bits(0);
        if let Some(t) = total {
            flow.send_total = u32::try_from(t).unwrap_or(u32::MAX);
        }
        // The first chunk carries the message's length, and so does the
        // last: every chunk frame is then told apart from a whole message
        // by its type byte alone (see `piecewise`).
        let total = if left == 0 {
            flags = flags.with(DataFlags::FIN_MSG);
            Some(total.unwrap_or(u64::from(flow.send_total)))
        } else {
            total
        };
        if end_of_stream {
            flags = flags.with(DataFlags::FIN_STREAM);
        }
        let whole = frame::MAX_DATA_HEAD_LEN.saturating_add(copy.map_or(0, <[u8]>::len));
        if whole > capacity {
            return Err(SendError::TooLarge {
                len: whole,
                max: capacity,
            });
        }
        self.tx
            .append(|b| {
                let n = frame::encode_data_header(b, flags, id, method, total, len)?;
                let Some(bytes) = copy else {
                    return Ok(n);
                };
                let available = b.len();
                let end = n.saturating_add(bytes.len());
                let dst = b
                    .get_mut(n..end)
                    .ok_or(crate::wire::EncodeError::BufferTooSmall {
                        needed: end,
                        available,
                    })?;
                dst.copy_from_slice(bytes);
                Ok(end)
            })
            .map_err(|_| SendError::Backpressure)?;
        if copy.is_none() {
            self.tx.add_splice(len);
        }
        self.tx.mark_bulk();
        let left = u32::try_from(left).unwrap_or(u32::MAX);
        self.after_send(channel, len32, left, end_of_stream);
        Ok(())
    }

    /// Records a queued DATA frame of `len` credited bytes.
    fn after_send(&mut self, channel: Channel, len: u32, left: u32, end: bool) {
        if let Ok((_, flow)) = self.flow(channel) {
            flow.send_credit = flow.send_credit.saturating_sub(len);
            flow.send_left = left;
            flow.opened = true;
            flow.send_done = end;
        }
        if let (Channel::In(call), true) = (channel, end) {
            self.finish_incoming(call);
        }
    }

    fn finish(&mut self, call: CallId) -> Result<(), SendError> {
        let (id, flow) = self.flow(Channel::Out(call))?;
        if flow.send_done {
            return Err(SendError::Finished);
        }
        if flow.send_left > 0 || !flow.opened {
            return Err(SendError::Misuse);
        }
        self.tx
            .append(|b| frame::encode_data_header(b, DataFlags::FIN_STREAM, id, None, None, 0))
            .map_err(|_| SendError::Backpressure)?;
        self.after_send(Channel::Out(call), 0, 0, true);
        Ok(())
    }

    fn abort(&mut self, call: CallId, code: ErrorCode, message: &str) -> Result<(), SendError> {
        let (id, flow) = self.flow(Channel::Out(call))?;
        if flow.send_done {
            return Err(SendError::Finished);
        }
        if !flow.opened {
            return Err(SendError::Misuse);
        }
        if !self.send_error(id, code, message) {
            return Err(SendError::Backpressure);
        }
        self.after_send(Channel::Out(call), 0, 0, true);
        Ok(())
    }

    fn consumed(&mut self, channel: Channel, n: usize) {
        if self.is_closed() {
            return;
        }
        let threshold = self.grant_limits();
        let Some(flow) = live_flow(&mut self.tables, self.role.parity(), channel) else {
            return;
        };
        let n = u32::try_from(n).unwrap_or(u32::MAX).min(flow.unconsumed);
        flow.unconsumed = flow.unconsumed.saturating_sub(n);
        flow.grant = flow.grant.saturating_add(n);
        if !grant_due(&mut self.tx, channel.wire_id(), flow, threshold) {
            self.credit_owed = true;
        }
    }

    /// Consumed bytes worth a CREDIT frame (half the window) and the
    /// window: `initial_credit`, or on a host a quarter of it while the
    /// peer's small calls or replies arrive beside transfers
    /// (`MIXED_FOR`).
    fn grant_limits(&self) -> (u32, u32) {
        let full = self.config.initial_credit;
        #[cfg(feature = "std")]
        let window = {
            // Wrapping: `mixed_until` is ahead of now by at most MIXED_FOR.
            let ahead = self.mixed_until.wrapping_sub(ticks(self.last_rx));
            if ahead != 0 && ahead <= MIXED_FOR {
                (full / 4).max(1)
            } else {
                full
            }
        };
        #[cfg(not(feature = "std"))]
        let window = full;
        ((window / 2).max(1), window)
    }

    /// The peer's call or one-frame reply arrived: on a host, narrow the
    /// windows for `MIXED_FOR`.
    #[inline]
    pub(super) fn mark_mixed(&mut self) {
        #[cfg(feature = "std")]
        {
            self.mixed_until = ticks(self.last_rx).wrapping_add(MIXED_FOR);
        }
    }

    /// Retries the CREDIT frames a full send buffer held back.
    pub(super) fn flush_credit(&mut self) {
        if !self.credit_owed || self.is_closed() {
            return;
        }
        let threshold = self.grant_limits();
        let parity = self.role.parity();
        let mut owed = false;
        for (i, s) in self.tables.out_calls().iter_mut().enumerate() {
            if s.state == OutState::Waiting {
                owed |= !grant_due(&mut self.tx, slot_id(i, parity), &mut s.flow, threshold);
            }
        }
        for s in self.tables.in_calls().iter_mut() {
            if s.running {
                owed |= !grant_due(&mut self.tx, s.id, &mut s.flow, threshold);
            }
        }
        self.credit_owed = owed;
    }

    pub(super) fn on_credit(&mut self, call_id: u64, bytes: u64) {
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        let parity = self.role.parity();
        let flow = if call_id % 2 == parity {
            slot_index(call_id, parity)
                .and_then(|i| self.tables.out_calls().get_mut(i))
                .filter(|s| s.state == OutState::Waiting)
                .map(|s| &mut s.flow)
        } else {
            self.find_in(call_id)
                .and_then(|i| self.tables.in_calls().get_mut(i))
                .map(|s| &mut s.flow)
        };
        // CREDIT for a finished call is late, not wrong.
        if let Some(flow) = flow {
            flow.send_credit = flow.send_credit.saturating_add(bytes);
        }
    }

    /// Frees out slot `i` on its final frame; the failure to report if its
    /// deadline had passed unreported.
    pub(super) fn free_out(&mut self, i: usize) -> Option<Event<'static>> {
        let parity = self.role.parity();
        let out = self.tables.out_calls().get_mut(i)?;
        let state = out.state;
        let was_timed = super::is_timed(state, out.deadline());
        let call = CallId {
            id: slot_id(i, parity),
            generation: out.generation,
        };
        out.state = OutState::Free;
        self.freed_out(i);
        self.out_in_flight = self.out_in_flight.saturating_sub(1);
        if was_timed {
            self.timed = self.timed.saturating_sub(1);
        }
        let event = if state == OutState::Expired {
            self.expired = self.expired.saturating_sub(1);
            Some(Event::Failed {
                call,
                failure: Failure::DeadlineExceeded,
            })
        } else {
            None
        };
        self.maybe_finish_close();
        event
    }

    /// The header of a DATA frame received piece by piece.
    fn on_data_head(&mut self, head: &DataHead) -> Option<Event<'static>> {
        if self.is_closed() {
            return None;
        }
        if self.peer.is_none() || head.flags.contains(DataFlags::ERROR) {
            // Before HELLO, or an error body in pieces: not allowed.
            self.fail(CloseReason::ProtocolViolation);
            return None;
        }
        let parity = self.role.parity();
        let mut rc = RxChunk {
            target: None,
            left: head.payload_len,
            announce: false,
            total: head.total_len,
            fin_msg: head.flags.contains(DataFlags::FIN_MSG),
            fin_stream: head.flags.contains(DataFlags::FIN_STREAM),
        };
        let mut event = None;
        if head.call_id % 2 == parity {
            let slot = slot_index(head.call_id, parity);
            let Some((i, out)) = slot
                .and_then(|i| self.tables.out_calls().get(i).map(|s| (i, *s)))
                .filter(|_| head.method.is_none())
            else {
                self.fail(CloseReason::ProtocolViolation);
                return None;
            };
            match out.state {
                OutState::Free => {
                    self.fail(CloseReason::ProtocolViolation);
                    return None;
                }
                OutState::Waiting => {
                    let max_message = self.config.max_message;
                    let s = self.tables.out_calls().get_mut(i)?;
                    match accept(&mut s.flow, head, false, max_message) {
                        Ok(first) => rc.announce = first,
                        // The callee checks this side's `max_message`
                        // before sending; a peer that does not is broken.
                        Err(_) => {
                            self.fail(CloseReason::ProtocolViolation);
                            return None;
                        }
                    }
                    rc.target = Some(Channel::Out(CallId {
                        id: head.call_id,
                        generation: out.generation,
                    }));
                    if rc.fin_stream {
                        self.free_out(i);
                    }
                }
                OutState::Expired | OutState::Abandoned => {
                    if rc.fin_stream {
                        event = self.free_out(i);
                    }
                }
            }
        } else {
            let call = if let Some(method) = head.method {
                let Some(method) = u8::try_from(method).ok().filter(|_| head.call_id >= 2) else {
                    self.fail(CloseReason::ProtocolViolation);
                    return None;
                };
                let admitted = self.admit(method, head.call_id, false);
                if let Some((call, local)) = admitted {
                    event = Some(Event::Opened {
                        call,
                        method: local,
                    });
                }
                admitted.map(|(call, _)| call)
            } else {
                self.find_in(head.call_id).and_then(|i| {
                    let s = self.tables.in_calls().get(i)?;
                    Some(IncomingCall {
                        id: s.id,
                        slot: u16::try_from(i).ok()?,
                        generation: s.generation,
                    })
                })
            };
            if let Some(call) = call {
                let max_message = self.config.max_message;
                let slot = self.tables.in_calls().get_mut(usize::from(call.slot))?;
                match accept(&mut slot.flow, head, head.method.is_some(), max_message) {
                    Ok(first) => {
                        rc.announce = first;
                        rc.target = Some(Channel::In(call));
                    }
                    Err(refusal) => {
                        // Above `max_message`, the peer ignored this
                        // side's limit: the call is answered and ends
                        // here, and the rest of its frames are skipped. If
                        // even the error reply does not fit, the peer
                        // cannot be told: close, as for a broken rule.
                        let answered = match refusal {
                            Refusal::TooLarge(len) => {
                                let mut text = [0u8; 48];
                                let text = ErrorCode::message_too_large_text(
                                    len,
                                    u64::from(max_message),
                                    &mut text,
                                );
                                self.send_error(call.id, ErrorCode::MessageTooLarge, text)
                            }
                            Refusal::Violation => false,
                        };
                        if !answered {
                            self.fail(CloseReason::ProtocolViolation);
                            return None;
                        }
                        self.finish_incoming(call);
                        // A call the application knows ends as if the
                        // caller had cancelled it (the final frame is
                        // sent); one refused in its opening frame was
                        // never reported (no `Opened`).
                        event = head.method.is_none().then_some(Event::Cancelled(call));
                    }
                }
            }
        }
        self.rx_chunk = Some(rc);
        event
    }

    /// A whole message on a peer's call (its request stream).
    pub(super) fn on_request_message<'a>(
        &mut self,
        flags: DataFlags,
        call_id: u64,
        payload: &'a [u8],
    ) -> Option<Event<'a>> {
        let i = self.find_in(call_id)?;
        let s = self.tables.in_calls().get_mut(i)?;
        let call = IncomingCall {
            id: call_id,
            slot: u16::try_from(i).ok()?,
            generation: s.generation,
        };
        let end_of_stream = flags.contains(DataFlags::FIN_STREAM);
        if flags.contains(DataFlags::ERROR) {
            // An error may end the stream inside a chunked message.
            if !end_of_stream || s.flow.recv_done {
                self.fail(CloseReason::ProtocolViolation);
                return None;
            }
            s.flow.recv_done = true;
            s.flow.recv_left = 0;
            let (code, message) = match ErrorBody::decode(payload) {
                Ok(e) => (ErrorCode::from_u16(e.code), e.message),
                Err(_) => (ErrorCode::Internal, "malformed error"),
            };
            return Some(Event::Aborted {
                call,
                code,
                message,
            });
        }
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        if s.flow.recv_done || s.flow.recv_left > 0 || len > s.flow.recv_allowed {
            self.fail(CloseReason::ProtocolViolation);
            return None;
        }
        s.flow.recv_allowed = s.flow.recv_allowed.saturating_sub(len);
        s.flow.unconsumed = s.flow.unconsumed.saturating_add(len);
        s.flow.recv_done = end_of_stream;
        Some(Event::Data {
            channel: Channel::In(call),
            data: Data {
                bytes: payload,
                first: true,
                total: Some(payload.len() as u64),
                end_of_message: true,
                end_of_stream,
            },
        })
    }

    /// A whole message on the reply stream of this side's call, before
    /// its final frame.
    pub(super) fn on_reply_item<'a>(
        &mut self,
        flags: DataFlags,
        call_id: u64,
        payload: &'a [u8],
    ) -> Option<Event<'a>> {
        let parity = self.role.parity();
        let slot = slot_index(call_id, parity);
        let Some(out) = slot
            .and_then(|i| self.tables.out_calls().get_mut(i))
            .filter(|_| !flags.contains(DataFlags::ERROR))
        else {
            self.fail(CloseReason::ProtocolViolation);
            return None;
        };
        match out.state {
            OutState::Free => {
                self.fail(CloseReason::ProtocolViolation);
                None
            }
            OutState::Expired | OutState::Abandoned => None,
            OutState::Waiting => {
                let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
                if out.flow.recv_left > 0 || len > out.flow.recv_allowed {
                    self.fail(CloseReason::ProtocolViolation);
                    return None;
                }
                out.flow.recv_allowed = out.flow.recv_allowed.saturating_sub(len);
                out.flow.unconsumed = out.flow.unconsumed.saturating_add(len);
                Some(Event::Data {
                    channel: Channel::Out(CallId {
                        id: call_id,
                        generation: out.generation,
                    }),
                    data: Data {
                        bytes: payload,
                        first: true,
                        total: Some(payload.len() as u64),
                        end_of_message: true,
                        end_of_stream: false,
                    },
                })
            }
        }
    }
}
