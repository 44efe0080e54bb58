//! The tokio driver over real loopback TCP, with hand-written services
//! (what `#[zerowire::service]` generates) and calls through `Caller`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use zerowire::proto::{signature_fingerprint, CloseReason, Config, MethodDesc};
use zerowire::rpc::{
    decode_args, BlockingCaller, CallError, CallOptions, Caller, Refusal, Service,
};
use zerowire::Wire;
use zerowire_tcp::{connect, Context, Listener, Peer};

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
/// notifications).
struct Calc {
    probe: mpsc::UnboundedSender<String>,
}

impl Service<Context> for Calc {
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
                tokio::task::yield_now().await;
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
                tokio::time::sleep(Duration::from_millis(ms.into())).await;
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
                tokio::task::yield_now().await;
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

struct Server {
    addr: SocketAddr,
    probe: mpsc::UnboundedReceiver<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(addr: &str, config: Config) -> Self {
        let listener = Listener::bind(addr, config).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, probe) = mpsc::unbounded_channel();
        let task = tokio::spawn(listener.serve(move || Calc { probe: tx.clone() }));
        Self { addr, probe, task }
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

/// Every test is bounded in time.
async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(8), f)
        .await
        .expect("test timed out")
}

async fn add3(peer: &Peer, a: u32, b: u32, c: u32) -> Result<u32, CallError> {
    peer.call(&ADD3, (a, b, c), NO_OPTIONS).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_and_reply() {
    within(async {
        let mut server = Server::start("127.0.0.1:0", config("server-1")).await;
        let peer = connect(server.addr, (), config("client-1")).await.unwrap();
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_caller() {
    within(async {
        let server = Server::start("127.0.0.1:0", config("server")).await;
        let peer = connect(server.addr, (), config("client")).await.unwrap();
        let p = peer.clone();
        let thread = std::thread::spawn(move || {
            let sum: Result<u32, CallError> =
                p.call_blocking(&ADD3, (1u32, 1u32, 1u32), NO_OPTIONS);
            let hang: Result<u32, CallError> = p.call_blocking(
                &HANG,
                (1u32,),
                CallOptions {
                    timeout: Some(Duration::from_millis(50)),
                },
            );
            (sum, hang)
        });
        let (sum, hang) = tokio::task::spawn_blocking(move || thread.join().unwrap())
            .await
            .unwrap();
        assert_eq!(sum, Ok(3));
        assert_eq!(hang, Err(CallError::DeadlineExceeded));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_calls_from_16_tasks() {
    within(async {
        let server = Server::start("127.0.0.1:0", config("server")).await;
        let peer = connect(server.addr, (), config("client")).await.unwrap();
        let mut tasks = JoinSet::new();
        for t in 0..16u32 {
            let peer = peer.clone();
            tasks.spawn(async move {
                let mut calls = JoinSet::new();
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_ends_call_each_other() {
    within(async {
        let listener = Listener::bind("127.0.0.1:0", config("server"))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (probe, _rx) = mpsc::unbounded_channel();
        let (server_peer, client) = tokio::join!(
            listener.accept(Calc { probe }),
            connect(addr, ClientSvc, config("client"))
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_calls_complete() {
    within(async {
        let server = Server::start("127.0.0.1:0", config("server")).await;
        let client = connect(server.addr, ClientSvc, config("client"))
            .await
            .unwrap();
        // client → Calc.nest(5) → Client.nest_back(5) → Calc.add3(5, 1, 1).
        let r: Result<u32, _> = client.call(&NEST, (5u32,), NO_OPTIONS).await;
        assert_eq!(r, Ok(5 + 1 + 1 + 10 + 100));
        // Many at once: each level of nesting holds a call slot of the
        // server (`max_calls`, 32 here), so 15 outer calls plus their 15
        // inner `add3` calls fit; 32 outer calls would leave the inner calls
        // waiting forever (see the crate docs).
        let mut set = JoinSet::new();
        for i in 0..15u32 {
            let c = client.clone();
            set.spawn(async move { (i, c.call::<_, u32>(&NEST, (i,), NO_OPTIONS).await) });
        }
        while let Some(r) = set.join_next().await {
            let (i, r) = r.unwrap();
            assert_eq!(r, Ok(i + 112));
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_panic_is_reported_and_server_keeps_serving() {
    within(async {
        let server = Server::start("127.0.0.1:0", config("server")).await;
        let peer = connect(server.addr, (), config("client")).await.unwrap();
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
        let other = connect(server.addr, (), config("client")).await.unwrap();
        assert_eq!(add3(&other, 1, 1, 1).await, Ok(3));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_fails_the_call_and_drops_the_handler() {
    within(async {
        let mut server = Server::start("127.0.0.1:0", config("server")).await;
        let peer = connect(server.addr, (), config("client")).await.unwrap();
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_call_future_cancels_the_handler() {
    within(async {
        let mut server = Server::start("127.0.0.1:0", config("server")).await;
        let peer = connect(server.addr, (), config("client")).await.unwrap();
        let call = peer.call::<_, u32>(&HANG, (8u32,), NO_OPTIONS);
        assert!(tokio::time::timeout(Duration::from_millis(100), call)
            .await
            .is_err());
        assert_eq!(server.expect("dropped").await, "dropped 8");
        assert_eq!(add3(&peer, 1, 2, 3).await, Ok(6));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_fails_pending_calls_at_once() {
    within(async {
        let server = Server::start("127.0.0.1:0", config("server")).await;
        let peer = connect(server.addr, (), config("client")).await.unwrap();
        let mut pending = JoinSet::new();
        for i in 0..3u32 {
            let p = peer.clone();
            pending.spawn(async move { p.call::<_, u32>(&HANG, (i,), NO_OPTIONS).await });
        }
        while peer.stats().calls_sent < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_close() {
    within(async {
        let listener = Listener::bind("127.0.0.1:0", config("server"))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let (probe, _rx) = mpsc::unbounded_channel();
        let (server_peer, client) = tokio::join!(
            listener.accept(Calc { probe }),
            connect(addr, (), config("client"))
        );
        let (server_peer, client) = (server_peer.unwrap(), client.unwrap());
        // A call in flight finishes before the close completes.
        let slow = {
            let c = client.clone();
            tokio::spawn(async move { c.call::<_, u32>(&SLEEP, (100u32,), NO_OPTIONS).await })
        };
        while server_peer.stats().calls_served < 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
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
        let (server_peer, client) =
            tokio::join!(listener.accept(()), connect(addr, (), config("client")));
        let (server_peer, client) = (server_peer.unwrap(), client.unwrap());
        drop(client);
        assert_eq!(server_peer.closed().await, CloseReason::Graceful);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_after_server_restart() {
    within(async {
        let server = Server::start("127.0.0.1:0", config("v1")).await;
        let addr = server.addr;
        let peer = connect(addr, (), config("client")).await.unwrap();
        assert_eq!(add3(&peer, 1, 2, 3).await, Ok(6));
        assert_eq!(peer.peer_build().as_deref(), Some("v1"));

        server.task.abort();
        assert_eq!(peer.closed().await, CloseReason::TransportClosed);
        assert!(matches!(
            add3(&peer, 1, 2, 3).await,
            Err(CallError::Disconnected(_))
        ));

        // Same port, new build: a new connection repeats the handshake.
        let _server = Server::start(&addr.to_string(), config("v2")).await;
        let again = connect(addr, (), config("client")).await.unwrap();
        assert_eq!(again.peer_build().as_deref(), Some("v2"));
        assert_eq!(add3(&again, 1, 2, 3).await, Ok(6));
        // The old handle stays dead: no silent reconnect.
        assert!(peer.is_closed());
        assert!(matches!(
            add3(&peer, 1, 2, 3).await,
            Err(CallError::Disconnected(_))
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_mismatch_is_per_method() {
    within(async {
        let server = Server::start("127.0.0.1:0", config("server")).await;
        let peer = connect(server.addr, (), config("client")).await.unwrap();
        let r: Result<u64, _> = peer.call(&ADD3_V2, (1u64, 2u64, 3u64), NO_OPTIONS).await;
        assert_eq!(r, Err(CallError::SchemaMismatch { method: "add3" }));
        let r: Result<u32, _> = peer.call(&MISSING, (), NO_OPTIONS).await;
        assert_eq!(r, Err(CallError::UnknownMethod { method: "missing" }));
        let r: Result<u32, _> = peer.call(&SLOW_ADD, (1u32, 2u32, 3u32), NO_OPTIONS).await;
        assert_eq!(r, Ok(6));
        let r: Result<u64, _> = peer.call(&ADD3_V2, (1u64, 2u64, 3u64), NO_OPTIONS).await;
        assert_eq!(r, Err(CallError::SchemaMismatch { method: "add3" }));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_start_in_order() {
    within(async {
        let mut server = Server::start("127.0.0.1:0", config("server")).await;
        let peer = connect(server.addr, (), config("client")).await.unwrap();
        for n in 0..200u32 {
            peer.notify(&LOG, (n,)).await.unwrap();
        }
        for n in 0..200u32 {
            assert_eq!(server.expect("note").await, format!("note {n}"));
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_max_calls_wait_their_turn() {
    within(async {
        let server = Server::start(
            "127.0.0.1:0",
            Config {
                max_calls: 2,
                ..config("server")
            },
        )
        .await;
        let peer = connect(server.addr, (), config("client")).await.unwrap();
        let start = Instant::now();
        let mut set = JoinSet::new();
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
    })
    .await;
}

/// Runs `per_task` calls of `method` from each of `tasks` tasks; returns
/// writes per call of the client and of the server.
async fn load(method: &'static MethodDesc, tasks: u32, per_task: u32) -> (f64, f64) {
    let listener = Listener::bind("127.0.0.1:0", config("server"))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (probe, _rx) = mpsc::unbounded_channel();
    let (server_peer, client) = tokio::join!(
        listener.accept(Calc { probe }),
        connect(addr, (), config("client"))
    );
    let (server_peer, client) = (server_peer.unwrap(), client.unwrap());
    let done = Arc::new(AtomicUsize::new(0));
    let (client_before, server_before) = (client.stats(), server_peer.stats());
    let mut set = JoinSet::new();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_batched_under_load() {
    within(async {
        let (client, server) = load(&ADD3, 256, 40).await;
        println!("add3 (plain fn handler), 256 callers: writes/call client {client:.3}, server {server:.3}");
        assert!(client < 0.5, "client writes/call {client}");
        assert!(server < 0.5, "server writes/call {server}");
        let (client, server) = load(&SLOW_ADD, 256, 20).await;
        println!("slow_add (async handler), 256 callers: writes/call client {client:.3}, server {server:.3}");
        assert!(client < 0.5, "client writes/call {client}");
        // A lone call still leaves at once: one write each way per call.
        let (client, server) = load(&ADD3, 1, 50).await;
        println!("add3, 1 caller: writes/call client {client:.3}, server {server:.3}");
        assert!((0.99..=1.01).contains(&client), "{client}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_calls_wait_for_the_send_buffer() {
    within(async {
        let server = Server::start("127.0.0.1:0", config("server")).await;
        let client_config = Config {
            send_high_water: 16 * 1024,
            ..config("client")
        };
        let peer = connect(server.addr, (), client_config).await.unwrap();
        // 8 KiB arguments: the 16 KiB high-water mark is passed after two
        // calls, so most calls wait for the writer to drain the buffer.
        let mut set = JoinSet::new();
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
        // Beyond the peer's frame limit (16 KiB): refused before sending.
        let r: Result<u32, CallError> = peer.call(&BLOB, (vec![1u8; 20_000],), NO_OPTIONS).await;
        assert!(
            matches!(r, Err(CallError::TooLarge { len, max }) if len > 20_000 && max < len),
            "{r:?}"
        );
        assert_eq!(add3(&peer, 1, 2, 3).await, Ok(6));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_is_overloaded() {
    within(async {
        let server = Server::start(
            "127.0.0.1:0",
            Config {
                max_calls: 1,
                ..config("server")
            },
        )
        .await;
        let peer = connect(server.addr, (), config("client")).await.unwrap();
        // One call in flight, QUEUE_LIMIT waiting, and one too many.
        let mut waiting = JoinSet::new();
        for i in 0..=zerowire_tcp::QUEUE_LIMIT as u32 {
            let p = peer.clone();
            waiting.spawn(async move { p.call::<_, u32>(&HANG, (i,), NO_OPTIONS).await });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let r = add3(&peer, 1, 2, 3).await;
        assert_eq!(r, Err(CallError::Overloaded));
        assert_eq!(peer.stats().calls_sent, 1);
        // Giving up on them (the one in flight included: its cancel frees
        // the server's only slot) lets calls through again.
        waiting.abort_all();
        while waiting.join_next().await.is_some() {}
        assert_eq!(add3(&peer, 1, 2, 3).await, Ok(6));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_failures() {
    within(async {
        // A peer that is not zerowire.
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = http.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = http.accept().await.unwrap();
            s.writable().await.unwrap();
            let _ = s.try_write(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            tokio::time::sleep(Duration::from_secs(1)).await;
        });
        let err = connect(addr, (), config("client")).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");

        // A peer that never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        tokio::spawn(async move {
            let (_s, _) = silent.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(2)).await;
        });
        let impatient = Config {
            handshake_timeout: Duration::from_millis(200),
            ..config("client")
        };
        let err = connect(addr, (), impatient).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    })
    .await;
}
