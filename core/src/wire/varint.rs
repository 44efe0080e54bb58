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
///
/// Each size is read with one fixed-width load (no loop, no copy).
#[inline]
pub fn decode(buf: &[u8]) -> Result<(u64, usize), VarintError> {
    let first = *buf.first().ok_or(VarintError::Incomplete(1))?;
    let (v, n, min) = match first & 3 {
        0 => return Ok((u64::from(first >> 2), 1)),
        1 => {
            let b = buf.first_chunk::<2>().ok_or(VarintError::Incomplete(2))?;
            (u64::from(u16::from_le_bytes(*b) >> 2), 2, 1 << 6)
        }
        2 => {
            let b = buf.first_chunk::<4>().ok_or(VarintError::Incomplete(4))?;
            (u64::from(u32::from_le_bytes(*b) >> 2), 4, 1 << 14)
        }
        _ => {
            let b = buf.first_chunk::<8>().ok_or(VarintError::Incomplete(8))?;
            (u64::from_le_bytes(*b) >> 2, 8, 1 << 30)
        }
    };
    if v < min {
        return Err(VarintError::NonMinimal);
    }
    Ok((v, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Writer;

    #[test]
    fn boundaries_round_trip_and_reject_non_minimal() {
        let edges = [0u64, 1, 63, 64, 16383, 16384, (1 << 30) - 1, 1 << 30, MAX];
        for v in edges {
            let (bytes, n) = encode(v);
            assert_eq!(n, len(v));
            assert_eq!(decode(&bytes[..n]), Ok((v, n)), "{v}");
            let mut out = [0u8; 8];
            let mut w = Writer::new(&mut out[..n]);
            w.put_varint(v);
            assert!(w.is_exactly_full());
            assert_eq!(out[..n], bytes[..n]);
            for cut in 0..n {
                assert_eq!(
                    decode(&bytes[..cut]),
                    Err(VarintError::Incomplete(if cut == 0 { 1 } else { n }))
                );
            }
        }
        // 63 written in two bytes, 16383 in four, 2^30 - 1 in eight.
        assert_eq!(decode(&[63 << 2 | 1, 0]), Err(VarintError::NonMinimal));
        assert_eq!(
            decode(&(16383u32 << 2 | 2).to_le_bytes()),
            Err(VarintError::NonMinimal)
        );
        assert_eq!(
            decode(&(((1u64 << 30) - 1) << 2 | 3).to_le_bytes()),
            Err(VarintError::NonMinimal)
        );
    }
}
