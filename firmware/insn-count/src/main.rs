//! How many instructions a Cortex-M4 spends serving one small call: the
//! frame parse, the dispatch and the reply encode on the server side, with
//! zerowire bodies and with postcard bodies carried by the same framing and
//! the same generated dispatcher.
//!
//! # Method
//!
//! QEMU runs with `-icount shift=0`: the virtual clock advances exactly 1 ns
//! per guest instruction. SysTick, clocked by the 25 MHz core clock of
//! `mps2-an386`, therefore ticks once every 40 instructions, and reading it
//! is exact (icount ends a translation block at every device access). QEMU
//! does not model the DWT cycle counter, so this counts instructions, not
//! cycles.
//!
//! Each path is one `#[inline(never)]` function with the same signature,
//! called through a function pointer [`N`] times in a row between two
//! SysTick reads (a batch). The same batch around an empty function is the
//! measurement overhead (loop, indirect call, the timer reads) and is
//! subtracted. Each path is measured in [`BATCHES`] batches; under icount
//! they agree to within the timer's 40-instruction resolution divided by
//! [`N`].
//!
//! One served call ([`serve`]) is what a poll-loop driver does for it: copy
//! the received request into the connection (`handle_input`), take the
//! `Call` event (`poll_event`, which parses the frame and checks the call
//! id and method), decode the arguments and run the handler (the generated
//! `call_sync`), encode the reply frame (`reply`), poll once more for the
//! next event (none), and hand the reply bytes to the transport
//! (`poll_transmit` + `advance_transmit`).
//!
//! # Paths
//!
//! | method | arguments | result |
//! | --- | --- | --- |
//! | `nop` | none | `()`: framing and dispatch only |
//! | `add3` | three `u32` (zerowire) | `u32` (zerowire) |
//! | `read` | `u8` channel (zerowire) | [`Reading`] (zerowire) |
//! | `echo` | a byte body (`heapless::Vec<u8, 32>`) | the same bytes: the byte-body wrapper alone |
//! | `add3_postcard` | a byte body holding postcard `(u32, u32, u32)` | postcard `u32` in a byte body |
//! | `read_postcard` | a byte body holding postcard `u8` | postcard [`Reading`] in a byte body |
//!
//! Before and after measuring, every path is called once through a client
//! connection and its decoded result compared with the expected value; the
//! batches also count the reply bytes they produced. A calibration batch
//! pair (8 against 16 `nop` instructions) must measure 8.00 instructions.
//!
//! The results leave as `insn-count: path ...` lines on the semihosting
//! console (read by `tests-embedded/tests/insn_count.rs`); the verdict is
//! QEMU's exit status (0 = every check passed).
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln};
use serde::{Deserialize, Serialize};
use zerowire::proto::{
    ArrayTables, Config, ErrorCode, Event, IncomingCall, Instant, Role, StaticConnection,
};
use zerowire::rpc::{Refusal, Service};
use zerowire::{FromView, Wire};

/// Calls per batch.
const N: u32 = 2000;
/// Batches per path.
const BATCHES: usize = 5;
/// Instructions per SysTick tick: 1 ns per instruction (`-icount shift=0`)
/// and a 25 MHz core clock.
const INSNS_PER_TICK: u64 = 40;
/// SysTick is a 24-bit down counter.
const SYST_MASK: u32 = 0x00FF_FFFF;
/// A sane per-call count is positive and below this.
const INSANE: u64 = 100_000;

/// A postcard body inside a zerowire byte body (LPV length ‖ bytes, both
/// ways; `#[zerowire::service]` does not take borrowed arguments).
pub type Bytes = heapless::Vec<u8, 32>;

/// A sensor's operating mode.
#[derive(Wire, Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Idle,
    Run,
}

/// A small sensor reading, encodable both ways.
#[derive(Wire, Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    device: u32,
    celsius: f32,
    at_ns: u64,
    mode: Mode,
    samples: [u16; 4],
}

