//! Messages, encoders and decoders for the `wire` benchmark.
//!
//! Three messages (`add3`, `tick`, `sensor256`) are encoded and decoded by
//! every contender:
//!
//! - `floor`: a hand-written `#[repr(C)]` struct of `zerocopy::little_endian`
//!   fields; "decode" means producing a validated view, as zerowire's view does;
//! - `zerowire_view` / `zerowire_owned`: `#[derive(zerowire::Wire)]`, decoding
//!   to the borrowed view and to the owned value;
//! - `prost`: `#[derive(prost::Message)]` written by hand (no protoc);
//! - `bincode`: bincode 2's own derive, `config::standard()`;
//! - `postcard`: postcard 1 through serde.
//!
//! Every encoder and decoder is its own `#[inline(never)]` function. Encoders
//! write into a reused buffer and never allocate; owned decoders of
//! `sensor256` all produce a `Vec<f32>`. Each decoded value is reduced by the
//! same kind of `touch_*` function (it reads every scalar field, and the
//! first and last sample plus the count of a batch) so nothing is optimised
//! away. [`verify_all`] checks, once, that every format round-trips the same
//! values; the benchmark runs it before measuring.
//!
//! [`rpc`] holds the systems of the `rpc` benchmark (add3 over loopback TCP).

pub mod rpc;

use std::hint::black_box;

use serde::{Deserialize, Serialize};
use zerocopy::little_endian::{F32, I64, U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};
use zerowire::Wire;

/// Room for the largest encoding of any message in any format.
pub const BUF_LEN: usize = 2048;

/// Number of samples in the `sensor256` message.
pub const SAMPLES: usize = 256;

// ---------------------------------------------------------------------------
// The messages (zerowire, bincode and postcard share these types)
// ---------------------------------------------------------------------------

/// (a) The arguments of an `add3` call.
#[derive(
    Wire, Serialize, Deserialize, bincode::Encode, bincode::Decode, Debug, Clone, PartialEq,
)]
pub struct Add3 {
    pub a: u32,
    pub b: u32,
    pub c: u32,
}

/// (b) A market tick.
#[derive(
    Wire, Serialize, Deserialize, bincode::Encode, bincode::Decode, Debug, Clone, PartialEq,
)]
pub struct Tick {
    pub symbol: [u8; 8],
    pub price: i64,
    pub qty: u32,
    pub ts_ns: u64,
    pub side: u8,
    pub venue: u16,
}

/// (c) A batch of sensor samples.
#[derive(
    Wire, Serialize, Deserialize, bincode::Encode, bincode::Decode, Debug, Clone, PartialEq,
)]
pub struct Sensor {
    pub device: u32,
    pub samples: Vec<f32>,
}

/// The `add3` value every format encodes (1-, 2- and 4-byte varints).
pub fn add3_value() -> Add3 {
    Add3 {
        a: 7,
        b: 2_000,
        c: 3_000_000,
    }
}

/// The `tick` value every format encodes.
pub fn tick_value() -> Tick {
    Tick {
        symbol: *b"AAPL\0\0\0\0",
        price: 189_250_000, // micro-dollars
        qty: 300,
        ts_ns: 1_700_000_000_123_456_789,
        side: 1,
        venue: 7,
    }
}

/// The `sensor256` value every format encodes.
pub fn sensor_value() -> Sensor {
    Sensor {
        device: 42,
        samples: (0..SAMPLES)
            .map(|i| (i as f32 * 0.37).sin() * 100.0 + 0.5)
            .collect(),
    }
}

// ---------------------------------------------------------------------------
// prost: hand-written `prost::Message` derives
// ---------------------------------------------------------------------------

/// `add3` for prost.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Add3Pb {
    #[prost(uint32, tag = "1")]
    pub a: u32,
    #[prost(uint32, tag = "2")]
    pub b: u32,
    #[prost(uint32, tag = "3")]
    pub c: u32,
}

