//! Decoding and encoding errors.

use core::fmt;

/// What was wrong with a body, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// What was wrong.
    pub kind: DecodeErrorKind,
    /// Byte offset, from the start of the body, of the first offending byte
    /// (for a truncated input: the offset where more bytes were needed).
    pub offset: usize,
}

/// The reasons a body is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ends before the value does.
    UnexpectedEnd {
        /// How many more bytes the value needs at least.
        needed: usize,
    },
    /// Bytes remain after the value.
    TrailingBytes {
        /// How many bytes remain.
        count: usize,
    },
    /// A string is not valid UTF-8.
    InvalidUtf8,
    /// A `bool` byte is neither 0 nor 1.
    InvalidBool(u8),
    /// A `char` is not a Unicode scalar value.
    InvalidChar(u32),
    /// An enum variant index or an `Option` presence byte is out of range.
    InvalidTag(u64),
    /// A varint uses more bytes than its value needs.
    NonMinimalVarint,
    /// A length or count does not fit this machine's address space.
    LengthOverflow,
    /// A bounded container (`heapless::String<N>`, `heapless::Vec<T, N>`)
    /// would exceed its capacity.
    CapacityExceeded {
        /// The encoded length or count.
        len: usize,
        /// The capacity.
        max: usize,
    },
}

impl DecodeError {
    /// Creates an error of `kind` at `offset`.
    #[inline]
    pub const fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DecodeErrorKind::UnexpectedEnd { needed } => {
                write!(f, "input ends early: {needed} more byte(s) needed")
            }
            DecodeErrorKind::TrailingBytes { count } => {
                write!(f, "{count} trailing byte(s) after the value")
            }
            DecodeErrorKind::InvalidUtf8 => f.write_str("string is not valid utf-8"),
            DecodeErrorKind::InvalidBool(b) => write!(f, "invalid bool byte {b:#04x}"),
            DecodeErrorKind::InvalidChar(c) => write!(f, "invalid char {c:#x}"),
            DecodeErrorKind::InvalidTag(t) => write!(f, "invalid tag {t}"),
            DecodeErrorKind::NonMinimalVarint => f.write_str("non-minimal varint"),
            DecodeErrorKind::LengthOverflow => f.write_str("length does not fit in memory"),
            DecodeErrorKind::CapacityExceeded { len, max } => {
                write!(f, "length {len} exceeds capacity {max}")
            }
        }?;
        write!(f, " at byte {}", self.offset)
    }
}

impl core::error::Error for DecodeError {}

/// Why a value could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is smaller than [`encoded_len`](crate::Wire::encoded_len).
    BufferTooSmall {
        /// Bytes the value needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// A `Wire` implementation wrote a different number of bytes than its
    /// `encoded_len` announced (a bug in a hand-written implementation).
    LengthMismatch,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BufferTooSmall { needed, available } => write!(
                f,
                "buffer too small: {needed} byte(s) needed, {available} available"
            ),
            Self::LengthMismatch => f.write_str("encoded length differs from encoded_len()"),
        }
    }
}

impl core::error::Error for EncodeError {}
