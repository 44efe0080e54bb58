//! [`Peer`], the handle to a connection, and what it sends to the
//! connection's driver task.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use zerowire::proto::{CloseReason, MethodDesc};
use zerowire::rpc::{
    BlockingCaller, ByteStream, CallError, CallOptions, Caller, ErrorText, Message, StreamCall,
};
use zerowire::{Encode, EncodeError, FromView, Wire};

use crate::inbox::Inbox;
use crate::runtime;

/// A handle to one connection: call the peer through it ([`Caller`],
/// [`BlockingCaller`]), watch or close the connection.
///
/// Clones share the connection. When the last clone of a `Peer` returned by
/// [`connect`](crate::connect) or [`Listener::accept`](crate::Listener::accept)
/// is dropped, the connection closes gracefully, as with
/// [`close`](Self::close). A `Peer` never reconnects (see the
/// [crate documentation](crate#reconnecting)).
pub struct Peer {
    shared: Arc<Shared>,
    /// Whether this handle keeps the connection open (see `Shared::handles`).
    counted: bool,
}

/// Traffic counters of one connection, from [`Peer::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// `write` system calls that sent bytes (every frame queued since the
    /// previous one goes out in a single `write`).
    pub writes: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// `read` system calls that received bytes.
    pub reads: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Calls this side started (sent to the peer).
    pub calls_sent: u64,
    /// Peer calls this side served.
    pub calls_served: u64,
    /// The most bytes the send buffer held at once (frames queued and not
    /// written, a spliced chunk's payload included): bounded by
    /// `send_high_water` + one chunk + one frame (`docs/streams.md`).
    pub max_send_pending: u64,
    /// The most bytes this side held for one received stream at once: the
    /// items handed to the application and not taken yet, plus the item
    /// being reassembled. Bounded by `initial_credit` + one item.
    pub max_stream_backlog: u64,
    /// Large messages (stream items, chunked arguments or results)
    /// reassembled in the buffer of an earlier item or arguments the
    /// application had dropped, instead of a fresh allocation.
    pub buffers_reused: u64,
}

/// What a handler learns about its caller: `Service<Context>` handlers that
/// take `cx: &Context` get it.
#[derive(Debug)]
pub struct Context {
    pub(crate) peer: Peer,
    pub(crate) build: String,
}

impl Context {
    /// The connection the call came in on: call the caller back through it.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The caller's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer.peer_addr()
    }

    /// The build string of the caller's HELLO ([`Config::build`] there).
    ///
    /// [`Config::build`]: zerowire::proto::Config::build
    pub fn peer_build(&self) -> &str {
        &self.build
    }
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the peer's HELLO.
    Handshaking,
    /// The HELLOs are exchanged.
    Open,
    /// Ended.
    Closed(CloseReason),
}

/// The state a connection's handles and its driver share.
pub(crate) struct Shared {
    pub(crate) inbox: Inbox,
    pub(crate) phase: watch::Sender<Phase>,
    pub(crate) build: OnceLock<String>,
    pub(crate) peer_addr: SocketAddr,
    pub(crate) local_addr: SocketAddr,
    /// Counted handles alive. It starts at 1: for `connect`/`accept` that is
    /// the returned `Peer`; a served connection never creates that handle,
    /// so its count never drops to zero and only the peer closes it.
    handles: AtomicUsize,
    next_token: AtomicU64,
    /// Replies the driver handed to their callers' tasks that those tasks
    /// have not taken yet. While there are some, those callers are about
    /// to run and most start their next call: the driver lets them run
    /// before it writes, so one write carries all those calls (see
    /// `Driver::poll`). One call in flight never waits for this.
    pub(crate) unclaimed: AtomicUsize,
    pub(crate) default_deadline: Option<Duration>,
    pub(crate) counters: Counters,
    runtime: runtime::Handle,
}

