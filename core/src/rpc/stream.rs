//! Streams in `#[service]` methods: a handler sends a sequence of messages
//! through a [`Sink`] and receives one through a [`Source`]; a client gets
//! a reply stream as [`Streaming`] and passes a request stream as any
//! [`Stream`].
//!
//! The transport moves encoded messages: it implements [`SinkBackend`] and
//! [`SourceBackend`] for handlers and [`Caller::call_streaming`] for
//! clients; the types here encode and decode around them. See
//! `docs/streams.md` for the design and the memory bound.
//!
//! [`Caller::call_streaming`]: super::Caller::call_streaming

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::convert::Infallible;
use core::fmt;
use core::future::{poll_fn, Future};
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};

pub use futures_core::Stream;

use super::{CallError, Message};
use crate::wire::{Encode, FromView};

/// A future of the transport, boxed (streams are a heap feature).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A stream of encoded messages, boxed. Each keeps its largest byte string
/// in the item it came from ([`Message::encode`]).
pub type ByteStream = Pin<Box<dyn Stream<Item = Message> + Send>>;

/// The transport side of a [`Sink`]: queues encoded messages on one call's
/// stream, waiting while the peer's credit or the connection's send buffer
/// is used up.
pub trait SinkBackend: Send {
    /// Queues one encoded message; resolves once it is taken (the stream
    /// holds at most a message or two ahead of the connection). `Err` once
    /// the stream can no longer be sent: the call was cancelled or the
    /// connection ended.
    fn send(&mut self, message: Message) -> BoxFuture<'_, Result<(), CallError>>;
}

/// The transport side of a [`Source`]: the encoded messages of one call's
/// stream, in order.
pub trait SourceBackend: Send {
    /// The next message; `Ready(None)` at the end of the stream, an `Err`
    /// item if it ended with an error (then `None`). Taking a message gives
    /// its bytes back to the sender's credit.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Vec<u8>, CallError>>>;

    /// As [`poll_next`](Self::poll_next), the message in a shared buffer:
    /// what [`Source`] uses when `zerowire` has `bytes`. A transport that
    /// recycles its receive buffers hands them out here and keeps a
    /// handle, so it can see when the application has dropped a message
    /// (and every `Bytes` value decoded from it) and fill the buffer
    /// again. The default wraps `poll_next`'s vector without a copy.
    #[cfg(feature = "bytes")]
    fn poll_next_shared(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<bytes::Bytes, CallError>>> {
        self.poll_next(cx)
            .map(|item| item.map(|bytes| bytes.map(bytes::Bytes::from)))
    }
}

/// The backends a transport hands to a streaming handler
/// ([`Service::call_streaming`](super::Service::call_streaming)).
#[derive(Default)]
pub struct Streams {
    /// The request stream (the method has a [`Source`] parameter).
    pub source: Option<Box<dyn SourceBackend>>,
    /// The reply stream (the method has a [`Sink`] parameter).
    pub sink: Option<Box<dyn SinkBackend>>,
}

impl fmt::Debug for Streams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streams")
            .field("source", &self.source.is_some())
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

/// Encodes a stream item, its largest byte string left in place.
fn encode_item<T: Encode + Send + 'static>(item: T) -> Result<Message, CallError> {
    Message::encode(item)
        .map_err(|_| CallError::Internal(super::ErrorText::new("a stream item did not encode")))
}

/// Sends a stream of `T`s: a handler's reply stream (a `out: Sink<T>`
/// parameter of a `#[zerowire::service]` method).
///
/// [`send`](Self::send) waits while the receiver is behind (its credit is
/// used up): a slow consumer slows the producer down instead of growing a
/// buffer. The stream ends when the `Sink` is dropped; the method's result
/// follows the last item. An item sent after the call ended (the caller
/// cancelled or the connection closed) fails with that reason.
pub struct Sink<T> {
    backend: Box<dyn SinkBackend>,
    _item: PhantomData<fn(T)>,
}

impl<T: Encode> Sink<T> {
    /// A sink over a transport's backend.
    pub fn new(backend: Box<dyn SinkBackend>) -> Self {
        Self {
            backend,
            _item: PhantomData,
        }
    }

