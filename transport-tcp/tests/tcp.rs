//! The driver over real loopback TCP on every enabled runtime: each
//! scenario is written once, generic over [`Rt`], and `runtime_tests!`
//! instantiates it as `tokio_rt::name` (a multi-thread tokio runtime) and
//! `smol_rt::name` (`smol::block_on`, tasks on smol's global executor).
//! Services are hand-written (what `#[zerowire::service]` generates) and
//! called through `Caller`, except where the macro is the point.

// Test-only public items (a service trait must be nameable by its
// generated types); they need no docs.
#![allow(missing_docs)]

use std::future::{poll_fn, Future};
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskCx, Poll};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use zerowire::proto::{signature_fingerprint, CloseReason, Config, MethodDesc};
use zerowire::rpc::{
    decode_args, BlockingCaller, CallError, CallOptions, Caller, Refusal, Service,
};
use zerowire::Wire;
use zerowire_tcp::{Context, Peer};

// ---- the runtimes --------------------------------------------------------

/// What a test needs of a runtime: the crate's API on it, and tasks,
/// timers and a way to run the test.
trait Rt: Sized + Send + Sync + 'static {
    type Listener: Send + Sync + 'static;

    fn connect<S: Service<Context>>(
        addr: SocketAddr,
        service: S,
        config: Config,
    ) -> impl Future<Output = io::Result<Peer>>;
    fn bind(addr: &str, config: Config) -> impl Future<Output = io::Result<Self::Listener>>;
    fn local_addr(listener: &Self::Listener) -> SocketAddr;
    fn accept<S: Service<Context>>(
        listener: &Self::Listener,
        service: S,
    ) -> impl Future<Output = io::Result<Peer>>;
    fn serve<S, F>(listener: Self::Listener, make: F) -> impl Future<Output = ()> + Send + 'static
    where
        S: Service<Context>,
        F: FnMut() -> S + Send + 'static;

    /// A task on the runtime, aborted when its [`Task`] is dropped.
    fn spawn<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> Task<T>;
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send + 'static;
    /// Runs a test to its end (at most 8 s).
    fn run<F: Future<Output = ()>>(test: F);
}

/// A spawned task: awaiting it gives its output (`Err` if it panicked or
/// was aborted); dropping it aborts it.
struct Task<T> {
    out: oneshot::Receiver<T>,
    abort: Box<dyn Fn() + Send + Sync>,
}

#[derive(Debug)]
struct TaskFailed;

impl<T> Task<T> {
    fn abort(&self) {
        (self.abort)();
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        (self.abort)();
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, TaskFailed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.out).poll(cx).map_err(|_| TaskFailed)
    }
}

/// Tasks joined in the order they finish (a runtime-neutral `JoinSet`).
struct Tasks<R, T> {
    tasks: Vec<Task<T>>,
    rt: PhantomData<R>,
}

