//! The async form (`asynch`, feature `embedded-io-async`): two
//! `AsyncEndpoint`s over an in-memory duplex byte stream that implements
//! the `embedded-io-async` traits (a slow serial line: 7 bytes per read or
//! write, 64 bytes in flight each way, so frames cross in pieces and
//! writers wait), driven by a small deterministic executor on a virtual
//! clock: each driver and scenario is its own task, polled only when its
//! waker was woken (as embassy's executor does), and when none was, the
//! clock jumps to the next timer (keepalive, deadlines, timeouts take no
//! real time). The scenarios assert that no call or stream waited for a
//! timer, so a lost wake-up fails them. Calls both ways with typed errors,
//! notifications, more calls than result slots, a reply stream in chunks
//! and an upload sent from async code, cancellation by dropping a call, a
//! deadline, a cut link, a dropped driver, the peer's idle timeout,
//! reconnects, a graceful close.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use futures::future::{join, join_all, select, Either};
use zerowire::proto::SendError;
use zerowire::proto::{CloseReason, Config, Data, ErrorCode, Instant, MethodDesc, Role};
use zerowire::rpc::{CallError, Sink, Source};
use zerowire::Wire;
use zerowire_embedded::asynch::{AsyncEndpoint, Clock};
use zerowire_embedded::{flatten, Collect, Ended, Endpoint, Stream, StreamHandler, StreamTx};

use common::*;

type Ep = AsyncEndpoint<'static, Sim, 512, 512, 4, 4, 32>;

// ---- virtual time and a deterministic executor ----------------------------

struct SimState {
    now: Cell<u64>,
    timers: RefCell<Vec<(u64, Waker)>>,
}

/// The virtual clock.
#[derive(Clone)]
struct Sim(Rc<SimState>);

impl Clock for Sim {
    fn now(&self) -> Instant {
        Instant::from_micros(self.0.now.get())
    }

