//! Bare-metal round trip of every fixed and borrowed zerowire shape, run on a
//! Cortex-M4 under QEMU (`mps2-an386`).
//!
//! For each value: encode into a stack buffer, decode to a view and to a
//! value, compare with the original, and check the length bookkeeping and
//! that damaged input (truncated, trailing byte) is rejected. The verdict
//! leaves through semihosting as QEMU's exit status:
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | every check passed and exactly [`EXPECTED_CHECKS`] ran |
//! | 1 | at least one check failed (each failure is printed as `FAIL ...`) |
//! | 2 | no failure, but the number of checks run is not [`EXPECTED_CHECKS`] |
//! | 101 | panic |
//! | 102 | HardFault |
//! | 103 | any other unexpected exception or interrupt |
//!
//! Only one line is printed with `core::fmt` (the summary); failures are
//! printed as plain strings.
#![no_std]
#![no_main]

mod rpc;

use core::hint::black_box;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{hio, hprintln};
use zerowire::{FromView, Wire};

// ---------------------------------------------------------------------------
// Wire types: every fixed and borrowed shape the derive supports without alloc.
// ---------------------------------------------------------------------------

/// Every integer width.
#[derive(Wire, Debug, PartialEq)]
struct Ints {
    a: u8,
    b: u16,
    c: u32,
    d: u64,
    e: u128,
    f: i8,
    g: i16,
    h: i32,
    i: i64,
    j: i128,
}

/// Both float widths.
#[derive(Wire, Debug, PartialEq)]
struct Floats {
    x: f32,
    y: f64,
}

/// A fieldless enum.
#[derive(Wire, Debug, PartialEq, Clone, Copy)]
enum Mode {
    Off,
    Idle,
    Run,
    Fault,
}

/// The checked scalars and arrays (of scalars, of checked scalars, nested,
/// of a fieldless enum).
#[derive(Wire, Debug, PartialEq)]
struct Scalars {
    flag: bool,
    letter: char,
    mode: Mode,
    words: [u16; 4],
    flags: [bool; 3],
    letters: [char; 2],
    grid: [[i8; 2]; 2],
    modes: [Mode; 2],
}

#[derive(Wire, Debug, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

/// A tuple struct.
#[derive(Wire, Debug, PartialEq)]
struct Rgb(u8, u8, u8);

/// A unit struct.
#[derive(Wire, Debug, PartialEq)]
struct Marker;

/// Nested fixed structs, an array of structs, a tuple and a unit struct.
#[derive(Wire, Debug, PartialEq)]
struct Shape {
    id: u16,
    origin: Point,
    corners: [Point; 2],
    color: Rgb,
    marker: Marker,
    mode: Mode,
}

/// A data-carrying enum: unit, tuple and struct variants.
#[derive(Wire, Debug, PartialEq)]
enum Command {
    Stop,
    Move(i16, i16),
    Paint(Rgb),
    Rename {
        name: heapless::String<12>,
        prio: u8,
    },
    Place {
        at: Point,
        mode: Mode,
    },
}

/// A data-carrying enum with borrowed payloads (`&'a str`, `&'a [u8]`).
#[derive(Wire, Debug, PartialEq)]
enum Note<'a> {
    Empty,
    Text(&'a str),
    Tagged {
        tag: u8,
        text: &'a str,
        raw: &'a [u8],
    },
}

/// `Option` of a scalar, of `&str`, of a fieldless enum and of a struct.
#[derive(Wire, Debug, PartialEq)]
struct Opts<'a> {
    count: Option<u32>,
    label: Option<&'a str>,
    mode: Option<Mode>,
    at: Option<Point>,
}

/// Borrowed strings and byte strings.
#[derive(Wire, Debug, PartialEq)]
struct Borrowed<'a> {
    name: &'a str,
    payload: &'a [u8],
    crc: u32,
}

/// Bounded heap-free containers.
#[derive(Wire, Debug, PartialEq)]
struct Bounded {
    label: heapless::String<16>,
    samples: heapless::Vec<u16, 8>,
    points: heapless::Vec<Point, 4>,
    mode: Mode,
}

/// A generic struct, used at two types.
#[derive(Wire, Debug, PartialEq)]
struct Pair<T> {
    a: T,
    b: T,
}

