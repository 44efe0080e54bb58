//! TCP transport for zerowire: tokio (default) and smol drivers of the core's
//! protocol state machine.
//!
//! Not implemented yet: this crate has no public items. The drivers arrive
//! with the `#[service]` RPC work (issue 3); until then, use the frame codec
//! in [`zerowire::frame`] directly.
#![no_std]
#![deny(missing_docs)]
