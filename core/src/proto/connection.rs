//! [`Connection`]: the state machine itself.

#[path = "stream.rs"]
mod stream;

use super::sendbuf::SendBuf;
use super::tables::{OutState, PeerMethod, Tables};
use super::{
    CallId, Channel, CloseReason, Config, Data, ErrorBody, ErrorCode, Event, Failure, IncomingCall,
    Instant, MethodDesc, PeerInfo, ReplyError, Role, SendError, StartError, Transmit,
};
use crate::frame::{
    self, DataFlags, Frame, FrameError, FrameReader, Hello, MAGIC, PRE_HELLO_MAX_FRAME,
    PROTOCOL_VERSION,
};
use crate::wire::{varint, Encode, Fingerprint, Wire};
use zerocopy::little_endian::U64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// HELLO sent; the peer's not yet received.
    Handshaking,
    Open,
    /// GOAWAY sent and/or received: no new calls; calls in flight finish.
    Closing,
    Closed(CloseReason),
}

/// The peer's limits from its HELLO.
#[derive(Clone, Copy, Debug)]
struct PeerLimits {
    max_calls: u16,
    max_frame: u32,
    max_message: u32,
    initial_credit: u32,
}

/// One end of a zerowire connection, as a deterministic state machine.
///
/// # Buffers
///
/// The connection owns three pieces of caller-chosen storage, all fixed in
/// size once created: the receive buffer `Rx` (any `AsMut<[u8]>`: an array on
/// a microcontroller, a `Vec` on a desktop), the send buffer `Tx`, and the
/// call and method [`Tables`]. Received frames are parsed in place in `Rx`;
/// an [`Event`] borrows it until the next `&mut self` call, so a handler can
/// decode a zero-copy view of its arguments straight from the receive buffer.
/// Outgoing frames are encoded straight into `Tx`; the driver writes
/// everything pending ([`poll_transmit`](Self::poll_transmit)) in one system
/// call and reports what it wrote with
/// [`advance_transmit`](Self::advance_transmit). Frames queued while a write
/// is in progress go out together in the next one: batching without timers.
///
/// # Call order
///
/// Methods fall into four groups (as in quinn-proto): getters (`&self`);
/// `handle_*` for input from the network or the clock; commands from the
/// application ([`call`](Self::call), [`notify`](Self::notify),
/// [`cancel`](Self::cancel), [`reply`](Self::reply),
/// [`reply_error`](Self::reply_error), [`close`](Self::close)); and `poll_*`
/// for output. A driver loops:
///
/// 1. while [`wants_read`](Self::wants_read), read from the transport into
///    [`recv_buffer`](Self::recv_buffer) and call
///    [`handle_received`](Self::handle_received) (or pass a slice to
///    [`handle_input`](Self::handle_input)); on end of stream call
///    [`handle_eof`](Self::handle_eof);
/// 2. call [`poll_event`](Self::poll_event) until it returns `None`, handing
///    calls to handlers and results to callers;
/// 3. write [`poll_transmit`](Self::poll_transmit), then
///    [`advance_transmit`](Self::advance_transmit);
/// 4. wait for input or until [`poll_timeout`](Self::poll_timeout), and call
///    [`handle_timeout`](Self::handle_timeout) when it has passed.
///
/// Commands may be issued at any point between these steps. Time is always
/// passed in (`now`), never read, so two connections can be tested through
/// in-memory queues with a simulated clock.
///
/// # Call ids
///
/// The initiator uses even call ids, the acceptor odd ones (0 and 1 are
/// one-way notifications). An id is taken from the lowest free slot and
/// freed only by the callee's final frame. Cancelling (or a deadline) sends
/// CANCEL and keeps the id reserved until that final frame, which the callee
/// always sends, so a late reply can never reach another call; if it does not
/// come within [`Config::cancel_timeout`] the connection closes with
/// [`CloseReason::CancelTimeout`].
#[derive(Debug)]
pub struct Connection<'s, Rx, Tx, T> {
    rx: FrameReader<Rx>,
    inner: Inner<'s, Tx, T>,
}

/// A connection with array storage and no heap: `RX`/`TX` bytes of receive
/// and send buffer, `CALLS` calls in flight each way, `METHODS` declared
/// methods each way.
pub type StaticConnection<
    's,
    const RX: usize,
    const TX: usize,
    const CALLS: usize,
    const METHODS: usize,
> = Connection<'s, [u8; RX], [u8; TX], super::ArrayTables<CALLS, METHODS>>;

#[derive(Debug)]
struct Inner<'s, Tx, T> {
    config: Config,
    role: Role,
    served: &'s [MethodDesc],
    tx: SendBuf<Tx>,
    tables: T,
    state: State,
    peer: Option<PeerLimits>,
    declared_len: usize,
    out_in_flight: usize,
    /// Outgoing slots that need the clock: waiting with a deadline, expired
    /// or abandoned (so `poll_timeout` and `handle_timeout` skip the scan
    /// when there are none).
    timed: usize,
    /// Outgoing slots whose deadline failure is not reported yet.
    expired: usize,
    in_in_flight: usize,
    /// Peer calls served in a slot other than their home slot (see
    /// [`Inner::home`]): while there are none, a call id is looked up in its
    /// home slot alone instead of a scan of every slot.
    in_displaced: u16,
    /// Every out slot below this index is in use (so the search for a free
    /// one starts here).
    out_free_hint: u16,
    started: Instant,
    last_rx: Instant,
    ping_outstanding: bool,
    goaway_sent: bool,
    goaway_received: bool,
    closed_reported: bool,
    highest_incoming: u64,
    /// The DATA frame whose payload is being received piece by piece.
    rx_chunk: Option<stream::RxChunk>,
    /// Some channel has consumed bytes waiting to be granted with CREDIT
    /// (the send buffer was full).
    credit_owed: bool,
    /// Until when the peer's small calls and replies keep the receive
    /// windows narrow: `last_rx` in units of 1,024 µs, wrapping (see
    /// `stream::MIXED_FOR`). On a host only.
    #[cfg(feature = "std")]
    mixed_until: u16,
}

