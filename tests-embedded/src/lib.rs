//! Helpers for the bare-metal tests in `tests/`: running a clean inner
//! `cargo`, deciding whether the tools are there (skip locally, fail in CI),
//! running a command under a time limit, and reading an ELF's section sizes
//! without external tools.
//!
//! The tests themselves:
//! - `tests/qemu_roundtrip.rs` builds `firmware/wire-roundtrip` for
//!   `thumbv7em-none-eabihf` and runs it in `qemu-system-arm` (mps2-an386);
//! - `tests/nostd_build.rs` builds the `zerowire` library for
//!   `thumbv7em-none-eabihf` and `thumbv6m-none-eabi` without `std`/`alloc`;
//! - `tests/insn_count.rs` builds `firmware/insn-count` and runs it under
//!   `qemu-system-arm -icount shift=0`: instructions per served call,
//!   zerowire against postcard bodies;
//! - `tests/footprint.rs` builds the two `firmware/footprint` images and
//!   checks the zerowire share (`llvm-size`) against the flash and RAM budget.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub mod elf;

/// The Cortex-M4F target the firmware is built for.
pub const THUMBV7EM: &str = "thumbv7em-none-eabihf";
/// The Cortex-M0 target (no compare-and-swap atomics) the library must build for.
pub const THUMBV6M: &str = "thumbv6m-none-eabi";

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The target directory used by the inner builds: `<workspace>/target/firmware`.
///
/// It is separate from the outer build's target directory, whose lock the
/// running `cargo test` holds.
pub fn inner_target_dir() -> PathBuf {
    workspace_root().join("target").join("firmware")
}

/// True when running under CI (`CI=true`, as CI sets it, or `CI=1`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Handles a missing prerequisite: in CI the test fails with `why`;
/// elsewhere a loud `SKIPPED:` line is printed and the caller returns.
///
/// Returns `false` (skip) when not in CI; panics in CI.
#[must_use]
pub fn skip_or_fail(test: &str, why: &str) -> bool {
    if in_ci() {
        panic!("{test}: prerequisite missing in CI (CI=true): {why}");
    }
    let line = format!("SKIPPED: {test}: {why} (set CI=true to make this a failure)");
    let bar = "!".repeat(line.len().min(100));
    // Written to the stderr handle directly: the test harness captures
    // `println!`/`eprintln!` of passing tests, so they would hide the skip.
    let _ = writeln!(std::io::stderr(), "\n{bar}\n{line}\n{bar}");
    false
}

/// Checks that Rust `target` is installed and each `(program, install
/// hint)` of `tools` runs; on the first that is missing, [`skip_or_fail`].
/// Returns whether the test can go on.
#[must_use]
pub fn prerequisites(test: &str, target: &str, tools: &[(&str, &str)]) -> bool {
    if !target_installed(target) {
        return skip_or_fail(
            test,
            &format!("Rust target {target} is not installed (rustup target add {target})"),
        );
    }
    for (program, install) in tools {
        if !tool_runs(program) {
            return skip_or_fail(test, &format!("{program} not found ({install})"));
        }
    }
    true
}

/// Whether an environment variable of the outer cargo/rustc run must not
/// reach an inner `cargo` (it would change its flags, target dir or wrapper).
///
/// Registry, network and terminal settings (`CARGO_HOME`, `CARGO_NET_*`,
/// `CARGO_HTTP_*`, `CARGO_REGISTRIES_*`, `CARGO_REGISTRY_*`, `CARGO_TERM_*`,
/// `CARGO_BUILD_JOBS`) are kept; rustup's variables are kept so that the
/// inner build uses the same toolchain.
pub fn leaks_into_inner_cargo(name: &str) -> bool {
    const KEEP_EXACT: &[&str] = &["CARGO_HOME", "CARGO_BUILD_JOBS"];
    const KEEP_PREFIX: &[&str] = &[
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTRIES_",
        "CARGO_REGISTRY_",
        "CARGO_TERM_",
    ];
    if name == "CARGO" || name.starts_with("CARGO_") {
        return !(KEEP_EXACT.contains(&name) || KEEP_PREFIX.iter().any(|p| name.starts_with(p)));
    }
    name.starts_with("__CARGO")
        || matches!(
            name,
            "RUSTFLAGS"
                | "RUSTDOCFLAGS"
                | "RUSTC"
                | "RUSTDOC"
                | "RUSTC_WRAPPER"
                | "RUSTC_WORKSPACE_WRAPPER"
                | "RUSTC_LINKER"
                | "MAKEFLAGS"
                | "MFLAGS"
        )
}

