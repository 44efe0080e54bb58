//! Hostile input: a deterministic storm of random, truncated and mutated
//! bodies against the body decoders, and of frame streams against the frame
//! decoder.
//!
//! Valid encodings of several message types (flat, nested, enums, bounded
//! containers, borrowing) are mutated (bit flips, byte overwrites with random
//! or "interesting" values, insertions, deletions, truncations) and fed to
//! `T::decode_view` and `T::decode`; pure random inputs are fed to every type.
//! Checks:
//! - nothing panics;
//! - `decode_view` and `decode` agree, and every rejection's `offset` lies
//!   within the input;
//! - every accepted input is canonical: `decode` → `encode` gives the input
//!   back byte for byte; its view can be walked (`Debug`);
//! - every truncation is rejected; a measured share of the other mutations is
//!   accepted, so a decoder that rejects everything fails;
//! - `decode_view` allocates nothing; owned `decode` of `Vec<u8>` / `String` /
//!   `Vec<u16>` allocates at most the input's length, and of a borrowing type
//!   nothing.
//!
//! Frames (`hostile_frames`): streams of valid frames of every kind, mutated
//! the same ways, are decoded three ways: a `FrameDecoder::decode` loop,
//! `FrameDecoder::frames`, and a `FrameReader` fed in random chunks. The three
//! must agree frame for frame and on the error; every frame must re-encode to
//! its bytes; truncated streams must yield a prefix of the frames and no
//! error; decoding must not allocate.
//!
//! A counting global allocator (below) measures allocations per thread.

// The counting allocator needs `unsafe impl GlobalAlloc`; every unsafe block
// only forwards to `std::alloc::System` with the caller's arguments.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};

use zerocopy::little_endian::U64;
use zerowire::frame::{
    encode_call, encode_hello, ty, DataFlags, Decoded, Frame, FrameDecoder, FrameError,
    FrameReader, Hello, MAGIC, MAX_PING_LEN, PROTOCOL_VERSION,
};
use zerowire::{DecodeErrorKind, FromView, Wire};

// ---------------------------------------------------------------------------
// Counting allocator
// ---------------------------------------------------------------------------

struct Counting;

thread_local! {
    /// Allocations (alloc, alloc_zeroed, realloc) made by this thread.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    /// Bytes requested by this thread (a realloc counts its growth).
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

fn note(bytes: usize) {
    // `try_with`: the thread-locals have no destructor and need no
    // allocation, but a late allocation during thread teardown must not fail.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES.try_with(|c| c.set(c.get() + bytes as u64));
}

// SAFETY: every method forwards to `System` with the arguments it was given,
// so `System`'s guarantees carry over unchanged; the bookkeeping neither
// allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this allocator)
        // with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size.saturating_sub(layout.size()));
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract; `ptr`
        // came from `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations and bytes that `f` made on this thread.
fn measure<R>(f: impl FnOnce() -> R) -> (R, u64, u64) {
    let (a0, b0) = (ALLOCS.with(Cell::get), BYTES.with(Cell::get));
    let r = f();
    let (a1, b1) = (ALLOCS.with(Cell::get), BYTES.with(Cell::get));
    (r, a1 - a0, b1 - b0)
}

// ---------------------------------------------------------------------------
// Deterministic randomness
// ---------------------------------------------------------------------------

/// xorshift64*: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.byte()).collect()
    }

    /// Usually up to `short` bytes, one time in ten up to `long`.
    fn blob(&mut self, short: usize, long: usize) -> Vec<u8> {
        let max = if self.chance(10) { long } else { short };
        self.bytes(max)
    }

    fn char(&mut self) -> char {
        match self.below(4) {
            0 => char::from_u32(self.below(0x11_0000) as u32).unwrap_or('\u{fffd}'),
            1 => char::from_u32(0x80 + self.below(0x780) as u32).unwrap_or('é'),
            _ => (b' ' + self.below(95) as u8) as char,
        }
    }

    /// Mostly short strings; sometimes long enough for a 2-byte length.
    fn string(&mut self) -> String {
        let n = if self.chance(10) {
            20 + self.below(60)
        } else {
            self.below(8)
        };
        (0..n).map(|_| self.char()).collect()
    }

    fn len(&mut self, max: usize) -> usize {
        self.below(max + 1)
    }
}

