//! The driver task: the one owner of a connection's [`Connection`] and
//! socket. Handles talk to it through [`Command`]s, handlers through
//! [`Done`] messages; it reads, runs the state machine, and writes
//! everything queued since its last write in one system call.

mod bulk;
mod handlers;
mod outgoing;
mod recycle;
mod streams;

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context as TaskCx, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use zerowire::proto::{
    self, CallId, Channel, CloseReason, Config, Connection, ErrorCode, Event, Failure,
    IncomingCall, MethodDesc, Role, VecTables,
};
use zerowire::rpc::{CallError, ErrorText, Service};

use self::handlers::{handle_note, serve_call, Done};
use crate::peer::{CallHandle, Command, Context, Counters, OutCall, OutNote, Peer, Phase, Shared};
use crate::runtime::{Runtime, Socket as _, Task as _, Timer as _};

/// Calls (and notifications) a connection keeps waiting while the peer's
/// `max_calls` are in use or the send buffer is full; one more fails with
/// [`CallError::Overloaded`].
pub const QUEUE_LIMIT: usize = 1024;

/// Bytes queued for sending above which the driver writes at once even
/// while callers are about to start more calls (see `should_defer`): the
/// peer starts on the first frames while this side's callers make the
/// next ones, a pipeline of small batches instead of one large batch that
/// keeps each side waiting for the other. About 20 small calls.
const DEFER_MAX: usize = 256;
/// Passes of the driver loop before it yields to other tasks.
const PASSES: usize = 32;
/// Batches of commands the driver takes from the inbox in one pass.
const COMMAND_BATCHES: usize = 16;
/// Time a closed connection may take to flush its last frames (GOAWAY).
const LINGER: Duration = Duration::from_secs(2);
/// Method declarations kept each way (the protocol's limit).
const METHODS: usize = 128;
/// Room for frame headers beyond `max_frame`.
const FRAME_SLACK: usize = 64;

type Conn<'m> = Connection<'m, Vec<u8>, Vec<u8>, VecTables>;

/// The state machine's time: microseconds since the driver started.
struct Clock {
    start: std::time::Instant,
}

impl Clock {
    fn now(&self) -> proto::Instant {
        self.at(std::time::Instant::now())
    }

    fn at(&self, t: std::time::Instant) -> proto::Instant {
        let micros = t.saturating_duration_since(self.start).as_micros();
        proto::Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    fn to_std(&self, t: proto::Instant) -> std::time::Instant {
        let d = Duration::from_micros(t.as_micros());
        self.start
            .checked_add(d)
            .unwrap_or_else(|| self.start + Duration::from_secs(86_400 * 365))
    }
}

/// The driver's fields [`dispatch`] needs, borrowed one by one: the event
/// being handled still borrows the connection.
macro_rules! parts {
    ($driver:expr) => {
        Parts {
            rt: &$driver.rt,
            shared: &$driver.shared,
            service: &$driver.service,
            cx: $driver.cx.as_ref(),
            done_tx: &$driver.done_tx,
            spare: &mut $driver.spare,
        }
    };
}

/// What [`dispatch`] needs of the driver (borrowed apart from the
/// connection, whose receive buffer holds the arguments).
struct Parts<'a, R: Runtime, S: Service<Context>> {
    rt: &'a R,
    shared: &'a Arc<Shared>,
    service: &'a Arc<S>,
    cx: Option<&'a Arc<Context>>,
    done_tx: &'a mpsc::UnboundedSender<Done<S::Reply>>,
    spare: &'a mut handlers::Spare,
}

