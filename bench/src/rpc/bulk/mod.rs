//! The bulk-transfer systems of the `rpc` benchmark (issue 4): large
//! messages and streams of 1 MiB frames over loopback TCP, client and server
//! in one process.
//!
//! - (a) one [`UPLOAD_LEN`] (64 MiB) message from client to server, answered
//!   with a small value: the [`check`] of what the server received;
//! - (b) [`FRAMES`] frames of [`FRAME_LEN`] (1 MiB) from client to server:
//!   as a stream where the system has streams (raw TCP, tonic, and a
//!   zerowire row with a `Source` parameter), as calls with
//!   [`FRAMES_IN_FLIGHT`] in flight where it has not (tarpc) and in the
//!   other zerowire rows;
//! - (c) a tiny call (`add3`) on the same connection while (a) runs.
//!
//! Systems:
//!
//! - [`zw`]: `#[zerowire::service]` with an ordinary `Vec<u8>` argument over
//!   `zerowire-tcp` (which sends arguments too big for a frame in chunks),
//!   and a plain `fn` with a `Bytes` argument (with the default chunk size
//!   and credit, and with larger ones), and a `Source<Bytes>` request
//!   stream;
//! - [`raw`]: the floor, length-prefixed frames written with `writev`;
//! - [`tarpc_bulk`]: tarpc 0.38 with a `Vec<u8>` argument, and with a
//!   newtype that serde serializes as one byte string;
//! - [`grpc`]: tonic 0.14 + prost, a unary call with a `bytes` field and a
//!   client-streaming call.
//!
//! Each `start` returns a [`Running`] system whose [`Meter`] counts the
//! SENDING side (the client): its bytes written and its write system calls
//! (see [`SentMeter`]).

pub mod grpc;
pub mod raw;
pub mod tarpc_bulk;
pub mod zw;

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use prost::bytes::Bytes;

use super::{IoCounts, IoStats, Meter, Running};

/// Length of the message of (a): 64 MiB.
pub const UPLOAD_LEN: usize = 64 << 20;
/// Length of one frame of (b): 1 MiB.
pub const FRAME_LEN: usize = 1 << 20;
/// Frames of (b): 64 MiB in all.
pub const FRAMES: usize = 64;
/// Frame calls in flight at once where (b) runs as calls.
pub const FRAMES_IN_FLIGHT: usize = 8;
/// Largest message any side of a bulk system accepts: the 64 MiB upload plus
/// room for its framing (length prefixes, tags).
pub const MAX_MESSAGE: usize = UPLOAD_LEN + (64 << 10);

/// `len` bytes of a pattern that differs from byte to byte and from one
/// 4 KiB page to the next, so a misplaced or repeated page changes the
/// [`check`].
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add((i >> 12) as u8))
        .collect()
}

/// Sampling stride of [`check`] (a prime, so the samples move through the
/// pages).
const STRIDE: usize = 4093;

