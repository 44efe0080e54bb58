//! The sensor node: a `no_std`, heap-free riscv32imac firmware for QEMU's
//! `virt` machine. smoltcp on virtio-net, 10.0.2.15/24 (QEMU user
//! networking), zerowire on TCP port 7878 through `zerowire-embedded`:
//!
//! - serves `SensorNode` (plain `fn` handlers, no executor) to one desktop
//!   at a time, with two sockets listening so the desktop can reconnect at
//!   once;
//! - serves the `SensorStreams` streams (`streams.rs`): sample blocks to
//!   the desktop and an upload from it, chunk by chunk through fixed
//!   buffers;
//! - calls the desktop's `Hub` on the same connection (its self-test:
//!   pipelined calls, one of them answered with a typed error) and pushes
//!   readings to it as notifications;
//! - calls the desktop's `HubStreams` (its sync): a download in a reply
//!   stream and an upload in a request stream, at once.
//!
//! The console (UART) prints `sensor-node: ready` once listening; the
//! `power_off(code)` call ends QEMU with that exit code.
#![no_std]
#![no_main]

mod board;
mod net;
mod streams;

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use riscv_rt::entry;
use sensor_api::{
    hub_stream_methods, stream_methods, HubError, HubService, NodeStats, Reading, SelfTest,
    SensorError, SensorNode, SensorNodeService, StreamSummary, SyncReport,
};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet, SocketStorage};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};
use zerowire::proto::{Config, Instant, MethodDesc, Role};
use zerowire::rpc::CallError;
use zerowire_embedded::smoltcp::ListenPool;
use zerowire_embedded::{flatten, Endpoint, Pending, SessionEvent};

use board::now_us;

/// The TCP port served.
const PORT: u16 = 7878;
/// Socket buffer size, each way.
const SOCKET_BUF: usize = 4096;

/// The endpoint: 1 KiB receive buffer (frames up to 1 KiB; stream chunks
/// of any size pass through it in pieces), 2 KiB send buffer (512 bytes
/// of high-water mark plus a 1 KiB chunk and its header), 4 calls in
/// flight each way, 10 methods declared each way, 64 bytes per reply kept
/// for this side's calls.
type Ep<'a> = Endpoint<'a, 1024, 2048, 4, 10, 64>;

/// Methods served: `SensorNode`'s (dispatched to its plain `fn`
/// handlers), then `SensorStreams`' (to the stream handler).
const SERVED: usize = 9;

/// The node's state, shared by the handlers (which take `&self`) and the
/// main loop.
struct Node {
    calls: AtomicU32,
    sessions: AtomicU32,
    pushed: AtomicU32,
    seq: AtomicU32,
    interval_ms: AtomicU32,
    selftest: AtomicBool,
    /// Blocks of a sync requested (0: none).
    sync: AtomicU32,
    power_off: AtomicU32,
}

const NO_POWER_OFF: u32 = u32::MAX;

fn uptime_ms() -> u32 {
    (now_us() / 1000) as u32
}

impl Node {
    const fn new() -> Self {
        Self {
            calls: AtomicU32::new(0),
            sessions: AtomicU32::new(0),
            pushed: AtomicU32::new(0),
            seq: AtomicU32::new(0),
            interval_ms: AtomicU32::new(0),
            selftest: AtomicBool::new(false),
            sync: AtomicU32::new(0),
            power_off: AtomicU32::new(NO_POWER_OFF),
        }
    }

    pub(crate) fn counted(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    fn measure(&self, channel: u8) -> Reading {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        Reading {
            channel,
            millicelsius: 21_000 + i32::from(channel) * 500 + (seq % 7) as i32 * 10,
            at_ms: uptime_ms(),
            seq,
        }
    }
}

impl SensorNode for Node {
    fn read(&self, channel: u8) -> Result<Reading, SensorError> {
        self.counted();
        match channel {
            0..=3 => Ok(self.measure(channel)),
            4 => Err(SensorError::Saturated),
            _ => Err(SensorError::NoSuchChannel),
        }
    }

    fn add(&self, a: u32, b: u32) -> u32 {
        self.counted();
        a.wrapping_add(b)
    }

