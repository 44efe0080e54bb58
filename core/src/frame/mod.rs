//! The frame codec: how bodies travel on a byte stream.
//!
//! Every frame is `type: u8 ‖ len: LPV ‖ rest[len]`, where `len` counts the
//! bytes after the `len` field. Frames are self-delimiting, so any number can
//! share one write and a frame can be split across reads. A small call
//! (method < 128, call id < 64, body < 62 bytes) has a 3-byte header:
//! type (which carries the method), len, call id.
//!
//! | type | frame | rest |
//! |---|---|---|
//! | `0x00–0x7F` | CALL, method = type | `call_id: LPV ‖ body` |
//! | `0x80–0x9F` | DATA, flags = type & 0x1F | `call_id ‖ [method if OPEN] ‖ [total_len if TOTAL] ‖ payload` |
//! | `0xA0` | CANCEL | `call_id` |
//! | `0xA1` | CREDIT | `call_id ‖ bytes: LPV` |
//! | `0xA2` / `0xA3` | PING / PONG | 0–8 opaque bytes |
//! | `0xA4` | GOAWAY | `last_call_id ‖ code: LPV` |
//! | `0xA5` | HELLO | a [`Hello`] body |
//! | `0xA6` | MTABLE | `first_index: LPV ‖ n × (method id: u64, fingerprint: u64)` |
//! | `0xC0–0xDF` | extension: skipped by receivers that do not know it | opaque |
//! | others | reserved: a protocol error | – |
//!
//! Decoding is resumable: [`FrameDecoder::decode`] on a buffer that holds a
//! partial frame says how many bytes are missing, and checks the declared
//! length against the limit as soon as the header is complete, before any
//! payload is waited for or stored. [`FrameReader`] accumulates a byte stream
//! in caller-owned storage and yields frames in place.

mod hello;
mod reader;

pub use hello::{Hello, HelloView, MAGIC, PROTOCOL_VERSION};
pub use reader::FrameReader;

use core::fmt;

use crate::wire::varint::{self, VarintError};
use crate::wire::{DecodeError, DecodeErrorKind, Encode, EncodeError, Reader, Wire, Writer};
use zerocopy::little_endian::U64;
use zerocopy::FromBytes;

/// The longest frame header: a type byte and an 8-byte LPV length.
pub const MAX_HEADER_LEN: usize = 9;
/// The largest frame a peer must accept before the handshake has told it
/// the other side's limits.
pub const PRE_HELLO_MAX_FRAME: u32 = 128;
/// The largest payload of a PING or PONG frame.
pub const MAX_PING_LEN: usize = 8;

/// Frame type bytes.
pub mod ty {
    /// Highest CALL type (method 127).
    pub const CALL_MAX: u8 = 0x7F;
    /// First DATA type; the low five bits are [`DataFlags`](super::DataFlags).
    pub const DATA: u8 = 0x80;
    /// CANCEL.
    pub const CANCEL: u8 = 0xA0;
    /// CREDIT.
    pub const CREDIT: u8 = 0xA1;
    /// PING.
    pub const PING: u8 = 0xA2;
    /// PONG.
    pub const PONG: u8 = 0xA3;
    /// GOAWAY.
    pub const GOAWAY: u8 = 0xA4;
    /// HELLO.
    pub const HELLO: u8 = 0xA5;
    /// MTABLE.
    pub const MTABLE: u8 = 0xA6;
    /// First extension type.
    pub const EXT_FIRST: u8 = 0xC0;
    /// Last extension type.
    pub const EXT_LAST: u8 = 0xDF;
}

/// The flag bits of a DATA frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DataFlags(u8);

impl DataFlags {
    /// Last chunk of this message.
    pub const FIN_MSG: Self = Self(0x01);
    /// Last message in this direction of the call.
    pub const FIN_STREAM: Self = Self(0x02);
    /// Opens a call: a method index follows the call id.
    pub const OPEN: Self = Self(0x04);
    /// The payload is an error body.
    pub const ERROR: Self = Self(0x08);
    /// First chunk of a chunked message: its total length follows.
    pub const TOTAL: Self = Self(0x10);
    /// A whole single-frame reply: `FIN_MSG | FIN_STREAM`.
    pub const REPLY: Self = Self(0x03);

