//! Seeds the fuzz corpora with valid encodings, and reports how much of a
//! corpus the decoders accept.
//!
//! ```text
//! cargo run --example corpus -- seed    # writes corpus/<target>/seed-*
//! cargo run --example corpus -- stats   # accepted / total per target
//!                                       # (connection: replayed without panic)
//! ```
//!
//! Run from `fuzz/`. Without seeds a target must discover the long fixed
//! block of `Everything` byte by byte before it reaches the tails; with them
//! it starts from valid bodies and frames and mutates those.

use std::fs;
use std::path::Path;

use zerowire::frame::{
    encode_call, encode_data_header, encode_hello, encode_reply, DataFlags, Decoded, Frame,
    FrameDecoder, Hello, MAGIC, PROTOCOL_VERSION,
};
use zerowire::wire::varint;
use zerowire::Wire;
use zerowire_fuzz::{Everything, Inner, Leaf, Mode, Point, Shape, Unit};

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn text(&mut self, max: u64) -> String {
        let n = self.below(max + 1);
        (0..n)
            .map(|_| match self.below(3) {
                0 => char::from_u32(self.below(0x11_0000) as u32).unwrap_or('?'),
                _ => (b'a' + self.below(26) as u8) as char,
            })
            .collect()
    }
    fn bytes(&mut self, max: u64) -> Vec<u8> {
        (0..self.below(max + 1))
            .map(|_| self.next() as u8)
            .collect()
    }
    fn mode(&mut self) -> Mode {
        [Mode::Idle, Mode::Run, Mode::Fault][self.below(3) as usize]
    }
    fn point(&mut self) -> Point {
        Point(self.next() as i16, self.next() as i16)
    }
    fn inner(&mut self) -> Inner {
        Inner {
            ok: self.below(2) == 1,
            letter: char::from_u32(self.below(0xD800) as u32).unwrap_or('x'),
            modes: [self.mode(), self.mode()],
            grid: [[self.next() as u16, 1], [2, self.next() as u16]],
            origin: self.point(),
        }
    }
    fn leaf(&mut self) -> Leaf {
        match self.below(3) {
            0 => Leaf::None,
            1 => Leaf::Blob(self.bytes(6)),
            _ => Leaf::Value {
                v: f64::from_bits(self.next()),
            },
        }
    }
    fn shape(&mut self) -> Shape {
        match self.below(6) {
            0 => Shape::Circle(self.next() as u32),
            1 => Shape::Rect {
                w: self.next() as u16,
                h: self.next() as u16,
            },
            2 => Shape::Named(self.text(6), self.next() as u8),
            3 => Shape::Empty,
            4 => Shape::Path((0..self.below(4)).map(|_| self.point()).collect()),
            _ => Shape::Labelled {
                label: (self.below(2) == 1).then(|| self.text(5)),
                tags: (0..self.below(3)).map(|_| self.text(4)).collect(),
                mode: self.mode(),
                inner: self.inner(),
                children: (self.below(2) == 1)
                    .then(|| (0..self.below(3)).map(|_| self.leaf()).collect()),
            },
        }
    }
}

fn everything<'a>(r: &mut Rng, name: &'a str, raw: &'a [u8]) -> Everything<'a> {
    let mut short = heapless::String::new();
    for c in r.text(8).chars() {
        if short.push(c).is_err() {
            break;
        }
    }
    let mut few = heapless::Vec::new();
    for _ in 0..r.below(5) {
        let _ = few.push(r.next() as u16);
    }
    Everything {
        a: r.next() as u8,
        b: r.next() as i8,
        c: r.next() as u16,
        d: r.next() as i16,
        e: r.next() as u32,
        f: r.next() as i32,
        g: r.next(),
        h: r.next() as i64,
        i: u128::from(r.next()) << 64 | u128::from(r.next()),
        j: -(i128::from(r.next())),
        x: f32::from_bits(r.next() as u32),
        y: f64::from_bits(r.next()),
        ok: r.below(2) == 1,
        letter: char::from_u32(r.below(0xD800) as u32).unwrap_or('x'),
        mode: r.mode(),
        words: [r.next() as u16, r.next() as u16, r.next() as u16],
        inner: r.inner(),
        unit: Unit,
        name,
        raw,
        label: r.text(10),
        blob: r.bytes(10),
        shared: bytes::Bytes::from(r.bytes(4)),
        samples: (0..r.below(5)).map(|_| r.next() as u16).collect(),
        points: (0..r.below(3)).map(|_| r.point()).collect(),
        strings: (0..r.below(3)).map(|_| r.text(4)).collect(),
        nested: (0..r.below(3)).map(|_| r.bytes(3)).collect(),
        flags: (0..r.below(4)).map(|_| r.below(2) == 1).collect(),
        maybe: (r.below(2) == 1).then(|| r.next() as u32),
        note: (r.below(2) == 1).then(|| r.text(5)),
        deep: match r.below(3) {
            0 => None,
            1 => Some(None),
            _ => Some(Some(r.inner())),
        },
        short,
        few,
        shape: r.shape(),
        result: if r.below(2) == 1 {
            Ok(r.next() as u8)
        } else {
            Err(r.text(4))
        },
        boxed: Box::new(r.point()),
    }
}