// ---------------------------------------------------------------------------
// Message types
// ---------------------------------------------------------------------------

#[derive(Wire, Debug, Clone, Copy, PartialEq)]
enum Mode {
    Idle,
    Run,
    Fault,
}

#[derive(Wire, Debug, Clone, Copy, PartialEq)]
struct Point(i16, i16);

/// Fixed block only, with every checked scalar (bool, char, enum, arrays).
#[derive(Wire, Debug, Clone, Copy, PartialEq)]
struct Header {
    version: u8,
    ok: bool,
    letter: char,
    mode: Mode,
    modes: [Mode; 2],
    flags: [bool; 3],
    origin: Point,
    at_ns: u64,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Reading {
    device: u32,
    celsius: f32,
    ok: bool,
    letter: char,
    label: String,
    samples: Vec<u16>,
    mode: Mode,
    note: Option<String>,
    blob: Vec<u8>,
}

#[derive(Wire, Debug, Clone, PartialEq)]
enum Shape {
    Circle(u32),
    Rect {
        w: u16,
        h: u16,
    },
    Named(String, u8),
    Empty,
    Path(Vec<Point>),
    Labelled {
        label: Option<String>,
        tags: Vec<String>,
        mode: Mode,
    },
}

/// Nested and variable everything.
#[derive(Wire, Debug, Clone, PartialEq)]
struct Batch {
    id: u64,
    header: Header,
    shapes: Vec<Shape>,
    readings: Vec<Reading>,
    nested: Vec<Vec<u16>>,
    maybe: Option<Option<u8>>,
    result: Result<u32, String>,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Bounded {
    name: heapless::String<8>,
    samples: heapless::Vec<u16, 4>,
    flags: [bool; 3],
    point: Option<Point>,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Borrowed<'a> {
    name: &'a str,
    blob: &'a [u8],
    mode: Mode,
}

fn mode(r: &mut Rng) -> Mode {
    [Mode::Idle, Mode::Run, Mode::Fault][r.below(3)]
}

fn point(r: &mut Rng) -> Point {
    Point(r.next() as i16, r.next() as i16)
}

fn header(r: &mut Rng) -> Header {
    Header {
        version: r.byte(),
        ok: r.chance(50),
        letter: r.char(),
        mode: mode(r),
        modes: [mode(r), mode(r)],
        flags: [r.chance(50), r.chance(50), r.chance(50)],
        origin: point(r),
        at_ns: r.next(),
    }
}

fn reading(r: &mut Rng) -> Reading {
    Reading {
        device: r.next() as u32,
        celsius: f32::from_bits(r.next() as u32),
        ok: r.chance(50),
        letter: r.char(),
        label: r.string(),
        samples: (0..r.len(6)).map(|_| r.next() as u16).collect(),
        mode: mode(r),
        note: r.chance(50).then(|| r.string()),
        blob: r.blob(6, 80),
    }
}

fn shape(r: &mut Rng) -> Shape {
    match r.below(6) {
        0 => Shape::Circle(r.next() as u32),
        1 => Shape::Rect {
            w: r.next() as u16,
            h: r.next() as u16,
        },
        2 => Shape::Named(r.string(), r.byte()),
        3 => Shape::Empty,
        4 => Shape::Path((0..r.len(4)).map(|_| point(r)).collect()),
        _ => Shape::Labelled {
            label: r.chance(50).then(|| r.string()),
            tags: (0..r.len(3)).map(|_| r.string()).collect(),
            mode: mode(r),
        },
    }
}

fn batch(r: &mut Rng) -> Batch {
    Batch {
        id: r.next(),
        header: header(r),
        shapes: (0..r.len(3)).map(|_| shape(r)).collect(),
        readings: (0..r.len(2)).map(|_| reading(r)).collect(),
        nested: (0..r.len(3))
            .map(|_| (0..r.len(3)).map(|_| r.next() as u16).collect())
            .collect(),
        maybe: match r.below(3) {
            0 => None,
            1 => Some(None),
            _ => Some(Some(r.byte())),
        },
        result: if r.chance(50) {
            Ok(r.next() as u32)
        } else {
            Err(r.string())
        },
    }
}

fn bounded(r: &mut Rng) -> Bounded {
    let mut name = heapless::String::new();
    for _ in 0..r.len(8) {
        if name.push(r.char()).is_err() {
            break;
        }
    }
    let mut samples = heapless::Vec::new();
    for _ in 0..r.len(4) {
        let _ = samples.push(r.next() as u16);
    }
    Bounded {
        name,
        samples,
        flags: [r.chance(50), r.chance(50), r.chance(50)],
        point: r.chance(50).then(|| point(r)),
    }
}

// ---------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------

/// The body types under test, in the order `encode_valid` and `check_as` use.
const TYPES: [&str; 10] = [
    "Header",
    "Reading",
    "Shape",
    "Batch",
    "Bounded",
    "Borrowed",
    "Vec<u8>",
    "String",
    "Vec<u16>",
    "Vec<Shape>",
];

/// A valid encoding of a random value of type number `kind`.
fn encode_valid(kind: usize, r: &mut Rng) -> Vec<u8> {
    match kind {
        0 => header(r).encode_to_vec(),
        1 => reading(r).encode_to_vec(),
        2 => shape(r).encode_to_vec(),
        3 => batch(r).encode_to_vec(),
        4 => bounded(r).encode_to_vec(),
        5 => {
            let name = r.string();
            let blob = r.bytes(12);
            Borrowed {
                name: &name,
                blob: &blob,
                mode: mode(r),
            }
            .encode_to_vec()
        }
        6 => r.blob(10, 100).encode_to_vec(),
        7 => r.string().encode_to_vec(),
        8 => (0..r.len(12))
            .map(|_| r.next() as u16)
            .collect::<Vec<u16>>()
            .encode_to_vec(),
        _ => (0..r.len(4))
            .map(|_| shape(r))
            .collect::<Vec<Shape>>()
            .encode_to_vec(),
    }
}

#[derive(Default)]
struct Totals {
    /// Bytes owned `decode` allocated, per input byte, at most (derived types).
    max_alloc_ratio: f64,
}

/// Decodes `input` as `T` both ways and checks the invariants; returns
/// whether it was accepted.
fn check<'a, T>(input: &'a [u8], totals: &mut Totals) -> bool
where
    T: FromView<'a>,
    T::View<'a>: Debug,
{
    let (view, allocs, _) = measure(|| T::decode_view(input));
    assert_eq!(allocs, 0, "decode_view allocated");
    let (owned, _, bytes) = measure(|| T::decode(input));
    match (view, owned) {
        (Err(e), Err(e2)) => {
            assert_eq!(e, e2, "decode_view and decode disagree");
            assert!(
                e.offset <= input.len(),
                "error offset {} past the input ({})",
                e.offset,
                input.len()
            );
            if let DecodeErrorKind::UnexpectedEnd { needed } = e.kind {
                assert!(needed > 0);
            }
            false
        }
        (Ok(view), Ok(value)) => {
            let _ = format!("{view:?}");
            let again = value.encode_to_vec();
            assert!(
                again == input,
                "accepted a non-canonical input: re-encoded as {again:02x?}"
            );
            if !input.is_empty() {
                totals.max_alloc_ratio = totals
                    .max_alloc_ratio
                    .max(bytes as f64 / input.len() as f64);
            }
            true
        }
        (view, owned) => panic!(
            "decode_view and decode disagree: {:?} vs {:?}",
            view.err(),
            owned.err()
        ),
    }
}

/// Owned decoding of a byte or text body allocates at most the input's
/// length, once.
fn check_alloc_bound<'a, T: FromView<'a>>(input: &'a [u8]) {
    let (r, allocs, bytes) = measure(|| T::decode(input));
    if r.is_ok() {
        assert!(allocs <= 1, "{allocs} allocations");
    }
    assert!(
        bytes <= input.len() as u64,
        "owned decode allocated {bytes} bytes for a {}-byte input",
        input.len()
    );
}

fn check_as(kind: usize, input: &[u8], totals: &mut Totals) -> bool {
    match kind {
        0 => check::<Header>(input, totals),
        1 => check::<Reading>(input, totals),
        2 => check::<Shape>(input, totals),
        3 => check::<Batch>(input, totals),
        4 => check::<Bounded>(input, totals),
        5 => {
            let ((), allocs, _) = measure(|| {
                let _ = Borrowed::decode(input);
            });
            assert_eq!(allocs, 0, "a borrowing decode allocated");
            check::<Borrowed<'_>>(input, totals)
        }
        6 => {
            check_alloc_bound::<Vec<u8>>(input);
            check::<Vec<u8>>(input, &mut Totals::default())
        }
        7 => {
            check_alloc_bound::<String>(input);
            check::<String>(input, &mut Totals::default())
        }
        8 => {
            check_alloc_bound::<Vec<u16>>(input);
            check::<Vec<u16>>(input, &mut Totals::default())
        }
        _ => check::<Vec<Shape>>(input, totals),
    }
}

/// Runs `check_as` and turns a panic into a report of the input.
fn guarded(kind: usize, input: &[u8], totals: &mut Totals) -> bool {
    match catch_unwind(AssertUnwindSafe(|| check_as(kind, input, totals))) {
        Ok(accepted) => accepted,
        Err(_) => panic!("checking {} failed on input {input:02x?}", TYPES[kind]),
    }
}

/// Bytes that often mean something: varint size tags, presence bytes,
/// enum indices, extremes.
const INTERESTING: [u8; 10] = [0x00, 0x01, 0x02, 0x03, 0x04, 0x07, 0x08, 0xFC, 0xFE, 0xFF];

const MUTATIONS: [&str; 6] = [
    "bit flips",
    "byte overwrites",
    "interesting bytes",
    "insertions",
    "deletions",
    "truncations",
];

/// Mutates `valid` with class `class` (an index into `MUTATIONS`).
fn mutate(class: usize, valid: &[u8], r: &mut Rng) -> Vec<u8> {
    let mut v = valid.to_vec();
    let times = 1 + r.below(4);
    match class {
        0 => {
            for _ in 0..times {
                if !v.is_empty() {
                    let i = r.below(v.len());
                    v[i] ^= 1 << r.below(8);
                }
            }
        }
        1 => {
            for _ in 0..times {
                if !v.is_empty() {
                    let i = r.below(v.len());
                    v[i] = r.byte();
                }
            }
        }
        2 => {
            for _ in 0..times {
                if !v.is_empty() {
                    let i = r.below(v.len());
                    v[i] = INTERESTING[r.below(INTERESTING.len())];
                }
            }
        }
        3 => {
            for _ in 0..times {
                let i = r.below(v.len() + 1);
                let b = if r.chance(50) {
                    r.byte()
                } else {
                    INTERESTING[r.below(INTERESTING.len())]
                };
                v.insert(i, b);
            }
        }
        4 => {
            for _ in 0..times {
                if !v.is_empty() {
                    let i = r.below(v.len());
                    v.remove(i);
                }
            }
        }
        _ => {
            if !v.is_empty() {
                v.truncate(r.below(v.len()));
            }
        }
    }
    v
}

/// Inputs that claim huge lengths or counts: must be rejected cheaply and
/// without allocating.
fn huge_claims() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for max in [
        (1u64 << 62) - 1, // the largest LPV
        1 << 40,
        u32::MAX as u64,
        1 << 20,
        1000,
    ] {
        let (b, n) = zerowire::wire::varint::encode(max);
        out.push(b[..n].to_vec());
        let mut with_tail = b[..n].to_vec();
        with_tail.extend_from_slice(&[0x04; 32]);
        out.push(with_tail);
    }
    // A non-minimal varint (1 encoded in 8 bytes) and a truncated one.
    out.push(vec![0x07, 0, 0, 0, 0, 0, 0, 0]);
    out.push(vec![0x03, 0xFF]);
    out
}