    /// The flags from their bits; bits above the five defined ones are dropped.
    #[inline]
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits & 0x1F)
    }
    /// The raw bits.
    #[inline]
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// Whether every flag of `other` is set.
    #[inline]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
    /// The union of two flag sets.
    #[inline]
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// One decoded frame; slices borrow the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame<'a> {
    /// A whole request in one frame.
    Call {
        /// Method index, 0–127.
        method: u8,
        /// The caller's call id.
        call_id: u64,
        /// The encoded arguments.
        body: &'a [u8],
    },
    /// A chunk of a request, reply or stream message.
    Data {
        /// Flag bits.
        flags: DataFlags,
        /// The call this chunk belongs to.
        call_id: u64,
        /// The method, present when `flags` has `OPEN`.
        method: Option<u64>,
        /// The whole message's length, present when `flags` has `TOTAL`.
        total_len: Option<u64>,
        /// The chunk's bytes.
        payload: &'a [u8],
    },
    /// The caller gives up on a call.
    Cancel {
        /// The call.
        call_id: u64,
    },
    /// The receiver grants more bytes for a call.
    Credit {
        /// The call.
        call_id: u64,
        /// Additional bytes the peer may send.
        bytes: u64,
    },
    /// Keepalive probe with up to 8 opaque bytes, echoed in a PONG.
    Ping(&'a [u8]),
    /// Keepalive answer.
    Pong(&'a [u8]),
    /// The sender is closing: calls above `last_call_id` were not processed.
    GoAway {
        /// The highest call id the sender processed.
        last_call_id: u64,
        /// Why (see `docs/wire-format.md`).
        code: u64,
    },
    /// The handshake; `body` is a validated [`Hello`] encoding.
    Hello {
        /// The encoded [`Hello`] (decode it with `Hello::decode`).
        body: &'a [u8],
    },
    /// Per-method schema fingerprints, starting at method `first_index`.
    MethodTable {
        /// Method index of the first fingerprint.
        first_index: u64,
        /// The fingerprints, little-endian.
        fingerprints: &'a [U64],
    },
    /// An extension frame (type 0xC0–0xDF) that receivers may skip.
    Extension {
        /// The type byte.
        ty: u8,
        /// The payload.
        body: &'a [u8],
    },
}

/// Why a byte stream is not a valid frame sequence. Every variant is fatal
/// for the connection: after it the stream cannot be resynchronised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The declared frame length is above the receiver's limit.
    TooLarge {
        /// The declared length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The frame length is not a minimal LPV.
    NonMinimalLength,
    /// A reserved frame type.
    UnknownType(u8),
    /// A frame's fields do not parse.
    Malformed {
        /// The frame's type byte.
        ty: u8,
        /// What was wrong; the offset counts from the frame's first byte.
        error: DecodeError,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max}")
            }
            Self::NonMinimalLength => f.write_str("frame length is a non-minimal varint"),
            Self::UnknownType(t) => write!(f, "reserved frame type {t:#04x}"),
            Self::Malformed { ty, error } => {
                write!(f, "malformed frame of type {ty:#04x}: {error}")
            }
        }
    }
}

impl core::error::Error for FrameError {}

/// The result of decoding from the front of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole frame, `len` bytes long including its header.
    Frame {
        /// The frame.
        frame: Frame<'a>,
        /// Bytes it occupies in the buffer.
        len: usize,
    },
    /// The buffer holds a partial frame; at least `needed` more bytes are needed.
    Incomplete {
        /// Bytes missing.
        needed: usize,
    },
}

/// Decodes frames under a size limit. Stateless: feed it the unconsumed
/// bytes; it never reads past a frame's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameDecoder {
    max_frame: u64,
}

impl FrameDecoder {
    /// A decoder that rejects frames whose `len` exceeds `max_frame`.
    #[inline]
    pub const fn new(max_frame: u32) -> Self {
        Self {
            max_frame: max_frame as u64,
        }
    }

    /// The current limit.
    #[inline]
    pub const fn max_frame(&self) -> u64 {
        self.max_frame
    }

