//! Starting and stopping the node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use orderer_api::channel::CommittedConfig;
use orderer_api::{ChainState, ChannelConfig, RawEnvelope};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tracing::{error, info, warn};

use crate::broadcast::BroadcastHandler;
use crate::config::{Config, MetricsProvider};
use crate::consenters::Consenters;
use crate::deliver::DeliverHandler;
use crate::ledger::Ledger;
use crate::registry::{Channel, Registry};
use crate::security::{Policy, Security};
use crate::server::{AtomicBroadcastServer, Service};
use crate::shutdown::{ShutdownTrigger, shutdown_pair};
use crate::support::ChannelSupport;
use crate::tls::{self, ListenerTls, Material};

/// How long a graceful stop waits for open streams before closing them anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Concurrent gRPC streams one connection may open.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 128;
/// How long the start waits for a configuration change to be committed.
const CONFIG_APPLY_TIMEOUT: Duration = Duration::from_secs(60);
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
    if let crate::config::Bootstrap::File(file) = config.general.bootstrap() {
        bail!(
            "General.BootstrapMethod is file (genesis block {file}): booting from a configtxgen block is not supported yet; set General.BootstrapMethod to none, and this orderer makes each channel's genesis block from Orderer, Organizations and Channels"
        );
    }
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
    let consenter = consenters
        .get(config.orderer.orderer_type)
        .map_err(anyhow::Error::msg)?;
    let capabilities = crate::consenters::registration(config.orderer.orderer_type)
        .map_err(anyhow::Error::msg)?
        .capabilities;
    let metrics = crate::metrics::install(config.metrics.provider == MetricsProvider::Prometheus);
    let security = Arc::new(Security::load(&config)?);
    let (grpc_tls, ops_tls) = load_tls(&config)?;

    let mut registry = Registry::default();
    let mut updates = Vec::new();
    for entry in &config.channels {
        let configured = config.channel_config(entry).map_err(anyhow::Error::msg)?;
        let (ledger, recovery) = Ledger::open(&ledger_root, &entry.name)
            .await
            .with_context(|| format!("channel {}: opening the ledger", entry.name))?;
        if recovery.truncated_bytes > 0 {
            warn!(channel = %entry.name, bytes = recovery.truncated_bytes, "recovered from a torn write");
        }
        let support = Arc::new(
            ChannelSupport::open(ledger, &configured, Some(security.signer().clone()))
                .await
                .with_context(|| format!("channel {}: reading the ledger", entry.name))?,
        );
        let committed = support.committed_config();
        let differences = committed.channel.diff(&configured);
        if committed.channel.consensus_type != configured.consensus_type {
            bail!(
                "channel {}: its ledger was ordered by {} but Orderer.OrdererType is {}; changing the consensus type of an existing channel is not supported",
                entry.name,
                committed.channel.consensus_type,
                configured.consensus_type
            );
        }
        if !differences.is_empty() && capabilities.shared_log {
            // Every OSN sharing the log must cut with the same parameters, and a
            // node cannot change them alone: refuse instead of cutting differently.
            let list: Vec<String> = differences
                .iter()
                .map(|d| {
                    format!(
                        "{} is {} in the ledger but {} in the configuration",
                        d.key, d.ours, d.theirs
                    )
                })
                .collect();
            bail!(
                "channel {}: the configuration differs from the channel's committed configuration, which every OSN of a {} channel must share: {}",
                entry.name,
                configured.consensus_type,
                list.join(", ")
            );
        }
        let chain = consenter
            .handle_chain(support.clone(), support.last_consenter_metadata())
            .with_context(|| format!("channel {}: creating the chain", entry.name))?;
        chain.start();
        if !differences.is_empty() {
            updates.push((entry.name.clone(), committed, configured, differences));
        }
        info!(
            channel = %entry.name,
            height = support.ledger().height(),
            orderer_type = %config.orderer.orderer_type,
            "channel opened"
        );
        registry.insert(Channel {
            id: entry.name.clone(),
            label: entry.name.as_str().into(),
            support,
            chain,
            writers: Policy::new("Writers", config.msp_ids(entry.writers.as_ref())),
            readers: Policy::new("Readers", config.msp_ids(entry.readers.as_ref())),
        });
    }
    let registry = Arc::new(registry);
    for (name, committed, configured, differences) in updates {
        apply_config_change(&registry, &name, &committed, configured, &differences).await?;
    }

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

/// Orders a config block that records the channel parameters now configured, because
/// they differ from the ones in the channel's last config block.
async fn apply_config_change(
    registry: &Registry,
    name: &str,
    committed: &CommittedConfig,
    configured: ChannelConfig,
    differences: &[orderer_api::channel::ConfigDifference],
) -> anyhow::Result<()> {
    let Some(channel) = registry.get(name) else {
        return Ok(());
    };
    let changes: Vec<String> = differences
        .iter()
        .map(|d| format!("{} {} -> {}", d.key, d.ours, d.theirs))
        .collect();
    info!(channel = name, changes = %changes.join(", "), "configuration changed; ordering a config block");
    let update = committed.update(configured);
    let sequence = update.sequence;
    let mut config_rx = channel.support.config();
    let mut state = channel.chain.state();
    tokio::time::timeout(CONFIG_APPLY_TIMEOUT, state.wait_for(ChainState::is_ready))
        .await
        .with_context(|| format!("channel {name}: chain not ready to take the config change"))?
        .with_context(|| format!("channel {name}: chain stopped"))?;
    let receipt = channel
        .chain
        .configure(
            RawEnvelope::from_envelope(&update.envelope()),
            committed.sequence,
        )
        .await
        .with_context(|| format!("channel {name}: ordering the config change"))?;
    receipt
        .await
        .with_context(|| format!("channel {name}: the config change was not accepted"))?;
    tokio::time::timeout(
        CONFIG_APPLY_TIMEOUT,
        config_rx.wait_for(|c| c.sequence >= sequence),
    )
    .await
    .with_context(|| format!("channel {name}: the config block was not written in time"))?
    .with_context(|| format!("channel {name}: chain stopped"))?;
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
    let consenters = Consenters::for_config(&config).map_err(anyhow::Error::msg)?;
    let node = start(config, consenters).await?;
    stop.await;
    node.shutdown().await
}
