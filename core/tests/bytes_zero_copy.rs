//! `decode_owned` and `decode_shared`: every `bytes::Bytes` value in the
//! result (struct fields, `Vec<Bytes>`, `Option<Bytes>`, tuples, enums,
//! `Box`, `Result`, `heapless::Vec`, nested sequences) is a slice of the
//! buffer given, not a copy; everything else, errors included, is exactly
//! what `Wire::decode` gives.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
use proptest::prelude::*;
use zerowire::wire::{decode_owned, decode_shared, varint, BytesView, Reader, Writer};
use zerowire::{DecodeError, FromView, Wire};

#[derive(Wire, Debug, Clone, PartialEq)]
struct Blob {
    id: u32,
    data: Bytes,
    name: String,
}

#[derive(Wire, Debug, Clone, PartialEq)]
enum Packet {
    Empty,
    Data(Bytes),
    Pair {
        head: u8,
        body: Bytes,
        more: Option<Bytes>,
    },
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Chunks {
    chunks: Vec<Bytes>,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Maybe {
    some: Option<Bytes>,
    none: Option<Bytes>,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Everything {
    blob: Blob,
    chunks: Vec<Bytes>,
    maybe: Option<Bytes>,
    packet: Packet,
    packets: Vec<Packet>,
    pair: (u16, Bytes),
    nested: Vec<Vec<Bytes>>,
    deep: Option<Option<Bytes>>,
    boxed: Box<Bytes>,
    result: Result<Bytes, String>,
    few: heapless::Vec<Bytes, 3>,
    last: Bytes,
}

/// Every `Bytes` value in a `Packet`.
fn packet_bytes(p: &Packet) -> Vec<&Bytes> {
    match p {
        Packet::Empty => vec![],
        Packet::Data(b) => vec![b],
        Packet::Pair { body, more, .. } => std::iter::once(body).chain(more).collect(),
    }
}

/// Every `Bytes` value in an `Everything`.
fn all_bytes(e: &Everything) -> Vec<&Bytes> {
    let mut out = vec![&e.blob.data];
    out.extend(&e.chunks);
    out.extend(&e.maybe);
    out.extend(packet_bytes(&e.packet));
    out.extend(e.packets.iter().flat_map(packet_bytes));
    out.push(&e.pair.1);
    out.extend(e.nested.iter().flatten());
    out.extend(e.deep.iter().flatten());
    out.push(&e.boxed);
    out.extend(&e.result);
    out.extend(&e.few);
    out.push(&e.last);
    out
}

/// The addresses of a buffer.
fn span(buf: &[u8]) -> Range<usize> {
    let r = buf.as_ptr_range();
    r.start.addr()..r.end.addr()
}

/// Whether the non-empty `b` lies wholly inside `within`.
fn inside(b: &Bytes, within: &Range<usize>) -> bool {
    let s = span(b);
    !b.is_empty() && within.start <= s.start && s.end <= within.end
}

#[track_caller]
fn assert_inside(b: &Bytes, within: &Range<usize>) {
    assert!(
        inside(b, within),
        "{b:?} at {:?} is not inside the buffer {within:?}",
        span(b)
    );
}

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn sample() -> Everything {
    Everything {
        blob: Blob {
            id: 7,
            data: bytes("blob data"),
            name: "name".into(),
        },
        chunks: vec![bytes("one"), bytes("two"), bytes("three")],
        maybe: Some(bytes("maybe")),
        packet: Packet::Data(bytes("packet")),
        packets: vec![
            Packet::Empty,
            Packet::Pair {
                head: 1,
                body: bytes("body"),
                more: Some(bytes("more")),
            },
            Packet::Pair {
                head: 2,
                body: bytes("body2"),
                more: None,
            },
        ],
        pair: (9, bytes("pair")),
        nested: vec![vec![bytes("n1"), bytes("n2")], vec![], vec![bytes("n3")]],
        deep: Some(Some(bytes("deep"))),
        boxed: Box::new(bytes("boxed")),
        result: Ok(bytes("ok")),
        few: heapless::Vec::from_slice(&[bytes("f1"), bytes("f2")]).unwrap(),
        last: bytes("last"),
    }
}

#[test]
fn struct_field_shares_the_buffer() {
    let value = Blob {
        id: 42,
        data: bytes("hello, world"),
        name: "greeting".into(),
    };
    let buf = value.encode_to_vec();
    let range = span(&buf);
    let got: Blob = decode_owned(buf).unwrap();
    assert_eq!(got, value);
    assert_eq!(got.data, &b"hello, world"[..]);
    assert_inside(&got.data, &range);
}

#[test]
fn vec_of_bytes_shares_the_buffer() {
    let value = Chunks {
        chunks: vec![bytes("alpha"), bytes(""), bytes("gamma"), bytes("delta")],
    };
    let buf = value.encode_to_vec();
    let range = span(&buf);
    let got: Chunks = decode_owned(buf).unwrap();
    assert_eq!(got, value);
    assert!(got.chunks[1].is_empty());
    for b in got.chunks.iter().filter(|b| !b.is_empty()) {
        assert_inside(b, &range);
    }
    // The items are where they are in the body, one after another.
    let starts: Vec<usize> = got.chunks.iter().map(|b| b.as_ptr().addr()).collect();
    assert_eq!(starts[2] - starts[0], "alpha".len() + 1 + 1);
    assert_eq!(starts[3] - starts[2], "gamma".len() + 1);
}

#[test]
fn option_of_bytes_shares_the_buffer() {
    let value = Maybe {
        some: Some(bytes("present")),
        none: None,
    };
    let buf = value.encode_to_vec();
    let range = span(&buf);
    let got: Maybe = decode_owned(buf).unwrap();
    assert_eq!(got, value);
    assert_inside(got.some.as_ref().unwrap(), &range);
}

#[test]
fn enum_holding_bytes_shares_the_buffer() {
    for value in [
        Packet::Data(bytes("data variant")),
        Packet::Pair {
            head: 3,
            body: bytes("pair body"),
            more: Some(bytes("and more")),
        },
    ] {
        let buf = value.encode_to_vec();
        let range = span(&buf);
        let got: Packet = decode_owned(buf).unwrap();
        assert_eq!(got, value);
        for b in packet_bytes(&got) {
            assert_inside(b, &range);
        }
    }
    let got: Packet = decode_owned(Packet::Empty.encode_to_vec()).unwrap();
    assert_eq!(got, Packet::Empty);
}

#[test]
fn bytes_at_every_depth_share_the_buffer() {
    let value = sample();
    let buf = value.encode_to_vec();
    let range = span(&buf);
    let got: Everything = decode_owned(buf).unwrap();
    assert_eq!(got, value);
    let all = all_bytes(&got);
    assert_eq!(all.len(), 19);
    for b in all {
        assert_inside(b, &range);
    }
    // A bare `Bytes` body and a tuple of them (RPC arguments and results).
    let buf = bytes("bare").encode_to_vec();
    let range = span(&buf);
    let got: Bytes = decode_owned(buf).unwrap();
    assert_eq!(got, "bare");
    assert_inside(&got, &range);
    let buf = (bytes("a1"), 5u8, bytes("a2")).encode_to_vec();
    let range = span(&buf);
    let got: (Bytes, u8, Bytes) = decode_owned(buf).unwrap();
    assert_eq!(got, (bytes("a1"), 5, bytes("a2")));
    assert_inside(&got.0, &range);
    assert_inside(&got.2, &range);
}

#[test]
fn values_outlive_the_buffer_they_share() {
    let got: Everything = decode_owned(sample().encode_to_vec()).unwrap();
    // The Vec was given away: the values keep its storage alive.
    let again = sample();
    assert_eq!(got, again);
    drop(again);
    let first = got.chunks[0].clone();
    drop(got);
    assert_eq!(first, "one");
}

#[test]
fn decode_shared_slices_a_larger_bytes() {
    // A body inside a bigger receive buffer, behind a header.
    let value = sample();
    let mut rx = b"HEADER".to_vec();
    rx.extend(value.encode_to_vec());
    rx.extend(b"next frame");
    let rx = Bytes::from(rx);
    let range = span(&rx);
    let body = rx.slice(6..rx.len() - 10);
    let got: Everything = decode_shared(&body).unwrap();
    assert_eq!(got, value);
    for b in all_bytes(&got) {
        assert_inside(b, &range);
    }
    assert_eq!(
        decode_shared::<Everything>(&rx),
        Everything::decode(&rx),
        "the whole buffer has a header"
    );
}

#[test]
fn plain_decode_still_copies() {
    let value = sample();
    let buf = value.encode_to_vec();
    let range = span(&buf);
    let got = Everything::decode(&buf).unwrap();
    assert_eq!(got, value);
    for b in all_bytes(&got) {
        assert!(!inside(b, &range), "decode shared {b:?}");
    }
    // The view reads like the byte slice it is.
    let view = Everything::decode_view(&buf).unwrap();
    let data: BytesView<'_> = view.blob().data();
    assert!(!data.is_shared());
    assert_eq!(data, &b"blob data"[..]);
    assert_eq!(&b"blob data"[..], data);
    assert_eq!(data, *b"blob data");
    assert_eq!(data, b"blob data".to_vec());
    assert_eq!(data, bytes("blob data"));
    assert_eq!(data.len(), 9);
    assert_eq!(&data[..4], b"blob");
    assert!(range.contains(&data.as_slice().as_ptr().addr()));
    assert_eq!(format!("{data:?}"), format!("{:?}", &b"blob data"[..]));
    let slice: &[u8] = data.into();
    assert_eq!(slice, b"blob data");
    let copy = data.to_bytes();
    assert_eq!(copy, "blob data");
    assert!(!inside(&copy, &range));
}

#[test]
fn a_sharing_reader_gives_shared_views() {
    let buf = Bytes::from(sample().encode_to_vec());
    let range = span(&buf);
    let mut r = Reader::sharing(&buf);
    assert_eq!(r.backing().map(|b| span(b)), Some(range.clone()));
    assert!(Reader::new(&buf).backing().is_none());
    let fixed = r.fixed::<<Everything as Wire>::Fixed>().unwrap();
    let tail = Everything::decode_tail(fixed, 0, &mut r).unwrap();
    r.finish().unwrap();
    let view = Everything::view(fixed, tail);
    let data = view.blob().data();
    assert!(data.is_shared());
    assert_inside(&data.to_bytes(), &range);
    for chunk in view.chunks() {
        assert!(chunk.is_shared());
    }
    for inner in view.nested() {
        for b in inner {
            assert!(b.is_shared());
            assert_inside(&b.to_bytes(), &range);
        }
    }
    assert_eq!(Everything::from_view(view), sample());
}

/// A wire type that nests a whole `Blob` body in a byte string and decodes
/// it in `from_view`: with `decode_shared` of the view's `Bytes`
/// (`SHARE`), or with `decode_owned` of a fresh copy.
#[derive(Debug, PartialEq)]
struct Nested<const SHARE: bool>(Blob);

impl<const SHARE: bool> Wire for Nested<SHARE> {
    type Fixed = [u8; 0];
    type Tail<'a> = BytesView<'a>;
    type View<'a> = BytesView<'a>;
    const HAS_TAIL: bool = true;
    const CHECKS_FIXED: bool = false;
    const MIN_LEN: usize = 1;
    const MAX_LEN: Option<usize> = None;
    const FINGERPRINT: u64 = Bytes::FINGERPRINT;

    fn encode_fixed(&self, _: &mut Writer<'_>) {}
    fn tail_len(&self) -> usize {
        let n = self.0.encoded_len();
        varint::len_usize(n) + n
    }
    fn encode_tail(&self, w: &mut Writer<'_>) {
        w.put_len(self.0.encoded_len());
        self.0.encode_fixed(w);
        self.0.encode_tail(w);
    }
    fn decode_tail<'a>(
        fixed: &'a [u8; 0],
        at: usize,
        r: &mut Reader<'a>,
    ) -> Result<BytesView<'a>, DecodeError> {
        let view = Bytes::decode_tail(fixed, at, r)?;
        Blob::decode_view(&view)?;
        Ok(view)
    }
    fn view<'a>(_: &'a [u8; 0], tail: BytesView<'a>) -> BytesView<'a> {
        tail
    }
}

impl<const SHARE: bool> FromView<'_> for Nested<SHARE> {
    fn from_view(view: BytesView<'_>) -> Self {
        let inner = if SHARE {
            decode_shared(&view.to_bytes())
        } else {
            decode_owned(view.to_vec())
        };
        Self(inner.expect("validated by decode_tail"))
    }
}

#[derive(Wire, Debug, PartialEq)]
struct Envelope {
    first: Bytes,
    shared: Nested<true>,
    copied: Nested<false>,
    last: Bytes,
}

#[test]
fn nested_and_reentrant_decodes_each_share_their_own_buffer() {
    let blob = |s: &str| Blob {
        id: 1,
        data: bytes(s),
        name: s.into(),
    };
    let value = Envelope {
        first: bytes("first"),
        shared: Nested(blob("inner, shared")),
        copied: Nested(blob("inner, copied")),
        last: bytes("last"),
    };
    let buf = value.encode_to_vec();
    let given = buf.clone();
    let range = span(&given);
    let got: Envelope = decode_owned(given).unwrap();
    assert_eq!(got, value);
    assert_inside(&got.first, &range);
    // A decode inside the outer one's `from_view`, of a `Bytes` that was
    // itself decoded: still the outer buffer.
    assert_inside(&got.shared.0.data, &range);
    // A decode of another buffer inside the outer one: that buffer, and the
    // outer decode goes on sharing its own afterwards.
    assert!(!inside(&got.copied.0.data, &range));
    assert_inside(&got.last, &range);

    // A `Bytes` value decoded with `decode_owned`, decoded again.
    let outer = Bytes::from(buf);
    let range = span(&outer);
    let inner = blob("inner, shared").encode_to_vec();
    let at = outer.windows(inner.len()).position(|w| w == inner).unwrap();
    let nested: Blob = decode_shared(&outer.slice(at..at + inner.len())).unwrap();
    assert_eq!(nested, blob("inner, shared"));
    assert_inside(&nested.data, &range);

    // Plain `decode` copies at every level.
    let got = Envelope::decode(&outer).unwrap();
    assert!(!inside(&got.first, &range));
    assert!(!inside(&got.shared.0.data, &range));
}

/// A `u8` whose conversion panics on 0xff.
#[derive(Debug, PartialEq)]
struct Fuse(u8);

impl Wire for Fuse {
    type Fixed = <u8 as Wire>::Fixed;
    type Tail<'a> = <u8 as Wire>::Tail<'a>;
    type View<'a> = <u8 as Wire>::View<'a>;
    const HAS_TAIL: bool = false;
    const CHECKS_FIXED: bool = false;
    const MIN_LEN: usize = 1;
    const MAX_LEN: Option<usize> = Some(1);
    const FINGERPRINT: u64 = u8::FINGERPRINT;

