//! Starting and stopping the node.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::bootstrap::ChannelPlan;
use crate::broadcast::BroadcastHandler;
use crate::config::{Config, MetricsProvider};
use crate::consenters::Consenters;
use crate::deliver::DeliverHandler;
use crate::registry::Registry;
use crate::security::Security;
use crate::server::{AtomicBroadcastRoutes, Service};
use crate::shutdown::{Shutdown, ShutdownTrigger, shutdown_pair};
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
    /// The Admin listener's address, when `ChannelParticipation.Enabled`.
    pub admin_addr: Option<SocketAddr>,
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
///
/// The steps, in order: create the directories, load metrics, security and TLS,
/// open the channels, serve AtomicBroadcast, keep the metrics recorder drained,
/// serve operations, serve the Admin API.
pub async fn start_plans(
    config: Config,
    plans: Vec<ChannelPlan>,
    consenters: Consenters,
) -> anyhow::Result<RunningNode> {
    create_directories(&config)?;
    let metrics = crate::metrics::install(config.metrics.provider == MetricsProvider::Prometheus);
    let security = Arc::new(Security::load(&config)?);
    let (grpc_tls, ops_tls) = load_tls(&config)?;

    let config = Arc::new(config);
    let registry = Registry::new(Arc::clone(&config), consenters, security.clone());
    registry.open_all(plans).await?;

    let listener = bind_grpc(&config).await?;
    let grpc_addr = listener.local_addr()?;
    let (trigger, shutdown) = shutdown_pair();
    let server = serve_grpc(
        &config,
        listener,
        &registry,
        &security,
        grpc_tls.as_ref(),
        &shutdown,
    )?;
    if let Some(handle) = metrics.clone() {
        spawn_metrics_upkeep(handle, shutdown.clone());
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
    let admin_addr = serve_admin(&config, &registry, &shutdown).await?;
    info!(
        address = %grpc_addr,
        operations = %ops_addr,
        admin = %admin_addr.map_or_else(|| "off".to_owned(), |a| a.to_string()),
        tls = grpc_tls.is_some(),
        mutual_tls = grpc_tls.as_ref().is_some_and(|t| t.client_auth_required),
        "orderer serving AtomicBroadcast"
    );
    Ok(RunningNode {
        grpc_addr,
        ops_addr,
        admin_addr,
        registry,
        trigger,
        server,
    })
}

/// The trace directories (when set) and the ledger's directory.
fn create_directories(config: &Config) -> anyhow::Result<()> {
    for (key, dir) in [
        ("Debug.BroadcastTraceDir", &config.debug.broadcast_trace_dir),
        ("Debug.DeliverTraceDir", &config.debug.deliver_trace_dir),
    ] {
        if !dir.is_empty() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{key} {dir}: cannot create the directory"))?;
        }
    }
    let ledger_root = std::path::PathBuf::from(&config.file_ledger.location);
    std::fs::create_dir_all(&ledger_root).with_context(|| {
        format!(
            "FileLedger.Location {}: cannot create the ledger directory",
            ledger_root.display()
        )
    })
}

/// The gRPC listener on General.ListenAddress:General.ListenPort.
async fn bind_grpc(config: &Config) -> anyhow::Result<TcpListener> {
    let addr = config.grpc_address();
    TcpListener::bind(&addr)
        .await
        .with_context(|| format!("General.ListenAddress/General.ListenPort {addr}: cannot listen"))
}

/// Spawns the AtomicBroadcast server (Broadcast and Deliver) on `listener`, until
/// `shutdown`.
fn serve_grpc(
    config: &Config,
    listener: TcpListener,
    registry: &Arc<Registry>,
    security: &Arc<Security>,
    tls: Option<&Material>,
    shutdown: &Shutdown,
) -> anyhow::Result<JoinHandle<Result<(), tonic::transport::Error>>> {
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
    let server = AtomicBroadcastRoutes::new(
        service,
        config.general.max_recv_msg_size.0 as usize,
        config.general.max_send_msg_size.0 as usize,
    );
    let mut stop = shutdown.clone();
    // Streams per connection are bounded, and each stream's memory is (see
    // broadcast::CHECK_BYTES, deliver::STREAM_BUFFER_BYTES): one client cannot take
    // the node's memory through one connection.
    let mut builder = tonic::transport::Server::builder()
        .max_concurrent_streams(Some(MAX_STREAMS_PER_CONNECTION))
        .http2_keepalive_interval(Some(config.general.keepalive.server_interval.0))
        .http2_keepalive_timeout(Some(config.general.keepalive.server_timeout.0));
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls.tonic())
            .context("General.TLS: the TLS settings were refused")?;
    }
    Ok(tokio::spawn(
        builder.add_service(server).serve_with_incoming_shutdown(
            grpc_incoming(listener),
            async move { stop.wait().await },
        ),
    ))
}

/// Histogram samples pile up in the recorder until drained: without upkeep
/// (scrapes drain too, but nobody may scrape) memory grows with every envelope.
fn spawn_metrics_upkeep(handle: PrometheusHandle, mut stop: Shutdown) {
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

/// The Admin listener serves only the participation API: without it
/// (`ChannelParticipation.Enabled` false), no listener and `None`.
async fn serve_admin(
    config: &Config,
    registry: &Arc<Registry>,
    shutdown: &Shutdown,
) -> anyhow::Result<Option<SocketAddr>> {
    if !config.channel_participation.enabled {
        return Ok(None);
    }
    let tls = crate::admin::load_tls(&config.admin)?;
    let addr = crate::admin::serve(
        &config.admin.listen_address,
        tls,
        Arc::new(crate::participation::NodeParticipation::new(
            registry.clone(),
        )),
        (&config.channel_participation).into(),
        shutdown.clone(),
    )
    .await?;
    Ok(Some(addr))
}

/// The gRPC listener's connections, each with TCP_NODELAY. Nagle's algorithm holds
/// a small write until the previous segment is acknowledged: with many Deliver
/// streams multiplexed on one HTTP/2 connection (how grpc-js shares a connection),
/// a block's last frame waited for the client's delayed ACK, up to 40 ms per round
/// trip. grpc-go sets the option on every connection too.
fn grpc_incoming(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
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
    let consenters = Consenters::for_channels(&config, plans.iter().map(|p| &p.values))?;
    let node = start_plans(config, plans, consenters).await?;
    stop.await;
    node.shutdown().await
}