    /// Reads the header at the front of `buf`: `Ok(Some((header_len,
    /// rest_len)))` once it is complete and within the limit, `Ok(None)` when
    /// more bytes are needed for the header itself.
    #[inline]
    pub fn header(&self, buf: &[u8]) -> Result<Option<(usize, usize)>, FrameError> {
        let Some(len_bytes) = buf.get(1..) else {
            return Ok(None);
        };
        match varint::decode(len_bytes) {
            Ok((len, n)) => {
                if len > self.max_frame {
                    return Err(FrameError::TooLarge {
                        len,
                        max: self.max_frame,
                    });
                }
                // `len <= max_frame <= u32::MAX`, so these fit in usize on
                // every supported target.
                let rest = usize::try_from(len).map_err(|_| FrameError::TooLarge {
                    len,
                    max: self.max_frame,
                })?;
                Ok(Some((n.saturating_add(1), rest)))
            }
            Err(VarintError::Incomplete(_)) => Ok(None),
            Err(VarintError::NonMinimal) => Err(FrameError::NonMinimalLength),
        }
    }

    /// Decodes one frame from the front of `buf`.
    pub fn decode<'a>(&self, buf: &'a [u8]) -> Result<Decoded<'a>, FrameError> {
        let Some((head, rest_len)) = self.header(buf)? else {
            let needed = match buf.get(1) {
                None => 2usize.saturating_sub(buf.len()),
                Some(&b) => (1usize << (b & 3))
                    .saturating_add(1)
                    .saturating_sub(buf.len()),
            };
            return Ok(Decoded::Incomplete { needed });
        };
        let total = head.saturating_add(rest_len);
        let Some(frame_bytes) = buf.get(..total) else {
            return Ok(Decoded::Incomplete {
                needed: total.saturating_sub(buf.len()),
            });
        };
        let ty = frame_bytes.first().copied().unwrap_or_default();
        let rest = frame_bytes.get(head..).unwrap_or_default();
        let frame = parse(ty, rest, head)?;
        Ok(Decoded::Frame { frame, len: total })
    }

    /// Iterates over the whole frames at the front of `buf`, in one pass.
    /// After the iterator ends, [`Frames::consumed`] tells where the partial
    /// remainder (if any) starts.
    #[inline]
    pub fn frames<'a>(&self, buf: &'a [u8]) -> Frames<'a> {
        Frames {
            decoder: *self,
            buf,
            consumed: 0,
            failed: false,
        }
    }
}

/// Iterator over back-to-back frames; see [`FrameDecoder::frames`].
#[derive(Debug)]
pub struct Frames<'a> {
    decoder: FrameDecoder,
    buf: &'a [u8],
    consumed: usize,
    failed: bool,
}