#[test]
fn hostile_bodies() {
    const ITERATIONS: usize = 100_000;
    let mut r = Rng(0x5eed_2025_0000_0001);
    let mut totals = Totals::default();
    // Per mutation class: (inputs, accepted).
    let mut classes = [(0u64, 0u64); MUTATIONS.len()];
    let mut random = (0u64, 0u64);
    let mut inputs = 0u64;

    for i in 0..ITERATIONS {
        let kind = i % TYPES.len();
        let valid = encode_valid(kind, &mut r);
        inputs += 1;
        assert!(
            guarded(kind, &valid, &mut totals),
            "{} rejected its own encoding {valid:02x?}",
            TYPES[kind]
        );

        let class = r.below(MUTATIONS.len());
        let input = mutate(class, &valid, &mut r);
        inputs += 1;
        let accepted = guarded(kind, &input, &mut totals);
        if class == MUTATIONS.len() - 1 {
            assert!(
                !accepted,
                "a truncated {} was accepted: {input:02x?}",
                TYPES[kind]
            );
        }
        classes[class].0 += 1;
        classes[class].1 += u64::from(accepted);

        // Every 4th round: the mutated input as another type, and pure noise
        // as every type.
        if i % 4 == 0 {
            let other = r.below(TYPES.len());
            guarded(other, &input, &mut totals);
            let noise = r.bytes(40);
            for kind in 0..TYPES.len() {
                inputs += 1;
                random.0 += 1;
                random.1 += u64::from(guarded(kind, &noise, &mut totals));
            }
        }
    }
    for claim in huge_claims() {
        for kind in 0..TYPES.len() {
            inputs += 1;
            guarded(kind, &claim, &mut totals);
        }
    }

    // The share over the mutations that can yield a valid body (truncations
    // never may, and are checked above).
    let (mutated, accepted) = classes[..MUTATIONS.len() - 1]
        .iter()
        .fold((0, 0), |(n, a), c| (n + c.0, a + c.1));
    let share = accepted as f64 / mutated as f64;
    println!("hostile_bodies: {inputs} inputs decoded");
    for (name, (n, a)) in MUTATIONS.iter().zip(classes) {
        println!(
            "  {name:>18}: {a:>6} / {n:>6} accepted ({:.1}%)",
            100.0 * a as f64 / n as f64
        );
    }
    println!(
        "  mutated (no truncations): {accepted} / {mutated} accepted ({:.1}%)",
        100.0 * share
    );
    println!("  pure noise: {} / {} accepted", random.1, random.0);
    println!(
        "  owned decode of derived types: at most {:.1} allocated bytes per input byte",
        totals.max_alloc_ratio
    );
    assert!(inputs >= 100_000);
    // Measured with this seed: 22.5% (bit flips 43%, overwrites 33%,
    // interesting bytes 36%, insertions and deletions 0.2%): damage to
    // fixed-size fields is accepted, damage to lengths and tags rarely is.
    // 15% leaves room for changes to the generators while failing a decoder
    // that rejects everything, or nearly everything.
    assert!(
        share >= 0.15,
        "only {:.1}% of mutated inputs were accepted",
        100.0 * share
    );
}

