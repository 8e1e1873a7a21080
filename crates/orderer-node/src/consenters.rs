//! The consenters compiled into this binary: one [`Registration`] each, keyed by
//! `Orderer.OrdererType`. The node iterates [`REGISTRY`]; a third consenter is one
//! new crate and one row here.

use std::collections::BTreeMap;
use std::sync::Arc;

use orderer_api::channelconfig::ChannelValues;
use orderer_api::{Consenter, ConsenterKind};

use crate::config::Config;

/// What the node must know about a consenter beyond its trait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Several OSNs cut blocks from one shared log (Kafka): they must all cut with
    /// the same channel parameters, so one node must never change them alone.
    pub shared_log: bool,
}

/// Why a consenter could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("Orderer.OrdererType {kind} is not compiled into this orderer (it has: {built})")]
    NotCompiled { kind: ConsenterKind, built: String },
    /// A configured channel's ordering parameters are invalid.
    #[error("{0}")]
    Channel(String),
    #[cfg(feature = "kafka")]
    #[error(transparent)]
    Kafka(#[from] orderer_kafka::ClientError),
}

/// Creates a consenter from the node's configuration and a channel's.
pub type ConsenterFactory = fn(&Config, &ChannelValues) -> Result<Arc<dyn Consenter>, SetupError>;

/// One consenter: its kind, settings, factory and metrics.
#[derive(Debug, Clone, Copy)]
pub struct Registration {
    pub kind: ConsenterKind,
    /// The orderer.yaml section with this consenter's node settings, if any.
    pub section: Option<&'static str>,
    pub capabilities: Capabilities,
    /// Creates the consenter (inside a Tokio runtime) from this node's configuration
    /// and the configuration of a channel it orders (for Kafka: the brokers).
    pub create: ConsenterFactory,
    /// Metric names the consenter exports, and their descriptions.
    pub metrics: &'static [&'static str],
    pub describe_metrics: fn(),
}

/// Every consenter in this build.
pub const REGISTRY: &[Registration] = &[
    Registration {
        kind: ConsenterKind::Solo,
        section: None,
        capabilities: Capabilities { shared_log: false },
        create: |_, _| Ok(Arc::new(orderer_solo::SoloConsenter::new())),
        metrics: &[],
        describe_metrics: || {},
    },
    #[cfg(feature = "kafka")]
    Registration {
        kind: ConsenterKind::Kafka,
        section: Some("Kafka"),
        capabilities: Capabilities { shared_log: true },
        create: |config, channel| {
            let options = kafka_options(config, channel)?;
            Ok(Arc::new(orderer_kafka::KafkaConsenter::new(options)?))
        },
        metrics: &[
            orderer_kafka::metrics::LAST_OFFSET_PERSISTED,
            orderer_kafka::metrics::DUPLICATES_DROPPED,
            orderer_kafka::metrics::CLUSTER_RULE_VIOLATIONS,
            orderer_kafka::metrics::CHANNEL_RULE_VIOLATIONS,
        ],
        describe_metrics: orderer_kafka::metrics::describe,
    },
];

/// The registration of `kind`, or why it is not in this build.
pub fn registration(kind: ConsenterKind) -> Result<&'static Registration, SetupError> {
    REGISTRY
        .iter()
        .find(|r| r.kind == kind)
        .ok_or_else(|| not_compiled(kind, REGISTRY.iter().map(|r| r.kind)))
}

fn not_compiled(kind: ConsenterKind, built: impl Iterator<Item = ConsenterKind>) -> SetupError {
    let built: Vec<_> = built.map(ConsenterKind::as_str).collect();
    SetupError::NotCompiled {
        kind,
        built: built.join(", "),
    }
}

/// Consenters created for one node, by kind.
#[derive(Debug, Clone, Default)]
pub struct Consenters {
    by_kind: BTreeMap<ConsenterKind, Arc<dyn Consenter>>,
}

impl Consenters {
    /// The consenters that need no configuration (solo).
    pub fn builtin() -> Self {
        let mut c = Consenters::default();
        c.register(Arc::new(orderer_solo::SoloConsenter::new()));
        c
    }

    /// The consenters the planned channels (their configurations) need, each created once (the first
    /// channel of a kind gives the cluster settings, e.g. Kafka's brokers, which the
    /// node's channels share). Must run inside a Tokio runtime.
    pub fn for_channels<'a>(
        config: &Config,
        channels: impl IntoIterator<Item = &'a ChannelValues>,
    ) -> Result<Self, SetupError> {
        let mut c = Consenters::builtin();
        for values in channels {
            let kind = values.orderer().consenter_kind();
            if !c.by_kind.contains_key(&kind) {
                c.register((registration(kind)?.create)(config, values)?);
            }
        }
        Ok(c)
    }

    pub fn register(&mut self, consenter: Arc<dyn Consenter>) {
        self.by_kind.insert(consenter.kind(), consenter);
    }

    /// The consenter for `kind`, created from `values` (a channel of that kind) if
    /// this node has none yet: a channel created or joined at run time may be the
    /// node's first of its kind.
    pub fn get_or_create(
        &mut self,
        kind: ConsenterKind,
        config: &Config,
        values: &ChannelValues,
    ) -> Result<Arc<dyn Consenter>, SetupError> {
        if !self.by_kind.contains_key(&kind) {
            self.register((registration(kind)?.create)(config, values)?);
        }
        self.get(kind)
    }

    /// Every consenter of this node.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Consenter>> {
        self.by_kind.values()
    }

    /// The consenter for `kind`, or why it is not available.
    pub fn get(&self, kind: ConsenterKind) -> Result<Arc<dyn Consenter>, SetupError> {
        self.by_kind
            .get(&kind)
            .cloned()
            .ok_or_else(|| not_compiled(kind, self.by_kind.keys().copied()))
    }
}

/// The Kafka consenter's options: the node's `Kafka` section, the seed brokers of
/// `channel` (the first Kafka channel of the node), and room for the largest envelope
/// the node takes at all (`General.MaxRecvMsgSize`) or any of its configured
/// channels accepts.
#[cfg(feature = "kafka")]
pub fn kafka_options(
    config: &Config,
    channel: &ChannelValues,
) -> Result<orderer_kafka::KafkaOptions, SetupError> {
    let mut o = orderer_kafka::KafkaOptions::new(channel.orderer().kafka_brokers().to_vec());
    o.config = config.kafka.clone();
    // No envelope is larger than the gRPC listener takes (General.MaxRecvMsgSize), so
    // Kafka clients sized for that never refuse what a channel accepts, even after a
    // config update raises its AbsoluteMaxBytes (the brokers keep their own limits,
    // which the cluster check compares with AbsoluteMaxBytes).
    let mut absolute = u64::from(channel.orderer().batch_size().absolute_max_bytes);
    for entry in &config.channels {
        let ch = config.channel_config(entry).map_err(SetupError::Channel)?;
        absolute = absolute.max(u64::from(ch.batch_size.absolute_max_bytes));
    }
    o.absolute_max_bytes = absolute;
    let largest = (config.general.max_recv_msg_size.0 as usize).max(absolute as usize);
    o.max_record_bytes = largest + orderer_kafka::options::RECORD_OVERHEAD;
    Ok(o)
}
