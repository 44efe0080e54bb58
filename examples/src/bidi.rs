//! Two services for the `bidi` example: a "device" and a "desktop" that
//! call each other over one connection.

use std::fmt;

use zerowire::Wire;
use zerowire_tcp::Context;

/// Why a sensor could not be read.
#[derive(Wire, Debug, Clone, PartialEq)]
pub enum SensorError {
    /// No sensor on this channel.
    NoSuchChannel(u8),
    /// The reading is above the desktop's threshold for the channel.
    AboveThreshold {
        /// The reading.
        value: f32,
        /// The threshold.
        threshold: f32,
    },
}

impl fmt::Display for SensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchChannel(c) => write!(f, "no sensor on channel {c}"),
            Self::AboveThreshold { value, threshold } => {
                write!(f, "reading {value} is above the threshold {threshold}")
            }
        }
    }
}

/// Why the desktop has no setting.
#[derive(Wire, Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// The channel is not configured.
    Unconfigured(u8),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unconfigured(c) => write!(f, "channel {c} is not configured on the desktop"),
        }
    }
}

/// What the device serves.
#[zerowire::service]
pub trait Device {
    /// Reads a sensor; checks it against the desktop's threshold, which it
    /// asks the desktop for over the same connection.
    async fn read_sensor(&self, cx: &Context, channel: u8) -> Result<f32, SensorError>;
}

/// What the desktop serves.
#[zerowire::service]
pub trait Desktop {
    /// The alarm threshold of a channel.
    fn threshold(&self, channel: u8) -> Result<f32, ConfigError>;
    /// A log line from the device.
    fn log(&self, line: String);
}

/// The device's sensors: channel 1 reads 21.5, channel 2 reads 80.0.
pub struct Sensors;

impl Device for Sensors {
    async fn read_sensor(&self, cx: &Context, channel: u8) -> Result<f32, SensorError> {
        let value = match channel {
            1 => 21.5,
            2 => 80.0,
            c => return Err(SensorError::NoSuchChannel(c)),
        };
        // Call the caller back over the same connection.
        let desktop = DesktopClient::new(cx.peer().clone());
        let _ = desktop
            .log(format!("device: channel {channel} reads {value}"))
            .await;
        match desktop.threshold(channel).await {
            Ok(threshold) if value > threshold => {
                Err(SensorError::AboveThreshold { value, threshold })
            }
            _ => Ok(value),
        }
    }
}

/// The desktop's settings: thresholds for channels 1 and 2.
pub struct Settings;

impl Desktop for Settings {
    fn threshold(&self, channel: u8) -> Result<f32, ConfigError> {
        match channel {
            1 => Ok(50.0),
            2 => Ok(60.0),
            c => Err(ConfigError::Unconfigured(c)),
        }
    }

    fn log(&self, line: String) {
        println!("desktop log: {line}");
    }
}

/// The device process: accepts one desktop, calls it, and waits until the
/// desktop closes the connection.
pub async fn run_device(listener: zerowire_tcp::Listener) -> std::io::Result<()> {
    let desktop = listener.accept(DeviceService::new(Sensors)).await?;
    if desktop.handshake().await.is_err() {
        return Ok(());
    }
    println!("device: desktop connected from {}", desktop.peer_addr());
    let client = DesktopClient::new(desktop.clone());
    let _ = client.log("device: ready".to_string()).await;
    match client.threshold(3).await {
        Ok(t) => println!("device: threshold of channel 3 is {t}"),
        Err(e) => println!("device: asked the desktop for channel 3 and got an error: {e}"),
    }
    let reason = desktop.closed().await;
    println!("device: connection closed ({reason})");
    Ok(())
}