/// The fingerprint over a served method table, announced in HELLO.
pub fn service_fingerprint(methods: &[MethodDesc]) -> u64 {
    methods
        .iter()
        .fold(Fingerprint::new("service"), |h, m| {
            h.u64(m.id).u64(m.fingerprint)
        })
        .finish()
}

/// Call id of out slot `i` for a side of `parity`.
fn slot_id(i: usize, parity: u64) -> u64 {
    (i as u64)
        .saturating_add(1)
        .saturating_mul(2)
        .saturating_add(parity)
}

/// The slot a call id comes from (the inverse of [`slot_id`], either
/// parity); `None` for ids 0 and 1, which no slot makes.
pub(super) fn id_slot(id: u64) -> Option<usize> {
    usize::try_from((id >> 1).checked_sub(1)?).ok()
}

/// Out slot of call id `id` for a side of `parity`.
fn slot_index(id: u64, parity: u64) -> Option<usize> {
    if id < 2 || id % 2 != parity {
        return None;
    }
    usize::try_from((id / 2).saturating_sub(1)).ok()
}

/// Whether a slot in `state` with `deadline` needs the clock.
fn is_timed(state: OutState, deadline: Option<Instant>) -> bool {
    match state {
        OutState::Waiting => deadline.is_some(),
        OutState::Expired | OutState::Abandoned => true,
        OutState::Free => false,
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or_default()
}

impl<'s, Rx, Tx, T> Connection<'s, Rx, Tx, T>
where
    Rx: AsRef<[u8]> + AsMut<[u8]>,
    Tx: AsRef<[u8]> + AsMut<[u8]>,
    T: Tables,
{
    /// A new connection that serves `served` (empty for a pure client) and
    /// has its HELLO queued for sending.
    ///
    /// `config.max_calls` is capped by the tables' capacity and
    /// `config.max_frame` by the receive buffer's.
    pub fn new(
        mut config: Config,
        role: Role,
        served: &'s [MethodDesc],
        rx: Rx,
        tx: Tx,
        mut tables: T,
        now: Instant,
    ) -> Self {
        let cap = u16::try_from(tables.in_calls().len()).unwrap_or(u16::MAX);
        config.max_calls = config.max_calls.min(cap);
        let rx = FrameReader::new(rx, config.max_frame);
        config.max_frame = u32::try_from(rx.max_frame()).unwrap_or(u32::MAX);
        let mut inner = Inner {
            config,
            role,
            served,
            tx: SendBuf::new(tx),
            tables,
            state: State::Handshaking,
            peer: None,
            declared_len: 0,
            out_in_flight: 0,
            timed: 0,
            expired: 0,
            in_in_flight: 0,
            in_displaced: 0,
            out_free_hint: 0,
            started: now,
            last_rx: now,
            #[cfg(feature = "std")]
            mixed_until: 0,
            ping_outstanding: false,
            goaway_sent: false,
            goaway_received: false,
            closed_reported: false,
            highest_incoming: 0,
            rx_chunk: None,
            credit_owed: false,
        };
        inner.send_hello();
        Self { rx, inner }
    }

    // ---- getters -----------------------------------------------------------

    /// The configuration in force (limits capped by the storage).
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.inner.role
    }

    /// The methods this side serves.
    pub fn served(&self) -> &'s [MethodDesc] {
        self.inner.served
    }

    /// Whether the peer's HELLO has arrived and no close has started.
    pub fn is_open(&self) -> bool {
        self.inner.state == State::Open
    }

    /// Whether the connection has ended (its `Closed` event may still be
    /// pending in [`poll_event`](Self::poll_event)).
    pub fn is_closed(&self) -> bool {
        matches!(self.inner.state, State::Closed(_))
    }

    /// Why the connection ended, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        match self.inner.state {
            State::Closed(r) => Some(r),
            _ => None,
        }
    }

    /// The peer's limits from its HELLO, once it has arrived: `(max_frame,
    /// max_message)`, to check a message before opening a call for it.
    pub fn peer_limits(&self) -> Option<(u64, u32)> {
        self.inner
            .peer
            .map(|p| (u64::from(p.max_frame), p.max_message))
    }

    /// Whether the driver should read more input: false above the send
    /// buffer's high-water mark (so a peer that does not read its replies
    /// stops being served) and once closed.
    pub fn wants_read(&self) -> bool {
        !self.is_closed() && self.inner.tx.pending_len() <= self.inner.config.send_high_water
    }

    /// This side's calls waiting for their final frame.
    pub fn calls_in_flight(&self) -> usize {
        self.inner.out_in_flight
    }

    /// The peer's calls being served here.
    pub fn serving(&self) -> usize {
        self.inner.in_in_flight
    }

    /// Bytes queued for sending (spliced payload included).
    pub fn pending_send(&self) -> usize {
        self.inner
            .tx
            .pending_len()
            .saturating_add(self.inner.tx.spliced())
    }

    /// Bytes received and not yet processed.
    pub fn pending_recv(&self) -> usize {
        self.rx.buffered()
    }

    /// The bytes to write: every frame queued since the last write, in
    /// order. A driver that uses
    /// [`send_chunk_spliced`](Self::send_chunk_spliced) writes
    /// [`transmit`](Self::transmit) instead: these bytes stop where a
    /// spliced payload goes.
    pub fn poll_transmit(&self) -> &[u8] {
        self.inner.tx.head()
    }

    /// The bytes to write, with the spliced payload of
    /// [`send_chunk_spliced`](Self::send_chunk_spliced) in its place: one
    /// vectored write of `head`, the payload's last `spliced` bytes, and
    /// `tail`.
    pub fn transmit(&self) -> Transmit<'_> {
        Transmit {
            head: self.inner.tx.head(),
            spliced: self.inner.tx.spliced(),
            tail: self.inner.tx.tail(),
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next
    /// (`None` once closed).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.inner.poll_timeout()
    }

    // ---- input -------------------------------------------------------------

    /// Free receive storage to read into; follow with
    /// [`handle_received`](Self::handle_received).
    pub fn recv_buffer(&mut self) -> &mut [u8] {
        self.rx.spare()
    }

    /// `n` bytes were read into [`recv_buffer`](Self::recv_buffer) at `now`.
    pub fn handle_received(&mut self, now: Instant, n: usize) {
        if n > 0 {
            self.rx.commit(n);
            self.inner.heard(now);
        }
    }

    /// Copies received bytes in and returns how many fit; the rest must be
    /// offered again after [`poll_event`](Self::poll_event) made room.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) -> usize {
        let n = self.rx.push(bytes);
        if n > 0 {
            self.inner.heard(now);
        }
        n
    }

    /// The transport reached end of stream or failed.
    pub fn handle_eof(&mut self) {
        self.inner.handle_eof();
    }

    /// Time passed: fires deadlines, keepalive PINGs, and the handshake,
    /// idle and cancel timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.inner.handle_timeout(now);
    }

    // ---- commands ----------------------------------------------------------

    /// Starts a call of `method` with `args`; its result arrives as
    /// [`Event::Reply`] or [`Event::Failed`] with the returned id.
    ///
    /// `deadline` overrides [`Config::default_deadline`]. The first call of a
    /// method on a connection also sends the method's declaration (its id and
    /// fingerprint), which lets the callee detect a schema mismatch.
    pub fn call<A: Encode + ?Sized>(
        &mut self,
        now: Instant,
        method: &MethodDesc,
        args: &A,
        deadline: Option<Instant>,
    ) -> Result<CallId, StartError> {
        self.inner.call(now, method, args, deadline)
    }

    /// Sends a one-way notification: no reply; notifications are delivered
    /// in the order they were sent.
    pub fn notify<A: Encode + ?Sized>(
        &mut self,
        method: &MethodDesc,
        args: &A,
    ) -> Result<(), StartError> {
        self.inner.notify(method, args)
    }

    /// Gives up on a call at `now`: the callee is told (CANCEL) and drops its
    /// handler. No event follows for this call; its id stays reserved until
    /// the callee's final frame.
    pub fn cancel(&mut self, now: Instant, call: CallId) {
        self.inner.cancel(now, call);
    }

    /// Answers a peer's call with its result (the call's final frame).
    ///
    /// While a chunked message of the call's reply stream is half sent
    /// ([`send_chunk`](Self::send_chunk)), the result cannot follow it yet:
    /// this returns [`ReplyError::Backpressure`] and queues nothing, so the
    /// message stays intact. Send its remaining chunks, then reply (or end
    /// the call at once with [`reply_error`](Self::reply_error), which the
    /// caller takes in the middle of a message: the partial message is
    /// dropped).
    pub fn reply<R: Encode + ?Sized>(
        &mut self,
        call: IncomingCall,
        result: &R,
    ) -> Result<(), ReplyError> {
        self.inner.reply(call, result)
    }

    /// Answers a peer's call with an error (the call's final frame).
    pub fn reply_error(
        &mut self,
        call: IncomingCall,
        code: ErrorCode,
        message: &str,
    ) -> Result<(), ReplyError> {
        self.inner.reply_error(call, code, message)
    }

    /// Starts a graceful close: GOAWAY is sent, neither side starts new
    /// calls, calls in flight finish, then the connection closes with
    /// [`CloseReason::Graceful`].
    pub fn close(&mut self) {
        self.inner.close();
    }

    /// The driver wrote the first `n` bytes of
    /// [`poll_transmit`](Self::poll_transmit).
    pub fn advance_transmit(&mut self, n: usize) {
        self.inner.tx.advance(n);
    }

    // ---- output ------------------------------------------------------------

    /// The next event, or `None` when every received frame is processed.
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        if let Some(event) = self.inner.local_event() {
            return Some(event);
        }
        self.inner.flush_credit();
        loop {
            if self.inner.rx_chunk.is_some() {
                match stream::next_piece(&self.rx, &mut self.inner) {
                    stream::Piece::Wait => return None,
                    stream::Piece::Skipped => continue,
                    stream::Piece::Event(event) => return Some(event),
                }
            }
            match stream::next_data_head(&self.rx, &mut self.inner) {
                stream::HeadStep::NotData => {}
                stream::HeadStep::Incomplete => return None,
                stream::HeadStep::Taken(event) => {
                    if self.inner.is_closed() {
                        return self.inner.local_event();
                    }
                    if let Some(event) = event {
                        return Some(event);
                    }
                    continue;
                }
            }
            match self.rx.next_frame() {
                Ok(None) => return None,
                Ok(Some(frame)) => {
                    if let Some(event) = self.inner.on_frame(frame) {
                        return Some(event);
                    }
                }
                Err(e) => {
                    self.inner.on_framing_error(e);
                    return self.inner.local_event();
                }
            }
            if self.inner.is_closed() {
                return self.inner.local_event();
            }
        }
    }
}

