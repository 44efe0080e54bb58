//! The microcontroller transport for zerowire: smoltcp and `embedded-io`
//! drivers, `no_std`, no heap.
//!
//! Not implemented yet: this crate has no public items. The driver arrives
//! with the MCU work (issue 5); until then, `zerowire::frame::FrameReader`
//! over a static buffer is the building block for a hand-written loop.
#![no_std]
#![deny(missing_docs)]
