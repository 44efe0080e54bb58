//! A large message on its way out, in up to three parts, so that its
//! largest byte string is sent from where it lies instead of being copied:
//! the bytes encoded before that string, the string itself (the caller's
//! own buffer, kept alive by the message), the bytes encoded after it.

use bytes::Bytes;
use zerowire::{Encode, EncodeError};

/// A verbatim run shorter than this is copied with the rest: the parts
/// around it cost a chunk each.
const MIN_RUN: usize = 16 * 1024;

/// An encoded message in parts; the peer receives their concatenation.
#[derive(Debug, Default)]
pub(crate) struct Message {
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

impl Message {
    /// A message already encoded in one buffer.
    pub(crate) fn whole(bytes: Bytes) -> Self {
        Self {
            parts: [bytes, Bytes::new(), Bytes::new()],
        }
    }

    /// Encodes `value`, copying everything but its largest verbatim run
    /// (`zerowire::wire::encode_around`), which the message takes over with
    /// `value` itself: a large `Vec<u8>`, `String` or `Bytes` argument or
    /// result is never copied on its way to the socket.
    pub(crate) fn encode<A: Encode + Send + 'static>(value: A) -> Self {
        let Some(around) = zerowire::wire::encode_around(&value, MIN_RUN) else {
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
        Self {
            parts: [rest, run, after],
        }
    }

    /// `value` encoded into one buffer (empty if its `Encode` impl fails,
    /// which only an impl whose `encoded_len` disagrees with `encode` does).
    pub(crate) fn copied(value: &dyn Encode) -> Self {
        let mut buf = vec![0; value.encoded_len()];
        match value.encode(&mut buf) {
            Ok(n) => buf.truncate(n),
            Err(_) => buf.clear(),
        }
        Self::whole(Bytes::from(buf))
    }

    /// The message in one buffer (no copy for a message made by
    /// [`whole`](Self::whole) from a buffer it alone holds).
    pub(crate) fn into_vec(self) -> Vec<u8> {
        let [first, run, after] = self.parts;
        if run.is_empty() && after.is_empty() {
            return Vec::from(first);
        }
        let mut v = Vec::with_capacity(first.len() + run.len() + after.len());
        for part in [first, run, after] {
            v.extend_from_slice(&part);
        }
        v
    }

    /// The message's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.parts.iter().map(Bytes::len).sum()
    }

    /// Up to `max` bytes from offset `at`, within one part (a chunk never
    /// spans two parts, so each chunk's payload is one slice); empty at the
    /// end or if `max` is 0.
    pub(crate) fn piece(&self, at: usize, max: usize) -> Bytes {
        let mut at = at;
        for part in &self.parts {
            if at < part.len() {
                let end = part.len().min(at.saturating_add(max));
                return part.slice(at..end);
            }
            at -= part.len();
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
            let (dst, rest) = out.split_at_mut(part.len());
            dst.copy_from_slice(part);
            out = rest;
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerowire::Wire;

    fn concat(m: &Message) -> Vec<u8> {
        let mut buf = vec![0; m.len()];
        assert_eq!(m.encode(&mut buf), Ok(m.len()));
        buf
    }

    #[test]
    fn a_large_byte_argument_is_sent_from_the_callers_buffer() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let addr = data.as_ptr();
        let value = (7u32, data, String::from("after"));
        let expected = value.encode_to_vec();
        let m = Message::encode(value);
        assert_eq!(concat(&m), expected);
        // The middle part is the caller's buffer itself, not a copy.
        assert_eq!(m.parts[1].as_ptr(), addr);
        assert_eq!(m.parts[1].len(), 200_000);
        assert!(m.parts[0].len() + m.parts[2].len() < 32);
    }

    #[zerowire::service]
    trait Files {
        fn read(&self, name: String) -> Result<Vec<u8>, String>;
        fn size(&self, name: String) -> u64;
    }

    #[test]
    fn a_large_result_is_sent_from_the_handlers_buffer() {
        // What a handler's answer is: the generated reply enum.
        let data = vec![5u8; 100_000];
        let addr = data.as_ptr();
        let reply = FilesReply::Read(Ok(data.clone()));
        let expected = {
            let mut buf = vec![0; reply.encoded_len()];
            assert_eq!(reply.encode(&mut buf), Ok(buf.len()));
            buf
        };
        let reply = FilesReply::Read(Ok(data));
        let m = Message::encode(reply);
        assert_eq!(concat(&m), expected);
        assert_eq!(m.parts[1].as_ptr(), addr);
        // A reply without a byte string is one part.
        let m = Message::encode(FilesReply::Size(7));
        assert_eq!(concat(&m), 7u64.encode_to_vec());
        assert!(m.parts[1].is_empty());
    }

    #[test]
    fn pieces_never_span_parts_and_cover_the_message() {
        let value = (vec![1u8; 50_000], vec![2u16; 3]);
        let expected = value.encode_to_vec();
        let m = Message::encode(value);
        for max in [1, 7, 4096, 50_000, 1 << 20] {
            let mut got = Vec::new();
            let mut at = 0;
            loop {
                let p = m.piece(at, max);
                if p.is_empty() {
                    break;
                }
                assert!(p.len() <= max);
                got.extend_from_slice(&p);
                at += p.len();
            }
            assert_eq!(got, expected, "max {max}");
        }
        assert!(m.piece(0, 0).is_empty());
        assert!(m.piece(m.len(), 10).is_empty());
    }

    #[test]
    fn into_vec_gives_the_whole_message() {
        let value = (vec![3u8; 40_000], String::from("tail"));
        let expected = value.encode_to_vec();
        assert_eq!(Message::encode(value).into_vec(), expected);
        assert_eq!(
            Message::whole(Bytes::from_static(b"abc")).into_vec(),
            b"abc"
        );
    }

    #[test]
    fn a_small_or_plain_value_is_one_part() {
        let m = Message::encode((1u32, vec![9u8; 100]));
        assert_eq!(m.parts[1].len() + m.parts[2].len(), 0);
        assert_eq!(concat(&m), (1u32, vec![9u8; 100]).encode_to_vec());
        let m = Message::encode([7u64; 4096]);
        assert_eq!(m.parts[1].len() + m.parts[2].len(), 0);
    }
}
