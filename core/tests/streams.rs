//! Streams, chunked messages, flow control and writer fairness, with two
//! state machines driven through in-memory links and a simulated clock.
//! The drivers here write with the same `transmit` / `advance_transmit`
//! calls a socket driver uses (spliced payloads included), in write sizes
//! chosen by a seeded generator, and read either through the receive
//! buffer or straight into the application's storage (`direct_read`).

use std::collections::HashMap;

use zerowire::frame::{parse_data_head, DataFlags, Decoded, FrameDecoder};
use zerowire::proto::{
    ArrayTables, CallId, Channel, Config, Connection, ErrorCode, Event, Failure, Instant,
    MethodDesc, Role, SendError, StartError, Tables, VecTables,
};

const SUBSCRIBE: MethodDesc = MethodDesc::new("Cam", "subscribe", 0x5b);
const UPLOAD: MethodDesc = MethodDesc::new("Cam", "upload", 0x0b);
const PING: MethodDesc = MethodDesc::new("Hub", "ping", 0x1);

static CAM: [MethodDesc; 2] = [SUBSCRIBE, UPLOAD];
static HUB: [MethodDesc; 1] = [PING];

type Conn<T> = Connection<'static, Vec<u8>, Vec<u8>, T>;

/// xorshift, for write sizes and consumer pace.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn config(credit: u32, chunk: u32, high_water: usize) -> Config {
    Config {
        max_calls: 4,
        max_frame: 1024,
        send_high_water: high_water,
        max_message: 1 << 24,
        initial_credit: credit,
        max_chunk: chunk,
        build: "test",
        ..Config::default()
    }
}

/// One side and its driver state.
struct Side<T: Tables> {
    conn: Conn<T>,
    /// The payload of the pending spliced chunk.
    splice: Vec<u8>,
    /// Everything this side has written, in order.
    wire: Vec<u8>,
}

impl<T: Tables> Side<T> {
    fn new(conn: Conn<T>) -> Self {
        Self {
            conn,
            splice: Vec::new(),
            wire: Vec::new(),
        }
    }

    /// One vectored write of at most `max` bytes; returns them.
    fn write(&mut self, max: usize) -> Vec<u8> {
        let t = self.conn.transmit();
        let mut bytes = t.head.to_vec();
        let from = self.splice.len() - t.spliced;
        bytes.extend_from_slice(&self.splice[from..]);
        bytes.extend_from_slice(t.tail);
        bytes.truncate(max);
        self.conn.advance_transmit(bytes.len());
        self.wire.extend_from_slice(&bytes);
        bytes
    }
}

struct Pair<T: Tables> {
    a: Side<T>,
    b: Side<T>,
    now: Instant,
    ab: Vec<u8>,
    ba: Vec<u8>,
}

impl<T: Tables> Pair<T> {
    fn new(tables: impl Fn() -> T, a_cfg: Config, b_cfg: Config, rx: usize) -> Self {
        let now = Instant::from_micros(1);
        let a = Connection::new(
            a_cfg,
            Role::Initiator,
            &HUB,
            vec![0; rx],
            vec![0; 8192],
            tables(),
            now,
        );
        let b = Connection::new(
            b_cfg,
            Role::Acceptor,
            &CAM,
            vec![0; rx],
            vec![0; 8192],
            tables(),
            now,
        );
        Self {
            a: Side::new(a),
            b: Side::new(b),
            now,
            ab: Vec::new(),
            ba: Vec::new(),
        }
    }

    /// Writes everything both sides have queued and feeds it to the other
    /// side's receive buffer, without processing events.
    fn flush(&mut self) {
        let out = self.a.write(usize::MAX);
        self.ab.extend_from_slice(&out);
        let out = self.b.write(usize::MAX);
        self.ba.extend_from_slice(&out);
        let n = self.b.conn.handle_input(self.now, &self.ab);
        self.ab.drain(..n);
        let n = self.a.conn.handle_input(self.now, &self.ba);
        self.ba.drain(..n);
    }

