//! Serving no methods (`()`) and several services on one connection
//! (tuples).

use core::future::Future;

use super::{LocalService, Refusal, Service};
use crate::proto::MethodDesc;
use crate::wire::{Encode, EncodeError};

/// Implements `$trait` (with `$($send)*` added to the futures' bounds) for
/// `()` and for pairs of services: `Service` and `LocalService` differ only
/// in `Send`.
macro_rules! compose {
    ($trait:ident, [$($send:tt)*], [$($cx_bound:tt)*], [$($pair_extra:tt)*]) => {
        /// A pure client serves nothing: every call to it is `UnknownMethod`.
        impl<Cx: ?Sized> $trait<Cx> for () {
            type Reply = ();

            fn method_count(&self) -> usize {
                0
            }
            fn method(&self, _: usize) -> Option<&'static MethodDesc> {
                None
            }
            fn call<'a>(
                &'a self,
                _: &'a Cx,
                _: u16,
                _: &'a [u8],
            ) -> impl Future<Output = Result<(), Refusal>> $($send)* + 'a {
                core::future::ready(Err(Refusal::UnknownMethod))
            }
            fn call_sync(&self, _: &Cx, _: u16, _: &[u8]) -> Result<(), Refusal> {
                Err(Refusal::UnknownMethod)
            }
        }

        /// Two services on one connection: `A`'s methods first, then `B`'s.
        /// Nest pairs (`(A, (B, C))`) for more.
        impl<Cx, A, B> $trait<Cx> for (A, B)
        where
            Cx: ?Sized $($cx_bound)*,
            A: $trait<Cx>,
            B: $trait<Cx>,
        {
            type Reply = Either<A::Reply, B::Reply>;

            fn method_count(&self) -> usize {
                self.0.method_count().saturating_add(self.1.method_count())
            }
            fn method(&self, index: usize) -> Option<&'static MethodDesc> {
                match index.checked_sub(self.0.method_count()) {
                    None => self.0.method(index),
                    Some(i) => self.1.method(i),
                }
            }
            fn call<'a>(
                &'a self,
                cx: &'a Cx,
                method: u16,
                body: &'a [u8],
            ) -> impl Future<Output = Result<Self::Reply, Refusal>> $($send)* + 'a {
                let first = u16::try_from(self.0.method_count()).unwrap_or(u16::MAX);
                async move {
                    match method.checked_sub(first) {
                        None => self.0.call(cx, method, body).await.map(Either::First),
                        Some(m) => self.1.call(cx, m, body).await.map(Either::Second),
                    }
                }
            }
            fn call_sync(&self, cx: &Cx, method: u16, body: &[u8]) -> Result<Self::Reply, Refusal> {
                let first = u16::try_from(self.0.method_count()).unwrap_or(u16::MAX);
                match method.checked_sub(first) {
                    None => self.0.call_sync(cx, method, body).map(Either::First),
                    Some(m) => self.1.call_sync(cx, m, body).map(Either::Second),
                }
            }

            $($pair_extra)*
        }
    };
}

compose!(
    Service,
    [+ Send],
    [+ Sync],
    [
        #[cfg(feature = "bytes")]
        fn call_shared<'a>(
            &'a self,
            cx: &'a Cx,
            method: u16,
            body: &'a bytes::Bytes,
        ) -> impl Future<Output = Result<Self::Reply, Refusal>> + Send + 'a {
            let first = u16::try_from(self.0.method_count()).unwrap_or(u16::MAX);
            async move {
                match method.checked_sub(first) {
                    None => self.0.call_shared(cx, method, body).await.map(Either::First),
                    Some(m) => self.1.call_shared(cx, m, body).await.map(Either::Second),
                }
            }
        }

        #[cfg(feature = "alloc")]
        fn call_streaming<'a>(
            &'a self,
            cx: &'a Cx,
            method: u16,
            body: &'a [u8],
            streams: super::Streams,
        ) -> impl Future<Output = Result<Self::Reply, Refusal>> + Send + 'a {
            streaming_pair(self, cx, method, body, streams)
        }
    ]
);

/// Streaming methods of a pair of services: `A`'s first, then `B`'s.
#[cfg(feature = "alloc")]
pub(super) fn streaming_pair<'a, Cx, A, B>(
    pair: &'a (A, B),
    cx: &'a Cx,
    method: u16,
    body: &'a [u8],
    streams: super::Streams,
) -> impl Future<Output = Result<Either<A::Reply, B::Reply>, Refusal>> + Send + 'a
where
    Cx: ?Sized + Sync,
    A: Service<Cx>,
    B: Service<Cx>,
{
    let first = u16::try_from(pair.0.method_count()).unwrap_or(u16::MAX);
    async move {
        match method.checked_sub(first) {
            None => pair
                .0
                .call_streaming(cx, method, body, streams)
                .await
                .map(Either::First),
            Some(m) => pair
                .1
                .call_streaming(cx, m, body, streams)
                .await
                .map(Either::Second),
        }
    }
}
compose!(LocalService, [], [], []);

/// The reply of one of two services.
#[derive(Debug)]
pub enum Either<A, B> {
    /// From the first service.
    First(A),
    /// From the second service.
    Second(B),
}

impl<A: Encode, B: Encode> Encode for Either<A, B> {
    fn encoded_len(&self) -> usize {
        match self {
            Self::First(a) => a.encoded_len(),
            Self::Second(b) => b.encoded_len(),
        }
    }
    fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        match self {
            Self::First(a) => a.encode(buf),
            Self::Second(b) => b.encode(buf),
        }
    }
}
