//! Property tests: every supported wire shape round-trips.
//!
//! For each generated value:
//! - `encode` into a buffer of exactly `encoded_len()` bytes succeeds and
//!   fills it (and a buffer one byte short is refused);
//! - `MIN_LEN <= encoded_len() <= MAX_LEN` (and `<= MAX_ENCODED_LEN` for
//!   bounded types);
//! - `decode_view` succeeds and `decode` returns an equal value (floats are
//!   compared bitwise, so NaN payloads must survive);
//! - re-encoding the decoded value gives identical bytes;
//! - strict prefixes of the encoding fail with `UnexpectedEnd` at an offset
//!   within the prefix (all prefixes for short encodings, a sample for long
//!   ones);
//! - one appended byte fails with `TrailingBytes { count: 1 }` at the end;
//! - `encode_around` (the encoding without its longest verbatim run) plus
//!   that run, put back at its place, gives the same bytes.

use std::fmt::Debug;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use zerowire::{DecodeErrorKind, EncodeError, FromView, Wire};

// ---------------------------------------------------------------------------
// Types under test
// ---------------------------------------------------------------------------

#[derive(Wire, Debug, Clone, Copy, PartialEq)]
enum Mode {
    Idle,
    Run,
    Fault,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Ints {
    a: u8,
    b: i8,
    c: u16,
    d: i16,
    e: u32,
    f: i32,
    g: u64,
    h: i64,
    i: u128,
    j: i128,
}

#[derive(Wire, Debug, Clone)]
struct Floats {
    a: f32,
    b: f64,
    pair: [f32; 2],
    list: Vec<f64>,
    maybe: Option<f32>,
}

#[derive(Wire, Debug, Clone, Copy, PartialEq)]
struct Point(i16, i16);

#[derive(Wire, Debug, Clone, Copy, PartialEq)]
struct Unit;

/// Only fixed-size fields: the whole value is the fixed block.
#[derive(Wire, Debug, Clone, Copy, PartialEq)]
struct Header {
    version: u8,
    ok: bool,
    letter: char,
    mode: Mode,
    origin: Point,
    grid: [[u16; 2]; 3],
    modes: [Mode; 3],
    flags: [bool; 4],
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Named(String, u8);

#[derive(Wire, Debug, Clone, PartialEq)]
struct Reading {
    device: u32,
    label: String,
    samples: Vec<u16>,
    mode: Mode,
    note: Option<String>,
    blob: Vec<u8>,
}

/// Nesting: fixed and variable structs inside a struct.
#[derive(Wire, Debug, Clone, PartialEq)]
struct Envelope {
    header: Header,
    body: Reading,
    extra: Option<Reading>,
    named: Named,
    unit: Unit,
    points: Vec<Point>,
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
        header: Header,
        tags: Vec<String>,
    },
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Generic<T> {
    id: u8,
    value: T,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Borrowed<'a> {
    name: &'a str,
    blob: &'a [u8],
    nums: Vec<u32>,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Bounded {
    name: heapless::String<8>,
    samples: heapless::Vec<u16, 4>,
    tags: heapless::Vec<heapless::String<3>, 2>,
    point: Option<Point>,
    header: Header,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Containers {
    bytes: bytes::Bytes,
    strings: Vec<String>,
    nested: Vec<Vec<u16>>,
    shapes: Vec<Shape>,
    options: Vec<Option<u8>>,
    result: Result<u32, String>,
    boxed: Box<Point>,
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// Prefix lengths to try: all of them for short encodings, a spread for long
/// ones (always including 0, 1, len/2 and len - 1).
fn prefixes(len: usize) -> Vec<usize> {
    if len <= 48 {
        return (0..len).collect();
    }
    let mut p: Vec<usize> = vec![0, 1, 2, len / 2, len - 2, len - 1];
    p.extend((1..12).map(|i| len * i / 12));
    p.sort_unstable();
    p.dedup();
    p
}

/// Encodes `value` and checks everything that needs no owned decode; returns
/// the encoding.
fn encode_checked<T: Wire>(value: &T) -> Result<Vec<u8>, TestCaseError> {
    let len = value.encoded_len();
    prop_assert!(
        len >= T::MIN_LEN,
        "encoded_len {} < MIN_LEN {}",
        len,
        T::MIN_LEN
    );
    if let Some(max) = T::MAX_LEN {
        prop_assert!(len <= max, "encoded_len {} > MAX_LEN {}", len, max);
    }
    prop_assert!(len >= T::FIXED_LEN);

    // Exactly `encoded_len()` bytes: filled completely.
    let mut buf = vec![0xA5u8; len];
    prop_assert_eq!(value.encode(&mut buf), Ok(len));
    prop_assert_eq!(&value.encode_to_vec(), &buf);
    // A bigger buffer: same bytes at the front, the rest untouched.
    let mut big = vec![0x5Au8; len + 3];
    prop_assert_eq!(value.encode(&mut big), Ok(len));
    prop_assert_eq!(&big[..len], &buf[..]);
    prop_assert_eq!(&big[len..], &[0x5A; 3][..]);
    // One byte short: refused.
    if len > 0 {
        let mut short = vec![0u8; len - 1];
        prop_assert_eq!(
            value.encode(&mut short),
            Err(EncodeError::BufferTooSmall {
                needed: len,
                available: len - 1
            })
        );
    }

    // Left out around its longest verbatim run, the encoding is the same.
    match value.verbatim().filter(|r| !r.is_empty()) {
        Some(run) => {
            let Some(around) = zerowire::wire::encode_around(value, 1) else {
                return Err(TestCaseError::fail(
                    "encode_around refused a value with a run",
                ));
            };
            prop_assert!(std::ptr::eq(around.run, run));
            prop_assert_eq!(around.rest.len() + run.len(), len);
            let mut whole = around.rest[..around.at].to_vec();
            whole.extend_from_slice(run);
            whole.extend_from_slice(&around.rest[around.at..]);
            prop_assert_eq!(&whole, &buf);
            // A run shorter than asked for is not left out.
            prop_assert!(zerowire::wire::encode_around(value, run.len() + 1).is_none());
        }
        None => prop_assert!(zerowire::wire::encode_around(value, 1).is_none()),
    }

    // The view validates.
    if let Err(e) = T::decode_view(&buf) {
        return Err(TestCaseError::fail(format!(
            "decode_view failed: {e} on {buf:02x?}"
        )));
    }

    // Strict prefixes fail where the bytes ran out.
    for p in prefixes(len) {
        match T::decode_view(&buf[..p]) {
            Ok(_) => {
                return Err(TestCaseError::fail(format!(
                    "prefix of {p}/{len} bytes decoded: {buf:02x?}"
                )))
            }
            Err(e) => {
                prop_assert!(
                    matches!(e.kind, DecodeErrorKind::UnexpectedEnd { needed } if needed > 0),
                    "prefix {}/{}: {:?}",
                    p,
                    len,
                    e
                );
                prop_assert!(e.offset <= p, "prefix {}/{}: offset {}", p, len, e.offset);
            }
        }
    }

    // A trailing byte is refused, at the end of the value.
    let mut longer = buf.clone();
    longer.push(0);
    match T::decode_view(&longer) {
        Ok(_) => return Err(TestCaseError::fail("a trailing byte was accepted")),
        Err(e) => {
            prop_assert_eq!(e.kind, DecodeErrorKind::TrailingBytes { count: 1 });
            prop_assert_eq!(e.offset, len);
        }
    }
    Ok(buf)
}

/// Decodes `bytes` (the encoding of `value`), compares with `eq` and checks
/// that the decoded value re-encodes to the same bytes. Works for borrowing
/// types (`&str`, `Borrowed<'a>`) too: the result borrows `bytes`.
fn decode_checked<'a, T>(
    value: &T,
    bytes: &'a [u8],
    eq: impl Fn(&T, &T) -> bool,
) -> Result<(), TestCaseError>
where
    T: FromView<'a> + Debug,
{
    let back = match T::decode(bytes) {
        Ok(v) => v,
        Err(e) => return Err(TestCaseError::fail(format!("decode failed: {e}"))),
    };
    prop_assert!(eq(&back, value), "decoded {:?}, expected {:?}", back, value);
    prop_assert_eq!(back.encode_to_vec(), bytes);
    Ok(())
}

/// Encode, decode and re-encode `value`, comparing with `==` or the given
/// equality; a borrowing value's decoded copy borrows the local encoding.
macro_rules! rt {
    ($value:expr) => {
        rt!($value, |a, b| a == b)
    };
    ($value:expr, $eq:expr) => {{
        let value = $value;
        let bytes = encode_checked(&value)?;
        decode_checked(&value, &bytes, $eq)?;
    }};
}

/// Bounded types: `MAX_ENCODED_LEN` is a constant that covers every value.
macro_rules! bounded {
    ($ty:ty, $value:expr) => {{
        const MAX: usize = <$ty as Wire>::MAX_ENCODED_LEN;
        let value: $ty = $value;
        prop_assert!(value.encoded_len() <= MAX);
        let mut buf = [0u8; MAX];
        prop_assert_eq!(value.encode(&mut buf), Ok(value.encoded_len()));
        rt!(value);
    }};
}

fn f32_eq(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits()
}

fn f64_eq(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

fn floats_eq(a: &Floats, b: &Floats) -> bool {
    f32_eq(a.a, b.a)
        && f64_eq(a.b, b.b)
        && a.pair.iter().zip(&b.pair).all(|(x, y)| f32_eq(*x, *y))
        && a.list.len() == b.list.len()
        && a.list.iter().zip(&b.list).all(|(x, y)| f64_eq(*x, *y))
        && match (a.maybe, b.maybe) {
            (None, None) => true,
            (Some(x), Some(y)) => f32_eq(x, y),
            _ => false,
        }
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// Every bit pattern, NaNs with payloads included.
fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![any::<u32>().prop_map(f32::from_bits), any::<f32>()]
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![any::<u64>().prop_map(f64::from_bits), any::<f64>()]
}

/// Strings of any chars (control, non-BMP), long enough to need a 2-byte
/// length sometimes.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => vec(any::<char>(), 0..8).prop_map(String::from_iter),
        1 => vec(any::<char>(), 0..80).prop_map(String::from_iter),
    ]
}

fn small_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![3 => vec(any::<u8>(), 0..8), 1 => vec(any::<u8>(), 60..140)]
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Idle), Just(Mode::Run), Just(Mode::Fault)]
}

