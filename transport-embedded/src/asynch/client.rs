//! [`Client`]: calling the peer from async code, through the shared
//! [`AsyncEndpoint`](super::AsyncEndpoint).

use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use zerowire::proto::MethodDesc;
use zerowire::rpc::{CallError, ErrorText};
use zerowire::{Encode, FromView};

use super::{Core, Token};
use crate::stream::{Dyn, Stream, StreamTx};

/// Calls the peer of an [`AsyncEndpoint`](super::AsyncEndpoint) from async
/// code: `Copy`, one word pair, as many as wanted, on the endpoint's
/// executor thread (it is `!Send`).
///
/// ```ignore
/// let hub = endpoint.client();
/// hub.connected().await;
/// let check = desc(HubService::<()>::methods(), "check");
/// match flatten(hub.call::<_, Result<i32, HubError>>(check, &(5i32,)).await) {
///     Ok(v) => {}
///     Err(CallError::Remote(HubError::Negative)) => {} // the handler's typed error
///     Err(e) => {}                                      // transport, protocol
/// }
/// ```
///
/// The calls go out as they are made (the driver is woken) and
/// pipeline: up to `CALLS` at once (and the peer's `max_calls`); a call
/// beyond that, or while the send buffer is above its high-water mark,
/// waits for room instead of failing with `Overloaded` as
/// [`Endpoint::call`](crate::Endpoint::call) does.
#[derive(Clone, Copy)]
pub struct Client<'a> {
    core: &'a dyn Core,
}

impl fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (open, in_session) = self.core.state();
        f.debug_struct("Client")
            .field("open", &open)
            .field("in_session", &in_session)
            .finish()
    }
}

impl<'a> Client<'a> {
    pub(crate) fn new(core: &'a dyn Core) -> Self {
        Self { core }
    }

