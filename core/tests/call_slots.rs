//! Where the peer's calls live in the call table. A call whose id comes
//! from the peer's slot `i` (`2 * (i + 1) + parity`, as this crate numbers
//! calls) takes in slot `i` when it can, so its id is found without a scan;
//! any other id ("displaced") must work the same: duplicate ids are still
//! caught, CANCEL and replies still find their call, the `max_calls` limit
//! still holds.

use zerocopy::little_endian::U64;
use zerowire::frame::{encode_call, encode_hello, Frame, Hello, MAGIC, PROTOCOL_VERSION};
use zerowire::proto::{
    ArrayTables, CloseReason, Config, Connection, Event, IncomingCall, Instant, MethodDesc, Role,
};

const ADD3: MethodDesc = MethodDesc::new("Calc", "add3", 1);
static SERVED: [MethodDesc; 1] = [ADD3];

type Conn = Connection<'static, [u8; 512], [u8; 2048], ArrayTables<4, 4>>;

fn connection() -> Conn {
    let config = Config {
        max_calls: 4,
        max_frame: 256,
        ..Config::default()
    };
    Connection::new(
        config,
        Role::Acceptor,
        &SERVED,
        [0; 512],
        [0; 2048],
        ArrayTables::new(),
        Instant::ZERO,
    )
}

fn frame(f: Frame<'_>) -> Vec<u8> {
    let mut out = vec![0u8; 64];
    let n = f.encode(&mut out).unwrap();
    out.truncate(n);
    out
}

/// The initiator's HELLO and its declaration of add3 as index 0.
fn opening() -> Vec<u8> {
    let mut out = vec![0u8; 256];
    let n = encode_hello(
        &mut out,
        &Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            flags: 1,
            max_calls: 64,
            max_frame: 256,
            max_message: 4096,
            initial_credit: 1024,
            service_fp: 0,
            n_methods: 0,
            build: "slots",
        },
    )
    .unwrap();
    let mut bytes = out[..n].to_vec();
    bytes.extend(frame(Frame::MethodTable {
        first_index: 0,
        fingerprints: &[U64::new(ADD3.id), U64::new(ADD3.fingerprint)],
    }));
    bytes
}

fn call(id: u64) -> Vec<u8> {
    let mut out = vec![0u8; 64];
    let n = encode_call(&mut out, 0, id, &(1u32, 2u32, 3u32)).unwrap();
    out.truncate(n);
    out
}

/// Feeds `bytes` and collects the events: the calls that started, the
/// calls cancelled, and the close reason if the connection closed.
#[derive(Debug, Default)]
struct Seen {
    calls: Vec<IncomingCall>,
    cancelled: Vec<u64>,
    closed: Option<CloseReason>,
}

fn feed(conn: &mut Conn, bytes: &[u8]) -> Seen {
    let mut seen = Seen::default();
    let mut rest = bytes;
    loop {
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Call { call, .. } => seen.calls.push(call),
                Event::Cancelled(call) => seen.cancelled.push(call.wire_id()),
                Event::Closed(r) => seen.closed = Some(r),
                _ => {}
            }
        }
        if rest.is_empty() || !conn.wants_read() {
            return seen;
        }
        let n = conn.handle_input(Instant::ZERO, rest);
        rest = &rest[n..];
    }
}

fn ids(calls: &[IncomingCall]) -> Vec<u64> {
    calls.iter().map(IncomingCall::wire_id).collect()
}

#[test]
fn home_and_displaced_ids_are_served_replied_and_cancelled() {
    let mut conn = connection();
    assert!(feed(&mut conn, &opening()).closed.is_none());
    // 2 and 4: home slots 0 and 1. 1000 and 12: no home slot below 4.
    let mut bytes = Vec::new();
    for id in [2, 1000, 4, 12] {
        bytes.extend(call(id));
    }
    let seen = feed(&mut conn, &bytes);
    assert_eq!(ids(&seen.calls), [2, 1000, 4, 12]);
    assert_eq!(conn.serving(), 4);
    // A fifth call is refused (Overloaded), not served, and breaks nothing.
    let seen5 = feed(&mut conn, &call(6));
    assert!(seen5.calls.is_empty() && seen5.closed.is_none());
    assert_eq!(conn.serving(), 4);
    // Replies find every call, home or displaced.
    let by_id = |id: u64| *seen.calls.iter().find(|c| c.wire_id() == id).unwrap();
    conn.reply(by_id(1000), &7u32).unwrap();
    conn.reply(by_id(2), &6u32).unwrap();
    assert_eq!(conn.serving(), 2);
    // CANCEL finds a displaced call.
    let seen = feed(&mut conn, &frame(Frame::Cancel { call_id: 12 }));
    assert_eq!(seen.cancelled, [12]);
    assert_eq!(conn.serving(), 1);
    // Freed ids run again; 6 now takes a free slot other than its home
    // (slot 2 is free, but so is 0: either way it is found).
    let seen = feed(&mut conn, &[call(1000), call(6), call(12)].concat());
    assert_eq!(ids(&seen.calls), [1000, 6, 12]);
    assert!(seen.closed.is_none());
    // Each of them is still caught as a duplicate while it runs.
    let seen = feed(&mut conn, &call(6));
    assert_eq!(seen.closed, Some(CloseReason::ProtocolViolation));
}

#[test]
fn a_displaced_duplicate_is_a_protocol_violation() {
    let mut conn = connection();
    feed(&mut conn, &opening());
    // 2 takes home slot 0; 1002 has no home; then 1002 again.
    let seen = feed(&mut conn, &[call(2), call(1002), call(1002)].concat());
    assert_eq!(ids(&seen.calls), [2, 1002]);
    assert_eq!(seen.closed, Some(CloseReason::ProtocolViolation));
}

#[test]
fn a_home_duplicate_is_a_protocol_violation_while_calls_are_displaced() {
    let mut conn = connection();
    feed(&mut conn, &opening());
    let seen = feed(&mut conn, &[call(1002), call(4), call(4)].concat());
    assert_eq!(ids(&seen.calls), [1002, 4]);
    assert_eq!(seen.closed, Some(CloseReason::ProtocolViolation));
}

#[test]
fn an_id_whose_home_is_taken_by_a_displaced_call_is_served() {
    let mut conn = connection();
    feed(&mut conn, &opening());
    // 1000 takes slot 0 (the first free), the home of id 2; 2 then takes
    // another slot, and both are found for their replies.
    let seen = feed(&mut conn, &[call(1000), call(2)].concat());
    assert_eq!(ids(&seen.calls), [1000, 2]);
    for c in &seen.calls {
        conn.reply(*c, &1u32).unwrap();
    }
    assert_eq!(conn.serving(), 0);
    // With nothing displaced any more, 2 is looked up in its home alone.
    let seen = feed(&mut conn, &[call(2), call(2)].concat());
    assert_eq!(ids(&seen.calls), [2]);
    assert_eq!(seen.closed, Some(CloseReason::ProtocolViolation));
}