    fn stats(&self) -> NodeStats {
        self.counted();
        NodeStats {
            sessions: self.sessions.load(Ordering::Relaxed),
            calls: self.calls.load(Ordering::Relaxed),
            pushed: self.pushed.load(Ordering::Relaxed),
            uptime_ms: uptime_ms(),
        }
    }

    fn set_interval(&self, ms: u32) -> u32 {
        self.counted();
        self.interval_ms.swap(ms, Ordering::Relaxed)
    }

    fn selftest(&self) {
        self.counted();
        self.selftest.store(true, Ordering::Relaxed);
    }

    fn power_off(&self, code: u32) {
        self.counted();
        self.power_off.store(code, Ordering::Relaxed);
    }

    fn sync(&self, blocks: u32) {
        self.counted();
        self.sync.store(blocks.max(1), Ordering::Relaxed);
    }
}

static NODE_SERVICE: SensorNodeService<Node> = SensorNodeService(Node::new());

pub(crate) fn node() -> &'static Node {
    &NODE_SERVICE.0
}

fn hub_method(name: &str) -> &'static MethodDesc {
    let table = HubService::<()>::methods();
    match table.iter().find(|m| m.name == name) {
        Some(m) => m,
        None => {
            println!("sensor-node: no Hub method {}", name);
            board::exit(6)
        }
    }
}

/// The self-test's calls of the hub, all in flight at once.
struct SelfTestRun {
    time: Option<Pending<u64>>,
    validate: [Option<Pending<Result<i32, HubError>>>; 3],
    passed: u32,
    failed: u32,
    pipelined: u32,
}

/// Values sent to `Hub::validate` and the answers expected.
const VALIDATE: [(i32, Result<i32, HubError>); 3] =
    [(21, Ok(42)), (-5, Err(HubError::Negative)), (0, Ok(0))];

impl SelfTestRun {
    fn start(ep: &mut Ep<'_>, now: Instant) -> Self {
        let mut run = Self {
            time: None,
            validate: [None, None, None],
            passed: 0,
            failed: 0,
            pipelined: 0,
        };
        match ep.call(now, hub_method("time_ms"), &(), None) {
            Ok(p) => run.time = Some(p),
            Err(_) => run.failed += 1,
        }
        for (slot, (value, _)) in run.validate.iter_mut().zip(VALIDATE) {
            match ep.call(now, hub_method("validate"), &(value,), None) {
                Ok(p) => *slot = Some(p),
                Err(_) => run.failed += 1,
            }
        }
        run.pipelined = ep.calls_in_flight() as u32;
        run
    }

    fn check(&mut self, ok: bool, what: &str) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            println!("sensor-node: selftest FAIL {}", what);
        }
    }

    /// Takes the results that arrived; true once all have.
    fn poll(&mut self, ep: &mut Ep<'_>) -> bool {
        if let Some(p) = self.time.take() {
            match ep.take(p) {
                Ok(r) => {
                    // Any time after 2020 is the hub's clock.
                    let ok = matches!(r, Ok(t) if t > 1_577_836_800_000);
                    self.check(ok, "time_ms");
                }
                Err(p) => self.time = Some(p),
            }
        }
        // Indexes two arrays and calls `&mut self` methods in the body.
        #[allow(clippy::needless_range_loop)]
        for i in 0..VALIDATE.len() {
            if let Some(p) = self.validate[i].take() {
                match ep.take(p) {
                    Ok(r) => {
                        let got: Result<i32, CallError<HubError>> = flatten(r);
                        let want = VALIDATE[i].1.map_err(CallError::Remote);
                        self.check(got == want, "validate");
                    }
                    Err(p) => self.validate[i] = Some(p),
                }
            }
        }
        self.time.is_none() && self.validate.iter().all(Option::is_none)
    }
}

/// The sync: two streaming calls of the hub in flight at once, their
/// streams driven by [`streams::NodeStreams`].
struct SyncRun {
    firmware: Option<Pending<Result<StreamSummary, HubError>>>,
    log: Option<Pending<StreamSummary>>,
    firmware_result: Option<Result<StreamSummary, CallError<HubError>>>,
    log_result: Option<Result<StreamSummary, CallError>>,
    started_us: u64,
}

