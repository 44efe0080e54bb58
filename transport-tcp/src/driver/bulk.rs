//! Large messages: arguments and results too large for one frame travel as
//! chunks. Sending never copies the payload into the send buffer: each
//! chunk's header goes there and its payload is written from the encoded
//! message in place (one vectored write: header, payload, the frames queued
//! after it). Receiving reads chunk payloads straight from the socket into
//! the reassembly buffer, allocated once at the message's announced size
//! (bounded by `max_message`).

use zerowire::proto::{self, CallId, Channel, ErrorCode, IncomingCall, SendError};
use zerowire::rpc::{CallError, Message, Service};
use zerowire::Encode;

use super::handlers::Answer;
use super::recycle::Recycler;
use super::Driver;
use crate::outbound::Outbound;
use crate::peer::{Context, Counters, OutCall};
use crate::runtime::{Runtime, Socket as _};

/// An encoded message on its way out in chunks.
pub(super) struct Upload {
    channel: Channel,
    body: Outbound,
    sent: usize,
    /// Bytes sent in its current turn (see [`TURN`]).
    turn: usize,
    /// The last chunk ends the channel's stream (arguments, a final
    /// result); not for a stream item.
    end: bool,
}

/// Bytes an upload sends before the next one takes its turn. Large
/// messages up to this size go one after the other, each finished before
/// the next begins (the receiver has one buffer filling instead of many,
/// and the first call is answered first); larger ones share the
/// connection, no message waiting for more than this much of another.
const TURN: usize = 1024 * 1024;

impl Upload {
    /// `body` on its way out on `channel`; `end`: its last chunk ends the
    /// channel's stream.
    fn new(channel: Channel, body: Message, end: bool) -> Self {
        Self {
            channel,
            body: body.into(),
            sent: 0,
            turn: 0,
            end,
        }
    }

    /// A stream item too large for one frame.
    pub(super) fn item(channel: Channel, body: Message) -> Self {
        Self::new(channel, body, false)
    }
}

/// A message being reassembled.
pub(super) struct Inbound {
    buf: Vec<u8>,
    filled: usize,
    /// For a peer's call: the method, dispatched once the arguments are in.
    method: Option<u16>,
}

impl Inbound {
    /// Bytes received so far.
    pub(super) fn filled(&self) -> usize {
        self.filled
    }
}

