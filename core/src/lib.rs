//! zerowire: a Rust-first RPC framework and zero-copy wire format for desktops
//! and microcontrollers.
//!
//! This crate (`core/` in the workspace) holds everything that both ends of a
//! connection share and that needs no operating system:
//!
//! - [`wire`]: the [`Wire`] trait, the `#[derive(Wire)]` encoding rules, the
//!   LPV varint, borrowed views and [`DecodeError`];
//! - [`frame`]: the frame codec (header, frame kinds, the resumable decoder and
//!   the handshake block).
//!
//! The crate is `#![no_std]` and needs no allocator; the `alloc` and `std`
//! features add heap-backed wire types (`String`, `Vec<T>`) and owned
//! decoding of them. The byte-exact format is specified in
//! `docs/wire-format.md`.
//!
//! ```
//! use zerowire::Wire;
//!
//! #[derive(Wire, Debug, PartialEq)]
//! struct Add3 { a: u32, b: u32, c: u32 }
//!
//! let mut buf = [0u8; Add3::MAX_ENCODED_LEN];
//! let n = Add3 { a: 1, b: 2, c: 3 }.encode(&mut buf).unwrap();
//! assert_eq!(&buf[..n], &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
//! let view = Add3::decode_view(&buf[..n]).unwrap();  // a length check and a cast
//! assert_eq!(view.b(), 2);
//! assert_eq!(Add3::decode(&buf[..n]).unwrap(), Add3 { a: 1, b: 2, c: 3 });
//! ```
#![no_std]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// Lets the derive's absolute `::zerowire::` paths resolve inside this crate.
extern crate self as zerowire;

pub mod frame;
pub mod proto;
pub mod rpc;
pub mod wire;

pub use wire::{DecodeError, DecodeErrorKind, Encode, EncodeError, FromView, Seq, Wire};
pub use zerowire_macros::{service, Wire};

#[doc(hidden)]
pub mod __private;

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