#[test]
fn huge_claims_allocate_nothing() {
    for claim in huge_claims() {
        let ((), allocs, _) = measure(|| {
            let _ = Vec::<u8>::decode(&claim);
            let _ = String::decode(&claim);
            let _ = Vec::<u16>::decode(&claim);
            let _ = Vec::<Shape>::decode(&claim);
            let _ = Vec::<Vec<String>>::decode(&claim);
            let _ = Batch::decode(&claim);
        });
        assert_eq!(allocs, 0, "rejecting {claim:02x?} allocated");
    }
}

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

/// The frame limit used throughout; `FrameReader` storage fits any frame.
const MAX_FRAME: u32 = 200;
const READER_STORAGE: usize = 256;

/// An LPV value of a random size class.
fn lpv_value(r: &mut Rng) -> u64 {
    match r.below(4) {
        0 => r.next() % (1 << 6),
        1 => r.next() % (1 << 14),
        2 => r.next() % (1 << 30),
        _ => r.next() % (1 << 62),
    }
}

/// One valid frame, encoded, at most `MAX_FRAME` bytes after its header.
fn encode_frame(r: &mut Rng) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let body: Vec<u8> = match r.below(3) {
        0 => encode_valid(r.below(TYPES.len()), r),
        1 => r.bytes(20),
        _ => Vec::new(),
    };
    let body = &body[..body.len().min(150)];
    let n = match r.below(10) {
        0 => {
            let method = r.below(128) as u8;
            Frame::Call {
                method,
                call_id: lpv_value(r),
                body,
            }
            .encode(&mut buf)
        }
        1 => {
            let flags = DataFlags::from_bits(r.byte());
            let method = flags.contains(DataFlags::OPEN).then(|| lpv_value(r));
            let total_len = flags.contains(DataFlags::TOTAL).then(|| lpv_value(r));
            Frame::Data {
                flags,
                call_id: lpv_value(r),
                method,
                total_len,
                payload: body,
            }
            .encode(&mut buf)
        }
        2 => Frame::Cancel {
            call_id: lpv_value(r),
        }
        .encode(&mut buf),
        3 => Frame::Credit {
            call_id: lpv_value(r),
            bytes: lpv_value(r),
        }
        .encode(&mut buf),
        4 => {
            let ping = r.bytes(MAX_PING_LEN);
            if r.chance(50) {
                Frame::Ping(&ping).encode(&mut buf)
            } else {
                Frame::Pong(&ping).encode(&mut buf)
            }
        }
        5 => Frame::GoAway {
            last_call_id: lpv_value(r),
            code: lpv_value(r),
        }
        .encode(&mut buf),
        6 => {
            let build = r.string();
            let hello = Hello {
                magic: MAGIC,
                version: PROTOCOL_VERSION,
                flags: r.byte() & 1,
                max_calls: r.next() as u16,
                max_frame: r.next() as u32,
                max_message: r.next() as u32,
                initial_credit: r.next() as u32,
                service_fp: r.next(),
                n_methods: r.next() as u16,
                build: &build,
            };
            encode_hello(&mut buf, &hello)
        }
        7 => {
            let fps: Vec<U64> = (0..r.len(8)).map(|_| U64::new(r.next())).collect();
            Frame::MethodTable {
                first_index: lpv_value(r),
                fingerprints: &fps,
            }
            .encode(&mut buf)
        }
        8 => {
            let ty = ty::EXT_FIRST + r.below(32) as u8;
            Frame::Extension { ty, body }.encode(&mut buf)
        }
        _ => encode_call(&mut buf, r.below(128) as u8, lpv_value(r), &reading(r)),
    };
    let n = n.expect("a generated frame encodes");
    buf.truncate(n);
    buf
}

