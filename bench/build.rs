//! Generates the tonic `Calc` service (client and server) for the `rpc`
//! benchmark with `tonic_build::manual`: no `.proto` file, no protoc. The
//! messages are hand-written `#[derive(prost::Message)]` structs
//! (`zerowire_bench::Add3Pb`, `zerowire_bench::rpc::grpc::Add3ReplyPb`).
//! Also records `rustc -V` for the benchmark's machine line.

use tonic_build::manual::{Builder, Method, Service};

fn main() {
    let add3 = Method::builder()
        .name("add3")
        .route_name("Add3")
        .input_type("crate::Add3Pb")
        .output_type("crate::rpc::grpc::Add3ReplyPb")
        .codec_path("tonic_prost::ProstCodec")
        .build();
    let calc = Service::builder()
        .name("Calc")
        .package("bench")
        .method(add3)
        .build();
    // Writes `$OUT_DIR/bench.Calc.rs`.
    Builder::new().compile(&[calc]);

    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    println!("cargo:rustc-env=BENCH_RUSTC_VERSION={}", version.trim());
    println!("cargo:rerun-if-changed=build.rs");
}
