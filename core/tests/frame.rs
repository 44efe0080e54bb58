//! Frame codec: golden vectors, resumable decoding, limits.

use zerowire::frame::{
    encode_call, encode_hello, encode_reply, Decoded, Frame, FrameDecoder, FrameError, FrameReader,
    Hello, MAGIC, PROTOCOL_VERSION,
};
use zerowire::Wire;

#[derive(Wire, Debug, Clone, Copy, PartialEq)]
struct Add3 {
    a: u32,
    b: u32,
    c: u32,
}

/// add3(1, 2, 3) = 6 as the initiator's first call (id 2, method 0).
const ADD3_REQUEST: [u8; 15] = [
    0x00, 0x34, 0x08, // CALL method 0, len 13, call id 2
    0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
];
const ADD3_RESPONSE: [u8; 7] = [
    0x83, 0x14, 0x08, // DATA FIN_MSG|FIN_STREAM, len 5, call id 2
    0x06, 0x00, 0x00, 0x00,
];

#[test]
fn add3_golden_vector_is_22_bytes() {
    let mut buf = [0u8; 64];
    let n = encode_call(&mut buf, 0, 2, &Add3 { a: 1, b: 2, c: 3 }).unwrap();
    assert_eq!(&buf[..n], &ADD3_REQUEST);
    let m = encode_reply(&mut buf[n..], 2, &6u32).unwrap();
    assert_eq!(&buf[n..n + m], &ADD3_RESPONSE);
    assert!(n + m <= 24, "add3 costs {} bytes", n + m);
    assert_eq!(n + m, 22);

    let dec = FrameDecoder::new(1024);
    let Decoded::Frame { frame, len } = dec.decode(&ADD3_REQUEST).unwrap() else {
        panic!()
    };
    assert_eq!(len, 15);
    let Frame::Call {
        method: 0,
        call_id: 2,
        body,
    } = frame
    else {
        panic!("{frame:?}")
    };
    assert_eq!(len - body.len(), 3, "small call header is 3 bytes");
    assert_eq!(Add3::decode(body).unwrap(), Add3 { a: 1, b: 2, c: 3 });
    let Decoded::Frame { frame, .. } = dec.decode(&ADD3_RESPONSE).unwrap() else {
        panic!()
    };
    let Frame::Data {
        call_id: 2,
        payload,
        ..
    } = frame
    else {
        panic!("{frame:?}")
    };
    assert_eq!(u32::decode(payload).unwrap(), 6);
}

fn sample_stream() -> Vec<u8> {
    let mut out = vec![0u8; 4096];
    let mut n = 0;
    for i in 0..20u32 {
        n += encode_call(
            &mut out[n..],
            (i % 3) as u8,
            2 + 2 * u64::from(i),
            &Add3 { a: i, b: i, c: i },
        )
        .unwrap();
        n += encode_reply(
            &mut out[n..],
            2 + 2 * u64::from(i),
            &"x".repeat(i as usize * 7),
        )
        .unwrap();
    }
    n += Frame::Ping(&[1, 2, 3]).encode(&mut out[n..]).unwrap();
    let hello = Hello {
        magic: MAGIC,
        version: PROTOCOL_VERSION,
        flags: 1,
        max_calls: 32,
        max_frame: 16 * 1024,
        max_message: 1 << 20,
        initial_credit: 64 * 1024,
        service_fp: 0x1234,
        n_methods: 3,
        build: "test",
    };
    n += encode_hello(&mut out[n..], &hello).unwrap();
    out.truncate(n);
    out
}

#[test]
fn back_to_back_frames_decode_in_one_pass_and_re_encode() {
    let stream = sample_stream();
    let dec = FrameDecoder::new(4096);
    let mut frames = dec.frames(&stream);
    let mut re = Vec::new();
    let mut count = 0;
    for f in frames.by_ref() {
        let f = f.unwrap();
        let mut buf = vec![0u8; f.encoded_len()];
        f.encode(&mut buf).unwrap();
        re.extend_from_slice(&buf);
        count += 1;
    }
    assert_eq!(count, 42);
    assert_eq!(frames.consumed(), stream.len());
    assert_eq!(re, stream, "canonical re-encoding");
}