/// `tick` for prost. Protobuf has no 8-byte array, `u8` or `u16`: the symbol
/// is a `fixed64` (its 8 bytes, little-endian; no allocation on decode, the
/// cheapest faithful choice), the timestamp a `fixed64`, `side` and `venue`
/// `uint32`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TickPb {
    #[prost(fixed64, tag = "1")]
    pub symbol: u64,
    #[prost(int64, tag = "2")]
    pub price: i64,
    #[prost(uint32, tag = "3")]
    pub qty: u32,
    #[prost(fixed64, tag = "4")]
    pub ts_ns: u64,
    #[prost(uint32, tag = "5")]
    pub side: u32,
    #[prost(uint32, tag = "6")]
    pub venue: u32,
}

/// `sensor256` for prost (`repeated float`, packed as proto3 does).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SensorPb {
    #[prost(uint32, tag = "1")]
    pub device: u32,
    #[prost(float, repeated, tag = "2")]
    pub samples: Vec<f32>,
}

impl From<&Add3> for Add3Pb {
    fn from(v: &Add3) -> Self {
        Self {
            a: v.a,
            b: v.b,
            c: v.c,
        }
    }
}

impl From<&Tick> for TickPb {
    fn from(v: &Tick) -> Self {
        Self {
            symbol: u64::from_le_bytes(v.symbol),
            price: v.price,
            qty: v.qty,
            ts_ns: v.ts_ns,
            side: v.side.into(),
            venue: v.venue.into(),
        }
    }
}

impl From<&Sensor> for SensorPb {
    fn from(v: &Sensor) -> Self {
        Self {
            device: v.device,
            samples: v.samples.clone(),
        }
    }
}

// ---------------------------------------------------------------------------
// The floor: hand-written zerocopy structs
// ---------------------------------------------------------------------------

/// `add3` as a zerocopy struct.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct Add3Floor {
    pub a: U32,
    pub b: U32,
    pub c: U32,
}

/// `tick` as a zerocopy struct (31 bytes, no padding).
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct TickFloor {
    pub symbol: [u8; 8],
    pub price: I64,
    pub qty: U32,
    pub ts_ns: U64,
    pub side: u8,
    pub venue: U16,
}

/// The header in front of the `sensor256` samples.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct SensorFloorHeader {
    pub device: U32,
    pub count: U32,
}

/// A validated view of a floor-encoded sensor batch.
#[derive(Clone, Copy, Debug)]
pub struct SensorFloorView<'a> {
    pub header: &'a SensorFloorHeader,
    pub samples: &'a [F32],
}

// ---------------------------------------------------------------------------
// touch: reduce a decoded value so that reading it cannot be optimised away
// ---------------------------------------------------------------------------

/// Reduces `add3`'s fields.
#[inline(always)]
pub fn touch_add3(a: u32, b: u32, c: u32) -> u64 {
    u64::from(a)
        .wrapping_add(u64::from(b))
        .wrapping_add(u64::from(c))
}

/// Reduces `tick`'s fields.
#[inline(always)]
pub fn touch_tick(symbol: &[u8; 8], price: i64, qty: u32, ts_ns: u64, side: u8, venue: u16) -> u64 {
    u64::from_le_bytes(*symbol)
        .wrapping_add(price as u64)
        .wrapping_add(u64::from(qty))
        .wrapping_add(ts_ns)
        .wrapping_add(u64::from(side))
        .wrapping_add(u64::from(venue))
}

/// Reduces a sensor batch: its device, count, first and last sample.
#[inline(always)]
pub fn touch_sensor(device: u32, len: usize, first: f32, last: f32) -> u64 {
    u64::from(device)
        .wrapping_add(len as u64)
        .wrapping_add(u64::from(first.to_bits()))
        .wrapping_add(u64::from(last.to_bits()))
}

/// Reduces an owned sensor batch.
#[inline(always)]
pub fn touch_samples(device: u32, samples: &[f32]) -> u64 {
    touch_sensor(
        device,
        samples.len(),
        samples.first().copied().unwrap_or(f32::NAN),
        samples.last().copied().unwrap_or(f32::NAN),
    )
}

/// Reduces a little-endian sample slice (floor and zerowire views).
#[inline(always)]
pub fn touch_le_samples(device: u32, samples: &[F32]) -> u64 {
    touch_sensor(
        device,
        samples.len(),
        samples.first().map_or(f32::NAN, |s| s.get()),
        samples.last().map_or(f32::NAN, |s| s.get()),
    )
}

