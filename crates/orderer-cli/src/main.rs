//! `orderer-cli`: broadcast, deliver and inspect blocks against any Fabric-compatible
//! orderer.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use orderer_api::proto::common::{Block, Status};
use orderer_cli::deliver::{ChainChecker, DeliverRequest, block_line, deliver, fetch_block};
use orderer_cli::envelopes::{Position, transaction};
use orderer_cli::{broadcast, client, inspect};
use prost::Message;

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

#[derive(Debug, clap::Args)]
struct Target {
    /// Orderer address, host:port.
    #[arg(long, default_value = "127.0.0.1:7050")]
    server: String,
    /// Channel id.
    #[arg(long, default_value = "mychannel")]
    channel: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Broadcast envelopes and count the orderer's answers.
    Broadcast {
        #[command(flatten)]
        target: Target,
        /// Number of envelopes.
        #[arg(long, default_value_t = 1)]
        count: u64,
        /// Size of each envelope in bytes (payload plus signature, headers included).
        #[arg(long, default_value_t = 256)]
        size: usize,
        /// Envelopes sent ahead of their answers.
        #[arg(long, default_value_t = 1000)]
        window: usize,
    },
    /// Deliver blocks, print one line per block and verify the hash chain.
    Deliver {
        #[command(flatten)]
        target: Target,
        /// First block: oldest (-2), newest (-1) or a number.
        #[arg(long, default_value = "oldest", allow_hyphen_values = true)]
        seek: Position,
        /// Last block: oldest, newest (-1, as of the request) or a number.
        #[arg(
            long,
            default_value = "newest",
            allow_hyphen_values = true,
            conflicts_with = "follow"
        )]
        stop: Position,
        /// Keep streaming new blocks until interrupted.
        #[arg(long)]
        follow: bool,
        /// Fail with NOT_FOUND instead of waiting for blocks not yet written.
        #[arg(long)]
        fail_if_not_ready: bool,
        /// Print only the summary.
        #[arg(long)]
        quiet: bool,
    },
    /// Work with single blocks.
    Block {
        #[command(subcommand)]
        command: BlockCommand,
    },
}

#[derive(Debug, Subcommand)]
enum BlockCommand {
    /// Print a block as JSON, from the orderer or from a file.
    Inspect {
        #[command(flatten)]
        target: Target,
        /// Block to fetch: a number, oldest or newest.
        #[arg(long, default_value = "newest", allow_hyphen_values = true)]
        number: Position,
        /// Read a marshalled common.Block from this file instead of the orderer.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
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
        Command::Broadcast {
            target,
            count,
            size,
            window,
        } => {
            let mut c = client::connect(&target.server).await?;
            let channel = target.channel.clone();
            let report = broadcast::broadcast(&mut c, count, window, move |i| {
                transaction(&channel, i, size)
            })
            .await?;
            for line in report.lines() {
                println!("{line}");
            }
            Ok(exit(report.all_succeeded()))
        }
        Command::Deliver {
            target,
            seek,
            stop,
            follow,
            fail_if_not_ready,
            quiet,
        } => {
            let mut c = client::connect(&target.server).await?;
            let req = DeliverRequest {
                channel: target.channel,
                start: seek,
                stop: if follow {
                    Position::Number(u64::MAX)
                } else {
                    stop
                },
                fail_if_not_ready,
            };
            let mut checker = ChainChecker::default();
            let mut envelopes = 0u64;
            let outcome = deliver(&mut c, &req, |block: Block| {
                checker
                    .check(&block)
                    .map_err(|e| anyhow::anyhow!("chain verification failed: {e}"))?;
                envelopes += block
                    .data
                    .as_ref()
                    .map(|d| d.data.len() as u64)
                    .unwrap_or(0);
                if !quiet {
                    println!("{}", block_line(&block));
                }
                Ok(())
            })
            .await?;
            let status = outcome.status.map(|s| s.as_str_name()).unwrap_or("none");
            println!(
                "delivered {} blocks holding {} envelopes; hash chain verified; status {}{}",
                outcome.blocks,
                envelopes,
                status,
                outcome.reason.map(|r| format!(": {r}")).unwrap_or_default()
            );
            Ok(exit(outcome.status == Some(Status::Success)))
        }
        Command::Block {
            command:
                BlockCommand::Inspect {
                    target,
                    number,
                    file,
                },
        } => {
            let block = match file {
                Some(path) => {
                    let bytes = std::fs::read(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    Block::decode(bytes.as_slice())
                        .with_context(|| format!("{} is not a common.Block", path.display()))?
                }
                None => {
                    let mut c = client::connect(&target.server).await?;
                    fetch_block(&mut c, &target.channel, number).await?
                }
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&inspect::block_json(&block))?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