#[test]
fn one_byte_at_a_time_matches_whole_buffer() {
    let stream = sample_stream();
    let whole: Vec<Vec<u8>> = {
        let dec = FrameDecoder::new(4096);
        let mut v = Vec::new();
        let mut rest = &stream[..];
        while let Decoded::Frame { len, .. } = dec.decode(rest).unwrap() {
            v.push(rest[..len].to_vec());
            rest = &rest[len..];
        }
        v
    };
    for storage in [256usize, 4096] {
        let mut reader = FrameReader::new(vec![0u8; storage], 4096);
        let mut got = Vec::new();
        for b in &stream {
            assert_eq!(reader.push(std::slice::from_ref(b)), 1);
            while let Some(f) = reader.next_frame().unwrap() {
                let mut buf = vec![0u8; f.encoded_len()];
                f.encode(&mut buf).unwrap();
                got.push(buf);
            }
        }
        assert_eq!(got, whole, "storage {storage}");
        assert_eq!(reader.buffered(), 0);
    }
}

#[test]
fn incomplete_reports_missing_bytes() {
    let dec = FrameDecoder::new(1024);
    assert_eq!(dec.decode(&[]).unwrap(), Decoded::Incomplete { needed: 2 });
    assert_eq!(
        dec.decode(&ADD3_REQUEST[..1]).unwrap(),
        Decoded::Incomplete { needed: 1 }
    );
    assert_eq!(
        dec.decode(&ADD3_REQUEST[..5]).unwrap(),
        Decoded::Incomplete { needed: 10 }
    );
}

#[test]
fn oversized_frame_is_rejected_from_its_header_alone() {
    // A header declaring a 1 GiB frame: rejected after two... five bytes,
    // before any payload arrives or anything is reserved.
    let (lpv, n) = zerowire::wire::varint::encode(1 << 30);
    let mut header = vec![0x00u8];
    header.extend_from_slice(&lpv[..n]);
    let dec = FrameDecoder::new(16 * 1024);
    assert_eq!(
        dec.decode(&header).unwrap_err(),
        FrameError::TooLarge {
            len: 1 << 30,
            max: 16 * 1024
        }
    );
    let mut reader = FrameReader::new([0u8; 64], 1 << 20);
    reader.push(&header);
    assert!(matches!(
        reader.next_frame(),
        Err(FrameError::TooLarge {
            len: 1073741824,
            max: 55
        })
    ));
}

#[test]
fn strictness() {
    let dec = FrameDecoder::new(1024);
    // Non-minimal length: 13 written in two bytes.
    assert_eq!(
        dec.decode(&[0x00, 0x35, 0x00]).unwrap_err(),
        FrameError::NonMinimalLength
    );
    // Reserved type.
    assert_eq!(
        dec.decode(&[0xA7, 0x00]).unwrap_err(),
        FrameError::UnknownType(0xA7)
    );
    assert_eq!(
        dec.decode(&[0xE0, 0x00]).unwrap_err(),
        FrameError::UnknownType(0xE0)
    );
    // Extension frames are skippable.
    assert!(matches!(
        dec.decode(&[0xC1, 0x04, 9]).unwrap(),
        Decoded::Frame {
            frame: Frame::Extension {
                ty: 0xC1,
                body: &[9]
            },
            len: 3
        }
    ));
    // CANCEL with trailing bytes.
    let err = dec.decode(&[0xA0, 0x08, 0x08, 0x00]).unwrap_err();
    assert!(
        matches!(err, FrameError::Malformed { ty: 0xA0, .. }),
        "{err:?}"
    );
    // A HELLO whose body does not decode.
    assert!(matches!(
        dec.decode(&[0xA5, 0x04, 0x7a]).unwrap_err(),
        FrameError::Malformed { ty: 0xA5, .. }
    ));
}