/// [`Stats`] as the driver updates them.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) writes: AtomicU64,
    pub(crate) bytes_written: AtomicU64,
    pub(crate) reads: AtomicU64,
    pub(crate) bytes_read: AtomicU64,
    pub(crate) calls_sent: AtomicU64,
    pub(crate) calls_served: AtomicU64,
    pub(crate) max_send_pending: AtomicU64,
    pub(crate) max_stream_backlog: AtomicU64,
    pub(crate) buffers_reused: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn max(counter: &AtomicU64, n: u64) {
        counter.fetch_max(n, Ordering::Relaxed);
    }
}

/// A request from a handle to the driver.
pub(crate) enum Command {
    /// Start a call (or queue it while the peer's `max_calls` are in use).
    Call(OutCall),
    /// Send a notification.
    Notify(OutNote),
    /// The caller gave up on call `token` (its future was dropped).
    Cancel(u64),
    /// The application took one item (of this many bytes) of stream
    /// `token`; its bytes go back to the sender's credit.
    Took(u64, usize),
    /// Start a graceful close.
    Close,
}

/// A call on its way to the driver.
pub(crate) struct OutCall {
    /// Identifies the call for [`Command::Cancel`].
    pub(crate) token: u64,
    pub(crate) method: &'static MethodDesc,
    pub(crate) deadline: Option<Instant>,
    pub(crate) call: CallHandle,
    /// For a streaming method: the request stream and where the reply
    /// stream's items go.
    pub(crate) stream: Option<OutStream>,
}

/// The streams of a streaming call on its way to the driver.
pub(crate) struct OutStream {
    /// The encoded request stream (a method with a `Source` parameter).
    pub(crate) input: Option<ByteStream>,
    /// The reply stream's items.
    pub(crate) items: mpsc::UnboundedSender<crate::stream::Item>,
}

/// A notification on its way to the driver.
pub(crate) struct OutNote {
    pub(crate) method: &'static MethodDesc,
    pub(crate) args: Box<dyn Encode + Send>,
    /// Told once the notification is queued for sending (or failed).
    pub(crate) done: oneshot::Sender<Result<(), CallError>>,
}

/// Encoded arguments up to this many bytes travel inside the command
/// (no allocation for them).
const INLINE: usize = 32;

/// Arguments above this size are encoded by the caller's task with their
/// largest byte string left where it is, and a result reassembled from
/// chunks is decoded there: the connection's task does no per-byte work
/// for large messages besides the socket copies, so the small calls on the
/// connection do not wait behind it.
const LARGE: usize = 64 * 1024;

/// A call's arguments, encoded by the caller's task, and the way back to
/// the caller. The only allocation of a small call is its reply cell.
pub(crate) struct CallHandle {
    args: Args,
    /// `None` once answered; dropped unanswered, it tells the caller the
    /// call is lost (the connection is gone).
    reply: Option<Arc<dyn Reply>>,
}

/// Encoded arguments on their way into the send buffer.
enum Args {
    /// In the send buffer already (or handed over for chunked sending).
    Sent,
    Inline(Inline),
    /// Longer ones (boxed: a command stays small); above [`LARGE`] the
    /// largest byte string is still the caller's (see [`Message::encode`]).
    Message(Box<Message>),
}

/// Short encoded arguments, stored in place.
struct Inline {
    len: u8,
    bytes: [u8; INLINE],
}

impl Encode for Inline {
    fn encoded_len(&self) -> usize {
        usize::from(self.len)
    }

    fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let src = self.bytes.get(..self.encoded_len()).unwrap_or_default();
        let available = buf.len();
        let dst = buf
            .get_mut(..src.len())
            .ok_or(EncodeError::BufferTooSmall {
                needed: src.len(),
                available,
            })?;
        dst.copy_from_slice(src);
        Ok(src.len())
    }
}

