//! Accumulating frames from a byte stream in caller-owned storage.

use core::cell::Cell;

use super::{Frame, FrameDecoder, FrameError, MAX_HEADER_LEN};

/// Buffers a byte stream in storage the caller owns (`[u8; N]`, `Vec<u8>`,
/// `&mut [u8]`) and yields whole frames that borrow it.
///
/// Bytes arrive through [`push`](Self::push) (copying) or by reading straight
/// into [`spare`](Self::spare) and calling [`commit`](Self::commit). Any
/// split of the stream works, down to one byte at a time. A partial frame is
/// kept and moved to the front of the storage when room is needed. The frame
/// limit is the decoder's `max_frame`, further capped so a whole frame always
/// fits in the storage: a frame that could never fit is reported as
/// [`FrameError::TooLarge`] as soon as its header arrives.
#[derive(Debug)]
pub struct FrameReader<B> {
    buf: B,
    /// First unconsumed byte; a `Cell` so that [`FrameReader::next_frame`]
    /// can take `&self` and hand out frames that borrow the storage.
    start: Cell<usize>,
    end: usize,
    decoder: FrameDecoder,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> FrameReader<B> {
    /// A reader over `storage` that accepts frames up to `max_frame` bytes
    /// (after the header), or up to what fits in `storage`, whichever is less.
    pub fn new(storage: B, max_frame: u32) -> Self {
        let cap = storage.as_ref().len().saturating_sub(MAX_HEADER_LEN);
        let cap = u32::try_from(cap).unwrap_or(u32::MAX);
        Self {
            buf: storage,
            start: Cell::new(0),
            end: 0,
            decoder: FrameDecoder::new(max_frame.min(cap)),
        }
    }

    /// Changes the frame limit (capped by the storage, as in [`new`](Self::new)).
    pub fn set_max_frame(&mut self, max_frame: u32) {
        let cap = self.buf.as_ref().len().saturating_sub(MAX_HEADER_LEN);
        let cap = u32::try_from(cap).unwrap_or(u32::MAX);
        self.decoder = FrameDecoder::new(max_frame.min(cap));
    }

    /// Bytes buffered and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.end.saturating_sub(self.start.get())
    }

    /// The frame limit in force.
    pub fn max_frame(&self) -> u64 {
        self.decoder.max_frame()
    }

    fn compact(&mut self) {
        let (start, end) = (self.start.get(), self.end);
        if start > 0 {
            self.buf.as_mut().copy_within(start..end, 0);
            self.end = end.saturating_sub(start);
            self.start.set(0);
        }
    }

    /// Free storage to read into (moves a partial frame to the front first
    /// when that makes room). Follow with [`commit`](Self::commit).
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start.get() == self.end {
            self.start.set(0);
            self.end = 0;
        } else if self.end == self.buf.as_ref().len() {
            self.compact();
        }
        let end = self.end;
        self.buf.as_mut().get_mut(end..).unwrap_or_default()
    }

    /// Marks `n` bytes written into [`spare`](Self::spare) as received.
    pub fn commit(&mut self, n: usize) {
        self.end = self.end.saturating_add(n).min(self.buf.as_ref().len());
    }

    /// Copies as much of `data` as fits and returns how many bytes it took.
    /// Take frames out with [`next_frame`](Self::next_frame) to make room.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let spare = self.spare();
        let n = spare.len().min(data.len());
        if let (Some(dst), Some(src)) = (spare.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.commit(n);
        n
    }

    /// The buffered bytes not yet taken.
    pub fn pending(&self) -> &[u8] {
        self.buf
            .as_ref()
            .get(self.start.get()..self.end)
            .unwrap_or_default()
    }

    /// Takes the first `n` buffered bytes (fewer if fewer are buffered),
    /// for a caller that parses part of a frame itself (a DATA header, then
    /// its payload piece by piece).
    ///
    /// Takes `&self` like [`next_frame`](Self::next_frame).
    pub fn take(&self, n: usize) -> &[u8] {
        let start = self.start.get();
        let next = start.saturating_add(n).min(self.end);
        self.start.set(next);
        self.buf.as_ref().get(start..next).unwrap_or_default()
    }

    /// The next whole frame, or `Ok(None)` when more bytes are needed.
    ///
    /// Takes `&self`: the frame borrows the storage, and the bytes it
    /// occupies are reused only by the next `&mut self` call.
    pub fn next_frame(&self) -> Result<Option<Frame<'_>>, FrameError> {
        let (start, end) = (self.start.get(), self.end);
        let pending = self.buf.as_ref().get(start..end).unwrap_or_default();
        let whole = match self.decoder.header(pending)? {
            Some((head, rest)) => {
                Some((head, head.saturating_add(rest))).filter(|&(_, n)| n <= pending.len())
            }
            None => None,
        };
        let Some((head, len)) = whole else {
            return Ok(None);
        };
        let next = start.saturating_add(len);
        self.start.set(next);
        // What `FrameDecoder::decode` does with these bytes, without
        // reading the header a second time.
        let bytes = self.buf.as_ref().get(start..next).unwrap_or_default();
        let ty = bytes.first().copied().unwrap_or_default();
        let rest = bytes.get(head..).unwrap_or_default();
        super::parse(ty, rest, head).map(Some)
    }
}
