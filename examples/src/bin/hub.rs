//! The desktop "hub" of the sensor-node example: connects to the node
//! (`firmware/sensor-node`, a `no_std` riscv32imac firmware), reads its
//! sensors, streams sample blocks from it and uploads blocks to it (the
//! node handles both chunk by chunk with fixed buffers), runs its self-test
//! and its sync (the node calls this hub back over the same connection,
//! plain calls and streams) and prints the readings it pushes.
//!
//! ```sh
//! # one command: build the firmware, start it in QEMU, talk to it, stop it
//! cargo run -p zerowire-examples --bin hub -- --spawn-qemu
//! # or against a node already running (QEMU started by hand, or a board)
//! cargo run -p zerowire-examples --bin hub -- --addr 127.0.0.1:7878
//! ```
//!
//! `--spawn-qemu` needs `rustup target add riscv32imac-unknown-none-elf` and
//! `qemu-system-riscv32` (Debian: `apt-get install qemu-system-misc`).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use std::pin::Pin;
use std::task::{Context, Poll};

use sensor_api::{
    fnv1a, Block, Hub, HubError, HubService, HubStreams, HubStreamsService, Reading, SampleBlock,
    SelfTest, SensorNodeClient, SensorStreamsClient, StreamSummary, SyncReport, FNV_START,
};
use zerowire::proto::Config;
use zerowire::rpc::{Sink, Source, Stream};
use zerowire::Wire as _;

const TARGET: &str = "riscv32imac-unknown-none-elf";

/// The hub's services, called by the node.
#[derive(Clone)]
struct Desk;

impl Hub for Desk {
    fn time_ms(&self) -> u64 {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    }
    fn validate(&self, value: i32) -> Result<i32, HubError> {
        println!("hub: node asks to validate {value}");
        if value < 0 {
            Err(HubError::Negative)
        } else {
            Ok(value.saturating_mul(2))
        }
    }
    fn reading(&self, r: Reading) {
        println!(
            "hub: pushed reading #{} ch{} {:.3} °C at {} ms",
            r.seq,
            r.channel,
            f64::from(r.millicelsius) / 1000.0,
            r.at_ms
        );
    }
    fn selftest_done(&self, result: SelfTest) {
        println!(
            "hub: node self-test: {} passed, {} failed, {} calls in flight at once",
            result.passed, result.failed, result.pipelined
        );
    }
    fn sync_done(&self, r: SyncReport) {
        println!(
            "hub: node sync: downloaded {} blocks ({} bytes), uploaded {} blocks ({} bytes) in {} ms: {}",
            r.firmware.items,
            r.firmware.bytes,
            r.log.items,
            r.log.bytes,
            r.ms,
            if r.ok { "both checksums match" } else { "MISMATCH" }
        );
    }
}

/// The streams the node calls during its sync.
impl HubStreams for Desk {
    async fn firmware(&self, blocks: u32, mut out: Sink<Block>) -> Result<StreamSummary, HubError> {
        let mut sent = StreamSummary {
            items: 0,
            bytes: 0,
            checksum: FNV_START,
        };
        let mut enc = vec![0u8; Block::ENCODED_LEN];
        for seq in 0..blocks {
            let block = Block::pattern(seq);
            let n = block.encode(&mut enc).unwrap_or(0);
            if out.send(block).await.is_err() {
                break;
            }
            sent.checksum = fnv1a(sent.checksum, &enc[..n]);
            sent.bytes += n as u64;
            sent.items += 1;
        }
        println!("hub: sent {} firmware blocks to the node", sent.items);
        Ok(sent)
    }

    async fn log(&self, mut data: Source<SampleBlock>) -> StreamSummary {
        let mut got = StreamSummary {
            items: 0,
            bytes: 0,
            checksum: FNV_START,
        };
        let mut enc = vec![0u8; SampleBlock::ENCODED_LEN];
        while let Some(Ok(block)) = data.next().await {
            if block != SampleBlock::expected(3, got.items) {
                println!("hub: log block {} differs", got.items);
            }
            let n = block.encode(&mut enc).unwrap_or(0);
            got.checksum = fnv1a(got.checksum, &enc[..n]);
            got.bytes += n as u64;
            got.items += 1;
        }
        println!("hub: received {} log blocks from the node", got.items);
        got
    }
}

