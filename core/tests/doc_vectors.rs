//! The worked hex examples in `docs/wire-format.md` are test vectors: every
//! block tagged `vector: NAME` there must equal the encoding computed here,
//! and every vector computed here must appear there.

use std::collections::BTreeMap;

use zerowire::frame::{
    encode_call, encode_data, encode_data_header, encode_hello, encode_reply, parse_data_head,
    DataFlags, Decoded, Frame, FrameDecoder, Hello, MAGIC, PROTOCOL_VERSION,
};
use zerowire::proto::ErrorBody;
use zerowire::Wire;

#[derive(Wire, Debug, Clone, Copy, PartialEq)]
struct Add3 {
    a: u32,
    b: u32,
    c: u32,
}

#[derive(Wire, Debug, Clone, Copy, PartialEq)]
enum Mode {
    Idle,
    Run,
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
    Empty,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Inner {
    id: u16,
    name: String,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Outer {
    flag: bool,
    inner: Inner,
    tags: Vec<String>,
    check: char,
}

fn enc<T: Wire>(v: &T) -> Vec<u8> {
    v.encode_to_vec()
}

fn frame(f: impl Fn(&mut [u8]) -> usize) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let n = f(&mut buf);
    buf[..n].to_vec()
}

/// A DATA frame: its header (OPEN/TOTAL from `method`/`total`), then the
/// payload.
fn data(flags: u8, id: u64, method: Option<u64>, total: Option<u64>, payload: &[u8]) -> Vec<u8> {
    let mut out = frame(|b| {
        encode_data_header(
            b,
            DataFlags::from_bits(flags),
            id,
            method,
            total,
            payload.len(),
        )
        .unwrap()
    });
    out.extend_from_slice(payload);
    out
}

/// The 10-byte message the chunk vectors carry.
const CHUNKED: [u8; 10] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

fn vectors() -> BTreeMap<&'static str, Vec<u8>> {
    let mut m = BTreeMap::new();
    m.insert("lpv-2", zerowire::wire::varint::encode(2).0[..1].to_vec());
    m.insert(
        "lpv-300",
        zerowire::wire::varint::encode(300).0[..2].to_vec(),
    );
    m.insert(
        "lpv-70000",
        zerowire::wire::varint::encode(70_000).0[..4].to_vec(),
    );
    m.insert("add3-args", enc(&Add3 { a: 1, b: 2, c: 3 }));
    m.insert(
        "add3-request",
        frame(|b| encode_call(b, 0, 2, &Add3 { a: 1, b: 2, c: 3 }).unwrap()),
    );
    m.insert(
        "add3-response",
        frame(|b| encode_reply(b, 2, &6u32).unwrap()),
    );
    m.insert(
        "reading",
        enc(&Reading {
            device: 7,
            celsius: 21.5,
            at_ns: 1_000_000,
            label: "left".into(),
            samples: vec![1, 2, 513],
            mode: Mode::Run,
            note: Some("ok".into()),
        }),
    );
    m.insert("shape-rect", enc(&Shape::Rect { w: 3, h: 4 }));
    m.insert("shape-empty", enc(&Shape::Empty));
    m.insert(
        "outer",
        enc(&Outer {
            flag: true,
            inner: Inner {
                id: 9,
                name: "ab".into(),
            },
            tags: vec!["x".into(), "yz".into()],
            check: 'é',
        }),
    );
    m.insert("option-none", enc(&None::<u32>));
    m.insert("option-some", enc(&Some(5u32)));
    m.insert("result-err", enc(&Err::<u8, String>("no".into())));
    m.insert(
        "hello",
        frame(|b| {
            encode_hello(
                b,
                &Hello {
                    magic: MAGIC,
                    version: PROTOCOL_VERSION,
                    flags: 1,
                    max_calls: 32,
                    max_frame: 16384,
                    max_message: 1 << 20,
                    initial_credit: 65536,
                    service_fp: 0x0123_4567_89ab_cdef,
                    n_methods: 3,
                    build: "fw 1.0",
                },
            )
            .unwrap()
        }),
    );
    m.insert(
        "cancel",
        frame(|b| Frame::Cancel { call_id: 2 }.encode(b).unwrap()),
    );
    m.insert(
        "credit",
        frame(|b| {
            Frame::Credit {
                call_id: 3,
                bytes: 65536,
            }
            .encode(b)
            .unwrap()
        }),
    );
    // Streams (section 4.5): a request stream on call id 2 of method 1
    // whose arguments come in three chunks, an item, the end of the stream.
    m.insert(
        "data-open-first-chunk",
        data(0, 2, Some(1), Some(10), &CHUNKED[..4]),
    );
    m.insert("data-middle-chunk", data(0, 2, None, None, &CHUNKED[4..7]));
    m.insert(
        "data-last-chunk",
        data(0x01, 2, None, Some(10), &CHUNKED[7..]),
    );
    m.insert("data-item", data(0x01, 2, None, None, &[0x2a, 0x00]));
    m.insert("data-end-stream", data(0x02, 2, None, None, &[]));
    m.insert(
        "data-open-whole",
        frame(|b| {
            encode_data(
                b,
                DataFlags::FIN_MSG,
                2,
                Some(1),
                None,
                &Add3 { a: 1, b: 2, c: 3 },
            )
            .unwrap()
        }),
    );
    m.insert(
        "message-too-large",
        frame(|b| {
            let body = ErrorBody {
                code: 10,
                message: "len=5000 max=4096",
            };
            let flags = DataFlags::REPLY.with(DataFlags::ERROR);
            encode_data(b, flags, 2, None, None, &body).unwrap()
        }),
    );
    m
}

