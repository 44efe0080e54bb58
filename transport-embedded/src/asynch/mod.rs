//! The async form of the endpoint (feature `embedded-io-async`), for
//! embassy and any other executor: `no_std`, no heap, no `unsafe`.
//!
//! It is the same [`Endpoint`] (and so the same protocol state machine,
//! dispatcher, result slots and streams), driven by a future instead of a
//! poll loop:
//!
//! - [`AsyncEndpoint`] holds the [`Endpoint`] and the [`Clock`], shared by
//!   reference between the driver and any number of clients;
//! - [`AsyncEndpoint::run`] (or [`run_streams`](AsyncEndpoint::run_streams))
//!   is the driver: one future that serves one session over an
//!   `embedded_io_async` reader and writer (the two halves of embassy-net's
//!   `TcpSocket::split`, of a UART's `split`, ...) and returns when the
//!   session ends;
//! - [`Client`] (from [`AsyncEndpoint::client`], `Copy`) calls the peer:
//!   `client.call::<A, R>(&desc, &args).await` gives the typed result;
//!   dropping the future cancels the call at the peer.
//!
//! # How the driver and the clients share the endpoint
//!
//! Everything lives in the [`AsyncEndpoint`] value, behind `Cell`s and one
//! `RefCell` (the endpoint): it is `!Sync`, so the driver and its clients
//! run on **one executor thread** (embassy's thread-mode executor, or one
//! task joining them). Nobody holds the endpoint across an `.await`: a
//! client borrows it only inside a synchronous step (queue a call, take a
//! result, cancel), the driver only while it hands it bytes, a timeout or
//! the room to write. So a borrow never fails between tasks; one that
//! fails anyway (a client used from inside a handler, which runs while the
//! driver holds the endpoint) is treated as "busy": calls wait, and
//! [`Client::notify`] from a handler waits too (do not await it there).
//!
//! Wakers connect the two sides, with no allocation:
//!
//! - the driver's waker (one: one driver at a time) is woken by every
//!   client operation that queued something (a call, a notification, a
//!   cancel, [`Client::stream_tx`]), so the driver writes it;
//! - each result slot (`CALLS` of them) holds the waker of the call
//!   waiting on it, woken when its reply or failure is stored;
//! - `WAITERS` more wakers (default 4) are for tasks waiting for room (a
//!   call when every slot is taken or the send buffer is above its
//!   high-water mark), for a session ([`Client::connected`]) or for any
//!   progress ([`Client::changed`]); all are woken whenever the driver
//!   made progress. With more such tasks than `WAITERS`, the set is
//!   emptied by waking everyone, which stays correct but costs polls.
//!
//! # The driver
//!
//! Inside [`AsyncEndpoint::run`], three loops are joined (all in the one
//! future, polled together):
//!
//! - the **reader** reads into the first half of the `buffer` given to
//!   `run` and offers the bytes to the endpoint (the bytes that do not fit
//!   the connection's receive buffer wait there): it never cancels a
//!   read, because `embedded_io_async::Read` need not be cancel-safe;
//! - the **writer** writes what the endpoint staged into the second half
//!   of `buffer`, then stages more (serving handlers and producing
//!   streams as [`Endpoint::poll_streams`] does), and flushes when there
//!   is nothing more to write;
//! - the **timer** sleeps until [`Endpoint::poll_at`] with the
//!   [`Clock`] (keepalive, deadlines, handshake timeout).
//!
//! Each of them runs the endpoint through the same
//! [`Endpoint::poll_streams`] as the poll loop, over an internal
//! [`ByteSocket`](crate::ByteSocket) whose input is the bytes just read and
//! whose output is the staging half: there is no second protocol
//! implementation.
//!
//! The staging halves cost two copies per byte (socket to staging to the
//! connection's receive buffer; connection's send buffer to staging to the
//! socket), the price of reading and writing at once without `unsafe`:
//! neither the reader's nor the writer's buffer can be borrowed from the
//! shared endpoint across an `.await`.

mod client;
mod driver;

pub use client::{Changed, Client, Reply};

use core::cell::{Cell, RefCell};
use core::future::Future;
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use embedded_io_async::ErrorKind;
use zerowire::proto::{Instant, MethodDesc};
use zerowire::rpc::CallError;
use zerowire::Encode;

use crate::client::Pending;
use crate::endpoint::{Endpoint, TakeFn, Taken};
use crate::stream::{Stream, StreamTx};

