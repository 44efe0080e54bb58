//! Hostile bytes against the protocol state machine: after a valid HELLO (or
//! none), random and mutated frame streams are fed in random chunks while
//! calls are answered, streams are served and consumed, and time passes.
//!
//! The valid openings mix single-frame calls with stream traffic: request
//! streams opened with DATA OPEN (whole or chunked arguments, whole and
//! chunked items, a bare FIN_STREAM, an abort, a CANCEL, a TOTAL above
//! `max_message`), reply streams for the calls this side started, CREDIT
//! frames with random ids and amounts, and chunks for ids nobody uses.
//! Mutations work on whole frames (drop, duplicate, swap, flip a DATA flag)
//! and on bytes.
//!
//! Nothing may panic; a connection that closes reports `Closed` exactly
//! once, with the reason `close_reason` gives, and then stays quiet; an
//! unmutated opening never closes for a protocol reason; no channel ever
//! holds more unconsumed bytes than `initial_credit`; every message
//! delivered whole has exactly the bytes its first piece announced; a call
//! that came as a CALL frame gets no request-stream data; the send buffer
//! and the tables stay within their bounds.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use zerocopy::little_endian::U64;
use zerowire::frame::{
    encode_call, encode_data, encode_data_header, encode_hello, parse_data_head, DataFlags,
    Decoded, Frame, FrameDecoder, Hello, MAGIC, PROTOCOL_VERSION,
};
use zerowire::proto::{
    ArrayTables, Channel, CloseReason, Config, Connection, ErrorBody, ErrorCode, Event,
    IncomingCall, Instant, MethodDesc, Role, SendError,
};
use zerowire::Wire;

const ADD3: MethodDesc = MethodDesc::new("Calc", "add3", 1);
const DIV: MethodDesc = MethodDesc::new("Calc", "div", 2);
static SERVED: [MethodDesc; 2] = [ADD3, DIV];
/// A method of the peer this side calls (the peer is the generator).
const WATCH: MethodDesc = MethodDesc::new("Peer", "watch", 3);

/// This side's limits, which the generator respects in valid openings.
const CREDIT: u32 = 1024;
const MAX_MESSAGE: u32 = 4096;
const MAX_FRAME: u32 = 256;
const TX: usize = 1024;
/// The call ids of the two calls this side starts once connected: `open`
/// takes out slot 0 (id 3), `call` slot 1 (id 5).
const OWN_STREAM: u64 = 3;
const OWN_CALL: u64 = 5;
/// First id of the peer's request streams, and of ids nobody uses.
const STREAM_IDS: u64 = 100;
const UNKNOWN_IDS: u64 = 1000;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Fewer than `max` random bytes.
    fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max);
        self.bytes(n)
    }
}

/// One DATA frame with its payload; `method`/`total` set OPEN/TOTAL.
fn data(flags: DataFlags, id: u64, method: Option<u64>, total: Option<u64>, p: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 40];
    let n = encode_data_header(&mut out, flags, id, method, total, p.len()).unwrap();
    out.truncate(n);
    out.extend_from_slice(p);
    out
}

fn fin(fin_stream: bool) -> DataFlags {
    if fin_stream {
        DataFlags::REPLY
    } else {
        DataFlags::FIN_MSG
    }
}

/// A message in one frame (FIN_MSG, OPEN when `method` is given).
fn whole(id: u64, method: Option<u64>, payload: &[u8], fin_stream: bool) -> Vec<u8> {
    data(fin(fin_stream), id, method, None, payload)
}

/// A chunked message: the first chunk carries TOTAL (and OPEN when
/// `method` is given), the middle ones nothing, the last FIN_MSG and
/// TOTAL again; a single chunk carries both.
fn chunked(
    rng: &mut Rng,
    id: u64,
    method: Option<u64>,
    payload: &[u8],
    fin_stream: bool,
) -> Vec<Vec<u8>> {
    let total = Some(payload.len() as u64);
    // Every chunk but the last leaves bytes to come: the chunk that
    // completes a message is its last (FIN_MSG).
    let len = payload.len();
    let mut cuts: Vec<usize> = (0..rng.below(4).min(len)).map(|_| rng.below(len)).collect();
    cuts.push(len);
    cuts.sort_unstable();
    let mut frames = Vec::new();
    let mut at = 0;
    for (i, &cut) in cuts.iter().enumerate() {
        let last = i + 1 == cuts.len();
        let piece = &payload[at..cut];
        at = cut;
        frames.push(match (i == 0, last) {
            (first, true) => data(fin(fin_stream), id, method.filter(|_| first), total, piece),
            (true, false) => data(DataFlags::default(), id, method, total, piece),
            (false, false) => data(DataFlags::default(), id, None, None, piece),
        });
    }
    frames
}

