//! Handlers of peer calls and notifications, each in a task of its own,
//! with panics turned into `Panicked` answers.

use std::any::Any;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::Poll;

use tokio::sync::oneshot;
use zerowire::proto::{ErrorCode, IncomingCall};
use zerowire::rpc::{Refusal, Service, Streams};

use crate::peer::Context;
use crate::runtime::Runtime;

/// What a handler produced.
pub(super) enum Answer<R> {
    Reply(R),
    Error(ErrorCode, String),
}

impl<R> Answer<R> {
    pub(super) fn from_result(result: Result<R, Refusal>) -> Self {
        match result {
            Ok(r) => Self::Reply(r),
            Err(Refusal::BadRequest(e)) => Self::Error(ErrorCode::BadRequest, e.to_string()),
            Err(Refusal::UnknownMethod | Refusal::NeedsStreams) => {
                Self::Error(ErrorCode::UnknownMethod, String::new())
            }
            Err(_) => Self::Error(ErrorCode::Internal, "the handler did not run".into()),
        }
    }
}

/// A handler's answer to a peer call, on its way to the driver.
pub(super) struct Done<R> {
    pub(super) call: IncomingCall,
    pub(super) answer: Answer<R>,
}

/// A handler's encoded arguments: up to [`Args::INLINE`] bytes inline (no
/// allocation for a small call), else in a buffer of their own.
pub(super) enum Args {
    Inline {
        len: u8,
        buf: [u8; Args::INLINE],
    },
    Heap(Vec<u8>),
    /// Reassembled from chunks.
    Shared(bytes::Bytes),
}

impl Args {
    const INLINE: usize = 64;

    /// A copy of `body`.
    pub(super) fn copy(body: &[u8]) -> Self {
        let mut buf = [0; Self::INLINE];
        match (buf.get_mut(..body.len()), u8::try_from(body.len())) {
            (Some(dst), Ok(len)) => {
                dst.copy_from_slice(body);
                Self::Inline { len, buf }
            }
            _ => Self::Heap(body.to_vec()),
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Self::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or_default(),
            Self::Heap(v) => v,
            Self::Shared(b) => b,
        }
    }
}

/// The allocation of the last async handler that finished on its first
/// poll, kept to run the next one in: every handler future of a
/// connection has the same type (`run_call::<S>`'s), so most calls to an
/// async handler that does not wait allocate nothing for it. Holds an
/// `Option<Pin<Box<F>>>` for that type `F`.
pub(super) type Spare = Option<Box<dyn Any + Send>>;

/// `fut` pinned in the spare allocation if there is one, else in a new one.
fn reuse<F: Future + Send + 'static>(spare: &mut Spare, fut: F) -> Pin<Box<F>> {
    let kept = spare
        .as_mut()
        .and_then(|s| s.downcast_mut::<Option<Pin<Box<F>>>>())
        .and_then(Option::take);
    match kept {
        Some(mut b) => {
            // Drops the finished handler in place, then moves `fut` in.
            b.as_mut().set(fut);
            b
        }
        None => Box::pin(fut),
    }
}

/// Keeps `b` (a finished handler) for the next call.
fn keep<F: Future + Send + 'static>(spare: &mut Spare, b: Pin<Box<F>>) {
    match spare
        .as_mut()
        .and_then(|s| s.downcast_mut::<Option<Pin<Box<F>>>>())
    {
        Some(slot) => *slot = Some(b),
        None => *spare = Some(Box::new(Some(b))),
    }
}

/// Reassembled arguments from this size on are decoded through
/// [`Runtime::blocking`]. Measured on the bench machine: decoding a
/// `Vec<u8>` argument costs about 0.8 ms per MiB (a fresh allocation and
/// its page faults, one copy), and handing the thread over
/// (`block_in_place`) about 0.15 ms per call. From 2 MiB the decode would
/// hold the thread ten times as long as the handover costs; below it the
/// handover cost more than it saved (1 MiB calls, 8 in flight: 2.1-2.4
/// GB/s with it, 3.3-3.4 without).
const HEAVY_ARGS: usize = 2 << 20;

