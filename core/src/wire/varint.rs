//! LPV, the little-endian prefix varint used for lengths, counts, tags and
//! call ids (never for user integers).
//!
//! The two low bits of the first byte give the encoded size: `00` → 1 byte,
//! `01` → 2, `10` → 4, `11` → 8. The value is the little-endian integer of
//! those bytes shifted right by two, so the sizes hold 6, 14, 30 and 62 bits.
//! Decoders reject an encoding longer than its value needs.
//!
//! | value | bytes |
//! |---|---|
//! | 2 | `08` |
//! | 13 | `34` |
//! | 300 | `b1 04` |

/// The largest value an LPV can hold (2⁶² − 1).
pub const MAX: u64 = (1 << 62) - 1;

/// The number of bytes the LPV encoding of `v` takes (values above [`MAX`]
/// are clamped to it).
#[inline]
pub const fn len(v: u64) -> usize {
    if v < 1 << 6 {
        1
    } else if v < 1 << 14 {
        2
    } else if v < 1 << 30 {
        4
    } else {
        8
    }
}

/// [`len`] for a `usize` length or count.
#[inline]
pub const fn len_usize(v: usize) -> usize {
    len(v as u64)
}

/// Encodes `v` (clamped to [`MAX`]) into an 8-byte scratch array and returns
/// it with the number of bytes used.
#[inline]
pub const fn encode(v: u64) -> ([u8; 8], usize) {
    let v = if v > MAX { MAX } else { v };
    let n = len(v);
    let tag: u64 = match n {
        1 => 0,
        2 => 1,
        4 => 2,
        _ => 3,
    };
    ((v << 2 | tag).to_le_bytes(), n)
}

/// Why an LPV could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarintError {
    /// More bytes are needed; the field is this many bytes long in total.
    Incomplete(usize),
    /// The value fits in fewer bytes.
    NonMinimal,
}

/// Decodes an LPV from the front of `buf`; returns the value and its size.
#[inline]
pub fn decode(buf: &[u8]) -> Result<(u64, usize), VarintError> {
    let first = *buf.first().ok_or(VarintError::Incomplete(1))?;
    let n = 1usize << (first & 3);
    let bytes = buf.get(..n).ok_or(VarintError::Incomplete(n))?;
    let mut le = [0u8; 8];
    for (dst, src) in le.iter_mut().zip(bytes) {
        *dst = *src;
    }
    let v = u64::from_le_bytes(le) >> 2;
    if len(v) != n {
        return Err(VarintError::NonMinimal);
    }
    Ok((v, n))
}
