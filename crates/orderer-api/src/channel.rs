//! A channel's ordering parameters: the small view of a configuration that
//! consenters read ([`ConsenterSupport::shared_config`](crate::ConsenterSupport::shared_config)).
//!
//! The configuration itself, as committed in a config block, is
//! [`ChannelValues`](crate::channelconfig::ChannelValues); configs and genesis blocks
//! are built only by [`genesis`](crate::genesis). [`ChannelConfig::from_envelope`] is
//! a reader of the ordering parameters alone, for CONFIG envelopes that are not a
//! whole configuration (earlier versions of this orderer posted such envelopes).

use std::time::Duration;

use prost::Message;

use crate::blockcutter::BatchSize;
use crate::channelconfig::{ConfigBlockError, ORDERER_GROUP, keys, read_config_envelope};
use crate::consensus::ConsenterKind;
use crate::duration::{self, DurationError};
use crate::envelope::parse_payload;
use crate::proto::common::{ConfigGroup, Envelope, HeaderType};
use crate::proto::orderer as ord;

/// What decides how a channel's blocks are cut: every OSN of a channel must agree on it.
///
/// Kafka broker addresses are deliberately not part of it: they are how one node
/// reaches the cluster, and two nodes may list different seed brokers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelConfig {
    pub channel_id: String,
    /// `Orderer.OrdererType`.
    pub consensus_type: ConsenterKind,
    /// `Orderer.BatchSize`.
    pub batch_size: BatchSize,
    /// `Orderer.BatchTimeout`.
    pub batch_timeout: Duration,
}

/// One setting on which two channel configurations disagree: named as in
/// `orderer.yaml` where it has a key there (`Orderer.BatchTimeout`), else by its
/// config path (`/Channel/Application/Org1/MSP`); each side's value in readable form
/// (`absent` when that side has none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigDifference {
    pub key: String,
    pub ours: String,
    pub theirs: String,
}

impl std::fmt::Display for ConfigDifference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} vs {}", self.key, self.ours, self.theirs)
    }
}

impl ChannelConfig {
    /// The keys on which `self` and `other` differ (the channel id is not compared).
    pub fn diff(&self, other: &ChannelConfig) -> Vec<ConfigDifference> {
        let mut out = Vec::new();
        let mut cmp = |key: &str, a: String, b: String| {
            if a != b {
                out.push(ConfigDifference {
                    key: key.to_owned(),
                    ours: a,
                    theirs: b,
                });
            }
        };
        cmp(
            "Orderer.OrdererType",
            self.consensus_type.to_string(),
            other.consensus_type.to_string(),
        );
        let (a, b) = (&self.batch_size, &other.batch_size);
        cmp(
            "Orderer.BatchSize.MaxMessageCount",
            a.max_message_count.to_string(),
            b.max_message_count.to_string(),
        );
        cmp(
            "Orderer.BatchSize.AbsoluteMaxBytes",
            a.absolute_max_bytes.to_string(),
            b.absolute_max_bytes.to_string(),
        );
        cmp(
            "Orderer.BatchSize.PreferredMaxBytes",
            a.preferred_max_bytes.to_string(),
            b.preferred_max_bytes.to_string(),
        );
        cmp(
            "Orderer.BatchTimeout",
            duration::format(self.batch_timeout),
            duration::format(other.batch_timeout),
        );
        out
    }

    /// Reads the ordering parameters of a CONFIG envelope, leniently: only the
    /// `Orderer` group's `ConsensusType`, `BatchSize` and `BatchTimeout` are read,
    /// nothing is validated as a whole configuration (that is
    /// [`ChannelValues::from_envelope`](crate::channelconfig::ChannelValues::from_envelope)).
    pub fn from_envelope(env: &Envelope) -> Result<Self, ReadConfigError> {
        let tx = read_config_envelope(env)?;
        let group = tx
            .config
            .channel_group
            .as_ref()
            .ok_or(ReadConfigError::NoChannelGroup)?;
        Self::from_channel_group(&tx.channel_header.channel_id, group)
    }

