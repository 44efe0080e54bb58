//! The "desktop" half of the bidi example: serves `Desktop`, calls the
//! device's `Device` service; the device calls back while it answers.
//!
//! `cargo run -p zerowire-examples --bin bidi-desktop [ADDR]` against a
//! running `bidi-device`; with `--spawn-device` it starts the device in this
//! process first, so the example runs with one command.

use std::time::Duration;

use zerowire::proto::Config;
use zerowire::rpc::CallError;
use zerowire_examples::bidi::{run_device, DesktopService, DeviceClient, SensorError, Settings};
use zerowire_tcp::{connect, Listener};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = zerowire_examples::addr_arg("127.0.0.1:7879");
    let device = if zerowire_examples::flag("spawn-device") {
        let listener = Listener::bind("127.0.0.1:0", Config::default()).await?;
        addr = listener.local_addr()?.to_string();
        Some(tokio::spawn(run_device(listener)))
    } else {
        None
    };

    let peer = connect(&addr, DesktopService::new(Settings), Config::default()).await?;
    let device_client = DeviceClient::new(peer.clone()).with_timeout(Duration::from_secs(5));
    for channel in [1u8, 2, 9] {
        match device_client.read_sensor(channel).await {
            Ok(v) => println!("desktop: channel {channel} reads {v}"),
            Err(CallError::Remote(e @ SensorError::AboveThreshold { .. })) => {
                println!("desktop: the device refused channel {channel}: {e}")
            }
            Err(CallError::Remote(e)) => {
                println!("desktop: the device answered with an error: {e}")
            }
            Err(e) => println!("desktop: call failed: {e}"),
        }
    }
    // Give the device's own calls time to finish, then close gracefully.
    tokio::time::sleep(Duration::from_millis(100)).await;
    peer.close();
    println!("desktop: closed ({})", peer.closed().await);
    if let Some(device) = device {
        device.await??;
    }
    Ok(())
}
