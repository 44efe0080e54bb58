//! [`Endpoint`]: one side of a zerowire connection over a [`ByteSocket`],
//! driven from a poll loop.

use core::time::Duration;

use zerowire::frame::MAX_DATA_HEAD_LEN;
use zerowire::proto::{
    ArrayTables, CallId, Channel, CloseReason, Config, Connection, Data, ErrorCode, Event, Instant,
    MethodDesc, Role, StartError, StaticConnection,
};
use zerowire::rpc::{CallError, ErrorText, LocalService};
use zerowire::{Encode, FromView};

use crate::client::{Pending, Results, SlotState};
use crate::dispatch::{run_handler, Answer};
use crate::socket::{ByteSocket, Eof, SocketState};
use crate::stream::{Ended, NoStreams, Stream, StreamHandler, StreamTx};

/// What changed during one [`Endpoint::poll`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// The peer's HELLO arrived: calls can go both ways.
    Connected,
    /// The session ended; every call still waiting failed with
    /// `Disconnected`. The endpoint waits for the socket's next connection.
    Closed(CloseReason),
}

/// Read, handle and write rounds per [`Endpoint::poll`]: enough to drain a
/// socket's receive buffer through a smaller connection buffer, bounded so
/// that one busy peer cannot keep the poll loop from the network stack.
const ROUNDS: usize = 8;

/// One end of a zerowire connection on a microcontroller: the protocol state
/// machine ([`Connection`]) in caller-owned, fixed storage, a dispatcher for
/// plain-`fn` handlers, and a non-blocking client, all driven by
/// [`poll`](Self::poll) from the application's loop. No heap, no executor.
///
/// Capacities are const generics: `RX`/`TX` bytes of receive and send buffer
/// (the largest frame is at most `RX`), `CALLS` calls in flight each way,
/// `METHODS` methods declared each way, and `REPLY` bytes of storage for each
/// of this side's calls' replies (an error reply's message, as in
/// `CallError::Internal`, is kept up to `REPLY` bytes too). Put the endpoint
/// in a `static` (or a `static_cell`) when it is large; on a 32-bit target
/// its size is about `RX + TX + 400 + CALLS * (REPLY + 180)` bytes.
///
/// # Sessions
///
/// An endpoint serves one connection (a *session*) at a time. When the socket
/// it is polled with becomes [`Open`](SocketState::Open), a new
/// [`Connection`] starts (HELLO, schema declarations); when the connection
/// ends (the peer closed, a reset, a protocol error, a timeout) every waiting
/// call fails with [`CallError::Disconnected`], the socket is closed, and the
/// endpoint waits for the next open socket. With smoltcp,
/// `smoltcp::ListenPool` (feature `smoltcp`) hands it the next connection.
///
/// # Call order
///
/// ```ignore
/// loop {
///     let now = clock();
///     iface.poll(now, &mut device, &mut sockets);          // the network stack
///     let socket = pool.poll(&mut sockets);                 // or any ByteSocket
///     endpoint.poll(to_zerowire(now), socket, &service);    // read, dispatch, write
///     // start calls, take results, send notifications at any point:
///     if let Some(p) = pending.take() { ... endpoint.take(p) ... }
/// }
/// ```
///
/// Calls and notifications started between polls are queued in the send
/// buffer and written by the next [`poll`](Self::poll).
#[derive(Debug)]
pub struct Endpoint<
    's,
    const RX: usize,
    const TX: usize,
    const CALLS: usize,
    const METHODS: usize,
    const REPLY: usize,
> {
    /// The running session's connection while `live`; between sessions,
    /// the last one (or, before the first, one never used), kept for its
    /// configuration, role and method table, from which the next session's
    /// connection is made (the endpoint holds no second copy of them).
    conn: StaticConnection<'s, RX, TX, CALLS, METHODS>,
    live: bool,
    results: Results<CALLS, REPLY>,
    sessions: u32,
    last_close: Option<CloseReason>,
}