/// Runs a peer's call: a plain `fn` handler right here, on the connection's
/// task (no spawn, no channel hop; it holds up this connection, only, until
/// it returns); an async one is polled once here (most finish at once) and
/// moves to a task of its own if it waits.
fn dispatch<R: Runtime, S: Service<Context>>(
    mut p: Parts<'_, R, S>,
    call: IncomingCall,
    method: u16,
    body: Body<'_>,
) -> Dispatched<S::Reply, R::Task> {
    Counters::add(&p.shared.counters.calls_served, 1);
    // The peer's HELLO always comes first, so the context exists.
    let Some(cx) = p.cx else {
        return (Served::NoContext, None);
    };
    let kind = p
        .service
        .method(usize::from(method))
        .map(|m| m.streams)
        .unwrap_or_default();
    if kind.any() {
        let (backends, plumbing) = streams::plumbing(p.shared, kind);
        let served = match serve_call(&mut p, cx, call, method, body, Some(backends)) {
            Ok(answer) => Served::Answer(answer),
            Err(task) => Served::Task(task),
        };
        return (served, Some(plumbing));
    }
    // Arguments reassembled from chunks go to a task of their own.
    let sync = (!body.is_owned())
        .then(|| handlers::run_sync(&**p.service, cx, method, body.as_slice()))
        .flatten();
    let served = match sync {
        Some(answer) => Served::Answer(answer),
        None => match serve_call(&mut p, cx, call, method, body, None) {
            Ok(answer) => Served::Answer(answer),
            Err(task) => Served::Task(task),
        },
    };
    (served, None)
}

/// A call's encoded arguments: in the receive buffer, or reassembled from
/// chunks (then the handler takes the buffer instead of a copy, and its
/// `Bytes` values share it).
pub(super) enum Body<'a> {
    Borrowed(&'a [u8]),
    Owned(Bytes),
}

impl Body<'_> {
    pub(super) fn as_slice(&self) -> &[u8] {
        match self {
            Self::Borrowed(b) => b,
            Self::Owned(v) => v,
        }
    }

    /// Reassembled from chunks (then decoded off the connection's task).
    pub(super) fn is_owned(&self) -> bool {
        matches!(self, Self::Owned(_))
    }

    /// The arguments for a handler that owns them: small ones inline.
    fn into_args(self) -> handlers::Args {
        match self {
            Self::Borrowed(b) => handlers::Args::copy(b),
            Self::Owned(b) => handlers::Args::Shared(b),
        }
    }
}

/// What [`dispatch`] did, and the streams of a streaming method.
type Dispatched<A, T> = (Served<A, T>, Option<streams::Plumbing<A>>);

/// How a peer's call was taken up by [`dispatch`].
enum Served<A, T> {
    /// It finished at once.
    Answer(handlers::Answer<A>),
    /// It runs in this task.
    Task(T),
    /// No context yet (cannot happen after HELLO).
    NoContext,
}

/// This side's started calls, by call slot ([`CallId::slot`]), so a call
/// is found without hashing.
#[derive(Default)]
struct Started {
    slots: Vec<Option<(CallId, Pending)>>,
}

impl Started {
    fn insert(&mut self, id: CallId, p: Pending) {
        let i = id.slot();
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        if let Some(e) = self.slots.get_mut(i) {
            *e = Some((id, p));
        }
    }

    fn remove(&mut self, id: CallId) -> Option<Pending> {
        let e = self.slots.get_mut(id.slot())?;
        match e {
            Some((c, _)) if *c == id => e.take().map(|(_, p)| p),
            _ => None,
        }
    }

    /// Removes the started call of caller token `token` (a scan: only a
    /// caller that gives up on its call asks); its id.
    fn remove_token(&mut self, token: u64) -> Option<CallId> {
        let e = self
            .slots
            .iter_mut()
            .find(|e| e.as_ref().is_some_and(|(_, p)| p.token == token))?;
        e.take().map(|(id, _)| id)
    }

    fn drain(&mut self) -> impl Iterator<Item = Pending> + '_ {
        self.slots
            .iter_mut()
            .filter_map(|e| e.take().map(|(_, p)| p))
    }
}

/// A started call of this side.
struct Pending {
    token: u64,
    method: &'static MethodDesc,
    call: CallHandle,
}