/// Time for the async driver: now, and a sleep until an instant.
///
/// Take it from the executor's timer; a test gives a virtual clock. With
/// `embassy-time`:
///
/// ```ignore
/// struct EmbassyClock;
///
/// impl zerowire_embedded::asynch::Clock for EmbassyClock {
///     fn now(&self) -> zerowire::proto::Instant {
///         zerowire::proto::Instant::from_micros(embassy_time::Instant::now().as_micros())
///     }
///     fn sleep_until(&self, at: zerowire::proto::Instant) -> impl core::future::Future<Output = ()> {
///         embassy_time::Timer::at(embassy_time::Instant::from_micros(at.as_micros()))
///     }
/// }
/// ```
pub trait Clock {
    /// The current time (microseconds since any fixed epoch).
    fn now(&self) -> Instant;

    /// Completes once [`now`](Self::now) has reached `at` (at once if it
    /// has). The driver drops it when the next timeout changes, so it must
    /// be cancel-safe (timers are).
    fn sleep_until(&self, at: Instant) -> impl Future<Output = ()>;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Instant {
        (**self).now()
    }

    fn sleep_until(&self, at: Instant) -> impl Future<Output = ()> {
        (**self).sleep_until(at)
    }
}

/// How long the driver goes on writing what it had staged after its
/// session ended (a final GOAWAY), at most.
pub const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// An [`Endpoint`] shared by one async driver ([`run`](Self::run)) and any
/// number of [`Client`]s, on one executor thread.
///
/// Its const generics are the [`Endpoint`]'s, plus `WAITERS` (default 4):
/// how many tasks can wait for room, a session or progress at once
/// without being woken needlessly (see the [module docs](self)). Its size
/// is the endpoint's plus `CALLS + WAITERS + 1` wakers and `CALLS` words.
/// Put it in a `static` (e.g. embassy's `StaticCell`) to share it between
/// tasks, or in a local of a task that joins the driver with its users.
///
/// ```ignore
/// static EP: StaticCell<AsyncEndpoint<'static, EmbassyClock, 1024, 1024, 4, 8, 64>> =
///     StaticCell::new();
/// let ep = EP.init(AsyncEndpoint::new(
///     Endpoint::new(Config::default(), Role::Acceptor, SensorService::<Node>::methods()),
///     EmbassyClock,
/// ));
/// spawner.spawn(app(ep.client()))?;        // fn app(hub: Client<'static>)
/// loop {
///     socket.accept(7000).await?;          // embassy-net TcpSocket
///     let (rx, tx) = socket.split();
///     let reason = ep.run(rx, tx, &mut io_buf, &service).await;
///     socket.close();
/// }
/// ```
pub struct AsyncEndpoint<
    's,
    C,
    const RX: usize,
    const TX: usize,
    const CALLS: usize,
    const METHODS: usize,
    const REPLY: usize,
    const WAITERS: usize = 4,
> {
    ep: RefCell<Endpoint<'s, RX, TX, CALLS, METHODS, REPLY>>,
    clock: C,
    /// The running driver's waker.
    driver: WakerCell,
    /// The waker of the call waiting on each result slot.
    results: [WakerCell; CALLS],
    /// Cancels that could not borrow the endpoint (a reply future dropped
    /// inside a handler): the call's generation, by slot.
    cancels: [Cell<Option<u32>>; CALLS],
    waiters: WakerSet<WAITERS>,
    running: Cell<bool>,
    io_error: Cell<Option<ErrorKind>>,
}

impl<
        C,
        const RX: usize,
        const TX: usize,
        const CALLS: usize,
        const METHODS: usize,
        const REPLY: usize,
        const WAITERS: usize,
    > core::fmt::Debug for AsyncEndpoint<'_, C, RX, TX, CALLS, METHODS, REPLY, WAITERS>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AsyncEndpoint")
            .field("running", &self.running.get())
            .field("io_error", &self.io_error.get())
            .finish_non_exhaustive()
    }
}