impl<Tx, T> Inner<'_, Tx, T>
where
    Tx: AsRef<[u8]> + AsMut<[u8]>,
    T: Tables,
{
    fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    fn heard(&mut self, now: Instant) {
        self.last_rx = now;
        self.ping_outstanding = false;
    }

    fn send_hello(&mut self) {
        let hello = Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            flags: u8::from(self.role == Role::Initiator),
            max_calls: self.config.max_calls,
            max_frame: self.config.max_frame,
            max_message: self.config.max_message,
            initial_credit: self.config.initial_credit,
            service_fp: service_fingerprint(self.served),
            n_methods: u16::try_from(self.served.len()).unwrap_or(u16::MAX),
            build: truncate_utf8(self.config.build, 64),
        };
        if self.tx.append(|b| frame::encode_hello(b, &hello)).is_err() {
            // A send buffer too small for a HELLO cannot carry anything.
            self.state = State::Closed(CloseReason::Incompatible);
        }
    }

    fn send_goaway(&mut self, code: u16) {
        if self.goaway_sent {
            return;
        }
        let fields = [self.highest_incoming, code.into()];
        // Best effort: a full buffer loses the GOAWAY, not the close.
        let _ = self
            .tx
            .append(|b| frame::encode_fields(b, frame::ty::GOAWAY, &fields, &[]));
        self.goaway_sent = true;
    }

    /// Ends the connection for `reason`, telling the peer why when it can.
    ///
    /// Out of line: the frame handlers call it on every broken rule, and
    /// each inlined copy costs flash on a microcontroller.
    #[inline(never)]
    fn fail(&mut self, reason: CloseReason) {
        if self.is_closed() {
            return;
        }
        if reason != CloseReason::TransportClosed {
            self.send_goaway(reason.code());
        }
        self.state = State::Closed(reason);
    }

    fn handle_eof(&mut self) {
        if self.is_closed() {
            return;
        }
        let graceful = self.goaway_sent
            && self.goaway_received
            && self.out_in_flight == 0
            && self.in_in_flight == 0;
        self.state = State::Closed(if graceful {
            CloseReason::Graceful
        } else {
            CloseReason::TransportClosed
        });
    }

    fn on_framing_error(&mut self, _: FrameError) {
        self.fail(CloseReason::FramingError);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let mut next = self.last_rx.saturating_add(self.config.idle_timeout);
        if !self.ping_outstanding {
            next = next.min(self.last_rx.saturating_add(self.config.keepalive_interval));
        }
        if self.state == State::Handshaking {
            next = next.min(self.started.saturating_add(self.config.handshake_timeout));
        }
        #[cfg(debug_assertions)]
        {
            let slots = self.tables.out_calls_ref();
            let timed = slots
                .iter()
                .filter(|s| is_timed(s.state, s.deadline()))
                .count();
            let expired = slots
                .iter()
                .filter(|s| s.state == OutState::Expired)
                .count();
            debug_assert_eq!(
                (self.timed, self.expired),
                (timed, expired),
                "slot counters"
            );
        }
        if self.timed > 0 {
            for slot in self.tables.out_calls_ref() {
                let t = match slot.state {
                    OutState::Waiting => slot.deadline(),
                    OutState::Expired | OutState::Abandoned => {
                        Some(slot.at.saturating_add(self.config.cancel_timeout))
                    }
                    OutState::Free => None,
                };
                if let Some(t) = t {
                    next = next.min(t);
                }
            }
        }
        Some(next)
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        if self.state == State::Handshaking
            && now >= self.started.saturating_add(self.config.handshake_timeout)
        {
            self.fail(CloseReason::HandshakeTimeout);
            return;
        }
        if now >= self.last_rx.saturating_add(self.config.idle_timeout) {
            self.fail(CloseReason::IdleTimeout);
            return;
        }
        if !self.ping_outstanding
            && now >= self.last_rx.saturating_add(self.config.keepalive_interval)
        {
            let ping = |b: &mut [u8]| frame::encode_fields(b, frame::ty::PING, &[], &[]);
            if self.tx.append(ping).is_ok() {
                self.ping_outstanding = true;
            }
        }
        let parity = self.role.parity();
        let cancel_timeout = self.config.cancel_timeout;
        let mut timed_out = false;
        let mut i = 0usize;
        let slots = if self.timed > 0 { usize::MAX } else { 0 };
        while let Some(slot) = self.tables.out_calls().get_mut(i).filter(|_| i < slots) {
            match slot.state {
                OutState::Waiting if slot.deadline().is_some_and(|d| now >= d) => {
                    slot.state = OutState::Expired;
                    slot.at = now;
                    self.expired = self.expired.saturating_add(1);
                    let id = [slot_id(i, parity)];
                    // A lost CANCEL (full buffer) ends in the cancel timeout
                    // rather than a leaked id.
                    let _ = self
                        .tx
                        .append(|b| frame::encode_fields(b, frame::ty::CANCEL, &id, &[]));
                }
                OutState::Expired | OutState::Abandoned
                    if now >= slot.at.saturating_add(cancel_timeout) =>
                {
                    timed_out = true;
                }
                _ => {}
            }
            i = i.saturating_add(1);
        }
        if timed_out {
            self.fail(CloseReason::CancelTimeout);
        }
    }

    /// The frame limit the peer accepts now.
    fn peer_max_frame(&self) -> u64 {
        self.peer
            .map_or(u64::from(PRE_HELLO_MAX_FRAME), |p| u64::from(p.max_frame))
    }

    fn check_can_start(&self) -> Result<(), StartError> {
        match self.state {
            State::Handshaking | State::Open => {}
            State::Closing | State::Closed(_) => return Err(StartError::Closed),
        }
        if self.tx.pending_len() > self.config.send_high_water {
            return Err(StartError::Backpressure);
        }
        Ok(())
    }

    /// `rest` is the frame's `len` field.
    fn check_frame(&self, rest: usize) -> Result<(), StartError> {
        // A frame that cannot fit even in the empty send buffer never will.
        let whole = rest.saturating_add(frame::MAX_HEADER_LEN);
        let capacity = self.tx.capacity();
        if whole > capacity {
            return Err(StartError::TooLarge {
                len: rest,
                max: capacity.saturating_sub(frame::MAX_HEADER_LEN),
            });
        }
        let max = self.peer_max_frame();
        if u64::try_from(rest).unwrap_or(u64::MAX) <= max {
            return Ok(());
        }
        match self.peer {
            // The peer's limit is not known yet: wait for its HELLO.
            None => Err(StartError::Backpressure),
            Some(_) => Err(StartError::TooLarge {
                len: rest,
                max: usize::try_from(max).unwrap_or(usize::MAX),
            }),
        }
    }

    /// This side's index for `method`, declaring it first if needed.
    fn declare(&mut self, method: &MethodDesc) -> Result<u8, StartError> {
        let len = self.declared_len;
        if let Some(i) = self
            .tables
            .declared()
            .get(..len)
            .and_then(|d| d.iter().position(|&id| id == method.id))
        {
            return u8::try_from(i).map_err(|_| StartError::TooManyMethods);
        }
        let capacity = self.tables.declared().len().min(128);
        if len >= capacity {
            return Err(StartError::TooManyMethods);
        }
        let entry = [U64::new(method.id), U64::new(method.fingerprint)];
        let first_index = [len as u64];
        let fingerprints = zerocopy::IntoBytes::as_bytes(&entry);
        self.tx
            .append(|b| frame::encode_fields(b, frame::ty::MTABLE, &first_index, fingerprints))
            .map_err(|_| StartError::Backpressure)?;
        if let Some(slot) = self.tables.declared().get_mut(len) {
            *slot = method.id;
        }
        self.declared_len = len.saturating_add(1);
        u8::try_from(len).map_err(|_| StartError::TooManyMethods)
    }

    fn call<A: Encode + ?Sized>(
        &mut self,
        now: Instant,
        method: &MethodDesc,
        args: &A,
        deadline: Option<Instant>,
    ) -> Result<CallId, StartError> {
        self.check_can_start()?;
        let slot = self.free_out_slot()?;
        let id = slot_id(slot, self.role.parity());
        self.check_frame(varint::len(id).saturating_add(args.encoded_len()))?;
        let index = self.declare(method)?;
        self.tx
            .append(|b| frame::encode_call(b, index, id, args))
            .map_err(|_| StartError::Backpressure)?;
        let flow = super::tables::Flow {
            recv_allowed: self.config.initial_credit,
            send_done: true,
            opened: true,
            ..Default::default()
        };
        self.start_out(slot, now, deadline, flow)
    }

    /// A free out slot within the peer's `max_calls`.
    fn free_out_slot(&mut self) -> Result<usize, StartError> {
        let peer_calls = self.peer.map_or(usize::MAX, |p| usize::from(p.max_calls));
        if self.out_in_flight >= peer_calls {
            return Err(StartError::Busy);
        }
        let from = usize::from(self.out_free_hint);
        self.tables
            .out_calls()
            .iter()
            .skip(from)
            .position(|s| s.state == OutState::Free)
            .map(|i| i.saturating_add(from))
            .ok_or(StartError::Busy)
    }

    /// Out slot `i` became free.
    fn freed_out(&mut self, i: usize) {
        self.out_free_hint = self.out_free_hint.min(u16::try_from(i).unwrap_or(u16::MAX));
    }

    /// Marks out slot `slot` as a started call.
    fn start_out(
        &mut self,
        slot: usize,
        now: Instant,
        deadline: Option<Instant>,
        flow: super::tables::Flow,
    ) -> Result<CallId, StartError> {
        let deadline =
            deadline.or_else(|| self.config.default_deadline.map(|d| now.saturating_add(d)));
        let out = self
            .tables
            .out_calls()
            .get_mut(slot)
            .ok_or(StartError::Busy)?;
        out.state = OutState::Waiting;
        // `slot` was the first free one (`free_out_slot`).
        self.out_free_hint = u16::try_from(slot.saturating_add(1)).unwrap_or(u16::MAX);
        out.generation = out.generation.wrapping_add(1);
        out.has_deadline = deadline.is_some();
        out.at = deadline.unwrap_or(now);
        out.flow = flow;
        let generation = out.generation;
        self.out_in_flight = self.out_in_flight.saturating_add(1);
        if deadline.is_some() {
            self.timed = self.timed.saturating_add(1);
        }
        Ok(CallId {
            id: slot_id(slot, self.role.parity()),
            generation,
        })
    }

    fn notify<A: Encode + ?Sized>(
        &mut self,
        method: &MethodDesc,
        args: &A,
    ) -> Result<(), StartError> {
        self.check_can_start()?;
        let id = self.role.parity();
        self.check_frame(1usize.saturating_add(args.encoded_len()))?;
        let index = self.declare(method)?;
        self.tx
            .append(|b| frame::encode_call(b, index, id, args))
            .map(|_| ())
            .map_err(|_| StartError::Backpressure)
    }

    fn cancel(&mut self, now: Instant, call: CallId) {
        let Some(slot) = slot_index(call.id, self.role.parity()) else {
            return;
        };
        let Some(out) = self.tables.out_calls().get_mut(slot) else {
            return;
        };
        if out.generation != call.generation {
            return;
        }
        match out.state {
            // Opened and nothing sent yet: the peer never saw the id, so
            // there is nothing to cancel there (a CANCEL would never be
            // answered); the slot is free at once.
            OutState::Waiting if out.flow.streaming && !out.flow.opened => {
                let _ = self.free_out(slot);
            }
            OutState::Waiting => {
                if !out.has_deadline {
                    self.timed = self.timed.saturating_add(1);
                }
                out.state = OutState::Abandoned;
                out.at = now;
                let id = [call.id];
                let _ = self
                    .tx
                    .append(|b| frame::encode_fields(b, frame::ty::CANCEL, &id, &[]));
            }
            // CANCEL already sent by the deadline; just drop the report.
            OutState::Expired => {
                out.state = OutState::Abandoned;
                self.expired = self.expired.saturating_sub(1);
            }
            OutState::Abandoned | OutState::Free => {}
        }
    }

    fn check_incoming(&mut self, call: IncomingCall) -> Result<(), ReplyError> {
        if self.is_closed() {
            return Err(ReplyError::Stale);
        }
        match self.tables.in_calls().get(usize::from(call.slot)) {
            Some(s) if s.running && s.generation == call.generation && s.id == call.id => Ok(()),
            _ => Err(ReplyError::Stale),
        }
    }

    fn finish_incoming(&mut self, call: IncomingCall) {
        if let Some(s) = self.tables.in_calls().get_mut(usize::from(call.slot)) {
            s.running = false;
            s.generation = s.generation.wrapping_add(1);
            if core::mem::take(&mut s.displaced) {
                self.in_displaced = self.in_displaced.saturating_sub(1);
            }
        }
        self.in_in_flight = self.in_in_flight.saturating_sub(1);
        self.maybe_finish_close();
    }

    fn reply<R: Encode + ?Sized>(
        &mut self,
        call: IncomingCall,
        result: &R,
    ) -> Result<(), ReplyError> {
        self.check_incoming(call)?;
        // The peer refuses a result in the middle of a chunked message.
        if self
            .tables
            .in_calls()
            .get(usize::from(call.slot))
            .is_some_and(|s| s.flow.send_left > 0)
        {
            return Err(ReplyError::Backpressure);
        }
        let rest = varint::len(call.id).saturating_add(result.encoded_len());
        let max = self.peer_max_frame();
        if u64::try_from(rest).unwrap_or(u64::MAX) > max {
            return Err(ReplyError::TooLarge {
                len: rest,
                max: usize::try_from(max).unwrap_or(usize::MAX),
            });
        }
        self.tx
            .append(|b| frame::encode_reply(b, call.id, result))
            .map_err(|_| ReplyError::Backpressure)?;
        self.finish_incoming(call);
        Ok(())
    }

    fn reply_error(
        &mut self,
        call: IncomingCall,
        code: ErrorCode,
        message: &str,
    ) -> Result<(), ReplyError> {
        self.check_incoming(call)?;
        if !self.send_error(call.id, code, message) {
            return Err(ReplyError::Backpressure);
        }
        self.finish_incoming(call);
        Ok(())
    }

    /// Queues an error reply; false if the buffer cannot hold it.
    fn send_error(&mut self, id: u64, code: ErrorCode, message: &str) -> bool {
        // Keep error replies small enough for any peer (even before HELLO).
        let body = ErrorBody {
            code: code.to_u16(),
            message: truncate_utf8(message, 100),
        };
        let flags = DataFlags::REPLY.with(DataFlags::ERROR);
        self.tx
            .append(|b| frame::encode_data(b, flags, id, None, None, &body))
            .is_ok()
    }

    fn close(&mut self) {
        if self.is_closed() {
            return;
        }
        self.send_goaway(0);
        self.state = State::Closing;
        self.maybe_finish_close();
    }

    fn maybe_finish_close(&mut self) {
        if self.state == State::Closing
            && self.goaway_sent
            && self.goaway_received
            && self.out_in_flight == 0
            && self.in_in_flight == 0
        {
            self.state = State::Closed(CloseReason::Graceful);
        }
    }

    /// Failures that need no frame: deadlines, and everything pending once
    /// closed; then the `Closed` event itself.
    fn local_event(&mut self) -> Option<Event<'static>> {
        let parity = self.role.parity();
        let closed = match self.state {
            State::Closed(r) => Some(r),
            _ => None,
        };
        if self.out_in_flight > 0 && (closed.is_some() || self.expired > 0) {
            if closed.is_some() {
                // Every slot is freed below.
                self.out_free_hint = 0;
            }
            let mut i = 0usize;
            while let Some(slot) = self.tables.out_calls().get_mut(i) {
                let report = match (slot.state, closed) {
                    (OutState::Expired, None) => {
                        slot.state = OutState::Abandoned;
                        self.expired = self.expired.saturating_sub(1);
                        Some(Failure::DeadlineExceeded)
                    }
                    (OutState::Waiting | OutState::Expired, Some(reason)) => {
                        slot.state = OutState::Free;
                        Some(Failure::Disconnected(reason))
                    }
                    (OutState::Abandoned, Some(_)) => {
                        slot.state = OutState::Free;
                        None
                    }
                    _ => None,
                };
                let generation = slot.generation;
                if let Some(failure) = report {
                    if closed.is_some() {
                        self.out_in_flight = self.out_in_flight.saturating_sub(1);
                    }
                    return Some(Event::Failed {
                        call: CallId {
                            id: slot_id(i, parity),
                            generation,
                        },
                        failure,
                    });
                }
                i = i.saturating_add(1);
            }
            if closed.is_some() {
                self.out_in_flight = 0;
                self.timed = 0;
                self.expired = 0;
            }
        }
        let reason = closed?;
        if self.in_in_flight > 0 {
            for s in self.tables.in_calls().iter_mut() {
                if s.running {
                    s.running = false;
                    s.displaced = false;
                    s.generation = s.generation.wrapping_add(1);
                }
            }
            self.in_in_flight = 0;
            self.in_displaced = 0;
        }
        if self.closed_reported {
            return None;
        }
        self.closed_reported = true;
        Some(Event::Closed(reason))
    }

    fn on_frame<'a>(&mut self, frame: Frame<'a>) -> Option<Event<'a>> {
        if self.is_closed() {
            return None;
        }
        if self.peer.is_none() && !matches!(frame, Frame::Hello { .. }) {
            // The first frame of a peer must be its HELLO.
            self.fail(CloseReason::Incompatible);
            return None;
        }
        match frame {
            Frame::Hello { body } => self.on_hello(body),
            Frame::MethodTable {
                first_index,
                fingerprints,
            } => {
                self.on_method_table(first_index, fingerprints);
                None
            }
            Frame::Call {
                method,
                call_id,
                body,
            } => {
                self.mark_mixed();
                self.on_call(method, call_id, body)
            }
            Frame::Data {
                flags,
                call_id,
                method,
                total_len,
                payload,
            } => {
                if method.is_some() || total_len.is_some() {
                    // Those are received piece by piece (`stream.rs`).
                    self.fail(CloseReason::ProtocolViolation);
                    return None;
                }
                self.on_data(flags, call_id, payload)
            }
            Frame::Cancel { call_id } => self.on_cancel(call_id),
            Frame::Ping(payload) => {
                let _ = self
                    .tx
                    .append(|b| frame::encode_fields(b, frame::ty::PONG, &[], payload));
                None
            }
            Frame::GoAway { code, .. } => {
                self.goaway_received = true;
                if code != 0 {
                    self.fail(CloseReason::PeerError(
                        u16::try_from(code).unwrap_or(u16::MAX),
                    ));
                } else if !self.is_closed() {
                    self.send_goaway(0);
                    self.state = State::Closing;
                    self.maybe_finish_close();
                }
                None
            }
            Frame::Credit { call_id, bytes } => {
                self.on_credit(call_id, bytes);
                None
            }
            Frame::Pong(_) | Frame::Extension { .. } => None,
        }
    }

    fn on_hello<'a>(&mut self, body: &'a [u8]) -> Option<Event<'a>> {
        if self.peer.is_some() {
            self.fail(CloseReason::ProtocolViolation);
            return None;
        }
        let Ok(hello) = Hello::decode(body) else {
            self.fail(CloseReason::Incompatible);
            return None;
        };
        let peer_initiator = hello.flags & 1 == 1;
        if hello.magic != MAGIC
            || hello.version != PROTOCOL_VERSION
            || peer_initiator == (self.role == Role::Initiator)
        {
            self.fail(CloseReason::Incompatible);
            return None;
        }
        self.peer = Some(PeerLimits {
            max_calls: hello.max_calls,
            max_frame: hello.max_frame.max(PRE_HELLO_MAX_FRAME),
            max_message: hello.max_message,
            initial_credit: hello.initial_credit,
        });
        if self.state == State::Handshaking {
            self.state = State::Open;
        }
        Some(Event::Connected(PeerInfo {
            max_calls: hello.max_calls,
            max_frame: hello.max_frame,
            service_fp: hello.service_fp,
            n_methods: hello.n_methods,
            max_message: hello.max_message,
            initial_credit: hello.initial_credit,
            build: hello.build,
        }))
    }

    fn on_method_table(&mut self, first_index: u64, entries: &[U64]) {
        if entries.len() % 2 != 0 {
            self.fail(CloseReason::ProtocolViolation);
            return;
        }
        let Ok(mut index) = usize::try_from(first_index) else {
            return;
        };
        for pair in entries.chunks_exact(2) {
            let (Some(id), Some(fp)) = (pair.first(), pair.get(1)) else {
                continue;
            };
            let (id, fp) = (id.get(), fp.get());
            let meaning = match self.served.iter().position(|m| m.id == id) {
                Some(i) => {
                    let local = u16::try_from(i).unwrap_or(u16::MAX);
                    if self.served.get(i).is_some_and(|m| m.fingerprint == fp) {
                        PeerMethod::Local(local)
                    } else {
                        PeerMethod::Mismatch(local)
                    }
                }
                None => PeerMethod::Unknown,
            };
            // Declarations beyond this side's table are dropped; calls to
            // them are answered with `UnknownMethod`.
            if let Some(slot) = self.tables.peer_methods().get_mut(index) {
                *slot = meaning;
            }
            index = index.saturating_add(1);
        }
    }

    fn resolve(&mut self, method: u8) -> PeerMethod {
        self.tables
            .peer_methods()
            .get(usize::from(method))
            .copied()
            .unwrap_or(PeerMethod::Unset)
    }

    fn on_call<'a>(&mut self, method: u8, call_id: u64, body: &'a [u8]) -> Option<Event<'a>> {
        let peer_parity = self.role.parity() ^ 1;
        if call_id % 2 != peer_parity {
            self.fail(CloseReason::ProtocolViolation);
            return None;
        }
        if call_id < 2 {
            // A notification: no reply, even for an unknown method.
            return match self.resolve(method) {
                PeerMethod::Local(m) => Some(Event::Notification { method: m, body }),
                _ => None,
            };
        }
        // A CALL is the whole request: its direction ends with it, so DATA
        // on the id afterwards breaks the rule as DATA after FIN_STREAM.
        let (call, method) = self.admit(method, call_id, true)?;
        Some(Event::Call { call, method, body })
    }

    /// Takes a peer's call into the served table, or answers it with an
    /// error (unknown method, schema mismatch, closing, overloaded).
    /// `whole`: the request came in one CALL frame and nothing follows it.
    fn admit(&mut self, method: u8, call_id: u64, whole: bool) -> Option<(IncomingCall, u16)> {
        let resolved = self.resolve(method);
        if self.find_in(call_id).is_some() {
            // The peer reused an id before its call's final frame.
            self.fail(CloseReason::ProtocolViolation);
            return None;
        }
        let local = match resolved {
            PeerMethod::Local(m) => m,
            PeerMethod::Mismatch(m) => {
                let name = self.served.get(usize::from(m)).map_or("", |d| d.name);
                self.send_error(call_id, ErrorCode::SchemaMismatch, name);
                return None;
            }
            PeerMethod::Unknown | PeerMethod::Unset => {
                self.send_error(call_id, ErrorCode::UnknownMethod, "");
                return None;
            }
        };
        if matches!(self.state, State::Closing) {
            self.send_error(call_id, ErrorCode::GoingAway, "");
            return None;
        }
        let max_calls = usize::from(self.config.max_calls);
        let home = self.home(call_id);
        let free = match home {
            Some(h) if self.tables.in_calls().get(h).is_some_and(|s| !s.running) => Some(h),
            _ => self
                .tables
                .in_calls()
                .iter()
                .take(max_calls)
                .position(|s| !s.running),
        };
        let (Some(slot), true) = (free, self.in_in_flight < max_calls) else {
            self.send_error(call_id, ErrorCode::Overloaded, "");
            return None;
        };
        let displaced = home != Some(slot);
        self.in_displaced = self.in_displaced.saturating_add(u16::from(displaced));
        let send_credit = self.peer.map_or(0, |p| p.initial_credit);
        let recv_allowed = self.config.initial_credit;
        let in_slot = self.tables.in_calls().get_mut(slot)?;
        in_slot.running = true;
        in_slot.displaced = displaced;
        in_slot.id = call_id;
        in_slot.generation = in_slot.generation.wrapping_add(1);
        in_slot.flow = super::tables::Flow {
            send_credit,
            recv_allowed,
            recv_done: whole,
            ..Default::default()
        };
        let generation = in_slot.generation;
        self.in_in_flight = self.in_in_flight.saturating_add(1);
        self.highest_incoming = self.highest_incoming.max(call_id);
        let slot = u16::try_from(slot).unwrap_or(u16::MAX);
        Some((
            IncomingCall {
                id: call_id,
                slot,
                generation,
            },
            local,
        ))
    }

    /// A DATA frame holding a whole message (FIN_MSG, no OPEN, no TOTAL).
    fn on_data<'a>(
        &mut self,
        flags: DataFlags,
        call_id: u64,
        payload: &'a [u8],
    ) -> Option<Event<'a>> {
        let parity = self.role.parity();
        if call_id % 2 != parity {
            return self.on_request_message(flags, call_id, payload);
        }
        if !flags.contains(DataFlags::FIN_STREAM) {
            return self.on_reply_item(flags, call_id, payload);
        }
        // A final reply in one frame (or a reply stream's bare end):
        // small traffic beside any transfer.
        self.mark_mixed();
        let Some(slot) = slot_index(call_id, parity) else {
            self.fail(CloseReason::ProtocolViolation);
            return None;
        };
        let Some(out) = self.tables.out_calls().get_mut(slot) else {
            self.fail(CloseReason::ProtocolViolation);
            return None;
        };
        if out.state == OutState::Waiting
            && out.flow.recv_left > 0
            && !flags.contains(DataFlags::ERROR)
        {
            // A whole message while a chunked one is in progress (an error
            // may end the call there: the partial message is dropped).
            self.fail(CloseReason::ProtocolViolation);
            return None;
        }
        let state = out.state;
        let call = CallId {
            id: call_id,
            generation: out.generation,
        };
        let was_timed = is_timed(state, out.deadline());
        out.state = OutState::Free;
        if state == OutState::Free {
            self.fail(CloseReason::ProtocolViolation);
            return None;
        }
        self.freed_out(slot);
        self.out_in_flight = self.out_in_flight.saturating_sub(1);
        if was_timed {
            self.timed = self.timed.saturating_sub(1);
        }
        if state == OutState::Expired {
            self.expired = self.expired.saturating_sub(1);
        }
        let event = match state {
            OutState::Waiting if flags.contains(DataFlags::ERROR) => {
                let failure = match ErrorBody::decode(payload) {
                    Ok(e) => Failure::Remote {
                        code: ErrorCode::from_u16(e.code),
                        message: e.message,
                    },
                    Err(_) => Failure::Remote {
                        code: ErrorCode::Internal,
                        message: "malformed error reply",
                    },
                };
                Some(Event::Failed { call, failure })
            }
            OutState::Waiting => Some(Event::Reply {
                call,
                body: payload,
            }),
            OutState::Expired => Some(Event::Failed {
                call,
                failure: Failure::DeadlineExceeded,
            }),
            // The final frame of a cancelled call: the id is free again.
            OutState::Abandoned | OutState::Free => None,
        };
        self.maybe_finish_close();
        event
    }

    /// The in slot a peer call `call_id` takes if it is free (its "home"):
    /// the slot of the peer's own table that the id comes from, when the
    /// peer numbers its calls as this crate does (`2 * (slot + 1) +
    /// parity`), so with equal `max_calls` every call has its own. Any
    /// other id works too; it only costs scans while it runs
    /// ([`find_in`](Self::find_in)).
    fn home(&mut self, call_id: u64) -> Option<usize> {
        let slots = self
            .tables
            .in_calls()
            .len()
            .min(usize::from(self.config.max_calls));
        let i = id_slot(call_id)?;
        (i < slots).then_some(i)
    }

    /// The slot of the peer's running call `call_id`.
    pub(super) fn find_in(&mut self, call_id: u64) -> Option<usize> {
        let home = self.home(call_id);
        let slots = self.tables.in_calls();
        if let Some(h) =
            home.filter(|&h| slots.get(h).is_some_and(|s| s.running && s.id == call_id))
        {
            return Some(h);
        }
        // Every call is in its home slot: `call_id` is not running.
        if self.in_displaced == 0 {
            return None;
        }
        slots.iter().position(|s| s.running && s.id == call_id)
    }

    fn on_cancel<'a>(&mut self, call_id: u64) -> Option<Event<'a>> {
        let slot = self.find_in(call_id)?;
        let s = self.tables.in_calls().get_mut(slot)?;
        let call = IncomingCall {
            id: call_id,
            slot: u16::try_from(slot).unwrap_or(u16::MAX),
            generation: s.generation,
        };
        self.send_error(call_id, ErrorCode::Cancelled, "");
        self.finish_incoming(call);
        Some(Event::Cancelled(call))
    }
}
