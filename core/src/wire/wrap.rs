//! `Option<T>`, `Result<T, E>` and `Box<T>`.

use super::error::{DecodeError, DecodeErrorKind};
use super::{Fingerprint, FromView, Reader, Wire, Writer};

/// `Option<T>` lives in the tail: a presence byte (0 or 1), then, if present,
/// `T`'s fixed block and tail.
impl<T: Wire> Wire for Option<T> {
    type Fixed = [u8; 0];
    type Tail<'a> = Option<(&'a T::Fixed, T::Tail<'a>)>;
    type View<'a> = Option<T::View<'a>>;
    const HAS_TAIL: bool = true;
    const CHECKS_FIXED: bool = false;
    const MIN_LEN: usize = 1;
    const MAX_LEN: Option<usize> = match T::MAX_LEN {
        Some(n) => n.checked_add(1),
        None => None,
    };
    const FINGERPRINT: u64 = Fingerprint::new("option").u64(T::FINGERPRINT).finish();

    #[inline]
    fn verbatim(&self) -> Option<&[u8]> {
        self.as_ref().and_then(T::verbatim)
    }

    #[inline]
    fn encode_fixed(&self, _: &mut Writer<'_>) {}
    #[inline]
    fn tail_len(&self) -> usize {
        match self {
            None => 1,
            Some(v) => v.encoded_len().saturating_add(1),
        }
    }
    #[inline]
    fn encode_tail(&self, w: &mut Writer<'_>) {
        match self {
            None => w.put_u8(0),
            Some(v) => {
                w.put_u8(1);
                v.encode_fixed(w);
                v.encode_tail(w);
            }
        }
    }
    #[inline]
    fn decode_tail<'a>(
        _: &'a [u8; 0],
        _: usize,
        r: &mut Reader<'a>,
    ) -> Result<Self::Tail<'a>, DecodeError> {
        let at = r.pos();
        match r.u8()? {
            0 => Ok(None),
            1 => {
                let fixed = r.fixed::<T::Fixed>()?;
                let tail = T::decode_tail(fixed, at.saturating_add(1), r)?;
                Ok(Some((fixed, tail)))
            }
            t => Err(DecodeError::new(DecodeErrorKind::InvalidTag(t.into()), at)),
        }
    }
    #[inline]
    fn view<'a>(_: &'a [u8; 0], tail: Self::Tail<'a>) -> Self::View<'a> {
        tail.map(|(fixed, tail)| T::view(fixed, tail))
    }
}

impl<'de, T: FromView<'de>> FromView<'de> for Option<T> {
    #[inline]
    fn from_view(view: Option<T::View<'de>>) -> Self {
        view.map(T::from_view)
    }
}

/// `Result<T, E>` is an enum in the tail: LPV variant index (0 = `Ok`,
/// 1 = `Err`), then the payload's fixed block and tail.
impl<T: Wire, E: Wire> Wire for Result<T, E> {
    type Fixed = [u8; 0];
    type Tail<'a> = Result<(&'a T::Fixed, T::Tail<'a>), (&'a E::Fixed, E::Tail<'a>)>;
    type View<'a> = Result<T::View<'a>, E::View<'a>>;
    const HAS_TAIL: bool = true;
    const CHECKS_FIXED: bool = false;
    const MIN_LEN: usize = 1 + if T::MIN_LEN < E::MIN_LEN {
        T::MIN_LEN
    } else {
        E::MIN_LEN
    };
    const MAX_LEN: Option<usize> = match (T::MAX_LEN, E::MAX_LEN) {
        (Some(a), Some(b)) => (if a > b { a } else { b }).checked_add(1),
        _ => None,
    };
    const FINGERPRINT: u64 = Fingerprint::new("result")
        .u64(T::FINGERPRINT)
        .u64(E::FINGERPRINT)
        .finish();

    #[inline]
    fn verbatim(&self) -> Option<&[u8]> {
        match self {
            Ok(v) => v.verbatim(),
            Err(e) => e.verbatim(),
        }
    }

