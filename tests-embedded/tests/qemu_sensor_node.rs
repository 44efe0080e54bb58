//! Desktop ↔ MCU, end to end: builds `firmware/sensor-node` (a `no_std`,
//! heap-free riscv32imac firmware: smoltcp on virtio-net, serving
//! `SensorNode` with `zerowire-embedded`), runs it in
//! `qemu-system-riscv32 -M virt` with QEMU user networking forwarding a free
//! loopback port, and talks to it with the ordinary tokio peer of
//! `zerowire-tcp`, which serves `Hub` on the same connection:
//!
//! - calls desktop → node, a typed handler error (`SensorError`) back;
//! - a schema mismatch: a client with another definition of `read` gets
//!   `SchemaMismatch`, the other methods keep working (in its own session);
//! - pipelined calls (more than the node's `max_calls`);
//! - node → desktop: the node's self-test calls `Hub` four times at once,
//!   one answer being a typed error (`HubError`), checks every result and
//!   reports; it also pushes readings as notifications;
//! - streams, 1 MiB each way through the node's fixed buffers: 256 sample
//!   blocks from the node (each checked against the node's generator, the
//!   checksum against the node's), with small calls answered during the
//!   stream; an upload of 256 blocks to the node (its checksum against
//!   ours); a typed error in the middle of a stream, a refused channel and
//!   an incomplete upload; the throughput of both is printed;
//! - streams the node calls: its sync downloads 1 MiB from the desktop's
//!   `HubStreams::firmware` (a reply stream) while it uploads 1 MiB to
//!   `HubStreams::log` (a request stream), checks both results against what
//!   its streams counted and reports; the desktop checks every block;
//! - reconnect after a graceful close and after the desktop drops the
//!   connection (the node keeps two sockets listening);
//! - `power_off(0)`: QEMU's exit status is the node's verdict.
//!
//! One test function, so QEMU runs alone. Every wait is bounded. Needs the
//! `riscv32imac-unknown-none-elf` target and `qemu-system-riscv32`; without
//! them the test prints `SKIPPED: ...` and passes, except under `CI=true`,
//! where it fails.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use sensor_api::{
    fnv1a, Block, Hub, HubError, HubService, HubStreams, HubStreamsService, Reading, SampleBlock,
    SelfTest, SensorError, SensorNodeClient, SensorStreamsClient, StreamSummary, SyncReport,
    FNV_START,
};
use tokio::sync::Notify;
use zerowire::proto::Config;
use zerowire::rpc::CallError;
use zerowire::rpc::{Sink, Source, Stream};
use zerowire::Wire as _;
use zerowire_tests_embedded::{
    inner_cargo, inner_target_dir, prerequisites, run_with_timeout, show, workspace_root,
};

const TEST: &str = "qemu_sensor_node";
const TARGET: &str = "riscv32imac-unknown-none-elf";
const QEMU: &str = "qemu-system-riscv32";
/// The port the firmware listens on (inside QEMU).
const GUEST_PORT: u16 = 7878;
const BUILD_LIMIT: Duration = Duration::from_secs(900);
/// Boot to "ready" takes about 0.1 s.
const READY_LIMIT: Duration = Duration::from_secs(30);
/// The whole desktop scenario.
const SCENARIO_LIMIT: Duration = Duration::from_secs(120);
/// One connection attempt, handshake included.
const CONNECT_LIMIT: Duration = Duration::from_secs(30);
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole 1 MiB stream.
const STREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// Blocks streamed each way: 256 x 4 KiB of payload (1 MiB), 4 bytes of
/// `seq` more per block on the wire.
const BLOCKS: u32 = 256;

/// Another definition of `SensorNode::read` (a `u16` channel): same method
/// id, different schema fingerprint.
mod mismatch {
    #[zerowire::service]
    pub trait SensorNode {
        fn read(&self, channel: u16) -> Result<sensor_api::Reading, sensor_api::SensorError>;
    }
}

/// The desktop's `Hub`: records what the node sends.
#[derive(Default)]
struct HubState {
    validated: AtomicU32,
    readings: Mutex<Vec<Reading>>,
    selftest: Mutex<Option<SelfTest>>,
    sync: Mutex<Option<SyncReport>>,
    /// What `firmware` sent and `log` received (each block checked).
    firmware_sent: Mutex<Option<StreamSummary>>,
    log_received: Mutex<Option<Result<StreamSummary, String>>>,
    changed: Notify,
}

#[derive(Clone)]
struct HubImpl(Arc<HubState>);

