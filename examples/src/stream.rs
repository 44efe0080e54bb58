//! The `stream` example: a "camera" streams 1 MiB frames at a steady rate
//! while the viewer makes small control calls on the same connection.
//!
//! - [`Camera`] is the service: [`frames`](Camera::frames) is a
//!   server-to-client stream (a [`Sink`] parameter), the other methods are
//!   ordinary calls.
//! - [`CameraDevice`] is the camera (one per process, shared by its
//!   connections); [`CameraDevice::session`] is what each connection
//!   serves, [`serve_camera`] serves them all.
//! - [`run_viewer`] is the viewer: it streams, checks every frame, calls the
//!   camera every [`CONTROL_PERIOD`] and measures each call.
//!
//! Frames are cheap to produce: every frame's pixels are a slice of one
//! pre-filled buffer (a [`Bytes`] clone, no copy), at an offset that
//! depends on the frame's sequence number, so consecutive frames differ and
//! the viewer can check that it got the right bytes. On the viewer, the
//! received pixels share the connection's reassembly buffer (no copy
//! either).

use std::collections::VecDeque;
use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use zerowire::proto::Config;
use zerowire::rpc::{CallError, Sink};
use zerowire::Wire;
use zerowire_tcp::{connect, Listener};

/// The size of a frame's pixels: 1 MiB.
pub const FRAME_SIZE: usize = 1 << 20;
/// The highest frame rate the camera accepts.
pub const MAX_FPS: u32 = 1000;
/// The address `stream-camera` listens on and `stream-viewer` connects to
/// by default.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7880";
/// How often the viewer makes a control call.
pub const CONTROL_PERIOD: Duration = Duration::from_millis(20);

/// Frames start at one of this many offsets into the pre-filled buffer.
const OFFSETS: usize = 251;
/// Bytes of a frame the checksum reads (evenly spread, plus the last one).
const SAMPLES: usize = 64;

/// One frame of the camera.
#[derive(Wire, Debug, Clone, PartialEq)]
pub struct Frame {
    /// Sequence number within the stream: 0, 1, 2, ...
    pub seq: u64,
    /// When the frame was captured, in microseconds since the camera
    /// started.
    pub timestamp_us: u64,
    /// The exposure the frame was taken with, in microseconds.
    pub exposure_us: u32,
    /// [`checksum`] of the pixels, computed by the camera.
    pub checksum: u32,
    /// The pixels: [`FRAME_SIZE`] bytes.
    pub pixels: Bytes,
}

/// Why the camera refused a request.
#[derive(Wire, Debug, Clone, PartialEq, Eq)]
pub enum CameraError {
    /// The frame rate is not in `1..=MAX_FPS`.
    BadRate(u32),
    /// The exposure is not in `1..=1_000_000` microseconds.
    BadExposure(u32),
}

impl fmt::Display for CameraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadRate(fps) => write!(f, "frame rate {fps} is not in 1..={MAX_FPS}"),
            Self::BadExposure(us) => write!(f, "exposure {us} us is not in 1..=1000000"),
        }
    }
}

/// What [`Camera::status`] reports.
#[derive(Wire, Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The current exposure, in microseconds.
    pub exposure_us: u32,
    /// Streams running now (all connections).
    pub streams: u32,
    /// Frames sent since the camera started (all connections).
    pub frames_sent: u64,
    /// Time since the camera started, in milliseconds.
    pub uptime_ms: u64,
}

/// What the camera serves.
#[zerowire::service]
pub trait Camera {
    /// Streams frames at `fps` frames per second until the caller cancels
    /// (drops the stream) or calls [`stop`](Camera::stop); the result is
    /// the number of frames this stream sent.
    async fn frames(&self, fps: u32, out: Sink<Frame>) -> Result<u64, CameraError>;
    /// Sets the exposure of the frames from now on; returns it.
    fn set_exposure(&self, us: u32) -> Result<u32, CameraError>;
    /// The camera's state.
    fn status(&self) -> Status;
    /// Ends the streams of this connection (each returns its result after
    /// its last frame); returns how many were running.
    fn stop(&self) -> u32;
}