/// A message of `len` random bytes, whole when it fits a frame.
fn message(rng: &mut Rng, id: u64, len: usize, fin_stream: bool) -> Vec<Vec<u8>> {
    let payload = rng.bytes(len);
    if len <= 200 && rng.below(2) == 0 {
        vec![whole(id, None, &payload, fin_stream)]
    } else {
        chunked(rng, id, None, &payload, fin_stream)
    }
}

/// The peer's request stream on `id`: the arguments (in the opening frame,
/// chunked, or announced above `max_message`), items within the credit
/// window, and an ending (FIN_STREAM on the last item, a bare FIN_STREAM,
/// an abort, a CANCEL, or none).
fn request_stream(rng: &mut Rng, id: u64) -> Vec<Vec<u8>> {
    let method = Some(rng.below(2) as u64);
    let args = (1u32, 2u32, 3u32).encode_to_vec();
    let mut frames = match rng.below(4) {
        0 | 1 => vec![whole(id, method, &args, false)],
        2 => chunked(rng, id, method, &args, false),
        _ => {
            // Refused with `MessageTooLarge`; the rest is skipped.
            let total = u64::from(MAX_MESSAGE) + 1 + rng.below(1 << 20) as u64;
            let mut f = vec![data(DataFlags::default(), id, method, Some(total), &[0; 8])];
            f.push(data(DataFlags::default(), id, None, None, &rng.bytes(300)));
            f.push(whole(id, None, &[1, 2], false));
            return f;
        }
    };
    let mut budget = CREDIT as usize - args.len();
    for _ in 0..rng.below(4) {
        let len = rng.below(budget.min(400) + 1);
        budget -= len;
        frames.extend(message(rng, id, len, false));
    }
    match rng.below(5) {
        0 => frames.push(data(DataFlags::FIN_STREAM, id, None, None, &[])),
        1 => {
            let len = rng.below(budget.min(200) + 1);
            frames.extend(message(rng, id, len, true));
        }
        2 => {
            let body = ErrorBody {
                code: ErrorCode::Internal.to_u16(),
                message: "producer failed",
            };
            let flags = DataFlags::REPLY.with(DataFlags::ERROR);
            let mut out = vec![0u8; 64];
            let n = encode_data(&mut out, flags, id, None, None, &body).unwrap();
            out.truncate(n);
            frames.push(out);
        }
        3 => frames.push(frame(Frame::Cancel { call_id: id })),
        _ => {}
    }
    frames
}

/// The reply stream of one of this side's calls: items within the window,
/// then exactly one final frame.
fn reply_stream(rng: &mut Rng, id: u64) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut budget = CREDIT as usize;
    for _ in 0..rng.below(4) {
        let len = rng.below(budget.min(300) + 1);
        budget -= len;
        frames.extend(message(rng, id, len, false));
    }
    match rng.below(3) {
        // A single-frame final reply needs no credit.
        0 => frames.push(whole(id, None, &rng.some_bytes(200), true)),
        1 => {
            let len = rng.below(budget + 1);
            let payload = rng.bytes(len);
            frames.extend(chunked(rng, id, None, &payload, true));
        }
        _ => {
            let body = ErrorBody {
                code: ErrorCode::Overloaded.to_u16(),
                message: "",
            };
            let mut out = vec![0u8; 64];
            let flags = DataFlags::REPLY.with(DataFlags::ERROR);
            let n = encode_data(&mut out, flags, id, None, None, &body).unwrap();
            out.truncate(n);
            frames.push(out);
        }
    }
    frames
}

fn frame(f: Frame<'_>) -> Vec<u8> {
    let mut out = vec![0u8; 64];
    let n = f.encode(&mut out).unwrap();
    out.truncate(n);
    out
}

/// Frames that must not disturb a healthy connection: CREDIT for any id
/// and amount, chunks and ends of stream for ids nobody uses.
fn noise(rng: &mut Rng) -> Vec<u8> {
    let id = UNKNOWN_IDS + 2 * rng.below(50) as u64;
    match rng.below(5) {
        0 => frame(Frame::Credit {
            call_id: rng.below(2000) as u64,
            bytes: rng.next() >> rng.below(64),
        }),
        1 => data(DataFlags::default(), id, None, None, &rng.some_bytes(600)),
        2 => {
            let p = rng.some_bytes(600);
            data(DataFlags::FIN_MSG, id, None, Some(p.len() as u64 + 7), &p)
        }
        3 => data(DataFlags::FIN_STREAM, id, None, None, &[]),
        _ => whole(id, None, &rng.some_bytes(200), false),
    }
}

