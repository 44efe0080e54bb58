//! Calls, notifications and answers on their way into the state machine:
//! started at once, or queued while the peer's `max_calls` are in use or the
//! send buffer is above its high-water mark.

use zerowire::proto::{self, CallId, CloseReason, ReplyError, StartError};
use zerowire::rpc::{CallError, ErrorText, Service};

use super::handlers::{Answer, Done};
use super::{Driver, Pending, QUEUE_LIMIT};
use crate::peer::{Command, Context, Counters, OutCall, OutNote};
use crate::runtime::Runtime;

impl<R: Runtime, S: Service<Context>> Driver<'_, R, S> {
    pub(super) fn on_command(&mut self, cmd: Command, now: proto::Instant) {
        match cmd {
            Command::Call(call) => {
                if !self.queue.is_empty() {
                    self.enqueue(call);
                } else if let Err(call) = self.try_start(call, now) {
                    self.enqueue(call);
                }
            }
            Command::Notify(note) => {
                if !self.notes.is_empty() {
                    self.enqueue_note(note);
                } else if let Err(note) = self.try_notify(note) {
                    self.enqueue_note(note);
                }
            }
            Command::Cancel(token) => {
                if let Some(id) = self.calls.remove_token(token) {
                    self.drop_streams(proto::Channel::Out(id), None);
                    self.conn.cancel(now, id);
                } else if let Some(i) = self.queue.iter().position(|c| c.token == token) {
                    self.queue.remove(i);
                }
            }
            Command::Took(token, n) => self.on_took(token, n),
            Command::Close => self.conn.close(),
        }
    }

    fn enqueue(&mut self, call: OutCall) {
        if self.queue.len() >= QUEUE_LIMIT {
            call.call.complete(Err(CallError::Overloaded));
        } else {
            self.queue.push_back(call);
        }
    }

    fn enqueue_note(&mut self, note: OutNote) {
        if self.notes.len() >= QUEUE_LIMIT {
            let _ = note.done.send(Err(CallError::Overloaded));
        } else {
            self.notes.push_back(note);
        }
    }

    /// Records a started call (its arguments are queued): its reply goes to
    /// `c`'s caller, its token can cancel it.
    pub(super) fn track(&mut self, mut c: OutCall, id: CallId) {
        Counters::add(&self.shared.counters.calls_sent, 1);
        if let Some(s) = c.stream.take() {
            self.register_streams(id, c.token, c.method.streams, s);
        }
        c.call.started();
        self.calls.insert(
            id,
            Pending {
                token: c.token,
                method: c.method,
                call: c.call,
            },
        );
    }

    /// Starts `c`, or gives it back if it must wait (`Busy`, `Backpressure`).
    fn try_start(&mut self, c: OutCall, now: proto::Instant) -> Result<(), OutCall> {
        if c.method.streams.request {
            return self.start_stream(c, now);
        }
        let Some(args) = c.call.args() else {
            return Ok(());
        };
        let deadline = c.deadline.map(|d| self.clock.at(d));
        match self.conn.call(now, c.method, args, deadline) {
            Ok(id) => {
                self.track(c, id);
                Ok(())
            }
            Err(StartError::Busy) => Err(c),
            // Too large for one frame: it goes in chunks.
            Err(StartError::TooLarge { .. }) => self.start_chunked(c, now),
            Err(StartError::Backpressure) => {
                if self.never_fits() {
                    self.start_chunked(c, now)
                } else {
                    Err(c)
                }
            }
            Err(e) => {
                let error = self.start_error(e);
                c.call.complete(Err(error));
                Ok(())
            }
        }
    }

    fn try_notify(&mut self, n: OutNote) -> Result<(), OutNote> {
        match self.conn.notify(n.method, &*n.args) {
            Ok(()) => {
                let _ = n.done.send(Ok(()));
                Ok(())
            }
            Err(StartError::Backpressure) => {
                if self.never_fits() {
                    let len = n.args.encoded_len();
                    let _ = n.done.send(Err(CallError::TooLarge {
                        len,
                        max: self.tx_capacity,
                    }));
                    Ok(())
                } else {
                    Err(n)
                }
            }
            Err(e) => {
                let _ = n.done.send(Err(self.start_error(e)));
                Ok(())
            }
        }
    }

    /// After `Backpressure`: an empty send buffer on an open connection
    /// means the frame can never fit.
    fn never_fits(&self) -> bool {
        self.conn.pending_send() == 0 && self.conn.is_open()
    }

    pub(super) fn start_error(&self, e: StartError) -> CallError {
        match e {
            StartError::TooLarge { len, max } => CallError::TooLarge { len, max },
            StartError::Closed => {
                CallError::Disconnected(self.conn.close_reason().unwrap_or(CloseReason::Graceful))
            }
            StartError::TooManyMethods => {
                CallError::Internal(ErrorText::new("too many methods called on this connection"))
            }
            _ => CallError::Internal(ErrorText::new("the call could not start")),
        }
    }

    /// Queues a handler's answer, or gives it back on `Backpressure`.
    pub(super) fn try_answer(&mut self, done: Done<S::Reply>) -> Result<(), Done<S::Reply>> {
        let result = match &done.answer {
            Answer::Reply(reply) => self.conn.reply(done.call, reply),
            Answer::Error(code, message) => self.conn.reply_error(done.call, *code, message),
        };
        match result {
            Err(ReplyError::Backpressure) if self.never_fits() => {
                self.chunk_answer(done.call, done.answer);
                Ok(())
            }
            Err(ReplyError::Backpressure) => Err(done),
            // Too large for one frame: it goes in chunks.
            Err(ReplyError::TooLarge { .. }) => {
                self.chunk_answer(done.call, done.answer);
                Ok(())
            }
            // Sent, or the call was cancelled meanwhile.
            _ => Ok(()),
        }
    }

    pub(super) fn retry_blocked(&mut self, now: proto::Instant) {
        while let Some(done) = self.replies.pop_front() {
            if let Err(done) = self.try_answer(done) {
                self.replies.push_front(done);
                break;
            }
        }
        while let Some(note) = self.notes.pop_front() {
            if let Err(note) = self.try_notify(note) {
                self.notes.push_front(note);
                break;
            }
        }
        while let Some(call) = self.queue.pop_front() {
            if let Err(call) = self.try_start(call, now) {
                self.queue.push_front(call);
                break;
            }
        }
    }
}