/// The byte at position `i` of the pre-filled pixel buffer.
pub fn pixel(i: usize) -> u8 {
    // Truncation intended: a cheap pattern that differs between offsets.
    (i as u32).wrapping_mul(0x9e37_79b1).rotate_left(7) as u8
}

/// A checksum of a few bytes of `pixels` (FNV-1a over 64 evenly
/// spread bytes and the last one): cheap enough for every frame.
pub fn checksum(pixels: &[u8]) -> u32 {
    let mut h = 0x811c_9dc5_u32;
    let step = (pixels.len() / SAMPLES).max(1);
    let last = pixels.last().into_iter();
    for &b in pixels.iter().step_by(step).chain(last) {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}

/// What is wrong with a received frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadFrame {
    /// The frame came out of order.
    Sequence {
        /// The sequence number expected.
        expected: u64,
        /// The one received.
        got: u64,
    },
    /// The pixels have the wrong size.
    Size(usize),
    /// The pixels do not match the frame's checksum.
    Checksum {
        /// The frame's sequence number.
        seq: u64,
    },
    /// The pixels are not the ones of this sequence number.
    Content {
        /// The frame's sequence number.
        seq: u64,
    },
    /// The timestamp went backwards.
    Timestamp {
        /// The frame's sequence number.
        seq: u64,
    },
}

impl fmt::Display for BadFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sequence { expected, got } => {
                write!(f, "expected frame {expected}, got frame {got}")
            }
            Self::Size(n) => write!(f, "a frame of {n} bytes, not {FRAME_SIZE}"),
            Self::Checksum { seq } => write!(f, "frame {seq}: wrong checksum"),
            Self::Content { seq } => write!(f, "frame {seq}: pixels of another frame"),
            Self::Timestamp { seq } => write!(f, "frame {seq}: timestamp went backwards"),
        }
    }
}

impl std::error::Error for BadFrame {}

/// Checks a received frame: the sequence number is the next one, the
/// timestamp is not before `last_timestamp_us`, and the pixels have the
/// right size, checksum and pattern for the sequence number.
pub fn check_frame(
    frame: &Frame,
    expected_seq: u64,
    last_timestamp_us: u64,
) -> Result<(), BadFrame> {
    let seq = frame.seq;
    if seq != expected_seq {
        return Err(BadFrame::Sequence {
            expected: expected_seq,
            got: seq,
        });
    }
    if frame.timestamp_us < last_timestamp_us {
        return Err(BadFrame::Timestamp { seq });
    }
    let px = &frame.pixels;
    if px.len() != FRAME_SIZE {
        return Err(BadFrame::Size(px.len()));
    }
    if checksum(px) != frame.checksum {
        return Err(BadFrame::Checksum { seq });
    }
    let offset = offset(seq);
    let probes = [0, 1, FRAME_SIZE / 2 + 3, FRAME_SIZE - 1];
    if probes.iter().any(|&i| px[i] != pixel(offset + i)) {
        return Err(BadFrame::Content { seq });
    }
    Ok(())
}

/// Where frame `seq` starts in the pre-filled buffer.
fn offset(seq: u64) -> usize {
    // The remainder is below OFFSETS: the cast cannot truncate.
    (seq % OFFSETS as u64) as usize
}

/// The camera's state, shared by its connections.
struct Shared {
    started: Instant,
    exposure_us: AtomicU32,
    streams: AtomicU32,
    frames_sent: AtomicU64,
    /// `FRAME_SIZE + OFFSETS` bytes of [`pixel`]s, filled once.
    buffer: Bytes,
}

/// The camera: one per process, shared by every connection.
#[derive(Clone)]
pub struct CameraDevice(Arc<Shared>);

impl Default for CameraDevice {
    fn default() -> Self {
        Self::new()
    }
}

