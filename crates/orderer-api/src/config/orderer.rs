//! The `Orderer` section: the channel defaults of Fabric's configtx.yaml (consensus
//! type, batch rules, Kafka brokers), used when this node makes a channel's genesis
//! config itself.

use serde::{Deserialize, Serialize};

use super::{ByteSize, GoDuration, KeyDoc, Problems, Section, check_host_port};
use crate::{BatchSize, ConsenterKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OrdererSection {
    pub orderer_type: ConsenterKind,
    pub batch_timeout: GoDuration,
    pub batch_size: BatchSizeSection,
    pub kafka: OrdererKafkaSection,
    #[serde(deserialize_with = "super::null_as_default")]
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BatchSizeSection {
    pub max_message_count: u32,
    pub absolute_max_bytes: ByteSize,
    pub preferred_max_bytes: ByteSize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OrdererKafkaSection {
    #[serde(deserialize_with = "super::null_as_default")]
    pub brokers: Vec<String>,
}

impl Default for OrdererSection {
    /// Fabric's sample values (configtx.yaml's `Orderer` defaults).
    fn default() -> Self {
        let batch = BatchSize::default();
        OrdererSection {
            orderer_type: ConsenterKind::Solo,
            batch_timeout: GoDuration::secs(2),
            batch_size: BatchSizeSection {
                max_message_count: batch.max_message_count,
                absolute_max_bytes: ByteSize(u64::from(batch.absolute_max_bytes)),
                preferred_max_bytes: ByteSize(u64::from(batch.preferred_max_bytes)),
            },
            kafka: OrdererKafkaSection {
                brokers: vec!["127.0.0.1:9092".into()],
            },
            addresses: Vec::new(),
        }
    }
}

impl BatchSizeSection {
    /// The domain value; `prefix` names the keys in problems (`Orderer.BatchSize`).
    pub fn to_batch_size(&self, prefix: &str) -> Result<BatchSize, super::Problem> {
        Ok(BatchSize {
            max_message_count: self.max_message_count,
            absolute_max_bytes: self
                .absolute_max_bytes
                .to_u32(&format!("{prefix}.AbsoluteMaxBytes"))?,
            preferred_max_bytes: self
                .preferred_max_bytes
                .to_u32(&format!("{prefix}.PreferredMaxBytes"))?,
        })
    }
}

/// Checks batch rules under `prefix` (`Orderer` or `Channels[2]`).
pub(crate) fn validate_batch(
    prefix: &str,
    batch: &BatchSizeSection,
    timeout: GoDuration,
    problems: &mut Problems,
) {
    match batch.to_batch_size(&format!("{prefix}.BatchSize")) {
        Ok(bs) => {
            if let Err(e) = bs.validate() {
                problems.about(format!("{prefix}.BatchSize.{}", e.field), e.reason);
            }
        }
        Err(p) => problems.problems.push(p),
    }
    problems.positive(&format!("{prefix}.BatchTimeout"), timeout);
}

impl Section for OrdererSection {
    const KEYS: &'static [KeyDoc] = &[
        KeyDoc::new(
            "Orderer.OrdererType",
            "Consenter: `solo` or `kafka`. Any other value is refused with the list of valid ones.",
        ),
        KeyDoc::new(
            "Orderer.BatchTimeout",
            "A block is cut this long after its first envelope, if not full earlier.",
        ),
        KeyDoc::new(
            "Orderer.BatchSize.MaxMessageCount",
            "A block is cut when it holds this many envelopes.",
        ),
        KeyDoc::new(
            "Orderer.BatchSize.AbsoluteMaxBytes",
            "Envelopes larger than this (payload + signature) are refused with BAD_REQUEST.",
        ),
        KeyDoc::new(
            "Orderer.BatchSize.PreferredMaxBytes",
            "A block is cut before it grows past this; a larger envelope travels alone. Must not exceed `AbsoluteMaxBytes`.",
        ),
        KeyDoc::new(
            "Orderer.Kafka.Brokers",
            "Seed brokers (`host:port`) when `OrdererType` is `kafka`; recorded in each channel's genesis block (`KafkaBrokers`), so every OSN that generates its blocks 0 must list the same ones in the same order.",
        ),
        KeyDoc::new(
            "Orderer.Addresses",
            "`host:port` of the ordering nodes, recorded in each channel's genesis block (`OrdererAddresses`): peers pull blocks from them. Empty: this node's `General.ListenAddress:ListenPort` (none when the port is 0), so OSNs that generate their blocks 0 must set it, the same on each: an OSN whose block 0 differs from its Kafka channel's refuses the channel, naming the setting.",
        ),
    ];

    fn validate(&self, problems: &mut Problems) {
        validate_batch("Orderer", &self.batch_size, self.batch_timeout, problems);
        if self.orderer_type == ConsenterKind::Kafka {
            if self.kafka.brokers.is_empty() {
                problems.bad(
                    "Orderer.Kafka.Brokers",
                    "[]",
                    "expected at least one broker host:port when Orderer.OrdererType is kafka",
                );
            }
            for b in &self.kafka.brokers {
                if let Err(e) = check_host_port(b) {
                    problems.bad("Orderer.Kafka.Brokers", format!("{b:?}"), e.to_string());
                }
            }
        }
        for a in &self.addresses {
            if let Err(e) = check_host_port(a) {
                problems.bad("Orderer.Addresses", format!("{a:?}"), e.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() {
        let mut p = Problems::default();
        OrdererSection::default().validate(&mut p);
        assert!(p.is_empty(), "{p:?}");

        let mut o = OrdererSection::default();
        o.batch_size.preferred_max_bytes = ByteSize(o.batch_size.absolute_max_bytes.0 + 1);
        o.batch_timeout = GoDuration::secs(0);
        o.orderer_type = ConsenterKind::Kafka;
        o.kafka.brokers = vec!["kafka0".into()];
        let mut p = Problems::default();
        o.validate(&mut p);
        let keys: Vec<&str> = p.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "Orderer.BatchSize.PreferredMaxBytes",
                "Orderer.BatchTimeout",
                "Orderer.Kafka.Brokers"
            ]
        );
    }
}
