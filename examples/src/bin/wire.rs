//! A tour of the wire format: derive a message, encode it into a caller's
//! buffer, frame it as a call, split the byte stream arbitrarily, and decode
//! it back on the other side as a zero-copy view and as an owned value.
//!
//! Run it with `cargo run -p zerowire-examples --bin wire`.

use zerowire::frame::{encode_call, Frame, FrameReader};
use zerowire::Wire;

/// How the device is running.
#[derive(Wire, Debug, Clone, Copy, PartialEq)]
enum Mode {
    Idle,
    Run,
}

/// One sensor reading, the way a device reports it.
#[derive(Wire, Debug, Clone, PartialEq)]
struct Reading {
    device: u32,
    celsius: f32,
    at_ns: u64,
    label: String,
    samples: Vec<u16>,
    mode: Mode,
    note: Option<String>,
}

/// A bounded message: its maximum size is a compile-time constant.
#[derive(Wire, Debug, Clone, Copy, PartialEq)]
struct Add3 {
    a: u32,
    b: u32,
    c: u32,
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reading = Reading {
        device: 7,
        celsius: 21.5,
        at_ns: 1_000_000,
        label: "left motor".into(),
        samples: vec![1, 2, 513, 1024],
        mode: Mode::Run,
        note: Some("calibrated".into()),
    };

    // Encode into a caller's buffer: no allocation, exact length known first.
    let mut body = [0u8; 128];
    let n = reading.encode(&mut body)?;
    assert_eq!(n, reading.encoded_len());
    println!(
        "Reading: {n} bytes, fixed block {} bytes",
        <Reading as Wire>::FIXED_LEN
    );
    println!("  {}", hex(&body[..n]));

    // Bounded types size their buffers at compile time.
    let mut args = [0u8; Add3::MAX_ENCODED_LEN];
    Add3 { a: 1, b: 2, c: 3 }.encode(&mut args)?;
    println!(
        "Add3: MAX_ENCODED_LEN = {}, fingerprint {:#018x}",
        Add3::MAX_ENCODED_LEN,
        <Add3 as Wire>::FINGERPRINT
    );

    // Frame two calls back to back, as a sender would batch them.
    let mut stream = [0u8; 256];
    let mut len = encode_call(&mut stream, 0, 2, &Add3 { a: 1, b: 2, c: 3 })?;
    println!("add3 call frame: {}", hex(&stream[..len]));
    len += encode_call(&mut stream[len..], 1, 4, &reading)?;

    // The receiver gets the stream in odd-sized pieces and still sees whole frames.
    let mut rx = FrameReader::new([0u8; 256], 1024);
    for piece in stream[..len].chunks(5) {
        rx.push(piece);
        while let Some(frame) = rx.next_frame()? {
            match frame {
                Frame::Call {
                    method: 0,
                    call_id,
                    body,
                } => {
                    let v = Add3::decode_view(body)?;
                    println!(
                        "call {call_id}: add3({}, {}, {}) = {}",
                        v.a(),
                        v.b(),
                        v.c(),
                        v.a() + v.b() + v.c()
                    );
                }
                Frame::Call {
                    method: 1,
                    call_id,
                    body,
                } => {
                    // A view reads the receive buffer in place ...
                    let v = Reading::decode_view(body)?;
                    println!(
                        "call {call_id}: reading from device {} ({}), {} samples, first {:?}, mode {:?}",
                        v.device(),
                        v.label(),
                        v.samples().len(),
                        v.samples().get(0),
                        v.mode()
                    );
                    // ... and an owned value is one call away.
                    assert_eq!(Reading::decode(body)?, reading);
                }
                other => println!("unexpected frame {other:?}"),
            }
        }
    }

    // Hostile input gets a precise error, never a panic.
    let mut bad = body[..n].to_vec();
    bad[16] = 9; // the mode byte: no variant 9
    println!(
        "corrupted body: {}",
        Reading::decode_view(&bad).unwrap_err()
    );
    Ok(())
}