    /// Reads the ordering parameters back from a `Channel` config group.
    fn from_channel_group(channel_id: &str, group: &ConfigGroup) -> Result<Self, ReadConfigError> {
        let orderer = group
            .groups
            .get(ORDERER_GROUP)
            .ok_or(ReadConfigError::NoOrdererGroup)?;
        let get = |key: &'static str| {
            orderer
                .values
                .get(key)
                .map(|v| v.value.clone())
                .ok_or(ReadConfigError::MissingValue(key))
        };
        let decode_error =
            |key: &'static str| move |source| ReadConfigError::Decode { key, source };
        let consensus = ord::ConsensusType::decode(get(keys::CONSENSUS_TYPE)?)
            .map_err(decode_error(keys::CONSENSUS_TYPE))?;
        let batch_size = ord::BatchSize::decode(get(keys::BATCH_SIZE)?)
            .map_err(decode_error(keys::BATCH_SIZE))?;
        let batch_timeout = ord::BatchTimeout::decode(get(keys::BATCH_TIMEOUT)?)
            .map_err(decode_error(keys::BATCH_TIMEOUT))?;
        Ok(ChannelConfig {
            channel_id: channel_id.to_owned(),
            consensus_type: consensus
                .r#type
                .parse()
                .map_err(ReadConfigError::ConsensusType)?,
            batch_size: BatchSize {
                max_message_count: batch_size.max_message_count,
                absolute_max_bytes: batch_size.absolute_max_bytes,
                preferred_max_bytes: batch_size.preferred_max_bytes,
            },
            batch_timeout: duration::parse(&batch_timeout.timeout)
                .map_err(ReadConfigError::BatchTimeout)?,
        })
    }
}

/// Why a CONFIG envelope does not give a [`ChannelConfig`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadConfigError {
    /// No readable CONFIG envelope.
    #[error(transparent)]
    ConfigBlock(#[from] ConfigBlockError),
    #[error("Config has no channel group")]
    NoChannelGroup,
    #[error("config has no Orderer group")]
    NoOrdererGroup,
    /// The key of the missing value in the Orderer group.
    #[error("Orderer group has no {0} value")]
    MissingValue(&'static str),
    /// The value under `key` in the Orderer group does not decode.
    #[error("{key}: {source}")]
    Decode {
        key: &'static str,
        #[source]
        source: prost::DecodeError,
    },
    /// Names no consenter kind this orderer knows (the message lists them).
    #[error("ConsensusType: {0}")]
    ConsensusType(String),
    #[error("BatchTimeout: {0}")]
    BatchTimeout(#[source] DurationError),
}

/// Whether a raw envelope is a CONFIG envelope (which makes its block a config block).
pub fn is_config_envelope(env: &Envelope) -> bool {
    parse_payload(env)
        .map(|p| p.header_type() == Some(HeaderType::Config))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genesis::config_envelope;
    use crate::genesis::tests::{kafka_profile, profile};

    fn config() -> ChannelConfig {
        ChannelConfig {
            channel_id: "mychannel".into(),
            consensus_type: ConsenterKind::Solo,
            batch_size: BatchSize::default(),
            batch_timeout: Duration::from_secs(2),
        }
    }

    #[test]
    fn reads_the_ordering_parameters_of_a_config_envelope() {
        let mut p = kafka_profile();
        p.orderer.batch_size.max_message_count = 10;
        let env = config_envelope(&p.channel_id, &p.config().unwrap());
        let read = ChannelConfig::from_envelope(&env).unwrap();
        assert_eq!(read, p.channel_config());
        assert_eq!(read.consensus_type, ConsenterKind::Kafka);
        assert!(is_config_envelope(&env));
    }

    #[test]
    fn diff_names_the_keys() {
        let a = config();
        let mut b = config();
        assert!(a.diff(&b).is_empty());
        b.batch_size.max_message_count = 10;
        b.batch_timeout = Duration::from_millis(200);
        let diff = a.diff(&b);
        let keys: Vec<_> = diff.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            ["Orderer.BatchSize.MaxMessageCount", "Orderer.BatchTimeout"]
        );
        assert_eq!(
            a.diff(&b)[1].to_string(),
            "Orderer.BatchTimeout: 2s vs 200ms"
        );
    }

    #[test]
    fn from_envelope_rejects_non_config_envelopes() {
        let env = Envelope::default();
        assert!(matches!(
            ChannelConfig::from_envelope(&env),
            Err(ReadConfigError::ConfigBlock(_))
        ));
        assert!(!is_config_envelope(&env));
    }

    #[test]
    fn from_envelope_names_the_missing_orderer_value() {
        let mut config = profile().config().unwrap();
        if let Some(orderer) = config
            .channel_group
            .as_mut()
            .and_then(|g| g.groups.get_mut(ORDERER_GROUP))
        {
            orderer.values.remove(keys::BATCH_TIMEOUT);
        }
        let env = config_envelope("mychannel", &config);
        let err = ChannelConfig::from_envelope(&env).unwrap_err();
        assert_eq!(err, ReadConfigError::MissingValue(keys::BATCH_TIMEOUT));
        assert_eq!(err.to_string(), "Orderer group has no BatchTimeout value");
    }
}