impl SyncRun {
    fn start(
        ep: &mut Ep<'_>,
        streams: &mut streams::NodeStreams,
        now: Instant,
        blocks: u32,
    ) -> Self {
        let mut run = Self {
            firmware: None,
            log: None,
            firmware_result: None,
            log_result: None,
            started_us: now_us(),
        };
        let firmware = &hub_stream_methods::METHODS[0];
        match ep.open(now, firmware, &(blocks,), None) {
            Ok((stream, p)) => {
                streams.download = Some((stream, streams::BlockReceiver::new()));
                run.firmware = Some(p);
            }
            Err(e) => run.firmware_result = Some(Err(e.widen())),
        }
        match ep.open(now, &hub_stream_methods::METHODS[1], &(), None) {
            Ok((stream, p)) => {
                streams.log = Some((stream, streams::BlockSender::new(3, blocks), false));
                run.log = Some(p);
            }
            Err(e) => run.log_result = Some(Err(e)),
        }
        run
    }

    /// Takes the results that arrived; true once both have.
    fn poll(&mut self, ep: &mut Ep<'_>) -> bool {
        if let Some(p) = self.firmware.take() {
            match ep.take(p) {
                Ok(r) => self.firmware_result = Some(flatten(r)),
                Err(p) => self.firmware = Some(p),
            }
        }
        if let Some(p) = self.log.take() {
            match ep.take(p) {
                Ok(r) => self.log_result = Some(r),
                Err(p) => self.log = Some(p),
            }
        }
        self.firmware.is_none() && self.log.is_none()
    }

    /// The report, from the results and what the streams counted.
    fn report(&self, streams: &mut streams::NodeStreams) -> SyncReport {
        let empty = StreamSummary {
            items: 0,
            bytes: 0,
            checksum: 0,
        };
        let download = streams.download.take();
        let log = streams.log.take();
        let firmware = download.as_ref().map_or(empty, |(_, d)| d.got);
        let sent = log.as_ref().map_or(empty, |(_, l, _)| l.sent);
        let ok = self.firmware_result == Some(Ok(firmware))
            && download.is_some_and(|(_, d)| !d.out_of_order)
            && self.log_result == Some(Ok(sent));
        SyncReport {
            firmware,
            log: sent,
            ok,
            ms: ((now_us() - self.started_us) / 1000) as u32,
        }
    }
}

