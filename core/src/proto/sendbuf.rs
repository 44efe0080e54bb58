//! The outgoing byte buffer: frames are encoded straight into it, and the
//! driver writes everything pending in one system call. A bulk chunk's
//! payload may stay in the driver's storage (a *splice*): only its header
//! goes into the buffer and the driver writes the payload right after it
//! (vectored write: header, payload, the frames queued after it).

use crate::wire::EncodeError;

/// A payload the driver writes from its own storage at buffer offset `at`.
#[derive(Clone, Copy, Debug)]
struct Splice {
    at: usize,
    left: usize,
}

/// Caller-owned storage holding encoded frames until the driver writes them.
#[derive(Debug)]
pub(crate) struct SendBuf<B> {
    buf: B,
    /// First byte not yet written by the driver.
    start: usize,
    /// End of the encoded bytes.
    end: usize,
    splice: Option<Splice>,
    /// Stream positions: bytes ever queued (spliced payloads included) and
    /// ever written.
    queued: u64,
    written: u64,
    /// Stream position where the last bulk chunk ends.
    bulk_end: u64,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> SendBuf<B> {
    pub(crate) fn new(buf: B) -> Self {
        Self {
            buf,
            start: 0,
            end: 0,
            splice: None,
            queued: 0,
            written: 0,
            bulk_end: 0,
        }
    }

    /// Buffered bytes to write before the spliced payload (all buffered
    /// bytes when there is none).
    pub(crate) fn head(&self) -> &[u8] {
        let stop = self.splice.map_or(self.end, |s| s.at);
        self.buf.as_ref().get(self.start..stop).unwrap_or_default()
    }

    /// Spliced payload bytes still to write after [`head`](Self::head).
    pub(crate) fn spliced(&self) -> usize {
        self.splice.map_or(0, |s| s.left)
    }

    /// Buffered bytes to write after the spliced payload.
    pub(crate) fn tail(&self) -> &[u8] {
        match self.splice {
            Some(s) => self.buf.as_ref().get(s.at..self.end).unwrap_or_default(),
            None => &[],
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.buf.as_ref().len()
    }

    /// Bytes held in the buffer and not yet written.
    pub(crate) fn pending_len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Whether the last bulk chunk is not completely written yet.
    pub(crate) fn bulk_pending(&self) -> bool {
        self.written < self.bulk_end
    }

    /// Marks everything queued so far as the end of a bulk chunk.
    pub(crate) fn mark_bulk(&mut self) {
        self.bulk_end = self.queued;
    }

    /// Queues `len` payload bytes the driver writes from its own storage
    /// after the frames buffered so far. At most one splice is pending.
    pub(crate) fn add_splice(&mut self, len: usize) -> bool {
        if self.splice.is_some() {
            return false;
        }
        if len > 0 {
            self.splice = Some(Splice {
                at: self.end,
                left: len,
            });
            self.queued = self.queued.saturating_add(len as u64);
        }
        true
    }

    /// The driver wrote `n` bytes, in wire order: head, spliced payload,
    /// tail.
    pub(crate) fn advance(&mut self, n: usize) {
        let mut n = n;
        if let Some(mut s) = self.splice {
            let head = s.at.saturating_sub(self.start).min(n);
            self.start = self.start.saturating_add(head);
            n = n.saturating_sub(head);
            self.written = self.written.saturating_add(head as u64);
            if self.start >= s.at {
                let taken = s.left.min(n);
                s.left = s.left.saturating_sub(taken);
                n = n.saturating_sub(taken);
                self.written = self.written.saturating_add(taken as u64);
            }
            self.splice = (s.left > 0).then_some(s);
            if self.splice.is_some() {
                return;
            }
        }
        let taken = n.min(self.end.saturating_sub(self.start));
        self.start = self.start.saturating_add(taken);
        self.written = self.written.saturating_add(taken as u64);
        if self.start == self.end && self.splice.is_none() {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Moves the pending bytes to the front of the storage.
    fn compact(&mut self) {
        let (start, end) = (self.start, self.end);
        if start == 0 {
            return;
        }
        self.buf.as_mut().copy_within(start..end, 0);
        self.start = 0;
        self.end = end.saturating_sub(start);
        if let Some(s) = &mut self.splice {
            s.at = s.at.saturating_sub(start);
        }
    }

    /// Encodes one frame with `f` at the end of the pending bytes. On
    /// `BufferTooSmall` the pending bytes are moved to the front and `f` is
    /// tried once more; if it still does not fit, nothing is appended.
    ///
    /// `f` is called from one place (a loop of at most two rounds), so each
    /// caller's encoder is inlined once, not twice.
    #[inline(always)]
    pub(crate) fn append(
        &mut self,
        mut f: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
    ) -> Result<usize, EncodeError> {
        let mut retry = self.start > 0;
        loop {
            match f(self.spare()) {
                Ok(n) => {
                    self.commit(n);
                    return Ok(n);
                }
                Err(EncodeError::BufferTooSmall { .. }) if retry => {
                    self.compact();
                    retry = false;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The free storage after the pending bytes.
    fn spare(&mut self) -> &mut [u8] {
        let end = self.end;
        self.buf.as_mut().get_mut(end..).unwrap_or_default()
    }

    /// Marks `n` bytes written into [`spare`](Self::spare) as queued. Out
    /// of line: `append` is inlined wherever a connection queues a frame,
    /// and the two saturating counters (one 64-bit) cost flash each time.
    #[inline(never)]
    fn commit(&mut self, n: usize) {
        self.end = self.end.saturating_add(n);
        self.queued = self.queued.saturating_add(n as u64);
    }
}
