//! Streams through the embedded driver, on two smoltcp stacks in one
//! process on a virtual clock (as `smoltcp_hosted.rs`): a "device" endpoint
//! serves `Sensor` and the streaming methods of `Bulk` with a
//! [`StreamHandler`]; a "hub" endpoint calls them with `Endpoint::open`.
//! Both directions move items of several windows in chunks through fixed
//! connection buffers, each item checked by the generated decoder; the
//! receivers hold bytes back (slow consumers) and never hold more than
//! their credit window. Also: typed errors mid-stream, refusals, small
//! calls during a stream, cancellation and the end of a session.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
mod net;

use std::time::Duration;

use smoltcp::iface::SocketHandle;
use smoltcp::time::Instant as NetInstant;
use zerowire::proto::{Channel, CloseReason, Config, Data, ErrorCode, Instant, MethodDesc, Role};
use zerowire::rpc::{CallError, Sink, Source};
use zerowire::{FromView, Wire};
use zerowire_embedded::smoltcp::ListenPool;
use zerowire_embedded::{
    flatten, Collect, Ended, Endpoint, NoStreams, Pending, SessionEvent, Stream, StreamHandler,
    StreamTx,
};

use common::*;
use net::{link_pair, Stack};

type Ep = Endpoint<'static, 1024, 2048, 4, 8, 64>;

const PORT: u16 = 7000;
const STEP_US: u64 = 100;
/// Each side's credit window: a receiver never holds more unconsumed.
const WINDOW: u32 = 4096;
const MAX_CHUNK: u32 = 700;

/// One stream item.
#[derive(Wire, Clone, Debug, PartialEq)]
pub struct Item {
    pub seq: u32,
    pub data: Vec<u8>,
}

/// What an upload carried.
#[derive(Wire, Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub items: u32,
    pub bytes: u64,
    pub sum: u64,
}

/// The device's streaming methods (the hub only uses the descriptors).
#[zerowire::service]
pub trait Bulk {
    /// `count` items of `size` bytes; fails with `Saturated` at item
    /// `fail_at` (if below `count`); the result is the items sent.
    async fn samples(
        &self,
        count: u32,
        size: u32,
        fail_at: u32,
        out: Sink<Item>,
    ) -> Result<u32, SensorError>;
    /// Takes `expect` items; the result sums what came.
    async fn upload(&self, expect: u32, data: Source<Item>) -> Result<Summary, SensorError>;
}

fn item(seq: u32, size: u32) -> Item {
    Item {
        seq,
        data: (0..size)
            .map(|i| (i as u8).wrapping_mul(7) ^ (seq as u8))
            .collect(),
    }
}

fn config() -> Config {
    Config {
        max_calls: 4,
        max_frame: 1024,
        send_high_water: 512,
        initial_credit: WINDOW,
        max_chunk: MAX_CHUNK,
        ..Config::default()
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

fn bulk(name: &str) -> &'static MethodDesc {
    desc(BulkService::<()>::methods(), name)
}

/// An encoded message on its way out, from a fixed buffer: whole if small,
/// else in chunks of what the peer's credit and the send buffer allow.
#[derive(Default)]
struct Outgoing {
    msg: Vec<u8>,
    sent: usize,
    /// Largest chunk queued.
    max_chunk: usize,
    chunks: u32,
}

impl Outgoing {
    fn idle(&self) -> bool {
        self.msg.is_empty()
    }

    /// Queues what can go now; true once the whole message is queued.
    fn pump(&mut self, tx: &mut StreamTx<'_>, stream: Stream) -> bool {
        if self.msg.len() <= 200 && self.sent == 0 {
            let raw = Raw(&self.msg);
            return match tx.send_item(stream, &raw) {
                Ok(()) => {
                    self.msg.clear();
                    true
                }
                Err(_) => false,
            };
        }
        loop {
            let n = tx.capacity(stream).min(self.msg.len() - self.sent);
            if n == 0 {
                return false;
            }
            let total = (self.sent == 0).then_some(self.msg.len() as u64);
            if tx
                .send_chunk(stream, total, &self.msg[self.sent..self.sent + n])
                .is_err()
            {
                return false;
            }
            self.sent += n;
            self.max_chunk = self.max_chunk.max(n);
            self.chunks += 1;
            if self.sent == self.msg.len() {
                self.msg.clear();
                self.sent = 0;
                return true;
            }
        }
    }
}

/// Encoded bytes as a message body.
struct Raw<'a>(&'a [u8]);