fn point() -> impl Strategy<Value = Point> {
    (any::<i16>(), any::<i16>()).prop_map(|(x, y)| Point(x, y))
}

fn ints() -> impl Strategy<Value = Ints> {
    (
        (
            any::<u8>(),
            any::<i8>(),
            any::<u16>(),
            any::<i16>(),
            any::<u32>(),
        ),
        (
            any::<i32>(),
            any::<u64>(),
            any::<i64>(),
            any::<u128>(),
            any::<i128>(),
        ),
    )
        .prop_map(|((a, b, c, d, e), (f, g, h, i, j))| Ints {
            a,
            b,
            c,
            d,
            e,
            f,
            g,
            h,
            i,
            j,
        })
}

fn floats() -> impl Strategy<Value = Floats> {
    (
        any_f32(),
        any_f64(),
        [any_f32(), any_f32()],
        vec(any_f64(), 0..6),
        proptest::option::of(any_f32()),
    )
        .prop_map(|(a, b, pair, list, maybe)| Floats {
            a,
            b,
            pair,
            list,
            maybe,
        })
}

fn header() -> impl Strategy<Value = Header> {
    (
        any::<u8>(),
        any::<bool>(),
        any::<char>(),
        mode(),
        point(),
        any::<[[u16; 2]; 3]>(),
        [mode(), mode(), mode()],
        any::<[bool; 4]>(),
    )
        .prop_map(
            |(version, ok, letter, mode, origin, grid, modes, flags)| Header {
                version,
                ok,
                letter,
                mode,
                origin,
                grid,
                modes,
                flags,
            },
        )
}

