//! The bounded cursors that encoders write to and decoders read from.

use super::error::{DecodeError, DecodeErrorKind};
use super::varint::{self, VarintError};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

/// A write cursor over a caller's buffer.
///
/// Writes never panic: a write that does not fit is dropped and remembered,
/// and [`Wire::encode`](crate::Wire::encode) reports it as an error.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    overflow: bool,
    #[cfg(feature = "alloc")]
    hole: Hole,
}

/// A run of bytes that a [`Writer`] leaves out instead of copying (see
/// [`encode_around`](super::encode_around)): it is recognised by its
/// address and length, and left out once.
#[cfg(feature = "alloc")]
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Hole {
    addr: usize,
    /// 0: no hole.
    len: usize,
    /// Where the run was left out.
    at: Option<usize>,
}

impl<'a> Writer<'a> {
    /// A cursor at the start of `buf`.
    #[inline]
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            overflow: false,
            #[cfg(feature = "alloc")]
            hole: Hole::default(),
        }
    }

    /// A cursor that leaves `run` out the first time it is `put` (the same
    /// address and length), remembering where.
    #[cfg(feature = "alloc")]
    #[inline]
    pub(crate) fn leaving_out(buf: &'a mut [u8], run: &[u8]) -> Self {
        let mut w = Self::new(buf);
        w.hole = Hole {
            addr: run.as_ptr().addr(),
            len: run.len(),
            at: None,
        };
        w
    }

    /// Where the run of [`leaving_out`](Self::leaving_out) was left out.
    #[cfg(feature = "alloc")]
    #[inline]
    pub(crate) fn left_out_at(&self) -> Option<usize> {
        self.hole.at
    }

    /// Appends `bytes`.
    #[inline]
    pub fn put(&mut self, bytes: &[u8]) {
        #[cfg(feature = "alloc")]
        if self.hole.len == bytes.len()
            && self.hole.len != 0
            && self.hole.at.is_none()
            && self.hole.addr == bytes.as_ptr().addr()
        {
            self.hole.at = Some(self.pos);
            return;
        }
        let end = self.pos.saturating_add(bytes.len());
        match self.buf.get_mut(self.pos..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.pos = end;
            }
            None => self.overflow = true,
        }
    }

    /// Appends one byte.
    #[inline]
    pub fn put_u8(&mut self, b: u8) {
        match self.buf.get_mut(self.pos) {
            Some(dst) => {
                *dst = b;
                self.pos = self.pos.saturating_add(1);
            }
            None => self.overflow = true,
        }
    }

    /// Appends `v` as an LPV.
    #[inline]
    pub fn put_varint(&mut self, v: u64) {
        // One fixed-width store per size (no variable-length copy).
        let v = v.min(varint::MAX);
        match varint::len(v) {
            1 => self.put_u8((v << 2) as u8),
            2 => self.put(&((v << 2 | 1) as u16).to_le_bytes()),
            4 => self.put(&((v << 2 | 2) as u32).to_le_bytes()),
            _ => self.put(&(v << 2 | 3).to_le_bytes()),
        }
    }

    /// Appends a length or count as an LPV.
    #[inline]
    pub fn put_len(&mut self, n: usize) {
        self.put_varint(n as u64);
    }

    /// Bytes written so far.
    #[inline]
    pub fn written(&self) -> usize {
        self.pos
    }

    /// True when every write fitted and the buffer is exactly full.
    #[inline]
    pub fn is_exactly_full(&self) -> bool {
        !self.overflow && self.pos == self.buf.len()
    }
}

/// The owned buffer that the input of a [`Reader`] lies in, if any:
/// `bytes::Bytes` values decoded through that reader share it instead of
/// copying (see [`Reader::sharing`]). Empty without the `bytes` feature.
///
/// It is part of the reader, not global state, so it is scoped to one decode
/// by construction: nested and reentrant decodes each have their own, and a
/// panic leaves nothing behind.
#[derive(Clone, Copy, Default)]
pub(crate) struct Backing<'a> {
    #[cfg(feature = "bytes")]
    buf: Option<&'a bytes::Bytes>,
    #[cfg(not(feature = "bytes"))]
    _none: core::marker::PhantomData<&'a ()>,
}

#[cfg(feature = "bytes")]
impl<'a> Backing<'a> {
    /// Byte strings inside `buf` share it.
    #[inline]
    pub(crate) fn new(buf: &'a bytes::Bytes) -> Self {
        Self { buf: Some(buf) }
    }

    /// The buffer, if there is one.
    #[inline]
    pub(crate) fn get(self) -> Option<&'a bytes::Bytes> {
        self.buf
    }

    /// Where `part` lies in the buffer, when it lies wholly inside it.
    #[inline]
    fn range_of(self, part: &[u8]) -> Option<(&'a bytes::Bytes, core::ops::Range<usize>)> {
        let buf = self.buf?;
        let start = part.as_ptr().addr().checked_sub(buf.as_ptr().addr())?;
        let end = start.checked_add(part.len())?;
        (end <= buf.len()).then_some((buf, start..end))
    }

    /// Whether [`share`](Self::share) would share `part`.
    #[inline]
    pub(crate) fn holds(self, part: &[u8]) -> bool {
        self.range_of(part).is_some()
    }

    /// `part` as a `Bytes` sharing the buffer, when `part` lies wholly inside
    /// it (checked here: a slice from anywhere else gives `None`).
    #[inline]
    pub(crate) fn share(self, part: &[u8]) -> Option<bytes::Bytes> {
        // `range` is within `buf` (checked above), so `slice` cannot panic.
        self.range_of(part).map(|(buf, range)| buf.slice(range))
    }
}

