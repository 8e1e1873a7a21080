//! What a Kafka error means for a client, in Fabric's statuses.
//!
//! Every error names what went wrong and keeps librdkafka's own text. Only a record
//! the brokers refuse for its size is final (REQUEST_ENTITY_TOO_LARGE); everything
//! else is SERVICE_UNAVAILABLE: another attempt, later or on another OSN, can work.

use std::time::Duration;

use orderer_api::{ChainError, SupportError};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What went wrong talking to the brokers outside of producing a record: creating
/// the clients, the channel's topic, its partition, its watermarks.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("Kafka.TLS.{key} {path}: {source}")]
    ReadPem {
        key: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("creating the Kafka {client}: {source}")]
    Create {
        client: &'static str,
        #[source]
        source: KafkaError,
    },
    #[error("creating topic {topic}: {source}")]
    CreateTopic {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("creating topic {topic}: {code}")]
    TopicRefused {
        topic: String,
        code: RDKafkaErrorCode,
    },
    #[error("reading metadata of topic {topic}: {source}")]
    Metadata {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("cannot split off the queue of {topic}/{partition}")]
    NoQueue { topic: String, partition: i32 },
    /// `place`: topic/partition at offset.
    #[error("assigning {place}: {source}")]
    Assign {
        place: String,
        #[source]
        source: KafkaError,
    },
    #[error("reading the watermarks of {topic}: {source}")]
    Watermarks {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("a blocking Kafka call did not complete: {0}")]
    Blocking(#[from] tokio::task::JoinError),
}

/// Why a chain stopped serving its channel (it is then Halted with this reason).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Fault {
    #[error("the channel's first CONNECT record holds no readable block 0: {0}")]
    GenesisUnreadable(String),
    #[error("this node's block 0 of the channel is not a readable config block: {0}")]
    OwnGenesisUnreadable(String),
    #[error("reading this node's block 0: {0}")]
    ReadGenesis(#[source] SupportError),
    /// `differences`: each differing setting with both values, `; `-separated.
    #[error(
        "this node's block 0 of channel {channel} differs from the one the channel was created with (carried by the first CONNECT record of its partition), so this node's chain would fork from the other OSNs'; refusing to serve the channel: {differences}"
    )]
    GenesisDiffers {
        channel: String,
        differences: String,
    },
    /// This node generated its block 0, and the partition holds none to compare.
    #[error(
        "channel {channel} was created by another OSN without a block 0 to compare with ({why}), and this node generated its own block 0 from orderer.yaml (General.BootstrapMethod: none), which need not be the channel's; refusing to serve the channel rather than fork it. Boot this OSN from the channel's genesis block: General.BootstrapMethod: file, General.BootstrapFile: the genesis block the channel's other OSNs booted from (or block 0 fetched from one of them)"
    )]
    GenesisUnverifiable { channel: String, why: &'static str },
    #[error("writing block {number}: {source}")]
    Write {
        number: u64,
        #[source]
        source: SupportError,
    },
    #[error("rebuilding the duplicate window from block {number}: {source}")]
    Reload {
        number: u64,
        #[source]
        source: SupportError,
    },
    #[error("{what}: gave up after {attempts} attempts over {elapsed:?}: {last}")]
    GaveUp {
        what: String,
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
}

/// The chain error for a record that could not be produced.
pub(crate) fn produce_error(channel: &str, e: &KafkaError) -> ChainError {
    use RDKafkaErrorCode as C;
    let code = e.rdkafka_error_code();
    let explain = match code {
        Some(C::MessageSizeTooLarge | C::InvalidMessageSize) => {
            return ChainError::TooLarge {
                channel: channel.to_owned(),
                reason: format!(
                    "the Kafka brokers refuse records this large ({e}); their message.max.bytes and replica.fetch.max.bytes must exceed Orderer.BatchSize.AbsoluteMaxBytes"
                ),
            };
        }
        Some(C::MessageTimedOut) => {
            "the brokers did not acknowledge the record in time: brokers unreachable, partition leaderless, or overloaded"
        }
        Some(C::NotEnoughReplicas | C::NotEnoughReplicasAfterAppend) => {
            "fewer in-sync replicas than min.insync.replicas: the channel's partition takes no writes until replicas catch up"
        }
        Some(C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition) => {
            "the channel's topic does not exist on the brokers"
        }
        Some(C::TopicAuthorizationFailed | C::ClusterAuthorizationFailed) => {
            "this orderer's Kafka identity may not write the channel's topic"
        }
        Some(C::QueueFull) => {
            "the orderer's Kafka producer queue stayed full: too many envelopes waiting for the brokers"
        }
        Some(C::AllBrokersDown | C::BrokerTransportFailure) => "no Kafka broker is reachable",
        Some(C::NotLeaderForPartition | C::LeaderNotAvailable | C::RequestTimedOut) => {
            "the partition's leader changed or did not answer in time"
        }
        Some(
            C::Fatal | C::OutOfOrderSequenceNumber | C::InvalidProducerEpoch | C::ProducerFenced,
        ) => "the idempotent producer hit a fatal error and must be restarted",
        _ => "the Kafka producer failed",
    };
    ChainError::Backend {
        channel: channel.to_owned(),
        reason: format!("{explain} (Kafka: {e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_is_final_and_names_the_broker_settings() {
        let e = KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge);
        match produce_error("c", &e) {
            ChainError::TooLarge { reason, .. } => {
                assert!(reason.contains("message.max.bytes"), "{reason}");
                assert!(reason.contains("AbsoluteMaxBytes"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn others_are_service_unavailable_with_an_explanation_and_the_kafka_text() {
        for (code, needle) in [
            (RDKafkaErrorCode::MessageTimedOut, "did not acknowledge"),
            (RDKafkaErrorCode::NotEnoughReplicas, "min.insync.replicas"),
            (RDKafkaErrorCode::QueueFull, "queue"),
            (RDKafkaErrorCode::UnknownTopicOrPartition, "does not exist"),
            (RDKafkaErrorCode::TopicAuthorizationFailed, "may not write"),
        ] {
            let e = KafkaError::MessageProduction(code);
            match produce_error("c", &e) {
                ChainError::Backend { reason, .. } => {
                    assert!(reason.contains(needle), "{reason}");
                    assert!(reason.contains("Kafka:"), "{reason}");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
