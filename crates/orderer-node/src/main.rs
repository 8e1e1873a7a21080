//! `orderer`: the ordering service node.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use orderer_node::config;

/// Hyperledger Fabric-compatible ordering service node (solo or Kafka).
#[derive(Debug, Parser)]
#[command(name = "orderer", version, about)]
struct Args {
    /// orderer.yaml to load. Default: $FABRIC_CFG_PATH/orderer.yaml if FABRIC_CFG_PATH
    /// is set, else the built-in sample configuration (solo, channel mychannel).
    #[arg(long, short = 'c', value_name = "PATH")]
    config: Option<PathBuf>,
    /// Load and check the configuration, print every key's effective value and where
    /// it came from (secrets redacted), and exit.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let fabric_cfg = std::env::var_os("FABRIC_CFG_PATH").map(PathBuf::from);
    let source = config::source_from(args.config.as_deref(), fabric_cfg.as_deref());
    let loaded = match config::load(source) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("orderer: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config {
        for w in &loaded.warnings {
            eprintln!("orderer: warning: {w}");
        }
        print!("{}", loaded.describe());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("orderer: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let config = loaded.config.clone();
        // The OTLP exporter runs on the runtime, so telemetry starts inside it.
        let telemetry = match orderer_node::telemetry::init(
            &config.general.log_level,
            &config.tracing,
            &config.grpc_address(),
        ) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("orderer: {e}");
                return ExitCode::from(2);
            }
        };
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        let outcome = orderer_node::run(config, termination()).await;
        telemetry.shutdown();
        match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e:#}");
                eprintln!("orderer: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn termination() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
