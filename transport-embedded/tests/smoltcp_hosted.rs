//! The embedded driver on two smoltcp stacks in one process, on a virtual
//! clock: a "device" endpoint (acceptor, two listening sockets) serving
//! `Sensor`, and a "hub" endpoint (initiator) serving `Hub`. Calls go both
//! ways over one connection.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
mod net;

use std::time::Duration;

use smoltcp::iface::SocketHandle;
use smoltcp::time::Instant as NetInstant;
use zerowire::proto::{CloseReason, Config, Instant, MethodDesc, Role};
use zerowire::rpc::CallError;
use zerowire_embedded::smoltcp::ListenPool;
use zerowire_embedded::{flatten, Endpoint, Pending, SessionEvent};

use common::*;
use net::{link_pair, Stack};

type Ep = Endpoint<'static, 1024, 1024, 4, 4, 64>;

const PORT: u16 = 7000;
/// Virtual time per step.
const STEP_US: u64 = 100;

fn config() -> Config {
    Config {
        max_calls: 4,
        max_frame: 1024,
        send_high_water: 512,
        ..Config::default()
    }
}

fn sensor_table() -> &'static [MethodDesc] {
    SensorService::<Device>::methods()
}

fn hub_table() -> &'static [MethodDesc] {
    HubService::<HubImpl>::methods()
}

struct World {
    now_us: u64,
    dev: Stack,
    hub: Stack,
    pool: ListenPool<2>,
    hub_sock: SocketHandle,
    next_port: u16,
    dev_ep: Ep,
    hub_ep: Ep,
    sensor: SensorService<Device>,
    hubsvc: HubService<HubImpl>,
    dev_events: Vec<SessionEvent>,
    hub_events: Vec<SessionEvent>,
    /// While true the hub's endpoint is not polled (its stack still is).
    freeze_hub: bool,
}

impl World {
    /// Both stacks up, the device listening, the hub connecting.
    fn new() -> Self {
        let (a, b) = link_pair();
        let t0 = NetInstant::from_micros(0);
        let mut dev = Stack::new(a, [10, 0, 0, 1], t0);
        let hub = Stack::new(b, [10, 0, 0, 2], t0);
        let handles = [dev.add_tcp(2048), dev.add_tcp(2048)];
        let mut w = Self {
            now_us: 0,
            dev,
            hub,
            pool: ListenPool::new(handles, PORT),
            hub_sock: SocketHandle::default(),
            next_port: 49152,
            dev_ep: Endpoint::new(config(), Role::Acceptor, sensor_table()),
            hub_ep: Endpoint::new(config(), Role::Initiator, hub_table()),
            sensor: SensorService::new(Device::default()),
            hubsvc: HubService::new(HubImpl::default()),
            dev_events: Vec::new(),
            hub_events: Vec::new(),
            freeze_hub: false,
        };
        // Let the pool put its sockets to listening first.
        w.step();
        w.connect_hub();
        w
    }

    /// A fresh hub socket connecting to the device.
    fn connect_hub(&mut self) {
        let port = self.next_port;
        self.next_port += 1;
        self.hub_sock = self.hub.connect(2048, (self.dev.addr, PORT), port);
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.now_us)
    }

    /// One round: both stacks, both endpoints; the clock moves on.
    fn step(&mut self) {
        let t = NetInstant::from_micros(self.now_us as i64);
        let z = self.now();
        self.dev.poll(t);
        self.hub.poll(t);
        let socket = self.pool.poll(&mut self.dev.sockets);
        if let Some(e) = self.dev_ep.poll(z, socket, &self.sensor) {
            self.dev_events.push(e);
        }
        if !self.freeze_hub && self.hub.sockets.iter().count() > 0 {
            let socket = self.hub.tcp(self.hub_sock);
            if let Some(e) = self.hub_ep.poll(z, socket, &self.hubsvc) {
                self.hub_events.push(e);
            }
        }
        self.dev.poll(t);
        self.hub.poll(t);
        self.now_us += STEP_US;
    }

    /// Steps until `done` holds; fails after `limit` of virtual time.
    fn run_until(&mut self, limit: Duration, what: &str, mut done: impl FnMut(&mut Self) -> bool) {
        let end = self.now_us + limit.as_micros() as u64;
        while !done(self) {
            assert!(
                self.now_us < end,
                "{what}: not done after {limit:?} of virtual time"
            );
            self.step();
        }
    }

    fn open(&mut self) {
        self.run_until(Duration::from_secs(2), "handshake", |w| {
            w.dev_ep.is_open() && w.hub_ep.is_open()
        });
    }

    /// The hub calls the device and waits for the result.
    fn hub_call<A: zerowire::Encode, R: for<'de> zerowire::FromView<'de>>(
        &mut self,
        method: &'static MethodDesc,
        args: &A,
    ) -> Result<R, CallError> {
        let p: Pending<R> = self.hub_ep.call(self.now(), method, args, None)?;
        self.run_until(Duration::from_secs(2), method.name, |w| {
            w.hub_ep.is_ready(&p)
        });
        self.hub_ep.take(p).ok().unwrap()
    }

    /// The device calls the hub and waits for the result.
    fn dev_call<A: zerowire::Encode, R: for<'de> zerowire::FromView<'de>>(
        &mut self,
        method: &'static MethodDesc,
        args: &A,
        timeout: Option<Duration>,
    ) -> Result<R, CallError> {
        let p: Pending<R> = self.dev_ep.call(self.now(), method, args, timeout)?;
        self.run_until(Duration::from_secs(2), method.name, |w| {
            w.dev_ep.is_ready(&p)
        });
        self.dev_ep.take(p).ok().unwrap()
    }
}

