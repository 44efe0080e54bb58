//! Two protocol state machines driven through in-memory queues with a
//! simulated clock: no sockets, no sleeps. Every scenario runs twice, with
//! array storage (no heap) and with heap-backed storage.

use std::time::Duration;

use zerowire::proto::{
    ArrayTables, CallId, CloseReason, Config, Connection, ErrorCode, Event, Failure, IncomingCall,
    Instant, MethodDesc, Role, StartError, Tables, VecTables,
};
use zerowire::Wire;

#[derive(Wire, Debug, Clone, Copy, PartialEq)]
struct Add3 {
    a: u32,
    b: u32,
    c: u32,
}

const ADD3: MethodDesc = MethodDesc::new("Calc", "add3", 0xadd3);
const DIV: MethodDesc = MethodDesc::new("Calc", "div", 0xd1f);
const PING: MethodDesc = MethodDesc::new("Device", "ping", 0x1);
/// The same method with another signature fingerprint.
const DIV_V2: MethodDesc = MethodDesc::new("Calc", "div", 0xd1f2);
const LOG: MethodDesc = MethodDesc::new("Calc", "log", 0x106);
const MISSING: MethodDesc = MethodDesc::new("Calc", "missing", 0x0);

static CALC: [MethodDesc; 3] = [ADD3, DIV, LOG];
static DEVICE: [MethodDesc; 1] = [PING];

type Conn<T> = Connection<'static, Vec<u8>, Vec<u8>, T>;

/// A recorded event, owned.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Connected(String),
    Call(IncomingCall, u16, Vec<u8>),
    Note(u16, Vec<u8>),
    Cancelled(IncomingCall),
    Reply(CallId, Vec<u8>),
    Failed(CallId, String),
    Closed(CloseReason),
}

fn own(e: Event<'_>) -> Ev {
    match e {
        Event::Connected(p) => Ev::Connected(p.build.into()),
        Event::Call { call, method, body } => Ev::Call(call, method, body.to_vec()),
        Event::Notification { method, body } => Ev::Note(method, body.to_vec()),
        Event::Cancelled(c) => Ev::Cancelled(c),
        Event::Reply { call, body } => Ev::Reply(call, body.to_vec()),
        Event::Failed { call, failure } => Ev::Failed(call, failure_text(failure)),
        Event::Closed(r) => Ev::Closed(r),
        other => panic!("unexpected {other:?}"),
    }
}

fn failure_text(f: Failure<'_>) -> String {
    match f {
        Failure::Remote { code, message } => format!("remote {code:?} {message}"),
        Failure::DeadlineExceeded => "deadline".into(),
        Failure::Disconnected(r) => format!("disconnected {r:?}"),
        other => format!("{other:?}"),
    }
}

/// Two connected state machines, a link per direction and a clock.
struct Pair<T: Tables> {
    a: Conn<T>,
    b: Conn<T>,
    now: Instant,
    /// Bytes in flight from a to b and from b to a.
    ab: Vec<u8>,
    ba: Vec<u8>,
    /// When false, that direction's bytes are dropped (a silent peer).
    ab_up: bool,
    ba_up: bool,
    /// When true, a's bytes wait in the link instead of reaching b.
    ab_hold: bool,
    a_events: Vec<Ev>,
    b_events: Vec<Ev>,
    /// Write calls made by each side (one per `drive` step with bytes).
    a_writes: usize,
}

fn config() -> Config {
    Config {
        max_calls: 4,
        max_frame: 1024,
        handshake_timeout: Duration::from_secs(5),
        keepalive_interval: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(30),
        default_deadline: None,
        cancel_timeout: Duration::from_secs(3),
        send_high_water: 2048,
        max_message: 1 << 20,
        initial_credit: 4096,
        max_chunk: 1024,
        build: "test",
    }
}