impl Hub for HubImpl {
    fn time_ms(&self) -> u64 {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        since.as_millis() as u64
    }
    fn validate(&self, value: i32) -> Result<i32, HubError> {
        self.0.validated.fetch_add(1, Ordering::Relaxed);
        if value < 0 {
            Err(HubError::Negative)
        } else {
            Ok(value * 2)
        }
    }
    fn reading(&self, reading: Reading) {
        self.0.readings.lock().unwrap().push(reading);
        self.0.changed.notify_waiters();
    }
    fn selftest_done(&self, result: SelfTest) {
        *self.0.selftest.lock().unwrap() = Some(result);
        self.0.changed.notify_waiters();
    }
    fn sync_done(&self, report: SyncReport) {
        *self.0.sync.lock().unwrap() = Some(report);
        self.0.changed.notify_waiters();
    }
}

/// An empty summary.
fn summary() -> StreamSummary {
    StreamSummary {
        items: 0,
        bytes: 0,
        checksum: FNV_START,
    }
}

impl HubStreams for HubImpl {
    async fn firmware(&self, blocks: u32, mut out: Sink<Block>) -> Result<StreamSummary, HubError> {
        let mut sent = summary();
        let mut enc = vec![0u8; Block::ENCODED_LEN];
        for seq in 0..blocks {
            let block = Block::pattern(seq);
            let n = block.encode(&mut enc).unwrap();
            if out.send(block).await.is_err() {
                break;
            }
            sent.checksum = fnv1a(sent.checksum, &enc[..n]);
            sent.bytes += n as u64;
            sent.items += 1;
        }
        *self.0.firmware_sent.lock().unwrap() = Some(sent);
        Ok(sent)
    }

    async fn log(&self, mut data: Source<SampleBlock>) -> StreamSummary {
        let mut got = summary();
        let mut enc = vec![0u8; SampleBlock::ENCODED_LEN];
        let mut result = Ok(());
        while let Some(block) = data.next().await {
            match block {
                Ok(b) if b == SampleBlock::expected(3, got.items) => {
                    let n = b.encode(&mut enc).unwrap();
                    got.checksum = fnv1a(got.checksum, &enc[..n]);
                    got.bytes += n as u64;
                    got.items += 1;
                }
                Ok(b) => result = Err(format!("log block {} (seq {}) differs", got.items, b.seq)),
                Err(e) => result = Err(format!("log stream failed: {e}")),
            }
        }
        *self.0.log_received.lock().unwrap() = Some(result.map(|()| got));
        got
    }
}

/// QEMU running the firmware; killed when dropped. Console lines are kept.
struct Qemu {
    child: Child,
    console: Arc<Mutex<Vec<String>>>,
}

