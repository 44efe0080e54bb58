//! Sequences: `Vec<T>`, `&[u8]`, `bytes::Bytes`, arrays, and the [`Seq`] view.
// Without `alloc` or `heapless` no container uses the sequence helpers.
#![cfg_attr(
    not(any(feature = "alloc", feature = "heapless")),
    allow(dead_code, unused_macros)
)]

use core::marker::PhantomData;

use super::cursor::Backing;
use super::error::{DecodeError, DecodeErrorKind};
use super::{varint, Fingerprint, FromView, Reader, Wire, Writer};
use zerocopy::FromBytes;

/// Marker for scalar types (integers, floats), whose sequences view as a
/// plain slice of their little-endian wire form.
pub trait Scalar: Wire {}

/// A validated, borrowed sequence of `T` (the view of `Vec<T>` and
/// `heapless::Vec<T, N>`).
///
/// For items without a tail it is a zero-copy slice of fixed blocks
/// ([`as_slice`](Seq::as_slice) for scalars, [`fixed_slice`](Seq::fixed_slice)
/// in general) with O(1) [`get`](Seq::get); items with a tail are visited in
/// order by [`iter`](Seq::iter).
pub struct Seq<'a, T: ?Sized> {
    bytes: &'a [u8],
    len: usize,
    /// The buffer `bytes` lies in, for items' `bytes::Bytes` values.
    backing: Backing<'a>,
    _item: PhantomData<fn() -> T>,
}

impl<T: ?Sized> Clone for Seq<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: ?Sized> Copy for Seq<'_, T> {}

impl<'a, T: Wire> Seq<'a, T> {
    /// The number of items.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no items.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The encoded items (without the count), as they are in the input.
    #[inline]
    pub fn raw_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The items' fixed blocks as one slice; `None` when items have a tail.
    #[inline]
    pub fn fixed_slice(&self) -> Option<&'a [T::Fixed]> {
        if T::HAS_TAIL {
            return None;
        }
        <[T::Fixed]>::ref_from_bytes_with_elems(self.bytes, self.len).ok()
    }

    /// The item at `index`: O(1) for items without a tail, O(index) otherwise.
    #[inline]
    pub fn get(&self, index: usize) -> Option<T::View<'a>> {
        if T::HAS_TAIL {
            return self.iter().nth(index);
        }
        let fixed = self.fixed_slice()?.get(index)?;
        let mut r = Reader::new(&[]);
        let tail = T::decode_tail(fixed, 0, &mut r).ok()?;
        Some(T::view(fixed, tail))
    }

    /// Iterates over the items' views.
    #[inline]
    pub fn iter(&self) -> SeqIter<'a, T> {
        SeqIter {
            r: Reader::with_backing(self.bytes, self.backing),
            left: self.len,
            _item: PhantomData,
        }
    }
}

impl<'a, T: Scalar> Seq<'a, T> {
    /// The items as a slice of their little-endian wire form
    /// (`&[U32]` for `u32`, `&[u8]` for `u8`), without a copy.
    #[inline]
    pub fn as_slice(&self) -> &'a [T::Fixed] {
        self.fixed_slice().unwrap_or(&[])
    }
}

impl<'a, T: Wire> IntoIterator for Seq<'a, T> {
    type Item = T::View<'a>;
    type IntoIter = SeqIter<'a, T>;
    fn into_iter(self) -> SeqIter<'a, T> {
        self.iter()
    }
}

impl<'a, T: Wire> core::fmt::Debug for Seq<'a, T>
where
    T::View<'a>: core::fmt::Debug,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over a [`Seq`]'s item views.
pub struct SeqIter<'a, T: ?Sized> {
    r: Reader<'a>,
    left: usize,
    _item: PhantomData<fn() -> T>,
}

impl<'a, T: Wire> Iterator for SeqIter<'a, T> {
    type Item = T::View<'a>;

