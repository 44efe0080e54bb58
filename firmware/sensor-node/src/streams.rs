//! The node's streams (`SensorStreams`), with fixed buffers only:
//!
//! - `samples`: sample blocks (4,100 bytes each encoded) are written chunk
//!   by chunk into one `CHUNK`-byte buffer, as the desktop's credit and the
//!   send buffer allow; no block is ever held whole. Then the summary.
//! - `upload`: the desktop's blocks arrive as pieces of the receive buffer;
//!   each piece is folded into a checksum and given back to the desktop's
//!   credit at once. At the end of the stream, the summary.
//!
//! One stream of each kind at a time; a second is refused with
//! `Overloaded`.

use sensor_api::stream_methods::{SAMPLES, UPLOAD};
use sensor_api::{fnv1a, sample_block_bytes, SampleBlock, SensorError, StreamSummary, FNV_START};
use zerowire::proto::{CloseReason, Data, ErrorCode, MethodDesc, ReplyError};
use zerowire::Wire;
use zerowire_embedded::{Collect, Ended, Stream, StreamHandler, StreamTx};

/// The largest chunk the node writes (its `Config::max_chunk`).
pub const CHUNK: usize = 1024;

/// A summary that starts empty.
const fn empty() -> StreamSummary {
    StreamSummary {
        items: 0,
        bytes: 0,
        checksum: FNV_START,
    }
}

fn add(sum: &mut StreamSummary, bytes: &[u8]) {
    sum.checksum = fnv1a(sum.checksum, bytes);
    sum.bytes += bytes.len() as u64;
}

/// A `samples` stream being sent.
struct Samples {
    stream: Stream,
    args: Collect<8>,
    channel: u8,
    blocks: u32,
    /// The block being sent and the bytes of it already queued.
    seq: u32,
    offset: usize,
    sent: StreamSummary,
    /// The final result, once decided (sent after the current block).
    result: Option<Result<StreamSummary, SensorError>>,
}

/// An `upload` being received.
struct Upload {
    stream: Stream,
    args: Collect<8>,
    expected: u32,
    got: StreamSummary,
    /// The first bytes of the current block (its `seq`), and how many.
    at: usize,
    seq: [u8; 4],
    out_of_order: bool,
    ended: bool,
}

/// The node's [`StreamHandler`].
pub struct NodeStreams {
    samples: Option<Samples>,
    upload: Option<Upload>,
    chunk: [u8; CHUNK],
}

impl NodeStreams {
    pub const fn new() -> Self {
        Self {
            samples: None,
            upload: None,
            chunk: [0; CHUNK],
        }
    }

    /// Sends what `samples` can send now; true once it is answered (or
    /// gone).
    fn pump_samples(s: &mut Samples, chunk: &mut [u8; CHUNK], tx: &mut StreamTx<'_>) -> bool {
        if !s.args.is_complete() {
            return false;
        }
        loop {
            if let Some(result) = s.result {
                return !matches!(tx.reply(s.stream, &result), Err(ReplyError::Backpressure));
            }
            if s.offset == 0 {
                if s.seq == s.blocks {
                    s.result = Some(Ok(s.sent));
                    continue;
                }
                if s.channel == 4 && s.seq == 2 {
                    s.result = Some(Err(SensorError::Saturated));
                    continue;
                }
            }
            let left = SampleBlock::ENCODED_LEN - s.offset;
            let n = tx.capacity(s.stream).min(left).min(CHUNK);
            if n == 0 {
                return !tx.is_live(s.stream);
            }
            let bytes = &mut chunk[..n];
            sample_block_bytes(s.channel, s.seq, s.offset, bytes);
            let total = (s.offset == 0).then_some(SampleBlock::ENCODED_LEN as u64);
            if tx.send_chunk(s.stream, total, bytes).is_err() {
                return !tx.is_live(s.stream);
            }
            add(&mut s.sent, bytes);
            s.offset += n;
            if s.offset == SampleBlock::ENCODED_LEN {
                s.offset = 0;
                s.seq += 1;
                s.sent.items += 1;
            }
        }
    }
}