impl<
        's,
        const RX: usize,
        const TX: usize,
        const CALLS: usize,
        const METHODS: usize,
        const REPLY: usize,
    > Endpoint<'s, RX, TX, CALLS, METHODS, REPLY>
{
    /// An endpoint that serves the methods `served` (empty to serve nothing;
    /// for a generated service, `NameService::<S>::methods()`) and opens
    /// each session in `role`: [`Role::Acceptor`] on a listening socket,
    /// [`Role::Initiator`] on a socket this side connected.
    ///
    /// `config.max_calls` is capped by `CALLS` and `config.max_frame` by
    /// `RX`; `config.send_high_water` should leave room in `TX` for one
    /// reply.
    pub fn new(config: Config, role: Role, served: &'s [MethodDesc]) -> Self {
        Self {
            conn: connection(&config, role, served, Instant::ZERO),
            live: false,
            results: Results::new(),
            sessions: 0,
            last_close: None,
        }
    }

    /// Whether a session's handshake has completed and it is not closing.
    pub fn is_open(&self) -> bool {
        self.live && self.conn.is_open()
    }

    /// Whether a session is running (handshaking, open or closing).
    pub fn in_session(&self) -> bool {
        self.live
    }

    /// Sessions started so far.
    pub fn sessions(&self) -> u32 {
        self.sessions
    }

    /// Why the last session ended.
    pub fn last_close(&self) -> Option<CloseReason> {
        self.last_close
    }

    /// This side's calls waiting for their result.
    pub fn calls_in_flight(&self) -> usize {
        self.session().map_or(0, Connection::calls_in_flight)
    }

    /// The running session's connection, for what the endpoint does not wrap
    /// (its configuration, buffered bytes); `None` between sessions.
    pub fn connection(&self) -> Option<&StaticConnection<'s, RX, TX, CALLS, METHODS>> {
        self.session()
    }

    /// The running session's connection.
    fn session(&self) -> Option<&StaticConnection<'s, RX, TX, CALLS, METHODS>> {
        self.live.then_some(&self.conn)
    }

    /// The running session's connection, mutably.
    fn session_mut(&mut self) -> Option<&mut StaticConnection<'s, RX, TX, CALLS, METHODS>> {
        self.live.then_some(&mut self.conn)
    }

    /// When [`poll`](Self::poll) must run next even if no bytes arrive
    /// (keepalive, deadlines, handshake timeout); `None`: only on input.
    pub fn poll_at(&self) -> Option<Instant> {
        self.session().and_then(Connection::poll_timeout)
    }

    /// Starts a graceful close of the running session (GOAWAY; calls in
    /// flight finish first).
    pub fn close(&mut self) {
        if let Some(conn) = self.session_mut() {
            conn.close();
        }
    }

    /// Does all pending work: starts a session if `socket` has just
    /// connected; reads what arrived; runs `service`'s handlers for the
    /// peer's calls and notifications and queues their replies; stores the
    /// results of this side's calls; fires timers; writes what is queued;
    /// ends the session if the connection or the socket ended.
    ///
    /// Handlers run right here, so they must be plain `fn`s (or `async fn`s
    /// that finish without waiting); keep them short, the network stack is
    /// not polled while they run. Streaming methods are refused
    /// (`UnknownMethod`): serve them with [`poll_streams`](Self::poll_streams).
    pub fn poll<S, Svc>(
        &mut self,
        now: Instant,
        socket: &mut S,
        service: &Svc,
    ) -> Option<SessionEvent>
    where
        S: ByteSocket + ?Sized,
        Svc: LocalService<()>,
    {
        self.poll_streams(now, socket, service, &mut NoStreams)
    }

    /// [`poll`](Self::poll) with streams: a peer's call of a streaming
    /// method of the served table (`MethodDesc::streams` not empty) goes to
    /// `streams` instead of `service` ([`StreamHandler::opened`]), the
    /// pieces of incoming streams to [`StreamHandler::data`], and in every
    /// read/handle/write round [`StreamHandler::produce`] queues what can
    /// be sent before the endpoint writes.
    pub fn poll_streams<S, Svc, H>(
        &mut self,
        now: Instant,
        socket: &mut S,
        service: &Svc,
        streams: &mut H,
    ) -> Option<SessionEvent>
    where
        S: ByteSocket + ?Sized,
        Svc: LocalService<()>,
        H: StreamHandler,
    {
        if !self.live {
            if socket.state() != SocketState::Open {
                return None;
            }
            self.start(now);
        }
        let session = self.sessions;
        let conn = &mut self.conn;
        let served = conn.served();
        let mut event = None;
        let mut closed = None;
        if socket.state() == SocketState::Idle {
            // Reset or aborted under us.
            conn.handle_eof();
        }
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            conn.handle_timeout(now);
        }
        for _ in 0..ROUNDS {
            let read = read_socket(conn, now, socket);
            let mut cx = Cx {
                results: &mut self.results,
                served,
                session,
                event: &mut event,
                closed: &mut closed,
            };
            handle_events(conn, &mut cx, socket, service, streams);
            // Also while closing: calls in flight finish first.
            if H::STREAMS && !conn.is_closed() {
                streams.produce(&mut StreamTx::new(conn, session));
            }
            let wrote = flush(conn, socket);
            if (read == 0 && wrote == 0) || closed.is_some() {
                break;
            }
        }
        if let Some(reason) = closed {
            self.end(reason, socket);
            if H::STREAMS {
                streams.closed(reason);
            }
            return Some(SessionEvent::Closed(reason));
        }
        event
    }

    /// Sending on the streams of the running session between polls (what
    /// [`StreamHandler::produce`] gets in a poll); `None` between sessions.
    /// What is queued is written by the next poll.
    pub fn stream_tx(&mut self) -> Option<StreamTx<'_>> {
        let session = self.sessions;
        self.session_mut().map(|c| StreamTx::new(c, session))
    }

    fn start(&mut self, now: Instant) {
        let conn = &self.conn;
        self.conn = connection(conn.config(), conn.role(), conn.served(), now);
        self.live = true;
        self.sessions = self.sessions.wrapping_add(1);
    }

    fn end<S: ByteSocket + ?Sized>(&mut self, reason: CloseReason, socket: &mut S) {
        self.results.disconnect_all(reason);
        self.live = false;
        self.last_close = Some(reason);
        socket.close();
    }

    /// Starts a call of the peer's `method` with `args`; its result is
    /// taken with [`take`](Self::take) once [`is_ready`](Self::is_ready).
    ///
    /// `A` must be the method's argument tuple (`(a, b)` for
    /// `fn m(&self, a: u32, b: u32)`, `()` for none) and `R` its return type
    /// (`Result<T, E>` included); they are not checked against `method`'s
    /// schema here. `timeout` fails the call with `DeadlineExceeded` and
    /// cancels it at the callee.
    ///
    /// # Errors
    /// `Disconnected` between sessions or once closing, `Overloaded` when
    /// all `CALLS` slots are taken (results not yet taken count) or the send
    /// buffer is above its high-water mark (poll, then retry), `TooLarge`
    /// when the arguments exceed the peer's frame limit.
    pub fn call<A, R>(
        &mut self,
        now: Instant,
        method: &'static MethodDesc,
        args: &A,
        timeout: Option<Duration>,
    ) -> Result<Pending<R>, CallError>
    where
        A: Encode + ?Sized,
    {
        self.start_call(method, |conn| {
            let deadline = timeout.map(|t| now.saturating_add(t));
            conn.call(now, method, args, deadline)
                .map_err(|e| start_error(conn, e))
        })
    }

    /// Starts a call of the peer's streaming `method` (`method.streams` not
    /// empty) with `args`: the [`Stream`] to send its request stream on
    /// ([`StreamTx::send_item`], [`StreamTx::send_chunk`], then
    /// [`StreamTx::finish`]) and to match the pieces of its reply stream in
    /// [`StreamHandler::data`]; and the [`Pending`] result, as for
    /// [`call`](Self::call). A method without a request stream goes out as
    /// an ordinary call (its request direction ends with the arguments);
    /// one with a request stream is opened with the arguments as its first
    /// message, as the desktop does.
    ///
    /// # Errors
    /// As [`call`](Self::call); `TooLarge` also when the arguments do not
    /// fit the send buffer.
    pub fn open<A, R>(
        &mut self,
        now: Instant,
        method: &'static MethodDesc,
        args: &A,
        timeout: Option<Duration>,
    ) -> Result<(Stream, Pending<R>), CallError>
    where
        A: Encode + ?Sized,
    {
        let deadline = timeout.map(|t| now.saturating_add(t));
        let mut id = None;
        let pending = self.start_call(method, |conn| {
            let started = if method.streams.request {
                open_call(conn, now, method, args, deadline)
            } else {
                conn.call(now, method, args, deadline)
                    .map_err(|e| start_error(conn, e))
            };
            id = started.as_ref().ok().copied();
            started
        })?;
        let id = id.ok_or(CallError::Overloaded)?;
        Ok((Stream::new(Channel::Out(id), self.sessions), pending))
    }

    /// Takes a result slot and starts a call with `start`.
    fn start_call<R>(
        &mut self,
        method: &'static MethodDesc,
        start: impl FnOnce(
            &mut StaticConnection<'s, RX, TX, CALLS, METHODS>,
        ) -> Result<CallId, CallError>,
    ) -> Result<Pending<R>, CallError> {
        if !self.live {
            return Err(self.disconnected());
        }
        let conn = &mut self.conn;
        let index = self.results.free().ok_or(CallError::Overloaded)?;
        let id = start(conn)?;
        let slot = self
            .results
            .slots
            .get_mut(index)
            .ok_or(CallError::Overloaded)?;
        slot.state = SlotState::Waiting(id);
        slot.method = Some(method);
        let index = u16::try_from(index).unwrap_or(u16::MAX);
        Ok(Pending::new(index, slot.generation))
    }

    /// The failure of a call started between sessions.
    fn disconnected(&self) -> CallError {
        CallError::Disconnected(self.last_close.unwrap_or(CloseReason::TransportClosed))
    }

    /// Sends a one-way notification of the peer's `method` (no reply;
    /// notifications arrive in the order they were sent). `A` is the
    /// method's argument tuple, as for [`call`](Self::call).
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub fn notify<A: Encode + ?Sized>(
        &mut self,
        method: &'static MethodDesc,
        args: &A,
    ) -> Result<(), CallError> {
        let Some(conn) = self.session_mut() else {
            return Err(self.disconnected());
        };
        conn.notify(method, args).map_err(|e| start_error(conn, e))
    }

    /// Whether the call's result (or failure) has arrived.
    pub fn is_ready<R>(&self, call: &Pending<R>) -> bool {
        self.results.get(call).is_some_and(|s| s.state.is_done())
    }

    /// The call's result if it has arrived (and the slot is free again);
    /// otherwise the token back.
    ///
    /// For a method returning `Result<T, E>`, a handler's `Err(e)` is
    /// `Ok(Err(e))`; [`flatten`](crate::flatten) turns it into
    /// `Err(CallError::Remote(e))` as the generated clients do.
    ///
    /// # Errors
    /// The token, when the result has not arrived yet.
    pub fn take<R>(&mut self, call: Pending<R>) -> Result<Result<R, CallError>, Pending<R>>
    where
        R: for<'de> FromView<'de>,
    {
        let Some(slot) = self.results.get_mut(&call) else {
            // A token of another endpoint: never ready.
            return Err(call);
        };
        let result = match slot.outcome() {
            Some(Ok(body)) => R::decode(body).map_err(CallError::BadResponse),
            Some(Err(e)) => Err(e),
            None => return Err(call),
        };
        slot.release();
        Ok(result)
    }

    /// Gives up on a call at `now`: the callee is told (CANCEL) and the
    /// result slot is free again.
    pub fn cancel<R>(&mut self, now: Instant, call: Pending<R>) {
        if let Some(slot) = self.results.get_mut(&call) {
            if let (SlotState::Waiting(id), true) = (slot.state, self.live) {
                self.conn.cancel(now, id);
            }
            slot.release();
        }
    }

    /// Frees a call's result slot without cancelling the call (its result is
    /// dropped when it arrives).
    pub fn forget<R>(&mut self, call: Pending<R>) {
        if let Some(slot) = self.results.get_mut(&call) {
            slot.release();
        }
    }
}