/// Several valid frames back to back, all within `MAX_FRAME`.
fn valid_stream(r: &mut Rng) -> Vec<u8> {
    let dec = FrameDecoder::new(MAX_FRAME);
    let mut out = Vec::new();
    let frames = 1 + r.below(5);
    while out.len() < 1024 && dec.frames(&out).count() < frames {
        let f = encode_frame(r);
        if matches!(dec.decode(&f), Ok(Decoded::Frame { .. })) {
            out.extend_from_slice(&f);
        }
    }
    out
}

/// What a stream decodes to: each frame re-encoded, then the error that
/// ended it (if any), and the bytes consumed by whole frames.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Vec<u8>>,
    error: Option<FrameError>,
    consumed: usize,
}

/// Checks one frame taken from `bytes` (which holds exactly that frame):
/// canonical re-encoding, and a valid HELLO body.
fn check_frame(frame: &Frame<'_>, bytes: &[u8]) -> Vec<u8> {
    assert_eq!(frame.encoded_len(), bytes.len(), "encoded_len of {frame:?}");
    let mut again = vec![0u8; bytes.len()];
    assert_eq!(frame.encode(&mut again), Ok(bytes.len()));
    assert!(
        again == bytes,
        "accepted a non-canonical frame {bytes:02x?} ({frame:?})"
    );
    if let Frame::Hello { body } = frame {
        let hello = Hello::decode(body).expect("a HELLO frame's body decodes");
        assert!(hello.encode_to_vec() == *body, "non-canonical HELLO body");
    }
    again
}

