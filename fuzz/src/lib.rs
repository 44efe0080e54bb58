//! Types and checks shared by the fuzz targets in `fuzz_targets/`.
//!
//! Every check panics (which libFuzzer reports as a crash) when a decoder
//! breaks one of its promises: a panic inside the decoder itself, two decode
//! paths that disagree, an accepted input that does not re-encode to the same
//! bytes, or an error offset outside the input.

use std::fmt::Debug;
use std::io::Write as _;

use zerowire::frame::{Decoded, Frame, FrameDecoder, FrameError, FrameReader, Hello};
use zerowire::{FromView, Wire};

/// A fieldless enum: one checked index byte in the fixed block.
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Index 0.
    Idle,
    /// Index 1.
    Run,
    /// Index 2.
    Fault,
}

/// A tuple struct of two fixed fields.
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point(pub i16, pub i16);

/// A nested struct with only fixed-size fields, including checked ones.
#[derive(Wire, Debug, Clone, Copy, PartialEq)]
pub struct Inner {
    /// A checked byte.
    pub ok: bool,
    /// A checked scalar.
    pub letter: char,
    /// Checked indices.
    pub modes: [Mode; 2],
    /// Nested arrays.
    pub grid: [[u16; 2]; 2],
    /// A nested struct.
    pub origin: Point,
}

/// A unit struct: zero bytes.
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit;

/// A data-carrying enum with unit, tuple and struct variants.
#[derive(Wire, Debug, Clone, PartialEq)]
pub enum Shape {
    /// Tuple variant, fixed field.
    Circle(u32),
    /// Struct variant, fixed fields.
    Rect {
        /// Width.
        w: u16,
        /// Height.
        h: u16,
    },
    /// Tuple variant with a tail.
    Named(String, u8),
    /// Unit variant.
    Empty,
    /// A vector of fixed structs.
    Path(Vec<Point>),
    /// Nested options, vectors, enums and a fixed struct.
    Labelled {
        /// An optional string.
        label: Option<String>,
        /// A vector of strings.
        tags: Vec<String>,
        /// A fieldless enum.
        mode: Mode,
        /// A fixed struct.
        inner: Inner,
        /// An optional nested enum vector.
        children: Option<Vec<Leaf>>,
    },
}

/// A second, smaller data enum nested inside [`Shape`].
#[derive(Wire, Debug, Clone, PartialEq)]
pub enum Leaf {
    /// Unit variant.
    None,
    /// A byte string.
    Blob(Vec<u8>),
    /// A float, compared bitwise through the re-encoding.
    Value {
        /// The value.
        v: f64,
    },
}

/// Every kind of field the derive supports, borrowed and owned.
#[derive(Wire, Debug, Clone, PartialEq)]
pub struct Everything<'a> {
    /// Integers of every width.
    pub a: u8,
    /// .
    pub b: i8,
    /// .
    pub c: u16,
    /// .
    pub d: i16,
    /// .
    pub e: u32,
    /// .
    pub f: i32,
    /// .
    pub g: u64,
    /// .
    pub h: i64,
    /// .
    pub i: u128,
    /// .
    pub j: i128,
    /// Floats (every bit pattern is valid).
    pub x: f32,
    /// .
    pub y: f64,
    /// Checked scalars.
    pub ok: bool,
    /// .
    pub letter: char,
    /// A fieldless enum.
    pub mode: Mode,
    /// Arrays.
    pub words: [u16; 3],
    /// A nested fixed struct.
    pub inner: Inner,
    /// A unit struct.
    pub unit: Unit,
    /// Borrowed text and bytes.
    pub name: &'a str,
    /// .
    pub raw: &'a [u8],
    /// Owned text and bytes.
    pub label: String,
    /// .
    pub blob: Vec<u8>,
    /// .
    pub shared: bytes::Bytes,
    /// Vectors.
    pub samples: Vec<u16>,
    /// .
    pub points: Vec<Point>,
    /// .
    pub strings: Vec<String>,
    /// .
    pub nested: Vec<Vec<u8>>,
    /// .
    pub flags: Vec<bool>,
    /// Options.
    pub maybe: Option<u32>,
    /// .
    pub note: Option<String>,
    /// .
    pub deep: Option<Option<Inner>>,
    /// Bounded containers.
    pub short: heapless::String<8>,
    /// .
    pub few: heapless::Vec<u16, 4>,
    /// A data enum, and a result.
    pub shape: Shape,
    /// .
    pub result: Result<u8, String>,
    /// A box.
    pub boxed: Box<Point>,
}