/// The async driver's access to the endpoint (`crate::asynch`): untyped
/// results, readiness by slot, and ending a session without a socket.
#[cfg(feature = "embedded-io-async")]
impl<
        const RX: usize,
        const TX: usize,
        const CALLS: usize,
        const METHODS: usize,
        const REPLY: usize,
    > Endpoint<'_, RX, TX, CALLS, METHODS, REPLY>
{
    /// Gives the call's raw result (the reply's bytes, or its failure) to
    /// `f` and frees the slot, if it has arrived.
    pub(crate) fn take_raw(&mut self, call: &Pending<()>, f: &mut TakeFn<'_>) -> Taken {
        let Some(slot) = self.results.get_mut(call) else {
            return Taken::Gone;
        };
        match (slot.outcome(), slot.state) {
            (Some(outcome), _) => f(outcome),
            (None, SlotState::Waiting(_)) => return Taken::Waiting,
            (None, _) => return Taken::Gone,
        }
        slot.release();
        Taken::Done
    }

    /// Whether result slot `index` holds an arrived result.
    pub(crate) fn slot_ready(&self, index: usize) -> bool {
        self.results
            .slots
            .get(index)
            .is_some_and(|s| s.state.is_done())
    }

    /// Ends the running session without its socket (its driver is gone):
    /// every waiting call fails with `Disconnected(reason)`. Whether a
    /// session was running.
    pub(crate) fn abandon(&mut self, reason: CloseReason) -> bool {
        if !core::mem::take(&mut self.live) {
            return false;
        }
        self.results.disconnect_all(reason);
        self.last_close = Some(reason);
        true
    }
}

