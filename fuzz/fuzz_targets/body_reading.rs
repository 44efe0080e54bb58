//! A derived struct with every kind of field: `decode_view`, `decode`, and
//! the canonical re-encoding of whatever is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zerowire_fuzz::{check_body, Everything};

fuzz_target!(|data: &[u8]| {
    check_body::<Everything<'_>>(data);
});
