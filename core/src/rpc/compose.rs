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
                let second = in_second(self.0.method_count(), method);
                async move {
                    match second {
                        None => self.0.call(cx, method, body).await.map(Either::First),
                        Some(m) => self.1.call(cx, m, body).await.map(Either::Second),
                    }
                }
            }
            fn call_sync(&self, cx: &Cx, method: u16, body: &[u8]) -> Result<Self::Reply, Refusal> {
                match in_second(self.0.method_count(), method) {
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
            let second = in_second(self.0.method_count(), method);
            async move {
                match second {
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
            let second = in_second(self.0.method_count(), method);
            async move {
                match second {
                    None => self.0.call_streaming(cx, method, body, streams).await.map(Either::First),
                    Some(m) => self.1.call_streaming(cx, m, body, streams).await.map(Either::Second),
                }
            }
        }
    ]
);

/// Where a pair's method `method` goes: `None` to the first service (same
/// index), `Some(i)` to the second (its index `i`), given the first's method
/// count.
fn in_second(first_count: usize, method: u16) -> Option<u16> {
    method.checked_sub(u16::try_from(first_count).unwrap_or(u16::MAX))
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
    fn verbatim_part(&self) -> Option<&[u8]> {
        match self {
            Self::First(a) => a.verbatim_part(),
            Self::Second(b) => b.verbatim_part(),
        }
    }
    fn encode_leaving_out(&self, rest: &mut [u8], run: &[u8]) -> Option<usize> {
        match self {
            Self::First(a) => a.encode_leaving_out(rest, run),
            Self::Second(b) => b.encode_leaving_out(rest, run),
        }
    }
}