impl zerowire::Encode for Raw<'_> {
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn encode(&self, buf: &mut [u8]) -> Result<usize, zerowire::EncodeError> {
        buf[..self.0.len()].copy_from_slice(self.0);
        Ok(self.0.len())
    }
}

/// Incoming pieces of one stream, reassembled here only to check each
/// item with the generated decoder; the bytes held back from the sender
/// (consumed later, a few per round) show the credit bound.
#[derive(Default)]
struct Incoming {
    msg: Vec<u8>,
    items: Vec<Item>,
    /// Bytes received and not reported consumed.
    held: usize,
    max_held: usize,
    ended: bool,
}

impl Incoming {
    fn piece(&mut self, data: &Data<'_>) {
        if data.first {
            assert!(self.msg.is_empty(), "a message starts inside another");
        }
        self.msg.extend_from_slice(data.bytes);
        self.held += data.bytes.len();
        self.max_held = self.max_held.max(self.held);
        assert!(
            self.held <= WINDOW as usize,
            "receiver holds {} bytes, above its window {WINDOW}",
            self.held
        );
        if data.end_of_message {
            let it = Item::decode(&self.msg).expect("an item the generated decoder takes");
            assert_eq!(it, item(it.seq, it.data.len() as u32));
            self.items.push(it);
            self.msg.clear();
        }
        self.ended |= data.end_of_stream;
    }

    /// Gives back up to `n` held bytes.
    fn release(&mut self, tx: &mut StreamTx<'_>, stream: Stream, n: usize) {
        let n = n.min(self.held);
        if n > 0 {
            tx.consumed(stream, n);
            self.held -= n;
        }
    }
}

enum Job {
    Samples {
        args: Collect<16>,
        count: u32,
        size: u32,
        fail_at: u32,
        next: u32,
        out: Outgoing,
    },
    Upload {
        args: Collect<16>,
        expect: u32,
        inc: Incoming,
    },
}

/// The device's streams: at most `max_jobs` at once.
struct DeviceStreams {
    max_jobs: usize,
    jobs: Vec<(Stream, Job)>,
    /// Bytes the device consumes per round (its slowness).
    consume_per_round: usize,
    ended: Vec<(Stream, String)>,
    closed: Vec<CloseReason>,
    /// Stale handles kept to check they are refused after a session ends.
    all: Vec<Stream>,
    max_held: usize,
    max_chunk: usize,
    chunks: u32,
}

impl DeviceStreams {
    fn new() -> Self {
        Self {
            max_jobs: 2,
            jobs: Vec::new(),
            consume_per_round: 300,
            ended: Vec::new(),
            closed: Vec::new(),
            all: Vec::new(),
            max_held: 0,
            max_chunk: 0,
            chunks: 0,
        }
    }
}

impl StreamHandler for DeviceStreams {
    fn opened(&mut self, stream: Stream, method: &MethodDesc) -> Result<(), ErrorCode> {
        if self.jobs.len() >= self.max_jobs {
            return Err(ErrorCode::Overloaded);
        }
        let job = match method.name {
            "samples" => Job::Samples {
                args: Collect::new(),
                count: 0,
                size: 0,
                fail_at: 0,
                next: 0,
                out: Outgoing::default(),
            },
            "upload" => Job::Upload {
                args: Collect::new(),
                expect: 0,
                inc: Incoming::default(),
            },
            _ => return Err(ErrorCode::UnknownMethod),
        };
        self.jobs.push((stream, job));
        self.all.push(stream);
        Ok(())
    }

    fn data(&mut self, stream: Stream, data: Data<'_>) -> usize {
        let Some((_, job)) = self.jobs.iter_mut().find(|(s, _)| *s == stream) else {
            return data.bytes.len();
        };
        match job {
            Job::Samples {
                args,
                count,
                size,
                fail_at,
                ..
            } => {
                if let Some(Ok(a)) = args.push(&data) {
                    (*count, *size, *fail_at) = <(u32, u32, u32)>::decode(a).unwrap();
                }
                data.bytes.len()
            }
            Job::Upload { args, expect, inc } => {
                if !args.is_complete() {
                    if let Some(Ok(a)) = args.push(&data) {
                        (*expect,) = <(u32,)>::decode(a).unwrap();
                    }
                    return data.bytes.len();
                }
                inc.piece(&data);
                self.max_held = self.max_held.max(inc.max_held);
                // Held back: consumed a few bytes per round in `produce`.
                0
            }
        }
    }