impl Qemu {
    fn start(elf: &PathBuf, host_port: u16) -> Self {
        let mut cmd = Command::new(QEMU);
        cmd.args(["-M", "virt", "-bios", "none", "-nographic", "-m", "64M"])
            .args(["-monitor", "none", "-serial", "stdio"])
            .arg("-netdev")
            .arg(format!(
                "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{host_port}-10.0.2.15:{GUEST_PORT}"
            ))
            .args(["-device", "virtio-net-device,netdev=n0", "-kernel"])
            .arg(elf)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", show(&cmd)));
        let console = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let console = console.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    console.lock().unwrap().push(line);
                }
            });
        }
        Self { child, console }
    }

    fn console(&self) -> String {
        self.console.lock().unwrap().join("\n")
    }

    fn wait_for_line(&mut self, needle: &str, limit: Duration) {
        let start = Instant::now();
        loop {
            if self
                .console
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains(needle))
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "QEMU exited ({status}) before printing {needle:?}:\n{}",
                    self.console()
                );
            }
            assert!(
                start.elapsed() < limit,
                "no {needle:?} from the firmware within {limit:?}:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for QEMU to exit; `None` if it is still running after `limit`.
    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn build_firmware() -> PathBuf {
    let dir = workspace_root().join("firmware").join("sensor-node");
    let target_dir = inner_target_dir();
    let mut build = inner_cargo(&dir);
    build
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(&target_dir);
    let built = run_with_timeout(&mut build, BUILD_LIMIT);
    assert!(built.success(), "{}", built.describe(&show(&build)));
    eprintln!(
        "built the sensor node for {TARGET} in {:.1} s",
        built.elapsed.as_secs_f64()
    );
    target_dir.join(TARGET).join("release").join("sensor-node")
}

fn config() -> Config {
    Config {
        handshake_timeout: Duration::from_secs(3),
        ..Config::default()
    }
}

/// Connects and completes the handshake, retrying while the firmware is not
/// serving yet: QEMU's port forward accepts a connection before the guest
/// listens, then hangs up. Bounded by [`CONNECT_LIMIT`].
async fn connect(addr: SocketAddr, hub: &HubImpl) -> zerowire_tcp::Peer {
    let start = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let attempt = tokio::time::timeout(
            Duration::from_secs(5),
            zerowire_tcp::connect(
                addr,
                (
                    HubService::new(hub.clone()),
                    HubStreamsService::new(hub.clone()),
                ),
                config(),
            ),
        )
        .await;
        match attempt {
            Ok(Ok(peer)) => {
                eprintln!("connected after {attempts} attempt(s)");
                return peer;
            }
            Ok(Err(e)) if start.elapsed() < CONNECT_LIMIT => {
                eprintln!("connect attempt {attempts}: {e}");
            }
            Err(_) if start.elapsed() < CONNECT_LIMIT => {
                eprintln!("connect attempt {attempts}: timed out");
            }
            other => panic!("cannot connect to the node within {CONNECT_LIMIT:?}: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `done` holds for the hub's state (bounded).
async fn wait_hub(state: &HubState, what: &str, done: impl Fn(&HubState) -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let changed = state.changed.notified();
            if done(state) {
                return;
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), changed).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "{what}: not seen within 10 s");
}

/// `count` upload blocks, made as they are pulled.
struct Blocks {
    next: u32,
    count: u32,
}

impl Stream for Blocks {
    type Item = Block;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Block>> {
        if self.next == self.count {
            return Poll::Ready(None);
        }
        self.next += 1;
        Poll::Ready(Some(Block::pattern(self.next - 1)))
    }
}

/// Throughput in MiB/s.
fn mib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

/// Streams both ways, 1 MiB each, and the error cases, then the node's
/// sync (its streaming calls of the desktop); returns the number of calls
/// the node answered meanwhile (they count in its statistics).
async fn streams(
    peer: &zerowire_tcp::Peer,
    node: &SensorNodeClient<zerowire_tcp::Peer>,
    state: &HubState,
) -> u32 {
    let streams = SensorStreamsClient::new(peer.clone()).with_timeout(STREAM_TIMEOUT);

    // Node -> desktop: sample blocks, with small calls during the stream.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pinger = {
        let (node, stop) = (node.clone(), stop.clone());
        tokio::spawn(async move {
            let mut took = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                assert_eq!(
                    node.add(took.len() as u32, 1).await,
                    Ok(took.len() as u32 + 1)
                );
                took.push(t.elapsed());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            took
        })
    };
    let started = Instant::now();
    let mut samples = streams.samples(1, BLOCKS);
    let mut checksum = FNV_START;
    let mut bytes = 0u64;
    let mut enc = vec![0u8; SampleBlock::ENCODED_LEN];
    let mut seq = 0;
    while let Some(block) = samples.next().await {
        let block = block.unwrap();
        assert_eq!(block.seq, seq);
        assert!(
            block == SampleBlock::expected(1, seq),
            "block {seq} differs"
        );
        let n = block.encode(&mut enc).unwrap();
        checksum = fnv1a(checksum, &enc[..n]);
        bytes += n as u64;
        seq += 1;
    }
    let summary = samples.result().await.unwrap();
    let down = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut took = pinger.await.unwrap();
    assert_eq!(seq, BLOCKS);
    assert_eq!(
        summary,
        StreamSummary {
            items: BLOCKS,
            bytes,
            checksum
        }
    );
    assert!(bytes >= 1 << 20);
    took.sort();
    assert!(!took.is_empty());
    eprintln!(
        "stream node -> desktop: {bytes} bytes ({BLOCKS} blocks) in {:.3} s = {:.2} MiB/s; {} small calls during it: p50 {:?}, max {:?}",
        down.as_secs_f64(),
        mib_s(bytes, down),
        took.len(),
        took[took.len() / 2],
        took[took.len() - 1]
    );

    // Desktop -> node: an upload of blocks.
    let mut want = FNV_START;
    let mut enc = vec![0u8; Block::ENCODED_LEN];
    for i in 0..BLOCKS {
        let n = Block::pattern(i).encode(&mut enc).unwrap();
        want = fnv1a(want, &enc[..n]);
    }
    let started = Instant::now();
    let got = streams
        .upload(
            BLOCKS,
            Blocks {
                next: 0,
                count: BLOCKS,
            },
        )
        .await
        .unwrap();
    let up = started.elapsed();
    let bytes = u64::from(BLOCKS) * Block::ENCODED_LEN as u64;
    assert_eq!(
        got,
        StreamSummary {
            items: BLOCKS,
            bytes,
            checksum: want
        }
    );
    eprintln!(
        "stream desktop -> node: {bytes} bytes ({BLOCKS} blocks) in {:.3} s = {:.2} MiB/s",
        up.as_secs_f64(),
        mib_s(bytes, up)
    );

    // A typed error in the middle of a stream: two blocks, then the error.
    let mut failing = streams.samples(4, 10);
    for seq in 0..2 {
        assert_eq!(failing.next().await.unwrap().unwrap().seq, seq);
    }
    assert_eq!(
        failing.next().await,
        Some(Err(CallError::Remote(SensorError::Saturated)))
    );
    assert_eq!(failing.next().await, None);
    // Refused before any item; an upload with fewer blocks than announced.
    assert_eq!(
        streams.samples(9, 1).result().await,
        Err(CallError::Remote(SensorError::NoSuchChannel))
    );
    assert_eq!(
        streams.upload(5, Blocks { next: 0, count: 3 }).await,
        Err(CallError::Remote(SensorError::Incomplete))
    );
    // Node -> desktop calls: the sync streams 1 MiB each way at once.
    let started = Instant::now();
    node.sync(BLOCKS).await.unwrap();
    wait_hub(state, "sync report", |s| s.sync.lock().unwrap().is_some()).await;
    let wall = started.elapsed();
    let report = state.sync.lock().unwrap().unwrap();
    let firmware = state.firmware_sent.lock().unwrap().unwrap();
    let log = state.log_received.lock().unwrap().clone().unwrap().unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.firmware, firmware);
    assert_eq!(report.log, log);
    assert_eq!(firmware.items, BLOCKS);
    assert_eq!(log.items, BLOCKS);
    let both = firmware.bytes + log.bytes;
    eprintln!(
        "streams the node calls: {} bytes down (reply stream) and {} bytes up (request stream) at once in {} ms node time, {:.3} s until the desktop had the report = {:.2} MiB/s both ways together",
        firmware.bytes,
        log.bytes,
        report.ms,
        wall.as_secs_f64(),
        mib_s(both, wall)
    );

    // The small calls made during the first stream, five streams, the sync.
    took.len() as u32 + 6
}