    fn sleep_until(&self, at: Instant) -> impl Future<Output = ()> {
        let sim = self.0.clone();
        let at = at.as_micros();
        poll_fn(move |cx| {
            if sim.now.get() >= at {
                return Poll::Ready(());
            }
            let mut timers = sim.timers.borrow_mut();
            if !timers
                .iter()
                .any(|(t, w)| *t == at && w.will_wake(cx.waker()))
            {
                timers.push((at, cx.waker().clone()));
            }
            Poll::Pending
        })
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Sim {
    fn new() -> Self {
        Self(Rc::new(SimState {
            now: Cell::new(0),
            timers: RefCell::new(Vec::new()),
        }))
    }

    fn micros(&self) -> u64 {
        self.0.now.get()
    }

    /// Jumps to the earliest timer and wakes what is due; false if there
    /// is none.
    fn advance(&self) -> bool {
        let mut timers = self.0.timers.borrow_mut();
        let Some(next) = timers.iter().map(|(t, _)| *t).min() else {
            return false;
        };
        self.0.now.set(self.0.now.get().max(next));
        let now = self.0.now.get();
        let (due, later): (Vec<_>, Vec<_>) = timers.drain(..).partition(|(t, _)| *t <= now);
        *timers = later;
        drop(timers);
        for (_, w) in due {
            w.wake();
        }
        true
    }

    /// Runs `fut` to completion: polls it while something woke it; when
    /// nothing did, time jumps to the next timer. Panics on a deadlock
    /// (nothing woken, no timer), after 10 virtual minutes and after
    /// 2,000,000 polls (a livelock).
    fn block_on<F: Future>(&self, fut: F) -> F::Output {
        let flag = Arc::new(Flag(AtomicBool::new(true)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = pin!(fut);
        for _ in 0..2_000_000 {
            flag.0.store(false, Ordering::SeqCst);
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
            if !flag.0.load(Ordering::SeqCst) {
                assert!(self.advance(), "deadlock: nothing woken and no timer");
            }
            assert!(
                self.micros() < 600_000_000,
                "still running after 10 virtual minutes"
            );
        }
        panic!("still running after 2,000,000 polls");
    }
}

impl Sim {
    /// Runs futures as separate tasks, each polled only when its own waker
    /// was woken (as embassy's executor does); when none was, time jumps to
    /// the next timer. Panics as [`block_on`](Self::block_on).
    fn run_tasks(&self, mut tasks: Vec<Pin<Box<dyn Future<Output = ()> + '_>>>) {
        let flags: Vec<Arc<Flag>> = tasks
            .iter()
            .map(|_| Arc::new(Flag(AtomicBool::new(true))))
            .collect();
        let wakers: Vec<Waker> = flags.iter().map(|f| Waker::from(f.clone())).collect();
        let mut done = vec![false; tasks.len()];
        for _ in 0..2_000_000 {
            let mut polled = false;
            for (i, task) in tasks.iter_mut().enumerate() {
                if done[i] || !flags[i].0.swap(false, Ordering::SeqCst) {
                    continue;
                }
                polled = true;
                let mut cx = Context::from_waker(&wakers[i]);
                done[i] = task.as_mut().poll(&mut cx).is_ready();
            }
            if done.iter().all(|d| *d) {
                return;
            }
            if !polled {
                assert!(self.advance(), "deadlock: nothing woken and no timer");
            }
            assert!(
                self.micros() < 600_000_000,
                "still running after 10 virtual minutes"
            );
        }
        panic!("still running after 2,000,000 polls");
    }

    /// Three futures as three tasks ([`run_tasks`](Self::run_tasks)).
    fn run3<A: Future, B: Future, C: Future>(
        &self,
        a: A,
        b: B,
        c: C,
    ) -> (A::Output, B::Output, C::Output) {
        let (ra, rb, rc) = (RefCell::new(None), RefCell::new(None), RefCell::new(None));
        self.run_tasks(vec![
            Box::pin(async { *ra.borrow_mut() = Some(a.await) }),
            Box::pin(async { *rb.borrow_mut() = Some(b.await) }),
            Box::pin(async { *rc.borrow_mut() = Some(c.await) }),
        ]);
        (
            ra.into_inner().unwrap(),
            rb.into_inner().unwrap(),
            rc.into_inner().unwrap(),
        )
    }

    /// Two futures as two tasks.
    fn run2<A: Future, B: Future>(&self, a: A, b: B) -> (A::Output, B::Output) {
        let (a, b, ()) = self.run3(a, b, async {});
        (a, b)
    }
}

/// Polls `fut` once.
async fn poll_once<F: Future + ?Sized>(mut fut: Pin<&mut F>) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
}

// ---- an in-memory duplex byte stream (embedded-io-async) ------------------

/// Bytes moved per read or write.
const CHUNK: usize = 7;
/// Bytes in flight each way.
const CAP: usize = 64;

#[derive(Default)]
struct Pipe {
    bytes: VecDeque<u8>,
    broken: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
    written: usize,
    flushes: usize,
}

impl Pipe {
    fn wake(&mut self) {
        for w in [self.reader.take(), self.writer.take()]
            .into_iter()
            .flatten()
        {
            w.wake();
        }
    }
}

type PipeRef = Rc<RefCell<Pipe>>;

/// The receiving half.
struct Rx(PipeRef);
/// The sending half.
struct Tx(PipeRef);

impl ErrorType for Rx {
    type Error = ErrorKind;
}

impl ErrorType for Tx {
    type Error = ErrorKind;
}

impl Read for Rx {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        poll_fn(|cx| {
            let mut p = self.0.borrow_mut();
            if p.broken {
                return Poll::Ready(Err(ErrorKind::ConnectionReset));
            }
            if p.bytes.is_empty() {
                p.reader = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let n = buf.len().min(CHUNK).min(p.bytes.len());
            for b in &mut buf[..n] {
                *b = p.bytes.pop_front().unwrap();
            }
            if let Some(w) = p.writer.take() {
                w.wake();
            }
            Poll::Ready(Ok(n))
        })
        .await
    }
}

impl Write for Tx {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        poll_fn(|cx| {
            let mut p = self.0.borrow_mut();
            if p.broken {
                return Poll::Ready(Err(ErrorKind::BrokenPipe));
            }
            let room = CAP - p.bytes.len();
            if room == 0 {
                p.writer = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let n = buf.len().min(CHUNK).min(room);
            p.bytes.extend(&buf[..n]);
            p.written += n;
            if let Some(w) = p.reader.take() {
                w.wake();
            }
            Poll::Ready(Ok(n))
        })
        .await
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.0.borrow_mut().flushes += 1;
        Ok(())
    }
}

/// Both directions of one link.
struct Link {
    a_to_b: PipeRef,
    b_to_a: PipeRef,
}

impl Link {
    /// The link, with side A's and side B's halves.
    fn new() -> (Self, (Rx, Tx), (Rx, Tx)) {
        let a_to_b = PipeRef::default();
        let b_to_a = PipeRef::default();
        (
            Self {
                a_to_b: a_to_b.clone(),
                b_to_a: b_to_a.clone(),
            },
            (Rx(b_to_a.clone()), Tx(a_to_b.clone())),
            (Rx(a_to_b), Tx(b_to_a)),
        )
    }

    /// Cuts the link: reads and writes fail on both sides.
    fn cut(&self) {
        for p in [&self.a_to_b, &self.b_to_a] {
            let mut p = p.borrow_mut();
            p.broken = true;
            p.wake();
        }
    }
}

// ---- the two sides ---------------------------------------------------------

fn config(role_name: &'static str) -> Config {
    Config {
        max_calls: 4,
        max_frame: 512,
        send_high_water: 256,
        initial_credit: 1500,
        max_chunk: 200,
        keepalive_interval: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(3),
        handshake_timeout: Duration::from_secs(30),
        build: role_name,
        ..Config::default()
    }
}

fn device(sim: &Sim, served: &'static [MethodDesc]) -> Ep {
    AsyncEndpoint::new(
        Endpoint::new(config("device"), Role::Acceptor, served),
        sim.clone(),
    )
}

fn hub(sim: &Sim) -> Ep {
    AsyncEndpoint::new(
        Endpoint::new(
            config("hub"),
            Role::Initiator,
            HubService::<HubImpl>::methods(),
        ),
        sim.clone(),
    )
}

fn sensor(name: &str) -> &'static MethodDesc {
    desc(SensorService::<Device>::methods(), name)
}

fn hub_method(name: &str) -> &'static MethodDesc {
    desc(HubService::<HubImpl>::methods(), name)
}

#[test]
fn calls_both_ways_with_typed_errors() {
    let sim = Sim::new();
    let dev = device(&sim, SensorService::<Device>::methods());
    let hub = hub(&sim);
    let sensor_svc = SensorService::new(Device::default());
    let hub_svc = HubService::new(HubImpl::default());
    let (link, (ar, aw), (br, bw)) = Link::new();
    let (mut abuf, mut bbuf) = ([0u8; 128], [0u8; 128]);

    let scenario = async {
        let (h, d) = (hub.client(), dev.client());
        join(h.connected(), d.connected()).await;
        // Nothing below waits for a timer: every wake-up is the driver's or
        // the link's (a lost wake-up would stall until the next keepalive).
        assert_eq!(sim.micros(), 0, "the handshake waited for a timer");

        // Both ways at once, each with a typed handler error.
        let (ok, saturated, doubled, negative) = futures::join!(
            h.call::<_, Result<i32, SensorError>>(sensor("read"), &(2u8,)),
            h.call::<_, Result<i32, SensorError>>(sensor("read"), &(4u8,)),
            d.call::<_, Result<i32, HubError>>(hub_method("check"), &(5i32,)),
            d.call::<_, Result<i32, HubError>>(hub_method("check"), &(-1i32,)),
        );
        assert_eq!(flatten(ok), Ok(150));
        assert_eq!(
            flatten(saturated),
            Err(CallError::Remote(SensorError::Saturated))
        );
        assert_eq!(flatten(doubled), Ok(10));
        assert_eq!(
            flatten(negative),
            Err(CallError::Remote(HubError::Negative))
        );

        // Notifications arrive in order, before a later call's reply.
        d.notify(hub_method("event"), &(41u32,)).await.unwrap();
        d.notify(hub_method("event"), &(42u32,)).await.unwrap();
        let time: u64 = d.call(hub_method("time"), &()).await.unwrap();
        assert_eq!(time, 1_700_000_000);
        assert_eq!(*hub_svc.0.events.lock().unwrap(), [41, 42]);

        // Ten calls at once through 4 result slots: the others wait for a
        // slot instead of failing with `Overloaded`.
        let args: Vec<(u32, u32)> = (0..10).map(|i| (i, 1000)).collect();
        let sums = join_all(args.iter().map(|a| h.call::<_, u32>(sensor("add"), a))).await;
        let sums: Vec<u32> = sums.into_iter().map(Result::unwrap).collect();
        assert_eq!(sums, (1000..1010).collect::<Vec<_>>());

        // A method the peer does not serve.
        assert!(matches!(
            h.call::<_, u64>(hub_method("time"), &()).await,
            Err(CallError::UnknownMethod { .. })
        ));
        assert_eq!(sim.micros(), 0, "a call waited for a timer");
        h.close();
    };

    let (dev_end, hub_end, ()) = sim.run3(
        dev.run(ar, aw, &mut abuf, &sensor_svc),
        hub.run(br, bw, &mut bbuf, &hub_svc),
        scenario,
    );
    assert_eq!(dev_end, CloseReason::Graceful);
    assert_eq!(hub_end, CloseReason::Graceful);
    assert_eq!(dev.last_io_error(), None);
    assert!(!dev.is_running() && !hub.is_running());
    // Every byte crossed 7 at a time; the writers flushed when idle.
    assert!(link.a_to_b.borrow().written > 200);
    assert!(link.b_to_a.borrow().flushes > 0);
    // After the session: calls fail at once.
    let after = sim.block_on(dev.client().call::<_, u64>(hub_method("time"), &()));
    assert_eq!(after, Err(CallError::Disconnected(CloseReason::Graceful)));
}

#[test]
fn a_cut_link_fails_waiting_calls_and_the_next_run_serves_again() {
    let sim = Sim::new();
    let dev = device(&sim, SensorService::<Device>::methods());
    let hub = hub(&sim);
    let sensor_svc = SensorService::new(Device::default());
    let hub_svc = HubService::new(HubImpl::default());
    let (mut abuf, mut bbuf) = ([0u8; 64], [0u8; 64]);

    // Session 1: cut while a call waits.
    let (link, (ar, aw), (br, bw)) = Link::new();
    let scenario = async {
        let d = dev.client();
        d.connected().await;
        let mut call = pin!(d.call::<_, u64>(hub_method("time"), &()));
        assert!(poll_once(call.as_mut()).await.is_pending());
        link.cut();
        assert_eq!(
            call.await,
            Err(CallError::Disconnected(CloseReason::TransportClosed))
        );
    };
    let (dev_end, hub_end, ()) = sim.run3(
        dev.run(ar, aw, &mut abuf, &sensor_svc),
        hub.run(br, bw, &mut bbuf, &hub_svc),
        scenario,
    );
    assert_eq!(dev_end, CloseReason::TransportClosed);
    assert_eq!(hub_end, CloseReason::TransportClosed);
    assert!(dev.last_io_error().is_some());
    assert_eq!(
        dev.inspect(|ep| (ep.sessions(), ep.in_session())),
        Some((1, false))
    );

    // Session 2 on a new link: everything works again.
    let (_link, (ar, aw), (br, bw)) = Link::new();
    let scenario = async {
        let (h, d) = (hub.client(), dev.client());
        h.connected().await;
        let r = h.call::<_, Result<i32, SensorError>>(sensor("read"), &(9u8,));
        assert_eq!(
            flatten(r.await),
            Err(CallError::Remote(SensorError::NoSuchChannel))
        );
        assert_eq!(
            d.call::<_, u64>(hub_method("time"), &()).await,
            Ok(1_700_000_000)
        );
        d.close();
    };
    let (dev_end, hub_end, ()) = sim.run3(
        dev.run(ar, aw, &mut abuf, &sensor_svc),
        hub.run(br, bw, &mut bbuf, &hub_svc),
        scenario,
    );
    assert_eq!(
        (dev_end, hub_end),
        (CloseReason::Graceful, CloseReason::Graceful)
    );
    assert_eq!(dev.last_io_error(), None);
    assert_eq!(dev.inspect(|ep| ep.sessions()), Some(2));
}

#[test]
fn a_dropped_driver_ends_its_session_and_the_peer_times_out() {
    let sim = Sim::new();
    let dev = device(&sim, SensorService::<Device>::methods());
    let hub = hub(&sim);
    let sensor_svc = SensorService::new(Device::default());
    let hub_svc = HubService::new(HubImpl::default());
    let (mut abuf, mut bbuf) = ([0u8; 64], [0u8; 64]);
    let (_link, (ar, aw), (br, bw)) = Link::new();

    let dev_side = async {
        let d = dev.client();
        let mut waiting = pin!(d.call::<_, u64>(hub_method("time"), &()));
        {
            let run = pin!(dev.run(ar, aw, &mut abuf, &sensor_svc));
            let first = pin!(async {
                d.connected().await;
                assert!(poll_once(waiting.as_mut()).await.is_pending());
            });
            // `first` finishes before the driver writes the call; the
            // driver is then dropped.
            assert!(matches!(select(run, first).await, Either::Right(_)));
        }
        assert!(!dev.is_running());
        assert_eq!(
            waiting.await,
            Err(CallError::Disconnected(CloseReason::TransportClosed))
        );
        assert_eq!(
            dev.inspect(|ep| (ep.in_session(), ep.last_close())),
            Some((false, Some(CloseReason::TransportClosed)))
        );
    };
    let started = sim.micros();
    let (hub_end, ()) = sim.run2(hub.run(br, bw, &mut bbuf, &hub_svc), dev_side);
    // Nobody reads the hub any more: its keepalive goes unanswered and the
    // idle timeout (3 s) ends its session, on the virtual clock.
    assert_eq!(hub_end, CloseReason::IdleTimeout);
    assert!(sim.micros() - started >= 3_000_000);
}

#[test]
fn a_deadline_fails_a_call_the_peer_does_not_answer() {
    let sim = Sim::new();
    let dev = device(&sim, SensorService::<Device>::methods());
    let hub = hub(&sim);
    let hub_svc = HubService::new(HubImpl::default());
    let sensor_svc = SensorService::new(Device::default());
    let (mut abuf, mut bbuf) = ([0u8; 64], [0u8; 64]);
    let (_link, (ar, aw), (br, bw)) = Link::new();

    // The device's driver runs only for the handshake; then the hub's call
    // waits for nobody until its deadline.
    let dev_side = async {
        let run = pin!(dev.run(ar, aw, &mut abuf, &sensor_svc));
        let handshake = pin!(dev.client().connected());
        assert!(matches!(select(run, handshake).await, Either::Right(_)));
    };
    let hub_side = async {
        let h = hub.client();
        h.connected().await;
        let started = sim.micros();
        let r = h
            .call_timeout::<_, u32>(sensor("add"), &(1u32, 2u32), Duration::from_millis(250))
            .await;
        assert_eq!(r, Err(CallError::DeadlineExceeded));
        assert_eq!(sim.micros() - started, 250_000);
        h.close();
    };
    let hub_run = async {
        let reason = hub.run(br, bw, &mut bbuf, &hub_svc).await;
        assert_ne!(reason, CloseReason::Graceful, "nobody answers the GOAWAY");
    };
    sim.run3(hub_run, dev_side, hub_side);
}

// ---- streams ---------------------------------------------------------------

/// One stream item.
#[derive(Wire, Clone, Debug, PartialEq)]
pub struct Item {
    pub seq: u32,
    pub data: Vec<u8>,
}

/// The device's streaming method.
#[zerowire::service]
pub trait Bulk {
    /// `count` items of `size` bytes; the result is the items sent.
    async fn samples(&self, count: u32, size: u32, out: Sink<Item>) -> Result<u32, SensorError>;
    /// Takes `expect` items; the result is the items received.
    async fn upload(&self, expect: u32, data: Source<Item>) -> Result<u32, SensorError>;
}

fn item(seq: u32, size: u32) -> Item {
    Item {
        seq,
        data: (0..size)
            .map(|i| (i as u8).wrapping_mul(13) ^ (seq as u8))
            .collect(),
    }
}

fn device_table() -> &'static [MethodDesc] {
    let all: Vec<MethodDesc> = SensorService::<Device>::methods()
        .iter()
        .chain(BulkService::<()>::methods())
        .copied()
        .collect();
    Box::leak(all.into_boxed_slice())
}

