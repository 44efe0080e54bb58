//! Scalars: integers, floats, `bool`, `char`, `()`.

use super::error::{DecodeError, DecodeErrorKind};
use super::{Fingerprint, FromView, Reader, Wire, Writer};
use zerocopy::little_endian as le;

macro_rules! scalar {
    ($($ty:ty => $fixed:ty, $name:literal;)*) => {$(
        impl Wire for $ty {
            type Fixed = $fixed;
            type Tail<'a> = ();
            type View<'a> = $ty;
            const HAS_TAIL: bool = false;
            const CHECKS_FIXED: bool = false;
            const MIN_LEN: usize = core::mem::size_of::<$ty>();
            const MAX_LEN: Option<usize> = Some(core::mem::size_of::<$ty>());
            const FINGERPRINT: u64 = Fingerprint::new($name).finish();

            #[inline]
            fn encode_fixed(&self, w: &mut Writer<'_>) {
                w.put(&self.to_le_bytes());
            }
            #[inline]
            fn tail_len(&self) -> usize {
                0
            }
            #[inline]
            fn encode_tail(&self, _: &mut Writer<'_>) {}
            #[inline]
            fn decode_tail<'a>(_: &'a $fixed, _: usize, _: &mut Reader<'a>) -> Result<(), DecodeError> {
                Ok(())
            }
            #[inline]
            fn view(fixed: &$fixed, _: ()) -> $ty {
                <$ty>::from_le_bytes(zerocopy::transmute!(*fixed))
            }
            #[inline]
            fn items_verbatim(items: &[Self]) -> Option<&[u8]> {
                // `encode_items` below writes exactly these bytes with one
                // `put` on little-endian machines.
                #[cfg(target_endian = "little")]
                return Some(zerocopy::IntoBytes::as_bytes(items));
                #[cfg(not(target_endian = "little"))]
                {
                    let _ = items;
                    None
                }
            }
            #[inline]
            fn encode_items(items: &[Self], w: &mut Writer<'_>) {
                #[cfg(target_endian = "little")]
                w.put(zerocopy::IntoBytes::as_bytes(items));
                #[cfg(not(target_endian = "little"))]
                for item in items {
                    item.encode_fixed(w);
                }
            }
        }

        impl<'de> FromView<'de> for $ty {
            #[inline]
            fn from_view(view: $ty) -> Self {
                view
            }

            #[cfg(feature = "alloc")]
            #[inline]
            fn extend_vec(out: &mut alloc::vec::Vec<Self>, items: super::Seq<'de, Self>) {
                #[cfg(target_endian = "little")]
                {
                    // Input that happens to be aligned for `Self` (always
                    // for bytes): copied straight into the spare capacity,
                    // without zero-filling it first.
                    if let Ok(src) = <[$ty] as zerocopy::FromBytes>::ref_from_bytes(items.raw_bytes()) {
                        out.extend_from_slice(src);
                        return;
                    }
                    // Same bytes in memory and on the wire: one copy.
                    let start = out.len();
                    out.resize(start.saturating_add(items.len()), 0 as $ty);
                    if let Some(dst) = out.get_mut(start..) {
                        let dst = zerocopy::IntoBytes::as_mut_bytes(dst);
                        if dst.len() == items.raw_bytes().len() {
                            dst.copy_from_slice(items.raw_bytes());
                        }
                    }
                }
                #[cfg(not(target_endian = "little"))]
                out.extend(items.iter());
            }
        }

        impl super::seq::Scalar for $ty {}
    )*};
}

scalar! {
    u8 => u8, "u8";
    i8 => i8, "i8";
    u16 => le::U16, "u16";
    i16 => le::I16, "i16";
    u32 => le::U32, "u32";
    i32 => le::I32, "i32";
    u64 => le::U64, "u64";
    i64 => le::I64, "i64";
    u128 => le::U128, "u128";
    i128 => le::I128, "i128";
    f32 => le::F32, "f32";
    f64 => le::F64, "f64";
}

impl Wire for bool {
    type Fixed = u8;
    type Tail<'a> = ();
    type View<'a> = bool;
    const HAS_TAIL: bool = false;
    const CHECKS_FIXED: bool = true;
    const MIN_LEN: usize = 1;
    const MAX_LEN: Option<usize> = Some(1);
    const FINGERPRINT: u64 = Fingerprint::new("bool").finish();

    #[inline]
    fn encode_fixed(&self, w: &mut Writer<'_>) {
        w.put_u8(u8::from(*self));
    }
    #[inline]
    fn tail_len(&self) -> usize {
        0
    }
    #[inline]
    fn encode_tail(&self, _: &mut Writer<'_>) {}
    #[inline]
    fn decode_tail<'a>(fixed: &'a u8, at: usize, _: &mut Reader<'a>) -> Result<(), DecodeError> {
        match *fixed {
            0 | 1 => Ok(()),
            b => Err(DecodeError::new(DecodeErrorKind::InvalidBool(b), at)),
        }
    }
    #[inline]
    fn view(fixed: &u8, _: ()) -> bool {
        *fixed != 0
    }
}

impl FromView<'_> for bool {
    #[inline]
    fn from_view(view: bool) -> Self {
        view
    }
}

impl Wire for char {
    type Fixed = le::U32;
    type Tail<'a> = ();
    type View<'a> = char;
    const HAS_TAIL: bool = false;
    const CHECKS_FIXED: bool = true;
    const MIN_LEN: usize = 4;
    const MAX_LEN: Option<usize> = Some(4);
    const FINGERPRINT: u64 = Fingerprint::new("char").finish();

    #[inline]
    fn encode_fixed(&self, w: &mut Writer<'_>) {
        w.put(&u32::from(*self).to_le_bytes());
    }
    #[inline]
    fn tail_len(&self) -> usize {
        0
    }
    #[inline]
    fn encode_tail(&self, _: &mut Writer<'_>) {}
    #[inline]
    fn decode_tail<'a>(
        fixed: &'a le::U32,
        at: usize,
        _: &mut Reader<'a>,
    ) -> Result<(), DecodeError> {
        let v = fixed.get();
        match char::from_u32(v) {
            Some(_) => Ok(()),
            None => Err(DecodeError::new(DecodeErrorKind::InvalidChar(v), at)),
        }
    }
    #[inline]
    fn view(fixed: &le::U32, _: ()) -> char {
        // Checked by `decode_tail`; the replacement character is unreachable.
        char::from_u32(fixed.get()).unwrap_or(char::REPLACEMENT_CHARACTER)
    }
}

impl FromView<'_> for char {
    #[inline]
    fn from_view(view: char) -> Self {
        view
    }
}

impl Wire for () {
    type Fixed = [u8; 0];
    type Tail<'a> = ();
    type View<'a> = ();
    const HAS_TAIL: bool = false;
    const CHECKS_FIXED: bool = false;
    const MIN_LEN: usize = 0;
    const MAX_LEN: Option<usize> = Some(0);
    const FINGERPRINT: u64 = Fingerprint::new("unit").finish();

    #[inline]
    fn encode_fixed(&self, _: &mut Writer<'_>) {}
    #[inline]
    fn tail_len(&self) -> usize {
        0
    }
    #[inline]
    fn encode_tail(&self, _: &mut Writer<'_>) {}
    #[inline]
    fn decode_tail<'a>(_: &'a [u8; 0], _: usize, _: &mut Reader<'a>) -> Result<(), DecodeError> {
        Ok(())
    }
    #[inline]
    fn view(_: &[u8; 0], _: ()) {}
}

impl FromView<'_> for () {
    #[inline]
    fn from_view(_: ()) -> Self {}
}
