//! The calculator server of the README quick start.
//!
//! `cargo run -p zerowire-examples --bin calc-server [ADDR]` (default
//! 127.0.0.1:7878), then run `calc-client` against it.

use zerowire::proto::Config;
use zerowire_examples::calc::{CalcService, Calculator};
use zerowire_tcp::Listener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = zerowire_examples::addr_arg("127.0.0.1:7878");
    let listener = Listener::bind(&addr, Config::default()).await?;
    println!("calc-server listening on {}", listener.local_addr()?);
    listener
        .serve(|| CalcService::new(Calculator::default()))
        .await;
    Ok(())
}