/// Everything the desktop does with the node.
async fn scenario(addr: SocketAddr) {
    let state = Arc::new(HubState::default());
    let hub = HubImpl(state.clone());

    // Session 1.
    let peer = connect(addr, &hub).await;
    assert_eq!(peer.peer_build().as_deref(), Some("sensor-node"));
    let node = SensorNodeClient::new(peer.clone()).with_timeout(CALL_TIMEOUT);

    // Calls desktop → node, with typed handler errors.
    assert_eq!(node.add(2, 40).await, Ok(42));
    let r = node.read(1).await.unwrap();
    assert_eq!(r.channel, 1);
    assert!((21_000..23_000).contains(&r.millicelsius), "{r:?}");
    assert_eq!(
        node.read(9).await,
        Err(CallError::Remote(SensorError::NoSuchChannel))
    );
    assert_eq!(
        node.read(4).await,
        Err(CallError::Remote(SensorError::Saturated))
    );

    // Pipelined: 32 calls at once (the node serves 4 at a time).
    let writes_before = peer.stats();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..32u32 {
        let node = node.clone();
        set.spawn(async move { (i, node.add(i, 1000).await) });
    }
    let mut done = 0;
    while let Some(joined) = set.join_next().await {
        let (i, r) = joined.unwrap();
        assert_eq!(r, Ok(i + 1000));
        done += 1;
    }
    assert_eq!(done, 32);
    eprintln!(
        "pipelined: stats before {writes_before:?}, after {:?}",
        peer.stats()
    );

    // Node → desktop: the self-test's calls (typed HubError included) are
    // checked on the node, which reports here.
    node.selftest().await.unwrap();
    wait_hub(&state, "self-test report", |s| {
        s.selftest.lock().unwrap().is_some()
    })
    .await;
    let report = state.selftest.lock().unwrap().unwrap();
    assert_eq!(
        report,
        SelfTest {
            passed: 4,
            failed: 0,
            pipelined: 4
        }
    );
    assert_eq!(state.validated.load(Ordering::Relaxed), 3);

    // Notifications pushed by the node.
    assert_eq!(node.set_interval(20).await, Ok(0));
    wait_hub(&state, "3 readings", |s| {
        s.readings.lock().unwrap().len() >= 3
    })
    .await;
    assert_eq!(node.set_interval(0).await, Ok(20));
    {
        let readings = state.readings.lock().unwrap();
        assert!(
            readings.windows(2).all(|w| w[0].seq < w[1].seq),
            "{readings:?}"
        );
    }

    // Streams, 1 MiB each way.
    let stream_calls = streams(&peer, &node, &state).await;

    // Reconnect after a graceful close: session 2.
    peer.close();
    let reason = tokio::time::timeout(Duration::from_secs(10), peer.closed())
        .await
        .expect("graceful close within 10 s");
    eprintln!("session 1 closed: {reason}");
    assert!(matches!(
        node.add(1, 2).await,
        Err(CallError::Disconnected(_))
    ));
    drop((node, peer));
    let peer = connect(addr, &hub).await;
    let node = SensorNodeClient::new(peer.clone()).with_timeout(CALL_TIMEOUT);
    // A schema mismatch on one method; the others keep working. (Its own
    // session: a connection declares a method id once, with the fingerprint
    // of the first definition called on it.)
    let wrong = mismatch::SensorNodeClient::new(peer.clone()).with_timeout(CALL_TIMEOUT);
    assert_eq!(
        wrong.read(1).await,
        Err(CallError::SchemaMismatch { method: "read" })
    );
    assert_eq!(node.add(3, 4).await, Ok(7));
    assert_eq!(node.stats().await.unwrap().sessions, 2);

    // Reconnect after the desktop just drops the connection: session 3.
    drop((node, wrong, peer));
    let peer = connect(addr, &hub).await;
    let node = SensorNodeClient::new(peer.clone()).with_timeout(CALL_TIMEOUT);
    let stats = node.stats().await.unwrap();
    assert_eq!(stats.sessions, 3);
    // 39 answered in session 1 (and the stream calls), 2 in session 2 (the
    // mismatched call is refused before any handler runs), this one.
    assert_eq!(stats.calls, 42 + stream_calls, "{stats:?}");
    assert!(node.read(2).await.is_ok());
    // A second self-test on the new connection.
    *state.selftest.lock().unwrap() = None;
    node.selftest().await.unwrap();
    wait_hub(&state, "second self-test report", |s| {
        s.selftest.lock().unwrap().is_some()
    })
    .await;
    assert_eq!(state.selftest.lock().unwrap().unwrap().failed, 0);

    // The node powers off with exit code 0 after answering.
    node.power_off(0).await.unwrap();
}