    #[inline]
    fn next(&mut self) -> Option<T::View<'a>> {
        self.left = self.left.checked_sub(1)?;
        // The sequence was validated when it was decoded; a failure here is
        // impossible and ends the iteration rather than panicking.
        let fixed = self.r.fixed::<T::Fixed>().ok()?;
        let at = self.r.pos();
        let tail = T::decode_tail(fixed, at, &mut self.r).ok()?;
        Some(T::view(fixed, tail))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T: Wire> ExactSizeIterator for SeqIter<'_, T> {}

/// Validates `count` items of `T` from `r` and returns them as a [`Seq`].
#[inline]
pub(crate) fn decode_seq<'a, T: Wire>(
    count: usize,
    r: &mut Reader<'a>,
) -> Result<Seq<'a, T>, DecodeError> {
    const {
        assert!(
            T::MIN_LEN > 0,
            "sequences of zero-sized wire types are not supported"
        )
    };
    let start = r.rest();
    let at = r.pos();
    let backing = r.backing_buf();
    if !T::HAS_TAIL {
        let size = count
            .checked_mul(T::FIXED_LEN)
            .ok_or(r.error(DecodeErrorKind::LengthOverflow))?;
        let bytes = r.take(size)?;
        if T::CHECKS_FIXED {
            let items = <[T::Fixed]>::ref_from_bytes_with_elems(bytes, count)
                .map_err(|_| DecodeError::new(DecodeErrorKind::LengthOverflow, at))?;
            let mut empty = Reader::new(&[]);
            let mut item_at = at;
            for item in items {
                T::decode_tail(item, item_at, &mut empty)?;
                item_at = item_at.saturating_add(T::FIXED_LEN);
            }
        }
        return Ok(Seq {
            bytes,
            len: count,
            backing,
            _item: PhantomData,
        });
    }
    // Every item takes at least MIN_LEN bytes: reject impossible counts before
    // looping, so a hostile count costs nothing.
    match count.checked_mul(T::MIN_LEN) {
        Some(min) if min <= r.remaining() => {}
        _ => {
            return Err(r.error(DecodeErrorKind::UnexpectedEnd {
                needed: count
                    .saturating_mul(T::MIN_LEN)
                    .saturating_sub(r.remaining()),
            }))
        }
    }
    for _ in 0..count {
        let fixed = r.fixed::<T::Fixed>()?;
        let fixed_at = r.pos().saturating_sub(T::FIXED_LEN);
        T::decode_tail(fixed, fixed_at, r)?;
    }
    let used = start.len().saturating_sub(r.remaining());
    let bytes = start.get(..used).unwrap_or(&[]);
    Ok(Seq {
        bytes,
        len: count,
        backing,
        _item: PhantomData,
    })
}

/// Encoded length of a counted run of items.
#[inline]
pub(crate) fn items_len<T: Wire>(items: &[T]) -> usize {
    let body = if T::HAS_TAIL {
        items
            .iter()
            .fold(0usize, |n, i| n.saturating_add(i.encoded_len()))
    } else {
        items.len().saturating_mul(T::FIXED_LEN)
    };
    varint::len_usize(items.len()).saturating_add(body)
}

/// The fingerprint shared by every sequence of `T` (`Vec`, `heapless::Vec`).
pub(crate) const fn seq_fingerprint<T: Wire>() -> u64 {
    Fingerprint::new("seq").u64(T::FINGERPRINT).finish()
}

/// The fingerprint shared by every byte string (`&[u8]`, `Bytes`).
pub(crate) const BYTES_FINGERPRINT: u64 = Fingerprint::new("seq")
    .u64(<u8 as Wire>::FINGERPRINT)
    .finish();