    fn encode_fixed(&self, w: &mut Writer<'_>) {
        self.0.encode_fixed(w);
    }
    fn tail_len(&self) -> usize {
        0
    }
    fn encode_tail(&self, _: &mut Writer<'_>) {}
    fn decode_tail<'a>(
        fixed: &'a Self::Fixed,
        at: usize,
        r: &mut Reader<'a>,
    ) -> Result<Self::Tail<'a>, DecodeError> {
        u8::decode_tail(fixed, at, r)
    }
    fn view<'a>(fixed: &'a Self::Fixed, tail: Self::Tail<'a>) -> Self::View<'a> {
        u8::view(fixed, tail)
    }
}

impl FromView<'_> for Fuse {
    fn from_view(view: <u8 as Wire>::View<'_>) -> Self {
        let v = u8::from_view(view);
        assert_ne!(v, 0xff, "fuse blown");
        Self(v)
    }
}

#[derive(Wire, Debug, PartialEq)]
struct Fused {
    before: Bytes,
    fuse: Fuse,
    after: Vec<Bytes>,
}

#[test]
fn a_panic_during_decode_leaves_nothing_behind() {
    let fused = |f: u8| Fused {
        before: bytes("before"),
        fuse: Fuse(f),
        after: vec![bytes("after")],
    };
    let blown = fused(0xff).encode_to_vec();
    let result = catch_unwind(AssertUnwindSafe(|| decode_owned::<Fused>(blown.clone())));
    assert!(result.is_err(), "the conversion panicked");

    // The next decodes share their own buffers, or copy.
    let buf = fused(1).encode_to_vec();
    let given = buf.clone();
    let range = span(&given);
    let got: Fused = decode_owned(given).unwrap();
    assert_eq!(got, fused(1));
    assert_inside(&got.before, &range);
    assert_inside(&got.after[0], &range);
    let copied = Fused::decode(&buf).unwrap();
    assert!(!inside(&copied.before, &span(&buf)));
    assert!(!inside(&copied.after[0], &span(&buf)));
    let got: Blob = decode_owned(sample().blob.encode_to_vec()).unwrap();
    assert_eq!(got, sample().blob);
}

