//! The services of the sensor-node example, shared by the firmware
//! (`firmware/sensor-node`, `no_std`, no heap) and the desktop hub
//! (`examples/src/bin/hub.rs`): one definition, so both sides agree on
//! every method's schema fingerprint.
//!
//! - The node serves [`SensorNode`]: readings, a typed error, statistics,
//!   and switches for its periodic notifications and its self-test.
//! - The hub serves [`Hub`]: the node calls it for the time and to validate
//!   values (a typed error the other way), and pushes readings to it as
//!   notifications.
//! - The node also serves `SensorStreams`: a stream of sample blocks to the
//!   hub and an upload of blocks from it; and the hub serves `HubStreams`,
//!   which the node calls: a "firmware" download and a log upload. Their
//!   generated servers and clients need `alloc` (feature `streams`, on by
//!   default, for the desktop); the node, without a heap, uses the same
//!   methods through [`stream_methods`] and [`hub_stream_methods`], their
//!   descriptors written out by hand (a test checks they equal the
//!   generated ones).
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// One measurement.
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// The channel measured.
    pub channel: u8,
    /// Temperature in thousandths of a degree Celsius.
    pub millicelsius: i32,
    /// Node uptime at the measurement, in milliseconds.
    pub at_ms: u32,
    /// Sequence number of the reading on this node.
    pub seq: u32,
}

/// Why the node could not take a reading.
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorError {
    /// The channel does not exist.
    NoSuchChannel,
    /// The sensor is out of range.
    Saturated,
    /// An upload ended with another number of blocks than announced.
    Incomplete,
}

/// What the node has done since it started.
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStats {
    /// Connections (sessions) served, this one included.
    pub sessions: u32,
    /// Calls answered.
    pub calls: u32,
    /// Readings pushed as notifications.
    pub pushed: u32,
    /// Uptime in milliseconds.
    pub uptime_ms: u32,
}

/// The result of the node's self-test, sent to [`Hub::selftest_done`].
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelfTest {
    /// Checks that passed.
    pub passed: u32,
    /// Checks that failed (0 when all is well).
    pub failed: u32,
    /// Calls the node had in flight at once.
    pub pipelined: u32,
}

/// Served by the sensor node.
#[zerowire::service]
pub trait SensorNode {
    /// Reads channel `channel` (0 to 3; 4 is saturated).
    fn read(&self, channel: u8) -> Result<Reading, SensorError>;
    /// `a + b` (wrapping): the cheapest round trip.
    fn add(&self, a: u32, b: u32) -> u32;
    /// Statistics.
    fn stats(&self) -> NodeStats;
    /// Pushes a reading of channel 0 to [`Hub::reading`] every `ms`
    /// milliseconds (0 stops); returns the previous period.
    fn set_interval(&self, ms: u32) -> u32;
    /// Starts the node's self-test: it calls the hub ([`Hub::time_ms`],
    /// [`Hub::validate`], pipelined, with a typed error among the results)
    /// and reports to [`Hub::selftest_done`].
    fn selftest(&self);
    /// Ends the firmware after this reply (QEMU exits with `code`).
    fn power_off(&self, code: u32);
    /// Starts a sync: the node calls the hub's streams, downloading
    /// `blocks` firmware blocks (`HubStreams::firmware`) and uploading
    /// `blocks` sample blocks of channel 3 as its log (`HubStreams::log`) at once, and
    /// reports to [`Hub::sync_done`].
    fn sync(&self, blocks: u32);
}

/// The result of the node's sync, sent to [`Hub::sync_done`].
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncReport {
    /// What the node received of the firmware download.
    pub firmware: StreamSummary,
    /// What the node sent as its log.
    pub log: StreamSummary,
    /// Both equal the hub's results of the two calls.
    pub ok: bool,
    /// Node time from the start of the calls to both results.
    pub ms: u32,
}

/// Why the hub refused a value.
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubError {
    /// The value is negative.
    Negative,
}

/// Served by the desktop hub, called by the node.
#[zerowire::service]
pub trait Hub {
    /// The hub's clock, in milliseconds since the Unix epoch.
    fn time_ms(&self) -> u64;
    /// Doubles `value`, refusing negative ones.
    fn validate(&self, value: i32) -> Result<i32, HubError>;
    /// A reading pushed by the node (a notification).
    fn reading(&self, reading: Reading);
    /// The node's self-test result (a notification).
    fn selftest_done(&self, result: SelfTest);
    /// The node's sync result (a notification).
    fn sync_done(&self, report: SyncReport);
}

/// Samples in a [`SampleBlock`].
pub const BLOCK_SAMPLES: usize = 2048;