fn named() -> impl Strategy<Value = Named> {
    (text(), any::<u8>()).prop_map(|(s, n)| Named(s, n))
}

fn reading() -> impl Strategy<Value = Reading> {
    (
        any::<u32>(),
        text(),
        vec(any::<u16>(), 0..10),
        mode(),
        proptest::option::of(text()),
        small_bytes(),
    )
        .prop_map(|(device, label, samples, mode, note, blob)| Reading {
            device,
            label,
            samples,
            mode,
            note,
            blob,
        })
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (
        header(),
        reading(),
        proptest::option::of(reading()),
        named(),
        vec(point(), 0..5),
    )
        .prop_map(|(header, body, extra, named, points)| Envelope {
            header,
            body,
            extra,
            named,
            unit: Unit,
            points,
        })
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        any::<u32>().prop_map(Shape::Circle),
        (any::<u16>(), any::<u16>()).prop_map(|(w, h)| Shape::Rect { w, h }),
        (text(), any::<u8>()).prop_map(|(s, n)| Shape::Named(s, n)),
        Just(Shape::Empty),
        vec(point(), 0..6).prop_map(Shape::Path),
        (proptest::option::of(text()), header(), vec(text(), 0..4)).prop_map(
            |(label, header, tags)| Shape::Labelled {
                label,
                header,
                tags
            }
        ),
    ]
}