// ---------------------------------------------------------------------------
// floor
// ---------------------------------------------------------------------------

pub mod floor {
    //! Hand-written zerocopy encoding: the floor.
    use super::*;

    #[inline(never)]
    pub fn encode_add3(v: &Add3, buf: &mut [u8]) -> usize {
        // Fields are stored straight into the buffer: building the struct on
        // the stack and copying it (`write_to_prefix`) is measurably slower.
        let (f, _) = Add3Floor::mut_from_prefix(buf).expect("buffer too small");
        f.a = v.a.into();
        f.b = v.b.into();
        f.c = v.c.into();
        size_of::<Add3Floor>()
    }

    #[inline(never)]
    pub fn decode_add3(bytes: &[u8]) -> &Add3Floor {
        Add3Floor::ref_from_bytes(bytes).expect("bad add3")
    }

    #[inline(never)]
    pub fn encode_tick(v: &Tick, buf: &mut [u8]) -> usize {
        let (f, _) = TickFloor::mut_from_prefix(buf).expect("buffer too small");
        f.symbol = v.symbol;
        f.price = v.price.into();
        f.qty = v.qty.into();
        f.ts_ns = v.ts_ns.into();
        f.side = v.side;
        f.venue = v.venue.into();
        size_of::<TickFloor>()
    }

    #[inline(never)]
    pub fn decode_tick(bytes: &[u8]) -> &TickFloor {
        TickFloor::ref_from_bytes(bytes).expect("bad tick")
    }

    #[inline(never)]
    pub fn encode_sensor(v: &Sensor, buf: &mut [u8]) -> usize {
        let count = u32::try_from(v.samples.len()).expect("too many samples");
        #[cfg(target_endian = "little")]
        let samples: &[u8] = v.samples.as_slice().as_bytes();
        #[cfg(not(target_endian = "little"))]
        compile_error!("the floor's sample copy assumes a little-endian machine");
        let h = size_of::<SensorFloorHeader>();
        let end = h + samples.len();
        let out = &mut buf[..end];
        let (header, rest) = SensorFloorHeader::mut_from_prefix(out).expect("buffer too small");
        header.device = v.device.into();
        header.count = count.into();
        rest.copy_from_slice(samples);
        end
    }

    #[inline(never)]
    pub fn decode_sensor(bytes: &[u8]) -> SensorFloorView<'_> {
        let (header, rest) = SensorFloorHeader::ref_from_prefix(bytes).expect("bad sensor header");
        let samples = <[F32]>::ref_from_bytes(rest).expect("bad sensor samples");
        assert!(
            samples.len() == header.count.get() as usize,
            "bad sensor count"
        );
        SensorFloorView { header, samples }
    }
}

// ---------------------------------------------------------------------------
// zerowire
// ---------------------------------------------------------------------------

pub mod zw {
    //! zerowire through `#[derive(Wire)]`.
    use super::*;

    #[inline(never)]
    pub fn encode_add3(v: &Add3, buf: &mut [u8]) -> usize {
        v.encode(buf).expect("encode add3")
    }