    fn ended(&mut self, stream: Stream, why: Ended<'_>) {
        self.ended.push((stream, format!("{why:?}")));
        self.jobs.retain(|(s, _)| *s != stream);
    }

    fn closed(&mut self, reason: CloseReason) {
        self.closed.push(reason);
        self.jobs.clear();
    }

    fn produce(&mut self, tx: &mut StreamTx<'_>) {
        let per_round = self.consume_per_round;
        let mut done = Vec::new();
        for (stream, job) in &mut self.jobs {
            let stream = *stream;
            match job {
                Job::Samples {
                    args,
                    count,
                    size,
                    fail_at,
                    next,
                    out,
                } => {
                    if !args.is_complete() {
                        continue;
                    }
                    loop {
                        if !out.idle() {
                            if out.pump(tx, stream) {
                                *next += 1;
                                continue;
                            }
                            break;
                        }
                        if *next == *fail_at && *fail_at < *count {
                            let r: Result<u32, SensorError> = Err(SensorError::Saturated);
                            if tx.reply(stream, &r).is_ok() {
                                done.push(stream);
                            }
                            break;
                        }
                        if *next == *count {
                            let r: Result<u32, SensorError> = Ok(*count);
                            if tx.reply(stream, &r).is_ok() {
                                done.push(stream);
                            }
                            break;
                        }
                        out.msg = item(*next, *size).encode_to_vec();
                    }
                    self.max_chunk = self.max_chunk.max(out.max_chunk);
                    self.chunks = self.chunks.max(out.chunks);
                }
                Job::Upload { expect, inc, .. } => {
                    inc.release(tx, stream, per_round);
                    if inc.ended && inc.held == 0 {
                        let got = inc.items.len() as u32;
                        let r: Result<Summary, SensorError> = if got == *expect {
                            Ok(Summary {
                                items: got,
                                bytes: inc.items.iter().map(|i| i.data.len() as u64).sum(),
                                sum: inc
                                    .items
                                    .iter()
                                    .flat_map(|i| i.data.iter())
                                    .map(|&b| u64::from(b))
                                    .sum(),
                            })
                        } else {
                            Err(SensorError::NoSuchChannel)
                        };
                        if tx.reply(stream, &r).is_ok() {
                            done.push(stream);
                        }
                    }
                }
            }
        }
        self.jobs.retain(|(s, _)| !done.contains(s));
    }
}

/// An upload the hub sends.
struct Upload {
    stream: Stream,
    next: u32,
    count: u32,
    size: u32,
    out: Outgoing,
    finished: bool,
}

/// The hub's streams: reply streams of its calls, uploads it sends.
#[derive(Default)]
struct HubStreams {
    incoming: Vec<(Stream, Incoming)>,
    uploads: Vec<Upload>,
    /// Bytes consumed per round (`usize::MAX`: at once).
    consume_per_round: usize,
}

impl HubStreams {
    fn watch(&mut self, stream: Stream) {
        self.incoming.push((stream, Incoming::default()));
    }

    fn received(&self, stream: Stream) -> &Incoming {
        &self.incoming.iter().find(|(s, _)| *s == stream).unwrap().1
    }
}

impl StreamHandler for HubStreams {
    fn opened(&mut self, _: Stream, _: &MethodDesc) -> Result<(), ErrorCode> {
        Err(ErrorCode::UnknownMethod)
    }

    fn data(&mut self, stream: Stream, data: Data<'_>) -> usize {
        let Some((_, inc)) = self.incoming.iter_mut().find(|(s, _)| *s == stream) else {
            return data.bytes.len();
        };
        inc.piece(&data);
        0
    }

