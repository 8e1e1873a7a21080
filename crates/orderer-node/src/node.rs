//! Starting and stopping the node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tracing::{error, info, warn};

use crate::bootstrap::ChannelPlan;
use crate::broadcast::BroadcastHandler;
use crate::bundle::Bundle;
use crate::config::{Config, MetricsProvider};
use crate::consenters::Consenters;
use crate::deliver::DeliverHandler;
use crate::ledger::Ledger;
use crate::registry::{Channel, Registry};
use crate::security::Security;
use crate::server::{AtomicBroadcastServer, Service};
use crate::shutdown::{ShutdownTrigger, shutdown_pair};
use crate::support::ChannelSupport;
use crate::tls::{self, ListenerTls, Material};

/// How long a graceful stop waits for open streams before closing them anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrent gRPC streams one connection may open.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 128;
/// How often the metrics recorder drains its histogram samples into buckets.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// A started node.
#[derive(Debug)]
pub struct RunningNode {
    /// The address the gRPC server listens on.
    pub grpc_addr: SocketAddr,
    /// The address the operations server listens on.
    pub ops_addr: SocketAddr,
    registry: Arc<Registry>,
    trigger: ShutdownTrigger,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
}

/// Opens every channel, starts its chain and the gRPC server.
pub async fn start(config: Config, consenters: Consenters) -> anyhow::Result<RunningNode> {
    let plans = crate::bootstrap::plans(&config)?;
    start_plans(config, plans, consenters).await
}

/// [`start`] with the channels already planned.
pub async fn start_plans(
    config: Config,
    plans: Vec<ChannelPlan>,
    consenters: Consenters,
) -> anyhow::Result<RunningNode> {
    let ledger_root = std::path::PathBuf::from(&config.file_ledger.location);
    for (key, dir) in [
        ("Debug.BroadcastTraceDir", &config.debug.broadcast_trace_dir),
        ("Debug.DeliverTraceDir", &config.debug.deliver_trace_dir),
    ] {
        if !dir.is_empty() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{key} {dir}: cannot create the directory"))?;
        }
    }
    std::fs::create_dir_all(&ledger_root).with_context(|| {
        format!(
            "FileLedger.Location {}: cannot create the ledger directory",
            ledger_root.display()
        )
    })?;
    let metrics = crate::metrics::install(config.metrics.provider == MetricsProvider::Prometheus);
    let security = Arc::new(Security::load(&config)?);
    let (grpc_tls, ops_tls) = load_tls(&config)?;

    let mut registry = Registry::default();
    for plan in plans {
        let channel = open_channel(&config, plan, &ledger_root, &consenters, &security).await?;
        registry.insert(channel);
    }
    let registry = Arc::new(registry);

    let addr = config.grpc_address();
    let listener = TcpListener::bind(&addr).await.with_context(|| {
        format!("General.ListenAddress/General.ListenPort {addr}: cannot listen")
    })?;
    let grpc_addr = listener.local_addr()?;
    let (trigger, shutdown) = shutdown_pair();
    let service = Service::new(
        Arc::new(BroadcastHandler::new(
            registry.clone(),
            security.clone(),
            shutdown.clone(),
        )),
        Arc::new(DeliverHandler::new(
            registry.clone(),
            security.clone(),
            shutdown.clone(),
        )),
    )
    .with_trace_dirs(
        &config.debug.broadcast_trace_dir,
        &config.debug.deliver_trace_dir,
    );
    let server = AtomicBroadcastServer::new(service)
        .max_decoding_message_size(config.general.max_recv_msg_size.0 as usize)
        .max_encoding_message_size(config.general.max_send_msg_size.0 as usize);
    let mut stop = shutdown.clone();
    // Streams per connection are bounded, and each stream's memory is (see
    // broadcast::CHECK_BYTES, deliver::STREAM_BUFFER_BYTES): one client cannot take
    // the node's memory through one connection.
    let mut builder = tonic::transport::Server::builder()
        .max_concurrent_streams(Some(MAX_STREAMS_PER_CONNECTION))
        .http2_keepalive_interval(Some(config.general.keepalive.server_interval.0))
        .http2_keepalive_timeout(Some(config.general.keepalive.server_timeout.0));
    if let Some(tls) = &grpc_tls {
        builder = builder
            .tls_config(tls.tonic())
            .context("General.TLS: the TLS settings were refused")?;
    }
    let server = tokio::spawn(
        builder
            .add_service(server)
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                stop.wait().await
            }),
    );
    if let Some(handle) = metrics.clone() {
        // Histogram samples pile up in the recorder until drained: without upkeep
        // (scrapes drain too, but nobody may scrape) memory grows with every envelope.
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
            loop {
                tokio::select! {
                    _ = tick.tick() => handle.run_upkeep(),
                    _ = stop.wait() => break,
                }
            }
        });
    }
    let ops_addr = crate::ops::serve(
        &config.operations.listen_address,
        crate::ops::OpsState {
            registry: registry.clone(),
            metrics,
            log_filter: crate::telemetry::log_filter(),
            tls: ops_tls,
        },
        shutdown.clone(),
    )
    .await?;
    info!(
        address = %grpc_addr,
        operations = %ops_addr,
        tls = grpc_tls.is_some(),
        mutual_tls = grpc_tls.as_ref().is_some_and(|t| t.client_auth_required),
        "orderer serving AtomicBroadcast"
    );
    Ok(RunningNode {
        grpc_addr,
        ops_addr,
        registry,
        trigger,
        server,
    })
}