    /// Encodes `item` and queues it on the stream; waits while the receiver
    /// has no room for it. The item's largest byte string (a `Bytes` or
    /// `Vec<u8>` frame, say) is not copied: the message keeps the item
    /// until that string is written to the connection.
    pub async fn send(&mut self, item: T) -> Result<(), CallError>
    where
        T: Send + 'static,
    {
        let message = encode_item(item)?;
        self.backend.send(message).await
    }
}

impl<T> fmt::Debug for Sink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sink").finish_non_exhaustive()
    }
}

/// Receives a stream of `T`s: a handler's request stream (a `input:
/// Source<T>` parameter of a `#[zerowire::service]` method).
///
/// Also a [`Stream`] of `Result<T, CallError>`. Items come in the order they
/// were sent; `None` marks the end of the stream. An item that does not
/// decode yields `Err(BadRequest)` and the stream goes on; a stream the
/// caller aborted yields its error, then `None`.
pub struct Source<T> {
    backend: Box<dyn SourceBackend>,
    /// Items of a reply stream: a decode failure is `BadResponse`.
    reply: bool,
    _item: PhantomData<fn() -> T>,
}

impl<T> Source<T>
where
    T: for<'de> FromView<'de>,
{
    /// A source over a transport's backend.
    pub fn new(backend: Box<dyn SourceBackend>) -> Self {
        Self {
            backend,
            reply: false,
            _item: PhantomData,
        }
    }

    /// The next item; `None` at the end of the stream.
    pub async fn next(&mut self) -> Option<Result<T, CallError>> {
        poll_fn(|cx| self.poll_item(cx)).await
    }

    /// Polls for the next item (the [`Stream`] method, without pinning).
    pub fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, CallError>>> {
        let reply = self.reply;
        #[cfg(feature = "bytes")]
        let next = self.backend.poll_next_shared(cx);
        #[cfg(not(feature = "bytes"))]
        let next = self.backend.poll_next(cx);
        next.map(|item| {
            item.map(|bytes| {
                bytes.and_then(|b| {
                    // `Bytes` fields share the item's buffer.
                    #[cfg(feature = "bytes")]
                    let decoded = crate::wire::decode_shared::<T>(&b);
                    #[cfg(not(feature = "bytes"))]
                    let decoded = crate::wire::decode_owned::<T>(b);
                    decoded.map_err(|e| {
                        if reply {
                            CallError::BadResponse(e)
                        } else {
                            let text = alloc::string::ToString::to_string(&e);
                            CallError::BadRequest(super::ErrorText::new(&text))
                        }
                    })
                })
            })
        })
    }
}

impl<T> Stream for Source<T>
where
    T: for<'de> FromView<'de>,
{
    type Item = Result<T, CallError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}

impl<T> fmt::Debug for Source<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source").finish_non_exhaustive()
    }
}

/// A streaming call as a transport starts it
/// ([`Caller::call_streaming`](super::Caller::call_streaming)).
pub struct StreamCall {
    /// The reply stream's items (none for a method without one). It ends
    /// when the final result has arrived.
    pub items: Box<dyn SourceBackend>,
    /// The encoded final result. Dropping it before it resolves cancels
    /// the call at the callee.
    pub result: BoxFuture<'static, Result<Vec<u8>, CallError>>,
}

impl StreamCall {
    /// A call that failed before it started.
    pub fn failed(error: CallError) -> Self {
        struct Empty;
        impl SourceBackend for Empty {
            fn poll_next(
                &mut self,
                _: &mut Context<'_>,
            ) -> Poll<Option<Result<Vec<u8>, CallError>>> {
                Poll::Ready(None)
            }
        }
        Self {
            items: Box::new(Empty),
            result: Box::pin(core::future::ready(Err(error))),
        }
    }
}

impl fmt::Debug for StreamCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamCall").finish_non_exhaustive()
    }
}

/// Decodes a method's encoded final result into its value or typed error
/// (generated per method by `#[zerowire::service]`).
pub type DecodeResult<V, E> = fn(Vec<u8>) -> Result<V, CallError<E>>;

