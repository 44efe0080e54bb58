//! The bulk-transfer section of the `rpc` bench (issue 4): large messages
//! and streams over loopback TCP, on the same runtime as the add3 section
//! (`RPC_BENCH_PART=bulk` runs it alone). The systems are in
//! `zerowire_bench::rpc::bulk`.
//!
//! For each system, in each of the interleaved runs (every system once, then
//! again, ...): start its server, connect ONE client connection, check a
//! small upload (and `add3(1, 2, 3) == 6`), then
//!
//! - (a) one unmeasured 64 MiB upload, then [`REPS`] measured ones, one at a
//!   time; each is timed from the call to its answer, and the run's value
//!   is the bytes of the [`REPS`] uploads over the sum of their times;
//! - (b) the same with 64 frames of 1 MiB (64 MiB) per transfer, timed from
//!   the first frame to the last answer;
//! - (c) on systems with calls: `add3` calls one at a time for [`IDLE`] on
//!   the idle connection, then again while a second task repeats 64 MiB
//!   uploads on the same connection (for at least [`BUSY`] and at least two
//!   uploads). A call counts as "during the upload" if it started while an
//!   upload was in progress.
//!
//! `RPC_BENCH_BULK` picks the steps (e.g. `a` or `b,c`; default all), for
//! profiling one at a time.
//!
//! Each argument is made (and copied, for systems whose argument owns its
//! bytes) before its clock starts. Every answer is checked; a wrong one
//! aborts the bench. The sending side's (the client's) bytes and write
//! system calls are counted over the measured transfers of (a) and (b).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::bytes::Bytes;
use zerowire_bench::rpc::bulk::{
    check, pattern, with_bulk_system, Bulk, BulkSystem, WithBulk, FRAMES, FRAMES_IN_FLIGHT,
    FRAME_LEN, UPLOAD_LEN,
};
use zerowire_bench::rpc::Meter;

use super::{cell, percentile, stats, verdict};

/// Measured transfers per run, for (a) and for (b).
pub(super) const REPS: usize = 3;
/// (c): length of the idle reference.
const IDLE: Duration = Duration::from_millis(300);
/// (c): the uploads repeat for at least this long (and at least twice).
const BUSY: Duration = Duration::from_millis(500);
/// (c): bound on the small calls of one phase.
const MAX_SMALL: usize = 1_000_000;

const MIB: f64 = (1 << 20) as f64;

/// One bulk system, one run.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct BulkSample {
    /// (a): GB/s (10^9 bytes of payload per second).
    up_gbps: f64,
    /// (a): write system calls of the sending side per MiB it wrote.
    up_writes: f64,
    /// (a): CPU time of the whole process (both ends) per 64 MiB, ms.
    up_cpu_ms: f64,
    /// (b): GB/s.
    st_gbps: f64,
    /// (b): writes per MiB.
    st_writes: f64,
    /// (b): CPU time per 64 MiB, ms.
    st_cpu_ms: f64,
    /// (c): small-call latency on the idle connection, µs.
    idle_p50: f64,
    idle_p99: f64,
    /// (c): small-call latency during the upload, µs.
    busy_p50: f64,
    busy_p99: f64,
    /// (c): the slowest small call during the upload, µs.
    busy_max: f64,
    /// (c): small calls recorded during the uploads.
    busy_calls: f64,
}

fn wrong(system: &str, what: &str, got: impl std::fmt::Debug, want: impl std::fmt::Debug) -> ! {
    panic!("{system}: {what} returned {got:?}, expected {want:?}")
}

/// The data every system sends, and the answers it must get back.
#[derive(Clone)]
struct Data {
    /// 64 MiB of [`pattern`].
    bytes: Bytes,
    /// `check` of the whole.
    upload: u64,
    /// `check` of each 1 MiB frame.
    frames: Arc<[u64]>,
}

impl Data {
    fn new() -> Self {
        let bytes = Bytes::from(pattern(UPLOAD_LEN));
        let frames = (0..FRAMES)
            .map(|i| check(&bytes[i * FRAME_LEN..(i + 1) * FRAME_LEN]))
            .collect();
        Self {
            upload: check(&bytes),
            bytes,
            frames,
        }
    }

    fn frame(&self, i: usize) -> Bytes {
        self.bytes.slice(i * FRAME_LEN..(i + 1) * FRAME_LEN)
    }
}

/// CPU time of this process so far (every thread's, from
/// `/proc/self/task/*/schedstat`), ns. Client and server run in this
/// process, so this is both ends together, plus the bench's own loop.
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// One checked upload of the whole data; returns its time and the
/// process's CPU time (ns) meanwhile.
async fn upload<C: Bulk>(client: &mut C, data: &Data, name: &str) -> (Duration, u64) {
    let arg = client.arg(&data.bytes);
    let c0 = cpu_ns();
    let t = Instant::now();
    let r = client.upload(arg).await;
    let d = t.elapsed();
    let cpu = cpu_ns().saturating_sub(c0);
    if r != Ok(data.upload) {
        wrong(name, "upload", r, data.upload);
    }
    (d, cpu)
}