#[test]
fn calls_and_notifications_both_ways() {
    let mut w = World::new();
    w.open();
    assert_eq!(w.dev_events, [SessionEvent::Connected]);
    assert_eq!(w.hub_events, [SessionEvent::Connected]);

    let sum: u32 = w
        .hub_call(desc(sensor_table(), "add"), &(2u32, 40u32))
        .unwrap();
    assert_eq!(sum, 42);
    let time: u64 = w.dev_call(desc(hub_table(), "time"), &(), None).unwrap();
    assert_eq!(time, 1_700_000_000);

    w.dev_ep
        .notify(desc(hub_table(), "event"), &(7u32,))
        .unwrap();
    w.dev_ep
        .notify(desc(hub_table(), "event"), &(8u32,))
        .unwrap();
    w.hub_ep
        .notify(desc(sensor_table(), "poke"), &(5u32,))
        .unwrap();
    w.run_until(Duration::from_secs(1), "notifications", |w| {
        w.hubsvc.0.events.lock().unwrap().len() == 2
            && w.sensor.0.pokes.load(std::sync::atomic::Ordering::Relaxed) == 5
    });
    assert_eq!(*w.hubsvc.0.events.lock().unwrap(), [7, 8]);
    assert_eq!(w.dev_ep.sessions(), 1);
}

#[test]
fn typed_handler_errors_cross_both_ways() {
    let mut w = World::new();
    w.open();
    let read = desc(sensor_table(), "read");
    let ok = flatten::<i32, SensorError>(w.hub_call(read, &(2u8,)));
    assert_eq!(ok, Ok(150));
    let err = flatten::<i32, SensorError>(w.hub_call(read, &(9u8,)));
    assert_eq!(err, Err(CallError::Remote(SensorError::NoSuchChannel)));
    let err = flatten::<i32, SensorError>(w.hub_call(read, &(4u8,)));
    assert_eq!(err, Err(CallError::Remote(SensorError::Saturated)));

    let check = desc(hub_table(), "check");
    let ok = flatten::<i32, HubError>(w.dev_call(check, &(21i32,), None));
    assert_eq!(ok, Ok(42));
    let err = flatten::<i32, HubError>(w.dev_call(check, &(-1i32,), None));
    assert_eq!(err, Err(CallError::Remote(HubError::Negative)));
}

#[test]
fn pipelined_calls_complete_and_slots_are_bounded() {
    let mut w = World::new();
    w.open();
    let add = desc(sensor_table(), "add");
    let now = w.now();
    let pending: Vec<Pending<u32>> = (0..4u32)
        .map(|i| w.hub_ep.call(now, add, &(i, 1000u32), None).unwrap())
        .collect();
    // Every result slot is taken: a fifth call is refused, not queued.
    let fifth: Result<Pending<u32>, _> = w.hub_ep.call(now, add, &(9u32, 9u32), None);
    assert_eq!(fifth.unwrap_err(), CallError::Overloaded);
    // The four calls leave together and are answered together.
    let steps_before = w.now_us;
    w.run_until(Duration::from_secs(2), "pipelined", |w| {
        pending.iter().all(|p| w.hub_ep.is_ready(p))
    });
    let took = w.now_us - steps_before;
    for (i, p) in pending.into_iter().enumerate() {
        assert_eq!(w.hub_ep.take(p).ok().unwrap(), Ok(i as u32 + 1000));
    }
    assert!(took < 50 * STEP_US, "four pipelined calls took {took} µs");
    // The slots are free again.
    let again: u32 = w.hub_call(add, &(1u32, 1u32)).unwrap();
    assert_eq!(again, 2);
}

#[test]
fn schema_mismatch_fails_one_method_only() {
    let mut w = World::new();
    w.open();
    let wrong = &other::SensorService::<()>::methods()[0];
    assert_eq!(wrong.id, desc(sensor_table(), "read").id);
    let r: Result<Result<i32, SensorError>, _> = w.hub_call(wrong, &(1u16,));
    assert_eq!(r, Err(CallError::SchemaMismatch { method: "read" }));
    let sum: u32 = w
        .hub_call(desc(sensor_table(), "add"), &(1u32, 2u32))
        .unwrap();
    assert_eq!(sum, 3);
    assert!(w.dev_ep.is_open() && w.hub_ep.is_open());
}