/// What [`Endpoint::take_raw`] gives a call's raw result to.
#[cfg(feature = "embedded-io-async")]
pub(crate) type TakeFn<'f> = dyn FnMut(Result<&[u8], CallError>) + 'f;

/// What [`Endpoint::take_raw`] found.
#[cfg(feature = "embedded-io-async")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Taken {
    /// The result went to the closure; the slot is free.
    Done,
    /// Not arrived yet.
    Waiting,
    /// No such call (freed, or another endpoint's token).
    Gone,
}

/// A new session's connection (one out-of-line copy of the constructor
/// for [`Endpoint::new`] and every session's start), with a copy of
/// `config`.
#[inline(never)]
fn connection<'s, const RX: usize, const TX: usize, const CALLS: usize, const METHODS: usize>(
    config: &Config,
    role: Role,
    served: &'s [MethodDesc],
    now: Instant,
) -> StaticConnection<'s, RX, TX, CALLS, METHODS> {
    Connection::new(
        // Every field is `Copy`: a plain copy (the derived `clone` is 280
        // bytes of field-by-field code on a Cortex-M).
        Config { ..*config },
        role,
        served,
        [0; RX],
        [0; TX],
        ArrayTables::new(),
        now,
    )
}

/// The [`CallError`] for a call that could not start.
fn start_error<const RX: usize, const TX: usize, const CALLS: usize, const METHODS: usize>(
    conn: &StaticConnection<'_, RX, TX, CALLS, METHODS>,
    e: StartError,
) -> CallError {
    match e {
        StartError::TooLarge { len, max } => CallError::TooLarge { len, max },
        StartError::Closed => {
            CallError::Disconnected(conn.close_reason().unwrap_or(CloseReason::Graceful))
        }
        StartError::TooManyMethods => {
            CallError::Internal(ErrorText::new("more methods called than METHODS"))
        }
        // Busy, Backpressure: poll (which writes and frees ids) and retry.
        _ => CallError::Overloaded,
    }
}

