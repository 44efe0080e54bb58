//! An encoded message on its way out, in up to three parts, so that its
//! largest byte string is sent from where it lies instead of being copied:
//! the bytes encoded before that string, the string itself (the sender's
//! own buffer, kept alive by the message), the bytes encoded after it.

use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;

use crate::wire::{encode_around, Encode, EncodeError};

/// A verbatim run shorter than this is copied with the rest: the parts
/// around it cost a chunk each.
const MIN_RUN: usize = 16 * 1024;

/// An encoded message (a large argument or result, a stream item) in up to
/// three parts; the peer receives their concatenation, exactly the bytes
/// [`Encode::encode`] writes.
///
/// [`Message::encode`] leaves the value's largest byte string
/// ([`Wire::verbatim`](crate::Wire::verbatim)) where it lies: the message
/// owns the value, and the middle part is a [`Bytes`] over its buffer. A
/// transport sends the parts with vectored writes, so a 1 MiB `Vec<u8>` or
/// `Bytes` goes from the sender's buffer to the socket with no copy.
///
/// ```
/// use zerowire::{rpc::Message, Wire};
///
/// let frame = (42u32, vec![7u8; 1 << 20]);
/// let expected = frame.encode_to_vec();
/// let at = frame.1.as_ptr();
/// let message = Message::encode(frame).unwrap();
/// assert_eq!(message.len(), expected.len());
/// assert!(message.parts().any(|p| p.as_ptr() == at)); // the buffer itself
/// assert_eq!(message.into_vec(), expected);
/// ```
#[derive(Debug, Default, Clone)]
pub struct Message {
    parts: [Bytes; 3],
}

/// A value that owns the verbatim run of its encoding
/// ([`Encode::verbatim_part`]): `Bytes::from_owner` keeps it alive and
/// sends that run in place.
struct Run<A>(A);

impl<A: Encode> AsRef<[u8]> for Run<A> {
    fn as_ref(&self) -> &[u8] {
        self.0.verbatim_part().unwrap_or_default()
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Self {
        Self::whole(Bytes::from(bytes))
    }
}

impl From<Bytes> for Message {
    fn from(bytes: Bytes) -> Self {
        Self::whole(bytes)
    }
}

impl Message {
    /// A message already encoded in one buffer.
    pub fn whole(bytes: Bytes) -> Self {
        Self {
            parts: [bytes, Bytes::new(), Bytes::new()],
        }
    }

    /// Encodes `value`, copying everything but its largest verbatim run
    /// (`zerowire::wire::encode_around`), which the message takes over with
    /// `value` itself: a large `Vec<u8>`, `String` or `Bytes` argument or
    /// result is never copied on its way to the socket. Byte strings under
    /// 16 KiB are copied with the rest: a part costs a chunk of its own.
    ///
    /// `Err` only for an `Encode` impl whose `encoded_len` disagrees with
    /// what it writes.
    pub fn encode<A: Encode + Send + 'static>(value: A) -> Result<Self, EncodeError> {
        let Some(around) = encode_around(&value, MIN_RUN) else {
            return Self::copied(&value);
        };
        let (mut rest, at, len) = (Bytes::from(around.rest), around.at, around.run.len());
        let after = rest.split_off(at);
        // The run's bytes do not move with `value` (they are on the heap),
        // and `verbatim` gives the same run again: `run` is what
        // `encode_around` left out. A `Wire` impl that broke that promise
        // would send a body its peer cannot decode (a typed error there),
        // never bytes of the wrong length for the message.
        let run = Bytes::from_owner(Run(value));
        debug_assert_eq!(run.len(), len, "Wire::verbatim changed between two calls");
        Ok(Self {
            parts: [rest, run, after],
        })
    }

    /// `value` encoded into one buffer of its own (a copy of everything).
    pub fn copied(value: &dyn Encode) -> Result<Self, EncodeError> {
        let mut buf = vec![0; value.encoded_len()];
        let n = value.encode(&mut buf)?;
        buf.truncate(n);
        Ok(Self::whole(Bytes::from(buf)))
    }

    /// The message in one buffer (no copy for a message made by
    /// [`whole`](Self::whole) from a buffer it alone holds).
    pub fn into_vec(self) -> Vec<u8> {
        let [first, run, after] = self.parts;
        if run.is_empty() && after.is_empty() {
            return Vec::from(first);
        }
        let mut v = Vec::with_capacity(self_len(&[&first, &run, &after]));
        for part in [first, run, after] {
            v.extend_from_slice(&part);
        }
        v
    }

    /// The message's length in bytes.
    pub fn len(&self) -> usize {
        let [first, run, after] = &self.parts;
        self_len(&[first, run, after])
    }

    /// Whether the message has no bytes.
    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(Bytes::is_empty)
    }

    /// The non-empty parts, in order.
    pub fn parts(&self) -> impl Iterator<Item = &Bytes> {
        self.parts.iter().filter(|p| !p.is_empty())
    }

    /// Up to `max` bytes from offset `at`, within one part (a chunk never
    /// spans two parts, so each chunk's payload is one slice); empty at the
    /// end or if `max` is 0.
    pub fn piece(&self, at: usize, max: usize) -> Bytes {
        let mut at = at;
        for part in &self.parts {
            if at < part.len() {
                let end = part.len().min(at.saturating_add(max));
                return part.slice(at..end);
            }
            at = at.saturating_sub(part.len());
        }
        Bytes::new()
    }
}

impl Encode for Message {
    fn encoded_len(&self) -> usize {
        self.len()
    }

    fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let len = self.len();
        let available = buf.len();
        let mut out = buf.get_mut(..len).ok_or(EncodeError::BufferTooSmall {
            needed: len,
            available,
        })?;
        for part in &self.parts {
            let (dst, rest) = out
                .split_at_mut_checked(part.len())
                .ok_or(EncodeError::LengthMismatch)?;
            dst.copy_from_slice(part);
            out = rest;
        }
        Ok(len)
    }
}

/// The total length of `parts` (saturating: parts that are in memory
/// cannot overflow it).
fn self_len(parts: &[&Bytes; 3]) -> usize {
    parts.iter().fold(0usize, |n, p| n.saturating_add(p.len()))
}