/// Drives one connection until it has closed and flushed its last bytes.
pub(crate) async fn run<R: Runtime, S: Service<Context>>(
    rt: R,
    socket: R::Socket,
    service: Arc<S>,
    config: Config,
    role: Role,
    shared: Arc<Shared>,
) {
    // The served table lives in this future; the connection borrows it.
    let methods: Vec<MethodDesc> = (0..service.method_count())
        .map_while(|i| service.method(i).copied())
        .collect();
    let mut driver = Driver::new(rt, socket, service, config, role, &methods, shared);
    poll_fn(|cx| driver.poll(cx)).await;
}

struct Driver<'m, R: Runtime, S: Service<Context>> {
    rt: R,
    conn: Conn<'m>,
    socket: R::Socket,
    clock: Clock,
    timer: R::Timer,
    /// When `timer` fires; `None` when unset or fired.
    timer_at: Option<proto::Instant>,
    shared: Arc<Shared>,
    /// The commands taken from the inbox, handled one by one (kept for its
    /// capacity).
    cmds: Vec<Command>,
    service: Arc<S>,
    /// Handed to handlers; made when the peer's HELLO arrives.
    cx: Option<Arc<Context>>,
    done_tx: mpsc::UnboundedSender<Done<S::Reply>>,
    done_rx: mpsc::UnboundedReceiver<Done<S::Reply>>,
    /// Running handler tasks of peer calls, to abort on CANCEL.
    handlers: HashMap<IncomingCall, R::Task>,
    /// The allocation of the last async handler that finished at once.
    spare: handlers::Spare,
    /// Fires once the latest notification's handler has started.
    last_note: Option<oneshot::Receiver<()>>,
    calls: Started,
    /// Calls waiting for a free call slot or send-buffer room, in order.
    queue: VecDeque<OutCall>,
    /// Notifications waiting for send-buffer room, in order.
    notes: VecDeque<OutNote>,
    /// Handler answers waiting for send-buffer room.
    replies: VecDeque<Done<S::Reply>>,
    /// Large messages going out in chunks, taking turns.
    uploads: VecDeque<bulk::Upload>,
    /// The payload of the chunk whose header is in the send buffer.
    splice: Bytes,
    /// Large messages coming in, by call.
    inbound: HashMap<Channel, bulk::Inbound>,
    /// Buffers of large received messages, used again once dropped.
    recycler: recycle::Recycler,
    /// Streams received, by channel.
    streams_in: HashMap<Channel, streams::StreamIn>,
    /// Streams sent, by channel.
    streams_out: HashMap<Channel, streams::StreamOut<S::Reply>>,
    /// Received streams by token (for `Command::Took`).
    stream_tokens: HashMap<u64, Channel>,
    /// The peer's `max_message` (from its HELLO).
    peer_max_message: u64,
    tx_capacity: usize,
    io_failed: bool,
    closed: Option<CloseReason>,
    linger_until: Option<proto::Instant>,
    /// Whether this wake-up's write already waited one scheduler round for
    /// running handlers (see `poll`).
    deferred: bool,
    /// The peer's HELLO has arrived; handles learn it (`Phase::Open`) after
    /// this pass's write, which carries this side's HELLO if it was not
    /// written yet, so the stats a handle reads then include it.
    open_pending: bool,
}