impl<R: Rt, T: Send + 'static> Tasks<R, T> {
    fn new() -> Self {
        Self {
            tasks: Vec::new(),
            rt: PhantomData,
        }
    }

    fn spawn(&mut self, f: impl Future<Output = T> + Send + 'static) {
        self.tasks.push(R::spawn(f));
    }

    async fn join_next(&mut self) -> Option<Result<T, TaskFailed>> {
        if self.tasks.is_empty() {
            return None;
        }
        poll_fn(|cx| {
            for i in 0..self.tasks.len() {
                if let Poll::Ready(r) = Pin::new(&mut self.tasks[i]).poll(cx) {
                    self.tasks.swap_remove(i);
                    return Poll::Ready(Some(r));
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Aborts every task; `join_next` then tells when each is gone.
    fn abort_all(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

const TEST_LIMIT: Duration = Duration::from_secs(8);

#[cfg(feature = "tokio")]
struct TokioRt;

#[cfg(feature = "tokio")]
impl Rt for TokioRt {
    type Listener = zerowire_tcp::tokio::Listener;

    async fn connect<S: Service<Context>>(
        addr: SocketAddr,
        service: S,
        config: Config,
    ) -> io::Result<Peer> {
        zerowire_tcp::tokio::connect(addr, service, config).await
    }
    async fn bind(addr: &str, config: Config) -> io::Result<Self::Listener> {
        zerowire_tcp::tokio::Listener::bind(addr, config).await
    }
    fn local_addr(listener: &Self::Listener) -> SocketAddr {
        listener.local_addr().unwrap()
    }
    async fn accept<S: Service<Context>>(
        listener: &Self::Listener,
        service: S,
    ) -> io::Result<Peer> {
        listener.accept(service).await
    }
    fn serve<S, F>(listener: Self::Listener, make: F) -> impl Future<Output = ()> + Send + 'static
    where
        S: Service<Context>,
        F: FnMut() -> S + Send + 'static,
    {
        listener.serve(make)
    }

    fn spawn<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> Task<T> {
        let (tx, out) = oneshot::channel();
        let task = tokio::spawn(async move {
            let _ = tx.send(f.await);
        });
        let handle = task.abort_handle();
        Task {
            out,
            abort: Box::new(move || handle.abort()),
        }
    }
    fn sleep(d: Duration) -> impl Future<Output = ()> + Send + 'static {
        tokio::time::sleep(d)
    }
    fn run<F: Future<Output = ()>>(test: F) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(TEST_LIMIT, test)
                .await
                .expect("test timed out");
        });
    }
}

#[cfg(feature = "smol")]
struct SmolRt;

#[cfg(feature = "smol")]
impl Rt for SmolRt {
    type Listener = zerowire_tcp::smol::Listener;

    async fn connect<S: Service<Context>>(
        addr: SocketAddr,
        service: S,
        config: Config,
    ) -> io::Result<Peer> {
        zerowire_tcp::smol::connect(addr, service, config).await
    }
    async fn bind(addr: &str, config: Config) -> io::Result<Self::Listener> {
        zerowire_tcp::smol::Listener::bind(addr.to_owned(), config).await
    }
    fn local_addr(listener: &Self::Listener) -> SocketAddr {
        listener.local_addr().unwrap()
    }
    async fn accept<S: Service<Context>>(
        listener: &Self::Listener,
        service: S,
    ) -> io::Result<Peer> {
        listener.accept(service).await
    }
    fn serve<S, F>(listener: Self::Listener, make: F) -> impl Future<Output = ()> + Send + 'static
    where
        S: Service<Context>,
        F: FnMut() -> S + Send + 'static,
    {
        listener.serve(make)
    }

    fn spawn<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> Task<T> {
        let (tx, out) = oneshot::channel();
        let task = smol::spawn(async move {
            let _ = tx.send(f.await);
        });
        // Dropping a `smol::Task` cancels it.
        let task = std::sync::Mutex::new(Some(task));
        Task {
            out,
            abort: Box::new(move || drop(task.lock().unwrap().take())),
        }
    }
    async fn sleep(d: Duration) {
        smol::Timer::after(d).await;
    }
    fn run<F: Future<Output = ()>>(test: F) {
        use smol::future::FutureExt;
        smol::block_on(test.or(async {
            smol::Timer::after(TEST_LIMIT).await;
            panic!("test timed out");
        }));
    }
}

/// `#[test] fn tokio_rt::name()` and `smol_rt::name()` for every scenario
/// `async fn name<R: Rt>()`, per enabled runtime.
macro_rules! runtime_tests {
    ($($name:ident),* $(,)?) => {
        #[cfg(feature = "tokio")]
        mod tokio_rt {
            $(
                #[test]
                fn $name() {
                    <super::TokioRt as super::Rt>::run(super::$name::<super::TokioRt>());
                }
            )*
        }
        #[cfg(feature = "smol")]
        mod smol_rt {
            $(
                #[test]
                fn $name() {
                    <super::SmolRt as super::Rt>::run(super::$name::<super::SmolRt>());
                }
            )*
        }
    };
}

/// Lets other tasks run once (a runtime-neutral `yield_now`).
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

/// `f`'s output, or `None` (and `f` dropped) if `d` passes first.
async fn timeout<R: Rt, F: Future>(d: Duration, f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut timer = std::pin::pin!(R::sleep(d));
    poll_fn(|cx| {
        if let Poll::Ready(out) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// Runs `f` on a thread of its own and waits for it without blocking the
/// runtime.
async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.expect("thread panicked")
}

// ---- the services ----------------------------------------------------------

type Add3Args = (u32, u32, u32);

const fn method<A: Wire, R: Wire>(service: &'static str, name: &'static str) -> MethodDesc {
    MethodDesc::new(
        service,
        name,
        signature_fingerprint(A::FINGERPRINT, R::FINGERPRINT),
    )
}

// The server's service.
const ADD3: MethodDesc = method::<Add3Args, u32>("Calc", "add3");
const BOOM: MethodDesc = method::<(), u32>("Calc", "boom");
const HANG: MethodDesc = method::<(u32,), u32>("Calc", "hang");
const CALLBACK: MethodDesc = method::<(u32,), u32>("Calc", "callback");
const NEST: MethodDesc = method::<(u32,), u32>("Calc", "nest");
const SLOW_ADD: MethodDesc = method::<Add3Args, u32>("Calc", "slow_add");
const BOOM_SYNC: MethodDesc = method::<(), u32>("Calc", "boom_sync");
const SLEEP: MethodDesc = method::<(u32,), u32>("Calc", "sleep");
const WHOAMI: MethodDesc = method::<(), u32>("Calc", "whoami");
const LOG: MethodDesc = method::<(u32,), ()>("Calc", "log");
const BLOB: MethodDesc = method::<(Vec<u8>,), u32>("Calc", "blob");
static CALC: [MethodDesc; 11] = [
    ADD3, BOOM, HANG, CALLBACK, NEST, SLOW_ADD, BOOM_SYNC, SLEEP, WHOAMI, LOG, BLOB,
];

// The client's service (the server calls it back).
const DOUBLE: MethodDesc = method::<(u32,), u32>("Client", "double");
const NEST_BACK: MethodDesc = method::<(u32,), u32>("Client", "nest_back");
static CLIENT: [MethodDesc; 2] = [DOUBLE, NEST_BACK];

/// `add3` as another build defines it (u64s): same id, other fingerprint.
const ADD3_V2: MethodDesc = method::<(u64, u64, u64), u64>("Calc", "add3");
const MISSING: MethodDesc = method::<(), u32>("Calc", "missing");

const NO_OPTIONS: CallOptions = CallOptions { timeout: None };

/// Reports through `probe` when a handler is dropped.
struct DropGuard(String, mpsc::UnboundedSender<String>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        let _ = self.1.send(format!("dropped {}", self.0));
    }
}

/// The server: every reply is a `u32` (`()` for `log`, which only gets
/// notifications). Its handlers sleep on `R`'s timers.
struct Calc<R> {
    probe: mpsc::UnboundedSender<String>,
    rt: PhantomData<fn() -> R>,
}

impl<R: Rt> Calc<R> {
    fn new(probe: mpsc::UnboundedSender<String>) -> Self {
        Self {
            probe,
            rt: PhantomData,
        }
    }
}

impl<R: Rt> Service<Context> for Calc<R> {
    type Reply = u32;

    fn method_count(&self) -> usize {
        CALC.len()
    }

    fn method(&self, index: usize) -> Option<&'static MethodDesc> {
        CALC.get(index)
    }

    async fn call(&self, cx: &Context, method: u16, body: &[u8]) -> Result<u32, Refusal> {
        match method {
            // Plain `fn` handlers, as the macro generates their arms.
            0 | 6 | 10 => self.call_sync(cx, method, body),
            5 => {
                let (a, b, c) = decode_args::<Add3Args>(body)?;
                yield_now().await;
                Ok(a + b + c)
            }
            1 => panic!("boom"),
            2 => {
                let (tag,) = decode_args::<(u32,)>(body)?;
                let _guard = DropGuard(tag.to_string(), self.probe.clone());
                std::future::pending::<()>().await;
                Ok(0)
            }
            3 => {
                let (x,) = decode_args::<(u32,)>(body)?;
                let doubled: u32 = cx.peer().call(&DOUBLE, (x,), NO_OPTIONS).await.unwrap();
                Ok(doubled + 1)
            }
            4 => {
                let (x,) = decode_args::<(u32,)>(body)?;
                let back: u32 = cx.peer().call(&NEST_BACK, (x,), NO_OPTIONS).await.unwrap();
                Ok(back + 100)
            }
            7 => {
                let (ms,) = decode_args::<(u32,)>(body)?;
                R::sleep(Duration::from_millis(ms.into())).await;
                Ok(ms)
            }
            8 => {
                let who = format!("{}@{}", cx.peer_build(), cx.peer_addr());
                let _ = self.probe.send(who);
                Ok(0)
            }
            9 => {
                let (n,) = decode_args::<(u32,)>(body)?;
                let _ = self.probe.send(format!("note {n}"));
                yield_now().await;
                Ok(0)
            }
            _ => Err(Refusal::UnknownMethod),
        }
    }

    fn call_sync(&self, _: &Context, method: u16, body: &[u8]) -> Result<u32, Refusal> {
        match method {
            0 => {
                let (a, b, c) = decode_args::<Add3Args>(body)?;
                Ok(a + b + c)
            }
            6 => panic!("sync boom"),
            10 => {
                let (blob,) = decode_args::<(Vec<u8>,)>(body)?;
                Ok(blob.iter().map(|&b| u32::from(b)).sum())
            }
            _ => Err(Refusal::NeedsExecutor),
        }
    }
}

/// The client side's service.
struct ClientSvc;

impl Service<Context> for ClientSvc {
    type Reply = u32;

    fn method_count(&self) -> usize {
        CLIENT.len()
    }

    fn method(&self, index: usize) -> Option<&'static MethodDesc> {
        CLIENT.get(index)
    }

    async fn call(&self, cx: &Context, method: u16, body: &[u8]) -> Result<u32, Refusal> {
        match method {
            0 => self.call_sync(cx, method, body),
            1 => {
                let (x,) = decode_args::<(u32,)>(body)?;
                let sum: u32 = cx.peer().call(&ADD3, (x, 1, 1), NO_OPTIONS).await.unwrap();
                Ok(sum + 10)
            }
            _ => Err(Refusal::UnknownMethod),
        }
    }

    fn call_sync(&self, _: &Context, method: u16, body: &[u8]) -> Result<u32, Refusal> {
        match method {
            0 => {
                let (x,) = decode_args::<(u32,)>(body)?;
                Ok(2 * x)
            }
            1 => Err(Refusal::NeedsExecutor),
            _ => Err(Refusal::UnknownMethod),
        }
    }
}

fn config(build: &'static str) -> Config {
    Config {
        build,
        ..Config::default()
    }
}

struct Server<R> {
    addr: SocketAddr,
    probe: mpsc::UnboundedReceiver<String>,
    /// Serves until dropped or aborted.
    task: Task<()>,
    rt: PhantomData<R>,
}

impl<R: Rt> Server<R> {
    async fn start(addr: &str, config: Config) -> Self {
        let listener = R::bind(addr, config).await.unwrap();
        let addr = R::local_addr(&listener);
        let (tx, probe) = mpsc::unbounded_channel();
        let task = R::spawn(R::serve(listener, move || Calc::<R>::new(tx.clone())));
        Self {
            addr,
            probe,
            task,
            rt: PhantomData,
        }
    }

    /// Waits for a probe message (skipping others) that starts with `prefix`.
    async fn expect(&mut self, prefix: &str) -> String {
        loop {
            let msg = self.probe.recv().await.expect("probe open");
            if msg.starts_with(prefix) {
                return msg;
            }
        }
    }
}

async fn add3(peer: &Peer, a: u32, b: u32, c: u32) -> Result<u32, CallError> {
    peer.call(&ADD3, (a, b, c), NO_OPTIONS).await
}

// ---- the scenarios ---------------------------------------------------------

async fn call_and_reply<R: Rt>() {
    let mut server = Server::<R>::start("127.0.0.1:0", config("server-1")).await;
    let peer = R::connect(server.addr, (), config("client-1"))
        .await
        .unwrap();
    assert_eq!(peer.peer_build().as_deref(), Some("server-1"));
    assert_eq!(peer.peer_addr(), server.addr);
    assert_eq!(add3(&peer, 1, 2, 3).await, Ok(6));
    // The async handler path too.
    let r: Result<u32, _> = peer.call(&SLOW_ADD, (4u32, 5u32, 6u32), NO_OPTIONS).await;
    assert_eq!(r, Ok(15));
    // The handler sees who called.
    let _: u32 = peer.call(&WHOAMI, (), NO_OPTIONS).await.unwrap();
    let who = server.expect("client-1@").await;
    assert_eq!(who, format!("client-1@{}", peer.local_addr()));
    let stats = peer.stats();
    assert_eq!(stats.calls_sent, 3);
    assert!(stats.writes >= 1 && stats.bytes_read > 0, "{stats:?}");
}

async fn blocking_caller<R: Rt>() {
    let server = Server::<R>::start("127.0.0.1:0", config("server")).await;
    let peer = R::connect(server.addr, (), config("client")).await.unwrap();
    let p = peer.clone();
    let thread = std::thread::spawn(move || {
        let sum: Result<u32, CallError> = p.call_blocking(&ADD3, (1u32, 1u32, 1u32), NO_OPTIONS);
        let hang: Result<u32, CallError> = p.call_blocking(
            &HANG,
            (1u32,),
            CallOptions {
                timeout: Some(Duration::from_millis(50)),
            },
        );
        (sum, hang)
    });
    let (sum, hang) = off_thread(move || thread.join().unwrap()).await;
    assert_eq!(sum, Ok(3));
    assert_eq!(hang, Err(CallError::DeadlineExceeded));
}

async fn pipelined_calls_from_16_tasks<R: Rt>() {
    let server = Server::<R>::start("127.0.0.1:0", config("server")).await;
    let peer = R::connect(server.addr, (), config("client")).await.unwrap();
    let mut tasks = Tasks::<R, _>::new();
    for t in 0..16u32 {
        let peer = peer.clone();
        tasks.spawn(async move {
            let mut calls = Tasks::<R, _>::new();
            for i in 0..63u32 {
                let peer = peer.clone();
                let method = if i % 2 == 0 { &ADD3 } else { &SLOW_ADD };
                calls.spawn(async move {
                    let r: Result<u32, CallError> =
                        peer.call(method, (t, i, 1000u32), NO_OPTIONS).await;
                    (t + i + 1000, r)
                });
            }
            let mut n = 0;
            while let Some(res) = calls.join_next().await {
                let (want, got) = res.unwrap();
                assert_eq!(got, Ok(want));
                n += 1;
            }
            n
        });
    }
    let mut total = 0;
    while let Some(n) = tasks.join_next().await {
        total += n.unwrap();
    }
    assert_eq!(total, 16 * 63);
    assert_eq!(peer.stats().calls_sent, 16 * 63);
}

async fn both_ends_call_each_other<R: Rt>() {
    let listener = R::bind("127.0.0.1:0", config("server")).await.unwrap();
    let addr = R::local_addr(&listener);
    let (probe, _rx) = mpsc::unbounded_channel();
    let (server_peer, client) = tokio::join!(
        R::accept(&listener, Calc::<R>::new(probe)),
        R::connect(addr, ClientSvc, config("client"))
    );
    let (server_peer, client) = (server_peer.unwrap(), client.unwrap());
    server_peer.handshake().await.unwrap();
    assert_eq!(server_peer.peer_build().as_deref(), Some("client"));
    // Both directions at once, several times.
    for i in 0..20u32 {
        let (a, b) = tokio::join!(
            add3(&client, i, i, i),
            server_peer.call::<_, u32>(&DOUBLE, (i,), NO_OPTIONS)
        );
        assert_eq!((a, b), (Ok(3 * i), Ok(2 * i)));
    }
    // A handler calls its caller back over the same connection.
    let r: Result<u32, _> = client.call(&CALLBACK, (20u32,), NO_OPTIONS).await;
    assert_eq!(r, Ok(41));
    // The client serves only its own methods.
    let r: Result<u32, _> = server_peer
        .call(&ADD3, (1u32, 1u32, 1u32), NO_OPTIONS)
        .await;
    assert_eq!(r, Err(CallError::UnknownMethod { method: "add3" }));
}

async fn nested_calls_complete<R: Rt>() {
    let server = Server::<R>::start("127.0.0.1:0", config("server")).await;
    let client = R::connect(server.addr, ClientSvc, config("client"))
        .await
        .unwrap();
    // client → Calc.nest(5) → Client.nest_back(5) → Calc.add3(5, 1, 1).
    let r: Result<u32, _> = client.call(&NEST, (5u32,), NO_OPTIONS).await;
    assert_eq!(r, Ok(5 + 1 + 1 + 10 + 100));
    // Many at once: each level of nesting holds a call slot of the
    // server (`max_calls`, 32 here), so 15 outer calls plus their 15
    // inner `add3` calls fit; 32 outer calls would leave the inner calls
    // waiting forever (see the crate docs).
    let mut set = Tasks::<R, _>::new();
    for i in 0..15u32 {
        let c = client.clone();
        set.spawn(async move { (i, c.call::<_, u32>(&NEST, (i,), NO_OPTIONS).await) });
    }
    while let Some(r) = set.join_next().await {
        let (i, r) = r.unwrap();
        assert_eq!(r, Ok(i + 112));
    }
}

async fn handler_panic_is_reported_and_server_keeps_serving<R: Rt>() {
    let server = Server::<R>::start("127.0.0.1:0", config("server")).await;
    let peer = R::connect(server.addr, (), config("client")).await.unwrap();
    let r: Result<u32, _> = peer.call(&BOOM, (), NO_OPTIONS).await;
    match r {
        Err(CallError::Panicked(msg)) => assert_eq!(msg.as_str(), "boom"),
        other => panic!("{other:?}"),
    }
    assert_eq!(add3(&peer, 1, 2, 3).await, Ok(6));
    // A plain `fn` handler that panics.
    let r: Result<u32, _> = peer.call(&BOOM_SYNC, (), NO_OPTIONS).await;
    match r {
        Err(CallError::Panicked(msg)) => assert_eq!(msg.as_str(), "sync boom"),
        other => panic!("{other:?}"),
    }
    assert_eq!(add3(&peer, 2, 3, 4).await, Ok(9));
    // Other connections were never affected.
    let other = R::connect(server.addr, (), config("client")).await.unwrap();
    assert_eq!(add3(&other, 1, 1, 1).await, Ok(3));
}

async fn timeout_fails_the_call_and_drops_the_handler<R: Rt>() {
    let mut server = Server::<R>::start("127.0.0.1:0", config("server")).await;
    let peer = R::connect(server.addr, (), config("client")).await.unwrap();
    let start = Instant::now();
    let options = CallOptions {
        timeout: Some(Duration::from_millis(200)),
    };
    let r: Result<u32, _> = peer.call(&HANG, (7u32,), options).await;
    let took = start.elapsed();
    assert_eq!(r, Err(CallError::DeadlineExceeded));
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(1),
        "{took:?}"
    );
    assert_eq!(server.expect("dropped").await, "dropped 7");
    // The connection stays usable.
    assert_eq!(add3(&peer, 1, 2, 3).await, Ok(6));
}

