//! The Kafka consenter: Fabric's Kafka-based ordering on librdkafka.
//!
//! One single-partition topic per channel (named after the channel). Every OSN
//! produces its clients' envelopes to it and consumes it from the same offsets, cuts
//! the same blocks with the same cutter, and records the last offset in each block,
//! so any number of OSNs hold byte-identical chains.
//!
//! Unlike Fabric, which produced each envelope synchronously, envelopes go through one
//! asynchronous, idempotent, batching producer (`acks=all`) shared by every channel of
//! the node, and Broadcast is answered when the brokers acknowledge each record.

// Unit tests (cfg(test)) are exempt from the length limit; production code is not:
// the non-test build of this crate is linted too.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod chain;
mod clients;
pub mod cluster;
pub mod config;
mod errors;
pub mod metrics;
pub mod options;
mod retry;

use std::sync::Arc;

use bytes::Bytes;
use orderer_api::{Chain, Consenter, ConsenterError, ConsenterKind, ConsenterSupport};

pub use chain::{KafkaChain, Resume};
pub use clients::{Acknowledged, TopicProducer};
pub use config::KafkaConfig;
pub use errors::ClientError;
pub use options::{KafkaOptions, RetrySchedule};

/// Creates [`KafkaChain`]s over one set of shared clients.
#[derive(Debug, Clone)]
pub struct KafkaConsenter {
    clients: Arc<clients::Clients>,
    /// The node's check of the cluster's settings ([`cluster`]).
    check: Arc<cluster::NodeCheck>,
}

impl KafkaConsenter {
    /// Creates the node's Kafka clients and starts checking the cluster's settings
    /// in the background. Must run inside a Tokio runtime. Chains retry until the
    /// brokers answer.
    pub fn new(options: KafkaOptions) -> Result<Self, ClientError> {
        let clients = Arc::new(clients::Clients::new(options)?);
        let check = Arc::new(cluster::NodeCheck::spawn(Arc::clone(&clients)));
        Ok(KafkaConsenter { clients, check })
    }
}

impl Consenter for KafkaConsenter {
    fn kind(&self) -> ConsenterKind {
        ConsenterKind::Kafka
    }

    fn handle_chain(
        &self,
        support: Arc<dyn ConsenterSupport>,
        consenter_metadata: Bytes,
    ) -> Result<Arc<dyn Chain>, ConsenterError> {
        let resume = Resume::from_metadata(support.channel_id(), &consenter_metadata)?;
        Ok(Arc::new(KafkaChain::new(
            support,
            Arc::clone(&self.clients),
            resume,
        )))
    }

    /// The node's check of the brokers' settings: each broken rule, and what could
    /// not be checked.
    fn warnings(&self) -> Vec<String> {
        self.check.warnings()
    }
}