#[test]
fn deadline_fails_a_call_and_the_connection_goes_on() {
    let mut w = World::new();
    w.open();
    w.freeze_hub = true;
    let time = desc(hub_table(), "time");
    let r: Result<u64, _> = w.dev_call(time, &(), Some(Duration::from_millis(20)));
    assert_eq!(r, Err(CallError::DeadlineExceeded));
    w.freeze_hub = false;
    let r: u64 = w.dev_call(time, &(), None).unwrap();
    assert_eq!(r, 1_700_000_000);
}

#[test]
fn reconnect_after_reset_and_after_graceful_close() {
    let mut w = World::new();
    w.open();
    // A device call in flight when the hub's socket is reset.
    w.freeze_hub = true;
    let pending: Pending<u64> = w
        .dev_ep
        .call(w.now(), desc(hub_table(), "time"), &(), None)
        .unwrap();
    w.step();
    w.hub.tcp(w.hub_sock).abort();
    w.freeze_hub = false;
    w.run_until(Duration::from_secs(2), "reset seen", |w| {
        !w.dev_ep.in_session() && !w.hub_ep.in_session()
    });
    assert!(matches!(
        w.dev_ep.take(pending).ok().unwrap(),
        Err(CallError::Disconnected(_))
    ));
    assert!(matches!(w.dev_events.last(), Some(SessionEvent::Closed(_))));

    // Session 2, at once.
    w.connect_hub();
    w.open();
    let sum: u32 = w
        .hub_call(desc(sensor_table(), "add"), &(3u32, 4u32))
        .unwrap();
    assert_eq!(sum, 7);
    assert_eq!(w.dev_ep.sessions(), 2);

    // Graceful close, and session 3 right away: the device's first socket
    // may still be closing, its second one takes the new connection.
    w.hub_ep.close();
    w.run_until(Duration::from_secs(2), "graceful close", |w| {
        !w.dev_ep.in_session() && !w.hub_ep.in_session()
    });
    assert_eq!(w.dev_ep.last_close(), Some(CloseReason::Graceful));
    w.connect_hub();
    w.open();
    let t: u64 = w.dev_call(desc(hub_table(), "time"), &(), None).unwrap();
    assert_eq!(t, 1_700_000_000);
    assert_eq!(w.dev_ep.sessions(), 3);

    // Sessions 4 and 5 right away: when the hub closes, the device's TCP
    // closes first, so both its sockets end up in TIME-WAIT (10 s in
    // smoltcp); the pool takes one back instead of refusing the hub.
    for session in 4..=5 {
        w.hub_ep.close();
        w.run_until(Duration::from_secs(2), "close", |w| {
            !w.dev_ep.in_session() && !w.hub_ep.in_session()
        });
        for _ in 0..100 {
            w.step();
        }
        let time_wait = w
            .dev
            .sockets
            .iter()
            .filter(|(_, s)| {
                matches!(s, smoltcp::socket::Socket::Tcp(t) if t.state() == smoltcp::socket::tcp::State::TimeWait)
            })
            .count();
        assert!(time_wait >= 1, "session {session}: no socket in TIME-WAIT");
        w.connect_hub();
        w.open();
        let sum: u32 = w
            .hub_call(desc(sensor_table(), "add"), &(session, 1u32))
            .unwrap();
        assert_eq!(sum, session + 1);
        assert_eq!(w.dev_ep.sessions(), session);
    }
}

#[test]
fn garbage_ends_a_session_and_the_next_peer_is_served() {
    let mut w = World::new();
    // Replace the hub's endpoint socket with one that speaks HTTP.
    w.freeze_hub = true;
    w.run_until(Duration::from_secs(1), "tcp up", |w| {
        w.hub.tcp(w.hub_sock).may_send()
    });
    w.hub
        .tcp(w.hub_sock)
        .send_slice(b"GET / HTTP/1.0\r\n\r\n")
        .unwrap();
    w.run_until(Duration::from_secs(2), "garbage rejected", |w| {
        matches!(w.dev_events.last(), Some(SessionEvent::Closed(_)))
    });
    assert!(matches!(
        w.dev_ep.last_close(),
        Some(CloseReason::Incompatible | CloseReason::FramingError)
    ));
    w.hub.tcp(w.hub_sock).abort();
    w.freeze_hub = false;
    w.connect_hub();
    w.open();
    let sum: u32 = w
        .hub_call(desc(sensor_table(), "add"), &(5u32, 6u32))
        .unwrap();
    assert_eq!(sum, 11);
}
