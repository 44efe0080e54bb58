//! A large message on its way to the socket: the parts of a
//! `zerowire::rpc::Message` as shared buffers, so that each chunk's payload
//! is a slice the vectored write borrows. The middle part stays in the value
//! it came from (`Bytes::from_owner` keeps that value alive until the last
//! chunk of it is written).

use bytes::Bytes;
use zerowire::rpc::{Message, RunOwner};

/// A message's parts; the peer receives their concatenation.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    parts: [Bytes; 3],
}

/// The owner of a message's middle part, as `Bytes::from_owner` takes it.
struct Owner(RunOwner);

impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

impl From<Message> for Outbound {
    fn from(message: Message) -> Self {
        let (rest, at, run) = message.into_parts();
        let mut before = Bytes::from(rest);
        let after = before.split_off(at.min(before.len()));
        let run = run.map_or_else(Bytes::new, |r| Bytes::from_owner(Owner(r)));
        Self {
            parts: [before, run, after],
        }
    }
}

impl Outbound {
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

#[cfg(test)]
mod tests {
    use super::*;
    use zerowire::Wire;

    fn pieces(o: &Outbound, max: usize) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let p = o.piece(at, max);
            if p.is_empty() {
                return out;
            }
            at += p.len();
            out.push(p);
        }
    }

    #[test]
    fn the_middle_part_is_the_senders_buffer_and_pieces_stay_in_parts() {
        let data = vec![1u8; 50_000];
        let addr = data.as_ptr();
        let value = (data, vec![2u16; 3]);
        let expected = value.encode_to_vec();
        let o = Outbound::from(Message::encode(value).unwrap());
        assert_eq!(o.len(), expected.len());
        assert_eq!(o.parts[1].as_ptr(), addr);
        let ends = [
            o.parts[0].len(),
            o.parts[0].len() + o.parts[1].len(),
            expected.len(),
        ];
        for max in [1, 7, 4096, 50_000, 1 << 20] {
            let mut at = 0;
            let mut got = Vec::new();
            for p in pieces(&o, max) {
                assert!(p.len() <= max);
                // Never across the end of a part.
                assert!(ends.iter().all(|&e| at >= e || at + p.len() <= e));
                at += p.len();
                got.extend_from_slice(&p);
            }
            assert_eq!(got, expected, "max {max}");
        }
        assert!(o.piece(0, 0).is_empty());
        assert!(o.piece(o.len(), 10).is_empty());
    }

    #[test]
    fn a_whole_message_is_one_part() {
        let o = Outbound::from(Message::whole(b"abc".to_vec()));
        assert_eq!(pieces(&o, 100), vec![Bytes::from_static(b"abc")]);
        assert_eq!(Outbound::default().len(), 0);
    }
}
