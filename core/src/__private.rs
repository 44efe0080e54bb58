//! Items the generated code uses. Not a public API: it changes without notice.

pub use core;
pub use zerocopy;

#[cfg(feature = "bytes")]
pub use bytes::Bytes;

pub use crate::wire::varint;
pub use crate::wire::{DecodeError, DecodeErrorKind, Fingerprint, FromView, Reader, Wire, Writer};

/// `a + b` for optional maximum lengths (`None` = unbounded).
#[inline]
pub const fn max_add(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => a.checked_add(b),
        _ => None,
    }
}

/// The larger of two optional maximum lengths (`None` = unbounded).
#[inline]
pub const fn max_max(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if a > b { a } else { b }),
        _ => None,
    }
}

/// The longer of two verbatim runs (the first on a tie), for
/// [`Wire::verbatim`] of a type with several fields.
#[inline]
pub fn longer<'a>(a: Option<&'a [u8]>, b: Option<&'a [u8]>) -> Option<&'a [u8]> {
    match (a, b) {
        (Some(a), Some(b)) if b.len() > a.len() => Some(b),
        (None, b) => b,
        (a, _) => a,
    }
}

/// The smaller of two minimum lengths.
#[inline]
pub const fn min_min(a: usize, b: usize) -> usize {
    if a < b {
        a
    } else {
        b
    }
}

/// Checks a fieldless enum's index byte.
#[inline]
pub fn check_index(index: u8, variants: u8, at: usize) -> Result<(), DecodeError> {
    if index < variants {
        Ok(())
    } else {
        Err(DecodeError::new(
            DecodeErrorKind::InvalidTag(index.into()),
            at,
        ))
    }
}

/// Compile-time check that `T` is a wire type (the derive and `#[service]`
/// call it at the user's spans so errors point there).
#[inline(always)]
pub fn assert_wire<T: Wire + ?Sized>() {}
