//! Findings about the sans-IO stream core (`core/src/proto/stream.rs`),
//! written as tests of the behaviour `docs/wire-format.md` 4.5 and
//! `docs/streams.md` describe. Each was a failing (`#[ignore]`d) test
//! documenting a core bug until it was fixed; they stay as regression
//! tests, with the decisions the fixes made.

use zerowire::frame::{encode_data, encode_data_header, DataFlags, Frame};
use zerowire::proto::{
    CallId, Channel, CloseReason, Config, Connection, ErrorBody, ErrorCode, Event, IncomingCall,
    Instant, MethodDesc, ReplyError, Role, VecTables,
};

const UPLOAD: MethodDesc = MethodDesc::new("Cam", "upload", 0x0b);
static CAM: [MethodDesc; 1] = [UPLOAD];
static NONE: [MethodDesc; 0] = [];

type Conn = Connection<'static, Vec<u8>, Vec<u8>, VecTables>;

fn now() -> Instant {
    Instant::from_micros(1)
}

fn config() -> Config {
    Config {
        max_calls: 4,
        max_frame: 1024,
        max_message: 10_000,
        initial_credit: 4096,
        max_chunk: 512,
        ..Config::default()
    }
}

/// A caller `a` and a callee `b`, handshake done.
fn pair() -> (Conn, Conn) {
    let mut a = Connection::new(
        config(),
        Role::Initiator,
        &NONE,
        vec![0; 2048],
        vec![0; 8192],
        VecTables::new(4, 4),
        now(),
    );
    let mut b = Connection::new(
        config(),
        Role::Acceptor,
        &CAM,
        vec![0; 2048],
        vec![0; 8192],
        VecTables::new(4, 4),
        now(),
    );
    pump(&mut a, &mut b);
    pump(&mut b, &mut a);
    events(&mut a);
    events(&mut b);
    (a, b)
}

fn pump(from: &mut Conn, to: &mut Conn) {
    let bytes = from.poll_transmit().to_vec();
    let n = to.handle_input(now(), &bytes);
    from.advance_transmit(n);
}

fn events(c: &mut Conn) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(e) = c.poll_event() {
        v.push(format!("{e:?}"));
    }
    v
}

/// `a` opens a call of `b` with a whole first message; returns both ends.
fn opened(a: &mut Conn, b: &mut Conn, end_of_stream: bool) -> (CallId, IncomingCall) {
    let call = a.open(now(), &UPLOAD, None).unwrap();
    a.send_message(Channel::Out(call), &1u32, end_of_stream)
        .unwrap();
    pump(a, b);
    let mut incoming = None;
    while let Some(e) = b.poll_event() {
        if let Event::Opened { call, .. } = e {
            incoming = Some(call);
        }
    }
    (call, incoming.expect("Opened"))
}

/// Bug: `abort` while a chunked request message is half sent queues the
/// ERROR frame at once; the callee, inside the chunked message, closes the
/// connection with `ProtocolViolation` instead of reporting `Aborted`.
/// (`abort` checks `opened` but not `send_left`; `on_request_message`
/// refuses ERROR while `recv_left` is set.)
#[test]
fn abort_in_the_middle_of_a_chunked_message_reaches_the_callee_typed() {
    let (mut a, mut b) = pair();
    let call = a.open(now(), &UPLOAD, None).unwrap();
    a.send_chunk(Channel::Out(call), Some(1000), &[1; 100], false)
        .unwrap();
    pump(&mut a, &mut b);
    events(&mut b);
    a.abort(call, ErrorCode::Internal, "camera failed").unwrap();
    pump(&mut a, &mut b);
    let seen = events(&mut b);
    assert!(b.is_open(), "callee closed: {:?}", b.close_reason());
    assert!(seen.iter().any(|e| e.starts_with("Aborted")), "{seen:?}");
}

/// Bug: `reply_error` while a chunked reply message is half sent; the
/// caller closes with `ProtocolViolation` instead of reporting
/// `Failed(Remote)` (the issue's "errors mid-stream reach the other side
/// typed"). `on_data` refuses a final frame while `recv_left` is set.
#[test]
fn reply_error_in_the_middle_of_a_chunked_reply_reaches_the_caller_typed() {
    let (mut a, mut b) = pair();
    let (call, incoming) = opened(&mut a, &mut b, true);
    b.send_chunk(Channel::In(incoming), Some(1000), &[1; 100], false)
        .unwrap();
    pump(&mut b, &mut a);
    events(&mut a);
    b.reply_error(incoming, ErrorCode::Internal, "sensor failed")
        .unwrap();
    pump(&mut b, &mut a);
    let mut failure = None;
    while let Some(e) = a.poll_event() {
        if let Event::Failed {
            call: c,
            failure: f,
        } = e
        {
            assert_eq!(c, call);
            failure = Some(format!("{f:?}"));
        }
    }
    assert!(a.is_open(), "caller closed: {:?}", a.close_reason());
    assert!(
        failure.is_some_and(|f| f.contains("Remote")),
        "no typed failure"
    );
}