/// Decodes `data` as a `T` body both ways and checks the promises.
pub fn check_body<'a, T>(data: &'a [u8])
where
    T: FromView<'a>,
    T::View<'a>: Debug,
{
    let view = T::decode_view(data);
    let owned = T::decode(data);
    match (view, owned) {
        (Ok(view), Ok(value)) => {
            // Walk the whole view (every accessor, every sequence item).
            let _ = write!(std::io::sink(), "{view:?}");
            assert_eq!(
                value.encoded_len(),
                data.len(),
                "encoded_len of an accepted body"
            );
            let again = value.encode_to_vec();
            assert!(
                again == data,
                "accepted a non-canonical body: re-encoded as {again:02x?}"
            );
        }
        (Err(e), Err(e2)) => {
            assert_eq!(e, e2, "decode_view and decode disagree");
            assert!(
                e.offset <= data.len(),
                "error offset {} past the input",
                e.offset
            );
        }
        (view, owned) => panic!(
            "decode_view and decode disagree: {:?} vs {:?}",
            view.err(),
            owned.err()
        ),
    }
}

/// What a stream decodes to: the frames (re-encoded), the error that ended
/// it, and the bytes consumed by whole frames.
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Vec<u8>>,
    error: Option<FrameError>,
    consumed: usize,
}

/// Re-encodes `frame`, which was decoded from exactly `bytes`, and checks it
/// is canonical.
fn check_frame(frame: &Frame<'_>, bytes: &[u8]) -> Vec<u8> {
    assert_eq!(frame.encoded_len(), bytes.len(), "encoded_len of {frame:?}");
    let mut again = vec![0u8; bytes.len()];
    assert_eq!(frame.encode(&mut again), Ok(bytes.len()));
    assert!(
        again == bytes,
        "accepted a non-canonical frame {bytes:02x?}: {frame:?}"
    );
    if let Frame::Hello { body } = frame {
        let hello = Hello::decode(body).expect("a HELLO frame's body decodes");
        assert!(hello.encode_to_vec() == *body, "non-canonical HELLO body");
    }
    again
}

/// A `FrameDecoder::decode` loop.
fn decode_loop(dec: FrameDecoder, stream: &[u8]) -> Outcome {
    let mut out = Outcome {
        frames: Vec::new(),
        error: None,
        consumed: 0,
    };
    loop {
        let rest = &stream[out.consumed..];
        match dec.decode(rest) {
            Ok(Decoded::Frame { frame, len }) => {
                assert!(
                    len >= 2 && len <= rest.len(),
                    "frame length {len} of {}",
                    rest.len()
                );
                out.frames.push(check_frame(&frame, &rest[..len]));
                out.consumed += len;
            }
            Ok(Decoded::Incomplete { needed }) => {
                assert!(needed >= 1, "Incomplete with nothing needed");
                return out;
            }
            Err(e) => {
                match e {
                    FrameError::TooLarge { len, max } => {
                        assert!(len > max && max == dec.max_frame());
                    }
                    FrameError::Malformed { error, .. } => {
                        assert!(
                            error.offset <= rest.len(),
                            "error offset past the input: {e:?}"
                        );
                    }
                    _ => {}
                }
                out.error = Some(e);
                return out;
            }
        }
    }
}

/// `FrameDecoder::frames`.
fn iterate(dec: FrameDecoder, stream: &[u8]) -> Outcome {
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
    assert_eq!(out.consumed, at, "Frames::consumed");
    out
}

