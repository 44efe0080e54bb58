//! The node's streams, with fixed buffers only. Blocks (4,100 bytes
//! encoded) are written chunk by chunk into one `CHUNK`-byte buffer, as the
//! peer's credit and the send buffer allow, and received as pieces of the
//! receive buffer, folded into a checksum and given back to the peer's
//! credit at once; no block is ever held whole.
//!
//! Served (`SensorStreams`, one of each at a time, a second is refused with
//! `Overloaded`):
//! - `samples`: sample blocks to the desktop, then the summary;
//! - `upload`: the desktop's blocks, then the summary.
//!
//! Called (`HubStreams`, by the sync in `main.rs`):
//! - `firmware`: the hub's blocks, received as its reply stream;
//! - `log`: sample blocks of channel 3 sent as the request stream.

use sensor_api::stream_methods::{SAMPLES, UPLOAD};
use sensor_api::{fnv1a, sample_block_bytes, SampleBlock, SensorError, StreamSummary, FNV_START};
use zerowire::proto::{CloseReason, Data, ErrorCode, MethodDesc, ReplyError, SendError};
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

/// Sends sample blocks of a channel, chunk by chunk.
pub struct BlockSender {
    channel: u8,
    /// Blocks to send.
    until: u32,
    /// The block being sent and the bytes of it already queued.
    seq: u32,
    offset: usize,
    pub sent: StreamSummary,
}

impl BlockSender {
    pub const fn new(channel: u8, until: u32) -> Self {
        Self {
            channel,
            until,
            seq: 0,
            offset: 0,
            sent: empty(),
        }
    }

    /// Queues chunks while the stream can take them: `Ok(true)` once every
    /// block is queued, `Ok(false)` to come back later, `Err` if the
    /// stream's call is over.
    fn pump(
        &mut self,
        tx: &mut StreamTx<'_>,
        stream: Stream,
        chunk: &mut [u8; CHUNK],
    ) -> Result<bool, ()> {
        while self.seq < self.until {
            let left = SampleBlock::ENCODED_LEN - self.offset;
            let n = tx.capacity(stream).min(left).min(CHUNK);
            if n == 0 {
                return if tx.is_live(stream) {
                    Ok(false)
                } else {
                    Err(())
                };
            }
            let bytes = &mut chunk[..n];
            sample_block_bytes(self.channel, self.seq, self.offset, bytes);
            let total = (self.offset == 0).then_some(SampleBlock::ENCODED_LEN as u64);
            match tx.send_chunk(stream, total, bytes) {
                Ok(()) => {}
                Err(SendError::Backpressure | SendError::NoCredit) => return Ok(false),
                Err(_) => return Err(()),
            }
            add(&mut self.sent, bytes);
            self.offset += n;
            if self.offset == SampleBlock::ENCODED_LEN {
                self.offset = 0;
                self.seq += 1;
                self.sent.items += 1;
            }
        }
        Ok(true)
    }
}

/// Receives blocks (whose first four bytes are their `seq`, from 0) piece
/// by piece.
pub struct BlockReceiver {
    pub got: StreamSummary,
    /// The first bytes of the current block, and how many.
    seq: [u8; 4],
    at: usize,
    pub out_of_order: bool,
    pub ended: bool,
}

impl BlockReceiver {
    pub const fn new() -> Self {
        Self {
            got: empty(),
            seq: [0; 4],
            at: 0,
            out_of_order: false,
            ended: false,
        }
    }

    fn piece(&mut self, data: &Data<'_>) {
        add(&mut self.got, data.bytes);
        for &b in data.bytes.iter().take(4usize.saturating_sub(self.at)) {
            self.seq[self.at] = b;
            self.at += 1;
        }
        if data.end_of_message {
            self.out_of_order |= u32::from_le_bytes(self.seq) != self.got.items;
            self.got.items += 1;
            self.at = 0;
        }
        self.ended |= data.end_of_stream;
    }
}

/// A served `samples` stream.
struct Samples {
    stream: Stream,
    args: Collect<8>,
    blocks: Option<BlockSender>,
    /// The final result, once decided (sent after the last block).
    result: Option<Result<StreamSummary, SensorError>>,
}

/// A served `upload`.
struct Upload {
    stream: Stream,
    args: Collect<8>,
    expected: u32,
    blocks: BlockReceiver,
}

/// The node's [`StreamHandler`].
pub struct NodeStreams {
    samples: Option<Samples>,
    upload: Option<Upload>,
    /// The sync's download (`HubStreams::firmware`), while it runs.
    pub download: Option<(Stream, BlockReceiver)>,
    /// The sync's log upload (`HubStreams::log`) and whether it is
    /// finished (request stream ended).
    pub log: Option<(Stream, BlockSender, bool)>,
    chunk: [u8; CHUNK],
}