    /// One round while b sends to a: b writes at most `b_max` bytes, a
    /// takes them in, consumes all, answers every call with `()`, and
    /// writes everything back, which b takes in.
    fn relay_b_to_a(&mut self, b_max: usize, sa: &mut Seen, sb: &mut Seen) {
        let w = self.b.write(b_max);
        self.ba.extend_from_slice(&w);
        let n = self.a.conn.handle_input(self.now, &self.ba);
        self.ba.drain(..n);
        drain(&mut self.a.conn, sa);
        for (ch, _, _) in std::mem::take(&mut sa.calls) {
            let Channel::In(c) = ch else { unreachable!() };
            self.a.conn.reply(c, &()).unwrap();
        }
        let w = self.a.write(usize::MAX);
        self.ab.extend_from_slice(&w);
        let n = self.b.conn.handle_input(self.now, &self.ab);
        self.ab.drain(..n);
        drain(&mut self.b.conn, sb);
    }

    fn handshake(&mut self) {
        self.flush();
        assert!(matches!(
            self.a.conn.poll_event(),
            Some(Event::Connected(_))
        ));
        assert!(matches!(
            self.b.conn.poll_event(),
            Some(Event::Connected(_))
        ));
    }
}

/// What one side saw, owned.
#[derive(Debug, Default)]
struct Seen {
    opened: Vec<(Channel, u16)>,
    /// Reassembled messages per channel, and whether the stream ended.
    messages: HashMap<Channel, Vec<Vec<u8>>>,
    partial: HashMap<Channel, Vec<u8>>,
    ended: Vec<Channel>,
    replies: Vec<(CallId, Vec<u8>)>,
    failed: Vec<(CallId, String)>,
    cancelled: usize,
    calls: Vec<(Channel, u16, Vec<u8>)>,
}

