//! The worked hex examples in `docs/wire-format.md` are test vectors: every
//! block tagged `vector: NAME` there must equal the encoding computed here,
//! and every vector computed here must appear there.

use std::collections::BTreeMap;

use zerowire::frame::{
    encode_call, encode_hello, encode_reply, Frame, Hello, MAGIC, PROTOCOL_VERSION,
};
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
