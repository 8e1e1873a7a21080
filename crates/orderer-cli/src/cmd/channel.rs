//! `orderer-cli channel`: create channels and change their configuration.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use orderer_api::proto::common::Status;
use orderer_cli::channel::{self, OrdererEdits};
use orderer_cli::envelopes::Signer;
use prost::Message;

use super::common::{Target, exit};

#[derive(Debug, clap::Args)]
pub(crate) struct ChannelArgs {
    #[command(subcommand)]
    command: ChannelCommand,
}

#[derive(Debug, Subcommand)]
enum ChannelCommand {
    /// Create a channel through a system channel, as `configtxgen
    /// -outputCreateChannelTx` then `peer channel create` do: builds the creation
    /// request (Application group with Fabric's sample policies, ACLs and V2_0;
    /// the orgs' definitions come from the consortium), signs it as --msp-dir's
    /// identity (and --sign-with's), broadcasts it on --channel, then fetches the
    /// new channel's block 0 (retrying a few seconds) and writes it. An admin of
    /// a consortium member must sign (ChannelCreationPolicy: ANY Admins).
    Create(CreateArgs),
    /// Change the channel's ordering settings (Orderer group): fetches the config in
    /// force, computes the CONFIG_UPDATE as `configtxlator compute_update` does, signs
    /// it as --msp-dir's identity (and --sign-with's) and broadcasts it. The orderer
    /// organizations' admins must sign (/Channel/Orderer/Admins).
    Update(UpdateArgs),
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    #[command(flatten)]
    target: Target,
    /// The consortium of the system channel to create it in.
    #[arg(long, default_value = "SampleConsortium")]
    consortium: String,
    /// The consortium's organizations (config group names, e.g. Org1) that
    /// become the channel's members, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    orgs: Vec<String>,
    /// Also sign the request as the identity of this local MSP: DIR=MSPID.
    /// Repeat for more signatures.
    #[arg(long, value_name = "DIR=MSPID")]
    sign_with: Vec<String>,
    /// Where to write block 0 (default: CHANNEL.block).
    #[arg(long, value_name = "FILE")]
    output_block: Option<PathBuf>,
    /// How many seconds to wait for block 0.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

#[derive(Debug, clap::Args)]
struct UpdateArgs {
    #[command(flatten)]
    target: Target,
    /// Orderer.BatchSize.MaxMessageCount.
    #[arg(long)]
    max_message_count: Option<u32>,
    /// Orderer.BatchSize.AbsoluteMaxBytes, in bytes.
    #[arg(long)]
    absolute_max_bytes: Option<u32>,
    /// Orderer.BatchSize.PreferredMaxBytes, in bytes.
    #[arg(long)]
    preferred_max_bytes: Option<u32>,
    /// Orderer.BatchTimeout, e.g. 500ms or 2s.
    #[arg(long)]
    batch_timeout: Option<String>,
    /// Maintenance mode (ConsensusType.State): on or off.
    #[arg(long, value_parser = parse_on_off)]
    maintenance: Option<bool>,
    /// Also sign the update as the identity of this local MSP: DIR=MSPID. Repeat
    /// for more signatures.
    #[arg(long, value_name = "DIR=MSPID")]
    sign_with: Vec<String>,
    /// Only the envelope is signed, the update itself carries no signature (to
    /// see the orderer refuse it).
    #[arg(long, conflicts_with = "sign_with")]
    no_update_signature: bool,
}

fn parse_on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(format!("expected on or off, got {s:?}")),
    }
}

pub(crate) async fn run(args: ChannelArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ChannelCommand::Create(args) => create(args).await,
        ChannelCommand::Update(args) => update(args).await,
    }
}

/// The signers of `--sign-with DIR=MSPID` options.
fn cosigners(specs: &[String]) -> anyhow::Result<Vec<Signer>> {
    let mut out = Vec::new();
    for spec in specs {
        let (dir, id) = spec
            .rsplit_once('=')
            .with_context(|| format!("--sign-with {spec:?}: expected DIR=MSPID"))?;
        out.push(Signer::load(dir.as_ref(), id)?);
    }
    Ok(out)
}

async fn create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    let CreateArgs {
        target,
        consortium,
        orgs,
        sign_with,
        output_block,
        timeout,
    } = args;
    let cosigners = cosigners(&sign_with)?;
    let (mut c, signer) = target.connect().await?;
    let mut signers: Vec<&Signer> = vec![&signer];
    signers.extend(cosigners.iter());
    let creation =
        orderer_api::genesis::ChannelCreation::new(target.channel.clone(), consortium, orgs);
    let timeout = Duration::from_secs(timeout);
    match channel::create(&mut c, &signer, &signers, &creation, timeout).await? {
        Ok(block) => {
            let out =
                output_block.unwrap_or_else(|| PathBuf::from(format!("{}.block", target.channel)));
            std::fs::write(&out, block.encode_to_vec())
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "SUCCESS: created channel {}; block 0 written to {}",
                target.channel,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err((status, info)) => {
            println!("{}: {info}", status.as_str_name());
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn update(args: UpdateArgs) -> anyhow::Result<ExitCode> {
    let UpdateArgs {
        target,
        max_message_count,
        absolute_max_bytes,
        preferred_max_bytes,
        batch_timeout,
        maintenance,
        sign_with,
        no_update_signature,
    } = args;
    let edits = OrdererEdits {
        max_message_count,
        absolute_max_bytes,
        preferred_max_bytes,
        batch_timeout,
        maintenance,
    };
    let cosigners = cosigners(&sign_with)?;
    let (mut c, signer) = target.connect().await?;
    let mut signers: Vec<&Signer> = Vec::new();
    if !no_update_signature {
        signers.push(&signer);
        signers.extend(cosigners.iter());
    }
    let (status, info) =
        channel::update(&mut c, &signer, &signers, &target.channel, &edits).await?;
    if info.is_empty() {
        println!("{}", status.as_str_name());
    } else {
        println!("{}: {info}", status.as_str_name());
    }
    Ok(exit(status == Status::Success))
}
