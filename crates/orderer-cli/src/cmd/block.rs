//! `orderer-cli block`: work with single blocks.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use orderer_api::proto::common::Block;
use orderer_cli::deliver::fetch_block;
use orderer_cli::envelopes::Position;
use orderer_cli::inspect;
use prost::Message;

use super::common::Target;

#[derive(Debug, clap::Args)]
pub(crate) struct BlockArgs {
    #[command(subcommand)]
    command: BlockCommand,
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

pub(crate) async fn run(args: BlockArgs) -> anyhow::Result<ExitCode> {
    let BlockCommand::Inspect {
        target,
        number,
        file,
    } = args.command;
    let block = match file {
        Some(path) => {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            Block::decode(bytes.as_slice())
                .with_context(|| format!("{} is not a common.Block", path.display()))?
        }
        None => {
            let (mut c, signer) = target.connect().await?;
            fetch_block(&mut c, &signer, &target.channel, number).await?
        }
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&inspect::block_json(&block))?
    );
    Ok(ExitCode::SUCCESS)
}
