//! `orderer-cli genesis`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use orderer_cli::genesis::{GenesisSpec, OrgSpec};
use prost::Message;

#[derive(Debug, clap::Args)]
pub(crate) struct GenesisArgs {
    /// Where to write the block (a marshalled common.Block).
    #[arg(long)]
    out: PathBuf,
    /// The channel's ID.
    #[arg(long, default_value = "system-channel")]
    channel: String,
    /// Make a system channel (a Consortiums group, no Application group).
    #[arg(long)]
    system: bool,
    /// --system: the consortium's name.
    #[arg(long, default_value = "SampleConsortium", requires = "system")]
    consortium: String,
    /// An ordering organization, NAME:MSPID:DIR (DIR: its MSP directory,
    /// cacerts/ etc.). Repeat for more.
    #[arg(long, value_name = "NAME:MSPID:DIR", required = true)]
    orderer_org: Vec<OrgSpec>,
    /// A member organization, NAME:MSPID:DIR: of the consortium (--system) or
    /// of the Application group. Repeat for more.
    #[arg(long, value_name = "NAME:MSPID:DIR")]
    org: Vec<OrgSpec>,
    /// Order through Kafka with these seed brokers (host:port, comma-separated);
    /// without it, solo.
    #[arg(long, value_delimiter = ',')]
    kafka_brokers: Vec<String>,
    /// The ordering nodes' host:port (/Channel/OrdererAddresses), comma-separated.
    #[arg(long, value_delimiter = ',')]
    orderer_addresses: Vec<String>,
    /// Orderer.BatchTimeout, e.g. 500ms or 2s.
    #[arg(long)]
    batch_timeout: Option<String>,
    /// Orderer.BatchSize.MaxMessageCount.
    #[arg(long)]
    max_message_count: Option<u32>,
    /// --system: how many channels it may create (ChannelRestrictions.MaxCount;
    /// 0, the default, is no limit).
    #[arg(long, default_value_t = 0)]
    max_channels: u64,
}

pub(crate) fn run(args: GenesisArgs) -> anyhow::Result<ExitCode> {
    let GenesisArgs {
        out,
        channel,
        system,
        consortium,
        orderer_org,
        org,
        kafka_brokers,
        orderer_addresses,
        batch_timeout,
        max_message_count,
        max_channels,
    } = args;
    let batch_timeout = batch_timeout
        .map(|t| {
            orderer_api::duration::parse(&t)
                .map_err(|e| anyhow::anyhow!("--batch-timeout {t:?}: {e}"))
        })
        .transpose()?;
    let spec = GenesisSpec {
        channel_id: channel.clone(),
        system,
        consortium,
        orderer_orgs: orderer_org,
        orgs: org,
        kafka_brokers,
        orderer_addresses,
        batch_timeout,
        max_message_count,
        max_channels,
    };
    let block = spec.block()?;
    std::fs::write(&out, block.encode_to_vec())
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote the genesis block of {} channel {channel} to {}",
        if system { "system" } else { "application" },
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