/// The path of the `cargo` running the tests (`$CARGO`), or `cargo`.
fn cargo_program() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A `cargo` command in `dir` with the outer build's environment stripped
/// (see [`leaks_into_inner_cargo`]).
pub fn inner_cargo(dir: &Path) -> Command {
    let mut cmd = Command::new(cargo_program());
    cmd.current_dir(dir).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str() {
            if leaks_into_inner_cargo(name) {
                cmd.env_remove(name);
            }
        }
    }
    cmd
}

/// A `rustc` command with the same environment cleaning as [`inner_cargo`].
fn inner_rustc() -> Command {
    let mut cmd = Command::new("rustc");
    cmd.stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str() {
            if leaks_into_inner_cargo(name) {
                cmd.env_remove(name);
            }
        }
    }
    cmd
}

/// Whether the standard library for `target` is installed for the toolchain
/// the inner builds use (`rustup target add <target>` installs it).
///
/// Looks for `libcore-*.rlib` in `rustc --print target-libdir --target T`,
/// which works with and without rustup.
pub fn target_installed(target: &str) -> bool {
    let Ok(out) = inner_rustc()
        .args(["--print", "target-libdir", "--target", target])
        .output()
    else {
        return false;
    };
    if !out.status.success() {
        return false;
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libcore-") && name.ends_with(".rlib")
        })
    })
}

/// Whether `program --version` runs successfully.
pub fn tool_runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What [`run_with_timeout`] saw.
#[derive(Debug)]
pub struct Finished {
    /// The exit status; `None` if the process was killed at the time limit.
    pub status: Option<ExitStatus>,
    /// Everything the process wrote to stdout.
    pub stdout: String,
    /// Everything the process wrote to stderr.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Finished {
    /// True when the process exited with status 0 before the time limit.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// A printable account of the run, for assertion messages.
    pub fn describe(&self, what: &str) -> String {
        let status = match self.status {
            Some(s) => format!("{s}"),
            None => "KILLED at the time limit".to_owned(),
        };
        format!(
            "{what}: {status} after {:.1} s\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.elapsed.as_secs_f64(),
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

/// Runs `cmd` with stdin closed, collecting its output, and kills it after
/// `limit`.
///
/// # Panics
/// If the program cannot be started.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Finished {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
    let out = child.stdout.take().map(drain);
    let err = child.stderr.take().map(drain);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= limit => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {:?}: {e}", cmd.get_program()),
        }
    };
    let join =
        |h: Option<thread::JoinHandle<String>>| h.and_then(|h| h.join().ok()).unwrap_or_default();
    Finished {
        status,
        stdout: join(out),
        stderr: join(err),
        elapsed: start.elapsed(),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Formats a command line for messages.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&OsStr::to_string_lossy(a));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_cargo_variables_are_stripped() {
        for leak in [
            "CARGO",
            "CARGO_TARGET_DIR",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_BUILD_RUSTFLAGS",
            "CARGO_BUILD_TARGET",
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_TARGET_THUMBV7EM_NONE_EABIHF_RUNNER",
            "CARGO_PROFILE_RELEASE_LTO",
            "CARGO_MAKEFLAGS",
            "RUSTFLAGS",
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
            "__CARGO_FIX_PLZ",
        ] {
            assert!(leaks_into_inner_cargo(leak), "{leak} should be stripped");
        }
        for keep in [
            "CARGO_HOME",
            "CARGO_NET_OFFLINE",
            "CARGO_HTTP_TIMEOUT",
            "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
            "CARGO_TERM_COLOR",
            "CARGO_BUILD_JOBS",
            "RUSTUP_TOOLCHAIN",
            "RUSTUP_HOME",
            "PATH",
            "HOME",
        ] {
            assert!(!leaks_into_inner_cargo(keep), "{keep} should be kept");
        }
    }

    #[test]
    fn timeout_kills() {
        let mut cmd = Command::new("sleep");
        cmd.arg("10");
        let done = run_with_timeout(&mut cmd, Duration::from_millis(200));
        assert!(done.status.is_none(), "{}", done.describe("sleep"));
        assert!(done.elapsed < Duration::from_secs(5));
    }

    #[test]
    fn output_and_status_are_collected() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let done = run_with_timeout(&mut cmd, Duration::from_secs(20));
        assert_eq!(done.status.and_then(|s| s.code()), Some(3));
        assert_eq!(done.stdout, "out\n");
        assert_eq!(done.stderr, "err\n");
    }
}