/// Every way to break `good`: each truncation, each byte replaced by a few
/// values, and one trailing byte.
fn breakages(good: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
    for i in 0..good.len() {
        for v in [0x00, 0x01, 0x02, 0x03, 0x7f, 0xfe, 0xff] {
            let mut bad = good.to_vec();
            bad[i] = v;
            out.push(bad);
        }
    }
    let mut longer = good.to_vec();
    longer.push(0);
    out.push(longer);
    out
}

#[test]
fn malformed_buffers_give_the_same_error() {
    let good = sample().encode_to_vec();
    let mut errors = 0;
    for bad in breakages(&good) {
        let plain = Everything::decode(&bad);
        errors += usize::from(plain.is_err());
        assert_eq!(decode_owned::<Everything>(bad.clone()), plain, "{bad:02x?}");
        assert_eq!(
            decode_shared::<Everything>(&Bytes::from(bad.clone())),
            plain
        );
    }
    assert!(errors > good.len(), "only {errors} rejected");
    // A few by hand.
    assert_eq!(
        decode_owned::<Blob>(vec![1, 0, 0]),
        Err(DecodeError::new(
            zerowire::DecodeErrorKind::UnexpectedEnd { needed: 1 },
            0
        ))
    );
    assert_eq!(
        decode_owned::<Blob>(vec![1, 0, 0, 0, 8, b'a']),
        Err(DecodeError::new(
            zerowire::DecodeErrorKind::UnexpectedEnd { needed: 1 },
            5
        ))
    );
    assert_eq!(decode_owned::<Blob>(vec![]), Blob::decode(&[]));
}