/// Implements `Wire` for a sequence container; `$items` turns `&Self` into
/// `&[T]`.
macro_rules! seq_wire_body {
    ($t:ty, $max:expr) => {
        type Fixed = [u8; 0];
        type Tail<'a> = $crate::wire::Seq<'a, $t>;
        type View<'a> = $crate::wire::Seq<'a, $t>;
        const HAS_TAIL: bool = true;
        const CHECKS_FIXED: bool = false;
        const MIN_LEN: usize = 1;
        const MAX_LEN: Option<usize> = $max;
        const FINGERPRINT: u64 = $crate::wire::seq::seq_fingerprint::<$t>();

        #[inline]
        fn encode_fixed(&self, _: &mut $crate::wire::Writer<'_>) {}
        #[inline]
        fn tail_len(&self) -> usize {
            $crate::wire::seq::items_len::<$t>(self)
        }
        #[inline]
        fn encode_tail(&self, w: &mut $crate::wire::Writer<'_>) {
            w.put_len(self.len());
            <$t as $crate::wire::Wire>::encode_items(self, w);
        }
        #[inline]
        fn view<'a>(_: &'a [u8; 0], tail: Self::Tail<'a>) -> Self::View<'a> {
            tail
        }
    };
}
#[allow(unused_imports)]
pub(crate) use seq_wire_body;

#[cfg(feature = "alloc")]
impl<T: Wire> Wire for alloc::vec::Vec<T> {
    seq_wire_body!(T, None);

    #[inline]
    fn verbatim(&self) -> Option<&[u8]> {
        T::items_verbatim(self)
    }

    #[inline]
    fn decode_tail<'a>(
        _: &'a [u8; 0],
        _: usize,
        r: &mut Reader<'a>,
    ) -> Result<Seq<'a, T>, DecodeError> {
        let count = r.count()?;
        decode_seq(count, r)
    }
}

#[cfg(feature = "alloc")]
impl<'de, T: FromView<'de>> FromView<'de> for alloc::vec::Vec<T> {
    #[inline]
    fn from_view(view: Seq<'de, T>) -> Self {
        // Capacity is the count of items already validated in the input.
        let mut v = alloc::vec::Vec::with_capacity(view.len());
        T::extend_vec(&mut v, view);
        v
    }
}

/// Borrowed byte strings: `LPV length ‖ bytes`.
impl Wire for &[u8] {
    type Fixed = [u8; 0];
    type Tail<'a> = &'a [u8];
    type View<'a> = &'a [u8];
    const HAS_TAIL: bool = true;
    const CHECKS_FIXED: bool = false;
    const MIN_LEN: usize = 1;
    const MAX_LEN: Option<usize> = None;
    const FINGERPRINT: u64 = BYTES_FINGERPRINT;

    #[inline]
    fn encode_fixed(&self, _: &mut Writer<'_>) {}
    #[inline]
    fn tail_len(&self) -> usize {
        varint::len_usize(self.len()).saturating_add(self.len())
    }
    #[inline]
    fn encode_tail(&self, w: &mut Writer<'_>) {
        w.put_len(self.len());
        w.put(self);
    }
    #[inline]
    fn verbatim(&self) -> Option<&[u8]> {
        Some(&self[..])
    }
    #[inline]
    fn decode_tail<'a>(
        _: &'a [u8; 0],
        _: usize,
        r: &mut Reader<'a>,
    ) -> Result<&'a [u8], DecodeError> {
        r.bytes()
    }
    #[inline]
    fn view<'a>(_: &'a [u8; 0], tail: &'a [u8]) -> &'a [u8] {
        tail
    }
}

impl<'de: 'b, 'b> FromView<'de> for &'b [u8] {
    #[inline]
    fn from_view(view: &'de [u8]) -> Self {
        view
    }
}

