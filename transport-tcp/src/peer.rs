//! [`Peer`], the handle to a connection, and what it sends to the
//! connection's driver task.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Poll};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use crate::inbox::Inbox;
use zerowire::proto::{CloseReason, MethodDesc};
use zerowire::rpc::{
    BlockingCaller, ByteStream, CallError, CallOptions, Caller, Message, StreamCall,
};
use zerowire::{Encode, FromView, Wire};

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
    pub(crate) call: Box<dyn Outgoing>,
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

/// A call's arguments and the way back to its caller, with the argument
/// and result types erased: one allocation per call.
pub(crate) trait Outgoing: Send {
    /// The arguments, until [`started`](Self::started).
    fn args(&self) -> Option<&dyn Encode>;
    /// Large arguments the caller's task encoded already (taken once).
    fn take_encoded(&mut self) -> Option<Message> {
        None
    }
    /// The arguments are encoded into the send buffer: drop them.
    fn started(&mut self);
    /// Decodes the reply (in the driver, straight from the receive buffer)
    /// and hands the result to the caller. True if it handed over a
    /// decoded value that counts in [`Shared::unclaimed`] (the driver
    /// counted it before the call, see [`Shared::deliver`]).
    fn complete(self: Box<Self>, result: Result<&[u8], CallError>) -> bool;
    /// Decodes a reply reassembled from chunks: `Bytes` values in it share
    /// `body` instead of copying it.
    fn complete_owned(self: Box<Self>, body: Vec<u8>);
}

/// Arguments above this size are encoded by the caller's task, and a
/// result reassembled from chunks is decoded there: the connection's task
/// does no per-byte work for large messages besides the socket copies, so
/// the small calls on the connection do not wait behind it.
const LARGE: usize = 64 * 1024;

/// A reply as the driver hands it to the caller's task.
enum Received<R> {
    /// Decoded in the driver, straight from the receive buffer.
    Value(R),
    /// Reassembled from chunks; the caller's task decodes it.
    Encoded(Vec<u8>),
}

struct Typed<A, R> {
    args: Option<A>,
    /// Arguments encoded by the caller's task.
    pre: Option<Message>,
    reply: oneshot::Sender<Result<Received<R>, CallError>>,
}

impl<A, R> Outgoing for Typed<A, R>
where
    A: Wire + Send,
    R: for<'de> FromView<'de> + Send,
{
    fn args(&self) -> Option<&dyn Encode> {
        match &self.pre {
            Some(pre) => Some(pre),
            None => self.args.as_ref().map(|a| a as &dyn Encode),
        }
    }

    fn take_encoded(&mut self) -> Option<Message> {
        self.pre.take()
    }

    fn started(&mut self) {
        self.args = None;
        self.pre = None;
    }

    fn complete(self: Box<Self>, result: Result<&[u8], CallError>) -> bool {
        if self.reply.is_closed() {
            return false;
        }
        let result = result.and_then(|body| {
            R::decode(body)
                .map(Received::Value)
                .map_err(CallError::BadResponse)
        });
        let value = matches!(result, Ok(Received::Value(_)));
        self.reply.send(result).is_ok() && value
    }

    fn complete_owned(self: Box<Self>, body: Vec<u8>) {
        let _ = self.reply.send(Ok(Received::Encoded(body)));
    }
}

/// A streaming call's final result, kept encoded (the generated client
/// decodes it).
struct RawReply<A> {
    args: Option<A>,
    reply: oneshot::Sender<Result<Vec<u8>, CallError>>,
}

impl<A: Wire + Send> Outgoing for RawReply<A> {
    fn args(&self) -> Option<&dyn Encode> {
        self.args.as_ref().map(|a| a as &dyn Encode)
    }

    fn started(&mut self) {
        self.args = None;
    }

    fn complete(self: Box<Self>, result: Result<&[u8], CallError>) -> bool {
        let _ = self.reply.send(result.map(<[u8]>::to_vec));
        false
    }

    fn complete_owned(self: Box<Self>, body: Vec<u8>) {
        let _ = self.reply.send(Ok(body));
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
    /// Waits for the result until `deadline`. The guard stays armed if the
    /// deadline passes first (the callee is told to stop), and disarms
    /// once the result is in.
    async fn wait<T>(
        &mut self,
        deadline: Option<Instant>,
        rx: impl Future<Output = Result<Result<T, CallError>, oneshot::error::RecvError>>,
    ) -> Result<T, CallError> {
        let result = match deadline {
            Some(at) => match self.shared.runtime.timeout_at(at, rx).await {
                Some(r) => r,
                None => return Err(CallError::DeadlineExceeded),
            },
            None => rx.await,
        };
        self.armed = false;
        result.unwrap_or_else(|_| Err(CallError::Disconnected(self.shared.close_reason())))
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
    rx: oneshot::Receiver<Result<Received<R>, CallError>>,
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
    type Output = Result<Result<Received<R>, CallError>, oneshot::error::RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let out = ready!(Pin::new(&mut self.rx).poll(cx));
        self.taken = true;
        if let Ok(reply) = &out {
            self.claimed(reply);
        }
        Poll::Ready(out)
    }
}

impl<R> Drop for Claim<'_, R> {
    fn drop(&mut self) {
        if self.taken {
            return;
        }
        // No value can arrive after `close`; one that came before is
        // counted out here.
        self.rx.close();
        if let Ok(reply) = self.rx.try_recv() {
            self.claimed(&reply);
        }
    }
}

impl Shared {
    /// Hands a decoded reply to its caller (the driver's
    /// [`Event::Reply`](zerowire::proto::Event::Reply) path), counting it in
    /// [`unclaimed`](Self::unclaimed) until the caller takes it.
    pub(crate) fn deliver(&self, call: Box<dyn Outgoing>, body: &[u8]) {
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
        let (tx, rx) = oneshot::channel();
        let token = shared.token();
        let (args, pre) = if args.encoded_len() > LARGE {
            // Its largest byte string stays where it is, in `args`.
            let message = Message::encode(args).map_err(|_| {
                CallError::Internal(zerowire::rpc::ErrorText::new(
                    "the arguments did not encode",
                ))
            })?;
            (None, Some(message))
        } else {
            (Some(args), None)
        };
        let deadline = options
            .timeout
            .or(shared.default_deadline)
            .and_then(|t| Instant::now().checked_add(t));
        shared.send(Command::Call(OutCall {
            token,
            method,
            deadline,
            call: Box::new(Typed {
                args,
                pre,
                reply: tx,
            }),
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
            rx,
            shared,
            taken: false,
        };
        let result = guard.wait(deadline, rx).await;
        match result? {
            Received::Value(r) => Ok(r),
            // `Bytes` values share the reassembled buffer.
            Received::Encoded(body) => {
                zerowire::wire::decode_owned::<R>(body).map_err(CallError::BadResponse)
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
        let sent = shared.send(Command::Call(OutCall {
            token,
            method,
            deadline,
            call: Box::new(RawReply {
                args: Some(args),
                reply: tx,
            }),
            stream: Some(OutStream {
                input,
                items: items_tx,
            }),
        }));
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
            guard.wait(deadline, rx).await
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

    /// A plain call's reply channel, as `call_inner` makes it.
    fn call(shared: &Shared) -> (Box<dyn Outgoing>, Claim<'_, u32>) {
        let (tx, rx) = oneshot::channel();
        let typed = Typed::<(u32,), u32> {
            args: Some((1,)),
            pre: None,
            reply: tx,
        };
        let claim = Claim {
            rx,
            shared,
            taken: false,
        };
        (Box::new(typed), claim)
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
}