/// A `FrameReader` over `storage` bytes, fed in chunks whose sizes `sizes`
/// picks (1 to 17 bytes each).
fn read_chunked(max_frame: u32, storage: usize, stream: &[u8], sizes: &[u8]) -> Outcome {
    let mut reader = FrameReader::new(vec![0u8; storage], max_frame);
    let mut out = Outcome {
        frames: Vec::new(),
        error: None,
        consumed: 0,
    };
    let mut fed = 0;
    let mut round = 0usize;
    loop {
        loop {
            match reader.next_frame() {
                Ok(Some(frame)) => {
                    let mut bytes = vec![0u8; frame.encoded_len()];
                    assert_eq!(frame.encode(&mut bytes), Ok(bytes.len()));
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
            assert_eq!(
                reader.buffered(),
                stream.len() - out.consumed,
                "FrameReader::buffered"
            );
            return out;
        }
        let pick = sizes.get(round % sizes.len().max(1)).copied().unwrap_or(0);
        round += 1;
        let chunk = (1 + usize::from(pick % 17)).min(stream.len() - fed);
        let taken = if pick & 0x80 == 0 {
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

/// Frame limits the first input byte chooses from.
const LIMITS: [u32; 4] = [16, 128, 1024, 65_535];

/// Decodes `data[1..]` as a frame stream three ways (limit chosen by
/// `data[0]`) and checks they agree frame for frame and on the error.
pub fn check_frames(data: &[u8]) {
    let Some((&config, stream)) = data.split_first() else {
        return;
    };
    let max_frame = LIMITS[usize::from(config & 3)];
    let dec = FrameDecoder::new(max_frame);
    let one = decode_loop(dec, stream);
    let two = iterate(dec, stream);
    assert_eq!(one, two, "decode loop and frames() disagree");
    // Storage for exactly the largest frame, so the reader's limit is the same.
    let storage = max_frame as usize + zerowire::frame::MAX_HEADER_LEN;
    let three = read_chunked(max_frame, storage, stream, stream);
    assert_eq!(one, three, "FrameReader disagrees");
}

/// The protocol state machine, as an acceptor serving two methods, fed the
/// input in chunks it chooses (first byte of each step: chunk length, and
/// whether time passes), answering every call. Nothing may panic; tables
/// and buffers stay within bounds; `Closed` is reported at most once.
pub fn check_connection(data: &[u8]) {
    use zerowire::proto::{
        ArrayTables, Config, Connection, ErrorCode, Event, Instant, MethodDesc, Role,
    };

    static SERVED: [MethodDesc; 2] = [
        MethodDesc::new("Calc", "add3", 1),
        MethodDesc::new("Calc", "div", 2),
    ];
    let config = Config {
        max_calls: 4,
        max_frame: 256,
        send_high_water: 512,
        ..Config::default()
    };
    let mut now = Instant::from_micros(0);
    let mut conn: Connection<'_, [u8; 512], [u8; 1024], ArrayTables<4, 4>> = Connection::new(
        config,
        Role::Acceptor,
        &SERVED,
        [0; 512],
        [0; 1024],
        ArrayTables::new(),
        now,
    );
    let mut rest = data;
    let mut closed = 0;
    while let Some((&step, tail)) = rest.split_first() {
        let take = usize::from(step & 0x3f).min(tail.len());
        let n = conn.handle_input(now, &tail[..take]);
        rest = &tail[n.max(take.min(1))..];
        let mut answers = Vec::new();
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Call { call, body, .. } => {
                    answers.push((call, <(u32, u32, u32)>::decode(body).ok()));
                }
                Event::Closed(_) => closed += 1,
                _ => {}
            }
        }
        for (call, args) in answers {
            let _ = match args {
                Some((a, b, c)) => conn.reply(call, &a.wrapping_add(b).wrapping_add(c)),
                None => conn.reply_error(call, ErrorCode::BadRequest, "bad arguments"),
            };
        }
        assert!(conn.serving() <= 4);
        assert!(conn.pending_send() <= 1024);
        let out = conn.poll_transmit().len();
        conn.advance_transmit(out);
        if step & 0x40 != 0 {
            now = now.saturating_add(std::time::Duration::from_secs(
                u64::from(step >> 7) * 20 + 1,
            ));
            conn.handle_timeout(now);
        }
    }
    while conn.poll_event().is_some() {}
    assert!(closed <= 1, "Closed reported {closed} times");
}
