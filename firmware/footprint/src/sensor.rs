//! The 3-method service both zerowire images serve (included by
//! `fp-rpc` and `fp-endpoint` with `#[path]`).

use core::cell::Cell;

use zerowire::Wire;

/// Operating mode.
#[derive(Wire, Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Idle,
    Run,
}

/// One reading.
#[derive(Wire, Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    device: u32,
    celsius: f32,
    at_ms: u64,
    mode: Mode,
}

/// A typed handler error.
#[derive(Wire, Clone, Copy, Debug, PartialEq)]
pub enum CalError {
    OutOfRange,
}

#[zerowire::service(local)]
pub trait Sensor {
    /// The latest reading of `channel`.
    fn read(&self, channel: u8) -> Reading;
    /// Switches the mode.
    fn set_mode(&self, mode: Mode);
    /// Applies a calibration offset; returns the new total.
    fn calibrate(&self, offset: i16) -> Result<i16, CalError>;
}

pub struct Node {
    pub mode: Cell<Mode>,
    pub offset: Cell<i16>,
    pub now_ms: Cell<u64>,
}

impl Node {
    /// A node in `Idle` mode with no offset.
    pub fn new() -> Self {
        Self {
            mode: Cell::new(Mode::Idle),
            offset: Cell::new(0),
            now_ms: Cell::new(0),
        }
    }
}

impl Sensor for Node {
    fn read(&self, channel: u8) -> Reading {
        Reading {
            device: u32::from(channel),
            celsius: 21.5 + f32::from(self.offset.get()) / 16.0,
            at_ms: self.now_ms.get(),
            mode: self.mode.get(),
        }
    }

    fn set_mode(&self, mode: Mode) {
        self.mode.set(mode);
    }

    fn calibrate(&self, offset: i16) -> Result<i16, CalError> {
        let total = self
            .offset
            .get()
            .checked_add(offset)
            .filter(|t| (-256..=256).contains(t))
            .ok_or(CalError::OutOfRange)?;
        self.offset.set(total);
        Ok(total)
    }
}