/// Was a bug: `reply` in the middle of a chunked reply was queued, and
/// the caller, which refuses a result inside a message, closed. Now
/// `reply` refuses (`ReplyError::Backpressure`, nothing queued): the
/// message stays intact, and once its last chunk is sent the reply goes.
#[test]
fn reply_in_the_middle_of_a_chunked_reply_is_refused_or_accepted_consistently() {
    let (mut a, mut b) = pair();
    let (call, incoming) = opened(&mut a, &mut b, true);
    b.send_chunk(Channel::In(incoming), Some(1000), &[1; 100], false)
        .unwrap();
    pump(&mut b, &mut a);
    events(&mut a);
    let pending = b.pending_send();
    let queued = b.reply(incoming, &5u32);
    assert_eq!(queued, Err(ReplyError::Backpressure));
    assert_eq!(b.pending_send(), pending, "nothing queued");
    pump(&mut b, &mut a);
    events(&mut a);
    assert!(a.is_open(), "caller closed: {:?}", a.close_reason());
    // The rest of the message, then the result.
    for (len, last) in [(500, false), (400, true)] {
        assert_eq!(
            b.reply(incoming, &5u32),
            Err(ReplyError::Backpressure),
            "result before the message's last chunk"
        );
        b.send_chunk(Channel::In(incoming), None, &vec![2; len], false)
            .unwrap();
        pump(&mut b, &mut a);
        let mut got = 0;
        let mut ended = false;
        while let Some(e) = a.poll_event() {
            if let Event::Data { channel, data } = e {
                assert_eq!(channel, Channel::Out(call));
                got += data.bytes.len();
                ended |= data.end_of_message;
            }
        }
        assert_eq!((got, ended), (len, last));
    }
    b.reply(incoming, &5u32).unwrap();
    pump(&mut b, &mut a);
    let mut replied = false;
    while let Some(e) = a.poll_event() {
        if let Event::Reply { call: c, body } = e {
            assert_eq!((c, body), (call, &5u32.to_le_bytes()[..]));
            replied = true;
        }
    }
    assert!(replied && a.is_open());
    assert_eq!((a.calls_in_flight(), b.serving()), (0, 0));
}

/// The raw first chunk of a message of `total` bytes on call `id`, with 10
/// payload bytes.
fn first_chunk(id: u64, method: Option<u64>, total: u64) -> Vec<u8> {
    let mut raw = vec![0u8; 64];
    let n =
        encode_data_header(&mut raw, DataFlags::default(), id, method, Some(total), 10).unwrap();
    raw.truncate(n);
    raw.extend([0; 10]);
    raw
}

/// The caller's failure for `call`, if it has one.
fn failure_of(a: &mut Conn, call: CallId) -> Option<String> {
    let mut failure = None;
    while let Some(e) = a.poll_event() {
        if let Event::Failed {
            call: c,
            failure: f,
        } = e
        {
            assert_eq!(c, call);
            failure = Some(format!("{f:?}"));
        }
    }
    failure
}

/// Was a bug: a request-stream item whose TOTAL exceeds `max_message` makes
/// the core answer the caller (`MessageTooLarge`) and end the served call,
/// but the serving application, which saw `Opened`, got no event. Now it
/// gets `Event::Cancelled(call)`: the call ended without its answer, the
/// final frame is sent, a later reply is `Stale`.
#[test]
fn a_served_call_ended_for_an_oversize_item_is_reported() {
    let (mut a, mut b) = pair();
    let (call, incoming) = opened(&mut a, &mut b, false);
    b.handle_input(now(), &first_chunk(call.wire_id(), None, 20_000));
    let seen = events(&mut b);
    assert_eq!(b.serving(), 0);
    assert_eq!(seen, [format!("{:?}", Event::Cancelled(incoming))]);
    assert_eq!(b.reply(incoming, &5u32), Err(ReplyError::Stale));
    // The rest of the message is skipped.
    let mut raw = vec![0u8; 64];
    let n = encode_data_header(
        &mut raw,
        DataFlags::default(),
        call.wire_id(),
        None,
        None,
        10,
    )
    .unwrap();
    raw.truncate(n);
    raw.extend([0; 10]);
    b.handle_input(now(), &raw);
    assert_eq!(events(&mut b), Vec::<String>::new());
    assert!(b.is_open());
    pump(&mut b, &mut a);
    let failure = failure_of(&mut a, call).expect("the caller is answered");
    assert!(
        failure.contains("MessageTooLarge") && failure.contains("len=20000 max=10000"),
        "{failure}"
    );
    assert!(a.is_open());
}