impl CallHandle {
    /// Encodes `args` for the call whose result `reply` takes.
    fn new<A: Wire + Send + 'static>(args: A, reply: Arc<dyn Reply>) -> Result<Self, CallError> {
        let failed = |_| CallError::Internal(ErrorText::new("the arguments did not encode"));
        let len = Wire::encoded_len(&args);
        let args = if len <= INLINE {
            let mut bytes = [0; INLINE];
            let n = Wire::encode(&args, &mut bytes).map_err(failed)?;
            Args::Inline(Inline {
                len: u8::try_from(n).unwrap_or(0),
                bytes,
            })
        } else if len > LARGE {
            Args::Message(Box::new(Message::encode(args).map_err(failed)?))
        } else {
            Args::Message(Box::new(Message::copied(&args).map_err(failed)?))
        };
        Ok(Self {
            args,
            reply: Some(reply),
        })
    }

    /// The encoded arguments, until [`started`](Self::started).
    pub(crate) fn args(&self) -> Option<&dyn Encode> {
        match &self.args {
            Args::Sent => None,
            Args::Inline(a) => Some(a),
            Args::Message(m) => Some(&**m),
        }
    }

    /// Arguments held as a [`Message`] (taken once), for chunked sending.
    pub(crate) fn take_encoded(&mut self) -> Option<Message> {
        match std::mem::replace(&mut self.args, Args::Sent) {
            Args::Message(m) => Some(*m),
            other => {
                self.args = other;
                None
            }
        }
    }

    /// The arguments are in the send buffer: drop them.
    pub(crate) fn started(&mut self) {
        self.args = Args::Sent;
    }

    /// Decodes the reply (in the driver, straight from the receive buffer)
    /// and hands the result to the caller. True if it handed over a
    /// decoded value that counts in [`Shared::unclaimed`] (the driver
    /// counted it before the call, see [`Shared::deliver`]).
    pub(crate) fn complete(mut self, result: Result<&[u8], CallError>) -> bool {
        self.reply.take().is_some_and(|r| r.complete(result))
    }

    /// Hands over a reply reassembled from chunks, for the caller's task
    /// to decode (`Bytes` values in it share `body` instead of copying it).
    pub(crate) fn complete_owned(mut self, body: Bytes) {
        if let Some(r) = self.reply.take() {
            r.complete_owned(body);
        }
    }

    /// Whether the caller decodes a reassembled reply from shared bytes
    /// (a plain call), so its buffer can go back to the driver's
    /// recycler; a streaming call's result is taken as a vector.
    pub(crate) fn decodes_shared(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| r.decodes_shared())
    }
}

impl Drop for CallHandle {
    fn drop(&mut self) {
        if let Some(r) = self.reply.take() {
            r.abandon();
        }
    }
}

/// Where a call's result goes, with the result type erased.
pub(crate) trait Reply: Send + Sync {
    /// See [`CallHandle::complete`].
    fn complete(&self, result: Result<&[u8], CallError>) -> bool;
    /// See [`CallHandle::complete_owned`].
    fn complete_owned(&self, body: Bytes);
    /// See [`CallHandle::decodes_shared`].
    fn decodes_shared(&self) -> bool;
    /// No result will come: the call was dropped unanswered.
    fn abandon(&self);
}

/// A reply as the driver hands it to the caller's task.
enum Received<R> {
    /// Decoded in the driver, straight from the receive buffer.
    Value(R),
    /// Reassembled from chunks; the caller's task decodes it.
    Encoded(Bytes),
}

/// A plain call's result, shared by the driver (which fills it) and the
/// caller's [`Claim`] (which takes it).
struct ReplyCell<R> {
    state: Mutex<ReplyState<R>>,
}

struct ReplyState<R> {
    result: Option<Result<Received<R>, CallError>>,
    /// The caller's task while it waits.
    waker: Option<Waker>,
    /// The caller gave up: a result that comes is dropped.
    gone: bool,
    /// No result will come.
    abandoned: bool,
}