async fn dropping_the_call_future_cancels_the_handler<R: Rt>() {
    let mut server = Server::<R>::start("127.0.0.1:0", config("server")).await;
    let peer = R::connect(server.addr, (), config("client")).await.unwrap();
    let call = peer.call::<_, u32>(&HANG, (8u32,), NO_OPTIONS);
    assert!(timeout::<R, _>(Duration::from_millis(100), call)
        .await
        .is_none());
    assert_eq!(server.expect("dropped").await, "dropped 8");
    assert_eq!(add3(&peer, 1, 2, 3).await, Ok(6));
}

async fn killed_server_fails_pending_calls_at_once<R: Rt>() {
    let server = Server::<R>::start("127.0.0.1:0", config("server")).await;
    let peer = R::connect(server.addr, (), config("client")).await.unwrap();
    let mut pending = Tasks::<R, _>::new();
    for i in 0..3u32 {
        let p = peer.clone();
        pending.spawn(async move { p.call::<_, u32>(&HANG, (i,), NO_OPTIONS).await });
    }
    while peer.stats().calls_sent < 3 {
        R::sleep(Duration::from_millis(5)).await;
    }
    R::sleep(Duration::from_millis(20)).await;
    let killed = Instant::now();
    server.task.abort();
    while let Some(r) = pending.join_next().await {
        assert_eq!(
            r.unwrap(),
            Err(CallError::Disconnected(CloseReason::TransportClosed))
        );
    }
    assert!(
        killed.elapsed() < Duration::from_secs(1),
        "{:?}",
        killed.elapsed()
    );
    assert_eq!(peer.closed().await, CloseReason::TransportClosed);
    assert_eq!(
        add3(&peer, 1, 1, 1).await,
        Err(CallError::Disconnected(CloseReason::TransportClosed))
    );
}

