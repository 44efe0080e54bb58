//! Hostile bytes against the protocol state machine: after a valid HELLO (or
//! none), random and mutated frame streams are fed in random chunks while
//! calls are answered and time passes. Nothing may panic, buffers and tables
//! stay within their bounds, and a connection that closes reports `Closed`
//! exactly once and then stays quiet.

use std::time::Duration;

use zerocopy::little_endian::U64;
use zerowire::frame::{encode_call, encode_hello, Frame, Hello, MAGIC, PROTOCOL_VERSION};
use zerowire::proto::{
    ArrayTables, Config, Connection, ErrorCode, Event, Instant, MethodDesc, Role,
};
use zerowire::Wire;

const ADD3: MethodDesc = MethodDesc::new("Calc", "add3", 1);
const DIV: MethodDesc = MethodDesc::new("Calc", "div", 2);
static SERVED: [MethodDesc; 2] = [ADD3, DIV];

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
}

/// A valid opening from an initiator: HELLO, a declaration of add3, calls.
fn valid_prefix(rng: &mut Rng) -> Vec<u8> {
    let mut out = vec![0u8; 512];
    let mut n = encode_hello(
        &mut out,
        &Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            flags: 1,
            max_calls: 8,
            max_frame: 512,
            max_message: 0,
            initial_credit: 512,
            service_fp: 0,
            n_methods: 0,
            build: "fuzz",
        },
    )
    .unwrap();
    let entry = [U64::new(ADD3.id), U64::new(ADD3.fingerprint)];
    n += Frame::MethodTable {
        first_index: 0,
        fingerprints: &entry,
    }
    .encode(&mut out[n..])
    .unwrap();
    for i in 0..rng.below(6) {
        n += encode_call(&mut out[n..], 0, 2 + 2 * i as u64, &(1u32, 2u32, 3u32)).unwrap();
    }
    out.truncate(n);
    out
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

fn run_one(rng: &mut Rng, input: &[u8]) -> (bool, bool) {
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
    let mut rest = input;
    let mut closed_events = 0;
    let mut calls = 0;
    for _ in 0..200 {
        if !rest.is_empty() && conn.wants_read() {
            let take = (1 + rng.below(64)).min(rest.len());
            let n = conn.handle_input(now, &rest[..take]);
            rest = &rest[n..];
        }
        let mut answer = Vec::new();
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Call { call, body, .. } => {
                    calls += 1;
                    let ok = <(u32, u32, u32)>::decode(body).ok();
                    answer.push((call, ok));
                }
                Event::Closed(_) => closed_events += 1,
                _ => {}
            }
        }
        for (call, args) in answer {
            let _ = match args {
                Some((a, b, c)) => conn.reply(call, &a.wrapping_add(b).wrapping_add(c)),
                None => conn.reply_error(call, ErrorCode::BadRequest, "bad arguments"),
            };
        }
        assert!(conn.serving() <= 4, "served more calls than max_calls");
        assert!(conn.pending_send() <= 1024);
        let out = conn.poll_transmit().len();
        conn.advance_transmit(out);
        if rng.below(8) == 0 {
            now = now.saturating_add(Duration::from_secs(rng.below(20) as u64));
            conn.handle_timeout(now);
        }
        if rest.is_empty() && conn.poll_transmit().is_empty() && rng.below(4) == 0 {
            break;
        }
    }
    while conn.poll_event().is_some() {}
    assert!(closed_events <= 1, "Closed reported {closed_events} times");
    if conn.is_closed() {
        assert!(conn.poll_event().is_none());
        assert_eq!(conn.serving(), 0);
    }
    (conn.is_closed(), calls > 0)
}

#[test]
fn hostile_streams_never_break_the_state_machine() {
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let (mut closed, mut served, mut total) = (0, 0, 0);
    for round in 0..20_000 {
        let mut input = if round % 4 == 0 {
            (0..rng.below(300)).map(|_| rng.next() as u8).collect()
        } else {
            valid_prefix(&mut rng)
        };
        if round % 4 != 1 {
            mutate(&mut rng, &mut input);
        }
        let (c, s) = run_one(&mut rng, &input);
        closed += c as usize;
        served += s as usize;
        total += 1;
    }
    println!("{total} streams: {closed} closed the connection, {served} had calls served");
    // Unmutated valid openings are served; garbage closes the connection.
    assert!(
        served > total / 4,
        "too few streams served: {served} of {total}"
    );
    assert!(
        closed > total / 10,
        "too few streams rejected: {closed} of {total}"
    );
}