impl CameraDevice {
    /// A camera with an exposure of 10 ms; fills its pixel buffer.
    pub fn new() -> Self {
        let buffer: Vec<u8> = (0..FRAME_SIZE + OFFSETS).map(pixel).collect();
        Self(Arc::new(Shared {
            started: Instant::now(),
            exposure_us: AtomicU32::new(10_000),
            streams: AtomicU32::new(0),
            frames_sent: AtomicU64::new(0),
            buffer: Bytes::from(buffer),
        }))
    }

    /// What one connection serves (its [`Camera::stop`] ends only its own
    /// streams).
    pub fn session(&self) -> Session {
        Session {
            device: self.clone(),
            stop: watch::channel(0).0,
        }
    }

    /// Frame `seq`: a new header over a slice of the pre-filled buffer.
    fn capture(&self, seq: u64) -> Frame {
        let shared = &*self.0;
        let start = offset(seq);
        let pixels = shared.buffer.slice(start..start + FRAME_SIZE);
        Frame {
            seq,
            timestamp_us: u64::try_from(shared.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            exposure_us: shared.exposure_us.load(Ordering::Relaxed),
            checksum: checksum(&pixels),
            pixels,
        }
    }
}

/// A connection's view of the camera: what [`CameraService`] serves.
pub struct Session {
    device: CameraDevice,
    /// Bumped by `stop`; each stream of the connection watches it.
    stop: watch::Sender<u64>,
}

/// Counts a running stream while it lives.
struct Running(Arc<Shared>);

impl Running {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.streams.fetch_add(1, Ordering::Relaxed);
        Self(shared.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Camera for Session {
    async fn frames(&self, fps: u32, mut out: Sink<Frame>) -> Result<u64, CameraError> {
        if !(1..=MAX_FPS).contains(&fps) {
            return Err(CameraError::BadRate(fps));
        }
        // Dropped with the handler, also when the caller cancels.
        let _running = Running::new(&self.device.0);
        let mut stop = self.stop.subscribe();
        let mut tick = tokio::time::interval(Duration::from_secs(1) / fps);
        // A camera that fell behind (a slow receiver holds `send` back)
        // skips the frames it missed instead of sending a burst.
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut seq = 0;
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                _ = tick.tick() => {}
            }
            // Fails once the caller has cancelled.
            if out.send(self.device.capture(seq)).await.is_err() {
                break;
            }
            seq += 1;
            self.device.0.frames_sent.fetch_add(1, Ordering::Relaxed);
        }
        Ok(seq)
    }

    fn set_exposure(&self, us: u32) -> Result<u32, CameraError> {
        if !(1..=1_000_000).contains(&us) {
            return Err(CameraError::BadExposure(us));
        }
        self.device.0.exposure_us.store(us, Ordering::Relaxed);
        Ok(us)
    }

