//! `orderer-cli bench`: Broadcast throughput and latency (this module, with or
//! without --resend) and `bench deliver` (the `deliver` submodule).

mod deliver;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use orderer_cli::bench::{self, Workload};
use orderer_cli::bench_resend::{self, ResendBench};
use orderer_cli::client::{self, Tls};
use orderer_cli::envelopes::{Position, Signer};
use prost::Message;

use super::common::{Targets, exit, positive_rate, print_report, progress};

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    #[command(flatten)]
    target: Targets,
    /// Number of envelopes.
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// Size of each envelope in bytes (payload plus signature, headers included).
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Concurrent Broadcast streams, one connection each.
    #[arg(long, default_value_t = 16)]
    streams: usize,
    /// Envelopes each stream sends ahead of their responses.
    #[arg(long, default_value_t = 512)]
    window: usize,
    /// Pace the sends at this many envelopes per second in total (default: as
    /// fast as the orderer takes them). Latency is measured from the actual send.
    #[arg(long)]
    rate: Option<f64>,
    /// Send the workload this many times (signed once), each round after the
    /// previous one is in blocks: long runs without signing millions of envelopes
    /// (within General.Authentication.TimeWindow of the signing, 15 minutes by default).
    #[arg(long, default_value_t = 1)]
    repeat: u64,
    /// Give up when no response or block arrives for this many seconds (with
    /// --resend: a stream silent this long with envelopes in flight is broken).
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    #[command(flatten)]
    resend: Box<ResendArgs>,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Replay blocks over Deliver as fast as the orderer sends them (default: the
    /// whole chain, oldest to newest) and report blocks/s and MB/s.
    ///
    /// With --followers N: N streams (one connection each, or sharing --connections)
    /// follow the chain from
    /// --seek (default newest) while --count envelopes are broadcast; reports the time
    /// until every follower has the last block of the run, and blocks/s delivered.
    Deliver(deliver::DeliverArgs),
}

/// `bench --resend`: a client resending like a Fabric SDK.
#[derive(Debug, Args)]
struct ResendArgs {
    /// Behave like a Fabric SDK under faults: an envelope answered anything but
    /// SUCCESS, or in flight on a stream that broke, is sent again (the same
    /// bytes) after --backoff-ms, until SUCCESS or --deadline; a broken stream
    /// reconnects to the next --server. No block watcher: check the chains with
    /// `orderer-cli chain-check --acked`.
    #[arg(long)]
    resend: bool,
    /// With --resend: give up on what is not acknowledged after this many seconds.
    #[arg(long, default_value_t = 600, requires = "resend")]
    deadline: u64,
    /// With --resend: milliseconds before a resend or a reconnection.
    #[arg(long, default_value_t = 500, requires = "resend")]
    backoff_ms: u64,
    /// Write one tx id per line for every envelope answered SUCCESS.
    #[arg(long, value_name = "FILE", requires = "resend")]
    acked_out: Option<PathBuf>,
}

impl BenchArgs {
    /// Whether this is a replay: one Deliver stream.
    pub(crate) fn one_stream(&self) -> bool {
        matches!(&self.command, Some(BenchCommand::Deliver(args)) if args.one_stream())
    }
}

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(BenchCommand::Deliver(args)) => deliver::run(args).await,
        None => broadcast(args).await,
    }
}

/// `bench` without a subcommand: the Broadcast benchmark, with a block watcher or
/// (--resend) resending.
async fn broadcast(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if args.streams == 0 {
        anyhow::bail!("--streams must be at least 1");
    }
    positive_rate(args.rate)?;
    let (signer, tls) = args.target.credentials()?;
    let setup = Instant::now();
    let workload = Workload::prepare(&signer, &args.target.channel, args.count, args.size)?;
    eprintln!(
        "prepared {} {} envelopes in {:.2} s",
        args.count,
        if signer.identity().is_some() {
            "signed"
        } else {
            "unsigned"
        },
        setup.elapsed().as_secs_f64()
    );
    if args.resend.resend {
        return resend(&args, tls, workload).await;
    }
    watched(&args, &signer, tls, workload).await
}

/// `bench --resend`: no block watcher; what was acknowledged is checked afterwards
/// with `chain-check --acked`.
async fn resend(
    args: &BenchArgs,
    tls: Option<Tls>,
    workload: Workload,
) -> anyhow::Result<ExitCode> {
    if args.repeat != 1 {
        anyhow::bail!("--resend sends the workload once: drop --repeat");
    }
    let config = ResendBench {
        servers: args.target.servers.clone(),
        tls,
        streams: args.streams,
        window: args.window,
        rate: args.rate,
        backoff: Duration::from_millis(args.resend.backoff_ms),
        response_timeout: Duration::from_secs(args.timeout.max(1)),
        deadline: Duration::from_secs(args.resend.deadline),
        acked_out: args.resend.acked_out.clone(),
    };
    let result = bench_resend::broadcast(&config, workload).await?;
    print_report(&result.lines(), args.json.then(|| result.json()));
    Ok(exit(result.complete()))
}

/// The Broadcast benchmark with a Deliver stream watching the envelopes land in
/// blocks.
async fn watched(
    args: &BenchArgs,
    signer: &Signer,
    tls: Option<Tls>,
    workload: Workload,
) -> anyhow::Result<ExitCode> {
    let target = &args.target;
    // Streams take the servers in turn; the watcher reads the first one's chain.
    let mut connections = Vec::with_capacity(args.streams);
    for k in 0..args.streams {
        let server = &target.servers[k % target.servers.len()];
        connections.push(client::channel(server, tls.as_ref()).await?);
    }
    let watcher = client::channel(&target.servers[0], tls.as_ref()).await?;
    let seek = signer
        .seek(
            &target.channel,
            Position::Newest,
            Position::Number(u64::MAX),
            false,
        )?
        .encode_to_vec();
    let config = bench::BroadcastBench {
        channel: target.channel.clone(),
        count: args.count,
        size: args.size,
        streams: args.streams,
        window: args.window,
        rate: args.rate,
        repeat: args.repeat,
        idle_timeout: Duration::from_secs(args.timeout.max(1)),
        progress: progress(),
    };
    let result = bench::broadcast(&config, workload, connections, watcher, seek.into()).await?;
    print_report(&result.lines(), args.json.then(|| result.json()));
    Ok(exit(result.complete()))
}