/// One checked stream of the data's 64 frames; returns its time and the
/// process's CPU time (ns) meanwhile.
async fn stream<C: Bulk>(client: &mut C, data: &Data, name: &str) -> (Duration, u64) {
    let frames = (0..FRAMES).map(|i| client.arg(&data.frame(i))).collect();
    let c0 = cpu_ns();
    let t = Instant::now();
    let r = client.stream(frames, data.frames.clone()).await;
    let d = t.elapsed();
    let cpu = cpu_ns().saturating_sub(c0);
    if let Err(e) = r {
        panic!("{name}: stream: {e}");
    }
    (d, cpu)
}

/// Small calls one at a time until `stop` (or for `d` when there is no
/// `stop`); records the latency (ns) of the calls that start while
/// `record` is set.
async fn small_calls<C: Bulk>(
    client: &mut C,
    name: &str,
    d: Duration,
    stop: Option<&AtomicBool>,
    record: &AtomicBool,
) -> Vec<u32> {
    let mut lat = Vec::new();
    let end = Instant::now() + d;
    let mut k = 0u32;
    for _ in 0..MAX_SMALL {
        let done = match stop {
            Some(stop) => stop.load(Ordering::Acquire),
            None => Instant::now() >= end,
        };
        if done {
            break;
        }
        let on = record.load(Ordering::Acquire);
        let t = Instant::now();
        let r = client.add3(k, 7, 1).await;
        let took = t.elapsed();
        let want = k.wrapping_add(8);
        if r != Ok(want) {
            wrong(name, "add3", r, want);
        }
        if on {
            lat.push(u32::try_from(took.as_nanos()).unwrap_or(u32::MAX));
        }
        k = k.wrapping_add(1);
    }
    lat.sort_unstable();
    lat
}

/// Which of (a), (b), (c) run (`RPC_BENCH_BULK`, e.g. `a` or `b,c`;
/// default all).
#[derive(Clone, Copy)]
pub(super) struct Steps {
    a: bool,
    b: bool,
    c: bool,
}

impl Steps {
    pub(super) fn from_env() -> Self {
        let v = std::env::var("RPC_BENCH_BULK").unwrap_or_default();
        let has = |x: &str| v.is_empty() || v.split(',').any(|p| p.trim() == x);
        Self {
            a: has("a"),
            b: has("b"),
            c: has("c"),
        }
    }
}

struct MeasureBulk {
    data: Data,
    name: &'static str,
    steps: Steps,
}

/// (a) or (b): one unmeasured transfer, then [`REPS`] measured; returns
/// GB/s, writes per MiB and CPU ms per transfer.
async fn transfers<C: Bulk>(
    client: &mut C,
    data: &Data,
    name: &str,
    meter: &dyn Meter,
    frames: bool,
) -> (f64, f64, f64) {
    let once = async |client: &mut C| {
        if frames {
            stream(client, data, name).await
        } else {
            upload(client, data, name).await
        }
    };
    once(client).await;
    let before = meter.counts();
    let (mut t, mut cpu) = (Duration::ZERO, 0);
    for _ in 0..REPS {
        let (dt, dc) = once(client).await;
        (t, cpu) = (t + dt, cpu + dc);
    }
    let d = meter.counts() - before;
    (
        (REPS * UPLOAD_LEN) as f64 / t.as_secs_f64() / 1e9,
        d.writes as f64 / (d.bytes as f64 / MIB),
        cpu as f64 / REPS as f64 / 1e6,
    )
}

/// (c): small calls on the idle connection, then during repeated uploads
/// on it; returns (idle p50, idle p99, busy p50, busy p99, busy max, busy
/// calls).
async fn beside<C: Bulk>(client: &mut C, data: &Data, name: &'static str) -> [f64; 6] {
    let on = AtomicBool::new(true);
    let off = AtomicBool::new(false);
    small_calls(client, name, Duration::from_millis(50), None, &off).await;
    let idle = small_calls(client, name, IDLE, None, &on).await;

    let uploading = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let uploader = {
        let (mut c, data) = (client.clone(), data.clone());
        let (uploading, finished) = (uploading.clone(), finished.clone());
        tokio::spawn(async move {
            let start = Instant::now();
            let mut n = 0;
            while n < 2 || start.elapsed() < BUSY {
                let arg = c.arg(&data.bytes);
                uploading.store(true, Ordering::Release);
                let r = c.upload(arg).await;
                uploading.store(false, Ordering::Release);
                if r != Ok(data.upload) {
                    wrong(name, "upload (c)", r, data.upload);
                }
                n += 1;
            }
            finished.store(true, Ordering::Release);
        })
    };
    let busy = small_calls(client, name, BUSY, Some(&finished), &uploading).await;
    uploader.await.expect("the uploader panicked");
    [
        percentile(&idle, 0.50),
        percentile(&idle, 0.99),
        percentile(&busy, 0.50),
        percentile(&busy, 0.99),
        percentile(&busy, 1.0),
        busy.len() as f64,
    ]
}

