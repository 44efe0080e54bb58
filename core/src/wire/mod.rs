//! The wire format: the [`Wire`] trait, borrowed views and decoding errors.
//!
//! Every wire type has two parts:
//!
//! - a **fixed block**, [`Wire::Fixed`]: a `zerocopy` type of alignment 1
//!   whose size is known at compile time (integers, floats, `bool`, `char`,
//!   arrays, the fixed blocks of nested structs, fieldless enums). A body's
//!   fixed block is viewed in place with one length check and a cast;
//! - a **tail**: the variable-length parts (strings, byte strings, vectors,
//!   options, data-carrying enums), written after the fixed block in
//!   declaration order (depth first), each behind an [LPV](varint) length,
//!   count or tag.
//!
//! A body is `fixed block ‖ tail`. Decoding validates both in one forward pass
//! and yields a [`Wire::View`] that borrows the input; [`FromView`] turns a
//! view into an owned value. `docs/wire-format.md` in the repository is the
//! byte-exact specification.

mod cursor;
mod error;
mod fingerprint;
#[cfg(feature = "heapless")]
mod heapless_impls;
#[cfg(feature = "alloc")]
mod owned;
mod prim;
mod seq;
mod text;
mod tuple;
mod wrap;

pub mod varint;

pub use cursor::{Reader, Writer};
pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use fingerprint::Fingerprint;
#[cfg(feature = "alloc")]
pub use owned::decode_owned;
#[cfg(feature = "bytes")]
pub use owned::decode_shared;
#[cfg(feature = "bytes")]
pub use seq::BytesView;
pub use seq::{Seq, SeqIter};
pub use text::from_utf8;
pub use tuple::{Tuple1, Tuple2, Tuple3, Tuple4, Tuple5, Tuple6, Tuple7, Tuple8};

use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

/// A type with a zerowire encoding.
///
/// Implement it with `#[derive(Wire)]`; the implementations in this crate cover
/// the primitive and container types. The methods that take a [`Writer`] or a
/// [`Reader`] are the building blocks the derive composes; applications use
/// [`encode`](Wire::encode), [`encoded_len`](Wire::encoded_len),
/// [`decode_view`](Wire::decode_view) and [`decode`](Wire::decode).
///
/// Unsupported types such as `usize`, `isize`, raw pointers and unions do not
/// implement `Wire`: their size or meaning differs between the two ends.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a zerowire wire type",
    label = "`{Self}` does not implement `Wire`",
    note = "derive it with `#[derive(zerowire::Wire)]`, or use a supported type: fixed-width integers (not `usize`/`isize`), f32/f64, bool, char, arrays, `String`/`&str`, `Vec<T>`/`&[u8]`, `Option<T>`"
)]
pub trait Wire {
    /// The layout of this type's fixed block: alignment 1, every bit pattern
    /// readable (values that need checking, such as `bool`, are checked by
    /// [`decode_tail`](Wire::decode_tail)).
    type Fixed: FromBytes + KnownLayout + Immutable + Unaligned + 'static;
    /// What decoding the tail yields: slices of the input and counts, `()`
    /// for types without a tail.
    type Tail<'a>: Copy;
    /// The borrowed view of a decoded value; it borrows the input buffer.
    type View<'a>;

    /// Size of the fixed block in bytes.
    const FIXED_LEN: usize = size_of::<Self::Fixed>();
    /// Whether any value of this type writes bytes after its fixed block.
    const HAS_TAIL: bool;
    /// Whether the fixed block has byte patterns that must be rejected
    /// (`bool`, `char`, fieldless enums, or types containing them).
    const CHECKS_FIXED: bool;
    /// The smallest encoded length of any value.
    const MIN_LEN: usize;
    /// The largest encoded length of any value, `None` if unbounded.
    const MAX_LEN: Option<usize>;
    /// The compile-time schema fingerprint: FNV-1a over the type's structure
    /// (field names and order, field types, variant names), not its name.
    const FINGERPRINT: u64;
    /// The largest encoded length, for sizing buffers at compile time.
    ///
    /// Using it on an unbounded type (one with a `String`, `Vec`, …) is a
    /// compile-time error.
    #[allow(clippy::panic)]
    const MAX_ENCODED_LEN: usize = match Self::MAX_LEN {
        Some(n) => n,
        None => panic!("this wire type is unbounded: it has no MAX_ENCODED_LEN (use heapless::String/Vec or arrays for a bounded type)"),
    };

