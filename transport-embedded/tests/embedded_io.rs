//! The `embedded-io` adapter: two endpoints over an in-memory duplex byte
//! stream (what a UART or USB CDC port looks like to the driver), with a
//! small per-poll transfer limit so frames arrive in pieces.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};
use zerowire::proto::{Config, Instant, Role};
use zerowire::rpc::CallError;
use zerowire_embedded::io::IoStream;
use zerowire_embedded::{flatten, ByteSocket, Endpoint, Pending, SessionEvent, SocketState};

use common::*;

type Ep = Endpoint<'static, 512, 512, 2, 4, 32>;

/// Bytes moved per read or write: a slow serial line.
const CHUNK: usize = 7;

#[derive(Default)]
struct Wire {
    bytes: VecDeque<u8>,
    broken: bool,
}

/// One end of a duplex pipe.
struct Port {
    rx: Rc<RefCell<Wire>>,
    tx: Rc<RefCell<Wire>>,
}

fn pipe() -> (Port, Port) {
    let a = Rc::new(RefCell::new(Wire::default()));
    let b = Rc::new(RefCell::new(Wire::default()));
    (
        Port {
            rx: a.clone(),
            tx: b.clone(),
        },
        Port { rx: b, tx: a },
    )
}

impl ErrorType for Port {
    type Error = ErrorKind;
}

impl Read for Port {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let mut w = self.rx.borrow_mut();
        if w.broken {
            return Err(ErrorKind::BrokenPipe);
        }
        let n = buf.len().min(CHUNK).min(w.bytes.len());
        for b in &mut buf[..n] {
            *b = w.bytes.pop_front().unwrap();
        }
        Ok(n)
    }
}

impl ReadReady for Port {
    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        let w = self.rx.borrow();
        Ok(w.broken || !w.bytes.is_empty())
    }
}

impl Write for Port {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let mut w = self.tx.borrow_mut();
        if w.broken {
            return Err(ErrorKind::BrokenPipe);
        }
        let n = buf.len().min(CHUNK);
        w.bytes.extend(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl WriteReady for Port {
    fn write_ready(&mut self) -> Result<bool, ErrorKind> {
        Ok(true)
    }
}

struct Pair {
    now: u64,
    a: IoStream<Port>,
    b: IoStream<Port>,
    dev: Ep,
    hub: Ep,
    sensor: SensorService<Device>,
    hubsvc: HubService<HubImpl>,
    dev_events: Vec<SessionEvent>,
}

impl Pair {
    fn new() -> Self {
        let (a, b) = pipe();
        Self {
            now: 0,
            a: IoStream::new(a),
            b: IoStream::new(b),
            dev: Endpoint::new(
                Config::default(),
                Role::Acceptor,
                SensorService::<Device>::methods(),
            ),
            hub: Endpoint::new(
                Config::default(),
                Role::Initiator,
                HubService::<HubImpl>::methods(),
            ),
            sensor: SensorService::new(Device::default()),
            hubsvc: HubService::new(HubImpl::default()),
            dev_events: Vec::new(),
        }
    }

    fn step(&mut self) {
        let now = Instant::from_micros(self.now);
        if let Some(e) = self.dev.poll(now, &mut self.a, &self.sensor) {
            self.dev_events.push(e);
        }
        self.hub.poll(now, &mut self.b, &self.hubsvc);
        self.now += 100;
    }

    fn until(&mut self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        for _ in 0..10_000 {
            if done(self) {
                return;
            }
            self.step();
        }
        panic!("{what}: not done after 10,000 polls");
    }
}

#[test]
fn calls_both_ways_over_a_byte_stream() {
    let mut p = Pair::new();
    p.until("handshake", |p| p.dev.is_open() && p.hub.is_open());

    let now = Instant::from_micros(p.now);
    let read: Pending<Result<i32, SensorError>> = p
        .hub
        .call(
            now,
            desc(SensorService::<Device>::methods(), "read"),
            &(7u8,),
            None,
        )
        .unwrap();
    let check: Pending<Result<i32, HubError>> = p
        .dev
        .call(
            now,
            desc(HubService::<HubImpl>::methods(), "check"),
            &(5i32,),
            None,
        )
        .unwrap();
    p.until("both results", |p| {
        p.hub.is_ready(&read) && p.dev.is_ready(&check)
    });
    assert_eq!(
        flatten(p.hub.take(read).ok().unwrap()),
        Err(CallError::Remote(SensorError::NoSuchChannel))
    );
    assert_eq!(flatten(p.dev.take(check).ok().unwrap()), Ok(10));
}

#[test]
fn a_broken_stream_ends_the_session_and_close_reopens_it() {
    let mut p = Pair::new();
    p.until("handshake", |p| p.dev.is_open() && p.hub.is_open());
    let pending: Pending<u64> = p
        .dev
        .call(
            Instant::from_micros(p.now),
            desc(HubService::<HubImpl>::methods(), "time"),
            &(),
            None,
        )
        .unwrap();
    p.a.get_mut().rx.borrow_mut().broken = true;
    p.until("session ended", |p| !p.dev.in_session());
    assert!(matches!(p.dev_events.last(), Some(SessionEvent::Closed(_))));
    assert!(matches!(
        p.dev.take(pending).ok().unwrap(),
        Err(CallError::Disconnected(_))
    ));
    // The endpoint closed the stream, which made it usable again.
    assert_eq!(p.a.state(), SocketState::Open);
}