/// What a server answers for a received message: its length and every
/// 4093rd byte (a prime stride), hashed (FNV-1a style). Cheap on purpose (about 16 k
/// loads for 64 MiB), so the answer costs every system the same negligible
/// time and the measurement stays on the transfer; a wrong length, a
/// misplaced page or a truncated message changes it.
pub fn check(data: &[u8]) -> u64 {
    let mut h = (data.len() as u64 ^ 0xcbf2_9ce4_8422_2325).wrapping_mul(0x100_0000_01b3);
    let mut i = 0;
    while i < data.len() {
        h = (h ^ u64::from(data[i])).wrapping_mul(0x100_0000_01b3);
        i += STRIDE;
    }
    if let Some(&last) = data.last() {
        h = (h ^ u64::from(last)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The answer to a stream of frames: the wrapping sum of their [`check`]s
/// (order-independent, so a server can fold frames as they come).
pub fn combine(checks: impl IntoIterator<Item = u64>) -> u64 {
    checks.into_iter().fold(0, u64::wrapping_add)
}

/// A client of one bulk system; clones share the one connection.
pub trait Bulk: Clone + Send + Sync + 'static {
    /// One message's argument in the system's own type.
    type Arg: Send + 'static;

    /// Whether the system has calls for (c) (raw TCP has none).
    const HAS_CALLS: bool = true;

    /// Whether (a) and (c) are measured on this row (a row added for its
    /// (b) only says `false`).
    const UPLOADS: bool = true;

    /// Makes the argument for `data` (a copy, for systems whose argument
    /// owns its bytes). The bench calls it before the clock starts: every
    /// system starts from its argument ready, as an application that
    /// already holds its data would.
    fn arg(&self, data: &Bytes) -> Self::Arg;

    /// (a): sends one message; returns the server's answer, the [`check`]
    /// of what it received.
    fn upload(&mut self, arg: Self::Arg) -> impl Future<Output = Result<u64, String>> + Send;

    /// (b): sends `frames`; `Err` unless every answer matches `expect` (the
    /// [`check`] of each frame, in order).
    fn stream(
        &mut self,
        frames: Vec<Self::Arg>,
        expect: Arc<[u64]>,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// (c): a tiny call on the same connection.
    fn add3(&mut self, a: u32, b: u32, c: u32) -> impl Future<Output = Result<u32, String>> + Send;
}

/// (b) as calls: each frame is one [`Bulk::upload`], at most
/// [`FRAMES_IN_FLIGHT`] at once (on clones of `client`, so on its one
/// connection), each answer checked.
pub async fn frames_as_calls<C: Bulk>(
    client: &C,
    frames: Vec<C::Arg>,
    expect: Arc<[u64]>,
) -> Result<(), String> {
    let calls = frames.into_iter().enumerate().map(|(i, f)| {
        let mut c = client.clone();
        async move { (i, c.upload(f).await) }
    });
    let mut answers = futures::stream::iter(calls).buffer_unordered(FRAMES_IN_FLIGHT);
    while let Some((i, r)) = answers.next().await {
        match r {
            Ok(v) if v == expect[i] => {}
            other => return Err(format!("frame {i}: got {other:?}, expected {}", expect[i])),
        }
    }
    Ok(())
}

/// The sending side's counts, for [`Meter`]: `bytes` is what the client
/// wrote and `writes` its write system calls (the server's replies and
/// window updates are not counted).
pub struct SentMeter {
    /// The client's socket.
    pub client: Arc<IoStats>,
    /// The server's socket (for [`Meter::check`] only).
    pub server: Arc<IoStats>,
}

impl Meter for SentMeter {
    fn counts(&self) -> IoCounts {
        let c = self.client.get();
        IoCounts {
            bytes: c.written,
            writes: c.writes,
        }
    }

    fn check(&self) -> Result<(), String> {
        let (c, s) = (self.client.get(), self.server.get());
        if c.written == s.read && s.written == c.read {
            Ok(())
        } else {
            Err(format!("client {c:?} and server {s:?} disagree"))
        }
    }
}

/// The bulk systems, in the benchmark's row order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkSystem {
    /// zerowire, `async fn`, `Vec<u8>` argument; (b) as calls, 8 in flight.
    Zerowire,
    /// zerowire, plain `fn`, `Bytes` argument; the same otherwise.
    ZerowireFnBytes,
    /// The same with `max_chunk` 1 MiB and `initial_credit` 4 MiB.
    ZerowireBigChunks,
    /// zerowire, (b) as one call with a `Source<Bytes>` request stream; (a)
    /// and (c) not measured.
    ZerowireStream,
    /// The stream with `max_chunk` 1 MiB and `initial_credit` 4 MiB.
    ZerowireStreamBigChunks,
    /// Raw TCP, length-prefixed frames.
    Raw,
    /// tarpc, `Vec<u8>` argument (serde: a sequence of `u8`).
    Tarpc,
    /// tarpc, a newtype serialized as one byte string.
    TarpcBytes,
    /// tonic + prost, `bytes` field; (b) as a client-streaming call.
    Tonic,
}

impl BulkSystem {
    /// Every bulk system.
    pub const ALL: [BulkSystem; 9] = [
        BulkSystem::Zerowire,
        BulkSystem::ZerowireFnBytes,
        BulkSystem::ZerowireBigChunks,
        BulkSystem::ZerowireStream,
        BulkSystem::ZerowireStreamBigChunks,
        BulkSystem::Raw,
        BulkSystem::Tarpc,
        BulkSystem::TarpcBytes,
        BulkSystem::Tonic,
    ];

    /// The row label. Each row has a prefix before its first comma that
    /// no other row starts with, so `RPC_BENCH_ONLY` (comma-separated
    /// prefixes) can pick any one row.
    pub fn name(self) -> &'static str {
        match self {
            BulkSystem::Zerowire => "zerowire (async fn, Vec<u8>; (b): calls, 8 in flight)",
            BulkSystem::ZerowireFnBytes => "zerowire plain fn, Bytes (same)",
            BulkSystem::ZerowireBigChunks => {
                "zerowire big chunks: plain fn, Bytes, max_chunk 1 MiB, credit 4 MiB (same)"
            }
            BulkSystem::ZerowireStream => {
                "zerowire stream: (b) as one call with a Source<Bytes> request stream"
            }
            BulkSystem::ZerowireStreamBigChunks => {
                "zerowire stream big chunks: the stream, max_chunk 1 MiB, credit 4 MiB"
            }
            BulkSystem::Raw => "raw TCP (length-prefixed writev)",
            BulkSystem::Tarpc => "tarpc 0.38 (Vec<u8> arg; (b): calls, 8 in flight)",
            BulkSystem::TarpcBytes => "tarpc 0.38 bytes: newtype with serialize_bytes (same)",
            BulkSystem::Tonic => "tonic 0.14 + prost (bytes; (b): client stream)",
        }
    }
}

/// What to do with a started, checked bulk system.
pub trait WithBulk<T> {
    /// Runs on `client`; `meter` counts the sending side (the client).
    fn run<C: Bulk>(self, client: C, meter: &dyn Meter) -> impl Future<Output = T> + Send;
}

/// Starts `system`, checks one small message (and `add3(1, 2, 3) == 6`
/// where it has calls), runs `f` on it and stops it.
pub async fn with_bulk_system<F, T>(system: BulkSystem, f: F) -> Result<T, String>
where
    F: WithBulk<T>,
{
    match system {
        BulkSystem::Zerowire => run(zw::start().await?, f, system).await,
        BulkSystem::ZerowireFnBytes => run(zw::start_bytes().await?, f, system).await,
        BulkSystem::ZerowireBigChunks => run(zw::start_bytes_big_chunks().await?, f, system).await,
        BulkSystem::ZerowireStream => run(zw::start_stream().await?, f, system).await,
        BulkSystem::ZerowireStreamBigChunks => {
            run(zw::start_stream_big_chunks().await?, f, system).await
        }
        BulkSystem::Raw => run(raw::start().await?, f, system).await,
        BulkSystem::Tarpc => run(tarpc_bulk::start_vec().await?, f, system).await,
        BulkSystem::TarpcBytes => run(tarpc_bulk::start_bytes().await?, f, system).await,
        BulkSystem::Tonic => run(grpc::start().await?, f, system).await,
    }
}

async fn run<C: Bulk, F: WithBulk<T>, T>(
    mut r: Running<C>,
    f: F,
    system: BulkSystem,
) -> Result<T, String> {
    let data = Bytes::from(pattern(100_000));
    let arg = r.client.arg(&data);
    match r.client.upload(arg).await {
        Ok(v) if v == check(&data) => {}
        other => {
            return Err(format!(
                "{}: small upload returned {other:?}",
                system.name()
            ))
        }
    }
    if C::HAS_CALLS {
        match r.client.add3(1, 2, 3).await {
            Ok(6) => {}
            other => {
                return Err(format!(
                    "{}: add3(1, 2, 3) returned {other:?}",
                    system.name()
                ))
            }
        }
    }
    let out = f.run(r.client.clone(), &*r.meter).await;
    r.stop().await;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each system moves 4 MiB in one message and as 4 frames of 1 MiB,
    /// and answers a small call while doing so.
    struct Small;

    impl WithBulk<IoCounts> for Small {
        async fn run<C: Bulk>(self, mut client: C, meter: &dyn Meter) -> IoCounts {
            let data = Bytes::from(pattern(4 << 20));
            let arg = client.arg(&data);
            let mut side = client.clone();
            let small = tokio::spawn(async move {
                if C::HAS_CALLS {
                    for i in 0..20 {
                        assert_eq!(side.add3(i, 1, 2).await, Ok(i + 3));
                    }
                }
            });
            assert_eq!(client.upload(arg).await, Ok(check(&data)));
            small.await.unwrap();
            let frames: Vec<_> = (0..4)
                .map(|i| data.slice(i * FRAME_LEN..(i + 1) * FRAME_LEN))
                .collect();
            let expect: Arc<[u64]> = frames.iter().map(|f| check(f)).collect();
            let args = frames.iter().map(|f| client.arg(f)).collect();
            client.stream(args, expect).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            meter.check().unwrap();
            meter.counts()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_bulk_system_moves_megabytes() {
        for system in BulkSystem::ALL {
            let c = with_bulk_system(system, Small).await.unwrap();
            println!("{}: {c:?} sent", system.name());
            assert!(c.bytes >= 8 << 20, "{}: {c:?}", system.name());
        }
    }

    #[test]
    fn check_sees_a_moved_page() {
        let a = pattern(1 << 20);
        let mut b = a.clone();
        b.copy_within(0..4096, 8192);
        assert_ne!(check(&a), check(&b));
        assert_ne!(check(&a), check(&a[..a.len() - 1]));
        assert_eq!(combine([1, 2, u64::MAX]), 2);
    }
}