fn any_bytes() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn any_packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        Just(Packet::Empty),
        any_bytes().prop_map(Packet::Data),
        (any::<u8>(), any_bytes(), proptest::option::of(any_bytes()))
            .prop_map(|(head, body, more)| Packet::Pair { head, body, more }),
    ]
}

fn any_everything() -> impl Strategy<Value = Everything> {
    let few = prop::collection::vec(any_bytes(), 0..=3)
        .prop_map(|v| heapless::Vec::from_slice(&v).unwrap());
    let result = prop_oneof![
        any_bytes().prop_map(Ok),
        ".{0,8}".prop_map(|s: String| Err(s)),
    ];
    (
        (any::<u32>(), any_bytes(), ".{0,8}"),
        prop::collection::vec(any_bytes(), 0..5),
        proptest::option::of(any_bytes()),
        any_packet(),
        prop::collection::vec(any_packet(), 0..4),
        (any::<u16>(), any_bytes()),
        prop::collection::vec(prop::collection::vec(any_bytes(), 0..3), 0..3),
        proptest::option::of(proptest::option::of(any_bytes())),
        (any_bytes(), result, few, any_bytes()),
    )
        .prop_map(
            |(
                (id, data, name),
                chunks,
                maybe,
                packet,
                packets,
                pair,
                nested,
                deep,
                (boxed, result, few, last),
            )| Everything {
                blob: Blob { id, data, name },
                chunks,
                maybe,
                packet,
                packets,
                pair,
                nested,
                deep,
                boxed: Box::new(boxed),
                result,
                few,
                last,
            },
        )
}

