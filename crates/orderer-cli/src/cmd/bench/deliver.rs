//! `orderer-cli bench deliver`: replay a chain, or (--followers) follow it while
//! envelopes are broadcast.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use orderer_cli::bench::{self, Workload};
use orderer_cli::client::{self, Tls};
use orderer_cli::envelopes::Position;
use prost::Message;
use tonic::transport::Channel;

use crate::cmd::common::{Target, exit, positive_rate, print_report, progress};

#[derive(Debug, Args)]
pub(crate) struct DeliverArgs {
    #[command(flatten)]
    target: Target,
    /// First block: oldest (-2), newest (-1) or a number [default: oldest, or
    /// newest with --followers].
    #[arg(long, allow_hyphen_values = true)]
    seek: Option<Position>,
    /// Last block: newest (as of the request) or a number [default: newest].
    #[arg(long, allow_hyphen_values = true, conflicts_with = "followers")]
    stop: Option<Position>,
    /// Decode every block and verify the hash chain (costs client CPU).
    #[arg(long, conflicts_with = "followers")]
    verify: bool,
    #[command(flatten)]
    follow: Box<FollowArgs>,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
}

impl DeliverArgs {
    /// A replay (no --followers): one stream.
    pub(crate) fn one_stream(&self) -> bool {
        self.follow.followers.is_none()
    }
}

/// `bench deliver --followers`: the fan-out benchmark's options.
#[derive(Debug, Args)]
struct FollowArgs {
    /// Deliver streams following the chain while envelopes are broadcast.
    #[arg(long)]
    followers: Option<usize>,
    /// With --followers: number of envelopes broadcast.
    #[arg(long, default_value_t = 2_000)]
    count: u64,
    /// With --followers: size of each envelope in bytes.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// With --followers: concurrent Broadcast streams, one connection each.
    #[arg(long, default_value_t = 16)]
    streams: usize,
    /// With --followers: every stream (followers and Broadcast) shares this many
    /// connections, multiplexed over HTTP/2, as grpc-js shares one connection per
    /// target [default: one connection per follower and per Broadcast stream].
    #[arg(long)]
    connections: Option<usize>,
    /// With --followers: envelopes each Broadcast stream sends ahead of responses.
    #[arg(long, default_value_t = 512)]
    window: usize,
    /// With --followers: pace the sends at this many envelopes per second in total,
    /// so that the batch timeout cuts many small blocks (default: as fast as the
    /// orderer takes them).
    #[arg(long)]
    rate: Option<f64>,
    /// With --followers: give up when no response or block arrives for this many
    /// seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// With --followers: the orderer's process id (same machine), to report its
    /// peak resident memory (VmHWM).
    #[arg(long)]
    orderer_pid: Option<u32>,
}

pub(crate) async fn run(args: DeliverArgs) -> anyhow::Result<ExitCode> {
    match args.follow.followers {
        Some(followers) => follow(&args, followers).await,
        None => replay(&args).await,
    }
}

/// Replays the chain (--seek to --stop) as fast as the orderer sends it.
async fn replay(args: &DeliverArgs) -> anyhow::Result<ExitCode> {
    let target = &args.target;
    let seek = args.seek.unwrap_or(Position::Oldest);
    let stop = args.stop.unwrap_or(Position::Newest);
    let (signer, tls) = target.credentials()?;
    let connection = client::channel(&target.server, tls.as_ref()).await?;
    let seek = signer
        .seek(&target.channel, seek, stop, true)?
        .encode_to_vec();
    let result = bench::deliver(connection, seek.into(), args.verify, progress()).await?;
    print_report(&result.lines(), args.json.then(|| result.json()));
    Ok(ExitCode::SUCCESS)
}

/// The connections of a fan-out run: the Broadcast streams', the followers', and the
/// block watcher's.
#[derive(Debug)]
struct Connections {
    broadcast: Vec<Channel>,
    followers: Vec<Channel>,
    watcher: Channel,
}

/// `--followers N`: N Deliver streams follow the chain while envelopes are broadcast.
async fn follow(args: &DeliverArgs, followers: usize) -> anyhow::Result<ExitCode> {
    let target = &args.target;
    let f = &*args.follow;
    let shared = f.connections.unwrap_or(followers).min(followers);
    if followers == 0 || f.streams == 0 || shared == 0 {
        anyhow::bail!("--followers, --streams and --connections must be at least 1");
    }
    positive_rate(f.rate)?;
    let (signer, tls) = target.credentials()?;
    let workload = Workload::prepare(&signer, &target.channel, f.count, f.size)?;
    let connections = connect(target, tls.as_ref(), f, followers).await?;
    let seek = signer
        .seek(
            &target.channel,
            args.seek.unwrap_or(Position::Newest),
            Position::Number(u64::MAX),
            false,
        )?
        .encode_to_vec();
    let config = bench::FollowBench {
        broadcast: bench::BroadcastBench {
            channel: target.channel.clone(),
            count: f.count,
            size: f.size,
            streams: f.streams,
            window: f.window,
            rate: f.rate,
            repeat: 1,
            idle_timeout: Duration::from_secs(f.timeout.max(1)),
            progress: false,
        },
        followers,
        connections: shared,
        orderer_pid: f.orderer_pid,
    };
    let result = bench::follow_chain(
        &config,
        workload,
        connections.broadcast,
        connections.watcher,
        connections.followers,
        seek.into(),
    )
    .await?;
    print_report(&result.lines(), args.json.then(|| result.json()));
    Ok(exit(result.complete()))
}

/// Opens the fan-out run's connections.
async fn connect(
    target: &Target,
    tls: Option<&Tls>,
    f: &FollowArgs,
    followers: usize,
) -> anyhow::Result<Connections> {
    let open = |n: usize| async move {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(client::channel(&target.server, tls).await?);
        }
        anyhow::Ok(out)
    };
    // Clones of a channel share its connection. With --connections every
    // stream rides the shared ones, Broadcast too, as in an application
    // whose gRPC library keeps one connection per target (grpc-js):
    // follower i on connection i mod --connections.
    Ok(match f.connections {
        Some(n) => {
            let shared = open(n.min(followers)).await?;
            let on_shared = |k: usize| -> Vec<Channel> {
                (0..k).map(|i| shared[i % shared.len()].clone()).collect()
            };
            Connections {
                broadcast: on_shared(f.streams),
                followers: on_shared(followers),
                watcher: shared[0].clone(),
            }
        }
        None => Connections {
            broadcast: open(f.streams).await?,
            followers: open(followers).await?,
            watcher: client::channel(&target.server, tls).await?,
        },
    })
}
