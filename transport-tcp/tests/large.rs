//! Large messages through ordinary method calls, over real loopback TCP:
//! arguments and results of tens of megabytes travel in chunks (spliced
//! payloads, direct reads into the reassembly buffer) while small calls on
//! the same connection keep being answered; `max_message` is enforced on
//! both sides with a typed `MessageTooLarge`, and the connection survives.

use std::time::{Duration, Instant};

use zerowire::proto::Config;
use zerowire::rpc::CallError;
use zerowire_tcp::{connect, Listener};

/// A service with large arguments and results.
#[zerowire::service]
pub trait Store {
    /// Sums the bytes (large arguments).
    fn sum(&self, data: Vec<u8>) -> u64;
    /// Makes `len` bytes (a large result).
    fn make(&self, len: u32, seed: u8) -> Vec<u8>;
    /// Returns its argument.
    async fn echo(&self, data: Vec<u8>) -> Vec<u8>;
    /// A small call.
    fn small(&self, x: u32) -> u32;
    /// Two large byte strings in one result.
    fn pair(&self, len: u32) -> (bytes::Bytes, bytes::Bytes);
    /// Takes two large byte strings: their lengths, their checksums, and
    /// the distance between their first bytes in memory.
    async fn take_pair(&self, a: bytes::Bytes, b: bytes::Bytes) -> (u64, u64, u64);
    /// This side's `Stats::buffers_reused`.
    async fn reused(&self, cx: &zerowire_tcp::Context) -> u64;
}

struct Shop;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u8)
                .wrapping_mul(13)
                .wrapping_add(seed ^ (i >> 12) as u8)
        })
        .collect()
}

impl Store for Shop {
    fn sum(&self, data: Vec<u8>) -> u64 {
        data.iter().map(|&b| u64::from(b)).sum()
    }
    fn make(&self, len: u32, seed: u8) -> Vec<u8> {
        pattern(len as usize, seed)
    }
    async fn echo(&self, data: Vec<u8>) -> Vec<u8> {
        data
    }
    fn small(&self, x: u32) -> u32 {
        x + 1
    }
    async fn take_pair(&self, a: bytes::Bytes, b: bytes::Bytes) -> (u64, u64, u64) {
        let sum = |x: &[u8]| x.iter().map(|&v| u64::from(v)).sum::<u64>();
        let gap = (b.as_ptr() as usize).wrapping_sub(a.as_ptr() as usize) as u64;
        (sum(&a), sum(&b), gap)
    }
    fn pair(&self, len: u32) -> (bytes::Bytes, bytes::Bytes) {
        let a = pattern(len as usize, 1);
        let b = pattern(len as usize, 2);
        (a.into(), b.into())
    }
    async fn reused(&self, cx: &zerowire_tcp::Context) -> u64 {
        cx.peer().stats().buffers_reused
    }
}

fn config(max_message: u32) -> Config {
    Config {
        max_message,
        ..Config::default()
    }
}