    fn status(&self) -> Status {
        let shared = &*self.device.0;
        Status {
            exposure_us: shared.exposure_us.load(Ordering::Relaxed),
            streams: shared.streams.load(Ordering::Relaxed),
            frames_sent: shared.frames_sent.load(Ordering::Relaxed),
            uptime_ms: u64::try_from(shared.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn stop(&self) -> u32 {
        let running = u32::try_from(self.stop.receiver_count()).unwrap_or(u32::MAX);
        self.stop.send_modify(|generation| *generation += 1);
        running
    }
}

/// The camera process: serves one [`CameraDevice`] to every connection,
/// until the future is dropped.
pub async fn serve_camera(listener: Listener) {
    let device = CameraDevice::new();
    listener
        .serve(move || CameraService::new(device.session()))
        .await;
}

/// How the viewer shows its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// One line rewritten in place (`\r`) five times a second: for a
    /// terminal.
    InPlace,
    /// A line a second: for a log or a pipe.
    Lines,
    /// Nothing.
    Off,
}

/// What `stream-viewer` was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewerOptions {
    /// The camera's address (unused with `spawn_camera`).
    pub addr: String,
    /// Start a camera in this process and view it.
    pub spawn_camera: bool,
    /// How long to stream.
    pub duration: Duration,
    /// The frame rate to ask for.
    pub fps: u32,
    /// How to show progress.
    pub progress: Progress,
}

/// `stream-viewer`'s usage line.
pub const VIEWER_USAGE: &str =
    "usage: stream-viewer [ADDR] [--spawn-camera] [--seconds N] [--fps N] (ADDR defaults to 127.0.0.1:7880)";

impl ViewerOptions {
    /// Parses the arguments after the program name: `[ADDR]
    /// [--spawn-camera] [--seconds N] [--fps N]` (defaults: 127.0.0.1:7880,
    /// 5 s, 30 fps). The progress shows [`Progress::Lines`].
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut options = Self {
            addr: DEFAULT_ADDR.to_string(),
            spawn_camera: false,
            duration: Duration::from_secs(5),
            fps: 30,
            progress: Progress::Lines,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--spawn-camera" => options.spawn_camera = true,
                "--seconds" => {
                    let seconds = args
                        .next()
                        .and_then(|s| s.parse::<f64>().ok())
                        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
                        .ok_or("--seconds needs a positive number")?;
                    options.duration = Duration::from_secs_f64(seconds);
                }
                "--fps" => {
                    options.fps = args
                        .next()
                        .and_then(|s| s.parse().ok())
                        .ok_or("--fps needs a whole number")?;
                }
                a if a.starts_with("--") => return Err(format!("unknown option {a}")),
                a => options.addr = a.to_string(),
            }
        }
        Ok(options)
    }
}

/// What a viewer run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// How long the viewer streamed.
    pub elapsed: Duration,
    /// Frames received and checked.
    pub frames: u64,
    /// Pixel bytes received.
    pub bytes: u64,
    /// The stream's result: frames the camera sent.
    pub camera_sent: u64,
    /// Control calls made.
    pub calls: u64,
    /// Median control-call latency.
    pub p50: Duration,
    /// 99th percentile of the control-call latency.
    pub p99: Duration,
    /// Slowest control call.
    pub max: Duration,
    /// The camera's status after the stream ended.
    pub status: Status,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        let mib = self.bytes as f64 / f64::from(1 << 20);
        writeln!(
            f,
            "stream: {} frames ({mib:.1} MiB) in {secs:.2} s: {:.1} MiB/s, {:.1} frames/s; every frame checked (sequence, size, checksum, pattern)",
            self.frames,
            mib / secs,
            self.frames as f64 / secs,
        )?;
        writeln!(
            f,
            "control: {} calls on the same connection, one every {} ms: p50 {}, p99 {}, max {}",
            self.calls,
            CONTROL_PERIOD.as_millis(),
            ms(self.p50),
            ms(self.p99),
            ms(self.max),
        )?;
        write!(
            f,
            "camera: the stream ended with Ok({}) (frames sent, all received); exposure {} us, streams running: {}",
            self.camera_sent, self.status.exposure_us, self.status.streams,
        )
    }
}

/// Why the viewer failed.
pub type ViewerError = Box<dyn std::error::Error + Send + Sync>;

/// A duration in milliseconds, for the progress line.
fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// The `p`-th percentile (nearest rank) of sorted durations.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    match sorted.len() {
        0 => Duration::ZERO,
        n => sorted[((n * p).div_ceil(100)).clamp(1, n) - 1],
    }
}

/// Control-call latencies, written by the control task.
#[derive(Default)]
struct Latencies {
    /// When each call of the last second ended, and how long it took.
    recent: VecDeque<(Instant, Duration)>,
    /// Every call's latency.
    all: Vec<Duration>,
    max: Duration,
    /// The first failed call.
    failure: Option<String>,
}

impl Latencies {
    fn record(&mut self, at: Instant, took: Duration) {
        self.recent.push_back((at, took));
        self.all.push(took);
        self.max = self.max.max(took);
    }

