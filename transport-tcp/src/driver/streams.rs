//! Streaming methods: request and reply streams of `#[service]` methods
//! with `Source`/`Sink` parameters.
//!
//! Each stream direction of a call is a channel of the state machine.
//! Outgoing, the driver pulls one message at a time from the stream's feed
//! (the client's input stream, or the handler's `Sink` queue) when the
//! send buffer and the peer's credit have room: a message that fits a frame
//! goes whole, a larger one as chunks (taking turns with the other large
//! messages). Incoming, whole messages go to the stream's item queue; a
//! message's bytes return to the sender's credit when the application
//! takes it, except while the queue is empty, so a slow consumer holds at
//! most one credit window plus the item being reassembled.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::task::{Context as TaskCx, Poll};

use tokio::sync::mpsc;
use zerowire::proto::{self, CallId, Channel, ErrorCode, IncomingCall, SendError, StreamKind};
use zerowire::rpc::{ByteStream, CallError, Message, Service, Stream, Streams};

use super::bulk::Upload;
use super::handlers::Done;
use super::Driver;
use crate::peer::{Context, Counters, OutStream, Shared};
use crate::runtime::{Runtime, Task as _};
use crate::stream::{Item, ItemSink, ItemSource};

/// A received stream: where its items go and what is owed to the sender.
pub(super) struct StreamIn {
    tx: mpsc::UnboundedSender<Item>,
    token: u64,
    /// Items handed over and not taken yet.
    queued: usize,
    /// Their bytes.
    queued_bytes: usize,
    /// Bytes received and not given back to the sender's credit yet.
    owed: usize,
}

impl StreamIn {
    fn new(tx: mpsc::UnboundedSender<Item>, token: u64) -> Self {
        Self {
            tx,
            token,
            queued: 0,
            queued_bytes: 0,
            owed: 0,
        }
    }
}

/// Where an outgoing stream's messages come from.
pub(super) enum Feed {
    /// A client's request stream.
    Client(ByteStream),
    /// A handler's `Sink`.
    Server(mpsc::Receiver<Message>),
}

/// A stream being sent.
pub(super) struct StreamOut<R> {
    feed: Feed,
    /// Messages taken from the feed (or the arguments) and not sent yet.
    pending: VecDeque<Message>,
    /// A message of this stream is going out in chunks.
    pub(super) busy: bool,
    /// The feed has ended.
    ended: bool,
    /// A served call's answer, sent after the last item.
    answer: Option<Done<R>>,
}

impl<R> StreamOut<R> {
    fn new(feed: Feed) -> Self {
        Self {
            feed,
            pending: VecDeque::new(),
            busy: false,
            ended: false,
            answer: None,
        }
    }
}

/// A handler's streams, made when its call is dispatched.
pub(super) struct Plumbing<R> {
    inn: Option<StreamIn>,
    out: Option<StreamOut<R>>,
}

/// The backends for a streaming handler and the driver's ends of them.
pub(super) fn plumbing<R>(
    shared: &std::sync::Arc<Shared>,
    kind: StreamKind,
) -> (Streams, Plumbing<R>) {
    let mut streams = Streams::default();
    let mut plumbing = Plumbing {
        inn: None,
        out: None,
    };
    if kind.request {
        let (tx, rx) = mpsc::unbounded_channel();
        let token = shared.token();
        streams.source = Some(Box::new(ItemSource::new(rx, shared.clone(), token)));
        plumbing.inn = Some(StreamIn::new(tx, token));
    }
    if kind.reply {
        let (sink, rx) = ItemSink::new();
        streams.sink = Some(Box::new(sink));
        plumbing.out = Some(StreamOut::new(Feed::Server(rx)));
    }
    (streams, plumbing)
}

/// What [`Driver::send_one`] did.
enum Step {
    /// Queued a message (or started one in chunks).
    Sent,
    /// Nothing to do now.
    Idle,
}