struct Job {
    stream: Stream,
    upload: bool,
    args: Collect<16>,
    /// `samples`: items to send; `upload`: items expected.
    count: u32,
    size: u32,
    /// `samples`: the next item to send; `upload`: items received.
    next: u32,
    msg: Vec<u8>,
    sent: usize,
    /// `upload`: the request stream ended.
    done: bool,
}

/// The device's streams: `samples` writes items chunk by chunk as the hub's
/// credit and the send buffer allow; `upload` decodes the items that come.
#[derive(Default)]
struct Samples {
    jobs: Vec<Job>,
    cancelled: Rc<Cell<u32>>,
    closed: Rc<RefCell<Vec<CloseReason>>>,
    chunks: Rc<Cell<u32>>,
    uploaded: Rc<RefCell<Vec<Item>>>,
}

impl StreamHandler for Samples {
    fn opened(&mut self, stream: Stream, method: &MethodDesc) -> Result<(), ErrorCode> {
        let upload = match method.name {
            "samples" => false,
            "upload" => true,
            _ => return Err(ErrorCode::UnknownMethod),
        };
        self.jobs.push(Job {
            stream,
            upload,
            args: Collect::new(),
            count: 0,
            size: 0,
            next: 0,
            msg: Vec::new(),
            sent: 0,
            done: false,
        });
        Ok(())
    }