/// One pass over `stream` with `FrameDecoder::decode`, checking every result.
fn decode_all(stream: &[u8]) -> Outcome {
    let dec = FrameDecoder::new(MAX_FRAME);
    let mut out = Outcome {
        frames: Vec::new(),
        error: None,
        consumed: 0,
    };
    loop {
        let rest = &stream[out.consumed..];
        let ((result, result2), allocs, _) = measure(|| (dec.decode(rest), dec.header(rest)));
        assert_eq!(allocs, 0, "FrameDecoder::decode allocated");
        match result {
            Ok(Decoded::Frame { frame, len }) => {
                assert!(len >= 2 && len <= rest.len());
                let (head, body) = result2.expect("header agrees").expect("header complete");
                assert_eq!(head + body, len);
                assert!(body <= MAX_FRAME as usize);
                out.frames.push(check_frame(&frame, &rest[..len]));
                out.consumed += len;
            }
            Ok(Decoded::Incomplete { needed }) => {
                assert!(needed >= 1, "Incomplete with nothing needed");
                assert!(result2.is_ok());
                return out;
            }
            Err(e) => {
                match e {
                    FrameError::TooLarge { len, max } => {
                        assert!(len > max && max == u64::from(MAX_FRAME));
                        assert_eq!(result2, Err(e));
                    }
                    FrameError::Malformed { error, .. } => {
                        assert!(
                            error.offset <= rest.len(),
                            "error offset past the input: {e:?}"
                        );
                    }
                    FrameError::NonMinimalLength => assert_eq!(result2, Err(e)),
                    _ => {}
                }
                out.error = Some(e);
                return out;
            }
        }
    }
}