/// One block of raw samples of a channel, streamed by
/// `SensorStreams::samples`: 4 + 4,096 bytes on the wire (a fixed block:
/// `seq`, then the samples, little-endian), so the node writes it chunk by
/// chunk without ever holding one.
#[derive(zerowire::Wire, Debug, Clone, PartialEq, Eq)]
pub struct SampleBlock {
    /// Block number in the stream, from 0.
    pub seq: u32,
    /// The samples.
    pub samples: [i16; BLOCK_SAMPLES],
}

impl SampleBlock {
    /// Bytes of one encoded block.
    pub const ENCODED_LEN: usize = 4 + 2 * BLOCK_SAMPLES;

    /// The block `seq` of `channel` as the node produces it.
    pub fn expected(channel: u8, seq: u32) -> Self {
        let mut samples = [0i16; BLOCK_SAMPLES];
        for (i, s) in samples.iter_mut().enumerate() {
            *s = sample(channel, seq, i as u32);
        }
        Self { seq, samples }
    }
}

/// Sample `i` of block `seq` of `channel`: a cheap hash, so that a lost,
/// repeated or reordered byte shows.
pub fn sample(channel: u8, seq: u32, i: u32) -> i16 {
    let mut x = (seq.wrapping_mul(0x9E37_79B9) ^ i.wrapping_mul(0x85EB_CA6B))
        .wrapping_add(u32::from(channel).wrapping_mul(0xC2B2_AE35));
    x ^= x >> 15;
    x = x.wrapping_mul(0x2C1B_3C6D);
    x ^= x >> 12;
    x as i16
}

/// Writes bytes `offset..offset + out.len()` of the encoded
/// [`SampleBlock`] `seq` of `channel` into `out` (the node's chunk
/// producer; no block is ever held whole).
pub fn sample_block_bytes(channel: u8, seq: u32, offset: usize, out: &mut [u8]) {
    let head = seq.to_le_bytes();
    for (k, b) in out.iter_mut().enumerate() {
        let p = offset + k;
        *b = if p < 4 {
            head[p]
        } else {
            let i = (p - 4) / 2;
            sample(channel, seq, i as u32).to_le_bytes()[(p - 4) % 2]
        };
    }
}

/// Bytes of data in a [`Block`].
pub const BLOCK_BYTES: usize = 4096;

/// One block of an upload to the node (`SensorStreams::upload`): 4 + 4,096
/// bytes on the wire.
#[derive(zerowire::Wire, Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Block number in the upload, from 0.
    pub seq: u32,
    /// The data.
    pub data: [u8; BLOCK_BYTES],
}

impl Block {
    /// Bytes of one encoded block.
    pub const ENCODED_LEN: usize = 4 + BLOCK_BYTES;

    /// A block with a pattern that depends on `seq`.
    pub fn pattern(seq: u32) -> Self {
        let mut data = [0u8; BLOCK_BYTES];
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i as u32)
                .wrapping_mul(31)
                .wrapping_add(seq.wrapping_mul(7)) as u8
                ^ (i >> 8) as u8;
        }
        Self { seq, data }
    }
}

/// What a stream carried, as its sender or receiver counted it.
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSummary {
    /// Items (blocks).
    pub items: u32,
    /// Bytes of the encoded items.
    pub bytes: u64,
    /// [`fnv1a`] over those bytes, in order.
    pub checksum: u32,
}

/// The FNV-1a offset basis: [`fnv1a`]'s start value.
pub const FNV_START: u32 = 0x811C_9DC5;