    /// Writes exactly [`FIXED_LEN`](Wire::FIXED_LEN) bytes of the fixed block.
    fn encode_fixed(&self, w: &mut Writer<'_>);
    /// The number of tail bytes [`encode_tail`](Wire::encode_tail) writes.
    fn tail_len(&self) -> usize;
    /// Writes the tail.
    fn encode_tail(&self, w: &mut Writer<'_>);
    /// Checks `fixed` (found at body offset `at`) and reads this value's tail
    /// from `r`.
    fn decode_tail<'a>(
        fixed: &'a Self::Fixed,
        at: usize,
        r: &mut Reader<'a>,
    ) -> Result<Self::Tail<'a>, DecodeError>;
    /// Builds the view from a checked fixed block and its decoded tail.
    fn view<'a>(fixed: &'a Self::Fixed, tail: Self::Tail<'a>) -> Self::View<'a>;

    /// The longest run of bytes that encoding this value writes verbatim,
    /// as it lies in the value's own heap storage: a byte string's or a
    /// string's contents, a `Vec` of scalars' items; `None` if it has none.
    ///
    /// [`encode_around`] leaves that run out of the encoding, so that a
    /// transport can send it from where it lies instead of copying it (a
    /// large `Vec<u8>` argument goes out without a copy). A type that
    /// returns `Some(run)` writes exactly `run` (the same address and
    /// length) with one [`Writer::put`] in its `encode_tail`. Structs,
    /// enums and tuples give their fields' longest run. The default, `None`,
    /// is always correct; values whose bytes lie inline (arrays, `heapless`
    /// types, scalars) keep it.
    #[inline]
    fn verbatim(&self) -> Option<&[u8]> {
        None
    }

    /// [`verbatim`](Wire::verbatim) for a run of items (a `Vec<Self>`'s
    /// contents): `Some` when [`encode_items`](Wire::encode_items) writes
    /// exactly these bytes with one [`Writer::put`] (scalars on
    /// little-endian machines).
    #[inline]
    fn items_verbatim(items: &[Self]) -> Option<&[u8]>
    where
        Self: Sized,
    {
        let _ = items;
        None
    }

    /// Writes a run of values, each as fixed block ‖ tail (a `Vec`'s items).
    ///
    /// Scalars override this with one copy on little-endian machines.
    #[inline]
    fn encode_items(items: &[Self], w: &mut Writer<'_>)
    where
        Self: Sized,
    {
        for item in items {
            item.encode_fixed(w);
            item.encode_tail(w);
        }
    }

    /// The exact number of bytes [`encode`](Wire::encode) writes.
    #[inline]
    fn encoded_len(&self) -> usize {
        Self::FIXED_LEN.saturating_add(self.tail_len())
    }

    /// Encodes into the front of `buf` without allocating and returns the
    /// number of bytes written.
    #[inline]
    fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let len = self.encoded_len();
        let available = buf.len();
        let out = buf.get_mut(..len).ok_or(EncodeError::BufferTooSmall {
            needed: len,
            available,
        })?;
        let (fixed, tail) = out
            .split_at_mut_checked(Self::FIXED_LEN)
            .ok_or(EncodeError::LengthMismatch)?;
        let mut fw = Writer::new(fixed);
        self.encode_fixed(&mut fw);
        let mut tw = Writer::new(tail);
        self.encode_tail(&mut tw);
        if fw.is_exactly_full() && tw.is_exactly_full() {
            Ok(len)
        } else {
            Err(EncodeError::LengthMismatch)
        }
    }

    /// Encodes into a new `Vec`.
    #[cfg(feature = "alloc")]
    fn encode_to_vec(&self) -> alloc::vec::Vec<u8> {
        let mut v = alloc::vec![0u8; self.encoded_len()];
        // The buffer has exactly `encoded_len()` bytes, so only a `Wire`
        // impl whose `tail_len` disagrees with `encode_tail` can fail here.
        match self.encode(&mut v) {
            Ok(n) => v.truncate(n),
            Err(_) => v.clear(),
        }
        v
    }

    /// Validates a whole body and returns its borrowed view.
    ///
    /// Never panics, never allocates, and rejects trailing bytes.
    #[inline]
    fn decode_view(bytes: &[u8]) -> Result<Self::View<'_>, DecodeError> {
        view_whole::<Self>(Reader::new(bytes))
    }