impl Frames<'_> {
    /// Bytes taken by the frames yielded so far.
    #[inline]
    pub fn consumed(&self) -> usize {
        self.consumed
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.consumed..)?;
        match self.decoder.decode(rest) {
            Ok(Decoded::Frame { frame, len }) => {
                self.consumed = self.consumed.saturating_add(len);
                Some(Ok(frame))
            }
            Ok(Decoded::Incomplete { .. }) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// A frame of type `ty` whose fields do not parse; `error`'s offset counts
/// from the end of the frame's `head` bytes of header.
fn malformed_at(ty: u8, head: usize, error: DecodeError) -> FrameError {
    FrameError::Malformed {
        ty,
        error: DecodeError::new(error.kind, error.offset.saturating_add(head)),
    }
}

/// Reads one LPV field of a frame of type `ty` (see [`parse`]).
///
/// Out of line: the parser reads a field in eight places, and on a
/// microcontroller each inlined copy of the LPV reader costs over 100
/// bytes of flash.
#[inline(never)]
fn field(r: &mut Reader<'_>, ty: u8, head: usize) -> Result<u64, FrameError> {
    r.varint().map_err(|e| malformed_at(ty, head, e))
}

/// Parses the frame of type `ty` whose bytes after the `head` bytes of
/// header are `rest`.
pub(crate) fn parse(ty: u8, rest: &[u8], head: usize) -> Result<Frame<'_>, FrameError> {
    let malformed = |error: DecodeError| malformed_at(ty, head, error);
    let mut r = Reader::new(rest);
    let frame = match ty {
        0..=ty::CALL_MAX => {
            let call_id = field(&mut r, ty, head)?;
            Frame::Call {
                method: ty,
                call_id,
                body: r.rest(),
            }
        }
        0x80..=0x9F => {
            let flags = DataFlags::from_bits(ty);
            let call_id = field(&mut r, ty, head)?;
            let method = if flags.contains(DataFlags::OPEN) {
                Some(field(&mut r, ty, head)?)
            } else {
                None
            };
            let total_len = if flags.contains(DataFlags::TOTAL) {
                Some(field(&mut r, ty, head)?)
            } else {
                None
            };
            Frame::Data {
                flags,
                call_id,
                method,
                total_len,
                payload: r.rest(),
            }
        }
        ty::CANCEL => {
            let call_id = field(&mut r, ty, head)?;
            r.finish().map_err(malformed)?;
            Frame::Cancel { call_id }
        }
        ty::CREDIT => {
            let call_id = field(&mut r, ty, head)?;
            let bytes = field(&mut r, ty, head)?;
            r.finish().map_err(malformed)?;
            Frame::Credit { call_id, bytes }
        }
        ty::PING | ty::PONG => {
            if rest.len() > MAX_PING_LEN {
                return Err(malformed(DecodeError::new(
                    DecodeErrorKind::TrailingBytes {
                        count: rest.len().saturating_sub(MAX_PING_LEN),
                    },
                    MAX_PING_LEN,
                )));
            }
            if ty == ty::PING {
                Frame::Ping(rest)
            } else {
                Frame::Pong(rest)
            }
        }
        ty::GOAWAY => {
            let last_call_id = field(&mut r, ty, head)?;
            let code = field(&mut r, ty, head)?;
            r.finish().map_err(malformed)?;
            Frame::GoAway { last_call_id, code }
        }
        ty::HELLO => {
            Hello::decode_view(rest).map_err(malformed)?;
            Frame::Hello { body: rest }
        }
        ty::MTABLE => {
            let first_index = field(&mut r, ty, head)?;
            let tail = r.rest();
            if tail.len() % 8 != 0 {
                return Err(malformed(DecodeError::new(
                    DecodeErrorKind::UnexpectedEnd {
                        needed: 8usize.saturating_sub(tail.len() % 8),
                    },
                    rest.len(),
                )));
            }
            let fingerprints = <[U64]>::ref_from_bytes(tail).map_err(|_| {
                malformed(DecodeError::new(DecodeErrorKind::LengthOverflow, r.pos()))
            })?;
            Frame::MethodTable {
                first_index,
                fingerprints,
            }
        }
        ty::EXT_FIRST..=ty::EXT_LAST => Frame::Extension { ty, body: rest },
        _ => return Err(FrameError::UnknownType(ty)),
    };
    Ok(frame)
}