/// FNV-1a over `bytes`, continuing from `state` (start with
/// [`FNV_START`]); pieces in order give the same value as the whole.
pub fn fnv1a(mut state: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        state = (state ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    state
}

/// Streams served by the sensor node. The trait and its method table exist
/// without `alloc` too (the node, which has no heap, declares it and serves
/// the streams through `zerowire-embedded`'s `StreamHandler`); the
/// streaming clients and handlers need `alloc` (feature `streams`).
#[zerowire::service]
pub trait SensorStreams {
    /// Streams `blocks` sample blocks of `channel` (0 to 3), then a summary
    /// of what was sent. Channel 4 fails with `Saturated` after two blocks
    /// (a typed error mid-stream); others with `NoSuchChannel` at once.
    async fn samples(
        &self,
        channel: u8,
        blocks: u32,
        out: zerowire::rpc::Sink<SampleBlock>,
    ) -> Result<StreamSummary, SensorError>;
    /// Takes an upload of `blocks` blocks and returns what arrived
    /// (`Incomplete` if another number of blocks came).
    async fn upload(
        &self,
        blocks: u32,
        data: zerowire::rpc::Source<Block>,
    ) -> Result<StreamSummary, SensorError>;
}

/// Streams served by the hub, called by the node (declared without `alloc`
/// too, as [`SensorStreams`]).
#[zerowire::service]
pub trait HubStreams {
    /// Sends `blocks` blocks of firmware ([`Block::pattern`]), then a
    /// summary of what was sent.
    async fn firmware(
        &self,
        blocks: u32,
        out: zerowire::rpc::Sink<Block>,
    ) -> Result<StreamSummary, HubError>;
    /// Takes the node's log, sample blocks of channel 3, and returns what
    /// arrived.
    async fn log(&self, data: zerowire::rpc::Source<SampleBlock>) -> StreamSummary;
}

/// The descriptors of the `HubStreams` methods without `alloc`, for the
/// node (as [`stream_methods`]).
pub mod hub_stream_methods {
    use zerowire::proto::{signature_fingerprint, MethodDesc, StreamKind};
    use zerowire::Wire;

    use super::{Block, HubError, SampleBlock, StreamSummary};

    /// `firmware(blocks: u32, out: Sink<Block>) -> Result<StreamSummary,
    /// HubError>`.
    pub const FIRMWARE: MethodDesc = MethodDesc::new(
        "HubStreams",
        "firmware",
        signature_fingerprint(
            <(u32,) as Wire>::FINGERPRINT,
            <(Result<StreamSummary, HubError>, (), Block) as Wire>::FINGERPRINT,
        ),
    )
    .with_streams(StreamKind {
        request: false,
        reply: true,
    });

    /// `log(data: Source<SampleBlock>) -> StreamSummary`.
    pub const LOG: MethodDesc = MethodDesc::new(
        "HubStreams",
        "log",
        signature_fingerprint(
            <() as Wire>::FINGERPRINT,
            <(StreamSummary, SampleBlock, ()) as Wire>::FINGERPRINT,
        ),
    )
    .with_streams(StreamKind {
        request: true,
        reply: false,
    });

    /// Both, in the generated table's order.
    pub static METHODS: [MethodDesc; 2] = [FIRMWARE, LOG];
}

/// The descriptors of the `SensorStreams` methods without `alloc`, for the
/// node: the same ids and fingerprints as the generated table (service
/// `SensorStreams`, in its order), computed from the same types.
pub mod stream_methods {
    use zerowire::proto::{signature_fingerprint, MethodDesc, StreamKind};
    use zerowire::Wire;

    use super::{Block, SampleBlock, SensorError, StreamSummary};

    /// `samples(channel: u8, blocks: u32, out: Sink<SampleBlock>) ->
    /// Result<StreamSummary, SensorError>`.
    pub const SAMPLES: MethodDesc = MethodDesc::new(
        "SensorStreams",
        "samples",
        signature_fingerprint(
            <(u8, u32) as Wire>::FINGERPRINT,
            <(Result<StreamSummary, SensorError>, (), SampleBlock) as Wire>::FINGERPRINT,
        ),
    )
    .with_streams(StreamKind {
        request: false,
        reply: true,
    });

    /// `upload(blocks: u32, data: Source<Block>) -> Result<StreamSummary,
    /// SensorError>`.
    pub const UPLOAD: MethodDesc = MethodDesc::new(
        "SensorStreams",
        "upload",
        signature_fingerprint(
            <(u32,) as Wire>::FINGERPRINT,
            <(Result<StreamSummary, SensorError>, Block, ()) as Wire>::FINGERPRINT,
        ),
    )
    .with_streams(StreamKind {
        request: true,
        reply: false,
    });

    /// Both, in the generated table's order.
    pub static METHODS: [MethodDesc; 2] = [SAMPLES, UPLOAD];
}

#[cfg(all(test, feature = "streams"))]
mod tests {
    use super::*;
    use zerowire::Wire as _;

    #[test]
    fn hand_written_descriptors_equal_the_generated_ones() {
        assert_eq!(
            SensorStreamsService::<()>::methods(),
            &stream_methods::METHODS[..]
        );
        assert_eq!(
            HubStreamsService::<()>::methods(),
            &hub_stream_methods::METHODS[..]
        );
    }

    #[test]
    fn blocks_encode_as_their_bytes() {
        let block = SampleBlock::expected(2, 7);
        let mut enc = [0u8; SampleBlock::ENCODED_LEN];
        assert_eq!(block.encoded_len(), SampleBlock::ENCODED_LEN);
        assert_eq!(block.encode(&mut enc), Ok(SampleBlock::ENCODED_LEN));
        let mut made = [0u8; SampleBlock::ENCODED_LEN];
        // In uneven pieces, as the node writes chunks.
        let mut at = 0;
        for n in [3, 1, 1000, 77, 4000] {
            let end = (at + n).min(made.len());
            sample_block_bytes(2, 7, at, &mut made[at..end]);
            at = end;
        }
        assert_eq!(at, made.len());
        assert_eq!(enc, made);
        let b = Block::pattern(3);
        assert_eq!(b.encoded_len(), Block::ENCODED_LEN);
        assert_eq!(
            fnv1a(fnv1a(FNV_START, &enc[..10]), &enc[10..]),
            fnv1a(FNV_START, &enc)
        );
    }
}
