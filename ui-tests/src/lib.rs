//! Compile-fail (`tests/ui/`) and compile-pass (`tests/pass/`) cases for
//! `#[derive(Wire)]`, run by `tests/ui.rs` with trybuild. The library itself
//! is empty.
