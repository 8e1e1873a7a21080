//! Compiles `proto/` with protox (pure Rust), so building needs no system `protoc`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "common/common.proto",
        "common/configtx.proto",
        "common/configuration.proto",
        "common/policies.proto",
        "orderer/ab.proto",
        "orderer/configuration.proto",
        "orderer/kafka.proto",
        "msp/identities.proto",
        "msp/msp_principal.proto",
        "msp/msp_config.proto",
        "peer/configuration.proto",
    ];
    let fds = protox::compile(files, [&root])?;
    for f in files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    prost_build::Config::new()
        // Envelope and block bytes are shared slices of the receive buffer, never copied.
        .bytes(["."])
        // Sorted maps make config encoding deterministic, so every OSN builds the same block 0.
        .btree_map(["."])
        .compile_fds(fds)?;
    Ok(())
}