/// Opens a call whose request streams and queues its arguments as the
/// first message. The arguments are checked against the send buffer first:
/// an opened call that never sent a message cannot be withdrawn.
fn open_call<A, const RX: usize, const TX: usize, const CALLS: usize, const METHODS: usize>(
    conn: &mut StaticConnection<'_, RX, TX, CALLS, METHODS>,
    now: Instant,
    method: &MethodDesc,
    args: &A,
    deadline: Option<Instant>,
) -> Result<CallId, CallError>
where
    A: Encode + ?Sized,
{
    let pending = conn.pending_send();
    let len = args.encoded_len().saturating_add(MAX_DATA_HEAD_LEN);
    if len > TX {
        return Err(CallError::TooLarge { len, max: TX });
    }
    if pending > conn.config().send_high_water || pending.saturating_add(len) > TX {
        return Err(CallError::Overloaded);
    }
    let id = conn
        .open(now, method, deadline)
        .map_err(|e| start_error(conn, e))?;
    if let Err(e) = conn.send_message(Channel::Out(id), args, false) {
        conn.cancel(now, id);
        return Err(match e {
            zerowire::proto::SendError::TooLarge { len, max } => CallError::TooLarge { len, max },
            _ => CallError::Overloaded,
        });
    }
    Ok(id)
}