    #[inline(never)]
    pub fn decode_add3_view(bytes: &[u8]) -> <Add3 as Wire>::View<'_> {
        Add3::decode_view(bytes).expect("decode add3")
    }

    #[inline(never)]
    pub fn decode_add3(bytes: &[u8]) -> Add3 {
        Add3::decode(bytes).expect("decode add3")
    }

    #[inline(never)]
    pub fn encode_tick(v: &Tick, buf: &mut [u8]) -> usize {
        v.encode(buf).expect("encode tick")
    }

    #[inline(never)]
    pub fn decode_tick_view(bytes: &[u8]) -> <Tick as Wire>::View<'_> {
        Tick::decode_view(bytes).expect("decode tick")
    }

    #[inline(never)]
    pub fn decode_tick(bytes: &[u8]) -> Tick {
        Tick::decode(bytes).expect("decode tick")
    }

    #[inline(never)]
    pub fn encode_sensor(v: &Sensor, buf: &mut [u8]) -> usize {
        v.encode(buf).expect("encode sensor")
    }

    #[inline(never)]
    pub fn decode_sensor_view(bytes: &[u8]) -> <Sensor as Wire>::View<'_> {
        Sensor::decode_view(bytes).expect("decode sensor")
    }

    #[inline(never)]
    pub fn decode_sensor(bytes: &[u8]) -> Sensor {
        Sensor::decode(bytes).expect("decode sensor")
    }

    /// Checks zerowire's encoding, view and owned decoding of `v`.
    pub fn verify_add3(v: &Add3, buf: &mut [u8]) {
        let n = encode_add3(v, buf);
        assert_eq!(n, v.encoded_len(), "zerowire add3 length");
        let d = decode_add3_view(&buf[..n]);
        assert_eq!((d.a(), d.b(), d.c()), (v.a, v.b, v.c), "zerowire add3 view");
        assert_eq!(decode_add3(&buf[..n]), *v, "zerowire add3 owned");
    }

    /// Checks zerowire's encoding, view and owned decoding of `v`.
    pub fn verify_tick(v: &Tick, buf: &mut [u8]) {
        let n = encode_tick(v, buf);
        assert_eq!(n, v.encoded_len(), "zerowire tick length");
        let d = decode_tick_view(&buf[..n]);
        assert_eq!(
            (
                *d.symbol(),
                d.price(),
                d.qty(),
                d.ts_ns(),
                d.side(),
                d.venue()
            ),
            (v.symbol, v.price, v.qty, v.ts_ns, v.side, v.venue),
            "zerowire tick view"
        );
        assert_eq!(decode_tick(&buf[..n]), *v, "zerowire tick owned");
    }

    /// Checks zerowire's encoding, view and owned decoding of `v`.
    pub fn verify_sensor(v: &Sensor, buf: &mut [u8]) {
        let n = encode_sensor(v, buf);
        assert_eq!(n, v.encoded_len(), "zerowire sensor length");
        let d = decode_sensor_view(&buf[..n]);
        assert_eq!(d.device(), v.device, "zerowire sensor view device");
        assert_eq!(d.samples().len(), SAMPLES, "zerowire sensor view count");
        assert_eq!(
            le_samples(d.samples().as_slice()),
            v.samples,
            "zerowire sensor view samples"
        );
        assert!(
            d.samples().iter().eq(v.samples.iter().copied()),
            "zerowire sensor view iter"
        );
        assert_eq!(decode_sensor(&buf[..n]), *v, "zerowire sensor owned");
    }
}

// ---------------------------------------------------------------------------
// prost
// ---------------------------------------------------------------------------

pub mod pb {
    //! prost: encode appends to a cleared, reused `Vec`.
    use super::*;
    use prost::Message;

    #[inline(never)]
    pub fn encode_add3(v: &Add3Pb, buf: &mut Vec<u8>) -> usize {
        buf.clear();
        v.encode(buf).expect("encode add3");
        buf.len()
    }

    #[inline(never)]
    pub fn decode_add3(bytes: &[u8]) -> Add3Pb {
        Add3Pb::decode(bytes).expect("decode add3")
    }

    #[inline(never)]
    pub fn encode_tick(v: &TickPb, buf: &mut Vec<u8>) -> usize {
        buf.clear();
        v.encode(buf).expect("encode tick");
        buf.len()
    }

    #[inline(never)]
    pub fn decode_tick(bytes: &[u8]) -> TickPb {
        TickPb::decode(bytes).expect("decode tick")
    }

    #[inline(never)]
    pub fn encode_sensor(v: &SensorPb, buf: &mut Vec<u8>) -> usize {
        buf.clear();
        v.encode(buf).expect("encode sensor");
        buf.len()
    }

    #[inline(never)]
    pub fn decode_sensor(bytes: &[u8]) -> SensorPb {
        SensorPb::decode(bytes).expect("decode sensor")
    }
}

// ---------------------------------------------------------------------------
// bincode 2
// ---------------------------------------------------------------------------

pub mod bc {
    //! bincode 2, own derive, `config::standard()`, `encode_into_slice`.
    use super::*;

