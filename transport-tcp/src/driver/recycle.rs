//! Reassembly buffers used again: a stream of large items (camera frames,
//! say) or a run of calls with large arguments would otherwise take a
//! fresh allocation per message, which costs a page fault per 4 KiB page
//! or a zeroing pass for every message, and lands each one in memory that
//! has left the cache.
//!
//! The driver keeps a handle on the buffers of the last few large
//! messages it handed out (stream items, a handler's arguments, a call's
//! result). Once the application has dropped the message (and every
//! `Bytes` value decoded from it), the driver's handle is the only one
//! left, and the next large message is reassembled in that buffer.

use bytes::Bytes;

/// Messages smaller than this are reassembled in fresh buffers: the
/// allocator serves them cheaply.
const MIN_LEN: usize = 64 * 1024;
/// Buffers kept at most.
const MAX_KEPT: usize = 8;
/// Bytes of buffer kept at most (in use by the application or free).
const MAX_KEPT_BYTES: usize = 4 * 1024 * 1024;

/// The buffers of recently handed-out large messages.
#[derive(Default)]
pub(super) struct Recycler {
    /// Oldest first.
    kept: Vec<Bytes>,
    /// Buffers used again (counted for [`crate::Stats`]).
    pub(super) reused: u64,
}

impl Recycler {
    /// A buffer of exactly `len` bytes (its contents unspecified): a kept
    /// one the application is done with and that is not more than twice
    /// as large, else a fresh one.
    pub(super) fn take(&mut self, len: usize) -> Vec<u8> {
        if len >= MIN_LEN {
            let free = self
                .kept
                .iter()
                .position(|b| b.is_unique() && (len..=len.saturating_mul(2)).contains(&b.len()));
            if let Some(i) = free {
                // The only handle left: the vector comes back without a
                // copy, its length and capacity as they were.
                let mut buf = Vec::from(self.kept.remove(i));
                buf.truncate(len);
                self.reused += 1;
                return buf;
            }
        }
        vec![0; len]
    }

    /// `buf` as shared bytes for the application; a large one is kept for
    /// [`take`](Self::take), dropping the oldest kept buffers beyond the
    /// limits.
    pub(super) fn share(&mut self, buf: Vec<u8>) -> Bytes {
        let len = buf.len();
        let bytes = Bytes::from(buf);
        if (MIN_LEN..=MAX_KEPT_BYTES).contains(&len) {
            self.kept.push(bytes.clone());
            let mut total: usize = self.kept.iter().map(Bytes::len).sum();
            while self.kept.len() > MAX_KEPT || total > MAX_KEPT_BYTES {
                total -= self.kept.remove(0).len();
            }
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_item_s_buffer_is_used_again_and_a_held_one_is_not() {
        let mut r = Recycler::default();
        let buf = r_take(&mut r, 1 << 20, 1);
        let first = r.share(buf);
        let at = first.as_ptr();
        // Still held by the application: a fresh buffer.
        let second = r.take(1 << 20);
        assert_ne!(second.as_ptr(), at);
        assert_eq!(r.reused, 0);
        drop(first);
        // Dropped: the same memory, at the requested length.
        let third = r.take(1 << 20);
        assert_eq!(third.as_ptr(), at);
        assert_eq!(third.len(), 1 << 20);
        assert_eq!(r.reused, 1);
        // Taken buffers are no longer kept.
        assert!(r.kept.is_empty());
        drop(second);
    }

    /// A buffer of `len` bytes filled with `fill`.
    fn r_take(r: &mut Recycler, len: usize, fill: u8) -> Vec<u8> {
        let mut buf = r.take(len);
        buf.fill(fill);
        buf
    }

    #[test]
    fn a_slice_the_application_keeps_holds_the_buffer() {
        let mut r = Recycler::default();
        let item = r.share(vec![7; 256 * 1024]);
        let part = item.slice(100..200);
        drop(item);
        // A `Bytes` value decoded from the item still uses the buffer.
        let fresh = r.take(256 * 1024);
        assert_eq!(r.reused, 0);
        assert_eq!(part[0], 7);
        drop(part);
        let again = r.take(200 * 1024);
        assert_eq!(again.len(), 200 * 1024);
        assert_eq!(r.reused, 1);
        drop(fresh);
    }

    #[test]
    fn sizes_outside_the_limits_are_not_kept_or_reused() {
        let mut r = Recycler::default();
        // Small: not kept.
        drop(r.share(vec![0; 1000]));
        assert!(r.kept.is_empty());
        // Too large to keep.
        drop(r.share(vec![0; MAX_KEPT_BYTES + 1]));
        assert!(r.kept.is_empty());
        // More than twice the request: not reused for it.
        drop(r.share(vec![0; 1 << 20]));
        let small = r.take(MIN_LEN);
        assert_eq!(small.len(), MIN_LEN);
        assert_eq!(r.reused, 0);
        // Too small for the request: not reused either.
        let big = r.take(2 << 20);
        assert_eq!(big.len(), 2 << 20);
        assert_eq!(r.reused, 0);
    }

    #[test]
    fn at_most_the_byte_limit_is_kept_oldest_dropped_first() {
        let mut r = Recycler::default();
        let items: Vec<Bytes> = (0..6).map(|_| r.share(vec![1; 1 << 20])).collect();
        assert_eq!(r.kept.len(), MAX_KEPT_BYTES / (1 << 20));
        // The newest ones are kept.
        assert_eq!(r.kept[3].as_ptr(), items[5].as_ptr());
        assert_eq!(r.kept[0].as_ptr(), items[2].as_ptr());
        drop(items);
        assert_eq!(r.take(1 << 20).len(), 1 << 20);
        assert_eq!(r.reused, 1);
    }
}
