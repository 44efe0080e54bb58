//! Strings: `LPV byte length ‖ UTF-8`.

use super::error::{DecodeError, DecodeErrorKind};
use super::{Fingerprint, FromView, Reader, Wire};

/// The fingerprint shared by every string type.
pub(crate) const STR_FINGERPRINT: u64 = Fingerprint::new("str").finish();

/// Reads a length-prefixed UTF-8 string, reporting the offset of bad bytes.
///
/// Out of line: the UTF-8 check is a call anyway, and one copy of the
/// length reader serves every string type (on a microcontroller each
/// inlined copy costs about 250 bytes of flash).
#[inline(never)]
pub(crate) fn decode_str<'a>(r: &mut Reader<'a>) -> Result<&'a str, DecodeError> {
    let bytes = r.bytes()?;
    let start = r.pos().saturating_sub(bytes.len());
    core::str::from_utf8(bytes).map_err(|e| {
        DecodeError::new(
            DecodeErrorKind::InvalidUtf8,
            start.saturating_add(e.valid_up_to()),
        )
    })
}

/// Implements `Wire` for a string type that derefs to `str`.
macro_rules! str_wire_body {
    ($max:expr) => {
        type Fixed = [u8; 0];
        type Tail<'a> = &'a str;
        type View<'a> = &'a str;
        const HAS_TAIL: bool = true;
        const CHECKS_FIXED: bool = false;
        const MIN_LEN: usize = 1;
        const MAX_LEN: Option<usize> = $max;
        const FINGERPRINT: u64 = $crate::wire::text::STR_FINGERPRINT;

        #[inline]
        fn encode_fixed(&self, _: &mut $crate::wire::Writer<'_>) {}
        #[inline]
        fn tail_len(&self) -> usize {
            $crate::wire::varint::len_usize(self.len()).saturating_add(self.len())
        }
        #[inline]
        fn encode_tail(&self, w: &mut $crate::wire::Writer<'_>) {
            w.put_len(self.len());
            w.put(self.as_bytes());
        }
        #[inline]
        fn view<'a>(_: &'a [u8; 0], tail: &'a str) -> &'a str {
            tail
        }
    };
}
#[allow(unused_imports)]
pub(crate) use str_wire_body;

impl Wire for &str {
    str_wire_body!(None);

    #[inline]
    fn decode_tail<'a>(
        _: &'a [u8; 0],
        _: usize,
        r: &mut Reader<'a>,
    ) -> Result<&'a str, DecodeError> {
        decode_str(r)
    }
}

impl<'de: 'b, 'b> FromView<'de> for &'b str {
    #[inline]
    fn from_view(view: &'de str) -> Self {
        view
    }
}

#[cfg(feature = "alloc")]
impl Wire for alloc::string::String {
    str_wire_body!(None);

    #[inline]
    fn decode_tail<'a>(
        _: &'a [u8; 0],
        _: usize,
        r: &mut Reader<'a>,
    ) -> Result<&'a str, DecodeError> {
        decode_str(r)
    }
}

#[cfg(feature = "alloc")]
impl FromView<'_> for alloc::string::String {
    #[inline]
    fn from_view(view: &str) -> Self {
        view.into()
    }
}