    fn data(&mut self, stream: Stream, data: Data<'_>) -> usize {
        let Some(job) = self.jobs.iter_mut().find(|j| j.stream == stream) else {
            return data.bytes.len();
        };
        if !job.args.is_complete() {
            if let Some(Ok(a)) = job.args.push(&data) {
                if job.upload {
                    (job.count,) = <(u32,)>::decode(a).unwrap();
                } else {
                    (job.count, job.size) = <(u32, u32)>::decode(a).unwrap();
                }
            }
        } else {
            job.msg.extend_from_slice(data.bytes);
            if data.end_of_message && !job.msg.is_empty() {
                self.uploaded
                    .borrow_mut()
                    .push(Item::decode(&job.msg).expect("an uploaded item"));
                job.msg.clear();
                job.next += 1;
            }
        }
        job.done |= data.end_of_stream;
        data.bytes.len()
    }

    fn ended(&mut self, stream: Stream, why: Ended<'_>) {
        assert_eq!(why, Ended::Cancelled);
        self.cancelled.set(self.cancelled.get() + 1);
        self.jobs.retain(|j| j.stream != stream);
    }

    fn closed(&mut self, reason: CloseReason) {
        self.jobs.clear();
        self.closed.borrow_mut().push(reason);
    }

    fn produce(&mut self, tx: &mut StreamTx<'_>) {
        let chunks = &self.chunks;
        self.jobs.retain_mut(|job| {
            if !job.args.is_complete() {
                return true;
            }
            if job.upload {
                if !job.done {
                    return true;
                }
                let result: Result<u32, SensorError> = if job.next == job.count {
                    Ok(job.next)
                } else {
                    Err(SensorError::Saturated)
                };
                return tx.reply(job.stream, &result).is_err();
            }
            loop {
                if job.msg.is_empty() {
                    if job.next == job.count {
                        // Every item is queued: the result.
                        let result: Result<u32, SensorError> = Ok(job.count);
                        return tx.reply(job.stream, &result).is_err();
                    }
                    job.msg = item(job.next, job.size).encode_to_vec();
                    job.sent = 0;
                    job.next += 1;
                }
                let n = tx.capacity(job.stream).min(job.msg.len() - job.sent);
                if n == 0 {
                    return true;
                }
                let total = (job.sent == 0).then_some(job.msg.len() as u64);
                if tx
                    .send_chunk(job.stream, total, &job.msg[job.sent..job.sent + n])
                    .is_err()
                {
                    return true;
                }
                chunks.set(chunks.get() + 1);
                job.sent += n;
                if job.sent == job.msg.len() {
                    job.msg.clear();
                }
            }
        });
    }
}