impl<R> ReplyCell<R> {
    fn new() -> Self {
        Self {
            state: Mutex::new(ReplyState {
                result: None,
                waker: None,
                gone: false,
                abandoned: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ReplyState<R>> {
        // The state stays valid if a panic poisoned the lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `f` to the state and, if it returns true, wakes the caller
    /// (outside the lock); returns what `f` returned.
    fn settle(&self, f: impl FnOnce(&mut ReplyState<R>) -> bool) -> bool {
        let waker = {
            let mut s = self.lock();
            if !f(&mut s) {
                return false;
            }
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// Stores the result and wakes the caller; false if the caller is gone.
    fn put(&self, result: Result<Received<R>, CallError>) -> bool {
        self.settle(|s| {
            if !s.gone {
                s.result = Some(result);
            }
            !s.gone
        })
    }
}

impl<R> Reply for ReplyCell<R>
where
    R: for<'de> FromView<'de> + Send,
{
    fn complete(&self, result: Result<&[u8], CallError>) -> bool {
        let result = result.and_then(|body| {
            R::decode(body)
                .map(Received::Value)
                .map_err(CallError::BadResponse)
        });
        let value = matches!(result, Ok(Received::Value(_)));
        self.put(result) && value
    }

    fn complete_owned(&self, body: Bytes) {
        self.put(Ok(Received::Encoded(body)));
    }

    fn decodes_shared(&self) -> bool {
        true
    }

    fn abandon(&self) {
        self.settle(|s| {
            s.abandoned = true;
            true
        });
    }
}

/// A streaming call's final result, kept encoded (the generated client
/// decodes it).
struct RawReply {
    tx: Mutex<Option<RawSender>>,
}

/// Where [`RawReply`] sends the encoded result.
type RawSender = oneshot::Sender<Result<Vec<u8>, CallError>>;

impl RawReply {
    /// The sender, the first time (a call is answered once).
    fn take(&self) -> Option<RawSender> {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn send(&self, result: Result<Vec<u8>, CallError>) {
        if let Some(tx) = self.take() {
            let _ = tx.send(result);
        }
    }
}

impl Reply for RawReply {
    fn complete(&self, result: Result<&[u8], CallError>) -> bool {
        self.send(result.map(<[u8]>::to_vec));
        false
    }

    fn complete_owned(&self, body: Bytes) {
        // Without a copy: the driver keeps no handle on a reply that
        // [`decodes_shared`](Reply::decodes_shared) says is taken whole.
        self.send(Ok(Vec::from(body)));
    }

    fn decodes_shared(&self) -> bool {
        false
    }

    fn abandon(&self) {
        // The dropped sender tells the receiver.
        drop(self.take());
    }
}

/// Cancels a call whose result is dropped before it arrived (also a
/// streaming call's result future that was never polled). `P` is how the
/// guard reaches the connection: borrowed, or owned by a `'static` future.
struct CancelOnDrop<P: std::ops::Deref<Target = Shared>> {
    shared: P,
    token: u64,
    armed: bool,
}

impl<P: std::ops::Deref<Target = Shared>> CancelOnDrop<P> {
    /// Waits for the result (`None`: the call was lost with its
    /// connection) until `deadline`. The guard stays armed if the deadline
    /// passes first (the callee is told to stop), and disarms once the
    /// result is in.
    async fn wait<T>(
        &mut self,
        deadline: Option<Instant>,
        rx: impl Future<Output = Option<Result<T, CallError>>>,
    ) -> Result<T, CallError> {
        let result = match deadline {
            Some(at) => match self.shared.runtime.timeout_at(at, rx).await {
                Some(r) => r,
                None => return Err(CallError::DeadlineExceeded),
            },
            None => rx.await,
        };
        self.armed = false;
        result.unwrap_or_else(|| Err(CallError::Disconnected(self.shared.close_reason())))
    }
}

impl<P: std::ops::Deref<Target = Shared>> Drop for CancelOnDrop<P> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.shared.inbox.send(Command::Cancel(self.token));
        }
    }
}

/// The caller's end of a plain call's reply: counts the reply out of
/// [`Shared::unclaimed`] when the caller takes it, or when the caller gives
/// up on a reply that had arrived.
struct Claim<'a, R> {
    cell: Arc<ReplyCell<R>>,
    shared: &'a Shared,
    taken: bool,
}

impl<R> Claim<'_, R> {
    fn claimed(&self, reply: &Result<Received<R>, CallError>) {
        if matches!(reply, Ok(Received::Value(_))) {
            self.shared.unclaimed.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl<R> Future for Claim<'_, R> {
    type Output = Option<Result<Received<R>, CallError>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let result = {
            let mut s = self.cell.lock();
            match s.result.take() {
                Some(r) => Some(r),
                None if s.abandoned => None,
                None => {
                    if !s.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        s.waker = Some(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
            }
        };
        self.taken = true;
        if let Some(reply) = &result {
            self.claimed(reply);
        }
        Poll::Ready(result)
    }
}

impl<R> Drop for Claim<'_, R> {
    fn drop(&mut self) {
        if self.taken {
            return;
        }
        // No value is stored after `gone`; one that came before is
        // counted out here.
        let result = {
            let mut s = self.cell.lock();
            s.gone = true;
            s.result.take()
        };
        if let Some(reply) = result {
            self.claimed(&reply);
        }
    }
}

impl Shared {
    /// Hands a decoded reply to its caller (the driver's
    /// [`Event::Reply`](zerowire::proto::Event::Reply) path), counting it in
    /// [`unclaimed`](Self::unclaimed) until the caller takes it.
    pub(crate) fn deliver(&self, call: CallHandle, body: &[u8]) {
        // Counted first, so the caller's count-out never comes before it.
        self.unclaimed.fetch_add(1, Ordering::Relaxed);
        if !call.complete(Ok(body)) {
            self.unclaimed.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn new(
        peer_addr: SocketAddr,
        local_addr: SocketAddr,
        default_deadline: Option<Duration>,
        runtime: runtime::Handle,
    ) -> Arc<Self> {
        let shared = Self {
            inbox: Inbox::default(),
            phase: watch::Sender::new(Phase::Handshaking),
            build: OnceLock::new(),
            peer_addr,
            local_addr,
            handles: AtomicUsize::new(1),
            next_token: AtomicU64::new(0),
            unclaimed: AtomicUsize::new(0),
            default_deadline,
            counters: Counters::default(),
            runtime,
        };
        Arc::new(shared)
    }

    /// A fresh token for a call or a stream.
    pub(crate) fn token(&self) -> u64 {
        self.next_token.fetch_add(1, Ordering::Relaxed)
    }

    /// Why the connection ended; `TransportClosed` if it is still open
    /// (a handle only asks once its driver is gone).
    pub(crate) fn close_reason(&self) -> CloseReason {
        match *self.phase.borrow() {
            Phase::Closed(r) => r,
            _ => CloseReason::TransportClosed,
        }
    }

    pub(crate) fn send(&self, cmd: Command) -> Result<(), CallError> {
        self.inbox
            .send(cmd)
            .map_err(|_| CallError::Disconnected(self.close_reason()))
    }
}

impl Peer {
    /// The handle `connect`/`accept` return (the first counted one).
    pub(crate) fn first(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            counted: true,
        }
    }

    /// A handle that does not keep the connection open (the driver's own,
    /// in [`Context`]).
    pub(crate) fn uncounted(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            counted: false,
        }
    }

    /// Starts a graceful close: GOAWAY is sent, neither side starts new
    /// calls, calls in flight (both ways) finish, then the connection closes
    /// with [`CloseReason::Graceful`]. Calls made after this fail with
    /// `Disconnected`.
    pub fn close(&self) {
        let _ = self.shared.inbox.send(Command::Close);
    }

    /// Waits until the connection has ended and tells why.
    pub async fn closed(&self) -> CloseReason {
        let mut rx = self.shared.phase.subscribe();
        let phase = rx.wait_for(|p| matches!(p, Phase::Closed(_))).await;
        match phase.as_deref() {
            Ok(Phase::Closed(r)) => *r,
            _ => CloseReason::TransportClosed,
        }
    }

    /// Waits until the peer's HELLO has arrived ([`connect`](crate::connect)
    /// returns only after that; an accepted connection may still be
    /// handshaking). `Err` tells why the connection ended first.
    pub async fn handshake(&self) -> Result<(), CloseReason> {
        let mut rx = self.shared.phase.subscribe();
        let phase = rx.wait_for(|p| *p != Phase::Handshaking).await;
        match phase.as_deref() {
            Ok(Phase::Open) => Ok(()),
            Ok(Phase::Closed(r)) => Err(*r),
            _ => Err(CloseReason::TransportClosed),
        }
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        matches!(*self.shared.phase.borrow(), Phase::Closed(_))
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.shared.peer_addr
    }

    /// This side's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The build string from the peer's HELLO, once it has arrived.
    pub fn peer_build(&self) -> Option<String> {
        self.shared.build.get().cloned()
    }

    /// Traffic counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            writes: get(&c.writes),
            bytes_written: get(&c.bytes_written),
            reads: get(&c.reads),
            bytes_read: get(&c.bytes_read),
            calls_sent: get(&c.calls_sent),
            calls_served: get(&c.calls_served),
            max_send_pending: get(&c.max_send_pending),
            max_stream_backlog: get(&c.max_stream_backlog),
            buffers_reused: get(&c.buffers_reused),
        }
    }

    /// A call; it borrows this handle (no clone of it per call), which
    /// keeps the connection open until the call is done.
    async fn call_inner<A, R>(
        &self,
        method: &'static MethodDesc,
        args: A,
        options: CallOptions,
    ) -> Result<R, CallError>
    where
        A: Wire + Send + 'static,
        R: for<'de> FromView<'de> + Send + 'static,
    {
        let shared = &*self.shared;
        let cell = Arc::new(ReplyCell::<R>::new());
        let call = CallHandle::new(args, cell.clone())?;
        let token = shared.token();
        let deadline = options
            .timeout
            .or(shared.default_deadline)
            .and_then(|t| Instant::now().checked_add(t));
        shared.send(Command::Call(OutCall {
            token,
            method,
            deadline,
            call,
            stream: None,
        }))?;
        let mut guard = CancelOnDrop {
            shared,
            token,
            armed: true,
        };
        // The driver enforces the deadline of a started call; this timer
        // also covers the time a call waits for a free call slot.
        let rx = Claim {
            cell,
            shared,
            taken: false,
        };
        let result = guard.wait(deadline, rx).await;
        match result? {
            Received::Value(r) => Ok(r),
            // `Bytes` values share the reassembled buffer.
            Received::Encoded(body) => {
                zerowire::wire::decode_shared::<R>(&body).map_err(CallError::BadResponse)
            }
        }
    }

    async fn notify_inner<A>(self, method: &'static MethodDesc, args: A) -> Result<(), CallError>
    where
        A: Wire + Send + 'static,
    {
        let (done, rx) = oneshot::channel();
        self.shared.send(Command::Notify(OutNote {
            method,
            args: Box::new(args),
            done,
        }))?;
        rx.await
            .unwrap_or_else(|_| Err(CallError::Disconnected(self.shared.close_reason())))
    }
}

impl Clone for Peer {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::Relaxed);
        Self {
            shared: self.shared.clone(),
            counted: true,
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if self.counted && self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _ = self.shared.inbox.send(Command::Close);
        }
    }
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("peer_addr", &self.shared.peer_addr)
            .field("local_addr", &self.shared.local_addr)
            .field("phase", &*self.shared.phase.borrow())
            .finish_non_exhaustive()
    }
}

/// Calls go to the connection's driver task, which encodes them straight
/// into the send buffer. A call waits (in a queue of at most
/// [`QUEUE_LIMIT`](crate::QUEUE_LIMIT) calls per connection) while the
/// peer's `max_calls` are in use or the send buffer is above its high-water
/// mark; beyond that it fails with [`CallError::Overloaded`].
///
/// Dropping the call future cancels the call at the callee.
/// [`CallOptions::timeout`] (or else [`Config::default_deadline`]) covers
/// the whole call, including the time it waits in that queue.
///
/// [`Config::default_deadline`]: zerowire::proto::Config::default_deadline
impl Caller for Peer {
    fn call<A, R>(
        &self,
        method: &'static MethodDesc,
        args: A,
        options: CallOptions,
    ) -> impl Future<Output = Result<R, CallError>> + Send
    where
        A: Wire + Send + 'static,
        R: for<'de> FromView<'de> + Send + 'static,
    {
        self.call_inner(method, args, options)
    }