/// A valid opening from an initiator, frame by frame: HELLO, declarations
/// of add3 and div, calls, and (usually) stream traffic interleaved.
fn valid_prefix(rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut out = vec![0u8; 512];
    let n = encode_hello(
        &mut out,
        &Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            flags: 1,
            max_calls: 8,
            max_frame: 512,
            max_message: 2048,
            initial_credit: 512,
            service_fp: 0,
            n_methods: 0,
            build: "fuzz",
        },
    )
    .unwrap();
    let mut frames = vec![out[..n].to_vec()];
    let entry = [
        U64::new(ADD3.id),
        U64::new(ADD3.fingerprint),
        U64::new(DIV.id),
        U64::new(DIV.fingerprint),
    ];
    frames.push(frame(Frame::MethodTable {
        first_index: 0,
        fingerprints: &entry,
    }));
    let mut lanes: Vec<Vec<Vec<u8>>> = Vec::new();
    for i in 0..rng.below(6) {
        let n = encode_call(&mut out, 0, 2 + 2 * i as u64, &(1u32, 2u32, 3u32)).unwrap();
        lanes.push(vec![out[..n].to_vec()]);
    }
    if rng.below(4) != 0 {
        for i in 0..rng.below(4) {
            lanes.push(request_stream(rng, STREAM_IDS + 2 * i as u64));
        }
        for id in [OWN_STREAM, OWN_CALL] {
            if rng.below(3) != 0 {
                lanes.push(reply_stream(rng, id));
            }
        }
        for _ in 0..rng.below(6) {
            lanes.push(vec![noise(rng)]);
        }
    }
    // Interleave the lanes, each in its own order.
    lanes.retain(|l| !l.is_empty());
    for lane in &mut lanes {
        lane.reverse();
    }
    while !lanes.is_empty() {
        let i = rng.below(lanes.len());
        frames.push(lanes[i].pop().unwrap());
        if lanes[i].is_empty() {
            lanes.swap_remove(i);
        }
    }
    frames
}

/// Frame-level damage: drop, duplicate or swap frames, flip a DATA flag,
/// or add DATA on the id of a (possible) CALL.
fn mutate_frames(rng: &mut Rng, frames: &mut Vec<Vec<u8>>) {
    for _ in 0..1 + rng.below(2) {
        if frames.len() < 2 {
            return;
        }
        let i = 1 + rng.below(frames.len() - 1);
        match rng.below(5) {
            0 => {
                frames.remove(i);
            }
            1 => frames.insert(i, frames[i].clone()),
            2 => frames.swap(i - 1, i),
            3 => {
                let id = 2 + 2 * rng.below(6) as u64;
                let frame = match rng.below(3) {
                    0 => whole(id, None, &rng.some_bytes(20), rng.below(2) == 0),
                    1 => data(DataFlags::default(), id, None, Some(40), &[1; 10]),
                    _ => data(DataFlags::FIN_STREAM, id, None, None, &[]),
                };
                frames.insert(i, frame);
            }
            _ => {
                if (0x80..=0x9F).contains(&frames[i][0]) {
                    frames[i][0] ^= 1 << rng.below(5);
                }
            }
        }
    }
}

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        if bytes.is_empty() {
            bytes.push(rng.next() as u8);
            continue;
        }
        let i = rng.below(bytes.len());
        match rng.below(4) {
            0 => bytes[i] ^= 1 << rng.below(8),
            1 => bytes[i] = rng.next() as u8,
            2 => bytes.insert(i, rng.next() as u8),
            _ => {
                bytes.remove(i);
            }
        }
    }
}

