//! The derive's encodings, views, owned decoding and fingerprints.

use zerowire::{DecodeErrorKind, Wire};

#[derive(Wire, Debug, Clone, Copy, PartialEq)]
enum Mode {
    Idle,
    Run,
    Fault,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Reading {
    device: u32,
    celsius: f32,
    at_ns: u64,
    label: String,
    samples: Vec<u16>,
    mode: Mode,
    note: Option<String>,
}

#[derive(Wire, Debug, Clone, PartialEq)]
enum Shape {
    Circle(u32),
    Rect { w: u16, h: u16 },
    Named(String, u8),
    Empty,
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
}

#[derive(Wire, Debug, Clone, Copy, PartialEq)]
struct Point(i16, i16);

#[derive(Wire, Debug, Clone, Copy, PartialEq)]
struct Unit;

#[derive(Wire, Debug, Clone, Copy, PartialEq)]
struct Add3 {
    a: u32,
    b: u32,
    c: u32,
}

fn reading() -> Reading {
    Reading {
        device: 7,
        celsius: 21.5,
        at_ns: 1_000,
        label: "left".into(),
        samples: vec![1, 2, 513],
        mode: Mode::Run,
        note: None,
    }
}

#[test]
fn reading_round_trips_and_views() {
    let r = reading();
    let bytes = r.encode_to_vec();
    assert_eq!(bytes.len(), r.encoded_len());
    // fixed block: 4 + 4 + 8 + 1 (mode) = 17; tail: 1+4 (label) + 1+6 (samples) + 1 (note)
    assert_eq!(<Reading as Wire>::FIXED_LEN, 17);
    assert_eq!(bytes.len(), 17 + 5 + 7 + 1);
    let v = Reading::decode_view(&bytes).unwrap();
    assert_eq!(v.device(), 7);
    assert_eq!(v.celsius(), 21.5);
    assert_eq!(v.label(), "left");
    assert_eq!(
        v.samples()
            .as_slice()
            .iter()
            .map(|x| x.get())
            .collect::<Vec<_>>(),
        [1, 2, 513]
    );
    assert_eq!(v.mode(), Mode::Run);
    assert_eq!(v.note(), None);
    assert_eq!(Reading::decode(&bytes).unwrap(), r);
}

#[test]
fn enums_round_trip() {
    for s in [
        Shape::Circle(5),
        Shape::Rect { w: 3, h: 4 },
        Shape::Named("x".into(), 9),
        Shape::Empty,
    ] {
        let bytes = s.encode_to_vec();
        assert_eq!(Shape::decode(&bytes).unwrap(), s);
    }
    assert_eq!(
        Shape::Rect { w: 3, h: 4 }.encode_to_vec(),
        [0x04, 3, 0, 4, 0]
    );
    let bad = [0x10u8];
    assert_eq!(
        Shape::decode_view(&bad).unwrap_err().kind,
        DecodeErrorKind::InvalidTag(4)
    );
    assert_eq!(
        Mode::decode_view(&[3]).unwrap_err().kind,
        DecodeErrorKind::InvalidTag(3)
    );
}

#[test]
fn generic_and_borrowed() {
    let g = Generic {
        id: 1,
        value: 300u16,
    };
    assert_eq!(Generic::<u16>::decode(&g.encode_to_vec()).unwrap(), g);
    let b = Borrowed {
        name: "hi",
        blob: &[1, 2],
    };
    let bytes = b.encode_to_vec();
    let back = Borrowed::decode(&bytes).unwrap();
    assert_eq!(back, b);
    assert_eq!(
        Point::decode(&Point(-1, 2).encode_to_vec()).unwrap(),
        Point(-1, 2)
    );
    assert_eq!(
        Point::decode_view(&Point(-1, 2).encode_to_vec())
            .unwrap()
            ._0(),
        -1
    );
    assert_eq!(Unit.encode_to_vec(), Vec::<u8>::new());
    assert_eq!(Unit::decode(&[]).unwrap(), Unit);
}

#[test]
fn bounded_types_have_const_max() {
    const N: usize = Add3::MAX_ENCODED_LEN;
    assert_eq!(N, 12);
    assert_eq!(<Point as Wire>::MAX_ENCODED_LEN, 4);
    assert_eq!(<Option<Point> as Wire>::MAX_ENCODED_LEN, 5);
    assert_eq!(<Reading as Wire>::MAX_LEN, None);
}

mod fp_a {
    #[derive(zerowire::Wire)]
    pub(crate) struct R<T> {
        pub(crate) a: u32,
        pub(crate) b: T,
    }
}
mod fp_renamed_field {
    #[derive(zerowire::Wire)]
    pub(crate) struct R<T> {
        pub(crate) a: u32,
        pub(crate) c: T,
    }
}
mod fp_swapped {
    #[derive(zerowire::Wire)]
    pub(crate) struct R<T> {
        pub(crate) b: T,
        pub(crate) a: u32,
    }
}
mod fp_cosmetic {
    /// Different type name, docs, generic parameter name and derives: same schema.
    #[derive(zerowire::Wire, Debug, Clone)]
    pub(crate) struct Other<U> {
        /// a doc comment
        pub(crate) a: u32,
        pub(crate) b: U,
    }
}

#[test]
fn fingerprints_follow_structure_only() {
    use zerowire::Wire;
    let base = <fp_a::R<u16> as Wire>::FINGERPRINT;
    assert_ne!(
        base,
        <fp_renamed_field::R<u16> as Wire>::FINGERPRINT,
        "renamed field"
    );
    assert_ne!(
        base,
        <fp_swapped::R<u16> as Wire>::FINGERPRINT,
        "swapped fields"
    );
    assert_ne!(
        base,
        <fp_a::R<u32> as Wire>::FINGERPRINT,
        "generic argument"
    );
    assert_eq!(
        base,
        <fp_cosmetic::Other<u16> as Wire>::FINGERPRINT,
        "cosmetic changes"
    );
    const FP: u64 = <fp_a::R<u16> as Wire>::FINGERPRINT;
    assert_eq!(FP, base);
}

#[derive(Wire, Debug, Clone, PartialEq)]
enum Either<A, B> {
    Left(A),
    Right { value: B },
    Neither,
}

#[derive(Wire, Debug, Clone, PartialEq)]
enum Borrowing<'a> {
    Text(&'a str),
    Code(u8),
}

mod v1 {
    #[derive(zerowire::Wire, Debug, Clone, PartialEq)]
    pub(crate) struct Config {
        pub(crate) level: u8,
    }
}

/// Not recursive: `v1::Config` is another type.
#[derive(Wire, Debug, Clone, PartialEq)]
struct Config {
    old: v1::Config,
    sizes: [u8; size_of::<usize>()],
}

#[test]
fn generic_and_borrowing_data_enums() {
    for v in [
        Either::Left(5u32),
        Either::Right {
            value: "r".to_string(),
        },
        Either::Neither,
    ] {
        let bytes = v.encode_to_vec();
        assert_eq!(Either::<u32, String>::decode(&bytes).unwrap(), v);
        let view = Either::<u32, String>::decode_view(&bytes).unwrap();
        assert!(!format!("{view:?}").is_empty());
    }
    let b = Borrowing::Text("hi");
    let bytes = b.encode_to_vec();
    assert_eq!(Borrowing::decode(&bytes).unwrap(), b);
    let c = Config {
        old: v1::Config { level: 3 },
        sizes: [1; size_of::<usize>()],
    };
    assert_eq!(Config::decode(&c.encode_to_vec()).unwrap(), c);
}

#[test]
fn tuples_encode_like_tuple_structs() {
    #[derive(Wire, Debug, PartialEq)]
    struct AsStruct(u32, String, Vec<u16>);
    let t = (7u32, "x".to_string(), vec![1u16, 2]);
    let bytes = t.encode_to_vec();
    assert_eq!(bytes, AsStruct(7, "x".into(), vec![1, 2]).encode_to_vec());
    assert_eq!(<(u32, String, Vec<u16>)>::decode(&bytes).unwrap(), t);
    let (a, s, v) = <(u32, String, Vec<u16>)>::decode_view(&bytes).unwrap();
    assert_eq!((a, s, v.len()), (7, "x", 2));
    assert_eq!(<(u32, u32, u32) as Wire>::MAX_ENCODED_LEN, 12);
    assert_ne!(
        <(u32, u16) as Wire>::FINGERPRINT,
        <(u16, u32) as Wire>::FINGERPRINT
    );
    assert_eq!(
        <(bool,)>::decode_view(&[2]).unwrap_err().kind,
        DecodeErrorKind::InvalidBool(2)
    );
}