impl<T: Tables> Pair<T> {
    fn new(tables: impl Fn() -> T, a_cfg: Config, b_cfg: Config) -> Self {
        let now = Instant::from_micros(1_000_000);
        // a (the "desktop") serves Device-side callbacks? No: a serves DEVICE,
        // b serves CALC; each calls the other.
        let a = Connection::new(
            a_cfg,
            Role::Initiator,
            &DEVICE,
            vec![0; 4096],
            vec![0; 8192],
            tables(),
            now,
        );
        let b = Connection::new(
            b_cfg,
            Role::Acceptor,
            &CALC,
            vec![0; 4096],
            vec![0; 8192],
            tables(),
            now,
        );
        Self {
            a,
            b,
            now,
            ab: Vec::new(),
            ba: Vec::new(),
            ab_up: true,
            ba_up: true,
            ab_hold: false,
            a_events: Vec::new(),
            b_events: Vec::new(),
            a_writes: 0,
        }
    }

    /// Moves bytes and events until nothing changes (bounded).
    fn drive(&mut self) {
        for _ in 0..100 {
            let mut progress = false;
            let out = self.a.poll_transmit().to_vec();
            if !out.is_empty() {
                self.a.advance_transmit(out.len());
                self.a_writes += 1;
                if self.ab_up {
                    self.ab.extend_from_slice(&out);
                }
                progress = true;
            }
            let out = self.b.poll_transmit().to_vec();
            if !out.is_empty() {
                self.b.advance_transmit(out.len());
                if self.ba_up {
                    self.ba.extend_from_slice(&out);
                }
                progress = true;
            }
            if !self.ab.is_empty() && !self.ab_hold && self.b.wants_read() {
                let n = self.b.handle_input(self.now, &self.ab);
                self.ab.drain(..n);
                progress |= n > 0;
            }
            if !self.ba.is_empty() && self.a.wants_read() {
                let n = self.a.handle_input(self.now, &self.ba);
                self.ba.drain(..n);
                progress |= n > 0;
            }
            while let Some(e) = self.a.poll_event() {
                self.a_events.push(own(e));
                progress = true;
            }
            while let Some(e) = self.b.poll_event() {
                self.b_events.push(own(e));
                progress = true;
            }
            if !progress {
                return;
            }
        }
        panic!("livelock: the pair did not settle in 100 steps");
    }

    /// Advances the clock to `t` (firing timers of both sides) and drives.
    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        loop {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|t| *t <= end)
                .min();
            match next {
                Some(t) => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                    self.drive();
                    if self.a.poll_timeout().is_some_and(|n| n <= self.now)
                        && self.b.poll_timeout().is_some_and(|n| n <= self.now)
                    {
                        // Timers that do not move forward would loop.
                        self.now = self.now + Duration::from_micros(1);
                    }
                }
                None => {
                    self.now = end;
                    self.drive();
                    return;
                }
            }
        }
    }

    fn b_calls(&mut self) -> Vec<(IncomingCall, u16, Vec<u8>)> {
        let mut out = Vec::new();
        self.b_events.retain(|e| match e {
            Ev::Call(c, m, body) => {
                out.push((*c, *m, body.clone()));
                false
            }
            _ => true,
        });
        out
    }
}

fn connected<T: Tables>(tables: impl Fn() -> T) -> Pair<T> {
    let mut p = Pair::new(tables, config(), config());
    p.drive();
    assert_eq!(p.a_events, vec![Ev::Connected("test".into())]);
    assert_eq!(p.b_events, vec![Ev::Connected("test".into())]);
    p.a_events.clear();
    p.b_events.clear();
    assert!(p.a.is_open() && p.b.is_open());
    p
}

fn arrays() -> ArrayTables<8, 8> {
    ArrayTables::new()
}

fn vecs() -> VecTables {
    VecTables::new(8, 8)
}

/// Runs a scenario with both storages.
macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[test]
            fn array_storage() {
                super::$body(super::arrays);
            }
            #[test]
            fn heap_storage() {
                super::$body(super::vecs);
            }
        }
    };
}

fn args(a: u32, b: u32, c: u32) -> Add3 {
    Add3 { a, b, c }
}