    const CONFIG: bincode::config::Configuration = bincode::config::standard();

    #[inline(never)]
    pub fn encode_add3(v: &Add3, buf: &mut [u8]) -> usize {
        bincode::encode_into_slice(v, buf, CONFIG).expect("encode add3")
    }

    #[inline(never)]
    pub fn decode_add3(bytes: &[u8]) -> Add3 {
        bincode::decode_from_slice(bytes, CONFIG)
            .expect("decode add3")
            .0
    }

    #[inline(never)]
    pub fn encode_tick(v: &Tick, buf: &mut [u8]) -> usize {
        bincode::encode_into_slice(v, buf, CONFIG).expect("encode tick")
    }

    #[inline(never)]
    pub fn decode_tick(bytes: &[u8]) -> Tick {
        bincode::decode_from_slice(bytes, CONFIG)
            .expect("decode tick")
            .0
    }

    #[inline(never)]
    pub fn encode_sensor(v: &Sensor, buf: &mut [u8]) -> usize {
        bincode::encode_into_slice(v, buf, CONFIG).expect("encode sensor")
    }

    #[inline(never)]
    pub fn decode_sensor(bytes: &[u8]) -> Sensor {
        bincode::decode_from_slice(bytes, CONFIG)
            .expect("decode sensor")
            .0
    }
}

// ---------------------------------------------------------------------------
// postcard
// ---------------------------------------------------------------------------

pub mod pc {
    //! postcard 1 through serde, `to_slice` / `from_bytes`.
    use super::*;

    #[inline(never)]
    pub fn encode_add3(v: &Add3, buf: &mut [u8]) -> usize {
        postcard::to_slice(v, buf).expect("encode add3").len()
    }

    #[inline(never)]
    pub fn decode_add3(bytes: &[u8]) -> Add3 {
        postcard::from_bytes(bytes).expect("decode add3")
    }

    #[inline(never)]
    pub fn encode_tick(v: &Tick, buf: &mut [u8]) -> usize {
        postcard::to_slice(v, buf).expect("encode tick").len()
    }

    #[inline(never)]
    pub fn decode_tick(bytes: &[u8]) -> Tick {
        postcard::from_bytes(bytes).expect("decode tick")
    }

    #[inline(never)]
    pub fn encode_sensor(v: &Sensor, buf: &mut [u8]) -> usize {
        postcard::to_slice(v, buf).expect("encode sensor").len()
    }

    #[inline(never)]
    pub fn decode_sensor(bytes: &[u8]) -> Sensor {
        postcard::from_bytes(bytes).expect("decode sensor")
    }
}

// ---------------------------------------------------------------------------
// One round trip per contender: encode, decode, touch. The benchmark times
// exactly these functions; `verify_all` checks their results.
// ---------------------------------------------------------------------------

/// Round trips of `add3`; each returns the touched sum.
pub mod add3 {
    use super::*;

    #[inline(always)]
    pub fn floor(v: &Add3, buf: &mut [u8]) -> u64 {
        let n = floor::encode_add3(black_box(v), black_box(&mut *buf));
        let d = floor::decode_add3(black_box(&buf[..n]));
        black_box(touch_add3(d.a.get(), d.b.get(), d.c.get()))
    }

    #[inline(always)]
    pub fn zerowire_view(v: &Add3, buf: &mut [u8]) -> u64 {
        let n = zw::encode_add3(black_box(v), black_box(&mut *buf));
        let d = zw::decode_add3_view(black_box(&buf[..n]));
        black_box(touch_add3(d.a(), d.b(), d.c()))
    }

    #[inline(always)]
    pub fn zerowire_owned(v: &Add3, buf: &mut [u8]) -> u64 {
        let n = zw::encode_add3(black_box(v), black_box(&mut *buf));
        let d = zw::decode_add3(black_box(&buf[..n]));
        black_box(touch_add3(d.a, d.b, d.c))
    }

    #[inline(always)]
    pub fn prost(v: &Add3Pb, buf: &mut Vec<u8>) -> u64 {
        let n = pb::encode_add3(black_box(v), black_box(&mut *buf));
        let d = pb::decode_add3(black_box(&buf[..n]));
        black_box(touch_add3(d.a, d.b, d.c))
    }