/// A generic data-carrying enum, used at three types.
#[derive(Wire, Debug, PartialEq)]
enum Slot<T> {
    Empty,
    Full(T),
    Tagged { tag: u8, value: T },
}

/// All of the above in one body, plus a vector of items with a tail.
#[derive(Wire, Debug, PartialEq)]
struct Everything<'a> {
    ints: Ints,
    floats: Floats,
    scalars: Scalars,
    shape: Shape,
    cmd: Command,
    opts: Opts<'a>,
    borrowed: Borrowed<'a>,
    bounded: Bounded,
    pair: Pair<u16>,
    points: Pair<Point>,
    history: heapless::Vec<Command, 3>,
    marker: Marker,
    rgb: Rgb,
}

// ---------------------------------------------------------------------------
// Check bookkeeping.
// ---------------------------------------------------------------------------

/// Checks made by one [`roundtrip`] call, whatever happens in it.
const ROUNDTRIP_CHECKS: u32 = 8;
/// Number of [`roundtrip`] calls in [`run`].
const ROUNDTRIPS: u32 = 52;
/// Number of single [`Ctx::check`] calls in [`run`] (view accessors, NaN,
/// zero-copy, rejected input).
const SINGLE_CHECKS: u32 = 25;
/// Every check [`run`] must make; fewer or more means checks were skipped or
/// duplicated, and the firmware fails.
const EXPECTED_CHECKS: u32 = ROUNDTRIPS * ROUNDTRIP_CHECKS + SINGLE_CHECKS + rpc::RPC_CHECKS;

/// Size of the scratch buffer [`roundtrip`] uses for the damaged-input checks.
const SCRATCH: usize = 512;

struct Ctx {
    passed: u32,
    failed: u32,
}

impl Ctx {
    fn check(&mut self, ok: bool, name: &'static str, what: &'static str) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            say(&["FAIL ", name, ": ", what, "\n"]);
        }
    }
}

/// Prints plain strings to the host's stdout, without `core::fmt`.
fn say(parts: &[&str]) {
    if let Ok(mut out) = hio::hstdout() {
        for p in parts {
            let _ = out.write_all(p.as_bytes());
        }
    }
}

/// Address range of a buffer, taken before the buffer is lent out.
fn span(buf: &[u8]) -> (usize, usize) {
    (buf.as_ptr() as usize, buf.len())
}

/// True when `inner` lies inside the buffer `outer` (a decoded `&str`/`&[u8]`
/// borrows the input instead of copying it).
fn borrows_from(outer: (usize, usize), inner: &[u8]) -> bool {
    let i = inner.as_ptr() as usize;
    i >= outer.0 && i + inner.len() <= outer.0 + outer.1
}

