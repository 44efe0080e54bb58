//! `rpc::Message`: an encoded message whose largest byte string stays in
//! the value it came from.

use bytes::Bytes;
use zerowire::rpc::Message;
use zerowire::{Encode, Wire};

fn concat(m: &Message) -> Vec<u8> {
    let mut buf = vec![0; m.len()];
    assert_eq!(m.encode(&mut buf), Ok(m.len()));
    let joined: Vec<u8> = m.parts().flat_map(|p| p.iter().copied()).collect();
    assert_eq!(joined, buf);
    buf
}

#[test]
fn a_large_byte_argument_is_sent_from_the_callers_buffer() {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let addr = data.as_ptr();
    let value = (7u32, data, String::from("after"));
    let expected = value.encode_to_vec();
    let m = Message::encode(value).unwrap();
    assert_eq!(concat(&m), expected);
    // Three parts; the middle one is the caller's buffer itself, not a copy.
    let parts: Vec<&[u8]> = m.parts().collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[1].as_ptr(), addr);
    assert_eq!(parts[1].len(), 200_000);
    assert!(parts[0].len() + parts[2].len() < 32);
}

#[test]
fn a_bytes_value_is_shared_not_copied() {
    let data = Bytes::from(vec![9u8; 1 << 20]);
    let addr = data.as_ptr();
    let expected = data.encode_to_vec();
    let m = Message::encode(data).unwrap();
    assert_eq!(concat(&m), expected);
    assert!(m.parts().any(|p| p.as_ptr() == addr));
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
    let mut expected = vec![0; reply.encoded_len()];
    assert_eq!(reply.encode(&mut expected), Ok(expected.len()));
    let m = Message::encode(FilesReply::Read(Ok(data))).unwrap();
    assert_eq!(concat(&m), expected);
    assert!(m.parts().any(|p| p.as_ptr() == addr));
    // A reply without a byte string is one part.
    let m = Message::encode(FilesReply::Size(7)).unwrap();
    assert_eq!(concat(&m), 7u64.encode_to_vec());
    assert_eq!(m.parts().count(), 1);
}

#[test]
fn into_parts_gives_the_encoding_the_place_and_the_owner() {
    let data = vec![1u8; 50_000];
    let addr = data.as_ptr();
    let value = (data, vec![2u16; 3]);
    let expected = value.encode_to_vec();
    let m = Message::encode(value).unwrap();
    // The length before the bytes, the bytes, the `u16`s after them.
    assert_eq!(m.parts().count(), 3);
    let (rest, at, owner) = m.into_parts();
    let owner = owner.expect("the run is left out");
    let run: &[u8] = (*owner).as_ref();
    assert_eq!(run.as_ptr(), addr);
    let mut whole = rest[..at].to_vec();
    whole.extend_from_slice(run);
    whole.extend_from_slice(&rest[at..]);
    assert_eq!(whole, expected);
    // A whole message has no owner and is all `rest`.
    let (rest, at, owner) = Message::whole(b"abc".to_vec()).into_parts();
    assert_eq!((&rest[..], at, owner.is_none()), (&b"abc"[..], 3, true));
}

#[test]
fn into_vec_gives_the_whole_message() {
    let value = (vec![3u8; 40_000], String::from("tail"));
    let expected = value.encode_to_vec();
    assert_eq!(Message::encode(value).unwrap().into_vec(), expected);
    assert_eq!(Message::from(b"abc".to_vec()).into_vec(), b"abc");
    assert!(Message::default().is_empty());
}

#[test]
fn a_small_or_inline_value_is_one_part() {
    let m = Message::encode((1u32, vec![9u8; 100])).unwrap();
    assert_eq!(m.parts().count(), 1);
    assert_eq!(concat(&m), (1u32, vec![9u8; 100]).encode_to_vec());
    // Arrays lie inline: copied, never borrowed.
    let m = Message::encode([7u64; 4096]).unwrap();
    assert_eq!(m.parts().count(), 1);
    assert_eq!(concat(&m), [7u64; 4096].encode_to_vec());
}
