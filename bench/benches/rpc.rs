//! `add3` over loopback TCP: zerowire against raw TCP (two write
//! disciplines), tarpc and tonic, client and server in this process on one
//! tokio runtime with 2 worker threads.
//!
//! `cargo bench -p zerowire-bench --bench rpc`
//!
//! For each system, in each of [`RUNS`] interleaved runs (every system once,
//! then again, ...): start its server, connect ONE client connection, check
//! `add3(1, 2, 3) == 6`, then
//!
//! 1. one call in flight: one task calls in a loop, each call timed
//!    ([`WARMUP`] unrecorded, then [`MEASURE`] recorded);
//! 2. 256 in flight: 256 tasks, each looping on a clone of the one client
//!    ([`WARMUP`], then [`MEASURE`]).
//!
//! Every result is checked (`add3(k, x, y) == k + x + y`); a wrong one aborts
//! the bench. Bytes (both directions) and write calls (both sockets) are
//! counted over the measured phases. Prints a markdown table of medians with
//! min–max over the runs, then the targets.
//!
//! Then, in the same process and run, the bulk-transfer section (issue 4:
//! a 64 MiB upload, 64 frames of 1 MiB, small-call latency during an
//! upload; see `rpc/bulk.rs`).
//!
//! Environment overrides for quick checks: `RPC_BENCH_RUNS` (both
//! sections), `RPC_BENCH_WARMUP_MS`, `RPC_BENCH_MEASURE_MS`,
//! `RPC_BENCH_ONLY` (comma-separated prefixes of the system names, e.g.
//! `zerowire,raw`, or whole names ending in `$`, e.g. `zerowire$`; both
//! sections) and `RPC_BENCH_PART` (`calls`, `bulk` or
//! `all`, the default).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zerowire_bench::rpc::{with_system, Add3, IoCounts, Meter, System, WithClient};

#[path = "rpc/bulk.rs"]
mod bulk;

/// Interleaved runs. Five, not three: under the 2-worker runtime some
/// systems (tarpc, tonic, zerowire with `max_calls` 256, its default) switch between two
/// scheduling modes from run to run, and a median of three is one run away
/// from the other mode.
const RUNS: usize = 5;
/// Unrecorded calls before each measured phase.
const WARMUP: Duration = Duration::from_millis(300);
/// Length of each measured phase.
const MEASURE: Duration = Duration::from_millis(1500);
/// Tasks in the pipelined phase.
const IN_FLIGHT: u32 = 256;
/// Count bounds: at most this many calls per phase (memory of the latency
/// record, and a guard against a system that "answers" without working).
const MAX_CALLS_SINGLE: usize = 5_000_000;
const MAX_CALLS_PER_TASK: u64 = 1_000_000;

#[derive(Clone, Copy)]
struct Config {
    runs: usize,
    warmup: Duration,
    measure: Duration,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One system, one run.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    /// One in flight: calls per second.
    single_rate: f64,
    /// One in flight: latency percentiles, µs.
    p50_us: f64,
    p99_us: f64,
    /// 256 in flight: calls per second.
    pipe_rate: f64,
    /// Bytes on the wire per call (both directions).
    bytes_single: f64,
    bytes_pipe: f64,
    /// Write calls per call (both sides).
    writes_single: f64,
    writes_pipe: f64,
}

fn per_call(d: IoCounts, calls: u64) -> (f64, f64) {
    let n = calls.max(1) as f64;
    (d.bytes as f64 / n, d.writes as f64 / n)
}

fn wrong(system: &str, got: Result<u32, String>, want: u32) -> ! {
    panic!("{system}: add3 returned {got:?}, expected {want}")
}

