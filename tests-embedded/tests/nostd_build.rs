//! Builds the `zerowire` library without `std` and `alloc` for two bare-metal
//! targets: `thumbv7em-none-eabihf` (Cortex-M4F) and `thumbv6m-none-eabi`
//! (Cortex-M0, no compare-and-swap atomics), with no features and with
//! `heapless`. This catches `std` leaking in through a dependency or a
//! feature, and atomics that need CAS.
//!
//! Needs both targets. Without them the test prints `SKIPPED: ...` and
//! passes, except under `CI=true`, where it fails.

use std::time::Duration;

use zerowire_tests_embedded::{
    inner_cargo, inner_target_dir, run_with_timeout, show, skip_or_fail, target_installed,
    workspace_root, THUMBV6M, THUMBV7EM,
};

const TEST: &str = "nostd_build";
const BUILD_LIMIT: Duration = Duration::from_secs(900);

#[test]
fn core_builds_for_bare_metal_targets() {
    for target in [THUMBV7EM, THUMBV6M] {
        if !target_installed(target) {
            let _ = skip_or_fail(
                TEST,
                &format!("Rust target {target} is not installed (rustup target add {target})"),
            );
            return;
        }
    }
    let mut failures = Vec::new();
    for target in [THUMBV7EM, THUMBV6M] {
        for features in [None, Some("heapless")] {
            let mut build = inner_cargo(&workspace_root());
            build.args([
                "build",
                "-p",
                "zerowire",
                "--no-default-features",
                "--target",
                target,
            ]);
            if let Some(f) = features {
                build.args(["--features", f]);
            }
            build.arg("--target-dir").arg(inner_target_dir());
            let done = run_with_timeout(&mut build, BUILD_LIMIT);
            eprintln!(
                "{}: {} in {:.1} s",
                show(&build),
                if done.success() { "ok" } else { "FAILED" },
                done.elapsed.as_secs_f64()
            );
            if !done.success() {
                failures.push(done.describe(&show(&build)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