#[zerowire::service]
pub trait Bench {
    /// Framing and dispatch alone.
    fn nop(&self);
    /// add3 with zerowire bodies.
    fn add3(&self, a: u32, b: u32, c: u32) -> u32;
    /// A sensor reading with zerowire bodies.
    fn read(&self, channel: u8) -> Reading;
    /// The byte-body wrapper alone: the request body copied into the reply.
    fn echo(&self, body: Bytes) -> Bytes;
    /// add3 with postcard bodies.
    fn add3_postcard(&self, body: Bytes) -> Bytes;
    /// A sensor reading with postcard bodies.
    fn read_postcard(&self, body: Bytes) -> Bytes;
}

/// The server's state: the reading it reports (kept behind `black_box` so
/// neither encoder is folded into constants).
struct Node {
    base: Reading,
}

impl Node {
    fn sample(&self, channel: u8) -> Reading {
        let mut r = *black_box(&self.base);
        r.device = r.device.wrapping_add(u32::from(channel));
        r
    }
}

fn add3(a: u32, b: u32, c: u32) -> u32 {
    a.wrapping_add(b).wrapping_add(c)
}

/// Serializes `value` with postcard into a scratch buffer and copies it into
/// the reply body; empty if it does not fit.
fn postcard_body<T: Serialize>(value: &T) -> Bytes {
    let mut scratch = [0u8; 32];
    match postcard::to_slice(value, &mut scratch) {
        Ok(used) => Bytes::from_slice(used).unwrap_or_default(),
        Err(_) => Bytes::new(),
    }
}

impl Bench for Node {
    fn nop(&self) {}

    fn add3(&self, a: u32, b: u32, c: u32) -> u32 {
        add3(a, b, c)
    }

    fn read(&self, channel: u8) -> Reading {
        self.sample(channel)
    }

    fn echo(&self, body: Bytes) -> Bytes {
        // The same scratch buffer and copy as `postcard_body`.
        let mut scratch = [0u8; 32];
        match scratch.get_mut(..body.len()) {
            Some(s) => {
                s.copy_from_slice(&body);
                Bytes::from_slice(s).unwrap_or_default()
            }
            None => Bytes::new(),
        }
    }

    fn add3_postcard(&self, body: Bytes) -> Bytes {
        match postcard::from_bytes::<(u32, u32, u32)>(&body) {
            Ok((a, b, c)) => postcard_body(&add3(a, b, c)),
            Err(_) => Bytes::new(),
        }
    }

    fn read_postcard(&self, body: Bytes) -> Bytes {
        match postcard::from_bytes::<u8>(&body) {
            Ok(channel) => postcard_body(&self.sample(channel)),
            Err(_) => Bytes::new(),
        }
    }
}