    /// Calls the peer's `method` with `args` and waits for the typed
    /// result `R`. Dropping the future before it completes cancels the call
    /// (CANCEL to the peer) and frees its slot, so a timeout of the
    /// executor (`embassy_time::with_timeout`) works as expected.
    ///
    /// `A` must be the method's argument tuple (`(a, b)`, `()` for none)
    /// and `R` its return type, `Result<T, E>` included (a handler's
    /// `Err(e)` is then `Ok(Err(e))`: [`flatten`](crate::flatten) makes it
    /// `Err(CallError::Remote(e))`); they are not checked against
    /// `method`'s schema here, the peer checks the schema fingerprint.
    ///
    /// # Errors
    /// `Disconnected` when no session is running (wait with
    /// [`connected`](Self::connected)) or it ends before the reply;
    /// `TooLarge` when the arguments exceed the peer's frame or the reply
    /// the endpoint's `REPLY`; the peer's failures (`UnknownMethod`,
    /// `SchemaMismatch`, ...); `DeadlineExceeded` past the endpoint's
    /// `Config::default_deadline`.
    pub async fn call<A, R>(self, method: &'static MethodDesc, args: &A) -> Result<R, CallError>
    where
        A: Encode + ?Sized,
        R: for<'de> FromView<'de>,
    {
        let (call, _) = self.start(method, &Dyn(args), None, false).await?;
        Reply::new(self.core, call).await
    }

    /// [`call`](Self::call) with a deadline: after `timeout` the call fails
    /// with `DeadlineExceeded` (fired by the driver's timer, as
    /// [`Endpoint::call`](crate::Endpoint::call)'s `timeout`) and the peer
    /// is told to cancel it.
    ///
    /// # Errors
    /// As [`call`](Self::call).
    pub async fn call_timeout<A, R>(
        self,
        method: &'static MethodDesc,
        args: &A,
        timeout: Duration,
    ) -> Result<R, CallError>
    where
        A: Encode + ?Sized,
        R: for<'de> FromView<'de>,
    {
        let (call, _) = self.start(method, &Dyn(args), Some(timeout), false).await?;
        Reply::new(self.core, call).await
    }

    /// Sends a one-way notification of the peer's `method` (no reply;
    /// notifications arrive in the order they were sent). Waits while the
    /// send buffer is above its high-water mark.
    ///
    /// # Errors
    /// `Disconnected` when no session is running, `TooLarge`.
    pub async fn notify<A>(self, method: &'static MethodDesc, args: &A) -> Result<(), CallError>
    where
        A: Encode + ?Sized,
    {
        loop {
            match self.core.notify(method, &Dyn(args)) {
                Err(CallError::Overloaded) => self.changed().await,
                other => return other,
            }
        }
    }

    /// Starts a call of the peer's streaming `method`, as
    /// [`Endpoint::open`](crate::Endpoint::open): the [`Stream`] to send
    /// its request stream on ([`stream_tx`](Self::stream_tx)) and to match
    /// the pieces of its reply stream in the driver's
    /// [`StreamHandler`](crate::StreamHandler) (the driver must be
    /// [`run_streams`](super::AsyncEndpoint::run_streams)), and the final
    /// result as a [`Reply`] future. Dropping the `Reply` cancels the call.
    ///
    /// # Errors
    /// As [`call`](Self::call); `TooLarge` also when the arguments do not
    /// fit the send buffer.
    pub async fn open<A, R>(
        self,
        method: &'static MethodDesc,
        args: &A,
    ) -> Result<(Stream, Reply<'a, R>), CallError>
    where
        A: Encode + ?Sized,
    {
        let (call, stream) = self.start(method, &Dyn(args), None, true).await?;
        let reply = Reply::new(self.core, call);
        let stream = stream.ok_or(CallError::Internal(ErrorText::new("open gave no stream")))?;
        Ok((stream, reply))
    }

    /// Starts a call, waiting for room while the endpoint is overloaded.
    async fn start(
        self,
        method: &'static MethodDesc,
        args: &dyn Encode,
        timeout: Option<Duration>,
        open: bool,
    ) -> Result<(Token, Option<Stream>), CallError> {
        loop {
            match self.core.start(method, args, timeout, open) {
                Err(CallError::Overloaded) => self.changed().await,
                other => return other,
            }
        }
    }

    /// Sends on the running session's streams with its [`StreamTx`]
    /// (request-stream items and ends of this side's calls, reply-stream
    /// items and results of served calls, credit), then wakes the driver to
    /// write it. `None` (and `f` not run) between sessions, or from inside
    /// a handler. When `StreamTx::capacity` is 0, await
    /// [`changed`](Self::changed) and try again.
    pub fn stream_tx<T>(self, f: impl FnOnce(&mut StreamTx<'_>) -> T) -> Option<T> {
        let mut f = Some(f);
        let mut out = None;
        self.core.stream_tx(&mut |tx| {
            if let Some(f) = f.take() {
                out = Some(f(tx));
            }
        });
        out
    }

    /// Completes after the driver's next progress (bytes read or written, a
    /// result stored, a session started or ended), or sooner: a condition
    /// to wait for is checked again after it, in a loop.
    pub fn changed(self) -> Changed<'a> {
        Changed {
            core: self.core,
            registered: false,
        }
    }

    /// Waits until a session is open (its handshake done), across session
    /// ends: returns at once if one is.
    pub async fn connected(self) {
        while !self.is_open() {
            self.changed().await;
        }
    }

    /// Whether a session's handshake has completed and it is not closing.
    pub fn is_open(self) -> bool {
        self.core.state().0
    }

    /// Whether a session is running (handshaking, open or closing).
    pub fn in_session(self) -> bool {
        self.core.state().1
    }

    /// Starts a graceful close of the running session (GOAWAY; calls in
    /// flight finish first); the driver returns `Graceful` once done.
    pub fn close(self) {
        self.core.close();
    }
}

/// The result of a call started by a [`Client`]: a future of `R`.
///
/// Dropping it before it completes cancels the call.
#[must_use = "dropping the reply cancels the call"]
pub struct Reply<'a, R> {
    core: &'a dyn Core,
    call: Option<Token>,
    _result: PhantomData<fn() -> R>,
}

impl<R> fmt::Debug for Reply<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("done", &self.call.is_none())
            .finish()
    }
}

impl<'a, R> Reply<'a, R> {
    fn new(core: &'a dyn Core, call: Token) -> Self {
        Self {
            core,
            call: Some(call),
            _result: PhantomData,
        }
    }
}

impl<R: for<'de> FromView<'de>> Future for Reply<'_, R> {
    type Output = Result<R, CallError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(call) = this.call else {
            return Poll::Ready(Err(CallError::Internal(ErrorText::new(
                "reply polled after it completed",
            ))));
        };
        let mut out = None;
        let poll = this.core.poll_result(call, cx, &mut |result| {
            out = Some(result.and_then(|body| R::decode(body).map_err(CallError::BadResponse)));
        });
        if poll.is_pending() {
            return Poll::Pending;
        }
        this.call = None;
        Poll::Ready(out.unwrap_or(Err(CallError::Internal(ErrorText::new("no result")))))
    }
}

impl<R> Drop for Reply<'_, R> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            self.core.cancel(call);
        }
    }
}

/// [`Client::changed`]: completes at the driver's next progress.
#[must_use = "futures do nothing unless awaited"]
pub struct Changed<'a> {
    core: &'a dyn Core,
    registered: bool,
}

impl fmt::Debug for Changed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Changed")
            .field("registered", &self.registered)
            .finish()
    }
}

impl Future for Changed<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.registered {
            return Poll::Ready(());
        }
        this.registered = true;
        this.core.wait(cx.waker());
        Poll::Pending
    }
}
