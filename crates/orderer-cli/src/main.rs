//! `orderer-cli`: broadcast, deliver and inspect blocks against any Fabric-compatible
//! orderer.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "orderer-cli",
    version,
    about = "Client for Fabric-compatible orderers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Broadcast envelopes and count the orderer's answers.
    Broadcast(cmd::broadcast::BroadcastArgs),
    /// Deliver blocks, print one line per block and verify the hash chain.
    Deliver(cmd::deliver::DeliverArgs),
    /// Measure an orderer: Broadcast throughput and latency while a Deliver stream
    /// watches every envelope land in a block; `bench deliver` measures replay.
    #[command(args_conflicts_with_subcommands = true)]
    Bench(cmd::bench::BenchArgs),
    /// Read every orderer's chain of a channel over Deliver and check that they are
    /// identical header for header (naming the first differing block); with
    /// --acked, that every acknowledged tx id is in every chain, and in none twice.
    /// Exits non-zero when chains differ, or there are duplicates or lost envelopes.
    ChainCheck(cmd::chain_check::ChainCheckArgs),
    /// Work with single blocks.
    Block(cmd::block::BlockArgs),
    /// Create and check MSP directories (Fabric's layout).
    Msp(cmd::msp::MspArgs),
    /// Create channels and change their configuration with config updates.
    Channel(cmd::channel::ChannelArgs),
    /// Write a channel's genesis block from MSP directories, as configtxgen would
    /// from the equivalent profile (Fabric's sample defaults: V2_0 capabilities,
    /// ImplicitMeta channel policies, BatchSize 500 / 10 MB / 2 MB, BatchTimeout
    /// 2s). With --system, a system channel: --org's form the consortium
    /// (ChannelCreationPolicy: ANY Admins), boot orderers from it with
    /// General.BootstrapMethod: file and General.BootstrapFile, then create
    /// channels with `orderer-cli channel create`.
    Genesis(cmd::genesis::GenesisArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One Deliver stream gains nothing from a second worker thread, and pays
    // for it: its connection task and its reader then wake each other across
    // threads (measured: a replay's client CPU halves on one thread, which the
    // replay benchmark sees directly on two cores).
    let one_stream = match &cli.command {
        Command::Deliver(_) => true,
        Command::Bench(args) => args.one_stream(),
        _ => false,
    };
    let mut builder = if one_stream {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("orderer-cli: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("orderer-cli: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Broadcast(args) => cmd::broadcast::run(args).await,
        Command::Deliver(args) => cmd::deliver::run(args).await,
        Command::Bench(args) => cmd::bench::run(args).await,
        Command::ChainCheck(args) => cmd::chain_check::run(args).await,
        Command::Block(args) => cmd::block::run(args).await,
        Command::Msp(args) => cmd::msp::run(args),
        Command::Channel(args) => cmd::channel::run(args).await,
        Command::Genesis(args) => cmd::genesis::run(args),
    }
}
