//! The raw TCP floor: `add3` as hand-written frames, a 4-byte little-endian
//! length prefix + payload, multiplexed by a call id.
//!
//! - Request payload (16 bytes): `id, a, b, c` as little-endian `u32`s.
//! - Reply payload (8 bytes): `id, a + b + c`.
//!
//! So one call is 20 + 12 = 32 bytes on the wire.
//!
//! The client is one connection shared by every clone: a call appends its
//! frame to a shared output buffer under a mutex, takes a slot for its reply
//! and kicks a writer task; a reader task fills the slots and wakes the
//! callers. The server handles one connection in one task: it reads what has
//! arrived, answers every complete request and writes the replies.
//!
//! [`Flush`] picks how both sides write:
//!
//! - [`Flush::Idle`]: everything queued since the last write goes out in one
//!   write call (the client's writer swaps out the whole buffer; the server
//!   writes all replies to one read at once). When the writer is kicked
//!   while callers whose replies arrived have not run yet, it first yields
//!   (`tokio::task::yield_now`, which tokio resumes only once the worker has
//!   nothing else to run), so it writes when the callers are idle and takes
//!   all their next calls at once; with one call in flight there is no such
//!   caller and the write goes out at once;
//! - [`Flush::PerFrame`]: the same tasks, but each frame is its own write
//!   call and the writer never yields.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::{Add3, Counted, IoStats, PeerStats, Running};

/// How the raw client and server write their frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// One write call for everything queued since the last write.
    Idle,
    /// One write call per frame.
    PerFrame,
}

const REQ_PAYLOAD: usize = 16;
const REQ_FRAME: usize = 4 + REQ_PAYLOAD;
const REP_PAYLOAD: usize = 8;
const REP_FRAME: usize = 4 + REP_PAYLOAD;
/// Largest payload either side accepts.
const MAX_PAYLOAD: usize = 1024;
const READ_BUF: usize = 64 * 1024;

fn le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Starts a raw server on `127.0.0.1:0` and connects one client to it.
pub async fn start(flush: Flush) -> Result<Running<RawClient>, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server_stats = IoStats::new();
    let ss = server_stats.clone();
    let server = tokio::spawn(async move {
        if let Ok((sock, _)) = listener.accept().await {
            let _ = sock.set_nodelay(true);
            serve(Counted::new(sock, ss), flush).await;
        }
    });

    let sock = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    sock.set_nodelay(true).map_err(|e| e.to_string())?;
    let client_stats = IoStats::new();
    let (rd, wr) = sock.into_split();
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            out: Vec::with_capacity(READ_BUF),
            slots: Vec::new(),
            free: Vec::new(),
            unclaimed: 0,
            closed: false,
        }),
        kick: Notify::new(),
    });
    let reader = tokio::spawn(read_replies(
        Counted::new(rd, client_stats.clone()),
        shared.clone(),
    ));
    let writer = tokio::spawn(write_requests(
        Counted::new(wr, client_stats.clone()),
        shared.clone(),
        flush,
    ));
    Ok(Running {
        client: RawClient { shared },
        meter: Box::new(PeerStats {
            client: client_stats,
            server: server_stats,
        }),
        tasks: vec![server, reader, writer],
    })
}

/// Writes `frames` (whole frames of `frame_len` bytes) as `flush` says.
async fn write_frames<W: AsyncWrite + Unpin>(
    w: &mut W,
    frames: &[u8],
    frame_len: usize,
    flush: Flush,
) -> std::io::Result<()> {
    match flush {
        Flush::Idle => w.write_all(frames).await,
        Flush::PerFrame => {
            for f in frames.chunks(frame_len) {
                w.write_all(f).await?;
            }
            Ok(())
        }
    }
}

/// The server side of one connection.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut sock: S, flush: Flush) {
    let mut inb = vec![0u8; READ_BUF];
    let mut have = 0;
    let mut out = Vec::with_capacity(READ_BUF);
    loop {
        match sock.read(&mut inb[have..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => have += n,
        }
        let mut at = 0;
        while have - at >= 4 {
            let len = le(&inb, at) as usize;
            if len != REQ_PAYLOAD {
                return; // not a request of this protocol
            }
            if have - at < 4 + len {
                break;
            }
            let p = at + 4;
            let (id, a, b, c) = (
                le(&inb, p),
                le(&inb, p + 4),
                le(&inb, p + 8),
                le(&inb, p + 12),
            );
            let sum = a.wrapping_add(b).wrapping_add(c);
            out.extend_from_slice(&(REP_PAYLOAD as u32).to_le_bytes());
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&sum.to_le_bytes());
            at = p + len;
        }
        inb.copy_within(at..have, 0);
        have -= at;
        if write_frames(&mut sock, &out, REP_FRAME, flush)
            .await
            .is_err()
        {
            return;
        }
        out.clear();
    }
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer task: there are frames in `State::out`.
    kick: Notify,
}

struct State {
    /// Request frames not yet handed to the writer.
    out: Vec<u8>,
    /// Reply slots, indexed by call id.
    slots: Vec<Slot>,
    /// Unused slot ids.
    free: Vec<u32>,
    /// Replies stored in a slot and not yet taken by their caller.
    unclaimed: usize,
    /// The connection failed or closed.
    closed: bool,
}