    #[inline(always)]
    pub fn bincode(v: &Add3, buf: &mut [u8]) -> u64 {
        let n = bc::encode_add3(black_box(v), black_box(&mut *buf));
        let d = bc::decode_add3(black_box(&buf[..n]));
        black_box(touch_add3(d.a, d.b, d.c))
    }

    #[inline(always)]
    pub fn postcard(v: &Add3, buf: &mut [u8]) -> u64 {
        let n = pc::encode_add3(black_box(v), black_box(&mut *buf));
        let d = pc::decode_add3(black_box(&buf[..n]));
        black_box(touch_add3(d.a, d.b, d.c))
    }
}

/// Round trips of `tick`; each returns the touched sum.
pub mod tick {
    use super::*;

    #[inline(always)]
    pub fn floor(v: &Tick, buf: &mut [u8]) -> u64 {
        let n = floor::encode_tick(black_box(v), black_box(&mut *buf));
        let d = floor::decode_tick(black_box(&buf[..n]));
        black_box(touch_tick(
            &d.symbol,
            d.price.get(),
            d.qty.get(),
            d.ts_ns.get(),
            d.side,
            d.venue.get(),
        ))
    }

    #[inline(always)]
    pub fn zerowire_view(v: &Tick, buf: &mut [u8]) -> u64 {
        let n = zw::encode_tick(black_box(v), black_box(&mut *buf));
        let d = zw::decode_tick_view(black_box(&buf[..n]));
        black_box(touch_tick(
            d.symbol(),
            d.price(),
            d.qty(),
            d.ts_ns(),
            d.side(),
            d.venue(),
        ))
    }

    #[inline(always)]
    pub fn zerowire_owned(v: &Tick, buf: &mut [u8]) -> u64 {
        let n = zw::encode_tick(black_box(v), black_box(&mut *buf));
        let d = zw::decode_tick(black_box(&buf[..n]));
        black_box(touch_tick(
            &d.symbol, d.price, d.qty, d.ts_ns, d.side, d.venue,
        ))
    }

    #[inline(always)]
    pub fn prost(v: &TickPb, buf: &mut Vec<u8>) -> u64 {
        let n = pb::encode_tick(black_box(v), black_box(&mut *buf));
        let d = pb::decode_tick(black_box(&buf[..n]));
        black_box(touch_tick(
            &d.symbol.to_le_bytes(),
            d.price,
            d.qty,
            d.ts_ns,
            d.side as u8,
            d.venue as u16,
        ))
    }

    #[inline(always)]
    pub fn bincode(v: &Tick, buf: &mut [u8]) -> u64 {
        let n = bc::encode_tick(black_box(v), black_box(&mut *buf));
        let d = bc::decode_tick(black_box(&buf[..n]));
        black_box(touch_tick(
            &d.symbol, d.price, d.qty, d.ts_ns, d.side, d.venue,
        ))
    }

    #[inline(always)]
    pub fn postcard(v: &Tick, buf: &mut [u8]) -> u64 {
        let n = pc::encode_tick(black_box(v), black_box(&mut *buf));
        let d = pc::decode_tick(black_box(&buf[..n]));
        black_box(touch_tick(
            &d.symbol, d.price, d.qty, d.ts_ns, d.side, d.venue,
        ))
    }
}

/// Round trips of `sensor256`; each returns the touched sum.
pub mod sensor {
    use super::*;

    #[inline(always)]
    pub fn floor(v: &Sensor, buf: &mut [u8]) -> u64 {
        let n = floor::encode_sensor(black_box(v), black_box(&mut *buf));
        let d = floor::decode_sensor(black_box(&buf[..n]));
        black_box(touch_le_samples(d.header.device.get(), d.samples))
    }

    #[inline(always)]
    pub fn zerowire_view(v: &Sensor, buf: &mut [u8]) -> u64 {
        let n = zw::encode_sensor(black_box(v), black_box(&mut *buf));
        let d = zw::decode_sensor_view(black_box(&buf[..n]));
        black_box(touch_le_samples(d.device(), d.samples().as_slice()))
    }

