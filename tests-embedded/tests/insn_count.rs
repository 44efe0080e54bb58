//! Builds `firmware/insn-count` and runs it in QEMU's `mps2-an386` with
//! `-icount shift=0` (one instruction = 1 ns of virtual time), where it
//! counts the instructions a Cortex-M4 spends serving one small call with
//! zerowire bodies and with postcard bodies through the same framing and
//! dispatcher (see `firmware/insn-count/src/main.rs` for the method).
//!
//! The firmware checks every path's result and its own calibration and
//! exits non-zero on any failure; this test also parses the figures,
//! rejects zero or absurd counts, and checks the project's target:
//! zerowire's path costs fewer instructions than postcard's. The figures
//! are printed (`cargo test -p zerowire-tests-embedded --test insn_count --
//! --nocapture`) and reported in `docs/benchmarks.md`.
//!
//! Needs the `thumbv7em-none-eabihf` target and `qemu-system-arm`. Without
//! them the test prints `SKIPPED: ...` and passes, except under `CI=true`,
//! where it fails.

use std::collections::BTreeMap;
use std::time::Duration;

use zerowire_tests_embedded::{
    inner_cargo, inner_target_dir, prerequisites, run_with_timeout, show, workspace_root, THUMBV7EM,
};

const TEST: &str = "insn_count";
const QEMU: &str = "qemu-system-arm";
const BUILD_LIMIT: Duration = Duration::from_secs(900);
/// The firmware runs about 0.2 s.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// Every path the firmware measures.
const PATHS: [&str; 6] = [
    "nop",
    "add3-zerowire",
    "add3-postcard",
    "read-zerowire",
    "read-postcard",
    "echo",
];
/// A count at or above this per call is absurd for one small call.
const ABSURD: f64 = 100_000.0;

/// Parses `insn-count: path NAME X.YY insns/call ...` lines.
fn parse(stdout: &str) -> BTreeMap<String, f64> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("insn-count: path "))
        .filter_map(|rest| {
            let mut words = rest.split_whitespace();
            let name = words.next()?;
            let insns = words.next()?.parse().ok()?;
            (words.next() == Some("insns/call")).then(|| (name.to_owned(), insns))
        })
        .collect()
}

#[test]
fn parse_reads_path_lines() {
    let out = "insn-count: calibration 8.00 instructions for 8 nops\n\
               insn-count: path add3-zerowire 857.00 insns/call (batches 857.00..857.02), request 15 B, reply 7 B\n\
               insn-count: path broken\n";
    let got = parse(out);
    assert_eq!(got.len(), 1);
    assert_eq!(got.get("add3-zerowire"), Some(&857.0));
}

#[test]
fn instruction_counts_in_qemu() {
    if !prerequisites(
        TEST,
        THUMBV7EM,
        &[(
            QEMU,
            "apt-get install --no-install-recommends qemu-system-arm",
        )],
    ) {
        return;
    }

    let firmware_dir = workspace_root().join("firmware").join("insn-count");
    let target_dir = inner_target_dir();
    let mut build = inner_cargo(&firmware_dir);
    build
        .args(["build", "--release", "--target", THUMBV7EM, "--target-dir"])
        .arg(&target_dir);
    let built = run_with_timeout(&mut build, BUILD_LIMIT);
    assert!(built.success(), "{}", built.describe(&show(&build)));
    let elf = target_dir
        .join(THUMBV7EM)
        .join("release")
        .join("insn-count");

    let mut qemu = std::process::Command::new(QEMU);
    qemu.args([
        "-cpu",
        "cortex-m4",
        "-machine",
        "mps2-an386",
        "-nographic",
        "-monitor",
        "none",
        "-semihosting-config",
        "enable=on,target=native",
        "-icount",
        "shift=0",
        "-kernel",
    ])
    .arg(&elf);
    let ran = run_with_timeout(&mut qemu, RUN_LIMIT);
    let report = ran.describe(&show(&qemu));
    eprintln!("{report}");
    assert!(ran.success(), "the firmware failed:\n{report}");
    assert!(
        ran.stdout.contains("insn-count: calibration 8.00 ")
            && ran.stdout.contains("insn-count: ok"),
        "no calibration or verdict line:\n{report}"
    );

    let counts = parse(&ran.stdout);
    for path in PATHS {
        let n = counts.get(path).copied();
        assert!(
            n.is_some_and(|n| n > 0.0 && n < ABSURD),
            "{path}: missing, zero or absurd count {n:?}\n{report}"
        );
    }
    let get = |p: &str| counts.get(p).copied().unwrap_or(f64::NAN);
    let floor = get("nop");
    for path in PATHS.iter().filter(|p| **p != "nop") {
        assert!(
            get(path) > floor,
            "{path} ({}) is not above the framing-and-dispatch floor ({floor}): the measurement is broken",
            get(path)
        );
    }
    eprintln!("instructions per served call (Cortex-M4, QEMU -icount shift=0):");
    eprintln!(
        "  {:<6} {:>10} {:>10} {:>16} {:>16}",
        "call", "zerowire", "postcard", "zerowire - nop", "postcard - nop"
    );
    for call in ["add3", "read"] {
        let zw = get(&format!("{call}-zerowire"));
        let pc = get(&format!("{call}-postcard"));
        eprintln!(
            "  {call:<6} {zw:>10.2} {pc:>10.2} {:>16.2} {:>16.2}",
            zw - floor,
            pc - floor
        );
        assert!(
            zw < pc,
            "target missed: {call} costs {zw} instructions with zerowire, {pc} with postcard"
        );
    }
    eprintln!(
        "  floor (nop) {floor:.2}; byte-body wrapper (echo) {:.2}",
        get("echo")
    );
}