/// The checked TLS material of the gRPC and operations listeners, when enabled.
fn load_tls(config: &Config) -> anyhow::Result<(Option<Material>, Option<Material>)> {
    let g = &config.general.tls;
    let grpc = g
        .enabled
        .then(|| {
            tls::load(ListenerTls {
                section: "General",
                private_key: &g.private_key,
                certificate: &g.certificate,
                chain: &g.root_cas,
                client_auth_required: g.client_auth_required,
                client_root_cas: &g.client_root_cas,
                anonymous_clients: false,
            })
        })
        .transpose()?;
    let o = &config.operations.tls;
    let ops = o
        .enabled
        .then(|| {
            tls::load(ListenerTls {
                section: "Operations",
                private_key: &o.private_key,
                certificate: &o.certificate,
                chain: &o.root_cas,
                client_auth_required: o.client_auth_required,
                client_root_cas: &o.client_root_cas,
                anonymous_clients: true,
            })
        })
        .transpose()?;
    Ok((grpc, ops))
}

/// Opens one channel: its ledger (writing the planned block 0 when new), the
/// configuration in force, and its chain.
async fn open_channel(
    config: &Config,
    plan: ChannelPlan,
    ledger_root: &std::path::Path,
    consenters: &Consenters,
    security: &Security,
) -> anyhow::Result<Channel> {
    let id = plan.id.clone();
    let (ledger, recovery) = Ledger::open(ledger_root, &id)
        .await
        .with_context(|| format!("channel {id}: opening the ledger"))?;
    if recovery.truncated_bytes > 0 {
        warn!(channel = %id, bytes = recovery.truncated_bytes, "recovered from a torn write");
    }
    let existing = ledger.height() > 0;
    let support = Arc::new(
        ChannelSupport::open(
            ledger,
            plan.genesis.clone(),
            Some(security.signer().clone()),
        )
        .await
        .with_context(|| format!("channel {id}: reading the ledger"))?,
    );
    let committed = support.committed_config();
    let bundle = Bundle::new(&id, &committed).map_err(|e| {
        // Earlier versions of this orderer wrote a genesis config of only the
        // Channel and Orderer groups, without organizations.
        let hint = if committed.channel_group.groups.contains_key("Application") {
            ""
        } else {
            "; this ledger was written by an earlier version of this orderer (its configuration has no organizations): move it aside to start the channel afresh"
        };
        anyhow::anyhow!(
            "channel {id}: the ledger's configuration (sequence {}) cannot be used: {e}{hint}",
            committed.sequence
        )
    })?;
    if existing {
        check_unchanged(config, &plan, &support, &bundle).await?;
    }
    security.check_block_signer(&bundle).map_err(|e| {
        anyhow::anyhow!(
            "channel {id}: this orderer's identity (General.LocalMSPID {}) does not satisfy the channel's /Channel/Orderer/BlockValidation policy, so peers would refuse its blocks: {e}",
            config.general.local_msp_id
        )
    })?;
    let kind = committed.channel.consensus_type;
    let chain = consenters
        .get(kind)
        .map_err(anyhow::Error::msg)?
        .handle_chain(support.clone(), support.last_consenter_metadata())
        .with_context(|| format!("channel {id}: creating the chain"))?;
    chain.start();
    info!(
        channel = %id,
        height = support.ledger().height(),
        orderer_type = %kind,
        sequence = committed.sequence,
        organizations = %bundle.values.msps().keys().cloned().collect::<Vec<_>>().join(","),
        "channel opened"
    );
    Ok(Channel::new(id, support, chain, bundle))
}