    fn produce(&mut self, tx: &mut StreamTx<'_>) {
        for (stream, inc) in &mut self.incoming {
            inc.release(tx, *stream, self.consume_per_round);
        }
        for up in &mut self.uploads {
            loop {
                if !up.out.idle() {
                    if up.out.pump(tx, up.stream) {
                        up.next += 1;
                        continue;
                    }
                    break;
                }
                if up.next == up.count {
                    if !up.finished && tx.finish(up.stream).is_ok() {
                        up.finished = true;
                    }
                    break;
                }
                up.out.msg = item(up.next, up.size).encode_to_vec();
            }
        }
    }
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
    dev_streams: DeviceStreams,
    hub_streams: HubStreams,
    /// The device serves without streams (plain `poll`).
    plain_device: bool,
    dev_events: Vec<SessionEvent>,
}

impl World {
    fn new() -> Self {
        let (a, b) = link_pair();
        let t0 = NetInstant::from_micros(0);
        let mut dev = Stack::new(a, [10, 0, 0, 1], t0);
        let hub = Stack::new(b, [10, 0, 0, 2], t0);
        let handles = [dev.add_tcp(4096), dev.add_tcp(4096)];
        let mut w = Self {
            now_us: 0,
            dev,
            hub,
            pool: ListenPool::new(handles, PORT),
            hub_sock: SocketHandle::default(),
            next_port: 49152,
            dev_ep: Endpoint::new(config(), Role::Acceptor, device_table()),
            hub_ep: Endpoint::new(config(), Role::Initiator, HubService::<HubImpl>::methods()),
            sensor: SensorService::new(Device::default()),
            hubsvc: HubService::new(HubImpl::default()),
            dev_streams: DeviceStreams::new(),
            hub_streams: HubStreams {
                consume_per_round: usize::MAX,
                ..HubStreams::default()
            },
            plain_device: false,
            dev_events: Vec::new(),
        };
        w.step();
        w.connect_hub();
        w.run_until(Duration::from_secs(2), "handshake", |w| {
            w.dev_ep.is_open() && w.hub_ep.is_open()
        });
        w
    }

    fn connect_hub(&mut self) {
        let port = self.next_port;
        self.next_port += 1;
        self.hub_sock = self.hub.connect(4096, (self.dev.addr, PORT), port);
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.now_us)
    }

    fn step(&mut self) {
        let t = NetInstant::from_micros(self.now_us as i64);
        let z = self.now();
        self.dev.poll(t);
        self.hub.poll(t);
        let socket = self.pool.poll(&mut self.dev.sockets);
        let e = if self.plain_device {
            self.dev_ep.poll(z, socket, &self.sensor)
        } else {
            self.dev_ep
                .poll_streams(z, socket, &self.sensor, &mut self.dev_streams)
        };
        self.dev_events.extend(e);
        if self.hub.sockets.iter().count() > 0 {
            let socket = self.hub.tcp(self.hub_sock);
            self.hub_ep
                .poll_streams(z, socket, &self.hubsvc, &mut self.hub_streams);
        }
        self.dev.poll(t);
        self.hub.poll(t);
        self.now_us += STEP_US;
    }

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

    /// The hub opens a streaming call of the device.
    fn open<A: zerowire::Encode, R>(&mut self, name: &str, args: &A) -> (Stream, Pending<R>) {
        let now = self.now();
        self.hub_ep.open(now, bulk(name), args, None).unwrap()
    }

    fn wait<R: for<'de> FromView<'de>>(
        &mut self,
        p: Pending<R>,
        what: &str,
    ) -> Result<R, CallError> {
        self.run_until(Duration::from_secs(20), what, |w| w.hub_ep.is_ready(&p));
        self.hub_ep.take(p).ok().unwrap()
    }
}

