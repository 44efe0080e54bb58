//! An encoded message on its way out, in up to three parts, so that its
//! largest byte string is sent from where it lies instead of being copied:
//! the bytes encoded before that string, the string itself (the sender's
//! own buffer, kept alive by the message), the bytes encoded after it.
//!
//! Nothing here needs atomics or the `bytes` crate, so it builds wherever
//! `alloc` does (`thumbv6m-none-eabi` included); a transport turns the parts
//! into its own shared buffers ([`Message::into_parts`]).

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::wire::{encode_around, Encode, EncodeError};

/// A verbatim run shorter than this is copied with the rest: the parts
/// around it cost a chunk each.
const MIN_RUN: usize = 16 * 1024;

/// The owner of a message's middle part: the encoded value itself, whose
/// `as_ref` is the run [`Message::encode`] left out of the copy.
pub type RunOwner = Box<dyn AsRef<[u8]> + Send>;

/// An encoded message (a large argument or result, a stream item) in up to
/// three parts; the peer receives their concatenation, exactly the bytes
/// [`Encode::encode`] writes.
///
/// [`Message::encode`] leaves the value's largest byte string
/// ([`Wire::verbatim`](crate::Wire::verbatim)) where it lies: the message
/// owns the value, and its middle part is that string in the value's own
/// buffer. A transport sends the parts with vectored writes, so a 1 MiB
/// `Vec<u8>` or `Bytes` goes from the sender's buffer to the socket with no
/// copy.
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
#[derive(Default)]
pub struct Message {
    /// The encoding without the run.
    rest: Vec<u8>,
    /// Where the run goes in `rest`.
    at: usize,
    /// The value that holds the run, if one was left out.
    run: Option<RunOwner>,
}

/// A value that owns the verbatim run of its encoding
/// ([`Encode::verbatim_part`]).
struct Run<A>(A);

impl<A: Encode> AsRef<[u8]> for Run<A> {
    fn as_ref(&self) -> &[u8] {
        self.0.verbatim_part().unwrap_or_default()
    }
}

impl From<Vec<u8>> for Message {
    fn from(bytes: Vec<u8>) -> Self {
        Self::whole(bytes)
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [before, run, after] = self.slices();
        f.debug_struct("Message")
            .field("before", &before.len())
            .field("run", &run.len())
            .field("after", &after.len())
            .finish()
    }
}

impl Message {
    /// A message already encoded in one buffer.
    pub fn whole(bytes: Vec<u8>) -> Self {
        Self {
            at: bytes.len(),
            rest: bytes,
            run: None,
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
        let (rest, at) = (around.rest, around.at);
        // The run's bytes do not move with `value` (they are on the heap),
        // and `verbatim_part` gives the same run again: the middle part is
        // what `encode_around` left out. A `Wire` impl that broke that
        // promise would send a body its peer cannot decode (a typed error
        // there), never bytes of another length than the message's.
        Ok(Self {
            rest,
            at,
            run: Some(Box::new(Run(value))),
        })
    }

    /// `value` encoded into one buffer of its own (a copy of everything).
    pub fn copied(value: &dyn Encode) -> Result<Self, EncodeError> {
        let mut buf = vec![0; value.encoded_len()];
        let n = value.encode(&mut buf)?;
        buf.truncate(n);
        Ok(Self::whole(buf))
    }

    /// The three parts as slices: before the run, the run (empty if none),
    /// after it.
    fn slices(&self) -> [&[u8]; 3] {
        let (before, after) = self
            .rest
            .split_at_checked(self.at)
            .unwrap_or((&self.rest, &[]));
        let run = self.run.as_deref().map_or(&[][..], |r| r.as_ref());
        [before, run, after]
    }

    /// The non-empty parts, in order; the peer receives their
    /// concatenation.
    pub fn parts(&self) -> impl Iterator<Item = &[u8]> {
        self.slices().into_iter().filter(|p| !p.is_empty())
    }

    /// The message's length in bytes.
    pub fn len(&self) -> usize {
        self.slices()
            .iter()
            .fold(0usize, |n, p| n.saturating_add(p.len()))
    }

    /// Whether the message has no bytes.
    pub fn is_empty(&self) -> bool {
        self.slices().iter().all(|p| p.is_empty())
    }

    /// The message in one buffer (no copy for a message made by
    /// [`whole`](Self::whole)).
    pub fn into_vec(self) -> Vec<u8> {
        if self.run.is_none() {
            return self.rest;
        }
        let mut v = Vec::with_capacity(self.len());
        for part in self.slices() {
            v.extend_from_slice(part);
        }
        v
    }

    /// Takes the message apart for a transport: the encoding without the
    /// run, where the run goes in it, and the value that holds the run
    /// (whose `as_ref()` is the run). A transport keeps the owner alive
    /// until the run is written (`bytes::Bytes::from_owner` does that).
    pub fn into_parts(self) -> (Vec<u8>, usize, Option<RunOwner>) {
        (self.rest, self.at, self.run)
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
        for part in self.slices() {
            let (dst, rest) = out
                .split_at_mut_checked(part.len())
                .ok_or(EncodeError::LengthMismatch)?;
            dst.copy_from_slice(part);
            out = rest;
        }
        Ok(len)
    }
}