/// A DATA frame: header (OPEN/TOTAL from `method`/`total`) and payload.
fn data(flags: u8, id: u64, method: Option<u64>, total: Option<u64>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 40];
    let flags = DataFlags::from_bits(flags);
    let n = encode_data_header(&mut out, flags, id, method, total, payload.len())
        .expect("seed header encodes");
    out.truncate(n);
    out.extend_from_slice(payload);
    out
}

/// Stream traffic on call `id`: an opening chunk (OPEN|TOTAL), a middle
/// chunk, a last chunk (FIN_MSG|TOTAL), a whole item, a bare FIN_STREAM.
fn stream_frames(r: &mut Rng, id: u64, method: u64) -> Vec<u8> {
    let (a, b, c) = (r.bytes(16), r.bytes(16), r.bytes(16));
    let total = Some((a.len() + b.len() + c.len()) as u64);
    let mut out = Vec::new();
    if b.is_empty() && c.is_empty() {
        out.extend(data(0x01, id, Some(method), total, &a));
    } else {
        out.extend(data(0, id, Some(method), total, &a));
        if !c.is_empty() {
            out.extend(data(0, id, None, None, &b));
            out.extend(data(0x01, id, None, total, &c));
        } else {
            out.extend(data(0x01, id, None, total, &b));
        }
    }
    out.extend(data(0x01, id, None, None, &r.bytes(8)));
    out.extend(data(0x02, id, None, None, &[]));
    out
}

fn frames(r: &mut Rng) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    for _ in 0..1 + r.below(4) {
        let rest = &mut buf[n..];
        n += match r.below(10) {
            8 => {
                let (id, method) = (r.below(64), r.below(4));
                let s = stream_frames(r, id, method);
                let len = s.len().min(rest.len());
                rest[..len].copy_from_slice(&s[..len]);
                Ok(len)
            }
            9 => {
                let total = r.below(1 << 20);
                let s = data(
                    r.below(32) as u8,
                    r.below(64),
                    None,
                    Some(total),
                    &r.bytes(12),
                );
                rest[..s.len()].copy_from_slice(&s);
                Ok(s.len())
            }
            0 => encode_call(rest, r.below(128) as u8, r.below(1 << 20), &r.shape()),
            1 => encode_reply(rest, r.below(64), &r.text(8)),
            2 => Frame::Data {
                flags: DataFlags::from_bits(r.next() as u8),
                call_id: r.below(1 << 40),
                method: None,
                total_len: None,
                payload: &r.bytes(12),
            }
            .encode(rest),
            3 => Frame::Credit {
                call_id: r.below(1000),
                bytes: r.below(1 << 30),
            }
            .encode(rest),
            4 => Frame::Ping(&r.bytes(8)).encode(rest),
            5 => Frame::GoAway {
                last_call_id: r.below(99),
                code: r.below(9),
            }
            .encode(rest),
            6 => {
                let build = r.text(8);
                encode_hello(
                    rest,
                    &Hello {
                        magic: MAGIC,
                        version: PROTOCOL_VERSION,
                        flags: 1,
                        max_calls: 8,
                        max_frame: 1024,
                        max_message: 0,
                        initial_credit: 4096,
                        service_fp: r.next(),
                        n_methods: 3,
                        build: &build,
                    },
                )
            }
            _ => Frame::Extension {
                ty: 0xC0 + r.below(32) as u8,
                body: &r.bytes(6),
            }
            .encode(rest),
        }
        .expect("seed frame encodes");
    }
    // The first byte selects the frame limit (2: 1024 bytes).
    let mut out = vec![2u8];
    out.extend_from_slice(&buf[..n]);
    out
}

