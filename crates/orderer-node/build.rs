//! Generates the `orderer.AtomicBroadcast` server stub with custom codecs: Broadcast
//! and Deliver receive each request as raw bytes (the envelope exactly as sent) and
//! Deliver sends stored blocks without decoding and re-encoding them.

use tonic_build::manual::{Builder, Method, Service};

fn main() {
    commit_id();
    let broadcast = Method::builder()
        .name("broadcast")
        .route_name("Broadcast")
        .input_type("bytes::Bytes")
        .output_type("orderer_api::proto::orderer::BroadcastResponse")
        .codec_path("crate::server::codec::BroadcastCodec")
        .client_streaming()
        .server_streaming()
        .build();
    let deliver = Method::builder()
        .name("deliver")
        .route_name("Deliver")
        .input_type("bytes::Bytes")
        .output_type("crate::server::codec::DeliverFrame")
        .codec_path("crate::server::codec::DeliverCodec")
        .client_streaming()
        .server_streaming()
        .build();
    let service = Service::builder()
        .name("AtomicBroadcast")
        .package("orderer")
        .method(broadcast)
        .method(deliver)
        .build();
    Builder::new()
        .build_client(false)
        .build_transport(false)
        .compile(&[service]);
}

/// `BUILD_COMMIT_ID`: the git commit built, for `/version` ("development build" when
/// not built from a git checkout).
fn commit_id() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "development build".to_owned());
    println!("cargo:rustc-env=BUILD_COMMIT_ID={commit}");
    let git_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.git");
    for f in ["HEAD", "refs/heads"] {
        let p = git_dir.join(f);
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
}