/// One line per frame, for a failure message.
fn describe(frames: &[Vec<u8>]) -> String {
    let mut out = String::new();
    for f in frames {
        let line = match parse_data_head(f) {
            Ok(Some(h)) => format!(
                "DATA {:#04x} id {} method {:?} total {:?} payload {}",
                f[0], h.call_id, h.method, h.total_len, h.payload_len
            ),
            _ => match FrameDecoder::new(u32::MAX).decode(f) {
                Ok(Decoded::Frame { frame, .. }) => format!("{frame:?}"),
                other => format!("{other:?}"),
            },
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A peer's request stream this side serves: it sends an item, a chunked
/// message in two chunks, then its result.
struct Serving {
    call: IncomingCall,
    step: u8,
}

/// What one run saw.
#[derive(Default)]
struct Outcome {
    closed: Option<CloseReason>,
    calls: usize,
    opened: usize,
    data_bytes: usize,
}

fn run_one(rng: &mut Rng, input: &[u8]) -> Outcome {
    let config = Config {
        max_calls: 4,
        max_frame: MAX_FRAME,
        send_high_water: 512,
        max_message: MAX_MESSAGE,
        initial_credit: CREDIT,
        max_chunk: 128,
        ..Config::default()
    };
    let mut now = Instant::from_micros(0);
    let mut conn: Connection<'_, [u8; 512], [u8; TX], ArrayTables<4, 4>> = Connection::new(
        config,
        Role::Acceptor,
        &SERVED,
        [0; 512],
        [0; TX],
        ArrayTables::new(),
        now,
    );
    let mut rest = input;
    let mut closed_events = 0;
    let mut reported = None;
    let mut outcome = Outcome::default();
    // Bytes each channel delivered and the application has not taken yet.
    let mut owed: HashMap<Channel, usize> = HashMap::new();
    let mut serving: Vec<Serving> = Vec::new();
    // Bytes still to come of each channel's message in progress.
    let mut message_left: HashMap<Channel, Option<u64>> = HashMap::new();
    // Calls that came whole (CALL): nothing may follow on their channel.
    let mut whole_calls: HashSet<IncomingCall> = HashSet::new();
    for _ in 0..400 {
        if !rest.is_empty() && conn.wants_read() {
            let take = (1 + rng.below(64)).min(rest.len());
            let n = conn.handle_input(now, &rest[..take]);
            rest = &rest[n..];
        }
        let mut answer = Vec::new();
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Connected(_) => {
                    // Ids 3 and 5, whose reply streams the peer may send.
                    if let Ok(c) = conn.open(now, &WATCH, None) {
                        assert_eq!(c.wire_id(), OWN_STREAM);
                        owed.insert(Channel::Out(c), 0);
                        let _ = conn.send_message(Channel::Out(c), &7u32, true);
                    }
                    if let Ok(c) = conn.call(now, &WATCH, &8u32, None) {
                        assert_eq!(c.wire_id(), OWN_CALL);
                        owed.insert(Channel::Out(c), 0);
                    }
                }
                Event::Call { call, body, .. } => {
                    outcome.calls += 1;
                    whole_calls.insert(call);
                    let ok = <(u32, u32, u32)>::decode(body).ok();
                    answer.push((call, ok));
                }
                Event::Opened { call, .. } => {
                    outcome.opened += 1;
                    owed.insert(Channel::In(call), 0);
                    serving.push(Serving { call, step: 0 });
                }
                Event::Data { channel, data } => {
                    assert!(data.bytes.len() <= CREDIT as usize);
                    if let Channel::In(call) = channel {
                        assert!(!whole_calls.contains(&call), "data after a CALL");
                    }
                    // Bytes left of the message after this piece (`None`:
                    // a whole message in an opening frame, whose length
                    // only its frame header gave).
                    let n = data.bytes.len() as u64;
                    let left = if data.first {
                        assert!(
                            !message_left.contains_key(&channel),
                            "{channel:?}: a message inside a message"
                        );
                        data.total
                    } else if data.bytes.is_empty() && !data.end_of_message {
                        // A bare end of stream.
                        assert!(!message_left.contains_key(&channel));
                        Some(0)
                    } else {
                        *message_left
                            .get(&channel)
                            .expect("a piece without a first one")
                    };
                    let left = left.map(|l| l.checked_sub(n).expect("more bytes than announced"));
                    if data.end_of_message {
                        assert!(
                            left.is_none_or(|l| l == 0),
                            "{channel:?}: a message ended short"
                        );
                        message_left.remove(&channel);
                    } else if data.first || !data.bytes.is_empty() {
                        message_left.insert(channel, left);
                    }
                    outcome.data_bytes += data.bytes.len();
                    *owed.entry(channel).or_default() += data.bytes.len();
                }
                Event::Aborted { call, .. } | Event::Cancelled(call) => {
                    // The partial message, if any, is dropped.
                    message_left.remove(&Channel::In(call));
                }
                Event::Failed { call, .. } => {
                    message_left.remove(&Channel::Out(call));
                }
                Event::Closed(r) => {
                    closed_events += 1;
                    reported = Some(r);
                }
                _ => {}
            }
        }
        for (call, args) in answer {
            let _ = match args {
                Some((a, b, c)) => conn.reply(call, &a.wrapping_add(b).wrapping_add(c)),
                None => conn.reply_error(call, ErrorCode::BadRequest, "bad arguments"),
            };
        }
        // The application takes part of what it was given.
        for (ch, n) in owed.iter_mut() {
            let take = rng.below(*n + 1);
            *n -= take;
            conn.consumed(*ch, take);
            assert!(
                conn.unconsumed(*ch) <= CREDIT as usize,
                "{ch:?} holds {} unconsumed bytes, window {CREDIT}",
                conn.unconsumed(*ch)
            );
        }
        // Served streams answer with an item, a chunked message, a result.
        serving.retain_mut(|s| {
            let ch = Channel::In(s.call);
            let r = match s.step {
                0 => conn.send_message(ch, &s.step, false),
                1 => conn.send_chunk(ch, Some(200), &[7; 120], false),
                2 => conn.send_chunk(ch, None, &[8; 80], false),
                _ => {
                    let _ = conn.reply(s.call, &0u32);
                    return false;
                }
            };
            match r {
                Ok(()) => s.step += 1,
                Err(SendError::Backpressure | SendError::NoCredit) => {}
                Err(SendError::Stale | SendError::Closed) => return false,
                Err(e) => panic!("serving a stream: {e:?} at step {}", s.step),
            }
            true
        });
        assert!(conn.serving() <= 4, "served more calls than max_calls");
        assert!(
            conn.pending_send() <= TX,
            "{} bytes queued",
            conn.pending_send()
        );
        let out = conn.transmit();
        assert_eq!(out.spliced, 0);
        let out = out.len();
        conn.advance_transmit(out);
        if rng.below(8) == 0 {
            now = now.saturating_add(Duration::from_secs(rng.below(20) as u64));
            conn.handle_timeout(now);
        }
        if rest.is_empty() && conn.poll_transmit().is_empty() && rng.below(4) == 0 {
            break;
        }
    }
    while let Some(event) = conn.poll_event() {
        if let Event::Closed(r) = event {
            closed_events += 1;
            reported = Some(r);
        }
    }
    outcome.closed = conn.close_reason();
    if conn.is_closed() {
        assert_eq!(closed_events, 1, "Closed reported {closed_events} times");
        assert_eq!(
            reported, outcome.closed,
            "Closed event and close_reason differ"
        );
        assert!(conn.poll_event().is_none());
        assert_eq!(conn.serving(), 0);
        assert_eq!(conn.calls_in_flight(), 0);
    } else {
        assert_eq!(closed_events, 0, "Closed reported while open");
    }
    outcome
}