impl Frame<'_> {
    /// The type byte.
    pub fn ty(&self) -> u8 {
        match self {
            Self::Call { method, .. } => *method,
            Self::Data { flags, .. } => ty::DATA | flags.bits(),
            Self::Cancel { .. } => ty::CANCEL,
            Self::Credit { .. } => ty::CREDIT,
            Self::Ping(_) => ty::PING,
            Self::Pong(_) => ty::PONG,
            Self::GoAway { .. } => ty::GOAWAY,
            Self::Hello { .. } => ty::HELLO,
            Self::MethodTable { .. } => ty::MTABLE,
            Self::Extension { ty, .. } => *ty,
        }
    }

    /// The frame as it is laid out: `type ‖ len ‖ fields (LPVs) ‖ tail`,
    /// with the number of fields used.
    fn parts(&self) -> (u8, [u64; 3], usize, &[u8]) {
        let ty = self.ty();
        match self {
            Self::Call { call_id, body, .. } => (ty, [*call_id, 0, 0], 1, body),
            Self::Data {
                call_id,
                method,
                total_len,
                payload,
                ..
            } => {
                let mut fields = [*call_id, 0, 0];
                let mut n = 1;
                for f in [method, total_len].into_iter().flatten() {
                    if let Some(slot) = fields.get_mut(n) {
                        *slot = *f;
                    }
                    n = n.saturating_add(1);
                }
                (ty, fields, n, payload)
            }
            Self::Cancel { call_id } => (ty, [*call_id, 0, 0], 1, &[]),
            Self::Credit { call_id, bytes } => (ty, [*call_id, *bytes, 0], 2, &[]),
            Self::Ping(b) | Self::Pong(b) => (ty, [0; 3], 0, b),
            Self::GoAway { last_call_id, code } => (ty, [*last_call_id, *code, 0], 2, &[]),
            Self::Hello { body } => (ty, [0; 3], 0, body),
            Self::MethodTable {
                first_index,
                fingerprints,
            } => (
                ty,
                [*first_index, 0, 0],
                1,
                zerocopy::IntoBytes::as_bytes(*fingerprints),
            ),
            Self::Extension { body, .. } => (ty, [0; 3], 0, body),
        }
    }

    /// The frame's encoded length, header included.
    pub fn encoded_len(&self) -> usize {
        let (_, fields, n, tail) = self.parts();
        let rest = rest_len(fields.get(..n).unwrap_or_default(), tail.len());
        varint::len_usize(rest)
            .saturating_add(1)
            .saturating_add(rest)
    }

    /// Encodes the frame (copying its slices) into the front of `buf`.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let (ty, fields, n, tail) = self.parts();
        encode_fields(buf, ty, fields.get(..n).unwrap_or_default(), tail)
    }
}

/// The `len` of a frame: its LPV `fields` and `body_len` bytes after them.
fn rest_len(fields: &[u64], body_len: usize) -> usize {
    fields
        .iter()
        .fold(body_len, |n, f| n.saturating_add(varint::len(*f)))
}

/// Writes the header of a frame, `ty ‖ len ‖ fields (LPVs)`, whose `len`
/// also counts `body_len` bytes after the fields; returns the header's
/// length. Fails with `BufferTooSmall` unless the header and `reserve`
/// bytes after it fit in `buf`.
///
/// Every frame encoder writes its header here: one copy of the LPV
/// writers in a firmware image instead of one per frame type and body type.
#[inline(never)]
fn put_head(
    buf: &mut [u8],
    ty: u8,
    fields: &[u64],
    body_len: usize,
    reserve: usize,
) -> Result<usize, EncodeError> {
    let rest = rest_len(fields, body_len);
    let head = 1usize
        .saturating_add(varint::len_usize(rest))
        .saturating_add(rest.saturating_sub(body_len));
    let needed = head.saturating_add(reserve);
    let available = buf.len();
    let out = buf
        .get_mut(..head)
        .filter(|_| needed <= available)
        .ok_or(EncodeError::BufferTooSmall { needed, available })?;
    let mut w = Writer::new(out);
    w.put_u8(ty);
    w.put_len(rest);
    for f in fields {
        w.put_varint(*f);
    }
    if w.is_exactly_full() {
        Ok(head)
    } else {
        Err(EncodeError::LengthMismatch)
    }
}

/// Encodes the frame `ty ‖ len ‖ fields (LPVs) ‖ tail` into the front of
/// `buf`: every frame whose body is bytes at hand (control frames, a
/// [`Frame`]).
#[inline(never)]
pub(crate) fn encode_fields(
    buf: &mut [u8],
    ty: u8,
    fields: &[u64],
    tail: &[u8],
) -> Result<usize, EncodeError> {
    let head = put_head(buf, ty, fields, tail.len(), tail.len())?;
    let end = head.saturating_add(tail.len());
    buf.get_mut(head..end)
        .ok_or(EncodeError::LengthMismatch)?
        .copy_from_slice(tail);
    Ok(end)
}