/// A client's end of a call with a reply stream: the items, then the
/// method's result (`V`, or the handler's typed error `E`).
///
/// Iterate with [`next`](Self::next) (or as a [`Stream`]); a failure of
/// the call — the handler's `Err(e)` as `CallError::Remote(e)`, a
/// cancellation, a lost connection — comes as the last item, after every
/// item sent before it. [`result`](Self::result) gives the final value.
/// Dropping a `Streaming` before its end cancels the call at the callee.
pub struct Streaming<T, V, E = Infallible> {
    items: Source<T>,
    result: Option<BoxFuture<'static, Result<Vec<u8>, CallError>>>,
    decode: DecodeResult<V, E>,
    outcome: Option<Result<V, CallError<E>>>,
    /// Whether the end (or the failure) has been yielded.
    ended: bool,
}

impl<T, V, E> Streaming<T, V, E>
where
    T: for<'de> FromView<'de>,
{
    /// Wraps a transport's call; `decode` turns the final result into
    /// `V` or the typed error.
    pub fn new(call: StreamCall, decode: DecodeResult<V, E>) -> Self {
        Self {
            items: Source {
                backend: call.items,
                reply: true,
                _item: PhantomData,
            },
            result: Some(call.result),
            decode,
            outcome: None,
            ended: false,
        }
    }

    /// The next item; `None` after the last one. A failed call yields its
    /// error as the last item.
    pub async fn next(&mut self) -> Option<Result<T, CallError<E>>> {
        poll_fn(|cx| self.poll_item(cx)).await
    }

    /// Polls for the next item (the [`Stream`] method, without pinning).
    pub fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, CallError<E>>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if self.outcome.is_none() {
            match self.items.poll_item(cx) {
                Poll::Ready(Some(item)) => {
                    return Poll::Ready(Some(item.map_err(CallError::widen)))
                }
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {}
            }
            let Some(result) = self.result.as_mut() else {
                self.ended = true;
                return Poll::Ready(None);
            };
            let bytes = match result.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            self.result = None;
            self.outcome = Some(bytes.map_err(CallError::widen).and_then(self.decode));
        }
        if matches!(self.outcome, Some(Err(_))) {
            self.ended = true;
            if let Some(Err(e)) = self.outcome.take() {
                return Poll::Ready(Some(Err(e)));
            }
        }
        self.ended = true;
        Poll::Ready(None)
    }

    /// Waits for the method's result, dropping the items not read yet.
    /// After the iteration has yielded a failure, this returns
    /// `Err(Cancelled)`.
    pub async fn result(mut self) -> Result<V, CallError<E>> {
        while !self.ended {
            if let Some(Err(e)) = self.next().await {
                return Err(e);
            }
        }
        self.outcome.take().unwrap_or(Err(CallError::Cancelled))
    }
}

impl<T, V, E> Stream for Streaming<T, V, E>
where
    T: for<'de> FromView<'de>,
    V: Unpin,
    E: Unpin,
{
    type Item = Result<T, CallError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}

impl<T, V, E> fmt::Debug for Streaming<T, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streaming")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// Encodes the items of a client's request stream for
/// [`Caller::call_streaming`](super::Caller::call_streaming).
pub fn encode_stream<S>(items: S) -> ByteStream
where
    S: Stream + Send + 'static,
    S::Item: Encode + Send + 'static,
{
    struct Encoded<S>(Pin<Box<S>>);
    impl<S> Stream for Encoded<S>
    where
        S: Stream + Send,
        S::Item: Encode + Send + 'static,
    {
        type Item = Message;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
            loop {
                match self.0.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => {
                        // An item that does not encode (a broken `Encode`
                        // impl) is skipped rather than sent malformed. Its
                        // largest byte string stays in the item.
                        if let Ok(message) = encode_item(item) {
                            return Poll::Ready(Some(message));
                        }
                    }
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => return Poll::Pending,
                }
            }
        }
    }
    Box::pin(Encoded(Box::pin(items)))
}