/// The hub's side: the reply stream's items, decoded whole.
#[derive(Default)]
struct Collector {
    msg: Vec<u8>,
    items: Rc<RefCell<Vec<Item>>>,
}

impl StreamHandler for Collector {
    fn opened(&mut self, _: Stream, _: &MethodDesc) -> Result<(), ErrorCode> {
        Err(ErrorCode::UnknownMethod)
    }

    fn data(&mut self, _: Stream, data: Data<'_>) -> usize {
        if data.first {
            self.msg.clear();
        }
        self.msg.extend_from_slice(data.bytes);
        if data.end_of_message && !data.end_of_stream {
            self.items
                .borrow_mut()
                .push(Item::decode(&self.msg).expect("an item"));
            self.msg.clear();
        }
        data.bytes.len()
    }
}

#[test]
fn streams_both_ways_and_a_cancel_by_drop() {
    let sim = Sim::new();
    let dev = device(&sim, device_table());
    let hub = hub(&sim);
    let sensor_svc = SensorService::new(Device::default());
    let hub_svc = HubService::new(HubImpl::default());
    let (mut abuf, mut bbuf) = ([0u8; 256], [0u8; 256]);
    let (_link, (ar, aw), (br, bw)) = Link::new();
    let mut samples = Samples::default();
    let (cancelled, closed, chunks, uploaded) = (
        samples.cancelled.clone(),
        samples.closed.clone(),
        samples.chunks.clone(),
        samples.uploaded.clone(),
    );
    let mut collector = Collector::default();
    let items = collector.items.clone();
    let bulk = desc(BulkService::<()>::methods(), "samples");
    let upload = desc(BulkService::<()>::methods(), "upload");

    let scenario = async {
        let h = hub.client();
        h.connected().await;

        // 12 items of 700 bytes (a frame is 512, a chunk 200): each comes in
        // pieces, in credit windows of 1,500 bytes.
        let (_stream, reply) = h
            .open::<_, Result<u32, SensorError>>(bulk, &(12u32, 700u32))
            .await
            .unwrap();
        // A small call while the stream runs.
        let add = h.call::<_, u32>(sensor("add"), &(2u32, 3u32));
        let (result, sum) = join(reply, add).await;
        assert_eq!(flatten(result), Ok(12));
        assert_eq!(sum, Ok(5));
        {
            let got = items.borrow();
            assert_eq!(got.len(), 12);
            for (i, it) in got.iter().enumerate() {
                assert_eq!(*it, item(i as u32, 700));
            }
        }
        assert!(chunks.get() >= 12 * 4);

        // An upload from async code: items sent with `stream_tx` as the
        // device's credit (1,500 bytes) and the send buffer allow, waiting
        // on `changed` in between.
        let (stream, reply) = h
            .open::<_, Result<u32, SensorError>>(upload, &(20u32,))
            .await
            .unwrap();
        let mut waits = 0;
        for i in 0..20 {
            let it = item(i, 180);
            loop {
                match h.stream_tx(|tx| tx.send_item(stream, &it)).unwrap() {
                    Ok(()) => break,
                    Err(SendError::Backpressure | SendError::NoCredit) => {
                        waits += 1;
                        h.changed().await;
                    }
                    Err(e) => panic!("send_item: {e:?}"),
                }
            }
        }
        h.stream_tx(|tx| tx.finish(stream)).unwrap().unwrap();
        assert_eq!(flatten(reply.await), Ok(20));
        assert!(waits > 0, "the upload never waited for credit or room");
        assert_eq!(
            *uploaded.borrow(),
            (0..20).map(|i| item(i, 180)).collect::<Vec<_>>()
        );

        // An endless stream, dropped after 3 items: the device hears the
        // cancel and stops.
        items.borrow_mut().clear();
        let (_stream, reply) = h
            .open::<_, Result<u32, SensorError>>(bulk, &(u32::MAX, 100u32))
            .await
            .unwrap();
        while items.borrow().len() < 3 {
            h.changed().await;
        }
        drop(reply);
        while cancelled.get() == 0 {
            h.changed().await;
        }
        // The connection goes on.
        assert_eq!(h.call::<_, u32>(sensor("add"), &(7u32, 8u32)).await, Ok(15));
        assert_eq!(sim.micros(), 0, "the streams waited for a timer");
        h.close();
    };

    let (dev_end, hub_end, ()) = sim.run3(
        dev.run_streams(ar, aw, &mut abuf, &sensor_svc, &mut samples),
        hub.run_streams(br, bw, &mut bbuf, &hub_svc, &mut collector),
        scenario,
    );
    assert_eq!(
        (dev_end, hub_end),
        (CloseReason::Graceful, CloseReason::Graceful)
    );
    assert_eq!(cancelled.get(), 1);
    assert_eq!(*closed.borrow(), [CloseReason::Graceful]);
}
