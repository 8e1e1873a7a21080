//! `orderer-cli`: broadcast, deliver and inspect blocks against any Fabric-compatible
//! orderer.

mod cmd;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use orderer_api::proto::common::{Block, Status};
use orderer_cli::deliver::{
    ChainChecker, DeliverRequest, SignatureChecker, block_line, deliver, fetch_block,
};
use orderer_cli::envelopes::{Position, Signer, sample};
use orderer_cli::{bench, broadcast, client, inspect};
use orderer_msp::Msp;
use prost::Message;
use tonic::transport::Channel;

use cmd::common::{Target, Targets, exit, positive_rate, print_report, progress};

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
        /// Check the orderer's signature on every block (except the unsigned genesis
        /// block) against the orderer organization's CA.
        #[arg(long)]
        verify_signatures: bool,
        /// The orderer organization's MSP directory (cacerts/, intermediatecerts/).
        /// Default: the built-in sample CA (SampleOrg).
        #[arg(long, value_name = "DIR", requires = "orderer_mspid")]
        orderer_msp: Option<PathBuf>,
        /// MSP ID of --orderer-msp.
        #[arg(long)]
        orderer_mspid: Option<String>,
    },
    /// Measure an orderer: Broadcast throughput and latency while a Deliver stream
    /// watches every envelope land in a block; `bench deliver` measures replay.
    #[command(args_conflicts_with_subcommands = true)]
    Bench {
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
    },
    /// Read every orderer's chain of a channel over Deliver and check that they are
    /// identical header for header (naming the first differing block); with
    /// --acked, that every acknowledged tx id is in every chain, and in none twice.
    /// Exits non-zero when chains differ, or there are duplicates or lost envelopes.
    ChainCheck {
        #[command(flatten)]
        target: Targets,
        /// Acknowledged tx ids, one per line (`bench --acked-out`); repeat for more files.
        #[arg(long, value_name = "FILE")]
        acked: Vec<PathBuf>,
        /// Read the chains again until they are identical and hold every
        /// acknowledged envelope, for up to this many seconds (OSNs still catching
        /// up, envelopes acknowledged but not yet cut into a block).
        #[arg(long, default_value_t = 0)]
        wait: u64,
        /// Print one JSON object as the last line.
        #[arg(long)]
        json: bool,
    },
    /// Work with single blocks.
    Block {
        #[command(subcommand)]
        command: BlockCommand,
    },
    /// Create and check MSP directories (Fabric's layout).
    Msp {
        #[command(subcommand)]
        command: MspCommand,
    },
    /// Create channels and change their configuration with config updates.
    Channel {
        #[command(subcommand)]
        command: ChannelCommand,
    },
    /// Write a channel's genesis block from MSP directories, as configtxgen would
    /// from the equivalent profile (Fabric's sample defaults: V2_0 capabilities,
    /// ImplicitMeta channel policies, BatchSize 500 / 10 MB / 2 MB, BatchTimeout
    /// 2s). With --system, a system channel: --org's form the consortium
    /// (ChannelCreationPolicy: ANY Admins), boot orderers from it with
    /// General.BootstrapMethod: file and General.BootstrapFile, then create
    /// channels with `orderer-cli channel create`.
    Genesis {
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
        orderer_org: Vec<orderer_cli::genesis::OrgSpec>,
        /// A member organization, NAME:MSPID:DIR: of the consortium (--system) or
        /// of the Application group. Repeat for more.
        #[arg(long, value_name = "NAME:MSPID:DIR")]
        org: Vec<orderer_cli::genesis::OrgSpec>,
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
    },
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
    Create {
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
    },
    /// Change the channel's ordering settings (Orderer group): fetches the config in
    /// force, computes the CONFIG_UPDATE as `configtxlator compute_update` does, signs
    /// it as --msp-dir's identity (and --sign-with's) and broadcasts it. The orderer
    /// organizations' admins must sign (/Channel/Orderer/Admins).
    Update {
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
    },
}

fn parse_on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(format!("expected on or off, got {s:?}")),
    }
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
    Deliver {
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
    },
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