/// QEMU running the sensor node; killed on drop.
struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn firmware_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("firmware")
        .join("sensor-node")
}

/// Builds the firmware (release) and starts it in QEMU with the node's port
/// 7878 forwarded to a free loopback port; returns once it is listening.
fn spawn_qemu() -> Result<(Qemu, SocketAddr), String> {
    let dir = firmware_dir();
    let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    build.current_dir(&dir).args(["build", "--release"]);
    // The outer `cargo run`'s settings must not reach the firmware build.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if (name.starts_with("CARGO_") && name != "CARGO_HOME") || name.starts_with("RUSTC") {
            build.env_remove(&*name);
        }
    }
    println!("hub: building the sensor node firmware ({TARGET})");
    let status = build
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "firmware build failed ({status}); is the target installed? rustup target add {TARGET}"
        ));
    }
    let elf = dir
        .join("target")
        .join(TARGET)
        .join("release")
        .join("sensor-node");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let mut child = Command::new("qemu-system-riscv32")
        .args(["-M", "virt", "-bios", "none", "-nographic", "-m", "64M"])
        .args(["-monitor", "none", "-serial", "stdio", "-netdev"])
        .arg(format!(
            "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-10.0.2.15:7878"
        ))
        .args(["-device", "virtio-net-device,netdev=n0", "-kernel"])
        .arg(&elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("cannot start qemu-system-riscv32 ({e}); apt-get install qemu-system-misc")
        })?;
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                println!("  [node] {line}");
                let _ = tx.send(line);
            }
        });
    }
    let qemu = Qemu(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("sensor-node: ready") => break,
            Ok(_) => {}
            Err(_) => return Err("the node did not print `ready` within 30 s".into()),
        }
    }
    Ok((qemu, SocketAddr::from(([127, 0, 0, 1], port))))
}

/// Connects, retrying for a while: QEMU's port forward accepts before the
/// node listens.
async fn connect(addr: SocketAddr) -> Result<zerowire_tcp::Peer, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let config = Config {
            handshake_timeout: Duration::from_secs(3),
            ..Config::default()
        };
        let services = (HubService::new(Desk), HubStreamsService::new(Desk));
        match zerowire_tcp::connect(addr, services, config).await {
            Ok(peer) => return Ok(peer),
            Err(e) if Instant::now() < deadline => {
                eprintln!("hub: connecting to {addr}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(format!("cannot connect to {addr}: {e}")),
        }
    }
}

/// `count` upload blocks, made as the connection pulls them.
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

fn mib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64().max(1e-9)
}