/// A restarted channel keeps the configuration in its ledger: a local setting that
/// would change it is refused, naming the key, instead of being ignored or written
/// as an unsigned config block. (Changes are config updates.)
async fn check_unchanged(
    config: &Config,
    plan: &ChannelPlan,
    support: &ChannelSupport,
    ledger_bundle: &Bundle,
) -> anyhow::Result<()> {
    let id = &plan.id;
    if !plan.generated {
        if support.ledger().block_bytes(0).await? != plan.genesis {
            bail!(
                "channel {id}: General.BootstrapFile {} is not the genesis block of the existing ledger in {}",
                config.general.bootstrap_file,
                config.file_ledger.location
            );
        }
        return Ok(());
    }
    let committed = support.committed_config();
    let mut changes: Vec<String> = committed
        .channel
        .diff(&plan.values.channel_config())
        .iter()
        .map(|d| {
            format!(
                "{} is {} in the ledger but {} in the configuration",
                d.key, d.ours, d.theirs
            )
        })
        .collect();
    let ledger = &ledger_bundle.values;
    let ledger_orgs: Vec<&String> = ledger.msps().keys().collect();
    let configured: Vec<&String> = plan.values.msps().keys().collect();
    if ledger_orgs != configured {
        changes.push(format!(
            "Organizations has {configured:?} but the ledger's configuration has {ledger_orgs:?}"
        ));
    }
    if ledger.orderer().kafka_brokers() != plan.values.orderer().kafka_brokers() {
        changes.push(format!(
            "Orderer.Kafka.Brokers is {:?} in the ledger but {:?} in the configuration",
            ledger.orderer().kafka_brokers(),
            plan.values.orderer().kafka_brokers()
        ));
    }
    if !changes.is_empty() {
        bail!(
            "channel {id}: the configuration differs from the channel's configuration in the ledger, which only a config update may change: {}",
            changes.join("; ")
        );
    }
    Ok(())
}

impl RunningNode {
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Graceful stop: stop accepting, let open streams end, halt every chain (which
    /// writes every block already cut, and for solo the pending batch), make every
    /// ledger durable.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        info!("shutting down");
        self.trigger.trigger();
        for channel in self.registry.channels() {
            channel.chain.halt().await;
        }
        for channel in self.registry.channels() {
            channel.ledger().close().await;
            info!(channel = %channel.id, height = channel.ledger().height(), "channel closed");
        }
        match tokio::time::timeout(DRAIN_TIMEOUT, self.server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => error!(error = %e, "gRPC server ended with an error"),
            Ok(Err(e)) => error!(error = %e, "gRPC server task failed"),
            Err(_) => warn!("open streams did not end within {DRAIN_TIMEOUT:?}; closing anyway"),
        }
        Ok(())
    }
}

/// Runs a node until `stop` resolves, then stops it gracefully.
pub async fn run(
    config: Config,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let plans = crate::bootstrap::plans(&config)?;
    let consenters = Consenters::for_plans(&config, &plans).map_err(anyhow::Error::msg)?;
    let node = start_plans(config, plans, consenters).await?;
    stop.await;
    node.shutdown().await
}