/// One call in flight for `d`; returns the number of calls, the elapsed
/// time and (if `record`) every call's latency in ns.
async fn single<C: Add3>(
    client: &mut C,
    name: &str,
    d: Duration,
    record: bool,
) -> (u64, Duration, Vec<u32>) {
    let mut lat = Vec::with_capacity(if record { MAX_CALLS_SINGLE } else { 0 });
    let start = Instant::now();
    let end = start + d;
    let mut n = 0u64;
    let mut k = 0u32;
    loop {
        let t0 = Instant::now();
        if t0 >= end || n as usize >= MAX_CALLS_SINGLE {
            break;
        }
        let r = client.add3(k, 1000, 2).await;
        let t1 = Instant::now();
        let want = k.wrapping_add(1002);
        if r != Ok(want) {
            wrong(name, r, want);
        }
        if record {
            lat.push(u32::try_from((t1 - t0).as_nanos()).unwrap_or(u32::MAX));
        }
        n += 1;
        k = k.wrapping_add(1);
    }
    (n, start.elapsed(), lat)
}

/// [`IN_FLIGHT`] tasks on clones of `client` for `d`; returns the calls and
/// the elapsed time (spawn of the first task to the end of the last).
async fn pipelined<C: Add3>(client: &C, name: &'static str, d: Duration) -> (u64, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..IN_FLIGHT)
        .map(|t| {
            let mut c = client.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                let mut k = t.wrapping_mul(7919);
                while !stop.load(Ordering::Relaxed) && n < MAX_CALLS_PER_TASK {
                    let r = c.add3(k, t, 5).await;
                    let want = k.wrapping_add(t).wrapping_add(5);
                    if r != Ok(want) {
                        wrong(name, r, want);
                    }
                    n += 1;
                    k = k.wrapping_add(1);
                }
                n
            })
        })
        .collect();
    tokio::time::sleep(d).await;
    stop.store(true, Ordering::Relaxed);
    let mut calls = 0;
    for t in tasks {
        calls += t.await.expect("a caller task panicked");
    }
    (calls, start.elapsed())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

struct Measure {
    cfg: Config,
    name: &'static str,
}

impl WithClient<Sample> for Measure {
    async fn run<C: Add3>(self, mut client: C, meter: &dyn Meter) -> Sample {
        let Measure { cfg, name } = self;
        let mut s = Sample::default();

        single(&mut client, name, cfg.warmup, false).await;
        let before = meter.counts();
        let (n, t, mut lat) = single(&mut client, name, cfg.measure, true).await;
        (s.bytes_single, s.writes_single) = per_call(meter.counts() - before, n);
        s.single_rate = n as f64 / t.as_secs_f64();
        lat.sort_unstable();
        s.p50_us = percentile(&lat, 0.50);
        s.p99_us = percentile(&lat, 0.99);
        drop(lat);

        pipelined(&client, name, cfg.warmup).await;
        let before = meter.counts();
        let (n, t) = pipelined(&client, name, cfg.measure).await;
        (s.bytes_pipe, s.writes_pipe) = per_call(meter.counts() - before, n);
        s.pipe_rate = n as f64 / t.as_secs_f64();

        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Err(e) = meter.check() {
            eprintln!("warning: {name}: byte counts: {e}");
        }
        s
    }
}

/// Median, min and max of one metric over the runs.
fn stats(v: &[f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (med, v[0], v[n - 1])
}

/// `value` in calls/s as "12.3 k" / "1.23 M".
fn rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else {
        format!("{:.1} k", v / 1e3)
    }
}

