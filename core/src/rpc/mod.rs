//! The RPC layer between `#[zerowire::service]`'s generated code and the
//! transports.
//!
//! - A transport implements [`Caller`] (and [`BlockingCaller`]) so generated
//!   clients (`CalcClient<C>`) can call through it.
//! - Generated servers implement [`Service`] (handler futures are `Send`, for
//!   multi-threaded runtimes) or [`LocalService`] (no `Send` bound, for
//!   single-threaded executors and microcontrollers); a transport drives them
//!   with the events of [`proto::Connection`](crate::proto::Connection).
//! - [`CallError`] is what a call returns when it fails: the handler's typed
//!   error (`Remote`) or a transport or protocol failure.

mod compose;
mod error;
#[cfg(feature = "alloc")]
mod message;
#[cfg(feature = "alloc")]
mod stream;

#[cfg(not(feature = "alloc"))]
pub use self::no_alloc::{Sink, Source};
pub use compose::Either;
pub use error::{CallError, ErrorText};
#[cfg(feature = "alloc")]
pub use message::{Message, RunOwner};
#[cfg(feature = "alloc")]
pub use stream::{
    encode_stream, BoxFuture, ByteStream, DecodeResult, Sink, SinkBackend, Source, SourceBackend,
    Stream, StreamCall, Streaming, Streams,
};

/// Without `alloc`, `Sink` and `Source` are placeholders: a crate without a
/// heap can declare a `#[zerowire::service]` trait with streaming methods
/// (and use its generated method table), but their handlers only run on a
/// transport with a heap. A microcontroller serves and calls streaming
/// methods chunk by chunk with `zerowire-embedded`'s `StreamHandler`.
#[cfg(not(feature = "alloc"))]
mod no_alloc {
    use core::convert::Infallible;
    use core::marker::PhantomData;

    /// The sending end of a stream (a placeholder without `alloc`: no value
    /// of it exists).
    #[derive(Debug)]
    pub struct Sink<T> {
        never: Infallible,
        _item: PhantomData<fn(T)>,
    }

    /// The receiving end of a stream (a placeholder without `alloc`: no
    /// value of it exists).
    #[derive(Debug)]
    pub struct Source<T> {
        never: Infallible,
        _item: PhantomData<fn() -> T>,
    }

    impl<T> Sink<T> {
        /// No value exists: code holding one is unreachable.
        pub fn unreachable(&self) -> ! {
            match self.never {}
        }
    }

    impl<T> Source<T> {
        /// No value exists: code holding one is unreachable.
        pub fn unreachable(&self) -> ! {
            match self.never {}
        }
    }
}

/// Expands its items only when `zerowire` has `bytes` (used by the code
/// `#[zerowire::service]` generates for shared-buffer dispatch).
#[cfg(feature = "bytes")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_bytes {
    ($($item:tt)*) => { $($item)* };
}

/// Expands its items only when `zerowire` has `bytes` (used by the code
/// `#[zerowire::service]` generates for shared-buffer dispatch).
#[cfg(not(feature = "bytes"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_bytes {
    ($($item:tt)*) => {};
}

/// Expands its items only when `zerowire` has `alloc` (used by the code
/// `#[zerowire::service]` generates for streaming methods).
#[cfg(feature = "alloc")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_alloc {
    ($($item:tt)*) => { $($item)* };
}

/// Expands its items only when `zerowire` has `alloc` (used by the code
/// `#[zerowire::service]` generates for streaming methods).
#[cfg(not(feature = "alloc"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_alloc {
    ($($item:tt)*) => {};
}

use core::future::Future;
use core::time::Duration;

use crate::proto::MethodDesc;
use crate::wire::{DecodeError, Encode, FromView, Wire};

/// Per-call options a generated client passes to its [`Caller`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallOptions {
    /// Fail with [`CallError::DeadlineExceeded`] (and cancel the call at the
    /// callee) if no reply arrived within this time; `None` uses the
    /// connection's default.
    pub timeout: Option<Duration>,
}

/// The transport side of a generated async client.
pub trait Caller: Clone + Send + Sync + 'static {
    /// Calls `method` with `args` and decodes the reply as `R`.
    ///
    /// Dropping the returned future cancels the call at the callee.
    fn call<A, R>(
        &self,
        method: &'static MethodDesc,
        args: A,
        options: CallOptions,
    ) -> impl Future<Output = Result<R, CallError>> + Send
    where
        A: Wire + Send + 'static,
        R: for<'de> FromView<'de> + Send + 'static;

    /// Sends a one-way notification of `method` (no reply; in send order).
    fn notify<A>(
        &self,
        method: &'static MethodDesc,
        args: A,
    ) -> impl Future<Output = Result<(), CallError>> + Send
    where
        A: Wire + Send + 'static;

    /// Starts a call of a streaming method (`method.streams`): sends `args`,
    /// then the encoded items of `input` as the request stream (pulled as
    /// the callee's credit allows), and returns the reply stream's items
    /// and the encoded final result. The call starts at once, not when the
    /// result is first polled.
    ///
    /// The default fails: the transport does not support streams.
    #[cfg(feature = "alloc")]
    fn call_streaming<A>(
        &self,
        method: &'static MethodDesc,
        args: A,
        input: Option<ByteStream>,
        options: CallOptions,
    ) -> StreamCall
    where
        A: Wire + Send + 'static,
    {
        let _ = (method, args, input, options);
        StreamCall::failed(CallError::Internal(ErrorText::new(
            "this transport does not support streaming methods",
        )))
    }
}

