//! The microcontroller transport for zerowire: `no_std`, no heap, no
//! executor.
//!
//! [`Endpoint`] drives the same sans-IO protocol state machine as the
//! desktop transport ([`zerowire::proto::Connection`]) over any
//! [`ByteSocket`], a small non-blocking byte-stream interface. From the
//! application's poll loop, [`Endpoint::poll`]:
//!
//! - serves a `#[zerowire::service]` trait: the generated dispatcher's
//!   [`LocalService::call_sync`](zerowire::rpc::LocalService::call_sync)
//!   runs plain `fn` handlers right there;
//! - completes this side's calls of the peer's services, started with
//!   [`Endpoint::call`] (a [`Pending`] token) and taken, typed, with
//!   [`Endpoint::take`] once ready; [`Endpoint::notify`] sends one-way
//!   notifications;
//! - with [`Endpoint::poll_streams`], runs streams chunk by chunk over
//!   fixed buffers: the application's [`StreamHandler`] serves streaming
//!   methods (reply streams and request streams) and takes the pieces of
//!   incoming streams, [`StreamTx`] queues items, chunks and final results
//!   as the peer's credit allows; [`Endpoint::open`] calls the peer's
//!   streaming methods.
//!
//! All storage is the endpoint's own, sized by const generics, so an
//! endpoint can live in a `static`. Adapters, each behind a feature:
//!
//! - `smoltcp`: [`ByteSocket`] for smoltcp 0.14's `tcp::Socket`, and
//!   `smoltcp::ListenPool`, several sockets listening on one port so a
//!   peer can reconnect at once (smoltcp has no accept backlog);
//! - `embedded-io`: `io::IoStream`, any `embedded-io` 0.7
//!   `Read + Write + ReadReady + WriteReady` stream (a UART, USB CDC);
//! - `embedded-io-async`: the async form, `asynch::AsyncEndpoint`: a
//!   driver future over any `embedded-io-async` 0.7 reader and writer
//!   (embassy-net's `TcpSocket`, async UARTs) and `asynch::Client`, whose
//!   `call(&desc, &args).await` gives the typed result; the same
//!   `Endpoint` inside, any executor.
//!
//! `docs/embedded.md` in the repository explains the design.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used
)]

mod client;
mod dispatch;
mod endpoint;
mod socket;
mod stream;

#[cfg(feature = "embedded-io-async")]
pub mod asynch;
#[cfg(feature = "embedded-io")]
pub mod io;
#[cfg(feature = "smoltcp")]
pub mod smoltcp;

pub use client::Pending;
pub use endpoint::{Endpoint, SessionEvent};
pub use socket::{ByteSocket, Eof, SocketState};
pub use stream::{Collect, Ended, NoStreams, Stream, StreamHandler, StreamTx};

use zerowire::rpc::CallError;

/// A `Result<T, E>` method's result as the generated clients return it:
/// the handler's `Err(e)` becomes `Err(CallError::Remote(e))`.
pub fn flatten<T, E>(result: Result<Result<T, E>, CallError>) -> Result<T, CallError<E>> {
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(CallError::Remote(e)),
        Err(e) => Err(e.widen()),
    }
}