    #[inline(always)]
    pub fn zerowire_owned(v: &Sensor, buf: &mut [u8]) -> u64 {
        let n = zw::encode_sensor(black_box(v), black_box(&mut *buf));
        let d = zw::decode_sensor(black_box(&buf[..n]));
        black_box(touch_samples(d.device, &d.samples))
    }

    #[inline(always)]
    pub fn prost(v: &SensorPb, buf: &mut Vec<u8>) -> u64 {
        let n = pb::encode_sensor(black_box(v), black_box(&mut *buf));
        let d = pb::decode_sensor(black_box(&buf[..n]));
        black_box(touch_samples(d.device, &d.samples))
    }

    #[inline(always)]
    pub fn bincode(v: &Sensor, buf: &mut [u8]) -> u64 {
        let n = bc::encode_sensor(black_box(v), black_box(&mut *buf));
        let d = bc::decode_sensor(black_box(&buf[..n]));
        black_box(touch_samples(d.device, &d.samples))
    }

    #[inline(always)]
    pub fn postcard(v: &Sensor, buf: &mut [u8]) -> u64 {
        let n = pc::encode_sensor(black_box(v), black_box(&mut *buf));
        let d = pc::decode_sensor(black_box(&buf[..n]));
        black_box(touch_samples(d.device, &d.samples))
    }
}

// ---------------------------------------------------------------------------
// The round-trip check
// ---------------------------------------------------------------------------

fn le_samples(s: &[F32]) -> Vec<f32> {
    s.iter().map(|x| x.get()).collect()
}

/// Checks that every contender encodes and decodes the benchmark values
/// exactly, and that every round-trip function returns the same touched sum.
/// Panics on the first mismatch.
pub fn verify_all() {
    let mut buf = vec![0u8; BUF_LEN];
    let mut vbuf: Vec<u8> = Vec::with_capacity(BUF_LEN);

    // add3
    let v = add3_value();
    let p = Add3Pb::from(&v);
    let want = touch_add3(v.a, v.b, v.c);
    {
        let n = floor::encode_add3(&v, &mut buf);
        let d = floor::decode_add3(&buf[..n]);
        assert_eq!(
            (d.a.get(), d.b.get(), d.c.get()),
            (v.a, v.b, v.c),
            "floor add3"
        );

        zw::verify_add3(&v, &mut buf);

        let n = pb::encode_add3(&p, &mut vbuf);
        assert_eq!(pb::decode_add3(&vbuf[..n]), p, "prost add3");
        let n = bc::encode_add3(&v, &mut buf);
        assert_eq!(bc::decode_add3(&buf[..n]), v, "bincode add3");
        let n = pc::encode_add3(&v, &mut buf);
        assert_eq!(pc::decode_add3(&buf[..n]), v, "postcard add3");

        assert_eq!(add3::floor(&v, &mut buf), want);
        assert_eq!(add3::zerowire_view(&v, &mut buf), want);
        assert_eq!(add3::zerowire_owned(&v, &mut buf), want);
        assert_eq!(add3::prost(&p, &mut vbuf), want);
        assert_eq!(add3::bincode(&v, &mut buf), want);
        assert_eq!(add3::postcard(&v, &mut buf), want);
    }

    // tick
    let v = tick_value();
    let p = TickPb::from(&v);
    let want = touch_tick(&v.symbol, v.price, v.qty, v.ts_ns, v.side, v.venue);
    {
        let n = floor::encode_tick(&v, &mut buf);
        let d = floor::decode_tick(&buf[..n]);
        assert_eq!(
            (
                d.symbol,
                d.price.get(),
                d.qty.get(),
                d.ts_ns.get(),
                d.side,
                d.venue.get()
            ),
            (v.symbol, v.price, v.qty, v.ts_ns, v.side, v.venue),
            "floor tick"
        );

        zw::verify_tick(&v, &mut buf);

        let n = pb::encode_tick(&p, &mut vbuf);
        assert_eq!(pb::decode_tick(&vbuf[..n]), p, "prost tick");
        let n = bc::encode_tick(&v, &mut buf);
        assert_eq!(bc::decode_tick(&buf[..n]), v, "bincode tick");
        let n = pc::encode_tick(&v, &mut buf);
        assert_eq!(pc::decode_tick(&buf[..n]), v, "postcard tick");

        assert_eq!(tick::floor(&v, &mut buf), want);
        assert_eq!(tick::zerowire_view(&v, &mut buf), want);
        assert_eq!(tick::zerowire_owned(&v, &mut buf), want);
        assert_eq!(tick::prost(&p, &mut vbuf), want);
        assert_eq!(tick::bincode(&v, &mut buf), want);
        assert_eq!(tick::postcard(&v, &mut buf), want);
    }

    // sensor256
    let v = sensor_value();
    assert_eq!(v.samples.len(), SAMPLES);
    let p = SensorPb::from(&v);
    let want = touch_samples(v.device, &v.samples);
    {
        let n = floor::encode_sensor(&v, &mut buf);
        let d = floor::decode_sensor(&buf[..n]);
        assert_eq!(d.header.device.get(), v.device, "floor sensor device");
        assert_eq!(le_samples(d.samples), v.samples, "floor sensor samples");

        zw::verify_sensor(&v, &mut buf);

        let n = pb::encode_sensor(&p, &mut vbuf);
        assert_eq!(pb::decode_sensor(&vbuf[..n]), p, "prost sensor");
        let n = bc::encode_sensor(&v, &mut buf);
        assert_eq!(bc::decode_sensor(&buf[..n]), v, "bincode sensor");
        let n = pc::encode_sensor(&v, &mut buf);
        assert_eq!(pc::decode_sensor(&buf[..n]), v, "postcard sensor");

        assert_eq!(sensor::floor(&v, &mut buf), want);
        assert_eq!(sensor::zerowire_view(&v, &mut buf), want);
        assert_eq!(sensor::zerowire_owned(&v, &mut buf), want);
        assert_eq!(sensor::prost(&p, &mut vbuf), want);
        assert_eq!(sensor::bincode(&v, &mut buf), want);
        assert_eq!(sensor::postcard(&v, &mut buf), want);
    }
}