/// Reads what the socket has into the connection; returns the bytes read.
fn read_socket<S, const RX: usize, const TX: usize, const CALLS: usize, const METHODS: usize>(
    conn: &mut StaticConnection<'_, RX, TX, CALLS, METHODS>,
    now: Instant,
    socket: &mut S,
) -> usize
where
    S: ByteSocket + ?Sized,
{
    if !conn.wants_read() {
        return 0;
    }
    let buf = conn.recv_buffer();
    if buf.is_empty() {
        return 0;
    }
    match socket.recv(buf) {
        Ok(n) => {
            conn.handle_received(now, n);
            n
        }
        Err(Eof) => {
            conn.handle_eof();
            0
        }
    }
}

/// Writes what the connection has queued; returns the bytes written.
fn flush<S, const RX: usize, const TX: usize, const CALLS: usize, const METHODS: usize>(
    conn: &mut StaticConnection<'_, RX, TX, CALLS, METHODS>,
    socket: &mut S,
) -> usize
where
    S: ByteSocket + ?Sized,
{
    let out = conn.poll_transmit();
    if out.is_empty() {
        return 0;
    }
    match socket.send(out) {
        Ok(n) => {
            conn.advance_transmit(n);
            n
        }
        Err(Eof) => {
            conn.handle_eof();
            0
        }
    }
}

/// What [`handle_events`] updates besides the connection.
struct Cx<'a, const CALLS: usize, const REPLY: usize> {
    results: &'a mut Results<CALLS, REPLY>,
    served: &'a [MethodDesc],
    session: u32,
    event: &'a mut Option<SessionEvent>,
    closed: &'a mut Option<CloseReason>,
}

/// Handles every event the connection has.
fn handle_events<
    S,
    Svc,
    H,
    const RX: usize,
    const TX: usize,
    const CALLS: usize,
    const METHODS: usize,
    const REPLY: usize,