async fn graceful_close<R: Rt>() {
    let listener = R::bind("127.0.0.1:0", config("server")).await.unwrap();
    let addr = R::local_addr(&listener);
    let (probe, _rx) = mpsc::unbounded_channel();
    let (server_peer, client) = tokio::join!(
        R::accept(&listener, Calc::<R>::new(probe)),
        R::connect(addr, (), config("client"))
    );
    let (server_peer, client) = (server_peer.unwrap(), client.unwrap());
    // A call in flight finishes before the close completes.
    let slow = {
        let c = client.clone();
        R::spawn(async move { c.call::<_, u32>(&SLEEP, (100u32,), NO_OPTIONS).await })
    };
    while server_peer.stats().calls_served < 1 {
        R::sleep(Duration::from_millis(5)).await;
    }
    server_peer.close();
    assert_eq!(slow.await.unwrap(), Ok(100));
    assert_eq!(client.closed().await, CloseReason::Graceful);
    assert_eq!(server_peer.closed().await, CloseReason::Graceful);
    assert!(matches!(
        add3(&client, 1, 1, 1).await,
        Err(CallError::Disconnected(_))
    ));
    // Dropping the last handle of a connection closes it too.
    let (server_peer, client) = tokio::join!(
        R::accept(&listener, ()),
        R::connect(addr, (), config("client"))
    );
    let (server_peer, client) = (server_peer.unwrap(), client.unwrap());
    drop(client);
    assert_eq!(server_peer.closed().await, CloseReason::Graceful);
}