#[test]
fn desktop_and_sensor_node_in_qemu() {
    if !prerequisites(
        TEST,
        TARGET,
        &[(
            QEMU,
            "apt-get install --no-install-recommends qemu-system-misc",
        )],
    ) {
        return;
    }
    let elf = build_firmware();
    let port = free_port();
    let mut qemu = Qemu::start(&elf, port);
    qemu.wait_for_line("sensor-node: ready", READY_LIMIT);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();

    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let outcome = rt.block_on(async {
        let run = tokio::spawn(scenario(addr));
        tokio::time::timeout(SCENARIO_LIMIT, run).await
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!(
            "scenario failed: {e}\n--- firmware console ---\n{}",
            qemu.console()
        ),
        Err(_) => panic!(
            "scenario not done within {SCENARIO_LIMIT:?}\n--- firmware console ---\n{}",
            qemu.console()
        ),
    }
    let status = qemu.wait_exit(Duration::from_secs(10));
    eprintln!(
        "scenario took {:.2} s\n--- firmware console ---\n{}",
        started.elapsed().as_secs_f64(),
        qemu.console()
    );
    let status = status.expect("QEMU still running 10 s after power_off");
    assert!(status.success(), "QEMU exit status {status}");
    let console = qemu.console();
    assert!(console.contains("session 3 open"), "{console}");
    assert!(
        console.contains("selftest 4 passed, 0 failed, 4 pipelined"),
        "{console}"
    );
    let bytes = u64::from(BLOCKS) * SampleBlock::ENCODED_LEN as u64;
    assert!(
        console.contains(&format!("samples: {BLOCKS} blocks, {bytes} bytes sent")),
        "{console}"
    );
    assert!(
        console.contains(&format!("upload: {BLOCKS} blocks, {bytes} bytes received")),
        "{console}"
    );
}