impl<R: Runtime, S: Service<Context>> Driver<'_, R, S> {
    /// Opens a call whose request travels as DATA (arguments too large
    /// for one frame, or a request stream): checks the arguments against
    /// the peer's `max_message`, opens the call, encodes the arguments and
    /// records the call. `Ok(None)` if the call failed (its caller is
    /// told), `Err` if it must wait.
    pub(super) fn open_call(
        &mut self,
        mut c: OutCall,
        now: proto::Instant,
    ) -> Result<Option<(CallId, Message)>, OutCall> {
        let Some(len) = c.call.args().map(|a| a.encoded_len() as u64) else {
            return Ok(None);
        };
        if len > self.peer_max_message {
            c.call.complete(Err(CallError::MessageTooLarge {
                len,
                max: self.peer_max_message,
            }));
            return Ok(None);
        }
        let deadline = c.deadline.map(|d| self.clock.at(d));
        match self.conn.open(now, c.method, deadline) {
            Ok(id) => {
                let body = match c.call.take_encoded() {
                    Some(body) => body,
                    // Encodes as the arguments' `Encode` impl says (an
                    // impl that breaks its own length sends an empty body,
                    // which the callee refuses as a bad request).
                    None => c
                        .call
                        .args()
                        .and_then(|a| Message::copied(a).ok())
                        .unwrap_or_default(),
                };
                self.track(c, id);
                Ok(Some((id, body)))
            }
            Err(proto::StartError::Busy | proto::StartError::Backpressure) => Err(c),
            Err(e) => {
                let error = self.start_error(e);
                c.call.complete(Err(error));
                Ok(None)
            }
        }
    }

    /// Starts a call whose arguments do not fit in one frame: opens it and
    /// queues the encoded arguments for chunked sending.
    pub(super) fn start_chunked(&mut self, c: OutCall, now: proto::Instant) -> Result<(), OutCall> {
        if let Some((id, body)) = self.open_call(c, now)? {
            self.uploads
                .push_back(Upload::new(Channel::Out(id), body, true));
        }
        Ok(())
    }

    /// Answers a peer's call with a result too large for one frame. Its
    /// largest byte string is sent from where it lies ([`Message::encode`]).
    pub(super) fn answer_chunked(&mut self, call: IncomingCall, reply: S::Reply) {
        let len = reply.encoded_len() as u64;
        if len > self.peer_max_message {
            let mut text = [0; 48];
            let text = ErrorCode::message_too_large_text(len, self.peer_max_message, &mut text);
            let _ = self
                .conn
                .reply_error(call, ErrorCode::MessageTooLarge, text);
            return;
        }
        let body = Message::encode(reply).unwrap_or_default();
        self.uploads
            .push_back(Upload::new(Channel::In(call), body, true));
    }

    /// Queues the next chunk when the previous one is written: the uploads
    /// take turns of [`TURN`] bytes.
    pub(super) fn pump_uploads(&mut self) {
        let mut tries = self.uploads.len();
        while tries > 0 && !self.conn.bulk_pending() {
            tries -= 1;
            let Some(mut up) = self.uploads.pop_front() else {
                return;
            };
            let len = up.body.len();
            let left = len - up.sent;
            // A chunk never spans two parts of the message.
            let piece = up.body.piece(up.sent, self.conn.send_capacity(up.channel));
            let n = piece.len();
            if n == 0 && left > 0 {
                // No credit yet (keep it), or the call ended (drop it).
                if !self.conn.is_live(up.channel) {
                    continue;
                }
                up.turn = 0;
                self.uploads.push_back(up);
                continue;
            }
            let total = (up.sent == 0).then_some(len as u64);
            let last = up.sent + n == len;
            match self
                .conn
                .send_chunk_spliced(up.channel, total, n, last && up.end)
            {
                Ok(()) => {
                    self.splice = piece;
                    up.sent += n;
                    up.turn += n;
                    if last {
                        if let Some(out) = self.streams_out.get_mut(&up.channel) {
                            // The stream's next message may go.
                            out.busy = false;
                        }
                    } else if up.turn < TURN {
                        self.uploads.push_front(up);
                    } else {
                        up.turn = 0;
                        self.uploads.push_back(up);
                    }
                }
                Err(SendError::Backpressure | SendError::NoCredit) => {
                    self.uploads.push_front(up);
                    return;
                }
                // The call ended (cancelled, answered, closed): drop it.
                Err(_) => {}
            }
        }
    }

    /// The peer opened a call whose arguments come as DATA.
    pub(super) fn on_opened(&mut self, call: IncomingCall, method: u16) {
        self.inbound.insert(
            Channel::In(call),
            Inbound {
                buf: Vec::new(),
                filled: 0,
                method: Some(method),
            },
        );
    }

    /// Stores a piece of a message (a free function: the piece borrows the
    /// connection); returns the whole message once complete. The caller
    /// reports the piece's bytes as consumed.
    pub(super) fn store_piece(
        inbound: &mut std::collections::HashMap<Channel, Inbound>,
        recycler: &mut Recycler,
        channel: Channel,
        data: proto::Data<'_>,
    ) -> Option<Vec<u8>> {
        let entry = inbound.entry(channel).or_insert_with(|| Inbound {
            buf: Vec::new(),
            filled: 0,
            method: None,
        });
        if data.first {
            // The core checked `total` against this side's `max_message`.
            // A recycled buffer holds an earlier message's bytes: only the
            // `filled` part is ever handed out.
            let total = usize::try_from(data.total.unwrap_or(0)).unwrap_or(0);
            entry.buf = recycler.take(total);
            entry.filled = 0;
        }
        let end = entry.filled + data.bytes.len();
        if let Some(dst) = entry.buf.get_mut(entry.filled..end) {
            dst.copy_from_slice(data.bytes);
            entry.filled = end;
        }
        if !data.end_of_message {
            return None;
        }
        let mut buf = std::mem::take(&mut entry.buf);
        buf.truncate(std::mem::take(&mut entry.filled));
        Some(buf)
    }

    /// The method of a peer's call opened with DATA (taken once).
    pub(super) fn take_method(&mut self, channel: Channel) -> Option<u16> {
        let entry = self.inbound.remove(&channel)?;
        entry.method
    }

    /// Reads a chunk payload straight from the socket into its reassembly
    /// buffer; `Some(true)` if it read, `None` when there is no such
    /// payload pending.
    pub(super) fn poll_direct(
        &mut self,
        cx: &mut std::task::Context<'_>,
        now: proto::Instant,
    ) -> Option<bool> {
        let (channel, n) = self.conn.direct_read()?;
        let entry = self.inbound.get_mut(&channel)?;
        let end = entry.filled + n.min(entry.buf.len() - entry.filled);
        let dst = entry.buf.get_mut(entry.filled..end)?;
        if dst.is_empty() {
            return None;
        }
        match self.socket.poll_read(cx, dst) {
            std::task::Poll::Pending => Some(false),
            std::task::Poll::Ready(Ok(0)) => {
                self.conn.handle_eof();
                Some(true)
            }
            std::task::Poll::Ready(Ok(k)) => {
                entry.filled += k;
                let c = &self.shared.counters;
                Counters::add(&c.reads, 1);
                Counters::add(&c.bytes_read, k as u64);
                self.conn.handle_direct(now, k);
                self.credit(channel, k);
                Some(true)
            }
            std::task::Poll::Ready(Err(_)) => {
                self.io_failed = true;
                self.conn.handle_eof();
                Some(true)
            }
        }
    }

    /// Forgets the chunked state of a call that ended.
    pub(super) fn forget(&mut self, channel: Channel) {
        self.inbound.remove(&channel);
    }

    /// A chunked reply completed: decode it for the caller.
    pub(super) fn complete_chunked(&mut self, id: CallId, body: Vec<u8>) {
        if let Some(p) = self.calls.remove(id) {
            // A plain call's result goes back to the recycler once the
            // caller has dropped it.
            let body = if p.call.decodes_shared() {
                self.recycler.share(body)
            } else {
                bytes::Bytes::from(body)
            };
            p.call.complete_owned(body);
        }
    }

    /// A handler's answer that does not fit in one frame.
    pub(super) fn chunk_answer(&mut self, call: IncomingCall, answer: Answer<S::Reply>) {
        match answer {
            Answer::Reply(reply) => self.answer_chunked(call, reply),
            Answer::Error(code, message) => {
                let _ = self.conn.reply_error(call, code, &message);
            }
        }
    }
}