proptest! {
    #[test]
    fn decode_owned_equals_decode(value in any_everything()) {
        let buf = value.encode_to_vec();
        let range = span(&buf);
        let plain = Everything::decode(&buf);
        let owned = decode_owned::<Everything>(buf);
        prop_assert_eq!(&owned, &plain);
        let owned = owned.unwrap();
        prop_assert_eq!(&owned, &value);
        for b in all_bytes(&owned).into_iter().filter(|b| !b.is_empty()) {
            prop_assert!(inside(b, &range), "{:?} copied", b);
        }
    }

    #[test]
    fn decode_owned_rejects_what_decode_rejects(
        value in any_everything(),
        cut in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let good = value.encode_to_vec();
        let mut bad = good.clone();
        let i = at.index(bad.len());
        bad[i] = byte;
        let short = good[..cut.index(good.len())].to_vec();
        for input in [bad, short] {
            prop_assert_eq!(decode_owned::<Everything>(input.clone()), Everything::decode(&input));
        }
    }

    #[test]
    fn decode_owned_of_random_bytes_equals_decode(input in prop::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(decode_owned::<Everything>(input.clone()), Everything::decode(&input));
        prop_assert_eq!(decode_owned::<Packet>(input.clone()), Packet::decode(&input));
        prop_assert_eq!(decode_owned::<Chunks>(input.clone()), Chunks::decode(&input));
    }
}
