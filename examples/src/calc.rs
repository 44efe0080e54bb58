//! The calculator service of the README quick start.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use zerowire::Wire;

/// Why a division failed: a typed error that reaches the caller as
/// `CallError::Remote(MathError)`.
#[derive(Wire, Debug, Clone, PartialEq, Eq)]
pub enum MathError {
    /// The divisor was zero.
    DivideByZero,
    /// The quotient does not fit in an `i32`.
    Overflow,
}

impl fmt::Display for MathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DivideByZero => f.write_str("division by zero"),
            Self::Overflow => f.write_str("overflow"),
        }
    }
}

/// A calculator.
#[zerowire::service]
pub trait Calc {
    /// `a + b + c` (wrapping).
    async fn add3(&self, a: u32, b: u32, c: u32) -> u32;
    /// `a / b`, or why not.
    async fn div(&self, a: i32, b: i32) -> Result<i32, MathError>;
    /// Resets the call counter.
    fn reset(&self);
    /// Calls served since the last reset.
    fn calls(&self) -> u64;
}

/// The server side: counts its calls.
#[derive(Default)]
pub struct Calculator {
    calls: AtomicU64,
}

impl Calc for Calculator {
    async fn add3(&self, a: u32, b: u32, c: u32) -> u32 {
        self.calls.fetch_add(1, Ordering::Relaxed);
        a.wrapping_add(b).wrapping_add(c)
    }

    async fn div(&self, a: i32, b: i32) -> Result<i32, MathError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        match b {
            0 => Err(MathError::DivideByZero),
            _ => a.checked_div(b).ok_or(MathError::Overflow),
        }
    }

    fn reset(&self) {
        self.calls.store(0, Ordering::Relaxed);
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}