fn cell(v: &[f64], fmt: impl Fn(f64) -> String) -> String {
    let (med, lo, hi) = stats(v);
    format!("{} ({}–{})", fmt(med), fmt(lo), fmt(hi))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "nproc {cores}, CPU {cpu}, {}",
        option_env!("BENCH_RUSTC_VERSION").unwrap_or("rustc unknown")
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// "met" / "missed" for `ok`, with the value that decided it.
fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

fn report(cfg: Config, results: &[(System, Vec<Sample>)]) -> String {
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(
        o,
        "add3 over loopback TCP, one process, one tokio runtime with 2 worker threads, \
         one connection per system. {} interleaved runs; each cell is the median over the \
         runs with (min–max). Phases: {} ms warm-up, {} ms measured.\n",
        cfg.runs,
        cfg.warmup.as_millis(),
        cfg.measure.as_millis()
    );
    let _ = writeln!(
        o,
        "| system | 1 in flight: calls/s | p50 µs | p99 µs | 256 in flight: calls/s \
         | bytes/call (1) | bytes/call (256) | writes/call (1) | writes/call (256) |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (sys, samples) in results {
        if samples.is_empty() {
            let _ = writeln!(
                o,
                "| {} | not yet measured (transport pending) | | | | | | | |",
                sys.name()
            );
            continue;
        }
        let col = |f: fn(&Sample) -> f64| samples.iter().map(f).collect::<Vec<_>>();
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            sys.name(),
            cell(&col(|s| s.single_rate), rate),
            cell(&col(|s| s.p50_us), |v| format!("{v:.1}")),
            cell(&col(|s| s.p99_us), |v| format!("{v:.1}")),
            cell(&col(|s| s.pipe_rate), rate),
            cell(&col(|s| s.bytes_single), |v| format!("{v:.1}")),
            cell(&col(|s| s.bytes_pipe), |v| format!("{v:.1}")),
            cell(&col(|s| s.writes_single), |v| format!("{v:.2}")),
            cell(&col(|s| s.writes_pipe), |v| format!("{v:.4}")),
        );
    }
    out.push('\n');
    out.push_str(&targets(results));
    out
}

/// One metric of a [`Sample`].
type Metric = fn(&Sample) -> f64;

/// The targets for each zerowire row, each judged on the medians, with the
/// per-run range of the ratio.
fn targets(results: &[(System, Vec<Sample>)]) -> String {
    let get = |sys: System| {
        results
            .iter()
            .find(|(s, _)| *s == sys)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    };
    let zws = [System::Zerowire, System::Zerowire32, System::ZerowireFn];
    let raws = [System::RawIdle, System::RawPerFrame];
    let mut o = String::new();
    let _ = write!(o, "| target |");
    for z in zws {
        let _ = write!(o, " {} | verdict |", z.name());
    }
    let _ = writeln!(o, "\n|---|---:|---|---:|---|---:|---|");

    // zerowire / other for metric `f`: ratio of the medians, and the range
    // of the per-run ratios (runs are interleaved, so run i of both ran
    // side by side).
    let ratio = |zw: &[Sample], other: &[Sample], f: Metric| {
        let med = |v: &[Sample]| stats(&v.iter().map(f).collect::<Vec<_>>()).0;
        let per_run: Vec<f64> = zw.iter().zip(other).map(|(z, b)| f(z) / f(b)).collect();
        let (_, lo, hi) = stats(&per_run);
        (med(zw) / med(other), lo, hi)
    };
    let fmt = |(r, lo, hi): (f64, f64, f64)| format!("{r:.2}x (runs {lo:.2}–{hi:.2}x)");
    // One row: label, then per zerowire system the value and whether it met.
    // `others`: the systems the target compares with (all must have run).
    let mut row = |label: String, others: &[System], cell: &dyn Fn(&[Sample]) -> (String, bool)| {
        let _ = write!(o, "| {label} |");
        for z in zws {
            let zw = get(z);
            if zw.is_empty() || !others.iter().all(|&o| !get(o).is_empty()) {
                let _ = write!(o, " — | not measured |");
            } else {
                let (v, ok) = cell(zw);
                let _ = write!(o, " {v} | {} |", verdict(ok));
            }
        }
        o.push('\n');
    };
    for raw in raws {
        row(format!("(a) p50 <= 1.2x {}", raw.name()), &[raw], &|zw| {
            let r = ratio(zw, get(raw), |s| s.p50_us);
            (fmt(r), r.0 <= 1.2)
        });
    }
    row(
        "(b) 256 in flight >= 5x tarpc".into(),
        &[System::Tarpc],
        &|zw| {
            let r = ratio(zw, get(System::Tarpc), |s| s.pipe_rate);
            (fmt(r), r.0 >= 5.0)
        },
    );
    for raw in raws {
        row(
            format!("(b, stretch) 256 in flight >= 0.25x {}", raw.name()),
            &[raw],
            &|zw| {
                let r = ratio(zw, get(raw), |s| s.pipe_rate);
                (fmt(r), r.0 >= 0.25)
            },
        );
    }
    let bytes: [(&str, Metric); 2] = [
        ("1 in flight", |s| s.bytes_single),
        ("256 in flight", |s| s.bytes_pipe),
    ];
    for (label, f) in bytes {
        row(format!("(c) <= 24 bytes per call, {label}"), &[], &|zw| {
            let (m, lo, hi) = stats(&zw.iter().map(f).collect::<Vec<_>>());
            (format!("{m:.1} ({lo:.1}–{hi:.1})"), m <= 24.0)
        });
    }
    row(
        "(d) <= 0.05 writes per call, 256 in flight".into(),
        &[],
        &|zw| {
            let (m, lo, hi) = stats(&zw.iter().map(|s| s.writes_pipe).collect::<Vec<_>>());
            (format!("{m:.4} ({lo:.4}–{hi:.4})"), m <= 0.05)
        },
    );
    o
}