impl core::fmt::Debug for Backing<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The buffer's length, not its contents (it can be a whole message).
        #[cfg(feature = "bytes")]
        if let Some(buf) = self.buf {
            return write!(f, "Bytes({} bytes)", buf.len());
        }
        f.write_str("None")
    }
}

/// A read cursor over an input body that knows each byte's offset, for
/// error reports.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
    pos: usize,
    backing: Backing<'a>,
}

impl<'a> Reader<'a> {
    /// A cursor at offset 0 of `buf`.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Self::with_backing(buf, Backing::default())
    }

    /// A cursor at offset 0 of `buf` whose `bytes::Bytes` values share `buf`
    /// instead of copying out of it (what
    /// [`decode_shared`](crate::wire::decode_shared) decodes with).
    ///
    /// A hand-written [`Wire`](crate::Wire) implementation can do the same
    /// for its own byte-string type with [`backing`](Self::backing).
    #[cfg(feature = "bytes")]
    #[inline]
    pub fn sharing(buf: &'a bytes::Bytes) -> Self {
        Self::with_backing(buf, Backing::new(buf))
    }

    /// The buffer given to [`sharing`](Self::sharing), if this cursor (or the
    /// one whose sequence it walks) was made by it; every slice this cursor
    /// returns then lies inside it, and `Bytes::slice_ref` turns one into a
    /// `Bytes` without a copy.
    #[cfg(feature = "bytes")]
    #[inline]
    pub fn backing(&self) -> Option<&'a bytes::Bytes> {
        self.backing.get()
    }

    /// A cursor at offset 0 of `buf`, a part of `backing`'s buffer (a
    /// sequence's items).
    #[inline]
    pub(crate) fn with_backing(buf: &'a [u8], backing: Backing<'a>) -> Self {
        Self {
            rest: buf,
            pos: 0,
            backing,
        }
    }

    /// The buffer the input lies in, to hand to views that outlive the
    /// cursor (sequences, byte strings).
    #[inline]
    pub(crate) fn backing_buf(&self) -> Backing<'a> {
        self.backing
    }

    /// The offset of the next byte from the start of the input.
    #[inline]
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The unread bytes.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// The number of unread bytes.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// An error of `kind` at the current offset.
    #[inline]
    pub fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(kind, self.pos)
    }

    /// Takes the next `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        match self.rest.split_at_checked(n) {
            Some((head, rest)) => {
                self.rest = rest;
                self.pos = self.pos.saturating_add(n);
                Ok(head)
            }
            None => Err(self.error(DecodeErrorKind::UnexpectedEnd {
                needed: n.saturating_sub(self.rest.len()),
            })),
        }
    }

    /// Takes the next byte.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        match self.rest.split_first() {
            Some((&b, rest)) => {
                self.rest = rest;
                self.pos = self.pos.saturating_add(1);
                Ok(b)
            }
            None => Err(self.error(DecodeErrorKind::UnexpectedEnd { needed: 1 })),
        }
    }

    /// Views the next `size_of::<T>()` bytes as a `T` (a length check and a
    /// cast; alignment 1 makes every offset valid).
    #[inline]
    pub fn fixed<T: FromBytes + KnownLayout + Immutable + Unaligned>(
        &mut self,
    ) -> Result<&'a T, DecodeError> {
        match T::ref_from_prefix(self.rest) {
            Ok((t, rest)) => {
                self.rest = rest;
                self.pos = self.pos.saturating_add(size_of::<T>());
                Ok(t)
            }
            Err(_) => Err(self.error(DecodeErrorKind::UnexpectedEnd {
                needed: size_of::<T>().saturating_sub(self.rest.len()),
            })),
        }
    }

    /// Reads an LPV.
    #[inline]
    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        match varint::decode(self.rest) {
            Ok((v, n)) => {
                self.take(n)?;
                Ok(v)
            }
            Err(VarintError::Incomplete(n)) => Err(self.error(DecodeErrorKind::UnexpectedEnd {
                needed: n.saturating_sub(self.rest.len()),
            })),
            Err(VarintError::NonMinimal) => Err(self.error(DecodeErrorKind::NonMinimalVarint)),
        }
    }

    /// Reads an LPV length or count.
    #[inline]
    pub fn count(&mut self) -> Result<usize, DecodeError> {
        let at = self.pos;
        let v = self.varint()?;
        usize::try_from(v).map_err(|_| DecodeError::new(DecodeErrorKind::LengthOverflow, at))
    }

    /// Reads an LPV byte length and takes that many bytes.
    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.count()?;
        self.take(n)
    }

    /// Succeeds when every byte was read.
    #[inline]
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.error(DecodeErrorKind::TrailingBytes {
                count: self.rest.len(),
            }))
        }
    }
}