    /// Validates a whole body and converts it into an owned value.
    ///
    /// Heap-backed values are copied out of `bytes`; to decode from an owned
    /// buffer whose `bytes::Bytes` values are shared rather than copied, see
    /// `zerowire::wire::decode_owned` (feature `alloc`).
    #[inline]
    fn decode<'a>(bytes: &'a [u8]) -> Result<Self, DecodeError>
    where
        Self: FromView<'a>,
    {
        Self::decode_view(bytes).map(Self::from_view)
    }
}

/// An encoding with its longest verbatim run left out (see
/// [`encode_around`]): the whole encoding is `rest[..at] ‖ run ‖ rest[at..]`.
#[cfg(feature = "alloc")]
#[derive(Debug)]
pub struct Around<'v> {
    /// The encoding without the run.
    pub rest: alloc::vec::Vec<u8>,
    /// Where the run goes in `rest`.
    pub at: usize,
    /// The run, where it lies in the value.
    pub run: &'v [u8],
}

/// Encodes `value` without copying its longest verbatim run
/// ([`Wire::verbatim`], [`Encode::verbatim_part`]) when that run is at least `min` bytes long:
/// a transport writes `rest[..at]`, then `run` from where it lies, then
/// `rest[at..]`, and the peer receives exactly [`Wire::encode_to_vec`]'s
/// bytes. `None` when the value has no such run, or the encoding does not
/// come out as its `Wire` impl declares (then encode it whole).
///
/// ```
/// use zerowire::Wire;
///
/// let value = (7u32, vec![0xAB_u8; 100_000]);
/// let around = zerowire::wire::encode_around(&value, 1024).unwrap();
/// assert_eq!(around.rest.len(), value.encoded_len() - 100_000); // the run is not copied
/// assert!(core::ptr::eq(around.run, &value.1[..]));
/// let mut whole = around.rest[..around.at].to_vec();
/// whole.extend_from_slice(around.run);
/// whole.extend_from_slice(&around.rest[around.at..]);
/// assert_eq!(whole, value.encode_to_vec());
/// ```
#[cfg(feature = "alloc")]
pub fn encode_around<T: Encode + ?Sized>(value: &T, min: usize) -> Option<Around<'_>> {
    let run = value.verbatim_part().filter(|r| r.len() >= min.max(1))?;
    let len = value.encoded_len().checked_sub(run.len())?;
    let mut rest = alloc::vec![0u8; len];
    let at = value.encode_leaving_out(&mut rest, run)?;
    Some(Around { rest, at, run })
}

/// [`Encode::encode_leaving_out`] of a [`Wire`] value.
#[cfg(feature = "alloc")]
fn leave_out<T: Wire + ?Sized>(value: &T, rest: &mut [u8], run: &[u8]) -> Option<usize> {
    if run.is_empty() {
        return None;
    }
    let (fixed, tail) = rest.split_at_mut_checked(T::FIXED_LEN)?;
    let mut fw = Writer::new(fixed);
    value.encode_fixed(&mut fw);
    let mut tw = Writer::leaving_out(tail, run);
    value.encode_tail(&mut tw);
    let at = T::FIXED_LEN.checked_add(tw.left_out_at()?)?;
    (fw.is_exactly_full() && tw.is_exactly_full()).then_some(at)
}

