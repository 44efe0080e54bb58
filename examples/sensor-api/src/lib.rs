//! The services of the sensor-node example, shared by the firmware
//! (`firmware/sensor-node`, `no_std`, no heap) and the desktop hub
//! (`examples/src/bin/hub.rs`): one definition, so both sides agree on
//! every method's schema fingerprint.
//!
//! - The node serves [`SensorNode`]: readings, a typed error, statistics,
//!   and switches for its periodic notifications and its self-test.
//! - The hub serves [`Hub`]: the node calls it for the time and to validate
//!   values (a typed error the other way), and pushes readings to it as
//!   notifications.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// One measurement.
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// The channel measured.
    pub channel: u8,
    /// Temperature in thousandths of a degree Celsius.
    pub millicelsius: i32,
    /// Node uptime at the measurement, in milliseconds.
    pub at_ms: u32,
    /// Sequence number of the reading on this node.
    pub seq: u32,
}

/// Why the node could not take a reading.
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorError {
    /// The channel does not exist.
    NoSuchChannel,
    /// The sensor is out of range.
    Saturated,
}

/// What the node has done since it started.
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStats {
    /// Connections (sessions) served, this one included.
    pub sessions: u32,
    /// Calls answered.
    pub calls: u32,
    /// Readings pushed as notifications.
    pub pushed: u32,
    /// Uptime in milliseconds.
    pub uptime_ms: u32,
}

/// The result of the node's self-test, sent to [`Hub::selftest_done`].
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelfTest {
    /// Checks that passed.
    pub passed: u32,
    /// Checks that failed (0 when all is well).
    pub failed: u32,
    /// Calls the node had in flight at once.
    pub pipelined: u32,
}

/// Served by the sensor node.
#[zerowire::service]
pub trait SensorNode {
    /// Reads channel `channel` (0 to 3; 4 is saturated).
    fn read(&self, channel: u8) -> Result<Reading, SensorError>;
    /// `a + b` (wrapping): the cheapest round trip.
    fn add(&self, a: u32, b: u32) -> u32;
    /// Statistics.
    fn stats(&self) -> NodeStats;
    /// Pushes a reading of channel 0 to [`Hub::reading`] every `ms`
    /// milliseconds (0 stops); returns the previous period.
    fn set_interval(&self, ms: u32) -> u32;
    /// Starts the node's self-test: it calls the hub ([`Hub::time_ms`],
    /// [`Hub::validate`], pipelined, with a typed error among the results)
    /// and reports to [`Hub::selftest_done`].
    fn selftest(&self);
    /// Ends the firmware after this reply (QEMU exits with `code`).
    fn power_off(&self, code: u32);
}

/// Why the hub refused a value.
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubError {
    /// The value is negative.
    Negative,
}

/// Served by the desktop hub, called by the node.
#[zerowire::service]
pub trait Hub {
    /// The hub's clock, in milliseconds since the Unix epoch.
    fn time_ms(&self) -> u64;
    /// Doubles `value`, refusing negative ones.
    fn validate(&self, value: i32) -> Result<i32, HubError>;
    /// A reading pushed by the node (a notification).
    fn reading(&self, reading: Reading);
    /// The node's self-test result (a notification).
    fn selftest_done(&self, result: SelfTest);
}
