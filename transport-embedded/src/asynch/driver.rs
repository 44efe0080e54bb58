//! The async driver, [`AsyncEndpoint::run`]: a reader, a writer and a
//! timer loop, joined in one future, each stepping the shared
//! [`Endpoint`] through [`Endpoint::poll_streams`] over a [`Bridge`].

use core::cell::{Cell, RefCell};
use core::convert::Infallible;
use core::future::{pending, poll_fn, Future};
use core::pin::pin;
use core::task::Poll;

use embedded_io_async::{Error as _, ErrorKind, Read, Write};
use zerowire::proto::{CloseReason, Instant};
use zerowire::rpc::LocalService;

use super::{AsyncEndpoint, Clock, CLOSE_LINGER};
use crate::endpoint::{Endpoint, SessionEvent};
use crate::socket::{ByteSocket, Eof, SocketState};
use crate::stream::{NoStreams, StreamHandler};

/// Passes over the three loops in one poll of the driver while they make
/// progress; then it yields to the executor (and wakes itself).
const PASSES: usize = 4;

impl<
        C: Clock,
        const RX: usize,
        const TX: usize,
        const CALLS: usize,
        const METHODS: usize,
        const REPLY: usize,
        const WAITERS: usize,
    > AsyncEndpoint<'_, C, RX, TX, CALLS, METHODS, REPLY, WAITERS>
{
    /// Serves one session over `reader` and `writer` and returns why it
    /// ended: the async form of a poll loop calling [`Endpoint::poll`].
    ///
    /// The session starts at once (HELLO); `service`'s handlers run for
    /// the peer's calls and notifications (plain `fn` handlers, as with
    /// `poll`; streaming methods are refused: use
    /// [`run_streams`](Self::run_streams)); this side's [`Client`]s'
    /// calls are written as they are made and completed as their replies
    /// arrive. It returns when the session ends: the peer or a
    /// [`Client::close`] closed it, the stream ended or failed
    /// ([`CloseReason::TransportClosed`], see
    /// [`last_io_error`](Self::last_io_error)), a timeout. Every call still
    /// waiting then fails with `Disconnected`. Call it again with the next
    /// connection (after `accept` again, or at once for a serial line, whose
    /// peer must restart its session too).
    ///
    /// `reader` and `writer` are the two directions of one byte stream,
    /// used at once (embassy-net: `TcpSocket::split()`; pass `&mut` halves
    /// to keep them). `buffer` is the driver's staging memory: its first
    /// half receives reads, its second half holds bytes on their way to
    /// `writer`. A few hundred bytes each way suit a UART; up to the
    /// endpoint's `RX`/`TX` for throughput over TCP. Reads are never
    /// cancelled while the session runs (`Read` need not be cancel-safe); a
    /// flush is dropped when more bytes come to write, and a write or read
    /// in progress when the session ends is dropped.
    ///
    /// After the session ended, the driver goes on writing what it had
    /// staged (a final GOAWAY) for at most [`CLOSE_LINGER`].
    ///
    /// Dropping the future ends the session as a broken connection would
    /// (every waiting call fails with `Disconnected(TransportClosed)`);
    /// the next `run` starts a new one.
    ///
    /// [`Client`]: super::Client
    /// [`Client::close`]: super::Client::close
    ///
    /// # Panics
    /// If another driver of this endpoint is running. A `buffer` shorter
    /// than 2 bytes ends the session at once (`TransportClosed`,
    /// `last_io_error` = `InvalidInput`).
    pub async fn run<Rd, Wr, Svc>(
        &self,
        reader: Rd,
        writer: Wr,
        buffer: &mut [u8],
        service: &Svc,
    ) -> CloseReason
    where
        Rd: Read,
        Wr: Write,
        Svc: LocalService<()>,
    {
        self.run_streams(reader, writer, buffer, service, &mut NoStreams)
            .await
    }

    /// [`run`](Self::run) with streams, as [`Endpoint::poll_streams`]: the
    /// peer's calls of streaming methods go to `streams`
    /// ([`StreamHandler::opened`]), the pieces of incoming streams to
    /// [`StreamHandler::data`], and [`StreamHandler::produce`] queues
    /// what can be sent each time the driver steps the endpoint (before it
    /// writes, after input, when a client woke it). Between steps,
    /// [`Client::stream_tx`](super::Client::stream_tx) sends too, and
    /// [`Client::open`](super::Client::open) calls the peer's streaming
    /// methods.
    ///
    /// # Panics
    /// As [`run`](Self::run).
    pub async fn run_streams<Rd, Wr, Svc, H>(
        &self,
        mut reader: Rd,
        mut writer: Wr,
        buffer: &mut [u8],
        service: &Svc,
        streams: &mut H,
    ) -> CloseReason
    where
        Rd: Read,
        Wr: Write,
        Svc: LocalService<()>,
        H: StreamHandler,
    {
        assert!(
            !self.running.replace(true),
            "AsyncEndpoint::run: another driver of this endpoint is running"
        );
        let half = buffer.len() / 2;
        let (input, output) = buffer.split_at_mut(half);
        let d = Driver {
            shared: self,
            service,
            handler: RefCell::new(streams),
            stage: RefCell::new(Stage {
                buf: output,
                head: 0,
                tail: 0,
            }),
            eof: Cell::new(false),
            broken: Cell::new(false),
            ended: Cell::new(None),
            progress: Cell::new(false),
        };
        d.begin();
        if input.is_empty() {
            self.io_error.set(Some(ErrorKind::InvalidInput));
            return CloseReason::TransportClosed;
        }
        let mut rd = pin!(d.reader(&mut reader, input));
        let mut wr = pin!(d.writer(&mut writer));
        let mut tm = pin!(d.timer());
        let reason = poll_fn(|cx| {
            self.driver.register(cx.waker());
            for _ in 0..PASSES {
                d.progress.set(false);
                let _ = rd.as_mut().poll(cx);
                let _ = wr.as_mut().poll(cx);
                let _ = tm.as_mut().poll(cx);
                if let Some(reason) = d.ended.get() {
                    return Poll::Ready(reason);
                }
                if !d.progress.get() {
                    return Poll::Pending;
                }
            }
            // Still busy: let other tasks run first.
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await;
        // The session is over; write what was staged for it, for a while.
        let until = self.clock.now().saturating_add(CLOSE_LINGER);
        let mut linger = pin!(self.clock.sleep_until(until));
        poll_fn(|cx| {
            if !d.drained() {
                let _ = wr.as_mut().poll(cx);
            }
            if d.drained() || linger.as_mut().poll(cx).is_ready() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        reason
    }
}

/// One run of the driver: what its three loops share.
struct Driver<
    'a,
    's,
    'b,
    C,
    Svc,
    H,
    const RX: usize,
    const TX: usize,
    const CALLS: usize,
    const METHODS: usize,
    const REPLY: usize,
    const WAITERS: usize,
> where
    H: StreamHandler,
{
    shared: &'a AsyncEndpoint<'s, C, RX, TX, CALLS, METHODS, REPLY, WAITERS>,
    service: &'a Svc,
    handler: RefCell<&'a mut H>,
    /// Bytes on their way to the writer.
    stage: RefCell<Stage<'b>>,
    /// The reader reached the end of the stream (or failed).
    eof: Cell<bool>,
    /// The writer failed.
    broken: Cell<bool>,
    /// The session ended.
    ended: Cell<Option<CloseReason>>,
    /// A step did something in this pass.
    progress: Cell<bool>,
}

impl<
        C: Clock,
        Svc: LocalService<()>,
        H: StreamHandler,
        const RX: usize,
        const TX: usize,
        const CALLS: usize,
        const METHODS: usize,
        const REPLY: usize,
        const WAITERS: usize,
    > Driver<'_, '_, '_, C, Svc, H, RX, TX, CALLS, METHODS, REPLY, WAITERS>
{
    /// Ends a session that a dropped driver left behind.
    fn begin(&self) {
        self.shared.io_error.set(None);
        self.abandon();
    }

    /// Runs the endpoint once (as one [`Endpoint::poll_streams`]) with
    /// `input` to read, and the stage to write into unless the writer is
    /// writing from it; returns how many input bytes it took.
    fn step(&self, input: &[u8]) -> usize {
        if self.ended.get().is_some() {
            return 0;
        }
        let shared = self.shared;
        let (Ok(mut ep), Ok(mut handler)) =
            (shared.ep.try_borrow_mut(), self.handler.try_borrow_mut())
        else {
            return 0;
        };
        let now = shared.clock.now();
        shared.apply_cancels(&mut ep, now);
        let mut stage = self.stage.try_borrow_mut().ok();
        let before = pending_send(&ep);
        let mut socket = Bridge {
            input,
            taken: 0,
            eof: self.eof.get(),
            broken: self.broken.get(),
            out: stage.as_deref_mut(),
            staged: 0,
        };
        let event = ep.poll_streams(now, &mut socket, self.service, &mut **handler);
        let (taken, staged) = (socket.taken, socket.staged);
        if let Some(SessionEvent::Closed(reason)) = event {
            self.ended.set(Some(reason));
        }
        if taken > 0 || staged > 0 || event.is_some() || pending_send(&ep) != before {
            self.progress.set(true);
            shared.wake_clients(&ep);
        }
        taken
    }

    fn poll_at(&self) -> Option<Instant> {
        self.shared.ep.try_borrow().ok().and_then(|ep| ep.poll_at())
    }

    fn has_staged(&self) -> bool {
        self.stage.try_borrow().is_ok_and(|s| !s.is_empty())
    }

    /// Whether the stage is written out (or cannot be).
    fn drained(&self) -> bool {
        self.broken.get() || self.stage.try_borrow().is_ok_and(|s| s.is_empty())
    }

    /// Whether there are bytes to write, after a step if there were none.
    fn fill(&self) -> bool {
        if !self.has_staged() {
            self.step(&[]);
        }
        self.has_staged()
    }

    fn io_failed(&self, kind: ErrorKind) {
        if self.shared.io_error.get().is_none() {
            self.shared.io_error.set(Some(kind));
        }
    }

    /// Reads and offers the bytes to the endpoint until the stream ends.
    async fn reader<Rd: Read>(&self, reader: &mut Rd, buf: &mut [u8]) -> Infallible {
        loop {
            let n = match reader.read(buf).await {
                Ok(n) if n > 0 => n.min(buf.len()),
                Ok(_) => 0,
                Err(e) => {
                    self.io_failed(e.kind());
                    0
                }
            };
            if n == 0 {
                // End of stream (or an error): the next step ends the
                // session once the connection has read everything before.
                self.eof.set(true);
                self.progress.set(true);
                self.step(&[]);
                return pending().await;
            }
            let mut done = 0;
            loop {
                let rest = buf.get(done..n).unwrap_or_default();
                done = done.saturating_add(self.step(rest));
                if done >= n {
                    break;
                }
                // The receive buffer is full: after the next step that
                // made room (events handled, stream data consumed).
                yield_once().await;
            }
        }
    }

    /// Writes what the endpoint staged; flushes when there is no more.
    // The stage is borrowed across the write: the steps that run meanwhile
    // find it borrowed (`try_borrow_mut`) and leave their bytes in the
    // connection's send buffer until the write is done.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn writer<Wr: Write>(&self, writer: &mut Wr) -> Infallible {
        let mut flushed = true;
        loop {
            if !self.fill() {
                if flushed {
                    poll_fn(|_| {
                        if self.fill() {
                            Poll::Ready(())
                        } else {
                            Poll::Pending
                        }
                    })
                    .await;
                } else {
                    // Nothing more to write: flush, unless more comes first.
                    let mut flush = pin!(writer.flush());
                    let flushed_now = poll_fn(|cx| match flush.as_mut().poll(cx) {
                        Poll::Ready(r) => Poll::Ready(Some(r)),
                        Poll::Pending if self.fill() => Poll::Ready(None),
                        Poll::Pending => Poll::Pending,
                    })
                    .await;
                    match flushed_now {
                        Some(Ok(())) => {
                            flushed = true;
                            continue;
                        }
                        Some(Err(e)) => return self.write_failed(e.kind()).await,
                        None => {}
                    }
                }
            }
            let written = match self.stage.try_borrow_mut() {
                Ok(stage) => writer.write(stage.pending()).await,
                Err(_) => {
                    yield_once().await;
                    continue;
                }
            };
            match written {
                Ok(n) if n > 0 => {
                    if let Ok(mut stage) = self.stage.try_borrow_mut() {
                        stage.advance(n);
                    }
                    flushed = false;
                    self.progress.set(true);
                }
                Ok(_) => return self.write_failed(ErrorKind::WriteZero).await,
                Err(e) => return self.write_failed(e.kind()).await,
            }
        }
    }

    async fn write_failed(&self, kind: ErrorKind) -> Infallible {
        self.io_failed(kind);
        self.broken.set(true);
        self.progress.set(true);
        self.step(&[]);
        pending().await
    }

    /// Steps the endpoint when its next timeout comes.
    async fn timer(&self) -> Infallible {
        loop {
            let Some(at) = self.poll_at() else {
                yield_once().await;
                continue;
            };
            let mut sleep = pin!(self.shared.clock.sleep_until(at));
            let fired = poll_fn(|cx| {
                if sleep.as_mut().poll(cx).is_ready() {
                    Poll::Ready(true)
                } else if self.poll_at() != Some(at) {
                    Poll::Ready(false)
                } else {
                    Poll::Pending
                }
            })
            .await;
            if fired {
                self.step(&[]);
            }
        }
    }
}

impl<
        C,
        Svc,
        H: StreamHandler,
        const RX: usize,
        const TX: usize,
        const CALLS: usize,
        const METHODS: usize,
        const REPLY: usize,
        const WAITERS: usize,
    > Drop for Driver<'_, '_, '_, C, Svc, H, RX, TX, CALLS, METHODS, REPLY, WAITERS>
{
    fn drop(&mut self) {
        // A driver dropped in the middle of its session ends it.
        self.abandon();
        self.shared.running.set(false);
        self.shared.wake_everyone();
    }
}

impl<
        C,
        Svc,
        H: StreamHandler,
        const RX: usize,
        const TX: usize,
        const CALLS: usize,
        const METHODS: usize,
        const REPLY: usize,
        const WAITERS: usize,
    > Driver<'_, '_, '_, C, Svc, H, RX, TX, CALLS, METHODS, REPLY, WAITERS>
{
    /// Ends the endpoint's session, if it has one, as a broken connection:
    /// its calls fail, the stream handler hears `closed`.
    fn abandon(&self) {
        let shared = self.shared;
        let abandoned = shared
            .ep
            .try_borrow_mut()
            .is_ok_and(|mut ep| ep.abandon(CloseReason::TransportClosed));
        if abandoned {
            if let (true, Ok(mut h)) = (H::STREAMS, self.handler.try_borrow_mut()) {
                h.closed(CloseReason::TransportClosed);
            }
            shared.wake_everyone();
        }
    }
}

fn pending_send<
    const RX: usize,
    const TX: usize,
    const CALLS: usize,
    const METHODS: usize,
    const REPLY: usize,
>(
    ep: &Endpoint<'_, RX, TX, CALLS, METHODS, REPLY>,
) -> usize {
    ep.connection().map_or(0, |c| c.pending_send())
}

/// A future that is pending once: the loop awaiting it runs again at the
/// driver's next pass (any wake of the driver).
fn yield_once() -> impl Future<Output = ()> {
    let mut yielded = false;
    poll_fn(move |_| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            Poll::Pending
        }
    })
}

/// The driver's staging memory for output: bytes taken from the
/// connection's send buffer, not yet written.
struct Stage<'b> {
    buf: &'b mut [u8],
    head: usize,
    tail: usize,
}

