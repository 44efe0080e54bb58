//! The frame decoder: a `FrameDecoder::decode` loop, `FrameDecoder::frames`
//! and a `FrameReader` fed in input-chosen chunks must agree, and every frame
//! must re-encode to its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zerowire_fuzz::check_frames(data);
});