    /// p50 and p99 of the calls that ended in the last second.
    fn last_second(&mut self, now: Instant) -> (Duration, Duration) {
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
        let mut took: Vec<_> = self.recent.iter().map(|(_, d)| *d).collect();
        took.sort_unstable();
        (percentile(&took, 50), percentile(&took, 99))
    }
}

/// The control task: a call every [`CONTROL_PERIOD`] until `done` is set,
/// alternating `status` and `set_exposure`, each one timed.
async fn control(
    camera: CameraClient<zerowire_tcp::Peer>,
    latencies: Arc<Mutex<Latencies>>,
    mut done: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(CONTROL_PERIOD);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut n = 0u32;
    loop {
        tokio::select! {
            _ = done.changed() => return,
            _ = tick.tick() => {}
        }
        let started = Instant::now();
        let outcome = if n % 2 == 0 {
            camera.status().await.map(|_| ()).map_err(|e| e.to_string())
        } else {
            // 1 ms to 20 ms, stepping by 1 ms.
            let us = 1_000 * (n / 2 % 20 + 1);
            match camera.set_exposure(us).await {
                Ok(set) if set == us => Ok(()),
                Ok(set) => Err(format!("set_exposure({us}) returned {set}")),
                Err(e) => Err(format!("set_exposure({us}): {e}")),
            }
        };
        let ended = Instant::now();
        let mut l = latencies.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(()) => l.record(ended, ended - started),
            Err(e) => {
                l.failure.get_or_insert(format!("control call failed: {e}"));
                return;
            }
        }
        n += 1;
    }
}

/// Received frames of the last second, for the throughput.
#[derive(Default)]
struct Throughput {
    recent: VecDeque<(Instant, usize)>,
}

impl Throughput {
    fn record(&mut self, at: Instant, bytes: usize) {
        self.recent.push_back((at, bytes));
    }

    /// MiB/s over the last second (or since `start`, if shorter).
    fn mib_per_s(&mut self, now: Instant, start: Instant) -> f64 {
        let window = Duration::from_secs(1);
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > window)
        {
            self.recent.pop_front();
        }
        let bytes: usize = self.recent.iter().map(|(_, b)| b).sum();
        let secs = now.duration_since(start).min(window).as_secs_f64();
        if secs == 0.0 {
            0.0
        } else {
            bytes as f64 / f64::from(1 << 20) / secs
        }
    }
}

/// The frames received so far.
#[derive(Default)]
struct Received {
    frames: u64,
    bytes: u64,
    last_timestamp_us: u64,
    throughput: Throughput,
}

impl Received {
    /// Checks the next frame and counts it.
    fn take(&mut self, frame: &Frame) -> Result<(), BadFrame> {
        check_frame(frame, self.frames, self.last_timestamp_us)?;
        self.last_timestamp_us = frame.timestamp_us;
        self.frames += 1;
        self.bytes += frame.pixels.len() as u64;
        self.throughput.record(Instant::now(), frame.pixels.len());
        Ok(())
    }
}

/// The viewer: connects to the camera (or starts one, with
/// `spawn_camera`), streams for `duration` while a second task makes a
/// control call every [`CONTROL_PERIOD`] on the same connection, shows
/// the progress, then stops the stream and checks that every frame the
/// camera sent arrived intact.
pub async fn run_viewer(options: &ViewerOptions) -> Result<Summary, ViewerError> {
    let mut camera_task = None;
    let addr = if options.spawn_camera {
        let listener = Listener::bind("127.0.0.1:0", Config::default()).await?;
        let addr = listener.local_addr()?.to_string();
        camera_task = Some(tokio::spawn(serve_camera(listener)));
        addr
    } else {
        options.addr.clone()
    };
    let result = view(&addr, options).await;
    if let Some(task) = camera_task {
        task.abort();
    }
    result
}