/// `bytes::Bytes`: encoded like `&[u8]`; views as a [`BytesView`], which
/// shares the input instead of copying it when the input is itself a `Bytes`
/// ([`decode_owned`](super::decode_owned), [`decode_shared`](super::decode_shared)).
#[cfg(feature = "bytes")]
impl Wire for bytes::Bytes {
    type Fixed = [u8; 0];
    type Tail<'a> = BytesView<'a>;
    type View<'a> = BytesView<'a>;
    const HAS_TAIL: bool = true;
    const CHECKS_FIXED: bool = false;
    const MIN_LEN: usize = 1;
    const MAX_LEN: Option<usize> = None;
    const FINGERPRINT: u64 = BYTES_FINGERPRINT;

    #[inline]
    fn encode_fixed(&self, _: &mut Writer<'_>) {}
    #[inline]
    fn tail_len(&self) -> usize {
        varint::len_usize(self.len()).saturating_add(self.len())
    }
    #[inline]
    fn encode_tail(&self, w: &mut Writer<'_>) {
        w.put_len(self.len());
        w.put(self);
    }
    #[inline]
    fn verbatim(&self) -> Option<&[u8]> {
        Some(&self[..])
    }
    #[inline]
    fn decode_tail<'a>(
        _: &'a [u8; 0],
        _: usize,
        r: &mut Reader<'a>,
    ) -> Result<BytesView<'a>, DecodeError> {
        let bytes = r.bytes()?;
        Ok(BytesView {
            bytes,
            backing: r.backing_buf(),
        })
    }
    #[inline]
    fn view<'a>(_: &'a [u8; 0], tail: BytesView<'a>) -> BytesView<'a> {
        tail
    }
}

/// Shares the input buffer when the view has one (see [`BytesView`]), and
/// copies otherwise.
#[cfg(feature = "bytes")]
impl<'de> FromView<'de> for bytes::Bytes {
    #[inline]
    fn from_view(view: BytesView<'de>) -> Self {
        view.to_bytes()
    }
}

/// The view of a `bytes::Bytes` value: its bytes, borrowed from the input,
/// and the owned buffer the input lies in when there is one.
///
/// It dereferences to `[u8]` and compares equal to byte slices, arrays,
/// `Vec<u8>` and `Bytes`. Converting it into a `Bytes`
/// ([`to_bytes`](Self::to_bytes), and so [`FromView`]) shares that buffer
/// (a reference count, no copy) when the body was decoded by
/// [`decode_owned`](super::decode_owned), [`decode_shared`](super::decode_shared)
/// or a [`Reader::sharing`]; after [`Wire::decode`] or
/// [`Wire::decode_view`] of a plain `&[u8]` it copies.
#[cfg(feature = "bytes")]
#[derive(Clone, Copy)]
pub struct BytesView<'a> {
    bytes: &'a [u8],
    backing: Backing<'a>,
}

#[cfg(feature = "bytes")]
impl<'a> BytesView<'a> {
    /// The bytes, borrowed from the input.
    #[inline]
    pub fn as_slice(&self) -> &'a [u8] {
        self.bytes
    }

    /// The bytes as an owned `Bytes`: a slice of the input's buffer when
    /// [`is_shared`](Self::is_shared), a copy otherwise.
    #[inline]
    pub fn to_bytes(&self) -> bytes::Bytes {
        self.backing
            .share(self.bytes)
            .unwrap_or_else(|| bytes::Bytes::copy_from_slice(self.bytes))
    }

    /// Whether [`to_bytes`](Self::to_bytes) shares the input's buffer
    /// rather than copying.
    #[inline]
    pub fn is_shared(&self) -> bool {
        self.backing.holds(self.bytes)
    }
}

#[cfg(feature = "bytes")]
impl core::ops::Deref for BytesView<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.bytes
    }
}

#[cfg(feature = "bytes")]
impl AsRef<[u8]> for BytesView<'_> {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.bytes
    }
}

#[cfg(feature = "bytes")]
impl<'a> From<BytesView<'a>> for &'a [u8] {
    #[inline]
    fn from(view: BytesView<'a>) -> Self {
        view.bytes
    }
}

/// Formats like the `&[u8]` it views.
#[cfg(feature = "bytes")]
impl core::fmt::Debug for BytesView<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.bytes, f)
    }
}

