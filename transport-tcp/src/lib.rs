//! TCP transport for zerowire: drives the core's sans-IO protocol state
//! machine ([`zerowire::proto::Connection`]) over real sockets.
//!
//! - [`connect`] opens a connection; [`Listener`] accepts them
//!   ([`Listener::serve`] for a server, [`Listener::accept`] for one
//!   connection at a time).
//! - Both ends are client and server at once: each serves a
//!   [`Service<Context>`](zerowire::rpc::Service) (`()` serves nothing) and
//!   calls the other through its [`Peer`], which implements
//!   [`Caller`](zerowire::rpc::Caller) and
//!   [`BlockingCaller`](zerowire::rpc::BlockingCaller) for the clients
//!   `#[zerowire::service]` generates. A handler that takes `cx: &Context`
//!   can call its caller back over the same connection ([`Context::peer`]).
//!
//! ```
//! use zerowire::proto::Config;
//! use zerowire_tcp::{connect, Listener};
//!
//! #[zerowire::service]
//! pub trait Calc {
//!     fn add3(&self, a: u32, b: u32, c: u32) -> u32;
//! }
//!
//! struct Calculator;
//!
//! impl Calc for Calculator {
//!     fn add3(&self, a: u32, b: u32, c: u32) -> u32 {
//!         a + b + c
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let listener = Listener::bind("127.0.0.1:0", Config::default()).await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(listener.serve(|| CalcService::new(Calculator)));
//!
//! let calc = CalcClient::new(connect(addr, (), Config::default()).await?);
//! assert_eq!(calc.add3(1, 2, 3).await, Ok(6));
//! # Ok(())
//! # }
//! ```
//!
//! # How a connection runs
//!
//! One driver task per connection owns the socket (`TCP_NODELAY`) and the
//! state machine. The caller's task encodes a call's arguments and queues
//! the call for the driver (a vector under a mutex, which the driver
//! empties in one go); the driver copies them into its send buffer and
//! decodes the reply straight from its receive buffer into the call's
//! reply cell, the call's one allocation. On every wake-up it takes in
//! everything ready (calls, handler results, received bytes) and then
//! writes all frames queued since its previous write with **one** `write`:
//! a lone call leaves at once, with no timer or Nagle-style delay, and
//! under load many calls share a system call ([`Peer::stats`] counts
//! them).
//!
//! An `async fn` handler is polled once on the connection's task; if it
//! finishes there (most do) its answer goes out without a spawn, otherwise
//! it moves to a task of its own, aborted when the caller cancels, so a
//! slow one never stops the connection. A plain `fn` handler
//! runs right on the connection's task, with no spawn or channel hop (the
//! lowest latency): it holds up **its own connection** until it returns —
//! other connections are unaffected — so keep plain `fn` handlers short and
//! make anything slow or blocking `async` (or move it to `spawn_blocking`).
//! The exception: a call whose arguments were too large for one frame
//! (reassembled from chunks) is decoded and run in a task of its own,
//! either kind of handler, with its `Bytes` arguments sharing the
//! reassembled buffer. Notifications' handlers start in the order they
//! were sent.
//!
//! A handler panic is caught and reported as `CallError::Panicked` (with the
//! panic message) where the server unwinds; the connection keeps serving.
//! Built with `panic = "abort"` (or with a panic hook that aborts), the
//! server process dies and its callers see `CallError::Disconnected`.
//!
//! When other handlers of the connection are still running as one answers,
//! the driver lets them run for one round of the scheduler before it writes,
//! so their answers share the write too (again no timer). Likewise, while
//! replies it handed to this side's callers are not taken yet, it lets
//! those callers run first: most start their next call at once, and those
//! calls share one write, up to 256 bytes of frames (then the peer starts
//! on them while the next ones are made). A lone call's frame never waits:
//! its caller took its reply before it made the call.
//!
//! Calls beyond the peer's `max_calls` wait in a per-connection queue of at
//! most [`QUEUE_LIMIT`] calls (then `CallError::Overloaded`). This side's
//! [`Config::max_calls`](zerowire::proto::Config::max_calls) also bounds its
//! own calls in flight.
//!
//! Nested calls (a handler that calls the peer, whose handler calls back)
//! hold a call slot at every level: when outer calls take all of a side's
//! `max_calls`, the inner calls they wait for cannot start and the outer
//! calls wait until their deadlines. Size `max_calls` for the nesting, and
//! give nested calls a timeout.
//!
//! # Reconnecting
//!
//! A [`Peer`] never reconnects by itself. When its connection ends, every
//! pending call fails at once with `CallError::Disconnected` and none is
//! re-sent (the peer may or may not have run it);
//! [`Peer::closed`] tells why. To go on, the application calls [`connect`]
//! again, which repeats the handshake and the schema check of every method
//! it calls.
//!
//! # Runtimes
//!
//! The same driver runs on two runtimes, each behind a feature:
//!
//! - `tokio` (default): `tokio::connect`, `tokio::Listener`; tokio
//!   sockets, timers and tasks of the runtime they are called in.
//! - `smol`: `smol::connect`, `smol::Listener`; async-io sockets and
//!   timers, tasks on smol's global executor (`smol::spawn`) or on an
//!   `Executor` you pass (`smol::connect_on`, `smol::Listener::bind_on`).
//!
//! Pick the runtime by the module: with both features on, both modules are
//! there, and the crate root's [`connect`] and [`Listener`] are tokio's
//! (smol's when only `smol` is on). Everything else ([`Peer`], [`Context`],
//! [`Stats`], [`QUEUE_LIMIT`]) is one type for both runtimes, so a service
//! whose handlers take `cx: &Context` serves on either.
//!
//! On both, the socket has `TCP_NODELAY`, the driver writes once per
//! wake-up and [`Peer::stats`] counts the same system calls.
//! [`BlockingCaller`](zerowire::rpc::BlockingCaller) works from a plain
//! thread (not a runtime worker): on tokio it blocks on the connection's
//! runtime, on smol with `smol::block_on`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(feature = "tokio", feature = "smol"))]
mod driver;
#[cfg(any(feature = "tokio", feature = "smol"))]
mod inbox;
#[cfg(any(feature = "tokio", feature = "smol"))]
mod listener;
#[cfg(any(feature = "tokio", feature = "smol"))]
mod outbound;
#[cfg(any(feature = "tokio", feature = "smol"))]
mod peer;
#[cfg(any(feature = "tokio", feature = "smol"))]
mod runtime;
#[cfg(any(feature = "tokio", feature = "smol"))]
mod stream;

#[cfg(feature = "smol")]
pub mod smol;
#[cfg(feature = "tokio")]
pub mod tokio;

#[cfg(all(feature = "smol", not(feature = "tokio")))]
pub use crate::smol::{connect, Listener};
#[cfg(feature = "tokio")]
pub use crate::tokio::{connect, Listener};
#[cfg(any(feature = "tokio", feature = "smol"))]
pub use driver::QUEUE_LIMIT;
#[cfg(any(feature = "tokio", feature = "smol"))]
pub use peer::{Context, Peer, Stats};