/// Drains `conn`'s events into `seen`, consuming every data byte at once.
fn drain<T: Tables>(conn: &mut Conn<T>, seen: &mut Seen) {
    let mut consumed = Vec::new();
    while let Some(e) = conn.poll_event() {
        match e {
            Event::Opened { call, method } => seen.opened.push((Channel::In(call), method)),
            Event::Data { channel, data } => {
                let buf = seen.partial.entry(channel).or_default();
                if data.first {
                    assert!(buf.is_empty(), "a message starts inside another");
                }
                buf.extend_from_slice(data.bytes);
                consumed.push((channel, data.bytes.len()));
                if data.end_of_message {
                    let m = std::mem::take(buf);
                    seen.messages.entry(channel).or_default().push(m);
                }
                if data.end_of_stream {
                    seen.ended.push(channel);
                }
            }
            Event::Reply { call, body } => seen.replies.push((call, body.to_vec())),
            Event::Failed { call, failure } => seen.failed.push((
                call,
                match failure {
                    Failure::Remote { code, message } => format!("{code:?} {message}"),
                    other => format!("{other:?}"),
                },
            )),
            Event::Cancelled(_) => seen.cancelled += 1,
            Event::Call { call, method, body } => {
                seen.calls.push((Channel::In(call), method, body.to_vec()))
            }
            Event::Connected(_) => {}
            Event::Closed(r) => panic!("closed: {r:?}; {:?}", conn.close_reason()),
            other => panic!("unexpected {other:?}"),
        }
    }
    for (ch, n) in consumed {
        conn.consumed(ch, n);
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn server_stream_scenario<T: Tables>(tables: impl Fn() -> T) {
    let mut p = Pair::new(
        &tables,
        config(4096, 1024, 2048),
        config(4096, 1024, 2048),
        512,
    );
    p.handshake();
    let (mut sa, mut sb) = (Seen::default(), Seen::default());
    let call = p.a.conn.open(p.now, &SUBSCRIBE, None).unwrap();
    p.a.conn
        .send_message(Channel::Out(call), &7u32, true)
        .unwrap();
    assert_eq!(
        p.a.conn.send_message(Channel::Out(call), &8u32, false),
        Err(SendError::Finished)
    );
    p.flush();
    drain(&mut p.b.conn, &mut sb);
    let (ch, method) = sb.opened[0];
    assert_eq!(method, 0);
    assert_eq!(sb.messages[&ch], vec![7u32.to_le_bytes().to_vec()]);
    assert_eq!(sb.ended, vec![ch]);
    // Five items, a chunked one among them, then the final result.
    for i in 0..4u32 {
        p.b.conn.send_message(ch, &i, false).unwrap();
    }
    let big = pattern(3000, 1);
    let mut at = 0;
    while at < big.len() {
        let n = p.b.conn.send_capacity(ch).min(big.len() - at);
        let total = (at == 0).then_some(big.len() as u64);
        match p.b.conn.send_chunk(ch, total, &big[at..at + n], false) {
            Ok(()) => at += n,
            Err(SendError::Backpressure) => {}
            Err(e) => panic!("{e:?}"),
        }
        p.flush();
        drain(&mut p.a.conn, &mut sa);
    }
    let Channel::In(incoming) = ch else {
        unreachable!()
    };
    p.b.conn.reply(incoming, &99u32).unwrap();
    // The receive buffer takes 512 bytes at a time.
    for _ in 0..100 {
        p.flush();
        drain(&mut p.a.conn, &mut sa);
    }
    let out = Channel::Out(call);
    let mut expected: Vec<Vec<u8>> = (0..4u32).map(|i| i.to_le_bytes().to_vec()).collect();
    expected.push(big);
    let got = &sa.messages[&out];
    assert_eq!(
        got.len(),
        expected.len(),
        "partial: {:?}",
        sa.partial.get(&out).map(Vec::len)
    );
    assert!(got == &expected);
    assert_eq!(sa.replies, vec![(call, 99u32.to_le_bytes().to_vec())]);
    assert_eq!(p.a.conn.calls_in_flight(), 0);
    assert_eq!(p.b.conn.serving(), 0);
    assert!(p.a.conn.is_open() && p.b.conn.is_open());
}

#[test]
fn server_stream_with_array_and_heap_tables() {
    server_stream_scenario(ArrayTables::<4, 4>::new);
    server_stream_scenario(|| VecTables::new(4, 4));
}

/// Point 3: a consumer that takes a few hundred bytes per step receives
/// 1,000 windows of data; the receiver never holds more than the window
/// unconsumed, the sender never more than its high-water mark plus one
/// chunk, and every byte arrives in order.
#[test]
fn slow_consumer_bounds_memory_over_1000_windows() {
    const CREDIT: u32 = 2048;
    const CHUNK: u32 = 512;
    const HIGH_WATER: usize = 1024;
    let total = 1000 * CREDIT as usize;
    let mut p = Pair::new(
        || VecTables::new(4, 4),
        config(CREDIT, CHUNK, HIGH_WATER),
        config(CREDIT, CHUNK, HIGH_WATER),
        256,
    );
    p.handshake();
    let mut rng = Rng(0x5eed);
    let call = p.a.conn.open(p.now, &UPLOAD, None).unwrap();
    let out = Channel::Out(call);
    let data = pattern(total, 9);
    let (mut sent, mut received, mut max_unconsumed, mut max_pending) = (0usize, 0usize, 0, 0);
    let mut queue: Vec<u8> = Vec::new(); // received, not yet consumed
    let mut incoming = None;
    let mut steps = 0;
    while received < total {
        steps += 1;
        assert!(steps < 2_000_000, "stalled at {received} of {total}");
        // Producer: one chunk when allowed (spliced, as a socket driver does).
        if sent < total {
            let n = p.a.conn.send_capacity(out).min(total - sent);
            if n > 0 {
                let first = (sent == 0).then_some(total as u64);
                match p
                    .a
                    .conn
                    .send_chunk_spliced(out, first, n, sent + n == total)
                {
                    Ok(()) => {
                        p.a.splice = data[sent..sent + n].to_vec();
                        sent += n;
                    }
                    Err(SendError::Backpressure | SendError::NoCredit) => {}
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
        max_pending = max_pending.max(p.a.conn.pending_send());
        let w = p.a.write(1 + rng.below(700) as usize);
        p.ab.extend_from_slice(&w);
        // Receiver: through the buffer, or straight into the queue.
        if let Some((ch, n)) = p.b.conn.direct_read() {
            let n = n.min(p.ab.len());
            queue.extend(p.ab.drain(..n));
            p.b.conn.handle_direct(p.now, n);
            assert_eq!(Some(ch), incoming);
        } else if p.b.conn.wants_read() {
            let n = p.b.conn.handle_input(p.now, &p.ab);
            p.ab.drain(..n);
        }
        while let Some(e) = p.b.conn.poll_event() {
            match e {
                Event::Opened { call, .. } => incoming = Some(Channel::In(call)),
                Event::Data { channel, data } => {
                    assert_eq!(Some(channel), incoming);
                    queue.extend_from_slice(data.bytes);
                }
                other => {
                    dump(&p.a.wire);
                    panic!("{other:?}")
                }
            }
        }
        if let Some(ch) = incoming {
            max_unconsumed = max_unconsumed.max(p.b.conn.unconsumed(ch));
            assert!(p.b.conn.unconsumed(ch) <= CREDIT as usize);
            // Counted when a frame's header arrives, delivered as it comes.
            assert!(p.b.conn.unconsumed(ch) >= queue.len());
            // Slow consumer: a few bytes per step.
            let n = (rng.below(300) as usize).min(queue.len());
            assert_eq!(&queue[..n], &data[received..received + n]);
            queue.drain(..n);
            received += n;
            p.b.conn.consumed(ch, n);
        }
        let w = p.b.write(usize::MAX);
        p.ba.extend_from_slice(&w);
        let n = p.a.conn.handle_input(p.now, &p.ba);
        p.ba.drain(..n);
        if let Some(e) = p.a.conn.poll_event() {
            panic!("the sender saw {e:?}");
        }
    }
    assert!(max_unconsumed <= CREDIT as usize, "{max_unconsumed}");
    assert!(
        max_unconsumed > CREDIT as usize / 2,
        "the window was never used: {max_unconsumed}"
    );
    let bound = HIGH_WATER + CHUNK as usize + 64;
    assert!(max_pending <= bound, "sender held {max_pending} > {bound}");
    eprintln!(
        "streamed {total} bytes ({}x the window) in {steps} steps; max unconsumed {max_unconsumed} (window {CREDIT}), max queued at the sender {max_pending} (bound {bound})",
        total / CREDIT as usize
    );
}

/// Two connected sides with `cfg`, a subscribed to b's stream: the pair,
/// a's call, b's channel to stream on, and what b has seen.
fn b_streams_to_a(cfg: Config) -> (Pair<VecTables>, CallId, Channel, Seen) {
    let mut p = Pair::new(|| VecTables::new(8, 4), cfg.clone(), cfg, 4096);
    p.handshake();
    let sub = p.a.conn.open(p.now, &SUBSCRIBE, None).unwrap();
    p.a.conn
        .send_message(Channel::Out(sub), &1u32, true)
        .unwrap();
    p.flush();
    let mut sb = Seen::default();
    drain(&mut p.b.conn, &mut sb);
    let ch = sb.opened[0].0;
    (p, sub, ch, sb)
}

/// Point 4: a small call queued while bulk chunks flow is written after at
/// most one bulk chunk.
#[test]
fn small_calls_wait_behind_at_most_one_bulk_chunk() {
    // b streams to a (a subscribed), a copies and splices mixed; b calls
    // a's `ping` at random moments.
    let (mut p, sub, ch, mut sb) = b_streams_to_a(config(1 << 20, 1024, 4096));
    let mut rng = Rng(42);
    let total = 400 * 1024;
    let data = pattern(total, 3);
    let mut sent = 0;
    // (bytes written by b when the ping was queued, call id)
    let mut queued_at = Vec::new();
    let mut sa = Seen::default();
    let mut steps = 0;
    while sent < total || p.b.conn.pending_send() > 0 {
        steps += 1;
        assert!(steps < 100_000);
        if sent < total {
            let n = p.b.conn.send_capacity(ch).min(total - sent);
            let first = (sent == 0).then_some(total as u64);
            let r = if rng.below(2) == 0 {
                p.b.conn.send_chunk(ch, first, &data[sent..sent + n], false)
            } else {
                let r = p.b.conn.send_chunk_spliced(ch, first, n, false);
                if r.is_ok() {
                    p.b.splice = data[sent..sent + n].to_vec();
                }
                r
            };
            match r {
                Ok(()) => sent += n,
                Err(SendError::Backpressure | SendError::NoCredit) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
        if rng.below(4) == 0 && queued_at.len() < 64 {
            if let Ok(id) = p.b.conn.call(p.now, &PING, &0u8, None) {
                queued_at.push((p.b.wire.len(), id.wire_id()));
            }
        }
        p.relay_b_to_a(1 + rng.below(1500) as usize, &mut sa, &mut sb);
    }
    assert!(queued_at.len() >= 20, "too few calls: {}", queued_at.len());
    assert_eq!(sa.messages[&Channel::Out(sub)], vec![data]);
    // Walk b's byte stream: frame boundaries, chunk frames, the pings.
    let mut frames = Vec::new(); // (start, end, is_chunk, call id of a CALL)
    let mut pos = 0;
    let dec = FrameDecoder::new(u32::MAX);
    while pos < p.b.wire.len() {
        let rest = &p.b.wire[pos..];
        if let Some(h) = parse_data_head(rest).unwrap().filter(|h| {
            h.total_len.is_some() || h.method.is_some() || !h.flags.contains(DataFlags::FIN_MSG)
        }) {
            let end = pos + h.head_len + h.payload_len as usize;
            frames.push((pos, end, true, None));
            pos = end;
            continue;
        }
        match dec.decode(rest).unwrap() {
            Decoded::Frame { frame, len } => {
                let id = match frame {
                    zerowire::frame::Frame::Call { call_id, .. } => Some(call_id),
                    _ => None,
                };
                frames.push((pos, pos + len, false, id));
                pos += len;
            }
            Decoded::Incomplete { .. } => panic!("truncated stream at {pos}"),
        }
    }
    let mut worst = 0;
    let mut search_from = 0;
    for (at, id) in &queued_at {
        let call = frames[search_from..]
            .iter()
            .position(|f| f.3 == Some(*id) && f.0 >= *at)
            .map(|i| i + search_from)
            .expect("the call was written");
        search_from = call + 1;
        let chunks = frames[..call].iter().filter(|f| f.2 && f.1 > *at).count();
        worst = worst.max(chunks);
    }
    assert!(worst <= 1, "a small call waited behind {worst} bulk chunks");
    eprintln!(
        "{} small calls during a {total}-byte stream: at most {worst} bulk chunk ahead of each",
        queued_at.len()
    );
}

#[test]
fn message_too_large_is_refused_before_sending_and_when_forced() {
    let mut small = config(1 << 20, 1024, 2048);
    small.max_message = 10_000;
    let mut p = Pair::new(
        || VecTables::new(4, 4),
        config(1 << 20, 1024, 2048),
        small,
        1024,
    );
    p.handshake();
    let call = p.a.conn.open(p.now, &UPLOAD, None).unwrap();
    let before = p.a.conn.pending_send();
    assert_eq!(
        p.a.conn
            .send_chunk(Channel::Out(call), Some(20_000), &[0; 100], false),
        Err(SendError::MessageTooLarge {
            len: 20_000,
            max: 10_000
        })
    );
    assert_eq!(p.a.conn.pending_send(), before);
    // A peer that ignores the limit: its call is answered with a typed
    // error; the connection stays up.
    let mut raw = [0u8; 64];
    let n = zerowire::frame::encode_data_header(
        &mut raw,
        DataFlags::from_bits(0),
        call.wire_id(),
        Some(0),
        Some(20_000),
        10,
    )
    .unwrap();
    p.ab.extend_from_slice(&p.a.write(usize::MAX));
    p.ab.extend_from_slice(&raw[..n]);
    p.ab.extend_from_slice(&[0; 10]);
    p.flush();
    let mut sb = Seen::default();
    drain(&mut p.b.conn, &mut sb);
    assert!(sb.opened.is_empty());
    p.flush();
    let mut sa = Seen::default();
    drain(&mut p.a.conn, &mut sa);
    assert_eq!(
        sa.failed,
        vec![(call, "MessageTooLarge len=20000 max=10000".to_string())]
    );
    let text = sa.failed[0].1.strip_prefix("MessageTooLarge ").unwrap();
    assert_eq!(ErrorCode::message_too_large(text), Some((20_000, 10_000)));
    assert!(p.a.conn.is_open() && p.b.conn.is_open());
}

#[test]
fn cancelling_a_stream_frees_it_and_late_data_is_ignored() {
    let mut p = Pair::new(
        || VecTables::new(4, 4),
        config(4096, 512, 2048),
        config(4096, 512, 2048),
        512,
    );
    p.handshake();
    let call = p.a.conn.open(p.now, &SUBSCRIBE, None).unwrap();
    p.a.conn
        .send_message(Channel::Out(call), &1u32, true)
        .unwrap();
    p.flush();
    let (mut sa, mut sb) = (Seen::default(), Seen::default());
    drain(&mut p.b.conn, &mut sb);
    let ch = sb.opened[0].0;
    // b sends items; a cancels while they are in flight.
    p.b.conn.send_message(ch, &[1u8; 100], false).unwrap();
    p.b.conn
        .send_chunk(ch, Some(1000), &[2; 500], false)
        .unwrap();
    let w = p.b.write(usize::MAX);
    p.a.conn.cancel(p.now, call);
    assert_eq!(
        p.a.conn.send_message(Channel::Out(call), &2u32, false),
        Err(SendError::Stale)
    );
    p.ba.extend_from_slice(&w);
    p.flush();
    drain(&mut p.a.conn, &mut sa);
    drain(&mut p.b.conn, &mut sb);
    assert_eq!(sb.cancelled, 1);
    assert_eq!(
        p.b.conn.send_message(ch, &3u32, false),
        Err(SendError::Stale)
    );
    p.flush();
    drain(&mut p.a.conn, &mut sa);
    assert!(sa.messages.is_empty(), "late data reached the application");
    assert_eq!(p.a.conn.calls_in_flight(), 0);
    assert_eq!(p.b.conn.serving(), 0);
    assert!(p.a.conn.is_open() && p.b.conn.is_open());
    // The id is free again and the next stream works.
    let again = p.a.conn.open(p.now, &SUBSCRIBE, None).unwrap();
    assert_eq!(again.wire_id(), call.wire_id());
    assert!(matches!(
        p.a.conn.open(p.now, &PING, None),
        Ok(_) | Err(StartError::Busy)
    ));
}

fn dump(wire: &[u8]) {
    let dec = FrameDecoder::new(u32::MAX);
    let mut pos = 0;
    let mut frames = Vec::new();
    while pos < wire.len() {
        let rest = &wire[pos..];
        if let Some(h) = parse_data_head(rest).unwrap() {
            frames.push(format!(
                "{pos}: DATA {:?} id {} m {:?} t {:?} head {} payload {}",
                h.flags, h.call_id, h.method, h.total_len, h.head_len, h.payload_len
            ));
            pos += h.head_len + h.payload_len as usize;
            continue;
        }
        match dec.decode(rest) {
            Ok(Decoded::Frame { frame, len }) => {
                frames.push(format!("{pos}: {frame:?}"));
                pos += len;
            }
            other => {
                frames.push(format!(
                    "{pos}: {other:?} {:?}",
                    &rest[..rest.len().min(16)]
                ));
                break;
            }
        }
    }
    for f in frames.iter().rev().take(6).rev() {
        eprintln!("{f}");
    }
}

/// A call opened with `open` and cancelled before its first message was
/// queued: the peer never saw its id, so no CANCEL goes out (it would never
/// be answered, and the connection would close with `CancelTimeout` — it
/// did before the fix); the slot is free at once and the connection stays
/// open past the cancel timeout.
#[test]
fn cancelling_an_opened_call_before_its_first_message_frees_it_locally() {
    let mut p = Pair::new(
        || VecTables::new(1, 4),
        config(4096, 512, 2048),
        config(4096, 512, 2048),
        512,
    );
    p.handshake();
    p.flush();
    assert!(p.a.conn.transmit().is_empty());
    let call = p.a.conn.open(p.now, &UPLOAD, None).unwrap();
    assert_eq!(p.a.conn.calls_in_flight(), 1);
    p.a.conn.cancel(p.now, call);
    assert_eq!(p.a.conn.calls_in_flight(), 0);
    assert_eq!(
        p.a.conn.send_message(Channel::Out(call), &1u32, false),
        Err(SendError::Stale)
    );
    // Long after the cancel timeout the connection is still open, and the
    // one call slot serves a new call.
    p.now = p.now + p.a.conn.config().cancel_timeout * 3;
    p.a.conn.handle_timeout(p.now);
    p.b.conn.handle_timeout(p.now);
    p.flush();
    assert!(p.a.conn.is_open() && p.b.conn.is_open());
    // The callee saw nothing of it (the method's declaration at most).
    let mut sb = Seen::default();
    drain(&mut p.b.conn, &mut sb);
    assert!(sb.opened.is_empty() && sb.cancelled == 0 && sb.calls.is_empty());
    let again = p.a.conn.open(p.now, &UPLOAD, None).unwrap();
    p.a.conn
        .send_message(Channel::Out(again), &7u32, true)
        .unwrap();
    p.flush();
    drain(&mut p.b.conn, &mut sb);
    assert_eq!(sb.opened.len(), 1);
}

/// While the peer's small calls arrive beside a transfer, the receiver
/// narrows the transfer's window to a quarter of `initial_credit` (for
/// about 10 ms after the last one), so fewer of its bytes can queue ahead
/// of the next call; alone, the transfer gets the whole window back. b
/// streams 256 KiB to a with a 4 KiB window; a consumes at once.
#[test]
fn calls_beside_a_transfer_narrow_its_window_for_a_while() {
    const WINDOW: usize = 4096;
    let (mut p, sub, ch, mut sb) = b_streams_to_a(config(WINDOW as u32, 1 << 20, 1 << 16));
    let total = 256 * 1024;
    let data = pattern(total, 9);
    let mut sent = 0;
    let mut sa = Seen::default();
    // The most credit b had in each phase: (alone, beside calls once the
    // window had narrowed, alone again).
    let mut most = [0usize; 3];
    let mut narrowed = false;
    let mut steps = 0;
    while sent < total {
        steps += 1;
        assert!(steps < 100_000, "stalled at {sent} of {total} bytes");
        // 1 ms per step; b calls a every step from 64 KiB to 128 KiB.
        p.now = p.now.saturating_add(std::time::Duration::from_millis(1));
        let phase = match sent {
            s if s < 64 * 1024 => 0,
            s if s < 128 * 1024 => 1,
            _ => 2,
        };
        if phase == 1 {
            let _ = p.b.conn.call(p.now, &PING, &0u8, None);
        }
        let credit = p.b.conn.send_capacity(ch);
        // Beside calls: once b's credit from before the calls is used up,
        // it never again exceeds the narrow window.
        if phase == 1 {
            narrowed |= credit <= WINDOW / 4;
        }
        if phase != 1 || narrowed {
            most[phase] = most[phase].max(credit);
        }
        let n = credit.min(total - sent);
        if n > 0 {
            let first = (sent == 0).then_some(total as u64);
            p.b.conn
                .send_chunk(ch, first, &data[sent..sent + n], false)
                .unwrap();
            sent += n;
        }
        p.relay_b_to_a(usize::MAX, &mut sa, &mut sb);
    }
    assert!(narrowed, "the window never narrowed beside the calls");
    eprintln!(
        "most credit: alone {}, beside calls {}, alone again {}",
        most[0], most[1], most[2]
    );
    assert_eq!(most[0], WINDOW, "alone, the whole window");
    assert!(
        most[1] <= WINDOW / 4,
        "beside calls: {} of {WINDOW}",
        most[1]
    );
    assert_eq!(most[2], WINDOW, "alone again, the whole window");
    assert_eq!(sa.messages[&Channel::Out(sub)], vec![data]);
}
