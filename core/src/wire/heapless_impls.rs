//! `heapless::String<N>` and `heapless::Vec<T, N>`: bounded, heap-free, and
//! wire-compatible with `String` and `Vec<T>`.

use super::error::{DecodeError, DecodeErrorKind};
use super::seq::{decode_seq, seq_wire_body};
use super::text::{decode_str, str_wire_body};
use super::{varint, FromView, Reader, Seq, Wire};

/// `LPV length ‖ bytes` with at most `N` bytes: the encoded size is bounded.
const fn bounded(n: usize, item_max: Option<usize>) -> Option<usize> {
    match item_max {
        Some(m) => match n.checked_mul(m) {
            Some(body) => body.checked_add(varint::len_usize(n)),
            None => None,
        },
        None => None,
    }
}

impl<const N: usize> Wire for heapless::String<N> {
    str_wire_body!(bounded(N, Some(1)));

    #[inline]
    fn decode_tail<'a>(
        _: &'a [u8; 0],
        _: usize,
        r: &mut Reader<'a>,
    ) -> Result<&'a str, DecodeError> {
        let at = r.pos();
        let s = decode_str(r)?;
        if s.len() > N {
            return Err(DecodeError::new(
                DecodeErrorKind::CapacityExceeded {
                    len: s.len(),
                    max: N,
                },
                at,
            ));
        }
        Ok(s)
    }
}

impl<const N: usize> FromView<'_> for heapless::String<N> {
    #[inline]
    fn from_view(view: &str) -> Self {
        let mut s = Self::new();
        // The length was checked against N by `decode_tail`.
        let _ = s.push_str(view);
        s
    }
}

impl<T: Wire, const N: usize> Wire for heapless::Vec<T, N> {
    seq_wire_body!(T, bounded(N, T::MAX_LEN));

    #[inline]
    fn decode_tail<'a>(
        _: &'a [u8; 0],
        _: usize,
        r: &mut Reader<'a>,
    ) -> Result<Seq<'a, T>, DecodeError> {
        let at = r.pos();
        let count = r.count()?;
        if count > N {
            return Err(DecodeError::new(
                DecodeErrorKind::CapacityExceeded { len: count, max: N },
                at,
            ));
        }
        decode_seq(count, r)
    }
}

impl<'de, T: FromView<'de>, const N: usize> FromView<'de> for heapless::Vec<T, N> {
    #[inline]
    fn from_view(view: Seq<'de, T>) -> Self {
        let mut v = Self::new();
        for item in view.iter() {
            // The count was checked against N by `decode_tail`.
            let _ = v.push(T::from_view(item));
        }
        v
    }
}