/// Starts an async handler: polls it once in place and returns its answer
/// if it finished; otherwise moves it to a task of its own, which sends the
/// answer to the driver when it is done.
pub(super) fn serve_call<R: Runtime, S: Service<Context>>(
    p: &mut super::Parts<'_, R, S>,
    cx: &Arc<Context>,
    call: IncomingCall,
    method: u16,
    body: super::Body<'_>,
    streams: Option<Streams>,
) -> Result<Answer<S::Reply>, R::Task> {
    // Arguments reassembled from chunks are decoded in the handler's own
    // task, not on the connection's (the small calls on the connection
    // keep moving), and their `Bytes` values share the buffer.
    let shared = body.is_owned();
    // Decoding arguments this large (a `Vec<u8>` is one copy of them, page
    // faults included: about 40 ms for 64 MiB) must not hold up the tasks
    // queued behind the handler on its thread.
    let heavy = shared && body.as_slice().len() >= HEAVY_ARGS;
    let fut = run_call(
        p.service.clone(),
        cx.clone(),
        method,
        body.into_args(),
        streams,
    );
    // A handler of reassembled arguments always moves to a task of its
    // own: it leaves the spare allocation for the next small call.
    let mut handler = if shared {
        Box::pin(fut)
    } else {
        reuse(p.spare, fut)
    };
    // A waker that does nothing is enough for the first poll: if the
    // handler waits, the task it moves to polls it again with its own.
    let mut first = std::task::Context::from_waker(std::task::Waker::noop());
    match (!shared).then(|| handler.as_mut().poll(&mut first)) {
        Some(Poll::Ready(answer)) => {
            keep(p.spare, handler);
            Ok(answer)
        }
        _ => {
            let done = p.done_tx.clone();
            Err(p.rt.spawn(async move {
                let mut handler = handler;
                let answer = if heavy {
                    // The first poll decodes the arguments.
                    let first =
                        poll_fn(|cx| Poll::Ready(R::blocking(|| handler.as_mut().poll(cx)))).await;
                    match first {
                        Poll::Ready(answer) => answer,
                        Poll::Pending => handler.await,
                    }
                } else {
                    handler.await
                };
                let _ = done.send(Done { call, answer });
            }))
        }
    }
}

/// Runs method `method` in place if its handler is a plain `fn`; `None`
/// for an async handler (spawn it). A panic becomes a `Panicked` answer.
pub(super) fn run_sync<S: Service<Context>>(
    service: &S,
    cx: &Context,
    method: u16,
    body: &[u8],
) -> Option<Answer<S::Reply>> {
    match catch_unwind(AssertUnwindSafe(|| service.call_sync(cx, method, body))) {
        Ok(Err(Refusal::NeedsExecutor)) => None,
        Ok(result) => Some(Answer::from_result(result)),
        Err(payload) => Some(Answer::Error(ErrorCode::Panicked, panic_message(&*payload))),
    }
}

async fn run_call<S: Service<Context>>(
    service: Arc<S>,
    cx: Arc<Context>,
    method: u16,
    body: Args,
    streams: Option<Streams>,
) -> Answer<S::Reply> {
    let result = match (streams, body) {
        (Some(streams), body) => {
            let body = body.as_slice();
            guarded(|| service.call_streaming(&cx, method, body, streams), None).await
        }
        // Reassembled arguments: `Bytes` values share the buffer.
        (None, Args::Shared(body)) => {
            guarded(|| service.call_shared(&cx, method, &body), None).await
        }
        (None, body) => {
            let body = body.as_slice();
            guarded(|| service.call(&cx, method, body), None).await
        }
    };
    match result {
        Ok(result) => Answer::from_result(result),
        Err(message) => Answer::Error(ErrorCode::Panicked, message),
    }
}

/// Runs a notification's handler once the previous one has started, so
/// handlers start in the order the notifications were sent.
pub(super) async fn handle_note<S: Service<Context>>(
    service: Arc<S>,
    cx: Arc<Context>,
    method: u16,
    body: Vec<u8>,
    prev: Option<oneshot::Receiver<()>>,
    started: oneshot::Sender<()>,
) {
    if let Some(prev) = prev {
        let _ = prev.await;
    }
    let _ = guarded(|| service.call(&cx, method, &body), Some(started)).await;
}

/// Runs the future `make` returns, turning a panic into its message.
/// `started` is told after the first poll.
async fn guarded<F: Future>(
    make: impl FnOnce() -> F,
    mut started: Option<oneshot::Sender<()>>,
) -> Result<F::Output, String> {
    let fut = catch_unwind(AssertUnwindSafe(make)).map_err(|p| panic_message(&*p))?;
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        let polled = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx)));
        if let Some(started) = started.take() {
            let _ = started.send(());
        }
        match polled {
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(p) => Poll::Ready(Err(panic_message(&*p))),
        }
    })
    .await
}

/// The text of a panic (`panic!("...")` payloads are `&str` or `String`).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "the handler panicked".to_owned()
    }
}
