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
    from_utf8(bytes).map_err(|valid_up_to| {
        DecodeError::new(
            DecodeErrorKind::InvalidUtf8,
            start.saturating_add(valid_up_to),
        )
    })
}

/// `bytes` as a `str` if they are UTF-8; otherwise the length of their
/// longest UTF-8 prefix (what `core::str::Utf8Error::valid_up_to` says).
///
/// The same check as `core::str::from_utf8`, a byte at a time: that one
/// is written for speed on long texts (a word at a time, a 256-byte width
/// table) and costs about 620 bytes of flash on a microcontroller, where
/// the strings checked (a HELLO's build, error messages) are short. A
/// firmware that checks text of its own can use this one too, so that it
/// links one UTF-8 check, not two.
pub fn from_utf8(bytes: &[u8]) -> Result<&str, usize> {
    let mut i = 0usize;
    while let Some(&lead) = bytes.get(i) {
        // Well-formed sequences (Unicode 15, table 3-7): the lead byte
        // gives the length and the range of the second byte; any further
        // bytes are 0x80..=0xBF.
        let (len, second) = match lead {
            0x00..=0x7F => {
                i = i.saturating_add(1);
                continue;
            }
            0xC2..=0xDF => (2, 0x80..=0xBF),
            0xE0 => (3, 0xA0..=0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80..=0xBF),
            0xED => (3, 0x80..=0x9F),
            0xF0 => (4, 0x90..=0xBF),
            0xF1..=0xF3 => (4, 0x80..=0xBF),
            0xF4 => (4, 0x80..=0x8F),
            _ => return Err(i),
        };
        let mut range = second;
        for k in 1..len {
            match bytes.get(i.saturating_add(k)) {
                Some(b) if range.contains(b) => range = 0x80..=0xBF,
                _ => return Err(i),
            }
        }
        i = i.saturating_add(len);
    }
    #[allow(unsafe_code)]
    // SAFETY: the loop above went through all of `bytes` (it ends when
    // `i` is past the end; every step moves `i` past one sequence it
    // checked) and returned unless every sequence is a well-formed UTF-8
    // sequence of Unicode's table 3-7, which is exactly what
    // `from_utf8_unchecked` requires. The tests compare this function
    // with `core::str::from_utf8` on every sequence of up to three bytes
    // and on every four-byte sequence over the boundary values of each
    // byte.
    Ok(unsafe { core::str::from_utf8_unchecked(bytes) })
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
    fn verbatim(&self) -> Option<&[u8]> {
        Some(self.as_bytes())
    }

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
    fn verbatim(&self) -> Option<&[u8]> {
        Some(self.as_bytes())
    }

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

#[cfg(test)]
mod tests {
    use super::from_utf8;

    fn same(bytes: &[u8]) {
        let expected = core::str::from_utf8(bytes).map_err(|e| e.valid_up_to());
        assert_eq!(from_utf8(bytes), expected, "{bytes:02x?}");
    }

    proptest::proptest! {
        /// Longer inputs: valid text with bytes changed, cut or inserted
        /// (so errors land after valid multi-byte sequences), and raw
        /// random bytes.
        #[test]
        fn from_utf8_is_core_str_from_utf8_on_longer_inputs(
            text in "\\PC{0,40}",
            edits in proptest::collection::vec((0usize..200, proptest::num::u8::ANY), 0..4),
            cut in 0usize..200,
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            let mut bytes = text.into_bytes();
            for (at, b) in edits {
                if !bytes.is_empty() {
                    let i = at % bytes.len();
                    bytes[i] = b;
                }
            }
            bytes.truncate(cut.max(1).min(bytes.len().max(1)));
            same(&bytes);
            same(&noise);
        }
    }

    /// Every sequence of one to three bytes, and four-byte sequences over
    /// the values that bound each range (with a prefix and a suffix, so
    /// the offsets of errors count).
    #[test]
    fn from_utf8_is_core_str_from_utf8() {
        same(&[]);
        for a in 0..=255u8 {
            same(&[a]);
            for b in 0..=255u8 {
                same(&[a, b]);
                for c in 0..=255u8 {
                    same(&[a, b, c]);
                }
            }
        }
        let edges = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
            0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF,
        ];
        for a in 0xF0..=0xFFu8 {
            for &b in &edges {
                for &c in &edges {
                    for &d in &edges {
                        same(&[a, b, c, d]);
                        same(&[b'x', a, b, c, d, b'y']);
                        same(&[0xC3, 0xA9, a, b, c, d, 0xE2, 0x82, 0xAC]);
                    }
                }
            }
        }
        same("h\u{e9}llo \u{20ac} \u{1f600} \u{10ffff} \u{ffff} \u{d7ff} \u{e000}".as_bytes());
    }
}