/// The transport side of a generated blocking client, for synchronous code
/// (it must not be called from inside an async runtime's worker thread).
pub trait BlockingCaller: Clone + Send + Sync + 'static {
    /// Calls `method` with `args`, waits for the reply and decodes it.
    fn call_blocking<A, R>(
        &self,
        method: &'static MethodDesc,
        args: A,
        options: CallOptions,
    ) -> Result<R, CallError>
    where
        A: Wire + Send + 'static,
        R: for<'de> FromView<'de> + Send + 'static;

    /// Sends a one-way notification and waits until it is queued.
    fn notify_blocking<A>(&self, method: &'static MethodDesc, args: A) -> Result<(), CallError>
    where
        A: Wire + Send + 'static;
}

/// Why a generated dispatcher did not run a handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The arguments did not decode; the caller gets `BadRequest`.
    BadRequest(DecodeError),
    /// No method with this index; the caller gets `UnknownMethod`.
    UnknownMethod,
    /// The method has an async handler: use [`Service::call`]
    /// (from [`Service::call_sync`] only).
    NeedsExecutor,
    /// The method streams: use `Service::call_streaming` (from
    /// [`Service::call`] and [`Service::call_sync`]).
    NeedsStreams,
}

/// A set of methods a connection serves, with handler futures that are
/// `Send`. `Cx` is the transport's per-connection context type, handed to
/// handlers that declare a `cx: &Cx` parameter.
///
/// Generated by `#[zerowire::service]` for `NameService<S>`; tuples of up to
/// four services serve them all on one connection.
pub trait Service<Cx: ?Sized>: Send + Sync + 'static {
    /// The result of any method, encoded as that method's result type.
    type Reply: Encode + Send + 'static;

    /// The number of methods.
    fn method_count(&self) -> usize;

    /// Method `index` in dispatch order.
    fn method(&self, index: usize) -> Option<&'static MethodDesc>;

    /// Decodes `body` as the arguments of method `method` and runs its
    /// handler. Dropping the future drops the handler (cancellation).
    fn call<'a>(
        &'a self,
        cx: &'a Cx,
        method: u16,
        body: &'a [u8],
    ) -> impl Future<Output = Result<Self::Reply, Refusal>> + Send + 'a;

    /// Runs method `method` right here if its handler is a plain `fn`
    /// (no executor needed); [`Refusal::NeedsExecutor`] for async handlers.
    fn call_sync(&self, cx: &Cx, method: u16, body: &[u8]) -> Result<Self::Reply, Refusal>;

    /// [`call`](Self::call) with the arguments in a shared buffer: `Bytes`
    /// arguments are slices of `body` instead of copies. The default copies
    /// (it calls `call`); `#[zerowire::service]` generates the sharing form.
    #[cfg(feature = "bytes")]
    fn call_shared<'a>(
        &'a self,
        cx: &'a Cx,
        method: u16,
        body: &'a bytes::Bytes,
    ) -> impl Future<Output = Result<Self::Reply, Refusal>> + Send + 'a {
        self.call(cx, method, body)
    }

    /// Runs streaming method `method` (its `MethodDesc::streams` is not
    /// empty) with the transport's stream backends. The default refuses
    /// (`UnknownMethod`): a service without streaming methods.
    #[cfg(feature = "alloc")]
    fn call_streaming<'a>(
        &'a self,
        cx: &'a Cx,
        method: u16,
        body: &'a [u8],
        streams: Streams,
    ) -> impl Future<Output = Result<Self::Reply, Refusal>> + Send + 'a {
        let _ = (cx, method, body, streams);
        core::future::ready(Err(Refusal::UnknownMethod))
    }
}

/// [`Service`] without the `Send` bounds, for single-threaded executors and
/// microcontrollers (`#[zerowire::service(local)]`).
pub trait LocalService<Cx: ?Sized>: 'static {
    /// The result of any method.
    type Reply: Encode;

    /// The number of methods.
    fn method_count(&self) -> usize;

    /// Method `index` in dispatch order.
    fn method(&self, index: usize) -> Option<&'static MethodDesc>;

    /// As [`Service::call`], without `Send`.
    fn call<'a>(
        &'a self,
        cx: &'a Cx,
        method: u16,
        body: &'a [u8],
    ) -> impl Future<Output = Result<Self::Reply, Refusal>> + 'a;

    /// As [`Service::call_sync`].
    fn call_sync(&self, cx: &Cx, method: u16, body: &[u8]) -> Result<Self::Reply, Refusal>;
}

/// Decodes a method's argument tuple from a shared buffer, `Bytes` values
/// sharing it; used by generated dispatchers.
#[cfg(feature = "bytes")]
#[doc(hidden)]
#[inline]
pub fn decode_args_shared<A: for<'de> FromView<'de>>(body: &bytes::Bytes) -> Result<A, Refusal> {
    crate::wire::decode_shared::<A>(body).map_err(Refusal::BadRequest)
}

/// Decodes a method's argument tuple; used by generated dispatchers.
#[doc(hidden)]
#[inline]
pub fn decode_args<'a, A: FromView<'a>>(body: &'a [u8]) -> Result<A, Refusal> {
    A::decode(body).map_err(Refusal::BadRequest)
}