/// Encoded sizes in bytes, per message, for the report:
/// `(format, [add3, tick, sensor256])`.
pub fn encoded_sizes() -> Vec<(&'static str, [usize; 3])> {
    let mut buf = vec![0u8; BUF_LEN];
    let mut vbuf: Vec<u8> = Vec::with_capacity(BUF_LEN);
    let (a, t, s) = (add3_value(), tick_value(), sensor_value());
    vec![
        (
            "floor",
            [
                floor::encode_add3(&a, &mut buf),
                floor::encode_tick(&t, &mut buf),
                floor::encode_sensor(&s, &mut buf),
            ],
        ),
        (
            "zerowire",
            [
                zw::encode_add3(&a, &mut buf),
                zw::encode_tick(&t, &mut buf),
                zw::encode_sensor(&s, &mut buf),
            ],
        ),
        (
            "prost",
            [
                pb::encode_add3(&(&a).into(), &mut vbuf),
                pb::encode_tick(&(&t).into(), &mut vbuf),
                pb::encode_sensor(&(&s).into(), &mut vbuf),
            ],
        ),
        (
            "bincode",
            [
                bc::encode_add3(&a, &mut buf),
                bc::encode_tick(&t, &mut buf),
                bc::encode_sensor(&s, &mut buf),
            ],
        ),
        (
            "postcard",
            [
                pc::encode_add3(&a, &mut buf),
                pc::encode_tick(&t, &mut buf),
                pc::encode_sensor(&s, &mut buf),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_format_round_trips() {
        super::verify_all();
    }

    #[test]
    fn encoded_sizes_are_plausible() {
        for (name, sizes) in super::encoded_sizes() {
            println!(
                "{name:>9}: add3 {:>4} B, tick {:>4} B, sensor256 {:>5} B",
                sizes[0], sizes[1], sizes[2]
            );
            assert!(
                sizes.iter().all(|&n| n > 0 && n <= super::BUF_LEN),
                "{name}: {sizes:?}"
            );
        }
    }
}