impl StreamHandler for NodeStreams {
    fn opened(&mut self, stream: Stream, method: &MethodDesc) -> Result<(), ErrorCode> {
        if method.id == SAMPLES.id && self.samples.is_none() {
            self.samples = Some(Samples {
                stream,
                args: Collect::new(),
                channel: 0,
                blocks: 0,
                seq: 0,
                offset: 0,
                sent: empty(),
                result: None,
            });
        } else if method.id == UPLOAD.id && self.upload.is_none() {
            self.upload = Some(Upload {
                stream,
                args: Collect::new(),
                expected: 0,
                got: empty(),
                at: 0,
                seq: [0; 4],
                out_of_order: false,
                ended: false,
            });
        } else {
            return Err(ErrorCode::Overloaded);
        }
        crate::node().counted();
        Ok(())
    }

    fn data(&mut self, stream: Stream, data: Data<'_>) -> usize {
        let n = data.bytes.len();
        if let Some(s) = self.samples.as_mut().filter(|s| s.stream == stream) {
            // The arguments (the whole request direction of `samples`).
            if let Some(args) = s.args.push(&data) {
                match args.map(<(u8, u32)>::decode) {
                    Ok(Ok((channel, blocks))) => {
                        s.channel = channel;
                        s.blocks = blocks;
                        if channel > 4 {
                            s.result = Some(Err(SensorError::NoSuchChannel));
                        }
                    }
                    _ => s.result = Some(Err(SensorError::NoSuchChannel)),
                }
            }
        } else if let Some(u) = self.upload.as_mut().filter(|u| u.stream == stream) {
            if !u.args.is_complete() {
                if let Some(Ok(args)) = u.args.push(&data) {
                    u.expected = <(u32,)>::decode(args).map_or(0, |(b,)| b);
                }
            } else {
                // A piece of a block: checksum it, check its `seq`.
                add(&mut u.got, data.bytes);
                for &b in data.bytes.iter().take(4usize.saturating_sub(u.at)) {
                    u.seq[u.at] = b;
                    u.at += 1;
                }
                if data.end_of_message {
                    u.out_of_order |= u32::from_le_bytes(u.seq) != u.got.items;
                    u.got.items += 1;
                    u.at = 0;
                }
            }
            u.ended |= data.end_of_stream;
        }
        // Taken at once: the window goes straight back to the desktop.
        n
    }

    fn ended(&mut self, stream: Stream, _why: Ended<'_>) {
        if self.samples.as_ref().is_some_and(|s| s.stream == stream) {
            self.samples = None;
        }
        if self.upload.as_ref().is_some_and(|u| u.stream == stream) {
            self.upload = None;
        }
    }

    fn closed(&mut self, _reason: CloseReason) {
        self.samples = None;
        self.upload = None;
    }

    fn produce(&mut self, tx: &mut StreamTx<'_>) {
        if let Some(s) = &mut self.samples {
            if Self::pump_samples(s, &mut self.chunk, tx) {
                crate::println!(
                    "sensor-node: samples: {} blocks, {} bytes sent",
                    s.sent.items,
                    s.sent.bytes
                );
                self.samples = None;
            }
        }
        if let Some(u) = self.upload.as_ref().filter(|u| u.ended) {
            let result = if u.got.items == u.expected && !u.out_of_order {
                Ok(u.got)
            } else {
                Err(SensorError::Incomplete)
            };
            if !matches!(tx.reply(u.stream, &result), Err(ReplyError::Backpressure)) {
                crate::println!(
                    "sensor-node: upload: {} blocks, {} bytes received",
                    u.got.items,
                    u.got.bytes
                );
                self.upload = None;
            }
        }
    }
}
