//! A data-carrying enum (unit, tuple and struct variants, nested containers)
//! and a vector of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zerowire_fuzz::{check_body, Shape};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the shape of the body: one enum or a vector.
    match data.split_first() {
        Some((0, rest)) => check_body::<Vec<Shape>>(rest),
        Some((_, rest)) => check_body::<Shape>(rest),
        None => check_body::<Shape>(data),
    }
});
