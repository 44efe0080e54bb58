//! Streaming methods of `#[zerowire::service]` over real loopback TCP:
//! server-to-client (`Sink` parameter), client-to-server (`Source`
//! parameter) and bidirectional streams; typed errors mid-stream;
//! cancellation from either side; large items in chunks.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use zerowire::proto::Config;
use zerowire::rpc::{CallError, Sink, Source};
use zerowire::Wire;
use zerowire_tcp::{connect, Listener};

/// A frame of a camera.
#[derive(Wire, Clone, Debug, PartialEq)]
pub struct Frame {
    /// Sequence number.
    pub seq: u32,
    /// Pixels.
    pub data: Vec<u8>,
}

/// A camera failure.
#[derive(Wire, Clone, Copy, Debug, PartialEq)]
pub enum CamError {
    /// Broke at frame `at`.
    Broken {
        /// The frame.
        at: u32,
    },
    /// An upload was refused.
    Refused,
}

/// A camera with streams both ways.
#[zerowire::service]
pub trait Camera {
    /// Sends `count` frames of `size` bytes, failing at frame `fail_at`
    /// (if below `count`); the result is the number of frames sent.
    async fn frames(
        &self,
        count: u32,
        size: u32,
        fail_at: u32,
        out: Sink<Frame>,
    ) -> Result<u32, CamError>;
    /// Sends frames until the caller goes away.
    async fn endless(&self, out: Sink<Frame>) -> u32;
    /// Sums the bytes of the uploaded frames; refuses (early) after `stop`
    /// frames.
    async fn upload(&self, stop: u32, frames: Source<Frame>) -> Result<u64, CamError>;
    /// Returns every frame with its sequence number doubled.
    async fn echo(&self, input: Source<Frame>, out: Sink<Frame>) -> u32;
    /// A small call.
    async fn ping(&self, x: u32) -> u32;
}

#[derive(Clone, Default)]
struct Cam {
    /// Set when `endless` saw its caller go away.
    endless_stopped: Arc<AtomicBool>,
    /// Frames `upload` read.
    uploaded: Arc<AtomicU32>,
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn frame(seq: u32, size: u32) -> Frame {
    Frame {
        seq,
        data: (0..size).map(|i| (i as u8) ^ (seq as u8)).collect(),
    }
}

impl Camera for Cam {
    async fn frames(
        &self,
        count: u32,
        size: u32,
        fail_at: u32,
        mut out: Sink<Frame>,
    ) -> Result<u32, CamError> {
        for seq in 0..count {
            if seq == fail_at {
                return Err(CamError::Broken { at: seq });
            }
            if out.send(frame(seq, size)).await.is_err() {
                return Ok(seq);
            }
        }
        Ok(count)
    }

    async fn endless(&self, mut out: Sink<Frame>) -> u32 {
        // The handler is dropped when the caller cancels (or ends on a
        // failed send): either way the flag is set.
        let _stopped = SetOnDrop(self.endless_stopped.clone());
        let mut seq = 0;
        while out.send(frame(seq, 100)).await.is_ok() {
            seq += 1;
        }
        seq
    }

    async fn upload(&self, stop: u32, mut frames: Source<Frame>) -> Result<u64, CamError> {
        let mut total = 0;
        let mut n = 0;
        while let Some(f) = frames.next().await {
            let f = f.map_err(|_| CamError::Refused)?;
            assert_eq!(f, frame(f.seq, f.data.len() as u32));
            total += f.data.len() as u64;
            n += 1;
            self.uploaded.fetch_add(1, Ordering::SeqCst);
            if n == stop {
                return Err(CamError::Refused);
            }
        }
        Ok(total)
    }

    async fn echo(&self, mut input: Source<Frame>, mut out: Sink<Frame>) -> u32 {
        let mut n = 0;
        while let Some(Ok(mut f)) = input.next().await {
            f.seq *= 2;
            if out.send(f).await.is_err() {
                break;
            }
            n += 1;
        }
        n
    }

