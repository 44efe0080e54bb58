//! Running a handler for a peer's call or notification, with no executor.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use zerowire::proto::ErrorCode;
use zerowire::rpc::{LocalService, Refusal};

/// What a handler produced.
#[derive(Debug)]
pub(crate) enum Answer<R> {
    Reply(R),
    Error(ErrorCode, &'static str),
}

/// Runs method `method` of `service` on `body`: a plain `fn` handler through
/// `call_sync`; an `async fn` handler is polled once and must finish then
/// (there is no executor to wake it later).
pub(crate) fn run_handler<Svc: LocalService<()>>(
    service: &Svc,
    method: u16,
    body: &[u8],
) -> Answer<Svc::Reply> {
    let result = match service.call_sync(&(), method, body) {
        Err(Refusal::NeedsExecutor) => {
            let mut cx = Context::from_waker(Waker::noop());
            match pin!(service.call(&(), method, body)).poll(&mut cx) {
                Poll::Ready(r) => r,
                Poll::Pending => {
                    return Answer::Error(
                        ErrorCode::Internal,
                        "async handler waited: no executor on this endpoint",
                    )
                }
            }
        }
        other => other,
    };
    match result {
        Ok(reply) => Answer::Reply(reply),
        Err(Refusal::BadRequest(_)) => {
            Answer::Error(ErrorCode::BadRequest, "arguments did not decode")
        }
        Err(Refusal::UnknownMethod) => Answer::Error(ErrorCode::UnknownMethod, ""),
        Err(Refusal::NeedsStreams) => Answer::Error(
            ErrorCode::UnknownMethod,
            "streaming method: not served here",
        ),
        Err(_) => Answer::Error(ErrorCode::Internal, "the handler did not run"),
    }
}