/// A heapless string of at most `N` bytes.
fn hstring<const N: usize>() -> impl Strategy<Value = heapless::String<N>> {
    vec(any::<char>(), 0..=N).prop_map(|chars| {
        let mut s = heapless::String::new();
        for c in chars {
            if s.push(c).is_err() {
                break;
            }
        }
        s
    })
}

fn bounded_value() -> impl Strategy<Value = Bounded> {
    (
        hstring::<8>(),
        vec(any::<u16>(), 0..=4),
        vec(hstring::<3>(), 0..=2),
        proptest::option::of(point()),
        header(),
    )
        .prop_map(|(name, samples, tags, point, header)| Bounded {
            name,
            samples: heapless::Vec::from_slice(&samples).unwrap(),
            tags: heapless::Vec::from_slice(&tags).unwrap(),
            point,
            header,
        })
}

fn containers() -> impl Strategy<Value = Containers> {
    (
        small_bytes(),
        vec(text(), 0..5),
        vec(vec(any::<u16>(), 0..5), 0..5),
        vec(shape(), 0..4),
        vec(proptest::option::of(any::<u8>()), 0..6),
        prop_oneof![any::<u32>().prop_map(Ok), text().prop_map(Err)],
        point(),
    )
        .prop_map(
            |(bytes, strings, nested, shapes, options, result, boxed)| Containers {
                bytes: bytes.into(),
                strings,
                nested,
                shapes,
                options,
                result,
                boxed: Box::new(boxed),
            },
        )
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn integers(
        a in any::<u8>(), b in any::<i8>(), c in any::<u16>(), d in any::<i16>(),
        e in any::<u32>(), f in any::<i32>(), g in any::<u64>(), h in any::<i64>(),
        i in any::<u128>(), j in any::<i128>(),
    ) {
        bounded!(u8, a);
        bounded!(i8, b);
        bounded!(u16, c);
        bounded!(i16, d);
        bounded!(u32, e);
        bounded!(i32, f);
        bounded!(u64, g);
        bounded!(i64, h);
        bounded!(u128, i);
        bounded!(i128, j);
        bounded!(Ints, Ints { a, b, c, d, e, f, g, h, i, j });
    }

    #[test]
    fn integer_struct(v in ints()) {
        // Little-endian, in declaration order, no padding.
        let bytes = encode_checked(&v)?;
        prop_assert_eq!(bytes.len(), 62);
        prop_assert_eq!(&bytes[2..4], &v.c.to_le_bytes()[..]);
        prop_assert_eq!(&bytes[46..62], &v.j.to_le_bytes()[..]);
        rt!(v);
    }

    #[test]
    fn floats_bitwise(a in any_f32(), b in any_f64(), s in floats()) {
        rt!(a, |x: &f32, y: &f32| f32_eq(*x, *y));
        rt!(b, |x: &f64, y: &f64| f64_eq(*x, *y));
        prop_assert!(a.encoded_len() <= <f32 as Wire>::MAX_ENCODED_LEN);
        rt!(s, floats_eq);
    }

    #[test]
    fn bool_char_unit(b in any::<bool>(), c in any::<char>()) {
        bounded!(bool, b);
        bounded!(char, c);
        bounded!((), ());
        bounded!(Unit, Unit);
        bounded!(Mode, if b { Mode::Run } else { Mode::Fault });
    }

    #[test]
    fn arrays(
        a in any::<[u8; 4]>(),
        b in any::<[u32; 3]>(),
        c in any::<[bool; 5]>(),
        d in any::<[char; 2]>(),
        e in any::<[[u16; 2]; 3]>(),
        p in [point(), point()],
        m in [mode(), mode(), mode()],
    ) {
        bounded!([u8; 4], a);
        bounded!([u32; 3], b);
        bounded!([bool; 5], c);
        bounded!([char; 2], d);
        bounded!([[u16; 2]; 3], e);
        bounded!([Point; 2], p);
        bounded!([Mode; 3], m);
        bounded!([u8; 0], []);
    }

    #[test]
    fn fixed_structs(h in header(), p in point()) {
        bounded!(Header, h);
        bounded!(Point, p);
        // A fixed-only struct has no tail: its encoding is its fixed block.
        prop_assert_eq!(h.encoded_len(), <Header as Wire>::FIXED_LEN);
    }

    #[test]
    fn variable_structs(r in reading(), n in named(), e in envelope()) {
        rt!(r);
        rt!(n);
        rt!(e);
    }

    #[test]
    fn enums(s in shape(), m in mode()) {
        rt!(s);
        bounded!(Mode, m);
    }

    #[test]
    fn options(
        a in proptest::option::of(any::<u32>()),
        b in proptest::option::of(point()),
        c in proptest::option::of(text()),
        d in proptest::option::of(small_bytes()),
        e in proptest::option::of(proptest::option::of(any::<u8>())),
        f in proptest::option::of(shape()),
    ) {
        bounded!(Option<u32>, a);
        bounded!(Option<Point>, b);
        rt!(c);
        rt!(d);
        bounded!(Option<Option<u8>>, e);
        rt!(f);
    }

    #[test]
    fn strings_and_bytes(s in text(), b in small_bytes()) {
        rt!(s.clone());
        // &str and &[u8] decode by borrowing from the input.
        rt!(s.as_str());
        rt!(b.clone());
        rt!(b.as_slice());
        rt!(bytes::Bytes::from(b.clone()));
        // String, &str and Vec<u8>, &[u8], Bytes share their encodings.
        prop_assert_eq!(s.encode_to_vec(), s.as_str().encode_to_vec());
        prop_assert_eq!(b.encode_to_vec(), b.as_slice().encode_to_vec());
        prop_assert_eq!(b.encode_to_vec(), bytes::Bytes::from(b.clone()).encode_to_vec());
    }

    #[test]
    fn borrowed_struct(name in text(), blob in small_bytes(), nums in vec(any::<u32>(), 0..6)) {
        rt!(Borrowed { name: &name, blob: &blob, nums });
    }

    #[test]
    fn vectors(
        points in vec(point(), 0..20),
        strings in vec(text(), 0..8),
        nested in vec(vec(any::<u16>(), 0..6), 0..6),
        shapes in vec(shape(), 0..6),
        modes in vec(mode(), 0..10),
        headers in vec(header(), 0..3),
    ) {
        rt!(points);
        rt!(strings);
        rt!(nested);
        rt!(shapes);
        rt!(modes);
        rt!(headers);
    }

    #[test]
    fn containers_struct(c in containers()) {
        rt!(c);
    }

    #[test]
    fn generic_at_two_types(id in any::<u8>(), n in any::<u16>(), s in text(), p in vec(point(), 0..4)) {
        bounded!(Generic<u16>, Generic { id, value: n });
        rt!(Generic { id, value: s });
        rt!(Generic { id, value: p });
        prop_assert_ne!(
            <Generic<u16> as Wire>::FINGERPRINT,
            <Generic<String> as Wire>::FINGERPRINT
        );
    }

    #[test]
    fn heapless_types(
        s in hstring::<8>(),
        v in vec(any::<u16>(), 0..=4),
        b in bounded_value(),
    ) {
        bounded!(heapless::String<8>, s.clone());
        bounded!(heapless::Vec<u16, 4>, heapless::Vec::from_slice(&v).unwrap());
        bounded!(Bounded, b);
        // Same bytes as the heap-backed types.
        prop_assert_eq!(s.encode_to_vec(), s.as_str().encode_to_vec());
        prop_assert_eq!(
            heapless::Vec::<u16, 4>::from_slice(&v).unwrap().encode_to_vec(),
            v.encode_to_vec()
        );
    }

    /// A heap-backed value decodes into a bounded container exactly when it
    /// fits; otherwise `CapacityExceeded` at the length.
    #[test]
    fn heapless_capacity(s in vec(any::<char>(), 0..6).prop_map(String::from_iter), v in vec(any::<u32>(), 0..8)) {
        let bytes = s.encode_to_vec();
        match heapless::String::<8>::decode(&bytes) {
            Ok(h) => prop_assert_eq!(h.as_str(), s.as_str()),
            Err(e) => {
                prop_assert!(s.len() > 8);
                prop_assert_eq!(e.kind, DecodeErrorKind::CapacityExceeded { len: s.len(), max: 8 });
                prop_assert_eq!(e.offset, 0);
            }
        }
        let bytes = v.encode_to_vec();
        match heapless::Vec::<u32, 4>::decode(&bytes) {
            Ok(h) => prop_assert_eq!(h.as_slice(), v.as_slice()),
            Err(e) => {
                prop_assert!(v.len() > 4);
                prop_assert_eq!(e.kind, DecodeErrorKind::CapacityExceeded { len: v.len(), max: 4 });
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Lengths that need 4-byte LPVs (>= 2^14).
    #[test]
    fn long_sequences(
        b in vec(any::<u8>(), 16_380..16_400),
        words in vec(any::<u16>(), 16_383..16_390),
    ) {
        rt!(b);
        rt!(words);
    }
}

#[test]
fn max_encoded_len_values() {
    assert_eq!(
        <Header as Wire>::MAX_ENCODED_LEN,
        <Header as Wire>::FIXED_LEN
    );
    assert_eq!(<Option<Point> as Wire>::MAX_ENCODED_LEN, 5);
    // 8 bytes + 1-byte length.
    assert_eq!(<heapless::String<8> as Wire>::MAX_ENCODED_LEN, 9);
    // 4 × 2 bytes + 1-byte count.
    assert_eq!(<heapless::Vec<u16, 4> as Wire>::MAX_ENCODED_LEN, 9);
    assert_eq!(<Reading as Wire>::MAX_LEN, None);
    assert_eq!(<Shape as Wire>::MAX_LEN, None);
}