#[test]
fn hostile_streams_never_break_the_state_machine() {
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let (mut closed, mut served, mut streamed, mut total) = (0, 0, 0, 0);
    let mut data_bytes = 0;
    for round in 0..20_000 {
        let valid = round % 4 == 1;
        let mut shape = String::new();
        let input = if round % 4 == 0 {
            (0..rng.below(300)).map(|_| rng.next() as u8).collect()
        } else {
            let mut frames = valid_prefix(&mut rng);
            if round % 4 == 2 {
                mutate_frames(&mut rng, &mut frames);
            }
            if valid {
                shape = describe(&frames);
            }
            let mut input = frames.concat();
            if round % 4 == 3 || (round % 4 == 2 && rng.below(2) == 0) {
                mutate(&mut rng, &mut input);
            }
            input
        };
        let o = run_one(&mut rng, &input);
        if valid {
            // Only the clock may end a well-formed exchange.
            assert!(
                matches!(
                    o.closed,
                    None | Some(CloseReason::IdleTimeout | CloseReason::HandshakeTimeout)
                ),
                "round {round}: a valid opening closed the connection: {:?}\n{shape}",
                o.closed
            );
        }
        closed += usize::from(o.closed.is_some());
        served += usize::from(o.calls > 0 || o.opened > 0);
        streamed += usize::from(o.opened > 0);
        data_bytes += o.data_bytes;
        total += 1;
    }
    println!(
        "{total} streams: {closed} closed the connection, {served} had calls served, \
         {streamed} opened request streams, {data_bytes} stream bytes delivered"
    );
    // Unmutated valid openings are served; garbage closes the connection.
    assert!(
        served > total / 4,
        "too few streams served: {served} of {total}"
    );
    assert!(
        streamed > total / 8,
        "too few request streams opened: {streamed} of {total}"
    );
    assert!(
        closed > total / 10,
        "too few streams rejected: {closed} of {total}"
    );
}