impl WithBulk<BulkSample> for MeasureBulk {
    async fn run<C: Bulk>(self, mut client: C, meter: &dyn Meter) -> BulkSample {
        let MeasureBulk { data, name, steps } = self;
        let nan = f64::NAN;
        let mut s = BulkSample::default();
        (s.up_gbps, s.up_writes, s.up_cpu_ms) = if steps.a && C::UPLOADS {
            transfers(&mut client, &data, name, meter, false).await
        } else {
            (nan, nan, nan)
        };
        (s.st_gbps, s.st_writes, s.st_cpu_ms) = if steps.b {
            transfers(&mut client, &data, name, meter, true).await
        } else {
            (nan, nan, nan)
        };
        [
            s.idle_p50,
            s.idle_p99,
            s.busy_p50,
            s.busy_p99,
            s.busy_max,
            s.busy_calls,
        ] = if steps.c && C::HAS_CALLS && C::UPLOADS {
            beside(&mut client, &data, name).await
        } else {
            [nan; 6]
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Err(e) = meter.check() {
            eprintln!("warning: {name}: byte counts: {e}");
        }
        s
    }
}

/// Runs the bulk section: `runs` interleaved runs of every system whose
/// name starts with one of the `only` prefixes (all if empty); returns the
/// report.
pub(super) async fn bench(runs: usize, only: &str) -> String {
    let steps = Steps::from_env();
    let data = Data::new();
    let mut results: Vec<(BulkSystem, Vec<BulkSample>)> = BulkSystem::ALL
        .iter()
        .filter(|s| zerowire_bench::rpc::selected(only, s.name()))
        .map(|&s| (s, Vec::new()))
        .collect();
    for run in 1..=runs {
        for (sys, samples) in &mut results {
            let t = Instant::now();
            let m = MeasureBulk {
                data: data.clone(),
                name: sys.name(),
                steps,
            };
            let s = with_bulk_system(*sys, m)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            eprintln!(
                "bulk run {run}/{runs}: {:<50} (a) {:>6.2} GB/s {:>6.2} writes/MiB {:>5.0} ms CPU  \
                 (b) {:>6.2} GB/s {:>6.2} writes/MiB {:>5.0} ms CPU  (c) idle p50/p99 {:.1}/{:.1} µs, \
                 during upload {:.1}/{:.1} µs, max {:.0} µs ({} calls)  ({:.1} s)",
                sys.name(),
                s.up_gbps,
                s.up_writes,
                s.up_cpu_ms,
                s.st_gbps,
                s.st_writes,
                s.st_cpu_ms,
                s.idle_p50,
                s.idle_p99,
                s.busy_p50,
                s.busy_p99,
                s.busy_max,
                s.busy_calls,
                t.elapsed().as_secs_f64()
            );
            samples.push(s);
        }
    }
    report(runs, &results)
}

type Metric = fn(&BulkSample) -> f64;

/// A row label in backticks, so markdown shows `Vec<u8>` as written.
fn code(label: &str) -> String {
    format!("`{label}`")
}

fn col(samples: &[BulkSample], f: Metric) -> Vec<f64> {
    samples.iter().map(f).collect()
}

/// [`cell`], or "—" for a step that did not run.
fn bcell(v: &[f64], fmt: impl Fn(f64) -> String) -> String {
    if v.iter().all(|x| x.is_nan()) {
        "—".into()
    } else {
        cell(v, fmt)
    }
}

/// `a / b` for metric `f`: the ratio of the medians, and the range of the
/// per-run ratios (run i of both ran side by side).
fn ratio(a: &[BulkSample], b: &[BulkSample], f: Metric) -> (f64, f64, f64) {
    let per_run: Vec<f64> = a.iter().zip(b).map(|(x, y)| f(x) / f(y)).collect();
    let (_, lo, hi) = stats(&per_run);
    (stats(&col(a, f)).0 / stats(&col(b, f)).0, lo, hi)
}

fn report(runs: usize, results: &[(BulkSystem, Vec<BulkSample>)]) -> String {
    let get = |sys: BulkSystem| {
        results
            .iter()
            .find(|(s, _)| *s == sys)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Bulk transfers over loopback TCP, one connection per system, same runtime. {runs} \
         interleaved runs; each cell is the median over the runs with (min–max). (a) one \
         {} MiB upload answered with a small check, {REPS} measured per run; (b) {FRAMES} \
         frames of {} MiB ({} MiB), {REPS} measured per run; calls-based (b) rows keep \
         {FRAMES_IN_FLIGHT} calls in flight. GB/s = 10^9 bytes of payload per second; \
         writes/MiB = write system calls of the sending side (the client) per MiB it wrote; \
         CPU ms = CPU time of the whole process (client and server) per 64 MiB transfer.\n",
        UPLOAD_LEN >> 20,
        FRAME_LEN >> 20,
        (FRAMES * FRAME_LEN) >> 20,
    );
    let _ = writeln!(
        o,
        "| system | (a) 64 MiB upload: GB/s | (a) writes/MiB | (a) CPU ms | \
         (b) 64 × 1 MiB: GB/s | (b) writes/MiB | (b) CPU ms |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|");
    for (sys, samples) in results {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            code(sys.name()),
            bcell(&col(samples, |s| s.up_gbps), |v| format!("{v:.2}")),
            bcell(&col(samples, |s| s.up_writes), |v| format!("{v:.2}")),
            bcell(&col(samples, |s| s.up_cpu_ms), |v| format!("{v:.0}")),
            bcell(&col(samples, |s| s.st_gbps), |v| format!("{v:.2}")),
            bcell(&col(samples, |s| s.st_writes), |v| format!("{v:.2}")),
            bcell(&col(samples, |s| s.st_cpu_ms), |v| format!("{v:.0}")),
        );
    }