    async fn ping(&self, x: u32) -> u32 {
        x + 1
    }
}

async fn setup() -> (CameraClient<zerowire_tcp::Peer>, Cam) {
    let cam = Cam::default();
    let listener = Listener::bind("127.0.0.1:0", Config::default())
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let served = cam.clone();
    tokio::spawn(listener.serve(move || CameraService::new(served.clone())));
    let peer = connect(addr, (), Config::default()).await.unwrap();
    (CameraClient::new(peer), cam)
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("timed out")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_stream_then_result() {
    let (cam, _) = setup().await;
    within(async {
        let mut frames = cam.frames(50, 1000, u32::MAX);
        for seq in 0..50 {
            let f = frames.next().await.expect("an item").expect("not an error");
            assert_eq!(f, frame(seq, 1000));
        }
        assert!(frames.next().await.is_none());
        // `result` after the end: the final value.
        let frames = cam.frames(3, 10, u32::MAX);
        assert_eq!(frames.result().await, Ok(3));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_stream_of_large_items() {
    let (cam, _) = setup().await;
    within(async {
        // 1 MiB items travel in chunks.
        let items: Vec<_> = cam.frames(6, 1 << 20, u32::MAX).collect().await;
        assert_eq!(items.len(), 6);
        for (seq, f) in items.into_iter().enumerate() {
            assert_eq!(f.unwrap(), frame(seq as u32, 1 << 20));
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_error_mid_stream_is_typed() {
    let (cam, _) = setup().await;
    within(async {
        let mut frames = cam.frames(10, 64, 4);
        for seq in 0..4 {
            assert_eq!(frames.next().await.unwrap().unwrap().seq, seq);
        }
        assert_eq!(
            frames.next().await,
            Some(Err(CallError::Remote(CamError::Broken { at: 4 })))
        );
        assert_eq!(frames.next().await, None);
        // The connection keeps working.
        assert_eq!(cam.ping(1).await, Ok(2));
        let r = cam.frames(10, 64, 2).result().await;
        assert_eq!(r, Err(CallError::Remote(CamError::Broken { at: 2 })));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_stream_upload() {
    let (cam, _) = setup().await;
    within(async {
        let items = futures::stream::iter((0..100).map(|i| frame(i, 999)));
        assert_eq!(cam.upload(u32::MAX, items).await, Ok(99_900));
        // Large items, in chunks.
        let items = futures::stream::iter((0..3).map(|i| frame(i, 3 << 20)));
        assert_eq!(cam.upload(u32::MAX, items).await, Ok(9 << 20));
        // An empty request stream.
        assert_eq!(cam.upload(u32::MAX, futures::stream::empty()).await, Ok(0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_ends_a_client_stream_early() {
    let (cam, served) = setup().await;
    within(async {
        // An endless request stream: the handler refuses after 5 frames,
        // the caller gets the typed error and stops sending.
        let items = futures::stream::iter((0..).map(|i| frame(i, 10_000)));
        assert_eq!(
            cam.upload(5, items).await,
            Err(CallError::Remote(CamError::Refused))
        );
        assert_eq!(served.uploaded.load(Ordering::SeqCst), 5);
        assert_eq!(cam.ping(7).await, Ok(8));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidirectional_echo() {
    let (cam, _) = setup().await;
    within(async {
        let input = futures::stream::iter((0..200).map(|i| frame(i, 3000)));
        let mut out = cam.echo(input);
        for i in 0..200 {
            let f = out.next().await.unwrap().unwrap();
            assert_eq!(f.seq, i * 2);
            assert_eq!(f.data, frame(i, 3000).data);
        }
        assert_eq!(out.next().await, None);
        assert_eq!(
            cam.echo(futures::stream::iter(vec![frame(1, 1)]))
                .result()
                .await,
            Ok(1)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_cancels_the_handler() {
    let (cam, served) = setup().await;
    within(async {
        let mut frames = cam.endless();
        for seq in 0..3 {
            assert_eq!(frames.next().await.unwrap().unwrap().seq, seq);
        }
        drop(frames);
        while !served.endless_stopped.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(cam.ping(3).await, Ok(4));
    })
    .await;
}