/// The same stream through `FrameDecoder::frames`.
fn iterate(stream: &[u8]) -> Outcome {
    let dec = FrameDecoder::new(MAX_FRAME);
    let mut it = dec.frames(stream);
    let mut out = Outcome {
        frames: Vec::new(),
        error: None,
        consumed: 0,
    };
    let mut at = 0;
    for item in it.by_ref() {
        match item {
            Ok(frame) => {
                let len = frame.encoded_len();
                out.frames.push(check_frame(&frame, &stream[at..at + len]));
                at += len;
            }
            Err(e) => out.error = Some(e),
        }
    }
    out.consumed = it.consumed();
    assert_eq!(out.consumed, at);
    out
}

/// The same stream through a `FrameReader`, fed in random chunks.
fn read_chunked(stream: &[u8], r: &mut Rng) -> Outcome {
    let mut reader = FrameReader::new([0u8; READER_STORAGE], MAX_FRAME);
    let mut out = Outcome {
        frames: Vec::new(),
        error: None,
        consumed: 0,
    };
    let mut fed = 0;
    loop {
        // Drain whole frames.
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    let bytes = encoded(&frame);
                    out.consumed += bytes.len();
                    out.frames.push(bytes);
                }
                Ok(None) => break,
                Err(e) => {
                    out.error = Some(e);
                    return out;
                }
            }
        }
        if fed == stream.len() {
            assert_eq!(reader.buffered(), stream.len() - out.consumed);
            return out;
        }
        let chunk = (1 + r.below(24)).min(stream.len() - fed);
        let taken = if r.chance(50) {
            reader.push(&stream[fed..fed + chunk])
        } else {
            let spare = reader.spare();
            let n = spare.len().min(chunk);
            spare[..n].copy_from_slice(&stream[fed..fed + n]);
            reader.commit(n);
            n
        };
        assert!(taken > 0, "FrameReader is full of an incomplete frame");
        fed += taken;
    }
}