/// Writes a frame header and then `body`'s encoding directly after it, with
/// no intermediate buffer: `ty ‖ len ‖ fields (LPVs) ‖ body`.
fn encode_with_body<T: Encode + ?Sized>(
    buf: &mut [u8],
    ty: u8,
    fields: &[u64],
    body: &T,
) -> Result<usize, EncodeError> {
    let body_len = body.encoded_len();
    let head = put_head(buf, ty, fields, body_len, body_len)?;
    let total = head.saturating_add(body_len);
    let body_out = buf
        .get_mut(head..total)
        .ok_or(EncodeError::LengthMismatch)?;
    body.encode(body_out)?;
    Ok(total)
}

/// Encodes a CALL frame for `method` (0–127) with `args` as its body.
pub fn encode_call<T: Encode + ?Sized>(
    buf: &mut [u8],
    method: u8,
    call_id: u64,
    args: &T,
) -> Result<usize, EncodeError> {
    encode_with_body(buf, method & ty::CALL_MAX, &[call_id], args)
}

/// Encodes a DATA frame carrying `body` as its whole payload.
///
/// `method` must be `Some` exactly when `flags` has `OPEN`, and `total_len`
/// exactly when it has `TOTAL`; the flags are adjusted to match.
pub fn encode_data<T: Encode + ?Sized>(
    buf: &mut [u8],
    flags: DataFlags,
    call_id: u64,
    method: Option<u64>,
    total_len: Option<u64>,
    body: &T,
) -> Result<usize, EncodeError> {
    let (bits, fields, n) = data_fields(flags, call_id, method, total_len);
    encode_with_body(
        buf,
        ty::DATA | bits,
        fields.get(..n).unwrap_or_default(),
        body,
    )
}

/// The type bits and the fields of a DATA frame: `flags` with `OPEN` and
/// `TOTAL` set exactly when `method` and `total_len` are present.
fn data_fields(
    flags: DataFlags,
    call_id: u64,
    method: Option<u64>,
    total_len: Option<u64>,
) -> (u8, [u64; 3], usize) {
    let mut bits = flags.bits() & !(DataFlags::OPEN.bits() | DataFlags::TOTAL.bits());
    let mut fields = [call_id, 0, 0];
    let mut n = 1;
    if let Some(m) = method {
        bits |= DataFlags::OPEN.bits();
        if let Some(slot) = fields.get_mut(n) {
            *slot = m;
        }
        n = n.saturating_add(1);
    }
    if let Some(t) = total_len {
        bits |= DataFlags::TOTAL.bits();
        if let Some(slot) = fields.get_mut(n) {
            *slot = t;
        }
        n = n.saturating_add(1);
    }
    (bits, fields, n)
}

/// Encodes a single-frame reply (`DATA` with `FIN_MSG | FIN_STREAM`).
pub fn encode_reply<T: Encode + ?Sized>(
    buf: &mut [u8],
    call_id: u64,
    result: &T,
) -> Result<usize, EncodeError> {
    encode_with_body(buf, ty::DATA | DataFlags::REPLY.bits(), &[call_id], result)
}

/// Encodes a HELLO frame.
pub fn encode_hello(buf: &mut [u8], hello: &Hello<'_>) -> Result<usize, EncodeError> {
    encode_with_body(buf, ty::HELLO, &[], hello)
}

/// The header of a DATA frame, parsed before its payload has arrived (see
/// [`parse_data_head`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataHead {
    /// Flag bits.
    pub flags: DataFlags,
    /// The call.
    pub call_id: u64,
    /// The method, when `flags` has `OPEN`.
    pub method: Option<u64>,
    /// The whole message's length, when `flags` has `TOTAL`.
    pub total_len: Option<u64>,
    /// Bytes of header (type, length and fields) before the payload.
    pub head_len: usize,
    /// Bytes of payload that follow.
    pub payload_len: u64,
}