async fn serve(config: Config) -> std::net::SocketAddr {
    let listener = Listener::bind("127.0.0.1:0", config).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(listener.serve(|| StoreService::new(Shop)));
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_megabytes_sum() {
    let addr = serve(config(64 << 20)).await;
    let store = StoreClient::new(connect(addr, (), config(64 << 20)).await.unwrap());
    let r = tokio::time::timeout(Duration::from_secs(10), store.sum(vec![1; 2 << 20])).await;
    assert_eq!(r.expect("timed out"), Ok(2 << 20));
}

/// An `async fn` handler whose arguments are large enough to be decoded
/// through `Runtime::blocking` (2 MiB and up), on both tokio flavors:
/// `block_in_place` on the multi-thread runtime, in place on a
/// current-thread one (where `block_in_place` would panic).
async fn large_async_echo() {
    let addr = serve(config(64 << 20)).await;
    let store = StoreClient::new(connect(addr, (), config(64 << 20)).await.unwrap());
    let data = pattern(3 << 20, 7);
    let r = tokio::time::timeout(Duration::from_secs(10), store.echo(data.clone())).await;
    assert_eq!(r.expect("timed out"), Ok(data));
    assert_eq!(store.small(1).await, Ok(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_async_arguments_on_a_multi_thread_runtime() {
    large_async_echo().await;
}

#[tokio::test(flavor = "current_thread")]
async fn large_async_arguments_on_a_current_thread_runtime() {
    large_async_echo().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tens_of_megabytes_both_ways_beside_small_calls() {
    let addr = serve(config(64 << 20)).await;
    let peer = connect(addr, (), config(64 << 20)).await.unwrap();
    let store = StoreClient::new(peer.clone());
    let big = pattern(24 << 20, 5);
    let expected: u64 = big.iter().map(|&b| u64::from(b)).sum();

    // Small calls keep flowing while the large ones run.
    let small = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            for i in 0..200u32 {
                let t = Instant::now();
                assert_eq!(store.small(i).await, Ok(i + 1));
                worst = worst.max(t.elapsed());
            }
            worst
        })
    };
    let t = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(20), store.sum(big.clone())).await;
    assert_eq!(r.expect("sum timed out"), Ok(expected));
    let made = tokio::time::timeout(Duration::from_secs(20), store.make(20 << 20, 9))
        .await
        .expect("make timed out")
        .unwrap();
    assert!(made == pattern(20 << 20, 9), "the large result differs");
    let echoed = tokio::time::timeout(Duration::from_secs(20), store.echo(big.clone()))
        .await
        .expect("echo timed out")
        .unwrap();
    assert!(echoed == big, "the echo differs");
    let elapsed = t.elapsed();
    let worst = small.await.unwrap();
    let stats = peer.stats();
    let mib = (stats.bytes_written + stats.bytes_read) as f64 / f64::from(1 << 20);
    println!(
        "92 MiB of large calls in {elapsed:?}; {:.1} writes and {:.1} reads per MiB; slowest of 200 small calls {worst:?}",
        stats.writes as f64 / mib,
        stats.reads as f64 / mib,
    );
    // Chunked, not one frame: far fewer writes than 16 KiB frames would take.
    assert!(
        (stats.writes as f64) < mib * 64.0,
        "{} writes",
        stats.writes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_too_large_is_typed_and_the_connection_survives() {
    // The server accepts 1 MiB messages; the client 2 MiB.
    let addr = serve(config(1 << 20)).await;
    let store = StoreClient::new(connect(addr, (), config(2 << 20)).await.unwrap());
    assert_eq!(store.small(1).await, Ok(2));
    // Arguments above the server's limit: refused before sending.
    let r = store.sum(vec![1; (1 << 20) + 1]).await;
    assert!(
        matches!(r, Err(CallError::MessageTooLarge { len, max }) if len > 1 << 20 && max == 1 << 20),
        "{r:?}"
    );
    // A result above the client's limit: refused by the server.
    let r = store.make((2 << 20) + 100, 1).await;
    assert!(
        matches!(r, Err(CallError::MessageTooLarge { len, max }) if len > 2 << 20 && max == 2 << 20),
        "{r:?}"
    );
    // Within both limits, in chunks.
    assert_eq!(store.sum(vec![1; 900_000]).await, Ok(900_000));
    assert_eq!(
        store.make(1_500_000, 2).await.map(|v| v.len()),
        Ok(1_500_000)
    );
    assert_eq!(store.small(41).await, Ok(42));
}

/// A large result's `Bytes` values are handed out without a copy: both
/// are slices of the one reassembly buffer the chunks were read into, so
/// the second starts right after the first (and its length prefix) in the
/// same allocation. Copies would be two separate allocations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bytes_results_share_the_reassembly_buffer() {
    let addr = serve(config(64 << 20)).await;
    let store = StoreClient::new(connect(addr, (), config(64 << 20)).await.unwrap());
    let len = 8 << 20;
    let (a, b) = tokio::time::timeout(Duration::from_secs(20), store.pair(len))
        .await
        .expect("timed out")
        .unwrap();
    assert_eq!(a, pattern(len as usize, 1));
    assert_eq!(b, pattern(len as usize, 2));
    let gap = (b.as_ptr() as usize).wrapping_sub(a.as_ptr() as usize);
    assert!(
        (a.len()..a.len() + 16).contains(&gap),
        "the two values are not adjacent slices of one buffer (gap {gap})"
    );
}

/// Large `Bytes` arguments reach the handler without a copy: both are
/// slices of the one buffer the chunks were read into (adjacent in memory),
/// which copies would not be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bytes_arguments_share_the_reassembly_buffer() {
    let addr = serve(config(64 << 20)).await;
    let store = StoreClient::new(connect(addr, (), config(64 << 20)).await.unwrap());
    let len = 8 << 20;
    let (a, b) = (pattern(len, 1), pattern(len, 2));
    let sum = |x: &[u8]| x.iter().map(|&v| u64::from(v)).sum::<u64>();
    let (sa, sb) = (sum(&a), sum(&b));
    let (ra, rb, gap) =
        tokio::time::timeout(Duration::from_secs(20), store.take_pair(a.into(), b.into()))
            .await
            .expect("timed out")
            .unwrap();
    assert_eq!((ra, rb), (sa, sb));
    assert!(
        (len as u64..len as u64 + 16).contains(&gap),
        "the two arguments are not adjacent slices of one buffer (gap {gap})"
    );
}

/// Calls with large arguments, one after the other: each is reassembled in
/// the buffer of the one before (its handler has dropped it by the time
/// it answers), and each still reads its own bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_arguments_reuse_the_previous_call_s_buffer() {
    let addr = serve(config(64 << 20)).await;
    let store = StoreClient::new(connect(addr, (), config(64 << 20)).await.unwrap());
    tokio::time::timeout(Duration::from_secs(20), async {
        for seed in 0..10 {
            let data = pattern(512 << 10, seed);
            let want = data.iter().map(|&b| u64::from(b)).sum::<u64>();
            assert_eq!(store.sum(data).await, Ok(want), "call {seed}");
        }
        assert_eq!(store.reused().await, Ok(9));
    })
    .await
    .expect("timed out");
}

/// Large results, one call after the other: the caller's side reassembles
/// each in the buffer of the one before (decoded and dropped by then),
/// and each result is its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_results_reuse_the_previous_call_s_buffer() {
    let addr = serve(config(64 << 20)).await;
    let peer = connect(addr, (), config(64 << 20)).await.unwrap();
    let store = StoreClient::new(peer.clone());
    tokio::time::timeout(Duration::from_secs(20), async {
        for seed in 0..10 {
            let got = store.make(512 << 10, seed).await;
            assert_eq!(got, Ok(pattern(512 << 10, seed)), "call {seed}");
        }
    })
    .await
    .expect("timed out");
    assert_eq!(peer.stats().buffers_reused, 9);
}