fn encoded(frame: &Frame<'_>) -> Vec<u8> {
    let mut v = vec![0u8; frame.encoded_len()];
    assert_eq!(frame.encode(&mut v), Ok(v.len()));
    v
}

/// Decodes `stream` three ways and checks they agree; returns the outcome.
fn check_stream(stream: &[u8], r: &mut Rng) -> Outcome {
    let one = decode_all(stream);
    let two = iterate(stream);
    assert_eq!(
        one, two,
        "decode loop and frames() disagree on {stream:02x?}"
    );
    let three = read_chunked(stream, r);
    assert_eq!(one, three, "FrameReader disagrees on {stream:02x?}");
    one
}

#[test]
fn hostile_frames() {
    const STREAMS: usize = 30_000;
    let mut r = Rng(0xf4a3_e5ee_d000_0002);
    let mut classes = [(0u64, 0u64); MUTATIONS.len()];
    let mut noise_frames = 0u64;
    let mut inputs = 0u64;

    for i in 0..STREAMS {
        let valid = valid_stream(&mut r);
        let all = guarded_stream(&valid, &mut r);
        inputs += 1;
        assert!(
            all.error.is_none() && all.consumed == valid.len(),
            "valid stream rejected: {valid:02x?}"
        );

        let class = r.below(MUTATIONS.len());
        let input = mutate(class, &valid, &mut r);
        inputs += 1;
        let out = guarded_stream(&input, &mut r);
        let accepted = out.error.is_none() && out.consumed == input.len();
        if class == MUTATIONS.len() - 1 {
            // A truncated stream is whole frames and then an incomplete one:
            // never an error, never a frame that was not in the original.
            assert!(out.error.is_none(), "truncated stream gave {:?}", out.error);
            assert!(all.frames.starts_with(&out.frames));
            assert!(!accepted || all.frames.len() > out.frames.len());
            // `Incomplete { needed }` never asks for more than the frame has.
            let rest = &input[out.consumed..];
            if !rest.is_empty() {
                let dec = FrameDecoder::new(MAX_FRAME);
                let Ok(Decoded::Frame { len: full, .. }) = dec.decode(&valid[out.consumed..])
                else {
                    panic!("the original stream has a whole frame here");
                };
                let Ok(Decoded::Incomplete { needed }) = dec.decode(rest) else {
                    panic!("a truncated frame is not Incomplete: {rest:02x?}");
                };
                assert!(
                    rest.len() + needed <= full,
                    "needed {needed} overshoots a {full}-byte frame"
                );
            }
        }
        classes[class].0 += 1;
        classes[class].1 += u64::from(accepted);

        if i % 4 == 0 {
            let noise = r.bytes(48);
            inputs += 1;
            noise_frames += guarded_stream(&noise, &mut r).frames.len() as u64;
        }
    }

    let (mutated, accepted) = classes[..MUTATIONS.len() - 1]
        .iter()
        .fold((0, 0), |(n, a), c| (n + c.0, a + c.1));
    let share = accepted as f64 / mutated as f64;
    println!("hostile_frames: {inputs} streams decoded three ways");
    for (name, (n, a)) in MUTATIONS.iter().zip(classes) {
        println!(
            "  {name:>18}: {a:>6} / {n:>6} wholly accepted ({:.1}%)",
            100.0 * a as f64 / n as f64
        );
    }
    println!(
        "  mutated (no truncations): {accepted} / {mutated} wholly accepted ({:.1}%)",
        100.0 * share
    );
    println!("  frames found in noise: {noise_frames}");
    assert!(inputs >= STREAMS as u64 * 2);
    assert!(
        share >= 0.15,
        "only {:.1}% of mutated streams were accepted",
        100.0 * share
    );
}

/// `check_stream`, turning a panic into a report of the input.
fn guarded_stream(stream: &[u8], r: &mut Rng) -> Outcome {
    match catch_unwind(AssertUnwindSafe(|| check_stream(stream, r))) {
        Ok(out) => out,
        Err(_) => panic!("checking the frame stream {stream:02x?} failed"),
    }
}