async fn reconnect_after_server_restart<R: Rt>() {
    let server = Server::<R>::start("127.0.0.1:0", config("v1")).await;
    let addr = server.addr;
    let peer = R::connect(addr, (), config("client")).await.unwrap();
    assert_eq!(add3(&peer, 1, 2, 3).await, Ok(6));
    assert_eq!(peer.peer_build().as_deref(), Some("v1"));

    server.task.abort();
    assert_eq!(peer.closed().await, CloseReason::TransportClosed);
    assert!(matches!(
        add3(&peer, 1, 2, 3).await,
        Err(CallError::Disconnected(_))
    ));

    // Same port, new build: a new connection repeats the handshake.
    let _server = Server::<R>::start(&addr.to_string(), config("v2")).await;
    let again = R::connect(addr, (), config("client")).await.unwrap();
    assert_eq!(again.peer_build().as_deref(), Some("v2"));
    assert_eq!(add3(&again, 1, 2, 3).await, Ok(6));
    // The old handle stays dead: no silent reconnect.
    assert!(peer.is_closed());
    assert!(matches!(
        add3(&peer, 1, 2, 3).await,
        Err(CallError::Disconnected(_))
    ));
}

async fn schema_mismatch_is_per_method<R: Rt>() {
    let server = Server::<R>::start("127.0.0.1:0", config("server")).await;
    let peer = R::connect(server.addr, (), config("client")).await.unwrap();
    let r: Result<u64, _> = peer.call(&ADD3_V2, (1u64, 2u64, 3u64), NO_OPTIONS).await;
    assert_eq!(r, Err(CallError::SchemaMismatch { method: "add3" }));
    let r: Result<u32, _> = peer.call(&MISSING, (), NO_OPTIONS).await;
    assert_eq!(r, Err(CallError::UnknownMethod { method: "missing" }));
    let r: Result<u32, _> = peer.call(&SLOW_ADD, (1u32, 2u32, 3u32), NO_OPTIONS).await;
    assert_eq!(r, Ok(6));
    let r: Result<u64, _> = peer.call(&ADD3_V2, (1u64, 2u64, 3u64), NO_OPTIONS).await;
    assert_eq!(r, Err(CallError::SchemaMismatch { method: "add3" }));
}

