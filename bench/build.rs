//! Generates the tonic `Calc` service (client and server) for the `rpc`
//! benchmark with `tonic_build::manual`: no `.proto` file, no protoc. The
//! messages are hand-written `#[derive(prost::Message)]` structs
//! (`zerowire_bench::Add3Pb`, `zerowire_bench::rpc::grpc::Add3ReplyPb`).
//! Also generates the `Bulk` service of the bulk-transfer section (a unary
//! `Upload` and a client-streaming `Stream`, messages in
//! `zerowire_bench::rpc::bulk::grpc`), and records `rustc -V` for the
//! benchmark's machine line.

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
    let upload = Method::builder()
        .name("upload")
        .route_name("Upload")
        .input_type("crate::rpc::bulk::grpc::BlobPb")
        .output_type("crate::rpc::bulk::grpc::CheckPb")
        .codec_path("tonic_prost::ProstCodec")
        .build();
    let stream = Method::builder()
        .name("stream")
        .route_name("Stream")
        .input_type("crate::rpc::bulk::grpc::BlobPb")
        .output_type("crate::rpc::bulk::grpc::CheckPb")
        .codec_path("tonic_prost::ProstCodec")
        .client_streaming()
        .build();
    let bulk = Service::builder()
        .name("Bulk")
        .package("bench")
        .method(upload)
        .method(stream)
        .build();
    // Writes `$OUT_DIR/bench.Calc.rs` and `$OUT_DIR/bench.Bulk.rs`.
    Builder::new().compile(&[calc, bulk]);

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