    /// Resolves once the notification is in the send buffer.
    fn notify<A>(
        &self,
        method: &'static MethodDesc,
        args: A,
    ) -> impl Future<Output = Result<(), CallError>> + Send
    where
        A: Wire + Send + 'static,
    {
        self.clone().notify_inner(method, args)
    }

    /// The call starts at once; its request stream is pulled by the
    /// connection's task as the callee's credit allows (so `input` runs
    /// there: keep its `poll_next` short). The reply items wait in an
    /// unbounded queue, bounded in practice by the credit this side grants:
    /// an item's bytes are given back only when the application takes it.
    fn call_streaming<A>(
        &self,
        method: &'static MethodDesc,
        args: A,
        input: Option<ByteStream>,
        options: CallOptions,
    ) -> StreamCall
    where
        A: Wire + Send + 'static,
    {
        let shared = &self.shared;
        let (tx, rx) = oneshot::channel();
        let (items_tx, items_rx) = mpsc::unbounded_channel();
        let token = shared.token();
        let deadline = options
            .timeout
            .or(shared.default_deadline)
            .and_then(|t| Instant::now().checked_add(t));
        let reply = Arc::new(RawReply {
            tx: Mutex::new(Some(tx)),
        });
        let sent = CallHandle::new(args, reply).and_then(|call| {
            shared.send(Command::Call(OutCall {
                token,
                method,
                deadline,
                call,
                stream: Some(OutStream {
                    input,
                    items: items_tx,
                }),
            }))
        });
        if let Err(e) = sent {
            return StreamCall::failed(e);
        }
        let mut guard = CancelOnDrop {
            shared: shared.clone(),
            token,
            armed: true,
        };
        // Keeps the connection open while the call runs.
        let peer = self.clone();
        let result = async move {
            let _peer = peer;
            guard.wait(deadline, async { rx.await.ok() }).await
        };
        StreamCall {
            items: Box::new(crate::stream::ItemSource::new(
                items_rx,
                shared.clone(),
                token,
            )),
            result: Box::pin(result),
        }
    }
}

/// Blocks the calling thread until the call is done; call it from plain
/// threads, never from a task. On tokio it blocks on the connection's
/// runtime (and panics inside any tokio runtime); on smol it runs
/// `smol::block_on` (inside an executor thread it would stall every task
/// of that thread meanwhile).
impl BlockingCaller for Peer {
    fn call_blocking<A, R>(
        &self,
        method: &'static MethodDesc,
        args: A,
        options: CallOptions,
    ) -> Result<R, CallError>
    where
        A: Wire + Send + 'static,
        R: for<'de> FromView<'de> + Send + 'static,
    {
        self.shared
            .runtime
            .block_on(self.call_inner(method, args, options))
    }