/// Encodes `value` into `buf` and checks it from every side. Always makes
/// exactly [`ROUNDTRIP_CHECKS`] checks. Returns the view and the decoded value
/// (both borrowing `buf`) for type-specific checks.
fn roundtrip<'b, T>(
    ctx: &mut Ctx,
    name: &'static str,
    value: &T,
    buf: &'b mut [u8],
) -> Option<(T::View<'b>, T)>
where
    T: Wire + FromView<'b> + PartialEq,
{
    let value = black_box(value);
    // 1. encode succeeds and writes exactly `encoded_len()` bytes.
    let n = match value.encode(buf) {
        Ok(n) => n,
        Err(_) => {
            for _ in 0..ROUNDTRIP_CHECKS {
                ctx.check(false, name, "encode failed");
            }
            return None;
        }
    };
    ctx.check(
        n == value.encoded_len() && n <= buf.len(),
        name,
        "encode: n != encoded_len()",
    );
    let bytes: &'b [u8] = buf;
    let bytes = bytes.get(..n).unwrap_or(&[]);

    // 2. the length respects the type's static bounds.
    let in_bounds = n >= T::MIN_LEN && T::MAX_LEN.is_none_or(|max| n <= max);
    ctx.check(in_bounds, name, "length outside MIN_LEN..=MAX_LEN");

    // 3. view -> value equals the original.
    let via_view = T::decode_view(black_box(bytes)).map(T::from_view);
    ctx.check(
        via_view.as_ref().is_ok_and(|v| v == value),
        name,
        "decode_view/from_view mismatch",
    );

    // 4. decode equals the original.
    let decoded = T::decode(black_box(bytes));
    ctx.check(
        decoded.as_ref().is_ok_and(|v| v == value),
        name,
        "decode mismatch",
    );

    // 5. a truncated body is rejected (zero-size types have nothing to cut).
    match n.checked_sub(1) {
        Some(short) => ctx.check(
            T::decode_view(black_box(&bytes[..short])).is_err(),
            name,
            "truncated body accepted",
        ),
        None => ctx.check(
            T::MAX_LEN == Some(0),
            name,
            "empty encoding of a sized type",
        ),
    }

    // 6. a trailing byte is rejected.
    let mut scratch = [0u8; SCRATCH];
    let trailing_rejected = match scratch.get_mut(..n + 1) {
        Some(s) => {
            s[..n].copy_from_slice(bytes);
            s[n] = black_box(0);
            T::decode_view(black_box(&scratch[..n + 1])).is_err()
        }
        None => false,
    };
    ctx.check(
        trailing_rejected,
        name,
        "trailing byte accepted (or body > scratch)",
    );

    // 7. encoding into a buffer one byte short fails cleanly.
    let short_fails = match n.checked_sub(1) {
        Some(short) => value.encode(&mut scratch[..short]).is_err(),
        None => value.encode(&mut []) == Ok(0),
    };
    ctx.check(short_fails, name, "encode into a short buffer did not fail");

    // 8. re-encoding the decoded value gives the same bytes (canonical form).
    let same = match &decoded {
        Ok(d) => {
            let mut again = [0u8; SCRATCH];
            matches!(d.encode(&mut again), Ok(m) if m == n && again[..m] == *bytes)
        }
        Err(_) => false,
    };
    ctx.check(same, name, "re-encoding is not byte-identical");

    match (T::decode_view(bytes), decoded) {
        (Ok(view), Ok(value)) => Some((view, value)),
        _ => None,
    }
}

fn hstring<const N: usize>(s: &str) -> heapless::String<N> {
    let mut out = heapless::String::new();
    out.push_str(s).expect("string fits its capacity");
    out
}

fn hvec<T, const N: usize, const M: usize>(items: [T; M]) -> heapless::Vec<T, N> {
    let mut out = heapless::Vec::new();
    for item in items {
        if out.push(item).is_err() {
            panic!("items fit the capacity");
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The checks.
// ---------------------------------------------------------------------------

fn sample_ints() -> Ints {
    Ints {
        a: 0xA5,
        b: 0xBEEF,
        c: 0xDEAD_BEEF,
        d: 0x0123_4567_89AB_CDEF,
        e: 0x0011_2233_4455_6677_8899_AABB_CCDD_EEFF,
        f: -100,
        g: -12_345,
        h: -1_000_000_007,
        i: -9_000_000_000_000_000_007,
        j: -170_141_183_460_469_231_731_687_303_715_884_105_000,
    }
}

fn sample_scalars() -> Scalars {
    Scalars {
        flag: true,
        letter: '\u{1F980}',
        mode: Mode::Run,
        words: [1, 0x100, 0xFFFF, 0],
        flags: [true, false, true],
        letters: ['é', '\u{10FFFF}'],
        grid: [[-1, 2], [i8::MIN, i8::MAX]],
        modes: [Mode::Fault, Mode::Off],
    }
}

fn sample_shape() -> Shape {
    Shape {
        id: 0x1234,
        origin: Point { x: -5, y: 7 },
        corners: [Point { x: i32::MIN, y: 0 }, Point { x: 0, y: i32::MAX }],
        color: Rgb(0x10, 0x20, 0x30),
        marker: Marker,
        mode: Mode::Idle,
    }
}

fn sample_bounded_full() -> Bounded {
    Bounded {
        label: hstring("zerowire·cortex"), // 16 bytes: '·' is two
        samples: hvec([0, 1, 2, 3, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF]),
        points: hvec([
            Point { x: 1, y: 2 },
            Point { x: -3, y: -4 },
            Point { x: 5, y: 6 },
            Point {
                x: i32::MAX,
                y: i32::MIN,
            },
        ]),
        mode: Mode::Fault,
    }
}

fn run(ctx: &mut Ctx) {
    // Input data goes through black_box so nothing is folded at compile time.
    let name: &str = black_box("sensor-7 ✓");
    let payload: &[u8] = black_box(&[0, 1, 2, 0xFE, 0xFF, 0x80, 0x7F]);
    let label: &str = black_box("κ-label");

    // --- integers (2 round trips) ---------------------------------------
    let ints = black_box(sample_ints());
    let mut buf = [0u8; Ints::MAX_ENCODED_LEN];
    let r = roundtrip(ctx, "ints", &ints, &mut buf);
    ctx.check(
        r.as_ref().is_some_and(|(v, _)| {
            v.a() == ints.a
                && v.b() == ints.b
                && v.c() == ints.c
                && v.d() == ints.d
                && v.e() == ints.e
                && v.f() == ints.f
                && v.g() == ints.g
                && v.h() == ints.h
                && v.i() == ints.i
                && v.j() == ints.j
        }),
        "ints",
        "view accessors",
    ); // single 1
    ctx.check(
        Ints::MAX_ENCODED_LEN == 1 + 2 + 4 + 8 + 16 + 1 + 2 + 4 + 8 + 16,
        "ints",
        "MAX_ENCODED_LEN",
    ); // single 2
    let extremes = black_box(Ints {
        a: u8::MAX,
        b: u16::MAX,
        c: u32::MAX,
        d: u64::MAX,
        e: u128::MAX,
        f: i8::MIN,
        g: i16::MIN,
        h: i32::MIN,
        i: i64::MIN,
        j: i128::MIN,
    });
    let mut buf = [0u8; Ints::MAX_ENCODED_LEN];
    roundtrip(ctx, "ints extremes", &extremes, &mut buf);

    // --- floats (2 round trips + NaN) -------------------------------------
    let floats = black_box(Floats {
        x: 3.5,
        y: -1.0e300,
    });
    let mut buf = [0u8; Floats::MAX_ENCODED_LEN];
    let r = roundtrip(ctx, "floats", &floats, &mut buf);
    ctx.check(
        r.as_ref()
            .is_some_and(|(v, _)| v.x() == 3.5 && v.y() == -1.0e300),
        "floats",
        "view accessors",
    ); // single 3
    let specials = black_box(Floats {
        x: f32::NEG_INFINITY,
        y: -0.0,
    });
    let mut buf = [0u8; 64];
    roundtrip(ctx, "float specials", &specials, &mut buf);
    // NaN != NaN, so compare bits.
    let nan = black_box(Floats {
        x: f32::from_bits(0x7FC0_1234),
        y: f64::from_bits(0xFFF8_0000_DEAD_BEEF),
    });
    let mut buf = [0u8; 64];
    let nan_ok = match nan.encode(&mut buf) {
        Ok(n) => Floats::decode(&buf[..n])
            .is_ok_and(|d| d.x.to_bits() == 0x7FC0_1234 && d.y.to_bits() == 0xFFF8_0000_DEAD_BEEF),
        Err(_) => false,
    };
    ctx.check(nan_ok, "float NaN", "NaN payload bits not preserved"); // single 4
    let mut buf = [0u8; 64];
    let sub = black_box(Floats {
        x: f32::from_bits(1),
        y: f64::MIN_POSITIVE / 2.0,
    });
    roundtrip(ctx, "float subnormals", &sub, &mut buf);

    // --- bool, char, fieldless enum, arrays (1 round trip) ---------------
    let scalars = black_box(sample_scalars());
    let mut buf = [0u8; Scalars::MAX_ENCODED_LEN];
    let r = roundtrip(ctx, "scalars", &scalars, &mut buf);
    ctx.check(
        r.as_ref().is_some_and(|(v, _)| {
            v.flag()
                && v.letter() == '\u{1F980}'
                && v.mode() == Mode::Run
                && <[u16; 4]>::from_view(v.words()) == [1, 0x100, 0xFFFF, 0]
                && <[bool; 3]>::from_view(v.flags()) == [true, false, true]
                && <[[i8; 2]; 2]>::from_view(v.grid()) == [[-1, 2], [i8::MIN, i8::MAX]]
                && <[Mode; 2]>::from_view(v.modes()) == [Mode::Fault, Mode::Off]
        }),
        "scalars",
        "view accessors",
    ); // single 5

    // --- fieldless enum, every variant (4 round trips) --------------------
    for (mode, name) in [
        (Mode::Off, "mode Off"),
        (Mode::Idle, "mode Idle"),
        (Mode::Run, "mode Run"),
        (Mode::Fault, "mode Fault"),
    ] {
        let mut buf = [0u8; Mode::MAX_ENCODED_LEN];
        roundtrip(ctx, name, &black_box(mode), &mut buf);
    }

    // --- nested, tuple and unit structs (4 round trips) -------------------
    let point = black_box(Point { x: -1, y: 1 });
    let mut buf = [0u8; Point::MAX_ENCODED_LEN];
    roundtrip(ctx, "point", &point, &mut buf);

    let rgb = black_box(Rgb(1, 128, 255));
    let mut buf = [0u8; Rgb::MAX_ENCODED_LEN];
    let r = roundtrip(ctx, "tuple struct", &rgb, &mut buf);
    ctx.check(
        r.as_ref()
            .is_some_and(|(v, _)| v._0() == 1 && v._1() == 128 && v._2() == 255),
        "tuple struct",
        "view accessors _0 _1 _2",
    ); // single 6

    let mut buf = [0u8; 4];
    roundtrip(ctx, "unit struct", &black_box(Marker), &mut buf);
    ctx.check(
        Marker::MAX_ENCODED_LEN == 0 && Marker.encoded_len() == 0,
        "unit struct",
        "not zero-sized",
    ); // single 7

    let shape = black_box(sample_shape());
    let mut buf = [0u8; Shape::MAX_ENCODED_LEN];
    let r = roundtrip(ctx, "nested", &shape, &mut buf);
    ctx.check(
        r.as_ref().is_some_and(|(v, _)| {
            v.id() == 0x1234
                && Point::from_view(v.origin()) == Point { x: -5, y: 7 }
                && <[Point; 2]>::from_view(v.corners()) == shape.corners
                && Rgb::from_view(v.color()) == Rgb(0x10, 0x20, 0x30)
                && v.mode() == Mode::Idle
        }),
        "nested",
        "view accessors",
    ); // single 8

    // --- data-carrying enum, every variant (5 round trips) -----------------
    let commands = [
        ("cmd Stop", Command::Stop),
        ("cmd Move", Command::Move(black_box(-300), black_box(300))),
        ("cmd Paint", Command::Paint(Rgb(9, 8, 7))),
        (
            "cmd Rename",
            Command::Rename {
                name: hstring(name),
                prio: black_box(3),
            },
        ),
        (
            "cmd Place",
            Command::Place {
                at: Point { x: 10, y: -10 },
                mode: Mode::Off,
            },
        ),
    ];
    for (what, cmd) in &commands {
        let mut buf = [0u8; 64];
        roundtrip(ctx, what, cmd, &mut buf);
    }
    // round trips so far: 2 + 3 + 1 + 4 + 4 + 5 = 19 (+ 4 below = 23)

    // --- data-carrying enum with borrowed payloads (4 round trips) ---------
    {
        for (what, note) in [
            ("note Empty", Note::Empty),
            ("note Text", Note::Text(name)),
            (
                "note Tagged",
                Note::Tagged {
                    tag: black_box(7),
                    text: label,
                    raw: payload,
                },
            ),
        ] {
            let mut buf = [0u8; 64];
            roundtrip(ctx, what, &note, &mut buf);
        }
        // The decoded &str borrows the buffer.
        let note = Note::Text(name);
        let mut buf = [0u8; 64];
        let at = span(&buf);
        let r = roundtrip(ctx, "note Text borrow", &note, &mut buf);
        ctx.check(
            r.as_ref().is_some_and(|(_, d)| match d {
                Note::Text(n) => *n == name && borrows_from(at, n.as_bytes()),
                _ => false,
            }),
            "note Text",
            "decoded &str does not borrow the buffer",
        ); // single 9
    }

    // --- Option (3 round trips) -------------------------------------------
    let opts = Opts {
        count: Some(black_box(7)),
        label: Some(label),
        mode: Some(Mode::Idle),
        at: Some(Point { x: 3, y: 4 }),
    };
    let mut buf = [0u8; 64];
    let r = roundtrip(ctx, "options Some", &opts, &mut buf);
    ctx.check(
        r.as_ref().is_some_and(|(v, _)| {
            v.count() == Some(7)
                && v.label() == Some(label)
                && v.mode() == Some(Mode::Idle)
                && v.at().map(Point::from_view) == Some(Point { x: 3, y: 4 })
        }),
        "options Some",
        "view accessors",
    ); // single 10
    let none = black_box(Opts {
        count: None,
        label: None,
        mode: None,
        at: None,
    });
    let mut buf = [0u8; 64];
    let r = roundtrip(ctx, "options None", &none, &mut buf);
    ctx.check(
        r.as_ref()
            .is_some_and(|(v, _)| v.count().is_none() && v.label().is_none()),
        "options None",
        "view accessors",
    ); // single 11
    let mixed = Opts {
        count: Some(0),
        label: Some(""),
        mode: None,
        at: Some(Point { x: 0, y: 0 }),
    };
    let mut buf = [0u8; 64];
    roundtrip(ctx, "options mixed", &mixed, &mut buf);

    // --- &str and &[u8] (2 round trips) ------------------------------------
    let borrowed = Borrowed {
        name,
        payload,
        crc: black_box(0xCAFE_F00D),
    };
    let mut buf = [0u8; 64];
    let at = span(&buf);
    let r = roundtrip(ctx, "borrowed", &borrowed, &mut buf);
    ctx.check(
        r.as_ref().is_some_and(|(v, _)| {
            v.name() == name && v.payload() == payload && v.crc() == 0xCAFE_F00D
        }),
        "borrowed",
        "view accessors",
    ); // single 12
    ctx.check(
        r.as_ref().is_some_and(|(v, d)| {
            borrows_from(at, v.name().as_bytes())
                && borrows_from(at, v.payload())
                && borrows_from(at, d.name.as_bytes())
                && borrows_from(at, d.payload)
        }),
        "borrowed",
        "view/decoded value copies instead of borrowing the buffer",
    ); // single 13
    let empty = Borrowed {
        name: black_box(""),
        payload: black_box(&[]),
        crc: 0,
    };
    let mut buf = [0u8; 16];
    roundtrip(ctx, "borrowed empty", &empty, &mut buf);

    // --- heapless::String / heapless::Vec (2 round trips) -----------------
    let full = black_box(sample_bounded_full());
    let mut buf = [0u8; Bounded::MAX_ENCODED_LEN];
    let r = roundtrip(ctx, "heapless full", &full, &mut buf);
    ctx.check(
        r.as_ref().is_some_and(|(v, _)| {
            v.label() == "zerowire·cortex"
                && v.samples().len() == 8
                && v.samples().get(7) == Some(0xFFFF)
                && v.points().len() == 4
                && v.points().get(1).map(Point::from_view) == Some(Point { x: -3, y: -4 })
                && v.mode() == Mode::Fault
        }),
        "heapless full",
        "view accessors",
    ); // single 14
       // 1 + 16 (label) + 1 + 8 * 2 (samples) + 1 + 4 * 8 (points) + 1 (mode)
    ctx.check(
        Bounded::MAX_ENCODED_LEN == 68 && full.encoded_len() == Bounded::MAX_ENCODED_LEN,
        "heapless full",
        "MAX_ENCODED_LEN is not the full encoding's length",
    ); // single 15
    let empty = black_box(Bounded {
        label: heapless::String::new(),
        samples: heapless::Vec::new(),
        points: heapless::Vec::new(),
        mode: Mode::Off,
    });
    let mut buf = [0u8; Bounded::MAX_ENCODED_LEN];
    roundtrip(ctx, "heapless empty", &empty, &mut buf);

    // --- generic struct at two types (2 round trips) -----------------------
    let p16 = black_box(Pair { a: 1u16, b: 0xFFFF });
    let mut buf = [0u8; Pair::<u16>::MAX_ENCODED_LEN];
    let r = roundtrip(ctx, "Pair<u16>", &p16, &mut buf);
    ctx.check(
        r.as_ref()
            .is_some_and(|(v, _)| v.a() == 1 && v.b() == 0xFFFF),
        "Pair<u16>",
        "view accessors",
    ); // single 16
    let pp = black_box(Pair {
        a: Point { x: 1, y: 2 },
        b: Point { x: 3, y: 4 },
    });
    let mut buf = [0u8; Pair::<Point>::MAX_ENCODED_LEN];
    let r = roundtrip(ctx, "Pair<Point>", &pp, &mut buf);
    ctx.check(
        r.as_ref()
            .is_some_and(|(v, _)| Point::from_view(v.b()) == Point { x: 3, y: 4 }),
        "Pair<Point>",
        "view accessors",
    ); // single 17
    ctx.check(
        Pair::<u16>::MAX_ENCODED_LEN == 4 && Pair::<Point>::MAX_ENCODED_LEN == 16,
        "Pair",
        "MAX_ENCODED_LEN",
    ); // single 18 (round trips so far: 23 + 3 + 2 + 2 + 2 = 32)

    // --- everything in one body (1 round trip) -----------------------------
    let everything = Everything {
        ints: sample_ints(),
        floats: Floats {
            x: -0.5,
            y: 1.0e-300,
        },
        scalars: sample_scalars(),
        shape: sample_shape(),
        cmd: Command::Rename {
            name: hstring(label),
            prio: 9,
        },
        opts: Opts {
            count: None,
            label: Some(name),
            mode: Some(Mode::Run),
            at: None,
        },
        borrowed: Borrowed {
            name: label,
            payload,
            crc: 1,
        },
        bounded: sample_bounded_full(),
        pair: Pair { a: 10, b: 20 },
        points: Pair {
            a: Point { x: -1, y: -2 },
            b: Point { x: -3, y: -4 },
        },
        history: hvec([
            Command::Move(1, 2),
            Command::Rename {
                name: hstring(name),
                prio: 0,
            },
            Command::Stop,
        ]),
        marker: Marker,
        rgb: Rgb(4, 5, 6),
    };
    let mut buf = [0u8; 512];
    let r = roundtrip(ctx, "everything", &everything, &mut buf);
    ctx.check(
        r.as_ref().is_some_and(|(v, _)| {
            v.pair().a() == 10
                && v.borrowed().name() == label
                && v.history().len() == 3
                && v.history().iter().nth(1).map(Command::from_view)
                    == Some(Command::Rename {
                        name: hstring(name),
                        prio: 0,
                    })
                && Ints::from_view(v.ints()) == sample_ints()
        }),
        "everything",
        "nested view accessors",
    ); // single 19

    // --- core wire types on their own (16 round trips) ----------------------
    let mut buf = [0u8; 64];
    roundtrip(ctx, "u8", &black_box(0xFFu8), &mut buf);
    roundtrip(ctx, "i16", &black_box(-2i16), &mut buf);
    roundtrip(ctx, "u32", &black_box(0x0102_0304u32), &mut buf);
    roundtrip(ctx, "i64", &black_box(i64::MIN + 1), &mut buf);
    roundtrip(ctx, "u128", &black_box(u128::MAX - 1), &mut buf);
    roundtrip(ctx, "f32", &black_box(core::f32::consts::PI), &mut buf);
    roundtrip(ctx, "f64", &black_box(core::f64::consts::E), &mut buf);
    roundtrip(ctx, "bool", &black_box(true), &mut buf);
    roundtrip(ctx, "char", &black_box('Ω'), &mut buf);
    roundtrip(ctx, "[u32; 3]", &black_box([1u32, 2, 3]), &mut buf);
    roundtrip(ctx, "Option<u32>", &black_box(Some(5u32)), &mut buf);
    roundtrip(ctx, "Option<&str>", &Some(label), &mut buf);
    roundtrip(ctx, "&str", &name, &mut buf);
    roundtrip(ctx, "&[u8]", &payload, &mut buf);
    roundtrip(ctx, "heapless::String", &hstring::<12>(label), &mut buf);
    roundtrip(
        ctx,
        "heapless::Vec",
        &hvec::<i32, 4, 3>([-1, 0, 1]),
        &mut buf,
    );
    // round trips: 32 + 1 + 16 = 49

    // --- generic enum at three types (3 round trips) -----------------------
    let mut buf = [0u8; 64];
    roundtrip(
        ctx,
        "Slot<u32> Full",
        &Slot::Full(black_box(0xFEED_u32)),
        &mut buf,
    );
    let tagged = Slot::Tagged {
        tag: black_box(2),
        value: Point { x: 7, y: -7 },
    };
    roundtrip(ctx, "Slot<Point> Tagged", &tagged, &mut buf);
    roundtrip(ctx, "Slot<&str> Full", &Slot::Full(label), &mut buf);
    // round trips: 49 + 3 = 52 - see ROUNDTRIPS.

    // --- malformed input is rejected (6 checks) ------------------------------
    ctx.check(
        bool::decode_view(black_box(&[2])).is_err(),
        "bool",
        "byte 2 accepted",
    ); // single 20
    ctx.check(
        char::decode_view(black_box(&0xD800u32.to_le_bytes())).is_err(),
        "char",
        "surrogate accepted",
    ); // single 21
    ctx.check(
        Mode::decode_view(black_box(&[4])).is_err(),
        "mode",
        "index 4 of 4 variants accepted",
    ); // single 22
    ctx.check(
        <&str>::decode_view(black_box(&[2, 0xC3, 0x28])).is_err(),
        "&str",
        "invalid UTF-8 accepted",
    ); // single 23
    let mut buf = [0u8; 32];
    let over = match black_box("more than eight").encode(&mut buf) {
        Ok(n) => heapless::String::<8>::decode_view(&buf[..n]).is_err(),
        Err(_) => false,
    };
    ctx.check(over, "heapless::String<8>", "16 bytes accepted"); // single 24
    let mut buf = [0u8; 8];
    let bad_tag = match Command::Stop.encode(&mut buf) {
        Ok(1) => {
            buf[0] = black_box(5);
            Command::decode_view(&buf[..1]).is_err()
        }
        _ => false,
    };
    ctx.check(
        bad_tag,
        "cmd",
        "variant index 5 of 5 accepted (or Stop is not 1 byte)",
    ); // single 25
}

#[entry]
fn main() -> ! {
    let mut ctx = Ctx {
        passed: 0,
        failed: 0,
    };
    run(&mut ctx);
    rpc::run(&mut ctx);
    let total = ctx.passed + ctx.failed;
    hprintln!(
        "wire-roundtrip: {} passed, {} failed, {} of {} expected checks ran",
        ctx.passed,
        ctx.failed,
        total,
        EXPECTED_CHECKS
    );
    if ctx.failed != 0 {
        exit(1)
    } else if ctx.passed != EXPECTED_CHECKS {
        exit(2)
    } else {
        exit(0)
    }
}

// ---------------------------------------------------------------------------
// Exit codes through semihosting.
// ---------------------------------------------------------------------------

/// Ends the QEMU session with exit status `code`.
///
/// `SYS_EXIT_EXTENDED` (0x20) with `ADP_Stopped_ApplicationExit` passes the
/// code through on 32-bit ARM; plain `SYS_EXIT` there only knows success and
/// failure, and is the fallback.
fn exit(code: u32) -> ! {
    const SYS_EXIT_EXTENDED: usize = 0x20;
    const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;
    let block = [ADP_STOPPED_APPLICATION_EXIT, code as usize];
    // SAFETY: a semihosting call with a valid parameter block; under a
    // debugger without semihosting it traps, which is what we want.
    unsafe {
        cortex_m_semihosting::syscall(SYS_EXIT_EXTENDED, &block);
    }
    cortex_m_semihosting::debug::exit(if code == 0 {
        cortex_m_semihosting::debug::EXIT_SUCCESS
    } else {
        cortex_m_semihosting::debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::nop();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    say(&["PANIC\n"]);
    exit(101)
}

#[exception]
unsafe fn HardFault(_: &ExceptionFrame) -> ! {
    say(&["HARDFAULT\n"]);
    exit(102)
}

#[exception]
unsafe fn DefaultHandler(_irqn: i16) {
    say(&["UNEXPECTED EXCEPTION\n"]);
    exit(103)
}