impl<
        's,
        C: Clock,
        const RX: usize,
        const TX: usize,
        const CALLS: usize,
        const METHODS: usize,
        const REPLY: usize,
        const WAITERS: usize,
    > AsyncEndpoint<'s, C, RX, TX, CALLS, METHODS, REPLY, WAITERS>
{
    /// Shares `endpoint` (usually new; [`Endpoint::new`] gives the
    /// configuration, the role and the served methods), with `clock` for
    /// the driver's timers and the clients' deadlines.
    pub fn new(endpoint: Endpoint<'s, RX, TX, CALLS, METHODS, REPLY>, clock: C) -> Self {
        Self {
            ep: RefCell::new(endpoint),
            clock,
            driver: WakerCell::new(),
            results: [const { WakerCell::new() }; CALLS],
            cancels: [const { Cell::new(None) }; CALLS],
            waiters: WakerSet::new(),
            running: Cell::new(false),
            io_error: Cell::new(None),
        }
    }

    /// A handle for calling the peer; `Copy`, as many as wanted.
    pub fn client(&self) -> Client<'_> {
        Client::new(self)
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Reads the endpoint (sessions, the last close reason, calls in
    /// flight, the connection). `None` if it is borrowed right now (from
    /// inside a handler).
    pub fn inspect<T>(
        &self,
        f: impl FnOnce(&Endpoint<'s, RX, TX, CALLS, METHODS, REPLY>) -> T,
    ) -> Option<T> {
        self.ep.try_borrow().ok().map(|ep| f(&ep))
    }

    /// Whether a driver is running.
    pub fn is_running(&self) -> bool {
        self.running.get()
    }

    /// The reader's or writer's error that ended the last session, if an
    /// I/O error ended it (`TransportClosed`). A read of 0 bytes (end of
    /// stream) is no error.
    pub fn last_io_error(&self) -> Option<ErrorKind> {
        self.io_error.get()
    }
}

impl<
        's,
        C,
        const RX: usize,
        const TX: usize,
        const CALLS: usize,
        const METHODS: usize,
        const REPLY: usize,
        const WAITERS: usize,
    > AsyncEndpoint<'s, C, RX, TX, CALLS, METHODS, REPLY, WAITERS>
{
    /// Wakes the driver, so that it writes what was queued.
    fn wake_driver(&self) {
        self.driver.wake();
    }

    /// Wakes the calls whose results arrived, and every waiter.
    fn wake_clients(&self, ep: &Endpoint<'s, RX, TX, CALLS, METHODS, REPLY>) {
        for (i, w) in self.results.iter().enumerate() {
            if ep.slot_ready(i) {
                w.wake();
            }
        }
        self.waiters.wake_all();
    }

    /// Wakes every call and waiter (the session is gone).
    fn wake_everyone(&self) {
        for w in &self.results {
            w.wake();
        }
        self.waiters.wake_all();
    }

    /// Runs the cancels that could not borrow the endpoint.
    fn apply_cancels(&self, ep: &mut Endpoint<'s, RX, TX, CALLS, METHODS, REPLY>, now: Instant) {
        for (i, c) in self.cancels.iter().enumerate() {
            if let Some(generation) = c.take() {
                let slot = u16::try_from(i).unwrap_or(u16::MAX);
                ep.cancel(now, Pending::<()>::new(slot, generation));
            }
        }
    }
}

/// A call in flight: its result slot and the slot's generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    slot: u16,
    generation: u32,
}

impl Token {
    fn pending(self) -> Pending<()> {
        Pending::new(self.slot, self.generation)
    }
}

/// What a [`Client`] needs from its [`AsyncEndpoint`], without its type
/// parameters (so a client is `Client<'a>`, which an embassy task can
/// take).
pub(crate) trait Core {
    /// Starts a call (`open`: a streaming call, with its [`Stream`]).
    fn start(
        &self,
        method: &'static MethodDesc,
        args: &dyn Encode,
        timeout: Option<Duration>,
        open: bool,
    ) -> Result<(Token, Option<Stream>), CallError>;
    /// Gives the call's raw result to `take` if it arrived; else registers
    /// `cx`'s waker for it.
    fn poll_result(&self, call: Token, cx: &mut Context<'_>, take: &mut TakeFn<'_>) -> Poll<()>;
    /// Cancels a call (the future was dropped).
    fn cancel(&self, call: Token);
    /// Sends a notification.
    fn notify(&self, method: &'static MethodDesc, args: &dyn Encode) -> Result<(), CallError>;
    /// Registers a waiter, woken at the driver's next progress.
    fn wait(&self, waker: &Waker);
    /// `(open, in a session)`.
    fn state(&self) -> (bool, bool);
    /// Runs `f` with the session's [`StreamTx`]; whether there was one.
    fn stream_tx(&self, f: &mut dyn FnMut(&mut StreamTx<'_>)) -> bool;
    /// Starts a graceful close.
    fn close(&self);
}

impl<
        C: Clock,
        const RX: usize,
        const TX: usize,
        const CALLS: usize,
        const METHODS: usize,
        const REPLY: usize,
        const WAITERS: usize,
    > Core for AsyncEndpoint<'_, C, RX, TX, CALLS, METHODS, REPLY, WAITERS>
{
    fn start(
        &self,
        method: &'static MethodDesc,
        args: &dyn Encode,
        timeout: Option<Duration>,
        open: bool,
    ) -> Result<(Token, Option<Stream>), CallError> {
        let Ok(mut ep) = self.ep.try_borrow_mut() else {
            // Inside a handler: the driver holds the endpoint. Retried.
            return Err(CallError::Overloaded);
        };
        let now = self.clock.now();
        let (stream, pending) = if open {
            let (s, p) = ep.open::<dyn Encode, ()>(now, method, args, timeout)?;
            (Some(s), p)
        } else {
            (None, ep.call::<dyn Encode, ()>(now, method, args, timeout)?)
        };
        let token = Token {
            slot: pending.slot,
            generation: pending.generation,
        };
        drop(ep);
        self.wake_driver();
        Ok((token, stream))
    }

    fn poll_result(&self, call: Token, cx: &mut Context<'_>, take: &mut TakeFn<'_>) -> Poll<()> {
        let waker = self.results.get(usize::from(call.slot));
        let Ok(mut ep) = self.ep.try_borrow_mut() else {
            // Polled from inside a handler: try again soon.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        match ep.take_raw(&call.pending(), take) {
            Taken::Done => {
                drop(ep);
                // A slot is free: a waiting call can start.
                self.waiters.wake_all();
                Poll::Ready(())
            }
            Taken::Waiting => {
                if let Some(w) = waker {
                    w.register(cx.waker());
                }
                Poll::Pending
            }
            Taken::Gone => {
                take(Err(CallError::Internal(zerowire::rpc::ErrorText::new(
                    "the call's result slot was freed",
                ))));
                Poll::Ready(())
            }
        }
    }

    fn cancel(&self, call: Token) {
        if let Ok(mut ep) = self.ep.try_borrow_mut() {
            ep.cancel(self.clock.now(), call.pending());
            drop(ep);
            self.waiters.wake_all();
        } else if let Some(c) = self.cancels.get(usize::from(call.slot)) {
            c.set(Some(call.generation));
        }
        self.wake_driver();
    }

    fn notify(&self, method: &'static MethodDesc, args: &dyn Encode) -> Result<(), CallError> {
        let Ok(mut ep) = self.ep.try_borrow_mut() else {
            return Err(CallError::Overloaded);
        };
        ep.notify::<dyn Encode>(method, args)?;
        drop(ep);
        self.wake_driver();
        Ok(())
    }

    fn wait(&self, waker: &Waker) {
        self.waiters.register(waker);
    }

    fn state(&self) -> (bool, bool) {
        self.ep
            .try_borrow()
            .map_or((false, true), |ep| (ep.is_open(), ep.in_session()))
    }

    fn stream_tx(&self, f: &mut dyn FnMut(&mut StreamTx<'_>)) -> bool {
        let Ok(mut ep) = self.ep.try_borrow_mut() else {
            return false;
        };
        let Some(mut tx) = ep.stream_tx() else {
            return false;
        };
        f(&mut tx);
        drop(ep);
        self.wake_driver();
        true
    }

    fn close(&self) {
        if let Ok(mut ep) = self.ep.try_borrow_mut() {
            ep.close();
        }
        self.wake_driver();
    }
}

/// One waker, replaced by the next registration.
#[derive(Default)]
pub(crate) struct WakerCell(Cell<Option<Waker>>);

impl WakerCell {
    pub(crate) const fn new() -> Self {
        Self(Cell::new(None))
    }

    pub(crate) fn register(&self, waker: &Waker) {
        let kept = match self.0.take() {
            Some(old) if old.will_wake(waker) => old,
            _ => waker.clone(),
        };
        self.0.set(Some(kept));
    }

    pub(crate) fn wake(&self) {
        if let Some(w) = self.0.take() {
            w.wake();
        }
    }
}

/// Up to `N` wakers of waiting tasks, all woken at once.
pub(crate) struct WakerSet<const N: usize>([WakerCell; N]);

impl<const N: usize> WakerSet<N> {
    pub(crate) const fn new() -> Self {
        Self([const { WakerCell::new() }; N])
    }

    /// Adds `waker` (once). When the set is full, everyone in it is woken
    /// to make room: they poll again and re-register.
    pub(crate) fn register(&self, waker: &Waker) {
        let mut free = None;
        for cell in &self.0 {
            match cell.0.take() {
                Some(w) => {
                    let same = w.will_wake(waker);
                    cell.0.set(Some(w));
                    if same {
                        return;
                    }
                }
                None => {
                    if free.is_none() {
                        free = Some(cell);
                    }
                }
            }
        }
        let cell = free.or_else(|| {
            self.wake_all();
            self.0.first()
        });
        match cell {
            Some(cell) => cell.0.set(Some(waker.clone())),
            // No room at all (`WAITERS` = 0): poll again soon.
            None => waker.wake_by_ref(),
        }
    }

    pub(crate) fn wake_all(&self) {
        for cell in &self.0 {
            cell.wake();
        }
    }
}
