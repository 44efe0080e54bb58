//! The protocol state machine fed arbitrary bytes in input-chosen chunks,
//! answering every call while time passes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zerowire_fuzz::check_connection(data);
});