fn scenario_call_and_reply<T: Tables>(tables: fn() -> T) {
    let mut p = connected(tables);
    let now = p.now;
    let c1 = p.a.call(now, &ADD3, &args(1, 2, 3), None).unwrap();
    let c2 = p.a.call(now, &ADD3, &args(4, 5, 6), None).unwrap();
    // Initiator ids are even, starting at 2.
    assert_eq!((c1.wire_id(), c2.wire_id()), (2, 4));
    p.drive();
    let calls = p.b_calls();
    assert_eq!(calls.len(), 2);
    // Reply out of order.
    for (call, method, body) in calls.iter().rev() {
        assert_eq!(*method, 0, "add3 is served method 0");
        let v = Add3::decode_view(body).unwrap();
        p.b.reply(*call, &(v.a() + v.b() + v.c())).unwrap();
    }
    p.drive();
    assert_eq!(
        p.a_events,
        vec![
            Ev::Reply(c2, 15u32.encode_to_vec()),
            Ev::Reply(c1, 6u32.encode_to_vec())
        ]
    );
    assert_eq!(p.a.calls_in_flight(), 0);
    assert_eq!(p.b.serving(), 0);
}
both!(call_and_reply, scenario_call_and_reply);

fn scenario_both_ends_call<T: Tables>(tables: fn() -> T) {
    let mut p = connected(tables);
    let now = p.now;
    let from_a = p.a.call(now, &ADD3, &args(1, 1, 1), None).unwrap();
    let from_b = p.b.call(now, &PING, &7u8, None).unwrap();
    assert_eq!(from_a.wire_id() % 2, 0);
    assert_eq!(from_b.wire_id() % 2, 1, "acceptor ids are odd");
    p.drive();
    let a_call = p.a_events.iter().find_map(|e| match e {
        Ev::Call(c, 0, body) if body == &[7] => Some(*c),
        _ => None,
    });
    p.a.reply(a_call.expect("a serves ping"), &8u8).unwrap();
    let (b_call, _, _) = p.b_calls()[0].clone();
    p.b.reply(b_call, &3u32).unwrap();
    p.drive();
    assert!(p
        .a_events
        .contains(&Ev::Reply(from_a, 3u32.encode_to_vec())));
    assert!(p.b_events.contains(&Ev::Reply(from_b, vec![8])));
}
both!(both_ends_call, scenario_both_ends_call);

fn scenario_schema_mismatch_is_per_method<T: Tables>(tables: fn() -> T) {
    let mut p = connected(tables);
    let now = p.now;
    let bad = p.a.call(now, &DIV_V2, &(7i32, 2i32).0, None).unwrap();
    let unknown = p.a.call(now, &MISSING, &0u8, None).unwrap();
    let good = p.a.call(now, &ADD3, &args(1, 2, 3), None).unwrap();
    p.drive();
    let calls = p.b_calls();
    assert_eq!(calls.len(), 1, "only the matching method reaches a handler");
    p.b.reply(calls[0].0, &6u32).unwrap();
    p.drive();
    assert!(
        p.a_events
            .contains(&Ev::Failed(bad, "remote SchemaMismatch div".into())),
        "{:?}",
        p.a_events
    );
    assert!(p
        .a_events
        .contains(&Ev::Failed(unknown, "remote UnknownMethod ".into())));
    assert!(p.a_events.contains(&Ev::Reply(good, 6u32.encode_to_vec())));
    // The connection keeps working after both failures.
    let again = p.a.call(p.now, &ADD3, &args(0, 0, 1), None).unwrap();
    p.drive();
    let (c, _, _) = p.b_calls()[0].clone();
    p.b.reply(c, &1u32).unwrap();
    p.drive();
    assert!(p.a_events.contains(&Ev::Reply(again, 1u32.encode_to_vec())));
}
both!(
    schema_mismatch_is_per_method,
    scenario_schema_mismatch_is_per_method
);