    fn notify_blocking<A>(&self, method: &'static MethodDesc, args: A) -> Result<(), CallError>
    where
        A: Wire + Send + 'static,
    {
        self.shared
            .runtime
            .block_on(self.clone().notify_inner(method, args))
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use super::*;

    fn shared() -> (tokio::runtime::Runtime, Arc<Shared>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], 1));
        let handle = runtime::Handle::Tokio(rt.handle().clone());
        let shared = Shared::new(addr, addr, None, handle);
        (rt, shared)
    }

    /// A plain call's handle and reply, as `call_inner` makes them.
    fn call(shared: &Shared) -> (CallHandle, Claim<'_, u32>) {
        let cell = Arc::new(ReplyCell::<u32>::new());
        let handle = CallHandle::new((1u32,), cell.clone()).unwrap();
        let claim = Claim {
            cell,
            shared,
            taken: false,
        };
        (handle, claim)
    }

    fn unclaimed(shared: &Shared) -> usize {
        shared.unclaimed.load(Ordering::Relaxed)
    }

    #[test]
    fn a_reply_counts_as_unclaimed_until_its_caller_takes_it() {
        let (rt, shared) = shared();
        let (out, claim) = call(&shared);
        shared.deliver(out, &7u32.encode_to_vec());
        assert_eq!(unclaimed(&shared), 1);
        let got = rt.block_on(claim).unwrap().unwrap();
        assert!(matches!(got, Received::Value(7)));
        assert_eq!(unclaimed(&shared), 0);
    }