#[derive(Default)]
struct Slot {
    reply: Option<u32>,
    waker: Option<Waker>,
    /// The caller dropped its future: free the slot when the reply arrives.
    abandoned: bool,
}

impl State {
    fn close(&mut self) -> Vec<Waker> {
        self.closed = true;
        self.slots
            .iter_mut()
            .filter_map(|s| s.waker.take())
            .collect()
    }
}

/// A raw TCP client; clones share the connection.
#[derive(Clone)]
pub struct RawClient {
    shared: Arc<Shared>,
}

impl Add3 for RawClient {
    async fn add3(&mut self, a: u32, b: u32, c: u32) -> Result<u32, String> {
        let id = {
            let mut st = self.shared.state.lock().unwrap();
            if st.closed {
                return Err("connection closed".into());
            }
            let id = match st.free.pop() {
                Some(id) => id,
                None => {
                    st.slots.push(Slot::default());
                    (st.slots.len() - 1) as u32
                }
            };
            for v in [REQ_PAYLOAD as u32, id, a, b, c] {
                st.out.extend_from_slice(&v.to_le_bytes());
            }
            id
        };
        self.shared.kick.notify_one();
        ReplyFuture {
            shared: &self.shared,
            id,
            done: false,
        }
        .await
    }
}

struct ReplyFuture<'a> {
    shared: &'a Shared,
    id: u32,
    done: bool,
}

impl Future for ReplyFuture<'_> {
    type Output = Result<u32, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (shared, id) = (self.shared, self.id);
        let mut guard = shared.state.lock().unwrap();
        let st = &mut *guard;
        let slot = &mut st.slots[id as usize];
        let out = if let Some(v) = slot.reply.take() {
            slot.waker = None;
            st.unclaimed -= 1;
            st.free.push(id);
            Ok(v)
        } else if st.closed {
            Err("connection closed".to_string())
        } else {
            match &slot.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => slot.waker = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        };
        drop(guard);
        self.done = true;
        Poll::Ready(out)
    }
}

impl Drop for ReplyFuture<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut st = self.shared.state.lock().unwrap();
        let slot = &mut st.slots[self.id as usize];
        slot.waker = None;
        if slot.reply.take().is_some() {
            st.unclaimed -= 1;
            st.free.push(self.id);
        } else {
            slot.abandoned = true;
        }
    }
}

/// The client's writer task: waits for a kick, takes every queued frame and
/// writes them.
async fn write_requests<W: AsyncWrite + Unpin>(mut w: W, shared: Arc<Shared>, flush: Flush) {
    let mut buf = Vec::with_capacity(READ_BUF);
    loop {
        shared.kick.notified().await;
        if flush == Flush::Idle && shared.state.lock().unwrap().unclaimed > 0 {
            // Callers whose replies arrived have not run yet: they are about
            // to queue their next call. Let them run first (tokio wakes a
            // yielded task only once its worker has nothing else to run), so
            // the write takes everything they queue. With nothing pending
            // (one call in flight) the write goes out at once.
            tokio::task::yield_now().await;
        }
        {
            let mut st = shared.state.lock().unwrap();
            if st.closed {
                return;
            }
            std::mem::swap(&mut st.out, &mut buf);
        }
        if buf.is_empty() {
            continue;
        }
        if write_frames(&mut w, &buf, REQ_FRAME, flush).await.is_err() {
            let wakers = shared.state.lock().unwrap().close();
            wakers.into_iter().for_each(Waker::wake);
            return;
        }
        buf.clear();
    }
}

/// The client's reader task: reads replies, fills the slots, wakes callers.
async fn read_replies<R: AsyncRead + Unpin>(mut r: R, shared: Arc<Shared>) {
    let mut inb = vec![0u8; READ_BUF];
    let mut have = 0;
    let mut wakers = Vec::new();
    loop {
        let n = r.read(&mut inb[have..]).await.unwrap_or(0);
        if n == 0 {
            let wakers = shared.state.lock().unwrap().close();
            wakers.into_iter().for_each(Waker::wake);
            return;
        }
        have += n;
        let mut at = 0;
        {
            let mut guard = shared.state.lock().unwrap();
            let st = &mut *guard;
            while have - at >= 4 {
                let len = le(&inb, at) as usize;
                if !(REP_PAYLOAD..=MAX_PAYLOAD).contains(&len) {
                    // Not a reply of this protocol.
                    let wakers = st.close();
                    drop(guard);
                    wakers.into_iter().for_each(Waker::wake);
                    return;
                }
                if have - at < 4 + len {
                    break;
                }
                let (id, sum) = (le(&inb, at + 4), le(&inb, at + 8));
                at += 4 + len;
                let Some(slot) = st.slots.get_mut(id as usize) else {
                    continue;
                };
                if slot.abandoned {
                    slot.abandoned = false;
                    st.free.push(id);
                } else {
                    slot.reply = Some(sum);
                    st.unclaimed += 1;
                    if let Some(w) = slot.waker.take() {
                        wakers.push(w);
                    }
                }
            }
        }
        inb.copy_within(at..have, 0);
        have -= at;
        wakers.drain(..).for_each(Waker::wake);
    }
}