fn doc_vectors() -> BTreeMap<String, Vec<u8>> {
    let doc = include_str!("../../docs/wire-format.md");
    let mut out = BTreeMap::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```text" {
            continue;
        }
        let Some(name) = lines.next().and_then(|l| l.trim().strip_prefix("vector: ")) else {
            continue;
        };
        let mut bytes = Vec::new();
        for l in lines.by_ref() {
            let l = l.trim();
            if l.starts_with("```") || l.is_empty() {
                break;
            }
            // Everything after `|` on a line is commentary.
            let hex = l.split('|').next().unwrap_or("");
            for tok in hex.split_whitespace() {
                bytes.push(
                    u8::from_str_radix(tok, 16)
                        .unwrap_or_else(|_| panic!("bad hex {tok:?} in vector {name}")),
                );
            }
        }
        assert!(
            out.insert(name.to_string(), bytes).is_none(),
            "duplicate vector {name}"
        );
    }
    out
}

#[test]
fn docs_and_encoder_agree() {
    let computed = vectors();
    let documented = doc_vectors();
    for (name, bytes) in &computed {
        let doc = documented.get(*name).unwrap_or_else(|| {
            panic!(
                "vector {name} missing from docs/wire-format.md; it is: {}",
                hex(bytes)
            )
        });
        assert_eq!(
            doc,
            bytes,
            "vector {name}: docs say {}, encoder says {}",
            hex(doc),
            hex(bytes)
        );
    }
    for name in documented.keys() {
        assert!(
            computed.contains_key(name.as_str()),
            "docs have vector {name} that no test checks"
        );
    }
}

#[test]
fn documented_vectors_decode() {
    let d = doc_vectors();
    assert_eq!(Reading::decode(&d["reading"]).unwrap().label, "left");
    assert_eq!(
        Shape::decode(&d["shape-rect"]).unwrap(),
        Shape::Rect { w: 3, h: 4 }
    );
    assert_eq!(Outer::decode(&d["outer"]).unwrap().check, 'é');
}

/// The stream vectors parse as section 4.5 says: chunk frames (OPEN, TOTAL
/// or no FIN_MSG) by their header alone, whole messages as whole frames.
#[test]
fn documented_stream_vectors_parse() {
    let d = doc_vectors();
    let head = |name: &str| parse_data_head(&d[name]).unwrap().unwrap();
    let first = head("data-open-first-chunk");
    assert_eq!(
        (
            first.call_id,
            first.method,
            first.total_len,
            first.payload_len
        ),
        (2, Some(1), Some(10), 4)
    );
    assert!(!first.flags.contains(DataFlags::FIN_MSG));
    let middle = head("data-middle-chunk");
    assert_eq!((middle.total_len, middle.payload_len), (None, 3));
    let last = head("data-last-chunk");
    assert!(last.flags.contains(DataFlags::FIN_MSG));
    assert_eq!((last.total_len, last.payload_len), (Some(10), 3));
    assert_eq!(
        first.payload_len + middle.payload_len + last.payload_len,
        10
    );
    let end = head("data-end-stream");
    assert_eq!((end.flags, end.payload_len), (DataFlags::FIN_STREAM, 0));
    let open = head("data-open-whole");
    assert_eq!(
        (open.method, open.total_len, open.payload_len),
        (Some(1), None, 12)
    );
    // Whole messages: FIN_MSG without OPEN or TOTAL.
    let dec = FrameDecoder::new(128);
    let Ok(Decoded::Frame {
        frame: Frame::Data { flags, payload, .. },
        ..
    }) = dec.decode(&d["data-item"])
    else {
        panic!("data-item is not a whole DATA frame");
    };
    assert_eq!((flags, payload), (DataFlags::FIN_MSG, &[0x2a, 0x00][..]));
    let Ok(Decoded::Frame {
        frame: Frame::Data { flags, payload, .. },
        ..
    }) = dec.decode(&d["message-too-large"])
    else {
        panic!("message-too-large is not a whole DATA frame");
    };
    assert_eq!(flags.bits(), 0x0b);
    let body = ErrorBody::decode(payload).unwrap();
    assert_eq!((body.code, body.message), (10, "len=5000 max=4096"));
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
#[ignore = "prints every vector; run with --ignored --nocapture when editing the docs"]
fn print_vectors() {
    for (name, bytes) in vectors() {
        println!("vector: {name}\n{}\n", hex(&bytes));
    }
}