/// Parses the header of the DATA frame at the front of `buf` without
/// needing its payload, and without a frame-size limit (the caller checks
/// `payload_len` against its flow-control window). `Ok(None)`: the front
/// is not a DATA frame, or more bytes are needed (`buf` then holds fewer
/// than [`MAX_DATA_HEAD_LEN`] bytes).
pub fn parse_data_head(buf: &[u8]) -> Result<Option<DataHead>, FrameError> {
    let Some(&ty) = buf.first() else {
        return Ok(None);
    };
    if !(ty::DATA..=ty::DATA | 0x1F).contains(&ty) {
        return Ok(None);
    }
    let flags = DataFlags::from_bits(ty);
    let mut pos = 1usize;
    let field = |pos: &mut usize| head_field(buf, pos, ty);
    let Some(len) = field(&mut pos)? else {
        return Ok(None);
    };
    let len_end = pos;
    let Some(call_id) = field(&mut pos)? else {
        return Ok(None);
    };
    let method = if flags.contains(DataFlags::OPEN) {
        match field(&mut pos)? {
            Some(m) => Some(m),
            None => return Ok(None),
        }
    } else {
        None
    };
    let total_len = if flags.contains(DataFlags::TOTAL) {
        match field(&mut pos)? {
            Some(t) => Some(t),
            None => return Ok(None),
        }
    } else {
        None
    };
    let fields = (pos.saturating_sub(len_end)) as u64;
    if fields > len {
        return Err(FrameError::Malformed {
            ty,
            error: DecodeError::new(
                DecodeErrorKind::UnexpectedEnd {
                    needed: usize::try_from(fields.saturating_sub(len)).unwrap_or(usize::MAX),
                },
                pos,
            ),
        });
    }
    Ok(Some(DataHead {
        flags,
        call_id,
        method,
        total_len,
        head_len: pos,
        payload_len: len.saturating_sub(fields),
    }))
}

/// Reads the LPV at `buf[*pos..]` of a DATA header and moves `pos` past
/// it; `Ok(None)` when `buf` ends first (out of line, as [`field`]).
#[inline(never)]
fn head_field(buf: &[u8], pos: &mut usize, ty: u8) -> Result<Option<u64>, FrameError> {
    match varint::decode(buf.get(*pos..).unwrap_or_default()) {
        Ok((v, n)) => {
            *pos = pos.saturating_add(n);
            Ok(Some(v))
        }
        Err(VarintError::Incomplete(_)) => Ok(None),
        Err(VarintError::NonMinimal) => Err(FrameError::Malformed {
            ty,
            error: DecodeError::new(DecodeErrorKind::NonMinimalVarint, *pos),
        }),
    }
}

/// The longest DATA header: type, length and three 8-byte fields.
pub const MAX_DATA_HEAD_LEN: usize = 1 + 4 * 8;

/// Encodes the header of a DATA frame whose `payload_len` payload bytes
/// the caller writes right after it (into the buffer, or from its own
/// storage with a vectored write). `method`/`total_len` set `OPEN`/`TOTAL`.
pub fn encode_data_header(
    buf: &mut [u8],
    flags: DataFlags,
    call_id: u64,
    method: Option<u64>,
    total_len: Option<u64>,
    payload_len: usize,
) -> Result<usize, EncodeError> {
    let (bits, fields, n) = data_fields(flags, call_id, method, total_len);
    put_head(
        buf,
        ty::DATA | bits,
        fields.get(..n).unwrap_or_default(),
        payload_len,
        0,
    )
}

#[cfg(test)]
mod tests {
    //! The shared header writer against a straightforward reference: the
    //! field-by-field encoder every frame type had before they shared
    //! [`put_head`]. Same bytes and same errors, for every frame and every
    //! buffer length up to one past the frame's.
    use super::*;
    use std::vec;

    /// The reference: `ty ‖ len ‖ fields ‖ body`, with the errors the
    /// encoders report (`needed` counts the header and `reserve` bytes).
    fn reference(
        buf: &mut [u8],
        ty: u8,
        fields: &[u64],
        body: &[u8],
        reserve: usize,
    ) -> Result<usize, EncodeError> {
        let rest = fields.iter().map(|f| varint::len(*f)).sum::<usize>() + body.len();
        let head = 1 + varint::len_usize(rest) + rest - body.len();
        if head + reserve > buf.len() {
            return Err(EncodeError::BufferTooSmall {
                needed: head + reserve,
                available: buf.len(),
            });
        }
        let mut w = Writer::new(&mut buf[..head]);
        w.put_u8(ty);
        w.put_len(rest);
        for f in fields {
            w.put_varint(*f);
        }
        assert!(w.is_exactly_full());
        buf[head..head + reserve].copy_from_slice(&body[..reserve]);
        Ok(head + reserve)
    }