impl NodeStreams {
    pub const fn new() -> Self {
        Self {
            samples: None,
            upload: None,
            download: None,
            log: None,
            chunk: [0; CHUNK],
        }
    }

    /// Sends what `samples` can send now; true once it is answered (or
    /// gone).
    fn pump_samples(s: &mut Samples, chunk: &mut [u8; CHUNK], tx: &mut StreamTx<'_>) -> bool {
        if s.result.is_none() {
            let Some(blocks) = &mut s.blocks else {
                return false;
            };
            match blocks.pump(tx, s.stream, chunk) {
                Ok(false) => return false,
                Err(()) => return true,
                // Channel 4 saturates after its second block.
                Ok(true) if blocks.channel == 4 => s.result = Some(Err(SensorError::Saturated)),
                Ok(true) => s.result = Some(Ok(blocks.sent)),
            }
        }
        let result = s.result.unwrap_or(Err(SensorError::NoSuchChannel));
        !matches!(tx.reply(s.stream, &result), Err(ReplyError::Backpressure))
    }
}

impl StreamHandler for NodeStreams {
    fn opened(&mut self, stream: Stream, method: &MethodDesc) -> Result<(), ErrorCode> {
        if method.id == SAMPLES.id && self.samples.is_none() {
            self.samples = Some(Samples {
                stream,
                args: Collect::new(),
                blocks: None,
                result: None,
            });
        } else if method.id == UPLOAD.id && self.upload.is_none() {
            self.upload = Some(Upload {
                stream,
                args: Collect::new(),
                expected: 0,
                blocks: BlockReceiver::new(),
            });
        } else {
            return Err(ErrorCode::Overloaded);
        }
        crate::node().counted();
        Ok(())
    }

    fn data(&mut self, stream: Stream, data: Data<'_>) -> usize {
        if let Some(s) = self.samples.as_mut().filter(|s| s.stream == stream) {
            // The arguments (the whole request direction of `samples`).
            if let Some(args) = s.args.push(&data) {
                match args.map(<(u8, u32)>::decode) {
                    Ok(Ok((channel @ 0..=3, blocks))) => {
                        s.blocks = Some(BlockSender::new(channel, blocks));
                    }
                    Ok(Ok((4, blocks))) => s.blocks = Some(BlockSender::new(4, blocks.min(2))),
                    _ => s.result = Some(Err(SensorError::NoSuchChannel)),
                }
            }
        } else if let Some(u) = self.upload.as_mut().filter(|u| u.stream == stream) {
            if u.args.is_complete() {
                u.blocks.piece(&data);
            } else if let Some(Ok(args)) = u.args.push(&data) {
                u.expected = <(u32,)>::decode(args).map_or(0, |(b,)| b);
                u.blocks.ended |= data.end_of_stream;
            }
        } else if let Some((_, d)) = self.download.as_mut().filter(|(s, _)| *s == stream) {
            d.piece(&data);
        }
        // Taken at once: the window goes straight back to the peer.
        data.bytes.len()
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
        self.download = None;
        self.log = None;
    }

    fn produce(&mut self, tx: &mut StreamTx<'_>) {
        if let Some(s) = &mut self.samples {
            if Self::pump_samples(s, &mut self.chunk, tx) {
                let sent = s.blocks.as_ref().map_or(empty(), |b| b.sent);
                crate::println!(
                    "sensor-node: samples: {} blocks, {} bytes sent",
                    sent.items,
                    sent.bytes
                );
                self.samples = None;
            }
        }
        if let Some(u) = self.upload.as_ref().filter(|u| u.blocks.ended) {
            let b = &u.blocks;
            let result = if b.got.items == u.expected && !b.out_of_order {
                Ok(b.got)
            } else {
                Err(SensorError::Incomplete)
            };
            if !matches!(tx.reply(u.stream, &result), Err(ReplyError::Backpressure)) {
                crate::println!(
                    "sensor-node: upload: {} blocks, {} bytes received",
                    b.got.items,
                    b.got.bytes
                );
                self.upload = None;
            }
        }
        if let Some((stream, blocks, finished)) = &mut self.log {
            if !*finished {
                match blocks.pump(tx, *stream, &mut self.chunk) {
                    // After the last block, the end of the request stream.
                    Ok(true) => *finished = tx.finish(*stream).is_ok(),
                    Ok(false) => {}
                    Err(()) => *finished = true,
                }
            }
        }
    }
}
