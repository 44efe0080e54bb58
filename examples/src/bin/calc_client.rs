//! The calculator client of the README quick start.
//!
//! `cargo run -p zerowire-examples --bin calc-client [ADDR]` calls a running
//! `calc-server` (default 127.0.0.1:7878); with `--spawn-server` it first
//! starts one in this process, so the example runs with one command.

use std::time::{Duration, Instant};

use zerowire::proto::Config;
use zerowire::rpc::CallError;
use zerowire_examples::calc::{CalcClient, CalcService, Calculator, MathError};
use zerowire_tcp::{connect, Listener};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = zerowire_examples::addr_arg("127.0.0.1:7878");
    if zerowire_examples::flag("spawn-server") {
        let listener = Listener::bind("127.0.0.1:0", Config::default()).await?;
        addr = listener.local_addr()?.to_string();
        tokio::spawn(listener.serve(|| CalcService::new(Calculator::default())));
        println!("started a calc server on {addr}");
    }

    let peer = connect(&addr, (), Config::default()).await?;
    println!(
        "connected to {} (build {:?})",
        peer.peer_addr(),
        peer.peer_build().unwrap_or_default()
    );
    let calc = CalcClient::new(peer.clone()).with_timeout(Duration::from_secs(5));

    println!("add3(1, 2, 3) = {}", calc.add3(1, 2, 3).await?);
    println!("div(7, 2) = {}", calc.div(7, 2).await?);
    // The handler's `Err` arrives typed.
    match calc.div(1, 0).await {
        Err(CallError::Remote(MathError::DivideByZero)) => {
            println!("div(1, 0) failed remotely: division by zero")
        }
        other => println!("div(1, 0) = {other:?}"),
    }

    // Pipelining: many calls in flight on one connection share write calls.
    let start = Instant::now();
    let tasks: Vec<_> = (0..64u32)
        .map(|t| {
            let calc = calc.clone();
            tokio::spawn(async move {
                for i in 0..100 {
                    assert_eq!(calc.add3(t, i, 1).await, Ok(t + i + 1));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await?;
    }
    let stats = peer.stats();
    println!(
        "6400 pipelined calls in {:.1} ms, {:.3} write syscalls per call",
        start.elapsed().as_secs_f64() * 1e3,
        stats.writes as f64 / stats.calls_sent as f64
    );
    println!("server counted {} calls", calc.calls().await?);
    calc.reset().await?;
    peer.close();
    println!("closed: {}", peer.closed().await);
    Ok(())
}