/// Which sections run (`RPC_BENCH_PART`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Calls,
    Bulk,
    All,
}

fn part() -> Part {
    match std::env::var("RPC_BENCH_PART").as_deref() {
        Err(_) | Ok("" | "all") => Part::All,
        Ok("calls") => Part::Calls,
        Ok("bulk") => Part::Bulk,
        Ok(other) => panic!("RPC_BENCH_PART={other}: expected calls, bulk or all"),
    }
}

async fn bench(cfg: Config, part: Part) -> String {
    let only = std::env::var("RPC_BENCH_ONLY").unwrap_or_default();
    let mut out = String::new();
    if part != Part::Bulk {
        out.push_str(&calls(cfg, &only).await);
    }
    if part != Part::Calls {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&bulk::bench(cfg.runs, &only).await);
    }
    out
}

/// The add3 section.
async fn calls(cfg: Config, only: &str) -> String {
    let mut results: Vec<(System, Vec<Sample>)> = System::ALL
        .iter()
        .filter(|s| zerowire_bench::rpc::selected(only, s.name()))
        .map(|&s| (s, Vec::new()))
        .collect();
    for run in 1..=cfg.runs {
        for (sys, samples) in &mut results {
            let t = Instant::now();
            let m = Measure {
                cfg,
                name: sys.name(),
            };
            let s = with_system(*sys, m).await.unwrap_or_else(|e| panic!("{e}"));
            eprintln!(
                "run {run}/{}: {:<34} {:>9}/s  p50 {:>6.1} µs  p99 {:>6.1} µs  \
                 256: {:>9}/s  {:.1}/{:.1} B/call  {:.2}/{:.4} writes/call  ({:.1} s)",
                cfg.runs,
                sys.name(),
                rate(s.single_rate),
                s.p50_us,
                s.p99_us,
                rate(s.pipe_rate),
                s.bytes_single,
                s.bytes_pipe,
                s.writes_single,
                s.writes_pipe,
                t.elapsed().as_secs_f64()
            );
            samples.push(s);
        }
    }
    report(cfg, &results)
}

fn main() {
    let cfg = Config {
        runs: env_or("RPC_BENCH_RUNS", RUNS).max(1),
        warmup: Duration::from_millis(env_or("RPC_BENCH_WARMUP_MS", WARMUP.as_millis() as u64)),
        measure: Duration::from_millis(env_or("RPC_BENCH_MEASURE_MS", MEASURE.as_millis() as u64)),
    };
    let part = part();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let load_before = loadavg();
    let started = Instant::now();
    // Everything, the measuring loops included, runs on the 2 workers.
    let table = rt
        .block_on(async { tokio::spawn(bench(cfg, part)).await })
        .expect("bench task");
    println!("{}", machine());
    println!(
        "load average before {load_before}, after {}; total {:.0} s\n",
        loadavg(),
        started.elapsed().as_secs_f64()
    );
    print!("{table}");
}
