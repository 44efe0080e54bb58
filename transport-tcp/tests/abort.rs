//! `panic = "abort"` semantics: a server whose handler panics while the
//! process aborts on panic (here a panic hook that calls
//! `std::process::abort`, which is what a `panic = "abort"` build does)
//! dies, and its caller gets `CallError::Disconnected` at once.
//!
//! The server is this test binary run again as a child process:
//! `ZW_ABORT_SERVER=<runtime>` makes `abort_server_child` serve on that
//! runtime (printing its port) instead of returning at once.

// Test-only public items (a service trait must be nameable by its
// generated types); they need no docs.
#![allow(missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use zerowire::proto::Config;
use zerowire::rpc::CallError;
use zerowire_tcp::Peer;

const CHILD_ENV: &str = "ZW_ABORT_SERVER";
const PORT_LINE: &str = "ZW_ABORT_SERVER_PORT ";

#[zerowire::service]
pub trait Bomb {
    fn fine(&self) -> u32;
    async fn explode(&self) -> u32;
}

struct Server;

impl Bomb for Server {
    fn fine(&self) -> u32 {
        1
    }

    async fn explode(&self) -> u32 {
        panic!("handler panics under panic=abort")
    }
}

/// The child's side; does nothing in an ordinary test run.
#[test]
fn abort_server_child() {
    let Ok(runtime) = std::env::var(CHILD_ENV) else {
        return;
    };
    std::panic::set_hook(Box::new(|_| std::process::abort()));
    let announce = |addr: SocketAddr| {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{PORT_LINE}{}", addr.port()).unwrap();
        out.flush().unwrap();
    };
    match runtime.as_str() {
        #[cfg(feature = "tokio")]
        "tokio" => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let listener =
                    zerowire_tcp::tokio::Listener::bind("127.0.0.1:0", Config::default())
                        .await
                        .unwrap();
                announce(listener.local_addr().unwrap());
                listener.serve(|| BombService::new(Server)).await;
            }),
        #[cfg(feature = "smol")]
        "smol" => smol::block_on(async {
            let listener = zerowire_tcp::smol::Listener::bind("127.0.0.1:0", Config::default())
                .await
                .unwrap();
            announce(listener.local_addr().unwrap());
            listener.serve(|| BombService::new(Server)).await;
        }),
        other => panic!("no runtime {other:?} in this build"),
    }
}

/// The server child; killed if the test ends before it died.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(runtime: &str) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "abort_server_child", "--nocapture"])
            .env(CHILD_ENV, runtime)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let port = stdout
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix(PORT_LINE).map(|p| p.parse::<u16>()))
            .expect("the server child exited before it listened")
            .unwrap();
        Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// Waits (at most 10 s) for the child to exit.
    fn wait(&mut self) -> ExitStatus {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "the server child did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What the caller sees, on its runtime: one good call, then the panic.
async fn call_the_bomb(peer: Peer) {
    let bomb = BombClient::new(peer.clone());
    assert_eq!(bomb.fine().await, Ok(1));
    let started = Instant::now();
    let r = bomb.explode().await;
    assert!(matches!(r, Err(CallError::Disconnected(_))), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(peer.is_closed());
}

fn assert_aborted(status: ExitStatus) {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(6), "{status:?} (SIGABRT expected)");
    }
    #[cfg(not(unix))]
    assert!(!status.success(), "{status:?}");
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_handler_panic_under_abort_disconnects_the_caller() {
    let mut server = ServerProcess::start("tokio");
    let addr = server.addr;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let peer = zerowire_tcp::tokio::connect(addr, (), Config::default())
                .await
                .unwrap();
            call_the_bomb(peer).await;
        });
    assert_aborted(server.wait());
}

#[cfg(feature = "smol")]
#[test]
fn smol_handler_panic_under_abort_disconnects_the_caller() {
    let mut server = ServerProcess::start("smol");
    let addr = server.addr;
    smol::block_on(async {
        let peer = zerowire_tcp::smol::connect(addr, (), Config::default())
            .await
            .unwrap();
        call_the_bomb(peer).await;
    });
    assert_aborted(server.wait());
}
