//! Runs every compile-fail case in `tests/ui/` against its reviewed `.stderr`,
//! and the hygiene case in `tests/pass/`.
//!
//! Regenerate after an intended message change with
//! `TRYBUILD=overwrite cargo test -p zerowire-ui-tests`, then review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