    /// Runs `f` and the reference on every buffer length from 0 to one
    /// past the frame's and compares results and bytes.
    fn check(
        ty: u8,
        fields: &[u64],
        body: &[u8],
        whole: bool,
        f: impl Fn(&mut [u8]) -> Result<usize, EncodeError>,
    ) {
        let reserve = if whole { body.len() } else { 0 };
        let full = 1 + 8 + 3 * 8 + body.len() + 1;
        for cap in 0..=full {
            let (mut a, mut b) = (vec![0xEEu8; cap], vec![0xEEu8; cap]);
            let got = f(&mut a);
            let want = reference(&mut b, ty, fields, body, reserve);
            assert_eq!(got, want, "ty {ty:#x} fields {fields:?} cap {cap}");
            if let Ok(n) = want {
                assert_eq!(a[..n], b[..n], "ty {ty:#x} fields {fields:?} cap {cap}");
            }
        }
    }

    const VALUES: [u64; 8] = [0, 1, 63, 64, 16383, 16384, (1 << 30) - 1, 1 << 30];

    #[test]
    fn encoders_match_the_field_by_field_reference() {
        let long = "Z".repeat(70);
        let bodies: [&str; 3] = ["", "x", &long];
        for &id in &VALUES {
            for body in bodies {
                // A `&str` body encodes as LPV length + bytes.
                let mut wire_body = vec![0u8; Encode::encoded_len(&body)];
                Encode::encode(&body, &mut wire_body).unwrap();
                let raw = body.as_bytes();
                check(5, &[id], &wire_body, true, |b| encode_call(b, 5, id, &body));
                check(0x83, &[id], &wire_body, true, |b| {
                    encode_reply(b, id, &body)
                });
                for (m, t) in [
                    (None, None),
                    (Some(3), None),
                    (None, Some(id)),
                    (Some(id), Some(9)),
                ] {
                    let (bits, fields, n) = data_fields(DataFlags::FIN_MSG, id, m, t);
                    let fields = &fields[..n];
                    check(ty::DATA | bits, fields, &wire_body, true, |b| {
                        encode_data(b, DataFlags::FIN_MSG, id, m, t, &body)
                    });
                    check(ty::DATA | bits, fields, raw, false, |b| {
                        encode_data_header(b, DataFlags::FIN_MSG, id, m, t, raw.len())
                    });
                    let frame = Frame::Data {
                        flags: DataFlags::from_bits(bits),
                        call_id: id,
                        method: m,
                        total_len: t,
                        payload: raw,
                    };
                    check(ty::DATA | bits, fields, raw, true, |b| frame.encode(b));
                }
                let fps = <[U64]>::ref_from_bytes(&[1u8; 16]).unwrap();
                let frames = [
                    Frame::Call {
                        method: 9,
                        call_id: id,
                        body: raw,
                    },
                    Frame::Ping(&raw[..raw.len().min(8)]),
                    Frame::Pong(&raw[..raw.len().min(8)]),
                    Frame::Hello { body: raw },
                    Frame::Extension {
                        ty: 0xC3,
                        body: raw,
                    },
                    Frame::MethodTable {
                        first_index: id,
                        fingerprints: fps,
                    },
                ];
                for frame in frames {
                    let (ty, fields, n, tail) = frame.parts();
                    check(ty, &fields[..n], tail, true, |b| frame.encode(b));
                    assert_eq!(
                        frame.encoded_len(),
                        reference(&mut [0; 200], ty, &fields[..n], tail, tail.len()).unwrap()
                    );
                }
            }
            for frame in [
                Frame::Cancel { call_id: id },
                Frame::Credit {
                    call_id: id,
                    bytes: id ^ 5,
                },
                Frame::GoAway {
                    last_call_id: id,
                    code: 14,
                },
            ] {
                let (ty, fields, n, tail) = frame.parts();
                check(ty, &fields[..n], tail, true, |b| frame.encode(b));
            }
        }
    }
}