    // Targets and ratios, per zerowire row.
    let zws = [
        BulkSystem::Zerowire,
        BulkSystem::ZerowireFnBytes,
        BulkSystem::ZerowireBigChunks,
        BulkSystem::ZerowireStream,
        BulkSystem::ZerowireStreamBigChunks,
    ];
    let _ = write!(o, "\n| zerowire against |");
    for z in zws {
        let _ = write!(o, " {} | verdict |", code(z.name()));
    }
    let _ = write!(o, "\n|---|");
    for _ in zws {
        let _ = write!(o, "---:|---|");
    }
    let _ = writeln!(o);
    let fmt = |(r, lo, hi): (f64, f64, f64)| format!("{r:.2}x (runs {lo:.2}–{hi:.2}x)");
    let peers: [(BulkSystem, &str, Option<f64>); 4] = [
        (BulkSystem::Raw, ">= 0.8x", Some(0.8)),
        (BulkSystem::Tarpc, ">= 3x", Some(3.0)),
        (BulkSystem::TarpcBytes, "no target", None),
        (BulkSystem::Tonic, "no target", None),
    ];
    let parts: [(&str, Metric); 2] = [
        ("(a) upload", |s| s.up_gbps),
        ("(b) 1 MiB frames", |s| s.st_gbps),
    ];
    for (part, f) in parts {
        for (peer, label, min) in peers {
            let other = get(peer);
            let _ = write!(o, "| {part}: {} ({label}) |", code(peer.name()));
            for z in zws {
                let zw = get(z);
                if zw.is_empty() || other.is_empty() || !f(&zw[0]).is_finite() {
                    let _ = write!(o, " — | not measured |");
                    continue;
                }
                let r = ratio(zw, other, f);
                let v = match min {
                    Some(min) => verdict(r.0 >= min),
                    None => "—",
                };
                let _ = write!(o, " {} | {v} |", fmt(r));
            }
            o.push('\n');
        }
    }

    // (c)
    let _ = writeln!(
        o,
        "\n(c) small calls (`add3`, one at a time) on the connection of a 64 MiB upload, \
         µs; idle: the same connection with no transfer, same run.\n"
    );
    let _ = writeln!(
        o,
        "| system | idle p50 | idle p99 | during upload p50 | during upload p99 \
         | during upload max | calls during upload (per run) |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|");
    for (sys, samples) in results {
        if samples.first().is_none_or(|s| s.busy_calls.is_nan()) {
            continue;
        }
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            code(sys.name()),
            bcell(&col(samples, |s| s.idle_p50), |v| format!("{v:.1}")),
            bcell(&col(samples, |s| s.idle_p99), |v| format!("{v:.1}")),
            bcell(&col(samples, |s| s.busy_p50), |v| format!("{v:.1}")),
            bcell(&col(samples, |s| s.busy_p99), |v| format!("{v:.1}")),
            bcell(&col(samples, |s| s.busy_max), |v| format!("{v:.0}")),
            bcell(&col(samples, |s| s.busy_calls), |v| format!("{v:.0}")),
        );
    }
    o
}