#[entry]
fn main() -> ! {
    println!("sensor-node: booting");
    let Some(mut device) = net::NetDevice::find() else {
        println!("sensor-node: no virtio-net device");
        board::exit(3)
    };
    let mut iface_config =
        IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(device.mac())));
    iface_config.random_seed = now_us();
    let t0 = smoltcp::time::Instant::from_micros(now_us() as i64);
    let mut iface = Interface::new(iface_config, &mut device, t0);
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(IpAddress::v4(10, 0, 2, 15), 24));
    });
    let _ = iface
        .routes_mut()
        .add_default_ipv4_route(Ipv4Address::new(10, 0, 2, 2));

    let mut storage = [SocketStorage::EMPTY; 2];
    let mut sockets = SocketSet::new(&mut storage[..]);
    let mut bufs = [[0u8; SOCKET_BUF]; 4];
    let [b0, b1, b2, b3] = &mut bufs;
    let mut s0 = tcp::Socket::new(
        tcp::SocketBuffer::new(&mut b0[..]),
        tcp::SocketBuffer::new(&mut b1[..]),
    );
    let mut s1 = tcp::Socket::new(
        tcp::SocketBuffer::new(&mut b2[..]),
        tcp::SocketBuffer::new(&mut b3[..]),
    );
    s0.set_nagle_enabled(false);
    s1.set_nagle_enabled(false);
    let handles = [sockets.add(s0), sockets.add(s1)];
    let mut pool = ListenPool::new(handles, PORT);

    let config = Config {
        max_calls: 4,
        max_frame: 1024,
        send_high_water: 512,
        // Streams: the desktop may have 8 KiB of a stream in flight to the
        // node (which consumes as it goes); the node's chunks are 1 KiB;
        // a streamed block may be up to 64 KiB.
        initial_credit: 8 * 1024,
        max_chunk: streams::CHUNK as u32,
        max_message: 64 * 1024,
        build: "sensor-node",
        ..Config::default()
    };
    let node_methods = SensorNodeService::<Node>::methods();
    if node_methods.len() + stream_methods::METHODS.len() != SERVED {
        println!("sensor-node: SERVED does not match the method tables");
        board::exit(7)
    }
    let mut served = [stream_methods::SAMPLES; SERVED];
    for (slot, m) in served
        .iter_mut()
        .zip(node_methods.iter().chain(&stream_methods::METHODS))
    {
        *slot = *m;
    }
    let mut ep: Ep<'_> = Endpoint::new(config, Role::Acceptor, &served);
    let mut streams = streams::NodeStreams::new();
    let mut selftest: Option<SelfTestRun> = None;
    let mut sync: Option<SyncRun> = None;
    let mut next_push = 0u64;
    let mut power_off_at: Option<u64> = None;

    println!("sensor-node: ready on 10.0.2.15:{}", PORT);
    loop {
        let us = now_us();
        let now = Instant::from_micros(us);
        iface.poll(
            smoltcp::time::Instant::from_micros(us as i64),
            &mut device,
            &mut sockets,
        );
        let socket = pool.poll(&mut sockets);
        match ep.poll_streams(now, socket, &NODE_SERVICE, &mut streams) {
            Some(SessionEvent::Connected) => {
                let n = node().sessions.fetch_add(1, Ordering::Relaxed) + 1;
                println!("sensor-node: session {} open", n);
            }
            Some(SessionEvent::Closed(reason)) => {
                println!("sensor-node: session closed: {}", reason);
                node().interval_ms.store(0, Ordering::Relaxed);
                if let Some(mut run) = selftest.take() {
                    run.poll(&mut ep);
                }
                if let Some(mut run) = sync.take() {
                    run.poll(&mut ep);
                }
            }
            _ => {}
        }

        // The self-test: started by the desktop, run from here.
        // (One run at a time: each needs result slots of the endpoint.)
        if selftest.is_none() && sync.is_none() && node().selftest.swap(false, Ordering::Relaxed) {
            selftest = Some(SelfTestRun::start(&mut ep, now));
        }
        if let Some(run) = &mut selftest {
            if run.poll(&mut ep) {
                let result = SelfTest {
                    passed: run.passed,
                    failed: run.failed,
                    pipelined: run.pipelined,
                };
                println!(
                    "sensor-node: selftest {} passed, {} failed, {} pipelined",
                    result.passed, result.failed, result.pipelined
                );
                let _ = ep.notify(hub_method("selftest_done"), &(result,));
                selftest = None;
            }
        }

        // The sync: started by the desktop, run from here.
        if selftest.is_none() && sync.is_none() {
            let blocks = node().sync.swap(0, Ordering::Relaxed);
            if blocks > 0 {
                sync = Some(SyncRun::start(&mut ep, &mut streams, now, blocks));
            }
        }
        if let Some(run) = &mut sync {
            if run.poll(&mut ep) {
                let report = run.report(&mut streams);
                println!(
                    "sensor-node: sync: firmware {} blocks, {} bytes; log {} blocks, {} bytes; {} ms; {}",
                    report.firmware.items,
                    report.firmware.bytes,
                    report.log.items,
                    report.log.bytes,
                    report.ms,
                    if report.ok { "ok" } else { "FAILED" }
                );
                let _ = ep.notify(hub_method("sync_done"), &(report,));
                sync = None;
            }
        }

        // Readings pushed to the hub.
        let interval = node().interval_ms.load(Ordering::Relaxed);
        if interval > 0 && ep.is_open() && us >= next_push {
            let reading = node().measure(0);
            if ep.notify(hub_method("reading"), &(reading,)).is_ok() {
                node().pushed.fetch_add(1, Ordering::Relaxed);
            }
            next_push = us + u64::from(interval) * 1000;
        }

        // Power off shortly after the reply to `power_off` has left.
        let code = node().power_off.load(Ordering::Relaxed);
        if code != NO_POWER_OFF {
            let at = *power_off_at.get_or_insert(us + 200_000);
            if us >= at {
                println!("sensor-node: power off ({})", code);
                board::exit(code);
            }
        }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("sensor-node: PANIC {}", info);
    board::exit(101)
}