impl<'m, R: Runtime, S: Service<Context>> Driver<'m, R, S> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        rt: R,
        socket: R::Socket,
        service: Arc<S>,
        config: Config,
        role: Role,
        methods: &'m [MethodDesc],
        shared: Arc<Shared>,
    ) -> Self {
        let max_frame = usize::try_from(config.max_frame).unwrap_or(usize::MAX);
        let rx_len = max_frame.saturating_add(FRAME_SLACK);
        let tx_len = config
            .send_high_water
            .saturating_add(max_frame)
            .saturating_add(FRAME_SLACK * 16);
        // This side's call slots serve both directions: `max_calls` bounds
        // the peer's calls served here and this side's calls in flight.
        let calls = usize::from(config.max_calls.max(1));
        let clock = Clock {
            start: std::time::Instant::now(),
        };
        let conn = Connection::new(
            config,
            role,
            methods,
            vec![0; rx_len],
            vec![0; tx_len],
            VecTables::new(calls, METHODS),
            proto::Instant::ZERO,
        );
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Self {
            rt,
            conn,
            socket,
            clock,
            timer: R::Timer::default(),
            timer_at: None,
            shared,
            cmds: Vec::new(),
            service,
            cx: None,
            done_tx,
            done_rx,
            handlers: HashMap::new(),
            spare: None,
            last_note: None,
            calls: Started::default(),
            queue: VecDeque::new(),
            notes: VecDeque::new(),
            replies: VecDeque::new(),
            uploads: VecDeque::new(),
            splice: Bytes::new(),
            inbound: HashMap::new(),
            recycler: recycle::Recycler::default(),
            streams_in: HashMap::new(),
            streams_out: HashMap::new(),
            stream_tokens: HashMap::new(),
            peer_max_message: 0,
            tx_capacity: tx_len,
            io_failed: false,
            closed: None,
            linger_until: None,
            deferred: false,
            open_pending: false,
        }
    }

    /// One wake-up: take in everything that is ready (commands, handler
    /// answers, bytes), run the state machine, then write once.
    fn poll(&mut self, cx: &mut TaskCx<'_>) -> Poll<()> {
        for _ in 0..PASSES {
            let now = self.clock.now();
            self.on_time(now);
            let mut again = self.poll_commands(cx, now);
            let answered = self.poll_answers(cx);
            again |= answered;
            again |= self.poll_read(cx, now);
            self.process_events(now);
            self.retry_blocked(now);
            // Stream items first: one too large for a frame becomes an
            // upload, whose first chunk goes this pass.
            again |= self.pump_streams(cx, now);
            self.pump_uploads();
            if !self.deferred && self.should_defer(answered) {
                self.deferred = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.deferred = false;
            if self.poll_write(cx) {
                again = true;
                // Room in the send buffer: start what waited for it; the
                // next pass writes it.
                self.retry_blocked(now);
            }
            if std::mem::take(&mut self.open_pending) && self.closed.is_none() {
                self.shared.phase.send_replace(Phase::Open);
            }
            if self.closed.is_some() && self.flushed(now) {
                if !self.io_failed {
                    // FIN after the last frame; the socket closes on drop.
                    let _ = self.socket.poll_shutdown(cx);
                }
                return Poll::Ready(());
            }
            again |= self.poll_timer(cx, now);
            if !again {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Whether this pass's write should wait one round of the scheduler
    /// (once per wake-up; no timer, so a lone call's frame leaves at once):
    /// - a handler answered while others of this connection still run
    ///   (and may be about to answer): their answers can share the write;
    /// - replies handed to this side's callers are not taken yet: those
    ///   callers are about to run, and most start their next call, which
    ///   can share the write too, up to [`DEFER_MAX`] bytes. With one call
    ///   in flight its caller has taken its reply before it starts the
    ///   next, so nothing waits.
    fn should_defer(&self, answered: bool) -> bool {
        (answered && !self.handlers.is_empty())
            || (self
                .shared
                .unclaimed
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0
                && (1..DEFER_MAX).contains(&self.conn.pending_send()))
    }

    // ---- time --------------------------------------------------------------

    fn on_time(&mut self, now: proto::Instant) {
        if self.closed.is_none() && self.conn.poll_timeout().is_some_and(|t| now >= t) {
            self.conn.handle_timeout(now);
        }
    }

    /// Arms the timer for the next deadline; true if it has fired.
    fn poll_timer(&mut self, cx: &mut TaskCx<'_>, now: proto::Instant) -> bool {
        let next = match self.closed {
            None => self.conn.poll_timeout(),
            Some(_) => self.linger_until,
        };
        let Some(mut next) = next else {
            return false;
        };
        if next <= now {
            // A deadline that `handle_timeout` could not move (its frame
            // did not fit yet): look again shortly instead of spinning.
            next = now + Duration::from_millis(1);
        }
        // Deadlines mostly move later (each read postpones keepalive):
        // keep an earlier timer, which costs one early wake-up, rather than
        // resetting the timer on every read.
        if self.timer_at.is_none_or(|at| next < at) {
            self.timer.reset(self.clock.to_std(next));
            self.timer_at = Some(next);
        }
        if self.timer.poll(cx).is_ready() {
            self.timer_at = None;
            return true;
        }
        false
    }

    // ---- input -------------------------------------------------------------

    fn poll_commands(&mut self, cx: &mut TaskCx<'_>, now: proto::Instant) -> bool {
        let mut any = false;
        let mut cmds = std::mem::take(&mut self.cmds);
        // A bounded number of batches per pass: callers on other threads
        // can refill the inbox as fast as it empties (a notification's
        // sender moves on once the driver took it), and the socket must
        // still get its turn. A pass that took commands runs again.
        for _ in 0..COMMAND_BATCHES {
            if self.closed.is_some() || self.shared.inbox.poll_take(cx, &mut cmds).is_pending() {
                break;
            }
            any = true;
            for cmd in cmds.drain(..) {
                self.on_command(cmd, now);
            }
        }
        self.cmds = cmds;
        any
    }

    fn poll_answers(&mut self, cx: &mut TaskCx<'_>) -> bool {
        let mut any = false;
        while let Poll::Ready(Some(done)) = self.done_rx.poll_recv(cx) {
            any = true;
            self.handlers.remove(&done.call);
            let Some(done) = self.park_answer(done) else {
                continue;
            };
            if self.replies.is_empty() {
                if let Err(done) = self.try_answer(done) {
                    self.replies.push_back(done);
                }
            } else {
                self.replies.push_back(done);
            }
        }
        any
    }

    fn poll_read(&mut self, cx: &mut TaskCx<'_>, now: proto::Instant) -> bool {
        if self.io_failed || !self.conn.wants_read() {
            return false;
        }
        if let Some(progress) = self.poll_direct(cx, now) {
            return progress;
        }
        let buf = self.conn.recv_buffer();
        if buf.is_empty() {
            return false;
        }
        match self.socket.poll_read(cx, buf) {
            Poll::Pending => false,
            Poll::Ready(Ok(0)) => {
                self.conn.handle_eof();
                true
            }
            Poll::Ready(Ok(n)) => {
                let c = &self.shared.counters;
                Counters::add(&c.reads, 1);
                Counters::add(&c.bytes_read, n as u64);
                self.conn.handle_received(now, n);
                true
            }
            Poll::Ready(Err(_)) => {
                self.io_failed = true;
                self.conn.handle_eof();
                true
            }
        }
    }

    // ---- events ------------------------------------------------------------

    fn process_events(&mut self, now: proto::Instant) {
        while let Some(event) = self.conn.poll_event() {
            match event {
                Event::Connected(info) => {
                    self.peer_max_message = u64::from(info.max_message);
                    let build = info.build.to_owned();
                    let _ = self.shared.build.set(build.clone());
                    self.cx = Some(Arc::new(Context {
                        peer: Peer::uncounted(self.shared.clone()),
                        build,
                    }));
                    self.open_pending = true;
                }
                Event::Call { call, method, body } => {
                    let parts = parts!(self);
                    let (served, plumbing) = dispatch(parts, call, method, Body::Borrowed(body));
                    self.after_dispatch(call, served, plumbing);
                }
                Event::Opened { call, method } => self.on_opened(call, method),
                Event::Data { channel, data } => {
                    let n = data.bytes.len();
                    let end_of_stream = data.end_of_stream;
                    let whole =
                        Self::store_piece(&mut self.inbound, &mut self.recycler, channel, data);
                    if whole.is_some() {
                        Counters::max(&self.shared.counters.buffers_reused, self.recycler.reused);
                    }
                    self.credit(channel, n);
                    match (channel, whole) {
                        // An item of a request stream (the message an
                        // end of stream completes is one too), or its
                        // bare end.
                        (Channel::In(_), body) if self.is_stream_in(channel) => {
                            if let Some(body) = body {
                                self.push_item(channel, body);
                            }
                            if end_of_stream {
                                self.forget(channel);
                                self.drop_stream_in(channel, None);
                            }
                        }
                        // The arguments of a call opened with DATA.
                        (Channel::In(call), Some(body)) => {
                            if let Some(method) = self.take_method(channel) {
                                // Back to the recycler once the handler
                                // has dropped the arguments.
                                let body = Body::Owned(self.recycler.share(body));
                                let (served, plumbing) = dispatch(parts!(self), call, method, body);
                                self.after_dispatch(call, served, plumbing);
                            }
                        }
                        // A chunked final result.
                        (Channel::Out(id), Some(body)) if end_of_stream => {
                            self.forget(channel);
                            self.drop_streams(channel, None);
                            self.complete_chunked(id, body);
                        }
                        // An item of a reply stream.
                        (Channel::Out(_), Some(body)) => self.push_item(channel, body),
                        _ => {}
                    }
                }
                Event::Aborted {
                    call,
                    code,
                    message,
                } => {
                    let message = message.to_owned();
                    self.forget(Channel::In(call));
                    self.on_aborted(call, code, &message);
                }
                Event::Notification { method, body } => {
                    if let Some(cx) = &self.cx {
                        let prev = self.last_note.take();
                        let (started, next) = oneshot::channel();
                        self.last_note = Some(next);
                        // Not tracked: a notification's handler runs to its
                        // end even if the connection closes.
                        let _ = self.rt.spawn(handle_note(
                            self.service.clone(),
                            cx.clone(),
                            method,
                            body.to_vec(),
                            prev,
                            started,
                        ));
                    }
                }
                Event::Cancelled(call) => {
                    self.forget(Channel::In(call));
                    self.drop_streams(Channel::In(call), Some(CallError::Cancelled));
                    if let Some(task) = self.handlers.remove(&call) {
                        task.abort();
                    }
                }
                Event::Reply { call, body } => {
                    streams::forget_call(
                        &mut self.streams_in,
                        &mut self.streams_out,
                        &mut self.stream_tokens,
                        Channel::Out(call),
                    );
                    if let Some(p) = self.calls.remove(call) {
                        self.shared.deliver(p.call, body);
                    }
                }
                Event::Failed { call, failure } => {
                    self.inbound.remove(&Channel::Out(call));
                    streams::forget_call(
                        &mut self.streams_in,
                        &mut self.streams_out,
                        &mut self.stream_tokens,
                        Channel::Out(call),
                    );
                    if let Some(p) = self.calls.remove(call) {
                        let error = match failure {
                            Failure::Remote { code, message } => {
                                CallError::from_remote(p.method.name, code, message)
                            }
                            Failure::DeadlineExceeded => CallError::DeadlineExceeded,
                            Failure::Disconnected(r) => {
                                // `Event::Closed` follows; a caller that
                                // sees `Disconnected` sees the close too.
                                self.shared.phase.send_replace(Phase::Closed(r));
                                CallError::Disconnected(r)
                            }
                            _ => CallError::Internal(ErrorText::new("unknown failure")),
                        };
                        p.call.complete(Err(error));
                    }
                }
                Event::Closed(reason) => self.on_closed(reason, now),
                _ => {}
            }
        }
    }

    /// Runs a peer's call: a plain `fn` handler right here, on the
    /// connection's task (no spawn, no channel hop; it holds up this
    /// connection, only, until it returns); an async one is polled once
    /// here (most finish at once) and moves to a task of its own if it
    /// waits.
    fn after_dispatch(
        &mut self,
        call: IncomingCall,
        served: Served<S::Reply, R::Task>,
        plumbing: Option<streams::Plumbing<S::Reply>>,
    ) {
        if let Some(p) = plumbing {
            self.plumb(call, p);
        }
        match served {
            Served::Answer(answer) => {
                if let Some(done) = self.park_answer(Done { call, answer }) {
                    self.replies.push_back(done);
                }
            }
            Served::Task(task) => {
                self.handlers.insert(call, task);
            }
            Served::NoContext => {
                let _ = self.conn.reply_error(call, ErrorCode::Internal, "");
            }
        }
    }

    /// The connection has ended: fail everything still waiting, stop the
    /// handlers, refuse new commands.
    fn on_closed(&mut self, reason: CloseReason, now: proto::Instant) {
        self.closed = Some(reason);
        self.linger_until = Some(now + LINGER);
        self.shared.phase.send_replace(Phase::Closed(reason));
        for (_, task) in self.handlers.drain() {
            task.abort();
        }
        self.replies.clear();
        self.uploads.clear();
        self.inbound.clear();
        let channels: Vec<Channel> = self.streams_in.keys().copied().collect();
        for channel in channels {
            self.drop_stream_in(channel, Some(CallError::Disconnected(reason)));
        }
        self.streams_out.clear();
        self.stream_tokens.clear();
        self.splice = Bytes::new();
        let error = CallError::Disconnected(reason);
        for p in self.calls.drain() {
            p.call.complete(Err(error));
        }
        for c in self.queue.drain(..) {
            c.call.complete(Err(error));
        }
        for n in self.notes.drain(..) {
            let _ = n.done.send(Err(error));
        }
        // Handles see the reason in `phase` from now on; commands already
        // sent fail here.
        for cmd in self.shared.inbox.close() {
            match cmd {
                Command::Call(c) => {
                    c.call.complete(Err(error));
                }
                Command::Notify(n) => {
                    let _ = n.done.send(Err(error));
                }
                Command::Cancel(_) | Command::Took(..) | Command::Close => {}
            }
        }
    }

    // ---- output ------------------------------------------------------------

    /// Writes everything pending in one `write`; true if it wrote.
    fn poll_write(&mut self, cx: &mut TaskCx<'_>) -> bool {
        if self.io_failed {
            return false;
        }
        Counters::max(
            &self.shared.counters.max_send_pending,
            self.conn.pending_send() as u64,
        );
        let t = self.conn.transmit();
        if t.is_empty() {
            return false;
        }
        let written = if t.spliced == 0 && t.tail.is_empty() {
            self.socket.poll_write(cx, t.head)
        } else {
            let from = self.splice.len().saturating_sub(t.spliced);
            let payload = self.splice.get(from..).unwrap_or_default();
            let bufs = [
                std::io::IoSlice::new(t.head),
                std::io::IoSlice::new(payload),
                std::io::IoSlice::new(t.tail),
            ];
            self.socket.poll_write_vectored(cx, &bufs)
        };
        match written {
            Poll::Pending => false,
            Poll::Ready(Ok(n)) if n > 0 => {
                let c = &self.shared.counters;
                Counters::add(&c.writes, 1);
                Counters::add(&c.bytes_written, n as u64);
                self.conn.advance_transmit(n);
                true
            }
            Poll::Ready(_) => {
                self.io_failed = true;
                self.conn.handle_eof();
                true
            }
        }
    }

    /// Whether a closed connection is done: its last frames written, or the
    /// socket failed, or the linger time is over.
    fn flushed(&self, now: proto::Instant) -> bool {
        self.io_failed
            || self.conn.pending_send() == 0
            || self.linger_until.is_none_or(|t| now >= t)
    }
}

impl<R: Runtime, S: Service<Context>> Drop for Driver<'_, R, S> {
    /// Also runs when the driver task is aborted (a dropped `serve`).
    fn drop(&mut self) {
        for (_, task) in self.handlers.drain() {
            task.abort();
        }
        // Before the pending calls' senders drop, so their callers read the
        // reason.
        self.shared.phase.send_if_modified(|p| {
            if matches!(p, Phase::Closed(_)) {
                false
            } else {
                *p = Phase::Closed(CloseReason::TransportClosed);
                true
            }
        });
        // Commands sent from now on fail; those queued drop here, and
        // their callers see the connection gone.
        drop(self.shared.inbox.close());
    }
}
