//! `orderer-cli broadcast`.

use std::process::ExitCode;

use orderer_cli::broadcast;

use super::common::{Target, exit};

#[derive(Debug, clap::Args)]
pub(crate) struct BroadcastArgs {
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
}

pub(crate) async fn run(args: BroadcastArgs) -> anyhow::Result<ExitCode> {
    let BroadcastArgs {
        target,
        count,
        size,
        window,
    } = args;
    let (mut c, signer) = target.connect().await?;
    let channel = target.channel.clone();
    let report = broadcast::broadcast(&mut c, count, window, move |i| {
        signer.transaction(&channel, i, size)
    })
    .await?;
    for line in report.lines() {
        println!("{line}");
    }
    Ok(exit(report.all_succeeded()))
}