fn scenario_notifications_in_order<T: Tables>(tables: fn() -> T) {
    let mut p = connected(tables);
    for i in 0..20u32 {
        p.a.notify(&LOG, &i).unwrap();
        if i % 7 == 0 {
            p.drive();
        }
    }
    p.drive();
    let seen: Vec<u32> = p
        .b_events
        .iter()
        .map(|e| match e {
            Ev::Note(2, body) => u32::decode(body).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());
}
both!(notifications_in_order, scenario_notifications_in_order);

fn scenario_cancel_frees_id_only_on_final_frame<T: Tables>(tables: fn() -> T) {
    let mut p = connected(tables);
    let c1 = p.a.call(p.now, &ADD3, &args(1, 2, 3), None).unwrap();
    p.drive();
    let (in1, _, _) = p.b_calls()[0].clone();
    p.a.cancel(p.now, c1);
    // Before the callee's final frame arrives, the id stays reserved.
    let c2 = p.a.call(p.now, &ADD3, &args(2, 2, 2), None).unwrap();
    assert_ne!(c1.wire_id(), c2.wire_id());
    p.drive();
    assert!(p.b_events.contains(&Ev::Cancelled(in1)), "{:?}", p.b_events);
    // The handler finishes late: its reply is dropped, not sent.
    assert_eq!(
        p.b.reply(in1, &6u32),
        Err(zerowire::proto::ReplyError::Stale)
    );
    let (in2, _, _) = p.b_calls()[0].clone();
    p.b.reply(in2, &6u32).unwrap();
    p.drive();
    // No event for the cancelled call; the other call gets its own result.
    assert_eq!(p.a_events, vec![Ev::Reply(c2, 6u32.encode_to_vec())]);
    // The final frame freed id 2: the next call reuses it.
    let c3 = p.a.call(p.now, &ADD3, &args(0, 0, 0), None).unwrap();
    assert_eq!(c3.wire_id(), c1.wire_id());
    assert_ne!(c3, c1, "a reused id is a new call");
}
both!(
    cancel_frees_id_only_on_final_frame,
    scenario_cancel_frees_id_only_on_final_frame
);

fn scenario_late_reply_after_deadline_reaches_no_other_call<T: Tables>(tables: fn() -> T) {
    let mut p = connected(tables);
    let deadline = p.now + Duration::from_secs(1);
    let c1 =
        p.a.call(p.now, &ADD3, &args(1, 1, 1), Some(deadline))
            .unwrap();
    p.drive();
    let (in1, _, _) = p.b_calls()[0].clone();
    // The callee answers late, after the deadline but before it sees CANCEL.
    p.ab_hold = true;
    p.advance(Duration::from_secs(2));
    assert_eq!(p.a_events, vec![Ev::Failed(c1, "deadline".into())]);
    p.a_events.clear();
    // The caller starts another call while id 2 is still reserved.
    let c2 = p.a.call(p.now, &ADD3, &args(5, 5, 5), None).unwrap();
    assert_ne!(c2.wire_id(), c1.wire_id());
    p.b.reply(in1, &3u32).unwrap(); // the late reply, queued before the CANCEL is read
    p.ab_hold = false;
    p.drive();
    let (in2, _, _) = p.b_calls()[0].clone();
    p.b.reply(in2, &15u32).unwrap();
    p.drive();
    assert_eq!(
        p.a_events,
        vec![Ev::Reply(c2, 15u32.encode_to_vec())],
        "the late 3 reached nobody"
    );
    assert_eq!(p.a.calls_in_flight(), 0);
    assert!(p.a.is_open() && p.b.is_open());
}
both!(
    late_reply_after_deadline_reaches_no_other_call,
    scenario_late_reply_after_deadline_reaches_no_other_call
);

fn scenario_default_deadline_never_hangs<T: Tables>(tables: fn() -> T) {
    let mut cfg = config();
    cfg.default_deadline = Some(Duration::from_millis(500));
    let mut p = Pair::new(tables, cfg, config());
    p.drive();
    let c = p.a.call(p.now, &ADD3, &args(1, 1, 1), None).unwrap();
    p.advance(Duration::from_secs(1));
    assert!(p.a_events.contains(&Ev::Failed(c, "deadline".into())));
    // b answered the CANCEL with a final frame: the id is free again.
    assert_eq!(p.a.calls_in_flight(), 0);
    assert!(p.a.is_open());
}
both!(
    default_deadline_never_hangs,
    scenario_default_deadline_never_hangs
);

fn scenario_unanswered_cancel_closes<T: Tables>(tables: fn() -> T) {
    let mut p = connected(tables);
    let c =
        p.a.call(
            p.now,
            &ADD3,
            &args(1, 1, 1),
            Some(p.now + Duration::from_secs(1)),
        )
        .unwrap();
    p.drive();
    // The callee stops talking but the link stays "up" for keepalive: its
    // PONGs flow, only its final frame never comes.
    p.ba_up = false;
    p.advance(Duration::from_secs(1) + Duration::from_secs(3));
    assert_eq!(p.a.close_reason(), Some(CloseReason::CancelTimeout));
    assert!(p.a_events.contains(&Ev::Failed(c, "deadline".into())));
    assert!(p.a_events.contains(&Ev::Closed(CloseReason::CancelTimeout)));
}
both!(unanswered_cancel_closes, scenario_unanswered_cancel_closes);

fn scenario_keepalive_and_idle<T: Tables>(tables: fn() -> T) {
    let mut p = connected(tables);
    // Quiet but healthy: PINGs and PONGs keep both open for minutes.
    p.advance(Duration::from_secs(120));
    assert!(
        p.a.is_open() && p.b.is_open(),
        "{:?} {:?}",
        p.a_events,
        p.b_events
    );
    // The acceptor goes silent: the initiator closes after the idle timeout.
    p.ba_up = false;
    p.advance(Duration::from_secs(31));
    assert_eq!(p.a.close_reason(), Some(CloseReason::IdleTimeout));
}
both!(keepalive_and_idle, scenario_keepalive_and_idle);

fn scenario_handshake_timeout<T: Tables>(tables: fn() -> T) {
    let mut p = Pair::new(tables, config(), config());
    p.ba_up = false; // the acceptor's HELLO never arrives
    p.drive();
    let c = p.a.call(p.now, &ADD3, &args(1, 1, 1), None).unwrap(); // pipelined before HELLO
    p.advance(Duration::from_secs(6));
    assert_eq!(p.a.close_reason(), Some(CloseReason::HandshakeTimeout));
    assert!(p
        .a_events
        .contains(&Ev::Failed(c, "disconnected HandshakeTimeout".into())));
}
both!(handshake_timeout, scenario_handshake_timeout);

fn scenario_peer_max_calls<T: Tables>(tables: fn() -> T) {
    let mut b_cfg = config();
    b_cfg.max_calls = 2;
    let mut p = Pair::new(tables, config(), b_cfg);
    p.drive();
    p.a.call(p.now, &ADD3, &args(1, 1, 1), None).unwrap();
    p.a.call(p.now, &ADD3, &args(1, 1, 1), None).unwrap();
    assert_eq!(
        p.a.call(p.now, &ADD3, &args(1, 1, 1), None),
        Err(StartError::Busy)
    );
    p.drive();
    let calls = p.b_calls();
    p.b.reply(calls[0].0, &3u32).unwrap();
    p.drive();
    assert!(
        p.a.call(p.now, &ADD3, &args(1, 1, 1), None).is_ok(),
        "a slot freed up"
    );
}
both!(peer_max_calls, scenario_peer_max_calls);

fn scenario_backpressure<T: Tables>(tables: fn() -> T) {
    let mut p = connected(tables);
    // The driver does not write: the send buffer fills past its high-water mark.
    let big = vec![7u8; 600];
    let mut started = 0;
    loop {
        match p.a.notify(&PING, &big.as_slice()) {
            Ok(()) => started += 1,
            Err(StartError::Backpressure) => break,
            Err(e) => panic!("{e:?}"),
        }
        assert!(started < 100);
    }
    assert!(p.a.pending_send() > config().send_high_water);
    assert!(
        !p.a.wants_read(),
        "above the mark the connection stops reading"
    );
    assert_eq!(
        p.a.call(p.now, &ADD3, &args(1, 1, 1), None),
        Err(StartError::Backpressure)
    );
    p.drive();
    assert!(p.a.wants_read());
    assert!(p.a.call(p.now, &ADD3, &args(1, 1, 1), None).is_ok());
}
both!(backpressure, scenario_backpressure);

fn scenario_graceful_close_finishes_calls<T: Tables>(tables: fn() -> T) {
    let mut p = connected(tables);
    let c = p.a.call(p.now, &ADD3, &args(1, 2, 3), None).unwrap();
    p.drive();
    p.a.close();
    assert_eq!(
        p.a.call(p.now, &ADD3, &args(1, 1, 1), None),
        Err(StartError::Closed)
    );
    p.drive();
    assert!(!p.b.is_closed(), "b still serves the call in flight");
    assert_eq!(p.b.call(p.now, &PING, &1u8, None), Err(StartError::Closed));
    let (in1, _, _) = p.b_calls()[0].clone();
    p.b.reply(in1, &6u32).unwrap();
    p.drive();
    assert!(p.a_events.contains(&Ev::Reply(c, 6u32.encode_to_vec())));
    assert_eq!(p.a.close_reason(), Some(CloseReason::Graceful));
    assert_eq!(p.b.close_reason(), Some(CloseReason::Graceful));
}
both!(
    graceful_close_finishes_calls,
    scenario_graceful_close_finishes_calls
);

fn scenario_disconnect_fails_all_pending<T: Tables>(tables: fn() -> T) {
    let mut p = connected(tables);
    let calls: Vec<CallId> = (0..4)
        .map(|i| p.a.call(p.now, &ADD3, &args(i, 0, 0), None).unwrap())
        .collect();
    p.drive();
    p.a.handle_eof();
    p.drive();
    let failed: Vec<&Ev> = p
        .a_events
        .iter()
        .filter(|e| matches!(e, Ev::Failed(..)))
        .collect();
    assert_eq!(failed.len(), 4);
    for c in calls {
        assert!(p
            .a_events
            .contains(&Ev::Failed(c, "disconnected TransportClosed".into())));
    }
    assert_eq!(
        p.a_events.last(),
        Some(&Ev::Closed(CloseReason::TransportClosed))
    );
}
both!(
    disconnect_fails_all_pending,
    scenario_disconnect_fails_all_pending
);

fn scenario_framing_error_tells_peer<T: Tables>(tables: fn() -> T) {
    let mut p = connected(tables);
    let c = p.b.call(p.now, &PING, &1u8, None).unwrap();
    // Garbage reaches a: a reserved frame type.
    p.ab.clear();
    assert_eq!(p.a.handle_input(p.now, &[0xE7, 0x00]), 2);
    p.drive();
    assert_eq!(p.a.close_reason(), Some(CloseReason::FramingError));
    // a's GOAWAY told b why; b's pending call fails with that reason.
    assert_eq!(p.b.close_reason(), Some(CloseReason::PeerError(13)));
    assert!(p
        .b_events
        .contains(&Ev::Failed(c, "disconnected PeerError(13)".into())));
}
both!(framing_error_tells_peer, scenario_framing_error_tells_peer);

fn scenario_batching<T: Tables>(tables: fn() -> T) {
    let mut p = connected(tables);
    let before = p.a_writes;
    for i in 0..50 {
        p.a.call(p.now, &ADD3, &args(i, i, i), None)
            .map_err(|e| (i, e))
            .ok();
    }
    p.drive();
    // Every call queued before the write leaves in that one write.
    assert_eq!(p.a_writes - before, 1);
}
both!(batching, scenario_batching);

#[test]
fn add3_exchange_is_22_bytes_after_declaration() {
    let mut p = connected(arrays);
    // First call of a method carries its declaration; measure the second.
    let c = p.a.call(p.now, &ADD3, &args(1, 2, 3), None).unwrap();
    p.drive();
    let (in1, _, _) = p.b_calls()[0].clone();
    p.b.reply(in1, &6u32).unwrap();
    p.drive();
    assert!(p.a_events.contains(&Ev::Reply(c, 6u32.encode_to_vec())));
    let _ = p.a.call(p.now, &ADD3, &args(1, 2, 3), None).unwrap();
    let request = p.a.poll_transmit().len();
    p.drive();
    let (in2, _, _) = p.b_calls()[0].clone();
    p.b.reply(in2, &6u32).unwrap();
    let response = p.b.poll_transmit().len();
    assert_eq!((request, response), (15, 7));
}

#[test]
fn error_codes_round_trip() {
    for c in 0..20u16 {
        assert_eq!(ErrorCode::from_u16(c).to_u16(), c);
    }
}

#[test]
fn a_frame_larger_than_the_send_buffer_is_too_large() {
    let now = Instant::ZERO;
    let mut small = Connection::new(
        config(),
        Role::Initiator,
        &[],
        vec![0; 256],
        vec![0; 200],
        arrays(),
        now,
    );
    let big = vec![1u8; 300];
    // len field: call id (1 byte) + LPV length (2) + 300 bytes; the buffer
    // holds 200 bytes, a frame header up to 9.
    assert_eq!(
        small.call(now, &ADD3, &big.as_slice(), None),
        Err(StartError::TooLarge { len: 303, max: 191 })
    );
}
