//! The "viewer" half of the stream example: streams 1 MiB frames from the
//! camera while it makes a small control call every 20 ms on the same
//! connection; shows the throughput and the control calls' latency as it
//! goes, then a summary.
//!
//! `cargo run -p zerowire-examples --bin stream-viewer [ADDR]` against a
//! running `stream-camera`; with `--spawn-camera` it starts the camera in
//! this process first, so the example runs with one command:
//!
//! ```sh
//! cargo run -p zerowire-examples --bin stream-viewer -- --spawn-camera
//! ```
//!
//! `--seconds N` (default 5) sets how long it streams, `--fps N` (default
//! 30) the frame rate. It exits with an error if any frame is missing, out
//! of order or corrupt, or a control call fails.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use zerowire_examples::stream::{run_viewer, Progress, ViewerOptions, VIEWER_USAGE};

#[tokio::main]
async fn main() -> ExitCode {
    let mut options = match ViewerOptions::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("stream-viewer: {e}\n{VIEWER_USAGE}");
            return ExitCode::from(2);
        }
    };
    if std::io::stdout().is_terminal() {
        options.progress = Progress::InPlace;
    }
    match run_viewer(&options).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stream-viewer: {e}");
            ExitCode::FAILURE
        }
    }
}
