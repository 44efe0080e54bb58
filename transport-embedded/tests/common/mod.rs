//! The services both sides of the hosted tests serve, and their handlers.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// A typed error of the device's handlers.
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq)]
pub enum SensorError {
    NoSuchChannel,
    Saturated,
}

/// Served by the embedded "device".
#[zerowire::service]
pub trait Sensor {
    fn read(&self, channel: u8) -> Result<i32, SensorError>;
    fn add(&self, a: u32, b: u32) -> u32;
    fn poke(&self, v: u32);
}

/// A typed error of the hub's handlers.
#[derive(zerowire::Wire, Debug, Clone, Copy, PartialEq)]
pub enum HubError {
    Negative,
}

/// Served by the other side, the "hub".
#[zerowire::service]
pub trait Hub {
    fn time(&self) -> u64;
    fn check(&self, v: i32) -> Result<i32, HubError>;
    fn event(&self, code: u32);
}

/// A different definition of `Sensor::read` (a `u16` channel): same method
/// id, different schema fingerprint.
pub mod other {
    #[zerowire::service]
    pub trait Sensor {
        fn read(&self, channel: u16) -> Result<i32, super::SensorError>;
    }
}

#[derive(Default)]
pub struct Device {
    pub pokes: AtomicU32,
}

impl Sensor for Device {
    fn read(&self, channel: u8) -> Result<i32, SensorError> {
        match channel {
            0..=3 => Ok(i32::from(channel) * 100 - 50),
            4 => Err(SensorError::Saturated),
            _ => Err(SensorError::NoSuchChannel),
        }
    }
    fn add(&self, a: u32, b: u32) -> u32 {
        a.wrapping_add(b)
    }
    fn poke(&self, v: u32) {
        self.pokes.fetch_add(v, Ordering::Relaxed);
    }
}

#[derive(Default)]
pub struct HubImpl {
    pub events: Mutex<Vec<u32>>,
}

impl Hub for HubImpl {
    fn time(&self) -> u64 {
        1_700_000_000
    }
    fn check(&self, v: i32) -> Result<i32, HubError> {
        if v < 0 {
            Err(HubError::Negative)
        } else {
            Ok(v * 2)
        }
    }
    fn event(&self, code: u32) {
        self.events.lock().unwrap().push(code);
    }
}

/// The method descriptor `name` of a method table.
pub fn desc(
    table: &'static [zerowire::proto::MethodDesc],
    name: &str,
) -> &'static zerowire::proto::MethodDesc {
    table
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no method {name}"))
}
