//! The raw TCP floor for bulk transfers, written by hand.
//!
//! The client sends a batch: a 4-byte little-endian frame count, then each
//! frame as a 4-byte little-endian length and its payload. Each frame goes
//! out with one `write_all_buf` of header and payload chained, which tokio
//! turns into `writev` calls (one, unless the socket takes less). The
//! server answers each batch with 8 bytes: the [`combine`] of the frames'
//! [`check`]s (for one frame, its `check`).
//!
//! - (a) is a batch of one 64 MiB frame. The server reads it into a fresh
//!   `vec![0; len]` of the announced length, as a receiver that hands an
//!   owned message to the application must (zerowire's driver does the
//!   same).
//! - (b) is a batch of 64 frames of 1 MiB. The server reads each into one
//!   reused buffer, as a stream reader would.
//!
//! No calls: (c) does not apply.

use std::sync::Arc;

use prost::bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use super::{check, combine, Bulk, SentMeter, FRAME_LEN, MAX_MESSAGE};
use crate::rpc::{Counted, IoStats, Running};

type Conn = Counted<TcpStream>;

/// A raw bulk client; clones share the connection (one batch at a time).
#[derive(Clone)]
pub struct RawClient {
    conn: Arc<Mutex<Conn>>,
}

/// Sends `frames` as one batch and reads the 8-byte answer.
async fn batch(conn: &mut Conn, frames: &[Bytes]) -> std::io::Result<u64> {
    let count = u32::try_from(frames.len()).unwrap_or(u32::MAX);
    for (i, f) in frames.iter().enumerate() {
        let mut head = [0u8; 8];
        let head: &[u8] = if i == 0 {
            head[..4].copy_from_slice(&count.to_le_bytes());
            head[4..].copy_from_slice(&(f.len() as u32).to_le_bytes());
            &head
        } else {
            head[..4].copy_from_slice(&(f.len() as u32).to_le_bytes());
            &head[..4]
        };
        let mut buf = Buf::chain(head, f.clone());
        conn.write_all_buf(&mut buf).await?;
    }
    let mut answer = [0u8; 8];
    conn.read_exact(&mut answer).await?;
    Ok(u64::from_le_bytes(answer))
}

impl Bulk for RawClient {
    type Arg = Bytes;
    const HAS_CALLS: bool = false;

    fn arg(&self, data: &Bytes) -> Bytes {
        data.clone()
    }

    async fn upload(&mut self, arg: Bytes) -> Result<u64, String> {
        let mut conn = self.conn.lock().await;
        batch(&mut conn, &[arg]).await.map_err(|e| e.to_string())
    }

    async fn stream(&mut self, frames: Vec<Bytes>, expect: Arc<[u64]>) -> Result<(), String> {
        let mut conn = self.conn.lock().await;
        let got = batch(&mut conn, &frames).await.map_err(|e| e.to_string())?;
        let want = combine(expect.iter().copied());
        if got == want {
            Ok(())
        } else {
            Err(format!("stream answered {got}, expected {want}"))
        }
    }

    async fn add3(&mut self, _: u32, _: u32, _: u32) -> Result<u32, String> {
        Err("raw TCP has no calls".into())
    }
}

async fn read_u32<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).await?;
    Ok(u32::from_le_bytes(b))
}

/// The server side of one connection: answers batches until the client
/// closes.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut sock: S) -> std::io::Result<()> {
    let mut frame = vec![0u8; FRAME_LEN];
    loop {
        let count = read_u32(&mut sock).await?;
        let mut answer = 0;
        for _ in 0..count {
            let len = read_u32(&mut sock).await? as usize;
            if len > MAX_MESSAGE {
                return Err(std::io::ErrorKind::InvalidData.into());
            }
            let c = if count == 1 {
                // One message: a fresh buffer of its announced length.
                let mut msg = vec![0u8; len];
                sock.read_exact(&mut msg).await?;
                check(&msg)
            } else {
                if frame.len() < len {
                    frame.resize(len, 0);
                }
                sock.read_exact(&mut frame[..len]).await?;
                check(&frame[..len])
            };
            answer = combine([answer, c]);
        }
        sock.write_all(&answer.to_le_bytes()).await?;
    }
}

/// Starts a raw bulk server on `127.0.0.1:0` and connects one client.
pub async fn start() -> Result<Running<RawClient>, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server_stats = IoStats::new();
    let ss = server_stats.clone();
    let server = tokio::spawn(async move {
        if let Ok((sock, _)) = listener.accept().await {
            let _ = sock.set_nodelay(true);
            let _ = serve(Counted::new(sock, ss)).await;
        }
    });
    let sock = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    sock.set_nodelay(true).map_err(|e| e.to_string())?;
    let client_stats = IoStats::new();
    Ok(Running {
        client: RawClient {
            conn: Arc::new(Mutex::new(Counted::new(sock, client_stats.clone()))),
        },
        meter: Box::new(SentMeter {
            client: client_stats,
            server: server_stats,
        }),
        tasks: vec![server],
    })
}