/// Something that can be written as a body: every [`Wire`] type, and the
/// reply enums `#[zerowire::service]` generates (one variant per method).
pub trait Encode {
    /// The exact number of bytes [`encode`](Encode::encode) writes.
    fn encoded_len(&self) -> usize;
    /// Encodes into the front of `buf` and returns the number of bytes written.
    fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError>;

    /// The longest run of bytes the encoding writes verbatim from the
    /// value's heap storage ([`Wire::verbatim`]); `None` by default.
    #[inline]
    fn verbatim_part(&self) -> Option<&[u8]> {
        None
    }

    /// Encodes everything but `run` (which must be
    /// [`verbatim_part`](Encode::verbatim_part)'s run) into `rest`, exactly
    /// `encoded_len() - run.len()` bytes, and returns where the run goes
    /// (see [`encode_around`]). `None` if the value cannot: the default,
    /// and always without the `alloc` feature.
    #[inline]
    fn encode_leaving_out(&self, rest: &mut [u8], run: &[u8]) -> Option<usize> {
        let _ = (rest, run);
        None
    }
}

impl<T: Wire> Encode for T {
    #[inline]
    fn encoded_len(&self) -> usize {
        Wire::encoded_len(self)
    }
    #[inline]
    fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        Wire::encode(self, buf)
    }
    #[inline]
    fn verbatim_part(&self) -> Option<&[u8]> {
        Wire::verbatim(self)
    }
    #[cfg(feature = "alloc")]
    #[inline]
    fn encode_leaving_out(&self, rest: &mut [u8], run: &[u8]) -> Option<usize> {
        leave_out(self, rest, run)
    }
}

/// Conversion from a validated view to a value, which may borrow from the
/// input (`&'de str`) or own its data (`String`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a zerowire wire type",
    label = "`{Self}` cannot be decoded from the wire",
    note = "derive it with `#[derive(zerowire::Wire)]`, or use a supported type"
)]
pub trait FromView<'de>: Wire + Sized {
    /// Builds the value. Allocates only for heap-backed fields, and only for
    /// items the view already holds.
    fn from_view(view: Self::View<'de>) -> Self;

    /// Appends a sequence's items to `out` (owned decoding of `Vec<Self>`).
    ///
    /// Scalars override this with one copy on little-endian machines.
    #[cfg(feature = "alloc")]
    #[inline]
    fn extend_vec(out: &mut alloc::vec::Vec<Self>, items: Seq<'de, Self>) {
        out.extend(items.iter().map(Self::from_view));
    }
}

/// Validates the whole input of `r` as a `T` body and returns its view.
#[inline]
pub(crate) fn view_whole<T: Wire + ?Sized>(mut r: Reader<'_>) -> Result<T::View<'_>, DecodeError> {
    let fixed = r.fixed::<T::Fixed>()?;
    let tail = T::decode_tail(fixed, 0, &mut r)?;
    r.finish()?;
    Ok(T::view(fixed, tail))
}

/// Views a fixed block that was already checked, for a type without a tail
/// (array items).
#[inline]
#[allow(clippy::expect_used)]
pub(crate) fn checked_fixed_view<T: Wire>(fixed: &T::Fixed) -> T::View<'_> {
    let mut r = Reader::new(&[]);
    // Invariant, checked locally: callers pass a fixed block that the same
    // `decode_tail` accepted while the array was validated, and types with a
    // tail are rejected at compile time for arrays, so this cannot fail.
    let tail = T::decode_tail(fixed, 0, &mut r).expect("fixed block was validated");
    T::view(fixed, tail)
}