/// A call refused in its opening frame (TOTAL above `max_message`) was
/// never reported to the application: no `Opened`, and no `Cancelled`
/// either.
#[test]
fn a_call_refused_in_its_opening_frame_is_not_reported() {
    let (mut a, mut b) = pair();
    let call = a.open(now(), &UPLOAD, None).unwrap();
    // `a` declared the method (MTABLE) but sent nothing for the call.
    pump(&mut a, &mut b);
    events(&mut b);
    b.handle_input(now(), &first_chunk(call.wire_id(), Some(0), 20_000));
    assert_eq!(events(&mut b), Vec::<String>::new());
    assert_eq!(b.serving(), 0);
    pump(&mut b, &mut a);
    let failure = failure_of(&mut a, call).expect("the caller is answered");
    assert!(failure.contains("MessageTooLarge"), "{failure}");
}

/// When the send buffer cannot take the `MessageTooLarge` reply, the peer
/// (which ignored this side's `max_message`) cannot be told about the call:
/// the connection closes instead of leaving the call to hang.
#[test]
fn an_oversize_message_with_a_full_send_buffer_closes() {
    let (mut a, mut b) = pair();
    let (call, _) = opened(&mut a, &mut b, false);
    // Fill `b`'s send buffer with PONGs it is never allowed to write.
    let mut ping = [0u8; 16];
    let n = Frame::Ping(&[1, 2, 3, 4, 5, 6, 7, 8])
        .encode(&mut ping)
        .unwrap();
    let ping = &ping[..n];
    for _ in 0..1000 {
        b.handle_input(now(), ping);
        events(&mut b);
    }
    assert!(b.is_open());
    assert!(b.pending_send() > 8192 - 20, "{}", b.pending_send());
    b.handle_input(now(), &first_chunk(call.wire_id(), None, 20_000));
    let seen = events(&mut b);
    assert_eq!(
        b.close_reason(),
        Some(CloseReason::ProtocolViolation),
        "{seen:?}"
    );
}

/// `a` (the caller) receives the GOAWAY `b` queued when it closed.
fn told_why(b: &mut Conn, a: &mut Conn) {
    pump(b, a);
    let seen = events(a);
    assert!(
        seen.iter()
            .any(|e| e == &format!("{:?}", Event::Closed(CloseReason::PeerError(14)))),
        "the peer was not told: {seen:?}"
    );
}

/// Was a laxity: the receiver accepted TOTAL on a middle chunk, and a last
/// chunk whose TOTAL differs from the first's. The format says middle
/// chunks carry none and the last repeats the first's: either breaks a
/// rule of 4.5, so the connection closes (`ProtocolViolation`) after
/// telling the peer why (GOAWAY 14).
#[test]
fn chunk_totals_are_checked() {
    // (flags, TOTAL, payload) of the second chunk of a 300-byte message.
    let cases = [
        // The last chunk announces another length.
        (DataFlags::FIN_MSG, Some(999), 200),
        (DataFlags::FIN_MSG, Some(200), 200),
        // A middle chunk carries TOTAL, even the right one.
        (DataFlags::default(), Some(300), 100),
        (DataFlags::default(), Some(999), 100),
    ];
    for (flags, total, len) in cases {
        let (mut a, mut b) = pair();
        let call = a.open(now(), &UPLOAD, None).unwrap();
        a.send_chunk(Channel::Out(call), Some(300), &[1; 100], false)
            .unwrap();
        pump(&mut a, &mut b);
        events(&mut b);
        let mut raw = vec![0u8; 64];
        let n = encode_data_header(&mut raw, flags, call.wire_id(), None, total, len).unwrap();
        let mut bytes = raw[..n].to_vec();
        bytes.extend(vec![3u8; len]);
        b.handle_input(now(), &bytes);
        let seen = events(&mut b);
        assert!(!seen.iter().any(|e| e.starts_with("Data")), "{seen:?}");
        assert_eq!(b.close_reason(), Some(CloseReason::ProtocolViolation));
        told_why(&mut b, &mut a);
    }
    // The same on a reply stream: the caller closes.
    let (mut a, mut b) = pair();
    let (call, incoming) = opened(&mut a, &mut b, true);
    b.send_chunk(Channel::In(incoming), Some(300), &[1; 100], false)
        .unwrap();
    pump(&mut b, &mut a);
    events(&mut a);
    let mut raw = vec![0u8; 64];
    let n = encode_data_header(
        &mut raw,
        DataFlags::REPLY,
        call.wire_id(),
        None,
        Some(250),
        200,
    )
    .unwrap();
    let mut bytes = raw[..n].to_vec();
    bytes.extend([3u8; 200]);
    a.handle_input(now(), &bytes);
    events(&mut a);
    assert_eq!(a.close_reason(), Some(CloseReason::ProtocolViolation));
}

