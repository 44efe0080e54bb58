//! Runs the example binaries as a user would (each in its one-command form)
//! and checks what they print.

use std::process::Command;
use std::time::Duration;

fn run(bin: &str, args: &[&str]) -> String {
    let mut child = Command::new(bin)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("example binary starts");
    // Bounded: an example that hangs fails the test instead of the suite.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{bin} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{bin} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn wire_tour() {
    let out = run(env!("CARGO_BIN_EXE_wire"), &[]);
    assert!(out.contains("call 2: add3(1, 2, 3) = 6"), "{out}");
    assert!(
        out.contains("corrupted body: invalid tag 9 at byte 16"),
        "{out}"
    );
}

#[test]
fn calc_quick_start() {
    let out = run(env!("CARGO_BIN_EXE_calc-client"), &["--spawn-server"]);
    assert!(out.contains("add3(1, 2, 3) = 6"), "{out}");
    assert!(
        out.contains("div(1, 0) failed remotely: division by zero"),
        "{out}"
    );
    assert!(out.contains("server counted 6403 calls"), "{out}");
    assert!(out.contains("closed: closed gracefully"), "{out}");
}

#[test]
fn bidi_errors_cross_both_ways() {
    let out = run(env!("CARGO_BIN_EXE_bidi-desktop"), &["--spawn-device"]);
    // The device's handler error reaches the desktop, typed ...
    assert!(
        out.contains("the device refused channel 2: reading 80 is above the threshold 60"),
        "{out}"
    );
    // ... and the desktop's handler error reaches the device.
    assert!(out.contains("device: asked the desktop for channel 3 and got an error: remote error: channel 3 is not configured"), "{out}");
    // The device called the desktop back while answering.
    assert!(
        out.contains("desktop log: device: channel 1 reads 21.5"),
        "{out}"
    );
}

#[test]
fn stream_camera_beside_control_calls() {
    let out = run(
        env!("CARGO_BIN_EXE_stream-viewer"),
        &["--spawn-camera", "--seconds", "1"],
    );
    assert!(out.contains("every frame checked"), "{out}");
    assert!(out.contains("(frames sent, all received)"), "{out}");
    assert!(out.contains("control:"), "{out}");
}