type Svc = BenchService<Node>;
/// `max_frame` 512, 4 calls in flight each way, up to 8 methods.
type Conn<'s> = StaticConnection<'s, 512, 512, 4, 8>;
/// One measured function: serves (or not) one request.
type Path = fn(&mut Conn<'_>, &Svc, &[u8]) -> usize;

fn config() -> Config {
    Config {
        max_frame: 512,
        max_calls: 4,
        ..Config::default()
    }
}

fn connection(role: Role, served: &'static [zerowire::proto::MethodDesc]) -> Conn<'static> {
    StaticConnection::new(
        config(),
        role,
        served,
        [0; 512],
        [0; 512],
        ArrayTables::new(),
        Instant::from_micros(0),
    )
}

// ---------------------------------------------------------------------------
// The measured server path.
// ---------------------------------------------------------------------------

/// The next peer call, decoded and run.
fn next_call(
    server: &mut Conn<'_>,
    service: &Svc,
) -> Option<(IncomingCall, Result<BenchReply, Refusal>)> {
    loop {
        if let Event::Call { call, method, body } = server.poll_event()? {
            return Some((call, service.call_sync(&(), method, body)));
        }
    }
}

/// Serves one received request; returns the bytes handed to the transport.
#[inline(never)]
fn serve(server: &mut Conn<'_>, service: &Svc, request: &[u8]) -> usize {
    let now = Instant::from_micros(1);
    let _ = server.handle_input(now, request);
    while let Some((call, result)) = next_call(server, service) {
        let _ = match result {
            Ok(reply) => server.reply(call, &reply),
            Err(_) => server.reply_error(call, ErrorCode::BadRequest, ""),
        };
    }
    let n = server.poll_transmit().len();
    server.advance_transmit(n);
    n
}

/// The measurement overhead: same signature, no work.
#[inline(never)]
fn empty(server: &mut Conn<'_>, service: &Svc, request: &[u8]) -> usize {
    black_box((server, service, request));
    0
}

/// Calibration: 8 `nop` instructions.
#[inline(never)]
fn nops8(server: &mut Conn<'_>, service: &Svc, request: &[u8]) -> usize {
    black_box((server, service, request));
    nop4();
    nop4();
    0
}

/// Calibration: 16 `nop` instructions.
#[inline(never)]
fn nops16(server: &mut Conn<'_>, service: &Svc, request: &[u8]) -> usize {
    black_box((server, service, request));
    nop4();
    nop4();
    nop4();
    nop4();
    0
}

/// Four `nop` instructions, straight-line (`asm::nop` is an inline `nop`).
#[inline(always)]
fn nop4() {
    cortex_m::asm::nop();
    cortex_m::asm::nop();
    cortex_m::asm::nop();
    cortex_m::asm::nop();
}

/// Runs `path` [`N`] times between two SysTick reads; returns the ticks and
/// the bytes the calls produced.
#[inline(never)]
fn batch(path: Path, server: &mut Conn<'_>, service: &Svc, request: &[u8]) -> (u32, usize) {
    let mut bytes = 0usize;
    let start = SYST::get_current();
    for _ in 0..N {
        bytes = bytes.wrapping_add(path(server, service, black_box(request)));
    }
    let end = SYST::get_current();
    (start.wrapping_sub(end) & SYST_MASK, bytes)
}

// ---------------------------------------------------------------------------
// Setup and checks (not measured).
// ---------------------------------------------------------------------------

/// Moves every pending byte from `from` to `to`.
fn pump(from: &mut Conn<'_>, to: &mut Conn<'_>) {
    let now = Instant::from_micros(1);
    let mut tmp = [0u8; 512];
    let out = from.poll_transmit();
    let n = out.len().min(tmp.len());
    tmp[..n].copy_from_slice(&out[..n]);
    from.advance_transmit(n);
    let _ = to.handle_input(now, &tmp[..n]);
}

/// A captured request frame.
struct Request {
    bytes: [u8; 64],
    len: usize,
}

impl Request {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The result of the client's call, or `None`.
fn take_reply<R: for<'de> FromView<'de>>(client: &mut Conn<'_>) -> Option<R> {
    while let Some(event) = client.poll_event() {
        if let Event::Reply { body, .. } = event {
            return R::decode(body).ok();
        }
    }
    None
}

/// The client calls `method` with `args`; the request frame is captured
/// (the first call of a method also carries its declaration, so a warm-up
/// call goes first). Returns the request, and the reply length and result
/// of the captured call served by [`serve`].
fn capture<A: Wire, R: for<'de> FromView<'de>>(
    client: &mut Conn<'_>,
    server: &mut Conn<'_>,
    service: &Svc,
    method: usize,
    args: &A,
) -> Option<(Request, usize, R)> {
    let now = Instant::from_micros(1);
    let desc = &Svc::methods()[method];
    // Warm-up: declaration + call, answered.
    client.call(now, desc, args, None).ok()?;
    pump(client, server);
    serve_to(server, service, client);
    take_reply::<R>(client)?;
    // The captured call.
    client.call(now, desc, args, None).ok()?;
    let out = client.poll_transmit();
    let mut request = Request {
        bytes: [0; 64],
        len: out.len(),
    };
    request.bytes.get_mut(..out.len())?.copy_from_slice(out);
    client.advance_transmit(out.len());
    if server.handle_input(now, request.as_slice()) != request.len {
        return None;
    }
    let reply_len = serve_to(server, service, client);
    let result = take_reply::<R>(client)?;
    Some((request, reply_len, result))
}

/// [`serve`]'s steps, with the reply delivered to `client` instead of
/// dropped; returns the reply's length.
fn serve_to(server: &mut Conn<'_>, service: &Svc, client: &mut Conn<'_>) -> usize {
    while let Some((call, result)) = next_call(server, service) {
        let _ = match result {
            Ok(reply) => server.reply(call, &reply),
            Err(_) => server.reply_error(call, ErrorCode::BadRequest, ""),
        };
    }
    let n = server.poll_transmit().len();
    pump(server, client);
    n
}

/// A path's figures.
struct Measured {
    /// Instructions per call ×100, lowest and highest batch.
    min: u64,
    max: u64,
}

/// Per-call instructions ×100 of `ticks` over the `overhead` of an empty batch.
fn per_call_x100(ticks: u32, overhead: u32) -> u64 {
    u64::from(ticks.saturating_sub(overhead)) * INSNS_PER_TICK * 100 / u64::from(N)
}

fn measure(
    path: Path,
    server: &mut Conn<'_>,
    service: &Svc,
    request: &[u8],
    overhead: u32,
    reply_len: usize,
    ok: &mut bool,
) -> Measured {
    let mut m = Measured {
        min: u64::MAX,
        max: 0,
    };
    for _ in 0..BATCHES {
        let (ticks, bytes) = batch(path, server, service, request);
        if bytes != reply_len * N as usize || ticks > SYST_MASK / 2 {
            *ok = false;
        }
        let x = per_call_x100(ticks, overhead);
        m.min = m.min.min(x);
        m.max = m.max.max(x);
    }
    if m.min == 0 || m.max >= INSANE * 100 {
        *ok = false;
    }
    m
}

fn fail(what: &str) -> ! {
    hprintln!("insn-count: FAIL {}", what);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::nop();
    }
}

#[entry]
fn main() -> ! {
    let Some(mut cp) = cortex_m::Peripherals::take() else {
        fail("core peripherals taken")
    };
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(SYST_MASK);
    cp.SYST.clear_current();
    cp.SYST.enable_counter();

    let service = BenchService::new(Node {
        base: Reading {
            device: 7,
            celsius: 21.5,
            at_ns: 1_234_567_890_123,
            mode: Mode::Run,
            samples: [512, 1023, 40_000, 7],
        },
    });
    let mut client = connection(Role::Initiator, &[]);
    let mut server = connection(Role::Acceptor, Svc::methods());
    pump(&mut client, &mut server);
    pump(&mut server, &mut client);
    while client.poll_event().is_some() {}
    while server.poll_event().is_some() {}
    if !(client.is_open() && server.is_open()) {
        fail("handshake");
    }

    // Requests and expected results; the inputs are not compile-time
    // constants to the handlers (they come out of the receive buffer).
    let (a, b, c) = black_box((7u32, 2_000u32, 3_000_000u32));
    let channel = black_box(3u8);
    let expected_sum = add3(a, b, c);
    let expected_reading = service.0.sample(channel);
    let mut pc_add3 = [0u8; 16];
    let mut pc_read = [0u8; 4];
    let (Ok(pc_add3), Ok(pc_read)) = (
        postcard::to_slice(&(a, b, c), &mut pc_add3),
        postcard::to_slice(&channel, &mut pc_read),
    ) else {
        fail("postcard request encoding")
    };
    let (pc_add3, pc_read): (&[u8], &[u8]) = (pc_add3, pc_read);

    let Some((nop_req, nop_len, ())) = capture::<_, ()>(&mut client, &mut server, &service, 0, &())
    else {
        fail("nop")
    };
    let Some((add3_req, add3_len, sum)) =
        capture::<_, u32>(&mut client, &mut server, &service, 1, &(a, b, c))
    else {
        fail("add3")
    };
    let Some((read_req, read_len, reading)) =
        capture::<_, Reading>(&mut client, &mut server, &service, 2, &(channel,))
    else {
        fail("read")
    };
    let Some((echo_req, echo_len, echoed)) =
        capture::<_, Bytes>(&mut client, &mut server, &service, 3, &(pc_add3,))
    else {
        fail("echo")
    };
    let Some((pc_add3_req, pc_add3_len, pc_sum)) =
        capture::<_, Bytes>(&mut client, &mut server, &service, 4, &(pc_add3,))
    else {
        fail("add3_postcard")
    };
    let Some((pc_read_req, pc_read_len, pc_reading)) =
        capture::<_, Bytes>(&mut client, &mut server, &service, 5, &(pc_read,))
    else {
        fail("read_postcard")
    };
    let results_ok = sum == expected_sum
        && reading == expected_reading
        && echoed.as_slice() == pc_add3
        && postcard::from_bytes::<u32>(&pc_sum).ok() == Some(expected_sum)
        && postcard::from_bytes::<Reading>(&pc_reading).ok() == Some(expected_reading);
    if !results_ok {
        fail("a path returned a wrong result");
    }

    // Calibration and overhead.
    let mut ok = true;
    let empty_ticks = (0..BATCHES)
        .map(|_| batch(empty, &mut server, &service, nop_req.as_slice()).0)
        .min()
        .unwrap_or(0);
    let n8 = batch(nops8, &mut server, &service, nop_req.as_slice()).0;
    let n16 = batch(nops16, &mut server, &service, nop_req.as_slice()).0;
    let nops_x100 = per_call_x100(n16, n8);
    hprintln!(
        "insn-count: calibration {}.{:02} instructions for 8 nops (empty batch: {} ticks of {} instructions)",
        nops_x100 / 100,
        nops_x100 % 100,
        empty_ticks,
        INSNS_PER_TICK
    );
    if !(795..=805).contains(&nops_x100) {
        fail("calibration: the timer does not tick once per 40 instructions (is -icount shift=0 on?)");
    }

    let paths: [(&str, &Request, usize); 6] = [
        ("nop", &nop_req, nop_len),
        ("add3-zerowire", &add3_req, add3_len),
        ("add3-postcard", &pc_add3_req, pc_add3_len),
        ("read-zerowire", &read_req, read_len),
        ("read-postcard", &pc_read_req, pc_read_len),
        ("echo", &echo_req, echo_len),
    ];
    for (name, request, reply_len) in paths {
        let m = measure(
            serve,
            &mut server,
            &service,
            request.as_slice(),
            empty_ticks,
            reply_len,
            &mut ok,
        );
        hprintln!(
            "insn-count: path {} {}.{:02} insns/call (batches {}.{:02}..{}.{:02}), request {} B, reply {} B",
            name,
            m.min / 100,
            m.min % 100,
            m.min / 100,
            m.min % 100,
            m.max / 100,
            m.max % 100,
            request.len,
            reply_len
        );
    }
    // The connection is still healthy and served exactly what it was sent.
    let Some((_, _, after)) = capture::<_, u32>(&mut client, &mut server, &service, 1, &(a, b, c))
    else {
        fail("add3 after the batches")
    };
    if after != expected_sum || server.serving() != 0 || !server.is_open() {
        fail("state after the batches");
    }
    if !ok {
        fail("a batch produced the wrong number of reply bytes or an absurd count");
    }
    hprintln!("insn-count: ok");
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::nop();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    fail("panic")
}

#[exception]
unsafe fn HardFault(_: &ExceptionFrame) -> ! {
    fail("HardFault")
}

#[exception]
unsafe fn DefaultHandler(_irqn: i16) {
    fail("unexpected exception")
}