/// Was a laxity: a CALL is a whole single-message request, but DATA the
/// caller sent afterwards on the same id reached the server as request
/// stream data of a call it got as `Event::Call`. A CALL ends the request
/// direction as FIN_STREAM does, so DATA after it (an item, a chunk, a
/// bare FIN_STREAM, an abort) is "anything after FIN_STREAM": the
/// connection closes (`ProtocolViolation`, GOAWAY 14). CANCEL stays
/// allowed.
#[test]
fn data_after_a_call_is_not_delivered() {
    let error = ErrorBody {
        code: 7,
        message: "x",
    };
    for kind in 0..4 {
        let (mut a, mut b) = pair();
        let call = a.call(now(), &UPLOAD, &1u32, None).unwrap();
        pump(&mut a, &mut b);
        assert!(events(&mut b).iter().any(|e| e.starts_with("Call")));
        let id = call.wire_id();
        let mut raw = vec![0u8; 64];
        let n = match kind {
            0 => encode_data(&mut raw, DataFlags::FIN_MSG, id, None, None, &7u32),
            1 => encode_data(&mut raw, DataFlags::default(), id, None, Some(8), &7u32),
            2 => encode_data_header(&mut raw, DataFlags::FIN_STREAM, id, None, None, 0),
            _ => encode_data(
                &mut raw,
                DataFlags::REPLY.with(DataFlags::ERROR),
                id,
                None,
                None,
                &error,
            ),
        }
        .unwrap();
        b.handle_input(now(), &raw[..n]);
        let seen = events(&mut b);
        assert!(
            !seen
                .iter()
                .any(|e| e.starts_with("Data") || e.starts_with("Aborted")),
            "delivered: {seen:?}"
        );
        assert_eq!(b.close_reason(), Some(CloseReason::ProtocolViolation));
        told_why(&mut b, &mut a);
    }
    // CANCEL after a CALL is still how the caller gives up.
    let (mut a, mut b) = pair();
    let call = a.call(now(), &UPLOAD, &1u32, None).unwrap();
    pump(&mut a, &mut b);
    events(&mut b);
    a.cancel(now(), call);
    pump(&mut a, &mut b);
    assert!(events(&mut b).iter().any(|e| e.starts_with("Cancelled")));
    assert!(b.is_open());
    pump(&mut b, &mut a);
    events(&mut a);
    assert_eq!(a.calls_in_flight(), 0);
}

/// Holds today: a bare FIN_STREAM is accepted as a reply stream's final
/// frame; the caller sees an empty `end_of_stream` piece and the id is
/// free.
#[test]
fn a_bare_fin_stream_ends_a_reply_stream() {
    let (mut a, mut b) = pair();
    let (call, _) = opened(&mut a, &mut b, true);
    let mut raw = vec![0u8; 64];
    let n = encode_data_header(
        &mut raw,
        DataFlags::FIN_STREAM,
        call.wire_id(),
        None,
        None,
        0,
    )
    .unwrap();
    a.handle_input(now(), &raw[..n]);
    let mut ended = false;
    while let Some(e) = a.poll_event() {
        match e {
            Event::Data { channel, data } => {
                assert_eq!(channel, Channel::Out(call));
                assert!(data.end_of_stream && data.bytes.is_empty());
                ended = true;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(ended && a.is_open());
    assert_eq!(a.calls_in_flight(), 0);
}