>(
    conn: &mut StaticConnection<'_, RX, TX, CALLS, METHODS>,
    cx: &mut Cx<'_, CALLS, REPLY>,
    socket: &mut S,
    service: &Svc,
    streams: &mut H,
) where
    S: ByteSocket + ?Sized,
    Svc: LocalService<()>,
    H: StreamHandler,
{
    while let Some(ev) = conn.poll_event() {
        match ev {
            Event::Call { call, method, body } => {
                let desc = cx.served.get(usize::from(method));
                if let (true, Some(desc)) = (H::STREAMS, desc.filter(|d| d.streams.any())) {
                    // A streaming method without a request stream: its
                    // arguments are the whole request direction.
                    let stream = Stream::new(Channel::In(call), cx.session);
                    match streams.opened(stream, desc) {
                        Ok(()) => {
                            let args = Data {
                                bytes: body,
                                first: true,
                                total: Some(body.len() as u64),
                                end_of_message: true,
                                end_of_stream: true,
                            };
                            // Arguments of a CALL carry no credit.
                            streams.data(stream, args);
                        }
                        Err(code) => {
                            let _ = conn.reply_error(call, code, "");
                        }
                    }
                    continue;
                }
                let answer = run_handler(service, method, body);
                let mut sent = answer.send(conn, call);
                if sent.is_err() {
                    // The send buffer is full: write, then try once more.
                    flush(conn, socket);
                    sent = answer.send(conn, call);
                }
                if sent.is_err() {
                    let _ = conn.reply_error(
                        call,
                        ErrorCode::Internal,
                        "reply does not fit the send buffer",
                    );
                }
            }
            Event::Opened { call, method } => {
                // A call whose request comes as DATA: a request stream, or
                // arguments larger than a frame (not reassembled here).
                // Without streams, refused whichever it is (no table
                // lookup: the code stays small).
                let refused = if H::STREAMS {
                    match cx.served.get(usize::from(method)) {
                        Some(desc) if desc.streams.any() => streams
                            .opened(Stream::new(Channel::In(call), cx.session), desc)
                            .err()
                            .map(|code| (code, "")),
                        _ => Some((ErrorCode::Internal, "arguments above a frame")),
                    }
                } else {
                    Some((ErrorCode::UnknownMethod, ""))
                };
                if let Some((code, message)) = refused {
                    let _ = conn.reply_error(call, code, message);
                }
            }
            Event::Data { channel, data } => {
                let n = data.bytes.len();
                let end = data.end_of_stream;
                let done = if H::STREAMS {
                    streams.data(Stream::new(channel, cx.session), data)
                } else {
                    n
                };
                if let (Channel::Out(id), true) = (channel, end) {
                    // A final result in chunks: larger than a frame, so
                    // larger than the result slot.
                    cx.results.fail_too_large(id);
                }
                conn.consumed(channel, done);
            }
            Event::Aborted {
                call,
                code,
                message,
            } if H::STREAMS => {
                let stream = Stream::new(Channel::In(call), cx.session);
                streams.ended(stream, Ended::Aborted { code, message });
            }
            // (Plain-fn handlers finished before a cancel could arrive.)
            Event::Cancelled(call) if H::STREAMS => {
                streams.ended(Stream::new(Channel::In(call), cx.session), Ended::Cancelled);
            }
            Event::Notification { method, body } => {
                // A notification's result goes nowhere.
                let _ = run_handler(service, method, body);
            }
            Event::Reply { call, body } => cx.results.complete(call, body),
            Event::Failed { call, failure } => cx.results.fail(call, failure),
            Event::Connected(_) => *cx.event = Some(SessionEvent::Connected),
            Event::Closed(reason) => *cx.closed = Some(reason),
            _ => {}
        }
    }
}

impl<R: Encode> Answer<R> {
    /// Queues the answer as `call`'s final frame.
    fn send<const RX: usize, const TX: usize, const CALLS: usize, const METHODS: usize>(
        &self,
        conn: &mut StaticConnection<'_, RX, TX, CALLS, METHODS>,
        call: zerowire::proto::IncomingCall,
    ) -> Result<(), ()> {
        let r = match self {
            Self::Reply(reply) => conn.reply(call, reply),
            Self::Error(code, message) => conn.reply_error(call, *code, message),
        };
        match r {
            Err(zerowire::proto::ReplyError::Backpressure) => Err(()),
            Err(zerowire::proto::ReplyError::TooLarge { .. }) => {
                let _ = conn.reply_error(call, ErrorCode::Internal, "reply too large");
                Ok(())
            }
            // Sent, or stale (cancelled): either way done.
            _ => Ok(()),
        }
    }
}