async fn notifications_start_in_order<R: Rt>() {
    let mut server = Server::<R>::start("127.0.0.1:0", config("server")).await;
    let peer = R::connect(server.addr, (), config("client")).await.unwrap();
    for n in 0..200u32 {
        peer.notify(&LOG, (n,)).await.unwrap();
    }
    for n in 0..200u32 {
        assert_eq!(server.expect("note").await, format!("note {n}"));
    }
}

async fn calls_beyond_max_calls_wait_their_turn<R: Rt>() {
    let server = Server::<R>::start(
        "127.0.0.1:0",
        Config {
            max_calls: 2,
            ..config("server")
        },
    )
    .await;
    let peer = R::connect(server.addr, (), config("client")).await.unwrap();
    let start = Instant::now();
    let mut set = Tasks::<R, _>::new();
    for _ in 0..10 {
        let p = peer.clone();
        set.spawn(async move { p.call::<_, u32>(&SLEEP, (50u32,), NO_OPTIONS).await });
    }
    while let Some(r) = set.join_next().await {
        assert_eq!(r.unwrap(), Ok(50));
    }
    // Two at a time: five rounds of 50 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(240),
        "{:?}",
        start.elapsed()
    );
}

/// Runs `per_task` calls of `method` from each of `tasks` tasks; returns
/// writes per call of the client and of the server.
async fn load<R: Rt>(method: &'static MethodDesc, tasks: u32, per_task: u32) -> (f64, f64) {
    let listener = R::bind("127.0.0.1:0", config("server")).await.unwrap();
    let addr = R::local_addr(&listener);
    let (probe, _rx) = mpsc::unbounded_channel();
    let (server_peer, client) = tokio::join!(
        R::accept(&listener, Calc::<R>::new(probe)),
        R::connect(addr, (), config("client"))
    );
    let (server_peer, client) = (server_peer.unwrap(), client.unwrap());
    let done = Arc::new(AtomicUsize::new(0));
    let (client_before, server_before) = (client.stats(), server_peer.stats());
    let mut set = Tasks::<R, _>::new();
    for t in 0..tasks {
        let (c, done) = (client.clone(), done.clone());
        set.spawn(async move {
            for i in 0..per_task {
                let r: Result<u32, CallError> = c.call(method, (t, i, 1u32), NO_OPTIONS).await;
                assert_eq!(r, Ok(t + i + 1));
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let calls = done.load(Ordering::Relaxed) as f64;
    let (c, s) = (client.stats(), server_peer.stats());
    (
        (c.writes - client_before.writes) as f64 / calls,
        (s.writes - server_before.writes) as f64 / calls,
    )
}

async fn writes_are_batched_under_load<R: Rt>() {
    let (client, server) = load::<R>(&ADD3, 256, 40).await;
    println!(
        "add3 (plain fn handler), 256 callers: writes/call client {client:.3}, server {server:.3}"
    );
    assert!(client < 0.5, "client writes/call {client}");
    assert!(server < 0.5, "server writes/call {server}");
    let (client, server) = load::<R>(&SLOW_ADD, 256, 20).await;
    println!(
        "slow_add (async handler), 256 callers: writes/call client {client:.3}, server {server:.3}"
    );
    assert!(client < 0.5, "client writes/call {client}");
    // A lone call still leaves at once: one write each way per call.
    let (client, server) = load::<R>(&ADD3, 1, 50).await;
    println!("add3, 1 caller: writes/call client {client:.3}, server {server:.3}");
    assert!((0.99..=1.01).contains(&client), "{client}");
}

async fn large_calls_wait_for_the_send_buffer<R: Rt>() {
    let server = Server::<R>::start("127.0.0.1:0", config("server")).await;
    let client_config = Config {
        send_high_water: 16 * 1024,
        ..config("client")
    };
    let peer = R::connect(server.addr, (), client_config).await.unwrap();
    // 8 KiB arguments: the 16 KiB high-water mark is passed after two
    // calls, so most calls wait for the writer to drain the buffer.
    let mut set = Tasks::<R, _>::new();
    for i in 0..200u32 {
        let p = peer.clone();
        set.spawn(async move {
            let blob = vec![(i % 7) as u8; 8 * 1024];
            let r: Result<u32, CallError> = p.call(&BLOB, (blob,), NO_OPTIONS).await;
            assert_eq!(r, Ok((i % 7) * 8 * 1024));
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    assert!(peer.stats().bytes_written > 200 * 8 * 1024);
    // Beyond the peer's frame limit (16 KiB): sent in chunks.
    let r: Result<u32, CallError> = peer.call(&BLOB, (vec![1u8; 20_000],), NO_OPTIONS).await;
    assert_eq!(r, Ok(20_000));
    assert_eq!(add3(&peer, 1, 2, 3).await, Ok(6));
}

async fn full_queue_is_overloaded<R: Rt>() {
    let server = Server::<R>::start(
        "127.0.0.1:0",
        Config {
            max_calls: 1,
            ..config("server")
        },
    )
    .await;
    let peer = R::connect(server.addr, (), config("client")).await.unwrap();
    // One call in flight, QUEUE_LIMIT waiting, and one too many.
    let mut waiting = Tasks::<R, _>::new();
    for i in 0..=zerowire_tcp::QUEUE_LIMIT as u32 {
        let p = peer.clone();
        waiting.spawn(async move { p.call::<_, u32>(&HANG, (i,), NO_OPTIONS).await });
    }
    R::sleep(Duration::from_millis(200)).await;
    let r = add3(&peer, 1, 2, 3).await;
    assert_eq!(r, Err(CallError::Overloaded));
    assert_eq!(peer.stats().calls_sent, 1);
    // Giving up on them (the one in flight included: its cancel frees
    // the server's only slot) lets calls through again.
    waiting.abort_all();
    while waiting.join_next().await.is_some() {}
    assert_eq!(add3(&peer, 1, 2, 3).await, Ok(6));
}

async fn handshake_failures<R: Rt>() {
    // A peer that is not zerowire.
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = http.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        let (mut s, _) = http.accept().unwrap();
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        std::thread::sleep(Duration::from_secs(1));
    });
    let err = R::connect(addr, (), config("client")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");

    // A peer that never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    std::thread::spawn(move || {
        let (_s, _) = silent.accept().unwrap();
        std::thread::sleep(Duration::from_secs(2));
    });
    let impatient = Config {
        handshake_timeout: Duration::from_millis(200),
        ..config("client")
    };
    let err = R::connect(addr, (), impatient).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
}

// ---- two macro services on one connection, calling back ------------------

/// Served by the server, first of two services on its connections.
#[zerowire::service]
pub trait Alpha {
    fn inc(&self, x: u32) -> u32;
    /// Asks the caller's own `Echo` service, over the same connection.
    async fn ask_back(&self, cx: &Context, x: u32) -> u32;
}

/// The second service on the same connections.
#[zerowire::service]
pub trait Beta {
    fn shout(&self, s: String) -> String;
    fn flag(&self, b: bool) -> u32;
}

/// What the client serves back.
#[zerowire::service]
pub trait Echo {
    fn echo(&self, x: u32) -> u32;
}

struct A;

impl Alpha for A {
    fn inc(&self, x: u32) -> u32 {
        x + 1
    }

    async fn ask_back(&self, cx: &Context, x: u32) -> u32 {
        let caller = EchoClient::new(cx.peer().clone());
        caller.echo(x).await.unwrap() * 10
    }
}

struct B;

impl Beta for B {
    fn shout(&self, s: String) -> String {
        s.to_uppercase()
    }

    fn flag(&self, b: bool) -> u32 {
        u32::from(b) + 1
    }
}

struct E;

impl Echo for E {
    fn echo(&self, x: u32) -> u32 {
        x + 1000
    }
}

async fn two_services_on_one_connection_with_callback<R: Rt>() {
    let listener = R::bind("127.0.0.1:0", config("server")).await.unwrap();
    let addr = R::local_addr(&listener);
    let (server_peer, client) = tokio::join!(
        R::accept(&listener, (AlphaService::new(A), BetaService::new(B))),
        R::connect(addr, EchoService::new(E), config("client"))
    );
    let (server_peer, client) = (server_peer.unwrap(), client.unwrap());
    let alpha = AlphaClient::new(client.clone());
    let beta = BetaClient::new(client.clone());
    assert_eq!(alpha.inc(1).await, Ok(2));
    assert_eq!(beta.shout("zw".into()).await.as_deref(), Ok("ZW"));
    assert_eq!(beta.flag(true).await, Ok(2));
    // The handler calls the caller's `Echo` back on this connection.
    assert_eq!(alpha.ask_back(7).await, Ok(10_070));
    // Both at once, interleaved.
    let (a, b, c) = tokio::join!(alpha.ask_back(1), beta.flag(false), alpha.inc(41));
    assert_eq!((a, b, c), (Ok(10_010), Ok(1), Ok(42)));
    // One connection carried it all, both ways.
    let (s, c) = (server_peer.stats(), client.stats());
    assert_eq!((c.calls_sent, s.calls_served), (7, 7));
    assert_eq!((s.calls_sent, c.calls_served), (2, 2));
    // The server calls the client's service directly too.
    assert_eq!(EchoClient::new(server_peer.clone()).echo(1).await, Ok(1001));
}

async fn undecodable_arguments_fail_alone_with_bad_request<R: Rt>() {
    let listener = R::bind("127.0.0.1:0", config("server")).await.unwrap();
    let addr = R::local_addr(&listener);
    let serve = R::spawn(R::serve(listener, || {
        (AlphaService::new(A), BetaService::new(B))
    }));
    let peer = R::connect(addr, (), config("client")).await.unwrap();
    // `flag(b: bool)` as the server declares it (same id and fingerprint),
    // called with a `u8` argument: byte 2 is no `bool`.
    let real = &BetaService::<B>::methods()[1];
    assert_eq!(real.name, "flag");
    let forged: &'static MethodDesc = Box::leak(Box::new(MethodDesc {
        fingerprint: real.fingerprint,
        ..method::<(u8,), u32>("Beta", "flag")
    }));
    let r: Result<u32, CallError> = peer.call(forged, (2u8,), NO_OPTIONS).await;
    assert!(matches!(r, Err(CallError::BadRequest(_))), "{r:?}");
    // A valid byte goes through the same forged descriptor.
    let r: Result<u32, CallError> = peer.call(forged, (1u8,), NO_OPTIONS).await;
    assert_eq!(r, Ok(2));
    // The connection keeps serving, the bad call's neighbours included.
    let beta = BetaClient::new(peer.clone());
    let (bad, good) = tokio::join!(
        peer.call::<_, u32>(forged, (7u8,), NO_OPTIONS),
        beta.flag(false)
    );
    assert!(matches!(bad, Err(CallError::BadRequest(_))), "{bad:?}");
    assert_eq!(good, Ok(1));
    assert_eq!(AlphaClient::new(peer.clone()).inc(1).await, Ok(2));
    assert!(!peer.is_closed());
    drop(serve);
}

/// `BlockingCaller` from plain threads, several at once, through a
/// generated blocking client.
async fn blocking_clients_from_threads<R: Rt>() {
    let listener = R::bind("127.0.0.1:0", config("server")).await.unwrap();
    let addr = R::local_addr(&listener);
    let _serve = R::spawn(R::serve(listener, || {
        (AlphaService::new(A), BetaService::new(B))
    }));
    let peer = R::connect(addr, EchoService::new(E), config("client"))
        .await
        .unwrap();
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let alpha = AlphaBlockingClient::new(peer.clone());
            std::thread::spawn(move || {
                (0..20u32).all(|i| alpha.inc(t * 100 + i) == Ok(t * 100 + i + 1))
                    && alpha.ask_back(t) == Ok((t + 1000) * 10)
            })
        })
        .collect();
    let ok = off_thread(move || threads.into_iter().all(|t| t.join().unwrap())).await;
    assert!(ok);
}

