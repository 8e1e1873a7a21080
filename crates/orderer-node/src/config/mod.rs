//! `orderer.yaml`: Fabric's key names, layered with figment.
//!
//! Each section is a serde type owned by the code that uses it: `Orderer` in
//! orderer-api, `Kafka` in orderer-kafka, the node's own sections in this module's
//! files. This module composes them; [`layers`] reads the sources (built-in
//! defaults, then the YAML file, then `ORDERER_*` environment variables) and reports
//! problems with the key, the value, where it came from and the form expected.

mod channels;

mod fabric;
mod general;
mod layers;
mod operations;
mod report;

use orderer_api::ChannelConfig;
use orderer_api::ConsenterKind;
use orderer_api::config::{KeyDoc, OrdererSection, Problem, Problems, Section};
use serde::{Deserialize, Serialize};

pub use channels::{BatchSizeOverride, ChannelEntry, Organization};
pub use general::{Authentication, Bootstrap, Debug, FileLedger, General, Keepalive, ListenerTls};
pub use layers::{
    ConfigError, ConfigSource, Loaded, SAMPLE_CONFIG, SAMPLE_DIR, env_name, load, load_with_env,
    source_from,
};
pub use operations::{
    Admin, ChannelParticipation, Metrics, MetricsProvider, Operations, Tracing, parse_listen_addr,
    parse_socket_addr,
};
pub use orderer_api::config::{ByteSize, GoDuration};
pub use report::reference_table;

/// The whole node configuration: every section, composed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Config {
    pub general: General,
    pub file_ledger: FileLedger,
    /// How this node talks to Kafka (used when a channel orders through Kafka).
    #[cfg(feature = "kafka")]
    pub kafka: orderer_kafka::KafkaConfig,
    pub debug: Debug,
    pub operations: Operations,
    pub metrics: Metrics,
    pub tracing: Tracing,
    pub admin: Admin,
    pub channel_participation: ChannelParticipation,
    /// Defaults for every channel's ordering parameters (Fabric's configtx `Orderer`).
    pub orderer: OrdererSection,
    #[serde(deserialize_with = "orderer_api::config::null_as_default")]
    pub organizations: Vec<Organization>,
    #[serde(deserialize_with = "channels::channel_list")]
    pub channels: Vec<ChannelEntry>,
}

impl Default for Config {
    /// Every section's defaults; one channel, `mychannel`, for the node's own
    /// organization.
    fn default() -> Self {
        Config {
            general: General::default(),
            file_ledger: FileLedger::default(),
            #[cfg(feature = "kafka")]
            kafka: orderer_kafka::KafkaConfig::default(),
            debug: Debug::default(),
            operations: Operations::default(),
            metrics: Metrics::default(),
            tracing: Tracing::default(),
            admin: Admin::default(),
            channel_participation: ChannelParticipation::default(),
            orderer: OrdererSection::default(),
            organizations: Vec::new(),
            channels: vec![ChannelEntry::named("mychannel")],
        }
    }
}

impl Config {
    /// Every documented key, section by section, in the order users read them.
    pub fn keys() -> Vec<KeyDoc> {
        let mut keys = Vec::new();
        keys.extend_from_slice(General::KEYS);
        keys.extend_from_slice(FileLedger::KEYS);
        #[cfg(feature = "kafka")]
        keys.extend_from_slice(orderer_kafka::KafkaConfig::KEYS);
        for section in [
            Debug::KEYS,
            Operations::KEYS,
            Metrics::KEYS,
            Tracing::KEYS,
            Admin::KEYS,
            ChannelParticipation::KEYS,
            OrdererSection::KEYS,
            channels::KEYS,
        ] {
            keys.extend_from_slice(section);
        }
        keys
    }

    /// Checks every section in use: the consenter's own section only when it is
    /// the selected one, the admin listener's only once it is served.
    fn validate(&self) -> Problems {
        let mut p = Problems::default();
        self.general.validate(&mut p);
        self.file_ledger.validate(&mut p);
        self.debug.validate(&mut p);
        self.operations.validate(&mut p);
        self.metrics.validate(&mut p);
        self.tracing.validate(&mut p);
        self.channel_participation.validate(&mut p);
        // The Admin listener exists only to serve the participation API.
        if self.channel_participation.enabled {
            self.admin.validate(&mut p);
        }
        self.orderer.validate(&mut p);
        channels::validate(
            &self.organizations,
            &self.channels,
            &self.orderer,
            &self.general.local_msp_id,
            self.channel_participation.enabled,
            &mut p,
        );
        // The selected consenter's own section, which lives here beside the
        // others; the consenters are built from it (crate::consenters).
        match self.orderer.orderer_type {
            ConsenterKind::Solo => {}
            #[cfg(feature = "kafka")]
            ConsenterKind::Kafka => orderer_api::config::Section::validate(&self.kafka, &mut p),
            #[cfg(not(feature = "kafka"))]
            kind @ ConsenterKind::Kafka => p.bad(
                "Orderer.OrdererType",
                kind,
                format!(
                    "Orderer.OrdererType {kind} is not compiled into this orderer (it has: solo)"
                ),
            ),
        }
        p
    }

    /// Hands every path-valued key to `visit`.
    fn visit_paths(&mut self, visit: &mut dyn FnMut(&'static str, &mut String)) {
        self.general.visit_paths(visit);
        self.file_ledger.visit_paths(visit);
        #[cfg(feature = "kafka")]
        self.kafka.visit_paths(visit);
        self.debug.visit_paths(visit);
        self.operations.visit_paths(visit);
        self.admin.visit_paths(visit);
        for org in &mut self.organizations {
            visit("Organizations", &mut org.msp_dir);
        }
    }

    /// The organizations of this node's channels: `Organizations`, or when that is
    /// empty the node's own (`General.LocalMSPID`, the CAs of `General.LocalMSPDir`).
    pub fn organizations(&self) -> Vec<Organization> {
        if !self.organizations.is_empty() {
            return self.organizations.clone();
        }
        vec![Organization {
            name: self.general.local_msp_id.clone(),
            id: self.general.local_msp_id.clone(),
            msp_dir: self.general.local_msp_dir.clone(),
        }]
    }

    /// The ordering parameters of one configured channel.
    pub fn channel_config(&self, entry: &ChannelEntry) -> Result<ChannelConfig, String> {
        entry
            .channel_config(&self.orderer)
            .map_err(|p: Problem| format!("Channels ({}): {}: {}", entry.name, p.key, p.expected))
    }

    /// The MSP IDs of the named organizations (all when `None`).
    pub fn msp_ids(&self, names: Option<&Vec<String>>) -> Vec<String> {
        self.organizations()
            .into_iter()
            .filter(|o| names.is_none_or(|n| n.contains(&o.name)))
            .map(|o| o.id)
            .collect()
    }

    /// `Orderer.Addresses`, or this node's gRPC address when that is empty and the
    /// port is fixed.
    pub fn orderer_addresses(&self) -> Vec<String> {
        if !self.orderer.addresses.is_empty() || self.general.listen_port == 0 {
            return self.orderer.addresses.clone();
        }
        vec![self.grpc_address()]
    }

    /// The gRPC listen address as `host:port`.
    pub fn grpc_address(&self) -> String {
        self.general.grpc_address()
    }
}

#[cfg(test)]
mod tests;
