//! Builds `firmware/wire-roundtrip` (a `#![no_std]` Cortex-M4 firmware that
//! round-trips every fixed and borrowed zerowire shape, with no allocator)
//! and runs it in QEMU's `mps2-an386` machine. The firmware's verdict is
//! QEMU's exit status (see `firmware/wire-roundtrip/src/main.rs`).
//!
//! A second test links the same firmware for `thumbv6m-none-eabi`
//! (Cortex-M0: no compare-and-swap atomics) and checks its image; QEMU 7.2
//! has no Cortex-M0 board with this memory map, so it is not run.
//!
//! Needs the `thumbv7em-none-eabihf` (and `thumbv6m-none-eabi`) target and
//! `qemu-system-arm`. Without them the tests print `SKIPPED: ...` and pass,
//! except under `CI=true`, where they fail.

use std::path::{Path, PathBuf};
use std::time::Duration;

use zerowire_tests_embedded::{
    elf, inner_cargo, inner_target_dir, prerequisites, run_with_timeout, show, skip_or_fail,
    target_installed, workspace_root, THUMBV6M, THUMBV7EM,
};

const TEST: &str = "qemu_roundtrip";
const QEMU: &str = "qemu-system-arm";
/// A clean release build takes about 30 s on 2 cores; leave room for a cold
/// registry.
const BUILD_LIMIT: Duration = Duration::from_secs(900);
/// The firmware finishes in well under a second.
const RUN_LIMIT: Duration = Duration::from_secs(60);
/// Flash budget (vector table + text + rodata + data): generous, but catches
/// a runaway (for instance `core::fmt` machinery pulled into every check).
const FLASH_BUDGET: u64 = 256 * 1024;

/// What the firmware's exit codes mean.
fn meaning(code: Option<i32>) -> &'static str {
    match code {
        Some(0) => "all checks passed",
        Some(1) => "at least one check failed (see the FAIL lines)",
        Some(2) => "no failure, but the number of checks run differs from EXPECTED_CHECKS",
        Some(101) => "the firmware panicked",
        Some(102) => "HardFault",
        Some(103) => "unexpected exception or interrupt",
        _ => "unknown (QEMU error, or killed)",
    }
}

/// Builds the firmware in release mode for `target` and returns the ELF path.
fn build_firmware(target: &str) -> PathBuf {
    let firmware_dir = workspace_root().join("firmware").join("wire-roundtrip");
    let target_dir = inner_target_dir();
    let mut build = inner_cargo(&firmware_dir);
    build
        .args(["build", "--release", "--target", target, "--target-dir"])
        .arg(&target_dir);
    let built = run_with_timeout(&mut build, BUILD_LIMIT);
    assert!(built.success(), "{}", built.describe(&show(&build)));
    eprintln!(
        "built the firmware for {target} in {:.1} s",
        built.elapsed.as_secs_f64()
    );
    target_dir
        .join(target)
        .join("release")
        .join("wire-roundtrip")
}

/// Checks that the image is not empty (a linker-script mistake links "fine"
/// into a 0-byte image) and fits the flash budget; prints the section sizes.
fn check_image(elf_path: &Path) {
    let data = std::fs::read(elf_path).unwrap_or_else(|e| panic!("{}: {e}", elf_path.display()));
    let image = elf::parse(&data).unwrap_or_else(|e| panic!("{}: {e}", elf_path.display()));
    assert!(
        image.is_32 && image.machine == elf::EM_ARM,
        "not an ARM ELF32: {}",
        elf_path.display()
    );
    eprintln!("{}", elf_path.display());
    eprintln!("  {:<16} {:>10} {:>10}", "section", "size", "addr");
    for s in image
        .sections
        .iter()
        .filter(|s| s.flags & elf::SHF_ALLOC != 0)
    {
        eprintln!("  {:<16} {:>10} {:>#10x}", s.name, s.size, s.addr);
    }
    let vector_table = image.size_of(".vector_table");
    let text = image.size_of(".text");
    let rodata = image.size_of(".rodata");
    let data_size = image.size_of(".data");
    let bss = image.size_of(".bss") + image.size_of(".uninit");
    let flash = vector_table + text + rodata + data_size;
    eprintln!(
        "  flash (vector_table + text + rodata + data): {flash} B; static RAM (data + bss): {} B",
        data_size + bss
    );
    assert!(
        vector_table > 0,
        ".vector_table is empty: is -Tlink.x applied?"
    );
    assert!(
        text > 0,
        ".text is empty: the image is 0 bytes (is -Tlink.x applied?)"
    );
    assert!(
        flash <= FLASH_BUDGET,
        "flash {flash} B exceeds the budget of {FLASH_BUDGET} B"
    );
}

#[test]
fn firmware_links_for_thumbv6m() {
    if !target_installed(THUMBV6M) {
        let _ = skip_or_fail(
            "firmware_links_for_thumbv6m",
            &format!("Rust target {THUMBV6M} is not installed (rustup target add {THUMBV6M})"),
        );
        return;
    }
    let elf_path = build_firmware(THUMBV6M);
    check_image(&elf_path);
}

#[test]
fn firmware_roundtrip_in_qemu() {
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

    // 1. Build, with the outer cargo's environment stripped.
    let elf_path = build_firmware(THUMBV7EM);
    // 2. The image must be non-empty and within budget.
    check_image(&elf_path);

    // 3. Run it; semihosting carries the verdict out as QEMU's exit status.
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
        "-kernel",
    ])
    .arg(&elf_path);
    let ran = run_with_timeout(&mut qemu, RUN_LIMIT);
    let code = ran.status.and_then(|s| s.code());
    let report = ran.describe(&show(&qemu));
    eprintln!("{report}");
    assert!(
        ran.success(),
        "firmware failed: exit code {code:?} = {}\n{report}",
        meaning(code)
    );
    assert!(
        ran.stdout.contains("wire-roundtrip:") && ran.stdout.contains(" 0 failed"),
        "exit 0 but no summary line from the firmware:\n{report}"
    );
}