runtime_tests!(
    call_and_reply,
    blocking_caller,
    blocking_clients_from_threads,
    pipelined_calls_from_16_tasks,
    both_ends_call_each_other,
    nested_calls_complete,
    handler_panic_is_reported_and_server_keeps_serving,
    timeout_fails_the_call_and_drops_the_handler,
    dropping_the_call_future_cancels_the_handler,
    killed_server_fails_pending_calls_at_once,
    graceful_close,
    reconnect_after_server_restart,
    schema_mismatch_is_per_method,
    notifications_start_in_order,
    calls_beyond_max_calls_wait_their_turn,
    writes_are_batched_under_load,
    large_calls_wait_for_the_send_buffer,
    full_queue_is_overloaded,
    handshake_failures,
    two_services_on_one_connection_with_callback,
    undecodable_arguments_fail_alone_with_bad_request,
);

/// smol with the application's own `Executor` (`connect_on`, `bind_on`):
/// the driver and handler tasks run only where that executor runs.
#[cfg(feature = "smol")]
#[test]
fn smol_user_executor() {
    use smol::Executor;
    use zerowire_tcp::smol::{connect_on, Listener};

    let ex = Arc::new(Executor::new());
    let (stop, stopped) = smol::channel::unbounded::<()>();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (ex, stopped) = (ex.clone(), stopped.clone());
            std::thread::spawn(move || smol::block_on(ex.run(stopped.recv())))
        })
        .collect();
    <SmolRt as Rt>::run(async {
        let listener = Listener::bind_on(ex.clone(), "127.0.0.1:0", config("server"))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let serve = ex.spawn(listener.serve(|| (AlphaService::new(A), BetaService::new(B))));
        let peer = connect_on(ex.clone(), addr, EchoService::new(E), config("client"))
            .await
            .unwrap();
        let alpha = AlphaClient::new(peer.clone());
        assert_eq!(alpha.inc(1).await, Ok(2));
        assert_eq!(alpha.ask_back(2).await, Ok(10_020));
        let blocking = AlphaBlockingClient::new(peer.clone());
        assert_eq!(off_thread(move || blocking.inc(9)).await, Ok(10));
        // Dropping `serve` drops its connections (on the executor).
        drop(serve);
        assert_eq!(peer.closed().await, CloseReason::TransportClosed);
        assert!(matches!(
            alpha.inc(1).await,
            Err(CallError::Disconnected(_))
        ));
    });
    drop(stop);
    for t in threads {
        let _ = t.join().unwrap();
    }
}
