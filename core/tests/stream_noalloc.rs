//! A stream consumed and produced chunk by chunk with fixed buffers and no
//! heap, as on a microcontroller: two `StaticConnection`s (array storage)
//! move 64 KiB through 256-byte receive buffers; the receiver folds each
//! piece into a checksum and never reassembles. A counting allocator shows
//! that the whole exchange allocates nothing.

// The counting allocator needs `unsafe impl GlobalAlloc`; each unsafe block
// carries its SAFETY comment.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use zerowire::proto::{
    Channel, Config, Event, Instant, MethodDesc, Role, SendError, StaticConnection,
};

struct Counting;

thread_local! {
    /// Counting is armed on the test's own thread only: the test harness's
    /// main thread allocates while the test runs (result reporting), which
    /// made a process-wide flag fail now and then.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.try_with(Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SAMPLES: MethodDesc = MethodDesc::new("Node", "samples", 0x5a);
static NODE: [MethodDesc; 1] = [SAMPLES];
static HOST: [MethodDesc; 0] = [];

type Mcu = StaticConnection<'static, 256, 512, 2, 2>;

fn config() -> Config {
    Config {
        max_calls: 2,
        max_frame: 240,
        send_high_water: 256,
        max_message: 1 << 20,
        initial_credit: 1024,
        max_chunk: 200,
        build: "mcu",
        ..Config::default()
    }
}

fn byte(i: usize) -> u8 {
    (i as u8).wrapping_mul(7).wrapping_add((i >> 8) as u8)
}

/// Moves what `from` has to write into `to`, as far as `to` takes it.
fn pump(from: &mut Mcu, to: &mut Mcu, now: Instant) -> bool {
    let out = from.poll_transmit();
    if out.is_empty() {
        return false;
    }
    let n = to.handle_input(now, out);
    from.advance_transmit(n);
    n > 0
}

#[test]
fn a_stream_flows_chunk_by_chunk_without_heap() {
    const TOTAL: usize = 64 * 1024;
    let now = Instant::from_micros(1);
    // Construction is outside the measured window only because `Config`
    // holds a `&'static str`; the connections themselves are arrays.
    let mut host = Mcu::new(
        config(),
        Role::Initiator,
        &HOST,
        [0; 256],
        [0; 512],
        Default::default(),
        now,
    );
    let mut node = Mcu::new(
        config(),
        Role::Acceptor,
        &NODE,
        [0; 256],
        [0; 512],
        Default::default(),
        now,
    );
    ARMED.set(true);

    let mut chunk = [0u8; 200];
    let (mut sent, mut received, mut sum_sent, mut sum_received) = (0usize, 0usize, 0u64, 0u64);
    let mut call = None;
    let mut stream = None;
    let mut done = false;
    for _ in 0..200_000 {
        pump(&mut host, &mut node, now);
        pump(&mut node, &mut host, now);
        while let Some(e) = host.poll_event() {
            match e {
                Event::Connected(_) => call = host.open(now, &SAMPLES, None).ok(),
                Event::Data { channel, data } => {
                    for &b in data.bytes {
                        assert_eq!(b, byte(received));
                        sum_received = sum_received.wrapping_mul(31).wrapping_add(u64::from(b));
                        received += 1;
                    }
                    let n = data.bytes.len();
                    host.consumed(channel, n);
                }
                Event::Reply { .. } => done = true,
                other => panic!("{other:?}"),
            }
        }
        if let Some(c) = call {
            // The request: no arguments, and the request stream ends.
            if host.send_message(Channel::Out(c), &(), true).is_ok() {
                call = None;
            }
        }
        while let Some(e) = node.poll_event() {
            match e {
                Event::Connected(_) => {}
                Event::Opened { call, .. } => stream = Some(Channel::In(call)),
                Event::Data { channel, data } => {
                    let n = data.bytes.len();
                    node.consumed(channel, n);
                }
                other => panic!("{other:?}"),
            }
        }
        if let Some(ch) = stream {
            if sent < TOTAL {
                let n = node.send_capacity(ch).min(TOTAL - sent);
                for (i, slot) in chunk.iter_mut().take(n).enumerate() {
                    *slot = byte(sent + i);
                }
                let total = (sent == 0).then_some(TOTAL as u64);
                match node.send_chunk(ch, total, &chunk[..n], false) {
                    Ok(()) => {
                        for &b in &chunk[..n] {
                            sum_sent = sum_sent.wrapping_mul(31).wrapping_add(u64::from(b));
                        }
                        sent += n;
                    }
                    Err(SendError::Backpressure | SendError::NoCredit) => {}
                    Err(e) => panic!("{e:?}"),
                }
            } else if let Channel::In(c) = ch {
                if node.reply(c, &(sent as u32)).is_ok() {
                    stream = None;
                }
            }
        }
        if done {
            break;
        }
    }
    ARMED.set(false);
    assert!(done, "the stream did not finish: {received} of {TOTAL}");
    assert_eq!(received, TOTAL);
    assert_eq!(sum_received, sum_sent);
    assert_eq!(
        ALLOCATIONS.load(Ordering::SeqCst),
        0,
        "the exchange allocated"
    );
}