    #[inline]
    fn encode_fixed(&self, _: &mut Writer<'_>) {}
    #[inline]
    fn tail_len(&self) -> usize {
        match self {
            Ok(v) => v.encoded_len().saturating_add(1),
            Err(e) => e.encoded_len().saturating_add(1),
        }
    }
    #[inline]
    fn encode_tail(&self, w: &mut Writer<'_>) {
        match self {
            Ok(v) => {
                w.put_varint(0);
                v.encode_fixed(w);
                v.encode_tail(w);
            }
            Err(e) => {
                w.put_varint(1);
                e.encode_fixed(w);
                e.encode_tail(w);
            }
        }
    }
    #[inline]
    fn decode_tail<'a>(
        _: &'a [u8; 0],
        _: usize,
        r: &mut Reader<'a>,
    ) -> Result<Self::Tail<'a>, DecodeError> {
        let at = r.pos();
        match r.varint()? {
            0 => {
                let fixed = r.fixed::<T::Fixed>()?;
                let tail = T::decode_tail(fixed, at.saturating_add(1), r)?;
                Ok(Ok((fixed, tail)))
            }
            1 => {
                let fixed = r.fixed::<E::Fixed>()?;
                let tail = E::decode_tail(fixed, at.saturating_add(1), r)?;
                Ok(Err((fixed, tail)))
            }
            t => Err(DecodeError::new(DecodeErrorKind::InvalidTag(t), at)),
        }
    }
    #[inline]
    fn view<'a>(_: &'a [u8; 0], tail: Self::Tail<'a>) -> Self::View<'a> {
        match tail {
            Ok((f, t)) => Ok(T::view(f, t)),
            Err((f, t)) => Err(E::view(f, t)),
        }
    }
}

impl<'de, T: FromView<'de>, E: FromView<'de>> FromView<'de> for Result<T, E> {
    #[inline]
    fn from_view(view: Self::View<'de>) -> Self {
        view.map(T::from_view).map_err(E::from_view)
    }
}

/// `Box<T>` is encoded exactly like `T`.
#[cfg(feature = "alloc")]
impl<T: Wire> Wire for alloc::boxed::Box<T> {
    type Fixed = T::Fixed;
    type Tail<'a> = T::Tail<'a>;
    type View<'a> = T::View<'a>;
    const HAS_TAIL: bool = T::HAS_TAIL;
    const CHECKS_FIXED: bool = T::CHECKS_FIXED;
    const MIN_LEN: usize = T::MIN_LEN;
    const MAX_LEN: Option<usize> = T::MAX_LEN;
    const FINGERPRINT: u64 = T::FINGERPRINT;

    #[inline]
    fn encode_fixed(&self, w: &mut Writer<'_>) {
        T::encode_fixed(self, w);
    }
    #[inline]
    fn tail_len(&self) -> usize {
        T::tail_len(self)
    }
    #[inline]
    fn encode_tail(&self, w: &mut Writer<'_>) {
        T::encode_tail(self, w);
    }
    #[inline]
    fn verbatim(&self) -> Option<&[u8]> {
        T::verbatim(self)
    }
    #[inline]
    fn decode_tail<'a>(
        fixed: &'a T::Fixed,
        at: usize,
        r: &mut Reader<'a>,
    ) -> Result<T::Tail<'a>, DecodeError> {
        T::decode_tail(fixed, at, r)
    }
    #[inline]
    fn view<'a>(fixed: &'a T::Fixed, tail: T::Tail<'a>) -> T::View<'a> {
        T::view(fixed, tail)
    }
}

#[cfg(feature = "alloc")]
impl<'de, T: FromView<'de>> FromView<'de> for alloc::boxed::Box<T> {
    #[inline]
    fn from_view(view: T::View<'de>) -> Self {
        alloc::boxed::Box::new(T::from_view(view))
    }
}