#[derive(Debug, Subcommand)]
enum MspCommand {
    /// Create an organization like cryptogen: a CA, a TLS CA, the organization's MSP
    /// and, for each identity, a local MSP (signcerts, keystore) and a TLS key pair.
    New {
        /// Directory to create it in.
        #[arg(long)]
        out: PathBuf,
        /// MSP ID of the organization.
        #[arg(long)]
        mspid: String,
        /// Names of the identities to issue, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "orderer,client")]
        identities: Vec<String>,
        /// Validity of every certificate, in days.
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
    /// Load an MSP directory and, if it holds one, its signing identity; print what
    /// was found, or what is wrong.
    Show {
        /// The MSP directory.
        #[arg(long)]
        dir: PathBuf,
        /// The MSP ID to load it as.
        #[arg(long)]
        mspid: String,
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

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Genesis {
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
        } => {
            let batch_timeout = batch_timeout
                .map(|t| {
                    orderer_api::duration::parse(&t)
                        .map_err(|e| anyhow::anyhow!("--batch-timeout {t:?}: {e}"))
                })
                .transpose()?;
            let spec = orderer_cli::genesis::GenesisSpec {
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
        Command::Channel {
            command:
                ChannelCommand::Create {
                    target,
                    consortium,
                    orgs,
                    sign_with,
                    output_block,
                    timeout,
                },
        } => {
            let cosigners = cosigners(&sign_with)?;
            let (mut c, signer) = target.connect().await?;
            let mut signers: Vec<&Signer> = vec![&signer];
            signers.extend(cosigners.iter());
            let creation = orderer_api::genesis::ChannelCreation::new(
                target.channel.clone(),
                consortium,
                orgs,
            );
            let timeout = Duration::from_secs(timeout);
            match orderer_cli::channel::create(&mut c, &signer, &signers, &creation, timeout)
                .await?
            {
                Ok(block) => {
                    let out = output_block
                        .unwrap_or_else(|| PathBuf::from(format!("{}.block", target.channel)));
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
        Command::Channel {
            command:
                ChannelCommand::Update {
                    target,
                    max_message_count,
                    absolute_max_bytes,
                    preferred_max_bytes,
                    batch_timeout,
                    maintenance,
                    sign_with,
                    no_update_signature,
                },
        } => {
            let edits = orderer_cli::channel::OrdererEdits {
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
                orderer_cli::channel::update(&mut c, &signer, &signers, &target.channel, &edits)
                    .await?;
            if info.is_empty() {
                println!("{}", status.as_str_name());
            } else {
                println!("{}: {info}", status.as_str_name());
            }
            Ok(exit(status == Status::Success))
        }
        Command::Broadcast {
            target,
            count,
            size,
            window,
        } => {
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
        Command::Deliver {
            target,
            seek,
            stop,
            follow,
            fail_if_not_ready,
            quiet,
            verify_signatures,
            orderer_msp,
            orderer_mspid,
        } => {
            let signatures = if verify_signatures {
                let msp = match (&orderer_msp, &orderer_mspid) {
                    (Some(dir), Some(id)) => Msp::load(dir, id)?,
                    _ => Msp::from_pem(sample::MSP_ID, sample::CA_PEM, b"")
                        .map_err(|e| anyhow::anyhow!("the built-in sample CA: {e}"))?,
                };
                Some(SignatureChecker::new(msp))
            } else {
                None
            };
            let (mut c, signer) = target.connect().await?;
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
            let mut signed = 0u64;
            let outcome = deliver(&mut c, &signer, &req, |block: Block| {
                checker
                    .check(&block)
                    .map_err(|e| anyhow::anyhow!("chain verification failed: {e}"))?;
                if let Some(s) = &signatures {
                    if s.check(&block)
                        .map_err(|e| anyhow::anyhow!("signature verification failed: {e}"))?
                        > 0
                    {
                        signed += 1;
                    }
                }
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
            let signature_note = if signatures.is_some() {
                format!("; orderer signatures verified on {signed} blocks")
            } else {
                String::new()
            };
            println!(
                "delivered {} blocks holding {} envelopes; hash chain verified{}; status {}{}",
                outcome.blocks,
                envelopes,
                signature_note,
                status,
                outcome.reason.map(|r| format!(": {r}")).unwrap_or_default()
            );
            Ok(exit(outcome.status == Some(Status::Success)))
        }
        Command::Bench {
            command:
                Some(BenchCommand::Deliver {
                    target,
                    seek,
                    follow,
                    json,
                    ..
                }),
            ..
        } if follow.followers.is_some() => {
            let FollowArgs {
                followers,
                count,
                size,
                streams,
                connections,
                window,
                rate,
                timeout,
                orderer_pid,
            } = *follow;
            let followers = followers.unwrap_or_default();
            let shared = connections.unwrap_or(followers).min(followers);
            if followers == 0 || streams == 0 || shared == 0 {
                anyhow::bail!("--followers, --streams and --connections must be at least 1");
            }
            positive_rate(rate)?;
            let (signer, tls) = target.credentials()?;
            let workload = bench::Workload::prepare(&signer, &target.channel, count, size)?;
            let connect = |n: usize| {
                let (server, tls) = (target.server.clone(), tls.clone());
                async move {
                    let mut out = Vec::with_capacity(n);
                    for _ in 0..n {
                        out.push(client::channel(&server, tls.as_ref()).await?);
                    }
                    anyhow::Ok(out)
                }
            };
            // Clones of a channel share its connection. With --connections every
            // stream rides the shared ones, Broadcast too, as in an application
            // whose gRPC library keeps one connection per target (grpc-js):
            // follower i on connection i mod --connections.
            let (connections, follower_connections, watcher) = match connections {
                Some(n) => {
                    let shared = connect(n.min(followers)).await?;
                    let on_shared = |k: usize| -> Vec<Channel> {
                        (0..k).map(|i| shared[i % shared.len()].clone()).collect()
                    };
                    (on_shared(streams), on_shared(followers), shared[0].clone())
                }
                None => (
                    connect(streams).await?,
                    connect(followers).await?,
                    client::channel(&target.server, tls.as_ref()).await?,
                ),
            };
            let seek = signer
                .seek(
                    &target.channel,
                    seek.unwrap_or(Position::Newest),
                    Position::Number(u64::MAX),
                    false,
                )?
                .encode_to_vec();
            let config = bench::FollowBench {
                broadcast: bench::BroadcastBench {
                    channel: target.channel.clone(),
                    count,
                    size,
                    streams,
                    window,
                    rate,
                    repeat: 1,
                    idle_timeout: Duration::from_secs(timeout.max(1)),
                    progress: false,
                },
                followers,
                connections: shared,
                orderer_pid,
            };
            let result = bench::follow_chain(
                &config,
                workload,
                connections,
                watcher,
                follower_connections,
                seek.into(),
            )
            .await?;
            print_report(&result.lines(), json.then(|| result.json()));
            Ok(exit(result.complete()))
        }
        Command::Bench {
            command:
                Some(BenchCommand::Deliver {
                    target,
                    seek,
                    stop,
                    verify,
                    json,
                    ..
                }),
            ..
        } => {
            let seek = seek.unwrap_or(Position::Oldest);
            let stop = stop.unwrap_or(Position::Newest);
            let (signer, tls) = target.credentials()?;
            let connection = client::channel(&target.server, tls.as_ref()).await?;
            let seek = signer
                .seek(&target.channel, seek, stop, true)?
                .encode_to_vec();
            let result = bench::deliver(connection, seek.into(), verify, progress()).await?;
            print_report(&result.lines(), json.then(|| result.json()));
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command: None,
            target,
            count,
            size,
            streams,
            window,
            rate,
            repeat,
            timeout,
            resend,
            json,
        } => {
            let ResendArgs {
                resend,
                deadline,
                backoff_ms,
                acked_out,
            } = *resend;
            if streams == 0 {
                anyhow::bail!("--streams must be at least 1");
            }
            positive_rate(rate)?;
            let (signer, tls) = target.credentials()?;
            let setup = Instant::now();
            let workload = bench::Workload::prepare(&signer, &target.channel, count, size)?;
            eprintln!(
                "prepared {count} {} envelopes in {:.2} s",
                if signer.identity().is_some() {
                    "signed"
                } else {
                    "unsigned"
                },
                setup.elapsed().as_secs_f64()
            );
            if resend {
                if repeat != 1 {
                    anyhow::bail!("--resend sends the workload once: drop --repeat");
                }
                let config = orderer_cli::bench_resend::ResendBench {
                    servers: target.servers.clone(),
                    tls,
                    streams,
                    window,
                    rate,
                    backoff: Duration::from_millis(backoff_ms),
                    response_timeout: Duration::from_secs(timeout.max(1)),
                    deadline: Duration::from_secs(deadline),
                    acked_out,
                };
                let result = orderer_cli::bench_resend::broadcast(&config, workload).await?;
                print_report(&result.lines(), json.then(|| result.json()));
                return Ok(exit(result.complete()));
            }
            // Streams take the servers in turn; the watcher reads the first one's chain.
            let mut connections = Vec::with_capacity(streams);
            for k in 0..streams {
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
                count,
                size,
                streams,
                window,
                rate,
                repeat,
                idle_timeout: Duration::from_secs(timeout.max(1)),
                progress: progress(),
            };
            let result =
                bench::broadcast(&config, workload, connections, watcher, seek.into()).await?;
            print_report(&result.lines(), json.then(|| result.json()));
            Ok(exit(result.complete()))
        }
        Command::ChainCheck {
            target,
            acked,
            wait,
            json,
        } => {
            let (signer, tls) = target.credentials()?;
            let mut ids = None;
            for path in &acked {
                ids.get_or_insert_with(Vec::new)
                    .extend(orderer_cli::chain_check::read_acked(path)?);
            }
            let until = Instant::now() + Duration::from_secs(wait);
            let report = loop {
                let mut chains = Vec::with_capacity(target.servers.len());
                let mut failed = None;
                for server in &target.servers {
                    match orderer_cli::chain_check::read_chain(
                        server,
                        tls.as_ref(),
                        &signer,
                        &target.channel,
                    )
                    .await
                    {
                        Ok(c) => chains.push(c),
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                let settled = match failed {
                    Some(e) if Instant::now() >= until => return Err(e),
                    Some(_) => None,
                    None => {
                        let r = orderer_cli::chain_check::check(&chains, ids.as_deref());
                        (r.difference.is_none() && r.lost == 0 || Instant::now() >= until)
                            .then_some(r)
                    }
                };
                if let Some(r) = settled {
                    break r;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            };
            print_report(&report.lines(), json.then(|| report.json()));
            Ok(exit(report.ok()))
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
        Command::Msp {
            command:
                MspCommand::New {
                    out,
                    mspid,
                    identities,
                    days,
                },
        } => {
            orderer_msp::generate::new_org(&out, &mspid, &identities, days)
                .map_err(anyhow::Error::msg)?;
            println!(
                "created organization {mspid} in {}: MSP in msp/, identities {}; keep ca/ and tlsca/ private",
                out.display(),
                identities.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Msp {
            command: MspCommand::Show { dir, mspid },
        } => {
            let msp = orderer_msp::Msp::load(&dir, &mspid)?;
            println!(
                "MSP {mspid}: {} root CA(s), {} TLS CA(s)",
                msp.root_ders().len(),
                msp.tls_roots().len()
            );
            if dir.join("signcerts").is_dir() {
                let id = orderer_msp::SigningIdentity::load(&dir, &mspid)?;
                let verifier = orderer_msp::Verifier::new([msp]);
                let who = verifier.identify(id.serialized(), orderer_msp::now())?;
                let sig = id.sign(b"msp show").map_err(anyhow::Error::msg)?;
                who.verify(b"msp show", &sig)?;
                println!("signing identity: valid, chains to the MSP's CA, signs and verifies");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
