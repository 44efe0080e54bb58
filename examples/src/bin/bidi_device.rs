//! The "device" half of the bidi example: serves `Device` and calls the
//! desktop's `Desktop` service over the same connection.
//!
//! `cargo run -p zerowire-examples --bin bidi-device [ADDR]` (default
//! 127.0.0.1:7879), then `bidi-desktop` in another terminal.

use zerowire::proto::Config;
use zerowire_tcp::Listener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = zerowire_examples::addr_arg("127.0.0.1:7879");
    let listener = Listener::bind(&addr, Config::default()).await?;
    println!("device listening on {}", listener.local_addr()?);
    zerowire_examples::bidi::run_device(listener).await
}