/// Streams sample blocks from the node (checking each), then uploads
/// blocks to it.
async fn stream(streams: &SensorStreamsClient<zerowire_tcp::Peer>) -> Result<(), String> {
    const BLOCKS: u32 = 64;
    println!(
        "hub: streaming {BLOCKS} sample blocks of channel 2 ({} KiB)",
        u64::from(BLOCKS) * SampleBlock::ENCODED_LEN as u64 / 1024
    );
    let started = Instant::now();
    let mut samples = streams.samples(2, BLOCKS);
    let mut checksum = FNV_START;
    let mut bytes = 0u64;
    let mut enc = vec![0u8; SampleBlock::ENCODED_LEN];
    while let Some(block) = samples.next().await {
        let block = block.map_err(|e| format!("{e:?}"))?;
        if block != SampleBlock::expected(2, block.seq) {
            return Err(format!("sample block {} differs", block.seq));
        }
        let n = block.encode(&mut enc).map_err(|e| format!("{e:?}"))?;
        checksum = fnv1a(checksum, &enc[..n]);
        bytes += n as u64;
        if (block.seq + 1) % 16 == 0 {
            let (lo, hi) = block
                .samples
                .iter()
                .fold((i16::MAX, i16::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
            println!(
                "hub:   block #{:<3} {} samples, min {lo:>6}, max {hi:>6}",
                block.seq,
                block.samples.len()
            );
        }
    }
    let summary = samples.result().await.map_err(|e| format!("{e:?}"))?;
    let took = started.elapsed();
    println!(
        "hub: {} blocks, {bytes} bytes in {:.1} ms ({:.1} MiB/s); checksum {checksum:08x} {}",
        summary.items,
        took.as_secs_f64() * 1000.0,
        mib_s(bytes, took),
        if summary.checksum == checksum && summary.bytes == bytes {
            "matches the node's"
        } else {
            "DIFFERS from the node's"
        }
    );
    // A typed error in the middle of a stream: channel 4 saturates.
    let mut failing = streams.samples(4, 8);
    let mut got = 0;
    while let Some(item) = failing.next().await {
        match item {
            Ok(_) => got += 1,
            Err(e) => println!("hub: channel 4 stream: {got} blocks, then {e:?}"),
        }
    }

    let started = Instant::now();
    let summary = streams
        .upload(
            BLOCKS,
            Blocks {
                next: 0,
                count: BLOCKS,
            },
        )
        .await
        .map_err(|e| format!("{e:?}"))?;
    let took = started.elapsed();
    println!(
        "hub: uploaded {} blocks, {} bytes in {:.1} ms ({:.1} MiB/s)",
        summary.items,
        summary.bytes,
        took.as_secs_f64() * 1000.0,
        mib_s(summary.bytes, took)
    );
    Ok(())
}

async fn talk(addr: SocketAddr, power_off: bool) -> Result<(), String> {
    let peer = connect(addr).await?;
    println!(
        "hub: connected to {} ({})",
        addr,
        peer.peer_build().unwrap_or_default()
    );
    let node = SensorNodeClient::new(peer.clone()).with_timeout(Duration::from_secs(5));
    for channel in [0, 1, 4, 9] {
        match node.read(channel).await {
            Ok(r) => println!(
                "hub: read ch{channel}: {:.3} °C",
                f64::from(r.millicelsius) / 1000.0
            ),
            Err(e) => println!("hub: read ch{channel}: {e:?}"),
        }
    }
    let streams = SensorStreamsClient::new(peer.clone()).with_timeout(Duration::from_secs(20));
    stream(&streams).await?;
    node.selftest().await.map_err(|e| e.to_string())?;
    // The node calls this hub's streams: 32 blocks each way at once.
    node.sync(32).await.map_err(|e| e.to_string())?;
    let previous = node.set_interval(250).await.map_err(|e| e.to_string())?;
    println!("hub: readings every 250 ms (was {previous} ms); listening for 1.5 s");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    node.set_interval(0).await.map_err(|e| e.to_string())?;
    let stats = node.stats().await.map_err(|e| e.to_string())?;
    println!(
        "hub: node stats: {} session(s), {} calls, {} readings pushed, up {} ms",
        stats.sessions, stats.calls, stats.pushed, stats.uptime_ms
    );
    if power_off {
        node.power_off(0).await.map_err(|e| e.to_string())?;
        println!("hub: node powered off");
    }
    Ok(())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut addr: Option<SocketAddr> = None;
    let mut spawn = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--spawn-qemu" => spawn = true,
            "--addr" => {
                addr = args.next().and_then(|s| s.parse().ok());
                if addr.is_none() {
                    eprintln!("hub: --addr needs HOST:PORT");
                    std::process::exit(2);
                }
            }
            _ => {
                eprintln!("usage: hub [--spawn-qemu | --addr HOST:PORT]");
                std::process::exit(2);
            }
        }
    }
    let mut qemu = None;
    let addr = if spawn {
        match spawn_qemu() {
            Ok((q, a)) => {
                qemu = Some(q);
                a
            }
            Err(e) => {
                eprintln!("hub: {e}");
                std::process::exit(1);
            }
        }
    } else {
        addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 7878)))
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hub: {e}");
            std::process::exit(1);
        }
    };
    let result = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), talk(addr, qemu.is_some()))
            .await
            .unwrap_or_else(|_| Err("timed out".into()))
    });
    if let Some(mut q) = qemu.take() {
        // The node exits by itself after `power_off`; give it a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(q.0.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    if let Err(e) = result {
        eprintln!("hub: {e}");
        std::process::exit(1);
    }
}
