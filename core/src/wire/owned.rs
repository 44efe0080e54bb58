//! Owned decoding: decoding from a buffer that the caller gives away (or
//! shares), so that `bytes::Bytes` values in the result point into it
//! instead of being copied out of it.
//!
//! The buffer travels with the decode itself: `Reader::sharing` puts it in
//! the cursor, sequences (`Seq`) keep it for their items, and the
//! `BytesView` of each `Bytes` value carries it to `FromView`, which slices
//! it. There is no global or thread-local state, so this works the same
//! without `std`, and nested or reentrant decodes and panics need no care:
//! each decode has its own buffer, and one that unwinds leaves nothing
//! behind.

use alloc::vec::Vec;

#[cfg(feature = "bytes")]
use super::{view_whole, Reader};
use super::{DecodeError, FromView};

/// Decodes a `T` from an owned buffer; with the `bytes` feature, the
/// `bytes::Bytes` values in it (at any depth: struct fields, `Vec<Bytes>`,
/// `Option<Bytes>`, tuples, enum variants, `Box`) share `buf` instead of
/// copying out of it.
///
/// Accepts and rejects exactly the bodies [`Wire::decode`](super::Wire::decode)
/// does, with the same [`DecodeError`], and gives an equal value. `buf`
/// becomes a `Bytes` without a copy (`Bytes::from(Vec<u8>)`), so each `Bytes`
/// value costs a reference count instead of an allocation and a copy; other
/// heap-backed values (`String`, `Vec<u8>`, …) are copied as by `decode`. A
/// `Bytes` value keeps the whole of `buf` alive, however short it is: use
/// `decode`, which copies, when a small `Bytes` value should not pin a large
/// message. Without the `bytes` feature this is `T::decode(&buf)`.
///
/// ```
/// # #[cfg(feature = "bytes")] {
/// use zerowire::Wire;
///
/// #[derive(Wire, Debug, PartialEq)]
/// struct Blob { id: u32, data: bytes::Bytes }
///
/// let buf = Blob { id: 7, data: bytes::Bytes::from_static(b"payload") }.encode_to_vec();
/// let range = buf.as_ptr_range();
/// let blob: Blob = zerowire::wire::decode_owned(buf).unwrap();
/// assert_eq!(blob.data, &b"payload"[..]);
/// assert!(range.contains(&blob.data.as_ptr())); // inside the buffer: no copy
/// # }
/// ```
#[inline]
pub fn decode_owned<T: for<'de> FromView<'de>>(buf: Vec<u8>) -> Result<T, DecodeError> {
    #[cfg(feature = "bytes")]
    {
        decode_shared(&bytes::Bytes::from(buf))
    }
    #[cfg(not(feature = "bytes"))]
    {
        T::decode(&buf)
    }
}

/// Decodes a `T` from `buf`; the `bytes::Bytes` values in it (at any depth)
/// are slices of `buf`, sharing its storage, instead of copies.
///
/// [`decode_owned`] for a buffer that already is a `Bytes` (a part of a
/// larger receive buffer, a `Bytes` value decoded earlier): the same result
/// and errors as [`Wire::decode`](super::Wire::decode), and each `Bytes`
/// value costs a reference count. They keep `buf`'s storage alive.
#[cfg(feature = "bytes")]
#[inline]
pub fn decode_shared<T: for<'de> FromView<'de>>(buf: &bytes::Bytes) -> Result<T, DecodeError> {
    view_whole::<T>(Reader::sharing(buf)).map(T::from_view)
}