impl<R: Runtime, S: Service<Context>> Driver<'_, R, S> {
    /// Registers a started call's streams (its token names them).
    pub(super) fn register_streams(
        &mut self,
        id: CallId,
        token: u64,
        kind: StreamKind,
        s: OutStream,
    ) {
        let channel = Channel::Out(id);
        if kind.reply {
            self.streams_in
                .insert(channel, StreamIn::new(s.items, token));
            self.stream_tokens.insert(token, channel);
        }
        if let Some(input) = s.input {
            self.streams_out
                .insert(channel, StreamOut::new(Feed::Client(input)));
        }
    }

    /// Starts a call with a request stream: opens it and queues the
    /// encoded arguments as the stream's first message.
    pub(super) fn start_stream(
        &mut self,
        c: crate::peer::OutCall,
        now: proto::Instant,
    ) -> Result<(), crate::peer::OutCall> {
        // `open_call` records the call, which registers its streams.
        if let Some((id, args)) = self.open_call(c, now)? {
            let out = self
                .streams_out
                .entry(Channel::Out(id))
                .or_insert_with(|| StreamOut::new(Feed::Client(Box::pin(EmptyStream))));
            out.pending.push_front(args);
        }
        Ok(())
    }

    /// Takes a dispatched handler's streams.
    pub(super) fn plumb(&mut self, call: IncomingCall, p: Plumbing<S::Reply>) {
        let channel = Channel::In(call);
        if let Some(inn) = p.inn {
            self.stream_tokens.insert(inn.token, channel);
            self.streams_in.insert(channel, inn);
        }
        if let Some(out) = p.out {
            self.streams_out.insert(channel, out);
        }
    }

    /// A handler's answer: held back while its reply stream still sends
    /// (`None`), else given back to be sent.
    pub(super) fn park_answer(&mut self, done: Done<S::Reply>) -> Option<Done<S::Reply>> {
        if self.streams_in.is_empty() && self.streams_out.is_empty() {
            // No streams on this connection (the common case): no lookups.
            return Some(done);
        }
        let channel = Channel::In(done.call);
        // The handler is done with its request stream.
        self.drop_stream_in(channel, None);
        let Some(out) = self.streams_out.get_mut(&channel) else {
            return Some(done);
        };
        if out.ended && out.pending.is_empty() && !out.busy {
            self.streams_out.remove(&channel);
            return Some(done);
        }
        // Items the handler queued still go first; later sends fail.
        if let Feed::Server(rx) = &mut out.feed {
            rx.close();
        }
        out.answer = Some(done);
        None
    }

    /// Gives `n` received bytes of `channel` back to the sender's credit,
    /// or owes them while the application has items it has not taken.
    pub(super) fn credit(&mut self, channel: Channel, n: usize) {
        match self.streams_in.get_mut(&channel) {
            Some(s) => {
                // What this side holds for the stream: the items not
                // taken and the one being reassembled.
                let partial = self.inbound.get(&channel).map_or(0, |e| e.filled());
                Counters::max(
                    &self.shared.counters.max_stream_backlog,
                    (s.queued_bytes + partial) as u64,
                );
                s.owed += n;
                if s.queued == 0 && s.owed > 0 {
                    self.conn.consumed(channel, std::mem::take(&mut s.owed));
                }
            }
            None => self.conn.consumed(channel, n),
        }
    }

    /// The application took an item of stream `token`.
    pub(super) fn on_took(&mut self, token: u64, n: usize) {
        let Some(channel) = self.stream_tokens.get(&token).copied() else {
            return;
        };
        if let Some(s) = self.streams_in.get_mut(&channel) {
            s.queued = s.queued.saturating_sub(1);
            s.queued_bytes = s.queued_bytes.saturating_sub(n);
            self.credit(channel, 0);
        }
    }

    /// Whether `channel` receives a stream.
    pub(super) fn is_stream_in(&self, channel: Channel) -> bool {
        self.streams_in.contains_key(&channel)
    }

    /// Hands a whole received item to the application.
    pub(super) fn push_item(&mut self, channel: Channel, body: Vec<u8>) {
        if let Some(s) = self.streams_in.get_mut(&channel) {
            let n = body.len();
            let body = self.recycler.share(body);
            if s.tx.send(Ok(body)).is_ok() {
                s.queued += 1;
                s.queued_bytes += n;
                Counters::max(
                    &self.shared.counters.max_stream_backlog,
                    s.queued_bytes as u64,
                );
            } else {
                // Nobody reads the stream any more: keep the sender going.
                self.credit(channel, 0);
            }
        }
    }

    /// Ends a received stream: with `error` (an aborted stream, a lost
    /// connection) or cleanly; owed credit is settled.
    pub(super) fn drop_stream_in(&mut self, channel: Channel, error: Option<CallError>) {
        if let Some(s) = self.streams_in.remove(&channel) {
            self.stream_tokens.remove(&s.token);
            if let Some(e) = error {
                let _ = s.tx.send(Err(e));
            }
            if s.owed > 0 {
                self.conn.consumed(channel, s.owed);
            }
        }
    }

    /// Forgets both streams of a call that ended.
    pub(super) fn drop_streams(&mut self, channel: Channel, error: Option<CallError>) {
        self.drop_stream_in(channel, error);
        self.streams_out.remove(&channel);
    }

    /// A request stream aborted by the caller.
    pub(super) fn on_aborted(&mut self, call: IncomingCall, code: ErrorCode, message: &str) {
        let error = CallError::from_remote("request stream", code, message);
        self.drop_stream_in(Channel::In(call), Some(error));
    }

    /// Sends what the outgoing streams have, taking turns a message each;
    /// true if it queued anything.
    pub(super) fn pump_streams(&mut self, cx: &mut TaskCx<'_>, now: proto::Instant) -> bool {
        if self.streams_out.is_empty() {
            return false;
        }
        let channels: Vec<Channel> = self.streams_out.keys().copied().collect();
        let mut any = false;
        loop {
            let mut progress = false;
            for &channel in &channels {
                if matches!(self.send_one(cx, channel, now), Step::Sent) {
                    progress = true;
                }
            }
            if !progress {
                return any;
            }
            any = true;
        }
    }

    /// Sends the next message of one stream, or ends it.
    fn send_one(&mut self, cx: &mut TaskCx<'_>, channel: Channel, now: proto::Instant) -> Step {
        let Some(out) = self.streams_out.get_mut(&channel) else {
            return Step::Idle;
        };
        if out.busy {
            return Step::Idle;
        }
        let message = match out.pending.pop_front() {
            Some(m) => m,
            None if out.ended => return self.end_out(channel),
            None => {
                let polled = match &mut out.feed {
                    Feed::Client(s) => Pin::new(s).poll_next(cx),
                    Feed::Server(rx) => rx.poll_recv(cx),
                };
                match polled {
                    Poll::Ready(Some(m)) => m,
                    Poll::Ready(None) => {
                        out.ended = true;
                        return self.end_out(channel);
                    }
                    Poll::Pending => return Step::Idle,
                }
            }
        };
        let len = message.len() as u64;
        if len > self.peer_max_message {
            self.fail_stream(channel, len, now);
            return Step::Idle;
        }
        match self.conn.send_message(channel, &message, false) {
            Ok(()) => Step::Sent,
            Err(SendError::TooLarge { .. }) => {
                if let Some(o) = self.streams_out.get_mut(&channel) {
                    o.busy = true;
                }
                self.uploads.push_back(Upload::item(channel, message));
                Step::Sent
            }
            Err(SendError::Backpressure | SendError::NoCredit) => {
                if let Some(o) = self.streams_out.get_mut(&channel) {
                    o.pending.push_front(message);
                }
                Step::Idle
            }
            // The call is over (cancelled, answered, closed).
            Err(_) => {
                self.streams_out.remove(&channel);
                Step::Idle
            }
        }
    }

    /// The feed ended and everything is sent: end the request stream, or
    /// send the handler's answer once it is there.
    fn end_out(&mut self, channel: Channel) -> Step {
        match channel {
            Channel::Out(id) => match self.conn.finish(id) {
                Err(SendError::Backpressure) => Step::Idle,
                _ => {
                    self.streams_out.remove(&channel);
                    Step::Sent
                }
            },
            Channel::In(_) => {
                let answer = self
                    .streams_out
                    .get_mut(&channel)
                    .and_then(|o| o.answer.take());
                match answer {
                    Some(done) => {
                        self.streams_out.remove(&channel);
                        self.replies.push_back(done);
                        Step::Sent
                    }
                    None => Step::Idle,
                }
            }
        }
    }

    /// A stream message above the peer's `max_message`: the call fails
    /// with `MessageTooLarge` (this side's call), or the caller gets it as
    /// the error reply (a served call).
    fn fail_stream(&mut self, channel: Channel, len: u64, now: proto::Instant) {
        let max = self.peer_max_message;
        self.drop_streams(channel, None);
        match channel {
            Channel::Out(id) => {
                if let Some(p) = self.calls.remove(id) {
                    p.call
                        .complete(Err(CallError::MessageTooLarge { len, max }));
                }
                self.conn.cancel(now, id);
            }
            Channel::In(call) => {
                if let Some(task) = self.handlers.remove(&call) {
                    task.abort();
                }
                let mut text = [0; 48];
                let text = ErrorCode::message_too_large_text(len, max, &mut text);
                let _ = self
                    .conn
                    .reply_error(call, ErrorCode::MessageTooLarge, text);
            }
        }
    }
}

/// Forgets a call's streams without settling credit (the call is over;
/// a free function for event handlers that still borrow the connection).
pub(super) fn forget_call<R>(
    ins: &mut HashMap<Channel, StreamIn>,
    outs: &mut HashMap<Channel, StreamOut<R>>,
    tokens: &mut HashMap<u64, Channel>,
    channel: Channel,
) {
    if ins.is_empty() && outs.is_empty() {
        return;
    }
    if let Some(s) = ins.remove(&channel) {
        tokens.remove(&s.token);
    }
    outs.remove(&channel);
}

/// The feed of a request stream that has only its arguments.
struct EmptyStream;

impl Stream for EmptyStream {
    type Item = Message;

    fn poll_next(self: Pin<&mut Self>, _: &mut TaskCx<'_>) -> Poll<Option<Message>> {
        Poll::Ready(None)
    }
}
