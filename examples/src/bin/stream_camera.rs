//! The "camera" half of the stream example: serves `Camera`, streaming
//! 1 MiB frames to each viewer at the rate it asks for.
//!
//! `cargo run -p zerowire-examples --bin stream-camera [ADDR]` (default
//! 127.0.0.1:7880), then `stream-viewer` in another terminal.

use zerowire::proto::Config;
use zerowire_examples::stream::{serve_camera, DEFAULT_ADDR};
use zerowire_tcp::Listener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = zerowire_examples::addr_arg(DEFAULT_ADDR);
    let listener = Listener::bind(&addr, Config::default()).await?;
    println!("camera listening on {}", listener.local_addr()?);
    serve_camera(listener).await;
    Ok(())
}