async fn view(addr: &str, options: &ViewerOptions) -> Result<Summary, ViewerError> {
    let peer = connect(addr, (), Config::default())
        .await
        .map_err(|e| format!("cannot connect to the camera at {addr}: {e}"))?;
    let camera = CameraClient::new(peer.clone());
    // A control call that takes a second is a failure of the example.
    let controller = camera.clone().with_timeout(Duration::from_secs(1));
    println!(
        "viewer: connected to the camera at {}; streaming {} fps of {} KiB frames for {:.1} s",
        peer.peer_addr(),
        options.fps,
        FRAME_SIZE >> 10,
        options.duration.as_secs_f64()
    );

    let latencies = Arc::new(Mutex::new(Latencies::default()));
    let (done, done_rx) = watch::channel(false);
    let control_task = tokio::spawn(control(controller.clone(), latencies.clone(), done_rx));

    let mut frames = camera.frames(options.fps);
    let start = Instant::now();
    let deadline = tokio::time::sleep(options.duration);
    tokio::pin!(deadline);
    let mut progress = tokio::time::interval(match options.progress {
        Progress::InPlace => Duration::from_millis(200),
        _ => Duration::from_secs(1),
    });
    progress.reset(); // no line at 0 s
    let mut got = Received::default();
    let streamed = loop {
        tokio::select! {
            item = frames.next() => match item {
                Some(Ok(frame)) => got.take(&frame)?,
                Some(Err(CallError::Remote(e))) => {
                    return Err(format!("the camera refused the stream: {e}").into())
                }
                Some(Err(e)) => return Err(format!("the stream failed: {e}").into()),
                None => return Err("the camera ended the stream early".into()),
            },
            _ = progress.tick(), if options.progress != Progress::Off => {
                let now = Instant::now();
                let rate = got.throughput.mib_per_s(now, start);
                let mut l = latencies.lock().unwrap_or_else(|e| e.into_inner());
                let (p50, p99) = l.last_second(now);
                let line = format!(
                    "{:5.1} s | {} frames, {rate:6.1} MiB/s | control: {} calls, p50 {}, p99 {} (last 1 s), max {}",
                    now.duration_since(start).as_secs_f64(),
                    got.frames,
                    l.all.len(),
                    ms(p50),
                    ms(p99),
                    ms(l.max),
                );
                drop(l);
                let mut stdout = std::io::stdout().lock();
                if options.progress == Progress::InPlace {
                    // `\x1b[K` clears what a longer previous line left.
                    write!(stdout, "\r{line}\x1b[K")?;
                } else {
                    writeln!(stdout, "{line}")?;
                }
                stdout.flush()?;
            }
            () = &mut deadline => break start.elapsed(),
        }
    };
    if options.progress == Progress::InPlace {
        println!();
    }

    // Stop the control task (it finishes its call), then the stream: the
    // camera ends it after its last frame, and its result is the number of
    // frames it sent, each of which must have arrived.
    let _ = done.send(true);
    control_task.await?;
    let stopped = controller.stop().await?;
    if stopped != 1 {
        return Err(format!("stop found {stopped} streams, not 1").into());
    }
    let drained = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(item) = frames.next().await {
            got.take(&item.map_err(|e| format!("the stream failed: {e}"))?)?;
        }
        frames
            .result()
            .await
            .map_err(|e| ViewerError::from(format!("the stream's result: {e}")))
    })
    .await;
    let camera_sent = drained.map_err(|_| "the stream did not end after stop")??;
    if camera_sent != got.frames {
        let received = got.frames;
        return Err(format!("the camera sent {camera_sent} frames, {received} arrived").into());
    }
    let status = controller.status().await?;

    // The control task has ended: take what it measured.
    let mut l = std::mem::take(&mut *latencies.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some(failure) = l.failure.take() {
        return Err(failure.into());
    }
    if l.all.is_empty() {
        return Err("no control call was made".into());
    }
    l.all.sort_unstable();
    let summary = Summary {
        elapsed: streamed,
        frames: got.frames,
        bytes: got.bytes,
        camera_sent,
        calls: l.all.len() as u64,
        p50: percentile(&l.all, 50),
        p99: percentile(&l.all, 99),
        max: l.max,
        status,
    };
    peer.close();
    println!("viewer: connection closed ({})", peer.closed().await);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_check_and_corruption_is_caught() {
        let camera = CameraDevice::new();
        let (f0, f1) = (camera.capture(0), camera.capture(1));
        assert_eq!(check_frame(&f0, 0, 0), Ok(()));
        assert_eq!(check_frame(&f1, 1, f0.timestamp_us), Ok(()));
        assert!(matches!(
            check_frame(&f1, 2, 0),
            Err(BadFrame::Sequence { .. })
        ));
        // Frame 1's pixels under frame 0's header.
        let swapped = Frame {
            checksum: f1.checksum,
            pixels: f1.pixels.clone(),
            ..f0.clone()
        };
        assert_eq!(
            check_frame(&swapped, 0, 0),
            Err(BadFrame::Content { seq: 0 })
        );
        // A flipped sampled byte.
        let mut px = f0.pixels.to_vec();
        px[FRAME_SIZE / SAMPLES] ^= 1;
        let flipped = Frame {
            pixels: px.into(),
            ..f0.clone()
        };
        assert_eq!(
            check_frame(&flipped, 0, 0),
            Err(BadFrame::Checksum { seq: 0 })
        );
    }

    #[test]
    fn options() {
        let parse = |a: &[&str]| ViewerOptions::parse(a.iter().map(|s| s.to_string()));
        let o = parse(&["--seconds", "1.5", "10.0.0.1:9", "--fps", "60"]).unwrap();
        assert_eq!(o.addr, "10.0.0.1:9");
        assert_eq!(o.duration, Duration::from_millis(1500));
        assert_eq!((o.fps, o.spawn_camera), (60, false));
        let o = parse(&["--spawn-camera"]).unwrap();
        assert_eq!((o.addr.as_str(), o.fps), (DEFAULT_ADDR, 30));
        assert_eq!(o.duration, Duration::from_secs(5));
        assert!(parse(&["--seconds"]).is_err());
        assert!(parse(&["--fps", "x"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }

    #[test]
    fn percentiles() {
        let d: Vec<_> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 50), Duration::from_millis(50));
        assert_eq!(percentile(&d, 99), Duration::from_millis(99));
        assert_eq!(percentile(&d[..1], 99), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }

    /// The example end to end for one second, as `stream-viewer
    /// --spawn-camera --seconds 1` runs it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn viewer_end_to_end() {
        let options = ViewerOptions {
            spawn_camera: true,
            duration: Duration::from_secs(1),
            progress: Progress::Off,
            ..ViewerOptions::parse([]).unwrap()
        };
        let summary = tokio::time::timeout(Duration::from_secs(20), run_viewer(&options))
            .await
            .expect("the viewer finished")
            .expect("the viewer succeeded");
        // 30 fps for a second (the first frame at once); loose bounds for a
        // loaded machine.
        assert!((15..=40).contains(&summary.frames), "{summary}");
        assert_eq!(summary.camera_sent, summary.frames);
        assert_eq!(summary.bytes, summary.frames * FRAME_SIZE as u64);
        assert!(summary.calls >= 20, "{summary}");
        assert_eq!(summary.status.streams, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn typed_errors() {
        let listener = Listener::bind("127.0.0.1:0", Config::default())
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve_camera(listener));
        let camera = CameraClient::new(connect(addr, (), Config::default()).await.unwrap());
        assert_eq!(
            camera.frames(0).result().await,
            Err(CallError::Remote(CameraError::BadRate(0)))
        );
        assert_eq!(
            camera.set_exposure(0).await,
            Err(CallError::Remote(CameraError::BadExposure(0)))
        );
        assert_eq!(camera.set_exposure(500).await, Ok(500));
        assert_eq!(camera.status().await.unwrap().exposure_us, 500);
        server.abort();
    }
}