#[test]
fn reply_stream_of_many_windows_in_chunks() {
    let mut w = World::new();
    // The hub is a slow consumer: 500 bytes per round.
    w.hub_streams.consume_per_round = 500;
    let (count, size) = (40u32, 3000u32);
    let (stream, p) = w.open::<_, Result<u32, SensorError>>("samples", &(count, size, u32::MAX));
    w.hub_streams.watch(stream);
    assert!(matches!(stream.channel(), Channel::Out(_)));

    // A small call while the stream runs is answered within a few rounds.
    w.run_until(Duration::from_secs(2), "stream under way", |w| {
        w.hub_streams.received(stream).items.len() >= 3
    });
    let add = desc(SensorService::<Device>::methods(), "add");
    let now = w.now();
    let small: Pending<u32> = w.hub_ep.call(now, add, &(2u32, 40u32), None).unwrap();
    let before = w.now_us;
    w.run_until(Duration::from_secs(1), "small call", |w| {
        w.hub_ep.is_ready(&small)
    });
    let waited = w.now_us - before;
    assert_eq!(w.hub_ep.take(small).ok().unwrap(), Ok(42));

    let r = flatten(w.wait(p, "samples"));
    assert_eq!(r, Ok(count));
    let inc = w.hub_streams.received(stream);
    assert_eq!(inc.items.len(), count as usize);
    assert!(inc
        .items
        .iter()
        .enumerate()
        .all(|(i, it)| it.seq == i as u32));
    let bytes: usize = inc.items.iter().map(|i| i.encoded_len()).sum();
    // Many windows, and the window was really used.
    assert!(bytes > 25 * WINDOW as usize, "{bytes}");
    assert!(inc.max_held > WINDOW as usize / 2, "{}", inc.max_held);
    assert!(w.dev_streams.max_chunk <= MAX_CHUNK as usize);
    eprintln!(
        "reply stream: {bytes} bytes in {} µs virtual, receiver held at most {} (window {WINDOW}), chunks up to {} bytes; a small call took {waited} µs",
        w.now_us,
        inc.max_held,
        w.dev_streams.max_chunk
    );
    assert!(waited < 40 * STEP_US, "small call waited {waited} µs");
}

#[test]
fn request_stream_upload_in_chunks() {
    let mut w = World::new();
    let (count, size) = (30u32, 2500u32);
    let (stream, p) = w.open::<_, Result<Summary, SensorError>>("upload", &(count,));
    w.hub_streams.uploads.push(Upload {
        stream,
        next: 0,
        count,
        size,
        out: Outgoing::default(),
        finished: false,
    });
    let r = flatten(w.wait(p, "upload"));
    let want: u64 = (0..count)
        .flat_map(|s| item(s, size).data)
        .map(u64::from)
        .sum();
    assert_eq!(
        r,
        Ok(Summary {
            items: count,
            bytes: u64::from(count * size),
            sum: want
        })
    );
    // The device consumed 300 bytes a round: it held up to its window,
    // never more (asserted on every piece).
    assert!(w.dev_streams.max_held > WINDOW as usize / 2);
    assert!(w.hub_streams.uploads[0].finished);
    // Small items go whole: an empty upload ends with its arguments.
    let (stream, p) = w.open::<_, Result<Summary, SensorError>>("upload", &(3u32,));
    w.hub_streams.uploads.push(Upload {
        stream,
        next: 0,
        count: 3,
        size: 10,
        out: Outgoing::default(),
        finished: false,
    });
    let r = flatten(w.wait(p, "small upload"));
    assert_eq!(r.unwrap().items, 3);
}

#[test]
fn typed_errors_and_refusals() {
    let mut w = World::new();
    // An error after two items: the items, then the typed error.
    let (stream, p) = w.open::<_, Result<u32, SensorError>>("samples", &(10u32, 1500u32, 2u32));
    w.hub_streams.watch(stream);
    let r = flatten(w.wait(p, "failing stream"));
    assert_eq!(r, Err(CallError::Remote(SensorError::Saturated)));
    assert_eq!(w.hub_streams.received(stream).items.len(), 2);

    // Busy: the device takes two streams at once, refuses a third.
    let (_, a) = w.open::<_, Result<Summary, SensorError>>("upload", &(1u32,));
    let (_, b) = w.open::<_, Result<Summary, SensorError>>("upload", &(1u32,));
    let (_, c) = w.open::<_, Result<u32, SensorError>>("samples", &(1u32, 10u32, 9u32));
    let r = flatten(w.wait(c, "refused"));
    assert!(
        matches!(r, Err(CallError::Overloaded)),
        "{r:?} (expected Overloaded)"
    );
    w.hub_ep.forget(a);
    w.hub_ep.forget(b);

    // A device without a stream handler refuses both forms of streaming
    // call (an ordinary call and one opened with DATA).
    let mut w = World::new();
    w.plain_device = true;
    let (_, p) = w.open::<_, Result<u32, SensorError>>("samples", &(1u32, 10u32, 9u32));
    let r = w.wait(p, "plain samples");
    assert!(matches!(r, Err(CallError::UnknownMethod { .. })), "{r:?}");
    let (_, p) = w.open::<_, Result<Summary, SensorError>>("upload", &(1u32,));
    let r = w.wait(p, "plain upload");
    assert!(matches!(r, Err(CallError::UnknownMethod { .. })), "{r:?}");
    let sum: u32 = {
        let now = w.now();
        let add = desc(SensorService::<Device>::methods(), "add");
        let p = w.hub_ep.call(now, add, &(1u32, 2u32), None).unwrap();
        w.wait(p, "add").unwrap()
    };
    assert_eq!(sum, 3);
}

