//! A channel's ordering parameters and the config blocks that record them.
//!
//! Block 0 of every channel is a CONFIG block built **deterministically** from its
//! [`ChannelConfig`]: no timestamp, no nonce, sorted maps. Two OSNs with the same
//! configuration therefore hold byte-identical genesis blocks, and their chains can be
//! compared header hash by header hash.

use std::time::Duration;

use bytes::Bytes;
use prost::Message;

use crate::block::{new_block, set_orderer_metadata};
use crate::blockcutter::BatchSize;
use crate::channelconfig::ConfigBlockError;
use crate::consensus::ConsenterKind;
use crate::duration::{self, DurationError};
use crate::envelope::parse_payload;
use crate::proto::common::{
    Block, BlockDataHashingStructure, ChannelHeader, Config, ConfigEnvelope, ConfigGroup,
    ConfigPolicy, ConfigValue, Envelope, HashingAlgorithm, Header, HeaderType, ImplicitMetaPolicy,
    Payload, Policy, SignatureHeader, implicit_meta_policy::Rule, policy::PolicyType,
};
use crate::proto::orderer as ord;

const ORDERER_GROUP: &str = "Orderer";
const BATCH_SIZE: &str = "BatchSize";
const BATCH_TIMEOUT: &str = "BatchTimeout";
const CONSENSUS_TYPE: &str = "ConsensusType";
const ADMINS: &str = "Admins";

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

    /// The `Channel` config group: Fabric's layout, with the ordering parameters in
    /// the `Orderer` sub-group. All versions are 0.
    fn channel_group(&self) -> ConfigGroup {
        let mut orderer = ConfigGroup {
            mod_policy: ADMINS.into(),
            ..Default::default()
        };
        let value = |msg: Vec<u8>| ConfigValue {
            version: 0,
            value: msg.into(),
            mod_policy: ADMINS.into(),
        };
        orderer.values.insert(
            CONSENSUS_TYPE.into(),
            value(
                ord::ConsensusType {
                    r#type: self.consensus_type.to_string(),
                    ..Default::default()
                }
                .encode_to_vec(),
            ),
        );
        orderer.values.insert(
            BATCH_SIZE.into(),
            value(
                ord::BatchSize {
                    max_message_count: self.batch_size.max_message_count,
                    absolute_max_bytes: self.batch_size.absolute_max_bytes,
                    preferred_max_bytes: self.batch_size.preferred_max_bytes,
                }
                .encode_to_vec(),
            ),
        );
        orderer.values.insert(
            BATCH_TIMEOUT.into(),
            value(
                ord::BatchTimeout {
                    timeout: duration::format(self.batch_timeout),
                }
                .encode_to_vec(),
            ),
        );
        add_standard_policies(&mut orderer);
        orderer.policies.insert(
            "BlockValidation".into(),
            implicit_meta("Writers", Rule::Any),
        );

        let mut channel = ConfigGroup {
            mod_policy: ADMINS.into(),
            ..Default::default()
        };
        channel.values.insert(
            "HashingAlgorithm".into(),
            value(
                HashingAlgorithm {
                    name: "SHA256".into(),
                }
                .encode_to_vec(),
            ),
        );
        channel.values.insert(
            "BlockDataHashingStructure".into(),
            value(BlockDataHashingStructure { width: u32::MAX }.encode_to_vec()),
        );
        add_standard_policies(&mut channel);
        channel.groups.insert(ORDERER_GROUP.into(), orderer);
        channel
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
        let consensus = ord::ConsensusType::decode(get(CONSENSUS_TYPE)?)
            .map_err(decode_error(CONSENSUS_TYPE))?;
        let batch_size =
            ord::BatchSize::decode(get(BATCH_SIZE)?).map_err(decode_error(BATCH_SIZE))?;
        let batch_timeout =
            ord::BatchTimeout::decode(get(BATCH_TIMEOUT)?).map_err(decode_error(BATCH_TIMEOUT))?;
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

/// Why a config block or envelope does not give a [`CommittedConfig`].
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

fn implicit_meta(sub_policy: &str, rule: Rule) -> ConfigPolicy {
    ConfigPolicy {
        version: 0,
        policy: Some(Policy {
            r#type: PolicyType::ImplicitMeta as i32,
            value: ImplicitMetaPolicy {
                sub_policy: sub_policy.into(),
                rule: rule as i32,
            }
            .encode_to_vec()
            .into(),
        }),
        mod_policy: ADMINS.into(),
    }
}

fn add_standard_policies(group: &mut ConfigGroup) {
    group
        .policies
        .insert("Readers".into(), implicit_meta("Readers", Rule::Any));
    group
        .policies
        .insert("Writers".into(), implicit_meta("Writers", Rule::Any));
    group
        .policies
        .insert(ADMINS.into(), implicit_meta(ADMINS, Rule::Majority));
}

/// Gives every value, policy and group of `new` the version it has in `old`, plus one
/// where its content changed: Fabric's versioning of config elements.
fn carry_versions(new: &mut ConfigGroup, old: &ConfigGroup) {
    let mut changed = new.groups.keys().ne(old.groups.keys())
        || new.values.keys().ne(old.values.keys())
        || new.policies.keys().ne(old.policies.keys());
    for (key, value) in &mut new.values {
        if let Some(prev) = old.values.get(key) {
            value.version = prev.version + u64::from(prev.value != value.value);
        }
    }
    for (key, policy) in &mut new.policies {
        if let Some(prev) = old.policies.get(key) {
            policy.version = prev.version + u64::from(prev.policy != policy.policy);
        }
    }
    for (key, group) in &mut new.groups {
        if let Some(prev) = old.groups.get(key) {
            carry_versions(group, prev);
        }
    }
    changed |= new.mod_policy != old.mod_policy;
    new.version = old.version + u64::from(changed);
}

/// A channel configuration as committed in a config block: the parameters, the
/// config sequence (0 for the genesis block, +1 per config block) and the config tree.
#[derive(Clone, Debug, PartialEq)]
pub struct CommittedConfig {
    pub channel: ChannelConfig,
    pub sequence: u64,
    pub channel_group: ConfigGroup,
}

impl CommittedConfig {
    /// The configuration block 0 records.
    pub fn genesis(channel: ChannelConfig) -> Self {
        let channel_group = channel.channel_group();
        CommittedConfig {
            channel,
            sequence: 0,
            channel_group,
        }
    }

    /// The configuration that replaces `self` with new parameters: sequence + 1, and
    /// the versions of changed elements bumped.
    pub fn update(&self, channel: ChannelConfig) -> Self {
        let mut channel_group = channel.channel_group();
        carry_versions(&mut channel_group, &self.channel_group);
        CommittedConfig {
            channel,
            sequence: self.sequence + 1,
            channel_group,
        }
    }

    /// The CONFIG envelope that carries this configuration. Unsigned: the ordering
    /// service's signature goes on the block (metadata), not on the envelope.
    pub fn envelope(&self) -> Envelope {
        let channel_header = ChannelHeader {
            r#type: HeaderType::Config as i32,
            version: 0,
            timestamp: None,
            channel_id: self.channel.channel_id.clone(),
            tx_id: String::new(),
            epoch: 0,
            extension: Bytes::new(),
            tls_cert_hash: Bytes::new(),
        };
        let data = ConfigEnvelope {
            config: Some(Config {
                sequence: self.sequence,
                channel_group: Some(self.channel_group.clone()),
            }),
            last_update: None,
        };
        let payload = Payload {
            header: Some(Header {
                channel_header: channel_header.encode_to_vec().into(),
                signature_header: SignatureHeader::default().encode_to_vec().into(),
            }),
            data: data.encode_to_vec().into(),
        };
        Envelope {
            payload: payload.encode_to_vec().into(),
            signature: Bytes::new(),
        }
    }

    /// Block 0 of the channel: the genesis configuration alone, hash-chained from nothing.
    pub fn genesis_block(channel: ChannelConfig) -> Block {
        let config = CommittedConfig::genesis(channel);
        let env = config.envelope();
        let mut block = new_block(0, Bytes::new(), vec![env.encode_to_vec().into()]);
        set_orderer_metadata(&mut block, 0, Bytes::new());
        block
    }

    /// Reads a configuration from a CONFIG envelope.
    pub fn from_envelope(env: &Envelope) -> Result<Self, ReadConfigError> {
        let tx = crate::channelconfig::read_config_envelope(env)?;
        Self::from_config_tx(tx)
    }

    /// Reads a configuration from a config block (exactly one CONFIG envelope).
    pub fn from_block(block: &Block) -> Result<Self, ReadConfigError> {
        let tx = crate::channelconfig::read_config_block(block)?;
        Self::from_config_tx(tx)
    }

    fn from_config_tx(tx: crate::channelconfig::ConfigTx) -> Result<Self, ReadConfigError> {
        let channel_id = tx.channel_header.channel_id;
        let channel_group = tx
            .config
            .channel_group
            .ok_or(ReadConfigError::NoChannelGroup)?;
        let channel = ChannelConfig::from_channel_group(&channel_id, &channel_group)?;
        Ok(CommittedConfig {
            channel,
            sequence: tx.config.sequence,
            channel_group,
        })
    }
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
    use crate::block::block_header_hash;

    fn config() -> ChannelConfig {
        ChannelConfig {
            channel_id: "mychannel".into(),
            consensus_type: ConsenterKind::Solo,
            batch_size: BatchSize::default(),
            batch_timeout: Duration::from_secs(2),
        }
    }

    #[test]
    fn genesis_block_is_deterministic_and_round_trips() {
        let a = CommittedConfig::genesis_block(config());
        let b = CommittedConfig::genesis_block(config());
        assert_eq!(a.encode_to_vec(), b.encode_to_vec());
        let ha = block_header_hash(a.header.as_ref().unwrap());
        let mut other = config();
        other.batch_size.max_message_count = 10;
        let c = CommittedConfig::genesis_block(other.clone());
        assert_ne!(ha, block_header_hash(c.header.as_ref().unwrap()));

        let back = CommittedConfig::from_block(&c).unwrap();
        assert_eq!(back.channel, other);
        assert_eq!(back.sequence, 0);
        crate::block::verify_block(&c, None).unwrap();
    }

    #[test]
    fn kafka_type_round_trips() {
        let mut cfg = config();
        cfg.consensus_type = ConsenterKind::Kafka;
        let block = CommittedConfig::genesis_block(cfg.clone());
        assert_eq!(CommittedConfig::from_block(&block).unwrap().channel, cfg);
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
    fn update_bumps_sequence_and_changed_versions_only() {
        let genesis = CommittedConfig::genesis(config());
        let mut next = config();
        next.batch_size.max_message_count = 10;
        let updated = genesis.update(next.clone());
        assert_eq!(updated.sequence, 1);
        let orderer = &updated.channel_group.groups["Orderer"];
        assert_eq!(orderer.values["BatchSize"].version, 1);
        assert_eq!(orderer.values["BatchTimeout"].version, 0);
        assert_eq!(orderer.version, 0);
        let back = CommittedConfig::from_envelope(&updated.envelope()).unwrap();
        assert_eq!(back, updated);
        assert!(is_config_envelope(&updated.envelope()));
    }

    #[test]
    fn from_block_rejects_non_config_blocks() {
        let block = new_block(1, Bytes::new(), vec![]);
        assert_eq!(
            CommittedConfig::from_block(&block),
            Err(ReadConfigError::ConfigBlock(
                ConfigBlockError::EnvelopeCount {
                    number: 1,
                    count: 0
                }
            ))
        );
    }

    #[test]
    fn from_block_names_the_missing_orderer_value() {
        let mut committed = CommittedConfig::genesis(config());
        if let Some(orderer) = committed.channel_group.groups.get_mut(ORDERER_GROUP) {
            orderer.values.remove(BATCH_TIMEOUT);
        }
        let err = CommittedConfig::from_envelope(&committed.envelope()).unwrap_err();
        assert_eq!(err, ReadConfigError::MissingValue(BATCH_TIMEOUT));
        assert_eq!(err.to_string(), "Orderer group has no BatchTimeout value");
    }
}
