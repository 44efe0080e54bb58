//! The outgoing byte buffer: frames are encoded straight into it, and the
//! driver writes everything pending in one system call.

use crate::wire::EncodeError;

/// Caller-owned storage holding encoded frames until the driver writes them.
#[derive(Debug)]
pub(crate) struct SendBuf<B> {
    buf: B,
    /// First byte not yet written by the driver.
    start: usize,
    /// End of the encoded bytes.
    end: usize,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> SendBuf<B> {
    pub(crate) fn new(buf: B) -> Self {
        Self {
            buf,
            start: 0,
            end: 0,
        }
    }

    /// Bytes encoded and not yet written.
    pub(crate) fn pending(&self) -> &[u8] {
        self.buf
            .as_ref()
            .get(self.start..self.end)
            .unwrap_or_default()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.buf.as_ref().len()
    }

    pub(crate) fn pending_len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// The driver wrote `n` pending bytes.
    pub(crate) fn advance(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Encodes one frame with `f` at the end of the pending bytes. On
    /// `BufferTooSmall` the pending bytes are moved to the front and `f` is
    /// tried once more; if it still does not fit, nothing is appended.
    pub(crate) fn append(
        &mut self,
        mut f: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
    ) -> Result<usize, EncodeError> {
        let end = self.end;
        let spare = self.buf.as_mut().get_mut(end..).unwrap_or_default();
        match f(spare) {
            Ok(n) => {
                self.end = end.saturating_add(n);
                Ok(n)
            }
            Err(EncodeError::BufferTooSmall { .. }) if self.start > 0 => {
                let (start, end) = (self.start, self.end);
                self.buf.as_mut().copy_within(start..end, 0);
                self.start = 0;
                self.end = end.saturating_sub(start);
                let end = self.end;
                let spare = self.buf.as_mut().get_mut(end..).unwrap_or_default();
                let n = f(spare)?;
                self.end = end.saturating_add(n);
                Ok(n)
            }
            Err(e) => Err(e),
        }
    }
}