/// An opening for the `connection` target (an acceptor serving add3 and
/// div): HELLO, MTABLE, a call, request streams, CREDIT, in the target's
/// input format: a step byte (low 6 bits: how many bytes follow) before
/// each piece.
fn connection_seed(r: &mut Rng) -> Vec<u8> {
    let mut stream = vec![0u8; 512];
    let n = encode_hello(
        &mut stream,
        &Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            flags: 1,
            max_calls: 8,
            max_frame: 512,
            max_message: 4096,
            initial_credit: 4096,
            service_fp: 0,
            n_methods: 0,
            build: "seed",
        },
    )
    .expect("hello encodes");
    stream.truncate(n);
    let add3 = zerowire::proto::MethodDesc::new("Calc", "add3", 1);
    let div = zerowire::proto::MethodDesc::new("Calc", "div", 2);
    // MTABLE: first index 0, then (id, fingerprint) pairs, little-endian.
    let mut table = vec![0u8];
    for v in [add3.id, add3.fingerprint, div.id, div.fingerprint] {
        table.extend_from_slice(&v.to_le_bytes());
    }
    let (len, k) = varint::encode(table.len() as u64);
    stream.push(zerowire::frame::ty::MTABLE);
    stream.extend_from_slice(&len[..k]);
    stream.extend_from_slice(&table);
    let mut call = vec![0u8; 64];
    let n = encode_call(&mut call, 0, 2, &(1u32, 2u32, 3u32)).expect("call encodes");
    stream.extend_from_slice(&call[..n]);
    for i in 0..1 + r.below(3) {
        let method = r.below(2);
        stream.extend(stream_frames(r, 4 + 2 * i, method));
    }
    let mut credit = vec![0u8; 32];
    let n = Frame::Credit {
        call_id: r.below(8),
        bytes: r.below(1 << 16),
    }
    .encode(&mut credit)
    .expect("credit encodes");
    stream.extend_from_slice(&credit[..n]);
    let mut out = Vec::new();
    for piece in stream.chunks(1 + r.below(63) as usize) {
        out.push(piece.len() as u8);
        out.extend_from_slice(piece);
    }
    out
}

fn seed() {
    let mut r = Rng(0x5eed);
    for target in ["body_reading", "body_enum", "frame", "connection"] {
        fs::create_dir_all(Path::new("corpus").join(target)).expect("create corpus dir");
    }
    for i in 0..64 {
        let name = r.text(6);
        let raw = r.bytes(6);
        let body = everything(&mut r, &name, &raw).encode_to_vec();
        fs::write(format!("corpus/body_reading/seed-{i:02}"), body).expect("write seed");
        let mut shape = vec![1u8];
        shape.extend(r.shape().encode_to_vec());
        fs::write(format!("corpus/body_enum/seed-{i:02}"), shape).expect("write seed");
        let mut shapes = vec![0u8];
        shapes.extend(
            (0..r.below(4))
                .map(|_| r.shape())
                .collect::<Vec<_>>()
                .encode_to_vec(),
        );
        fs::write(format!("corpus/body_enum/seed-vec-{i:02}"), shapes).expect("write seed");
        fs::write(format!("corpus/frame/seed-{i:02}"), frames(&mut r)).expect("write seed");
        fs::write(
            format!("corpus/connection/seed-{i:02}"),
            connection_seed(&mut r),
        )
        .expect("write seed");
    }
    println!("wrote 64 seeds for body_reading, frame and connection, 128 for body_enum");
}

fn stats() {
    for target in ["body_reading", "body_enum", "frame", "connection"] {
        let Ok(dir) = fs::read_dir(Path::new("corpus").join(target)) else {
            println!("{target}: no corpus");
            continue;
        };
        let (mut total, mut accepted) = (0, 0);
        for entry in dir.flatten() {
            let data = fs::read(entry.path()).expect("read corpus file");
            total += 1;
            let ok = match target {
                "body_reading" => Everything::decode_view(&data).is_ok(),
                // Replayed through the target's checks: a panic is a finding.
                "connection" => {
                    zerowire_fuzz::check_connection(&data);
                    true
                }
                "body_enum" => match data.split_first() {
                    Some((0, rest)) => Vec::<Shape>::decode_view(rest).is_ok(),
                    Some((_, rest)) => Shape::decode_view(rest).is_ok(),
                    None => Shape::decode_view(&data).is_ok(),
                },
                _ => {
                    // Accepted: at least one whole frame decodes.
                    let stream = data.get(1..).unwrap_or_default();
                    matches!(
                        FrameDecoder::new(65_535).decode(stream),
                        Ok(Decoded::Frame { .. })
                    )
                }
            };
            accepted += usize::from(ok);
        }
        println!("{target}: {accepted} / {total} corpus inputs accepted");
    }
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("seed") => seed(),
        Some("stats") => stats(),
        _ => eprintln!("usage: cargo run --example corpus -- seed|stats"),
    }
}