    #[test]
    fn a_reply_whose_caller_gave_up_is_not_left_unclaimed() {
        let (_rt, shared) = shared();
        // The caller drops its future after the reply arrived.
        let (out, claim) = call(&shared);
        shared.deliver(out, &7u32.encode_to_vec());
        assert_eq!(unclaimed(&shared), 1);
        drop(claim);
        assert_eq!(unclaimed(&shared), 0);
        // The caller dropped its future before the reply arrived.
        let (out, claim) = call(&shared);
        drop(claim);
        shared.deliver(out, &7u32.encode_to_vec());
        assert_eq!(unclaimed(&shared), 0);
        // A reply that does not decode is an error, not a value: not counted.
        let (out, claim) = call(&shared);
        shared.deliver(out, &[1]);
        assert_eq!(unclaimed(&shared), 0);
        drop(claim);
        assert_eq!(unclaimed(&shared), 0);
    }

    fn encoded(handle: &CallHandle) -> Vec<u8> {
        let args = handle.args().unwrap();
        let mut buf = vec![0; args.encoded_len()];
        assert_eq!(args.encode(&mut buf).unwrap(), buf.len());
        buf
    }

    #[test]
    fn arguments_of_every_size_encode_as_their_wire_form() {
        // 4 bytes of length prefix plus the contents: both sides of each
        // limit between inline, copied and left in place.
        let sizes = [
            0,
            INLINE - 4,
            INLINE - 3,
            1000,
            LARGE - 4,
            LARGE - 3,
            3 * LARGE,
        ];
        for n in sizes {
            let value = (vec![7u8; n],);
            let wire = value.encode_to_vec();
            let cell = Arc::new(ReplyCell::<u32>::new());
            let mut handle = CallHandle::new(value, cell).unwrap();
            assert_eq!(encoded(&handle), wire, "{n} bytes");
            let inline = matches!(handle.args, Args::Inline(_));
            assert_eq!(inline, wire.len() <= INLINE, "{n} bytes");
            // Chunked sending takes a `Message`; inline ones are copied.
            match handle.take_encoded() {
                Some(m) => assert_eq!(m.into_vec(), wire),
                None => assert!(inline),
            }
            handle.started();
            assert!(handle.args().is_none());
        }
    }

    #[test]
    fn a_call_dropped_unanswered_ends_its_caller_s_wait() {
        let (rt, shared) = shared();
        let (handle, claim) = call(&shared);
        let mut claim = std::pin::pin!(claim);
        // The caller waits (its waker is stored), then the call is lost.
        assert!(rt
            .block_on(async { futures::poll!(claim.as_mut()) })
            .is_pending());
        drop(handle);
        assert!(rt.block_on(claim).is_none());
        assert_eq!(unclaimed(&shared), 0);
    }
}