#[test]
fn cancel_and_session_end_reach_the_handler() {
    let mut w = World::new();
    let (stream, p) =
        w.open::<_, Result<u32, SensorError>>("samples", &(1000u32, 2000u32, u32::MAX));
    w.hub_streams.watch(stream);
    w.run_until(Duration::from_secs(2), "some items", |w| {
        w.hub_streams.received(stream).items.len() >= 2
    });
    let now = w.now();
    w.hub_ep.cancel(now, p);
    w.run_until(Duration::from_secs(2), "cancel seen", |w| {
        !w.dev_streams.ended.is_empty()
    });
    assert_eq!(w.dev_streams.ended[0].1, "Cancelled");
    assert!(w.dev_streams.jobs.is_empty());

    // A stream in flight when the hub's socket is reset.
    let (stream2, p2) = w.open::<_, Result<Summary, SensorError>>("upload", &(5u32,));
    w.hub_streams.uploads.push(Upload {
        stream: stream2,
        next: 0,
        count: 5,
        size: 3000,
        out: Outgoing::default(),
        finished: false,
    });
    w.run_until(Duration::from_secs(2), "upload opened", |w| {
        !w.dev_streams.jobs.is_empty()
    });
    w.hub.tcp(w.hub_sock).abort();
    w.run_until(Duration::from_secs(2), "reset seen", |w| {
        !w.dev_ep.in_session()
    });
    assert_eq!(w.dev_streams.closed.len(), 1);
    assert!(w.dev_streams.jobs.is_empty());
    assert!(matches!(w.dev_events.last(), Some(SessionEvent::Closed(_))));
    let r = w.hub_ep.take(p2);
    assert!(matches!(r, Ok(Err(CallError::Disconnected(_))) | Err(_)));

    // Session 2: the old handles are stale even where ids repeat.
    w.connect_hub();
    w.run_until(Duration::from_secs(2), "session 2", |w| {
        w.dev_ep.is_open() && w.hub_ep.is_open()
    });
    let old = w.dev_streams.all[1];
    let mut tx = w.dev_ep.stream_tx().unwrap();
    assert!(!tx.is_live(old));
    assert_eq!(tx.capacity(old), 0);
    assert_eq!(
        tx.send_item(old, &1u32),
        Err(zerowire::proto::SendError::Stale)
    );
    let (stream, p) = w.open::<_, Result<u32, SensorError>>("samples", &(3u32, 100u32, u32::MAX));
    w.hub_streams.watch(stream);
    assert_eq!(flatten(w.wait(p, "session 2 stream")), Ok(3));
    let _ = NoStreams;
}

#[test]
fn streams_in_flight_finish_during_a_graceful_close() {
    let mut w = World::new();
    let (down, p) = w.open::<_, Result<u32, SensorError>>("samples", &(20u32, 2000u32, u32::MAX));
    w.hub_streams.watch(down);
    let (up, q) = w.open::<_, Result<Summary, SensorError>>("upload", &(20u32,));
    w.hub_streams.uploads.push(Upload {
        stream: up,
        next: 0,
        count: 20,
        size: 2000,
        out: Outgoing::default(),
        finished: false,
    });
    w.run_until(Duration::from_secs(2), "under way", |w| {
        w.hub_streams.received(down).items.len() >= 2
    });
    // GOAWAY: no new calls, the two streams run to their end, then the
    // session closes gracefully.
    w.hub_ep.close();
    assert_eq!(flatten(w.wait(p, "samples while closing")), Ok(20));
    assert_eq!(
        flatten(w.wait(q, "upload while closing")).unwrap().items,
        20
    );
    w.run_until(Duration::from_secs(2), "closed", |w| !w.dev_ep.in_session());
    assert_eq!(w.dev_ep.last_close(), Some(CloseReason::Graceful));
    assert_eq!(w.dev_streams.closed, [CloseReason::Graceful]);
}