#[cfg(feature = "bytes")]
impl core::hash::Hash for BytesView<'_> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

#[cfg(feature = "bytes")]
impl PartialEq for BytesView<'_> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

#[cfg(feature = "bytes")]
impl Eq for BytesView<'_> {}

/// `BytesView == other` and `other == BytesView`, comparing bytes.
macro_rules! bytes_view_eq {
    ($($(#[$m:meta])* [$($g:tt)*] $other:ty;)*) => {$(
        $(#[$m])*
        #[cfg(feature = "bytes")]
        impl<$($g)*> PartialEq<$other> for BytesView<'_> {
            #[inline]
            fn eq(&self, other: &$other) -> bool {
                self.bytes == AsRef::<[u8]>::as_ref(other)
            }
        }
        $(#[$m])*
        #[cfg(feature = "bytes")]
        impl<$($g)*> PartialEq<BytesView<'_>> for $other {
            #[inline]
            fn eq(&self, other: &BytesView<'_>) -> bool {
                AsRef::<[u8]>::as_ref(self) == other.bytes
            }
        }
    )*};
}

bytes_view_eq! {
    [] [u8];
    ['b] &'b [u8];
    [const N: usize] [u8; N];
    ['b, const N: usize] &'b [u8; N];
    [] alloc::vec::Vec<u8>;
    [] bytes::Bytes;
}

/// `false`, and a compile-time error when `T` has a tail: array items must
/// have a fixed size.
const fn fixed_items<T: Wire>() -> bool {
    assert!(
        !T::HAS_TAIL,
        "arrays of variable-size wire types are not supported: use Vec<T> or heapless::Vec<T, N>"
    );
    false
}

/// Arrays of items without a tail live in the fixed block.
impl<T: Wire, const N: usize> Wire for [T; N] {
    type Fixed = [T::Fixed; N];
    type Tail<'a> = ();
    type View<'a> = &'a [T::Fixed; N];
    const HAS_TAIL: bool = fixed_items::<T>();
    const CHECKS_FIXED: bool = T::CHECKS_FIXED;
    const MIN_LEN: usize = T::MIN_LEN.saturating_mul(N);
    const MAX_LEN: Option<usize> = match T::MAX_LEN {
        Some(n) => n.checked_mul(N),
        None => None,
    };
    const FINGERPRINT: u64 = Fingerprint::new("array")
        .u64(N as u64)
        .u64(T::FINGERPRINT)
        .finish();

    #[inline]
    fn encode_fixed(&self, w: &mut Writer<'_>) {
        let _ = const { fixed_items::<T>() };
        T::encode_items(self, w);
    }
    #[inline]
    fn tail_len(&self) -> usize {
        0
    }
    #[inline]
    fn encode_tail(&self, _: &mut Writer<'_>) {}
    #[inline]
    fn decode_tail<'a>(
        fixed: &'a [T::Fixed; N],
        at: usize,
        _: &mut Reader<'a>,
    ) -> Result<(), DecodeError> {
        if T::CHECKS_FIXED {
            let mut empty = Reader::new(&[]);
            let mut item_at = at;
            for item in fixed {
                T::decode_tail(item, item_at, &mut empty)?;
                item_at = item_at.saturating_add(T::FIXED_LEN);
            }
        }
        Ok(())
    }
    #[inline]
    fn view(fixed: &[T::Fixed; N], _: ()) -> &[T::Fixed; N] {
        fixed
    }
}

impl<'de, T: FromView<'de>, const N: usize> FromView<'de> for [T; N] {
    #[inline]
    fn from_view(view: &'de [T::Fixed; N]) -> Self {
        let _ = const { fixed_items::<T>() };
        view.each_ref()
            .map(|f| T::from_view(super::checked_fixed_view::<T>(f)))
    }
}

impl<T: Scalar, const N: usize> Scalar for [T; N] {}