impl Stage<'_> {
    fn is_empty(&self) -> bool {
        self.head >= self.tail
    }

    fn pending(&self) -> &[u8] {
        self.buf.get(self.head..self.tail).unwrap_or_default()
    }

    fn advance(&mut self, n: usize) {
        self.head = self.head.saturating_add(n).min(self.tail);
    }

    /// Copies in what fits; returns how many bytes.
    fn push(&mut self, bytes: &[u8]) -> usize {
        if self.is_empty() {
            self.head = 0;
            self.tail = 0;
        } else if self.head > 0 && self.buf.len().saturating_sub(self.tail) < bytes.len() {
            self.buf.copy_within(self.head..self.tail, 0);
            self.tail = self.tail.saturating_sub(self.head);
            self.head = 0;
        }
        let room = self.buf.get_mut(self.tail..).unwrap_or_default();
        let n = room.len().min(bytes.len());
        if let (Some(dst), Some(src)) = (room.get_mut(..n), bytes.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.tail = self.tail.saturating_add(n);
        n
    }
}

/// The [`ByteSocket`] a step gives the endpoint: the bytes just read as
/// input, the stage (when the writer is not writing from it) as output.
struct Bridge<'x, 'b> {
    input: &'x [u8],
    taken: usize,
    eof: bool,
    broken: bool,
    out: Option<&'x mut Stage<'b>>,
    staged: usize,
}

impl ByteSocket for Bridge<'_, '_> {
    fn state(&self) -> SocketState {
        if self.broken {
            SocketState::Idle
        } else if self.eof {
            SocketState::Closing
        } else {
            SocketState::Open
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, Eof> {
        let rest = self.input.get(self.taken..).unwrap_or_default();
        if rest.is_empty() {
            return if self.eof || self.broken {
                Err(Eof)
            } else {
                Ok(0)
            };
        }
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.taken = self.taken.saturating_add(n);
        Ok(n)
    }

    fn send(&mut self, buf: &[u8]) -> Result<usize, Eof> {
        if self.broken {
            return Err(Eof);
        }
        let n = self.out.as_mut().map_or(0, |s| s.push(buf));
        self.staged = self.staged.saturating_add(n);
        Ok(n)
    }

    fn close(&mut self) {
        // The session ended; the driver returns and the application closes
        // its socket.
    }
}
