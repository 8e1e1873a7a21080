//! Channel configurations for tests, built by the one encoder ([`crate::genesis`]):
//! a test names only the ordering parameters ([`ChannelConfig`]) and gets a whole
//! Fabric configuration around them.
//!
//! * [`profile`] / [`genesis()`]: block 0 of a test channel: one organization
//!   (`SampleOrg`, orderer and application at once, as the node's bootstrap makes
//!   it), the sample profiles' policies and capabilities.
//! * [`next_config`] / [`next_config_envelope`]: the configuration that follows
//!   one in force, with other ordering parameters, as a committed config update
//!   would leave it.
//! * [`reconfigure`]: that envelope for a channel still at its genesis config.
//!
//! Test support: an input these cannot turn into a configuration panics, naming it.

use bytes::Bytes;

use crate::channel::ChannelConfig;
use crate::channelconfig::{ChannelValues, ORDERER_GROUP, keys};
use crate::consensus::ConsenterKind;
use crate::genesis::encode::{batch_size_value, batch_timeout_value, consensus_type_value};
use crate::genesis::{self, Consensus, Genesis, Organization, Profile};
use crate::proto::common::{Config, ConfigValue, Envelope};
use crate::proto::msp::FabricMspConfig;

/// The MSP ID (and org name) of a test channel's one organization.
pub const TEST_MSP_ID: &str = "SampleOrg";

/// The profile of a test channel with `ch`'s ordering parameters.
pub fn profile(ch: &ChannelConfig) -> Profile {
    // The generator checks only that an MSP has a root CA, not what it holds.
    let msp = FabricMspConfig {
        name: TEST_MSP_ID.into(),
        root_certs: vec![Bytes::from_static(b"root of SampleOrg")],
        ..Default::default()
    };
    let org = Organization::new(TEST_MSP_ID, TEST_MSP_ID, msp.into());
    let consensus = match ch.consensus_type {
        ConsenterKind::Solo => Consensus::Solo,
        // Fabric requires a Kafka channel to list a broker; the chains reach
        // Kafka through the node's own broker list, so this one is never dialed.
        ConsenterKind::Kafka => Consensus::Kafka {
            brokers: vec!["127.0.0.1:9092".into()],
        },
    };
    let mut p = Profile::new(&ch.channel_id, consensus, vec![org.clone()], vec![org]);
    p.orderer.batch_size = ch.batch_size;
    p.orderer.batch_timeout = ch.batch_timeout;
    p
}

/// The genesis configuration and block 0 of a test channel (see [`profile`]).
pub fn genesis(ch: &ChannelConfig) -> Genesis {
    profile(ch)
        .generate()
        .unwrap_or_else(|e| panic!("test channel {ch:?}: {e}"))
}

/// The configuration a test channel's block 0 commits.
pub fn genesis_values(ch: &ChannelConfig) -> ChannelValues {
    ChannelValues::new(&ch.channel_id, genesis(ch).config)
        .unwrap_or_else(|e| panic!("test channel {ch:?}: the generated config: {e}"))
}

/// The configuration that follows `current` with `next`'s consenter type, batch
/// size and batch timeout: sequence + 1, and each Orderer value that changes
/// encoded as a profile encodes it, at its version + 1 (Fabric's versioning; the
/// group's own version changes only when its set of keys does). `next`'s channel
/// ID is not read.
pub fn next_config(current: &ChannelValues, next: &ChannelConfig) -> Config {
    let now = current.channel_config();
    let mut config = current.config().clone();
    config.sequence += 1;
    let orderer = config
        .channel_group
        .as_mut()
        .and_then(|g| g.groups.get_mut(ORDERER_GROUP))
        .unwrap_or_else(|| panic!("a ChannelValues always has an Orderer group"));
    let mut set = |key: &str, new: ConfigValue| match orderer.values.get_mut(key) {
        Some(value) => {
            value.version += 1;
            value.value = new.value;
        }
        None => {
            orderer.values.insert(key.to_owned(), new);
        }
    };
    // Compared as parameters, not bytes: a ConsensusType may carry a state or
    // metadata that an unchanged consenter type must keep.
    if now.consensus_type != next.consensus_type {
        set(
            keys::CONSENSUS_TYPE,
            consensus_type_value(next.consensus_type),
        );
    }
    if now.batch_size != next.batch_size {
        set(keys::BATCH_SIZE, batch_size_value(&next.batch_size));
    }
    if now.batch_timeout != next.batch_timeout {
        set(keys::BATCH_TIMEOUT, batch_timeout_value(next.batch_timeout));
    }
    config
}

/// [`next_config`] in the CONFIG envelope that carries it.
pub fn next_config_envelope(current: &ChannelValues, next: &ChannelConfig) -> Envelope {
    genesis::config_envelope(current.channel_id(), &next_config(current, next))
}

/// The CONFIG envelope that replaces the genesis configuration of `ch` (as
/// [`FakeSupport::new`](super::FakeSupport::new) commits it) with `next`'s
/// ordering parameters, at sequence 1.
pub fn reconfigure(ch: &ChannelConfig, next: &ChannelConfig) -> Envelope {
    next_config_envelope(&genesis_values(ch), next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::is_config_envelope;
    use crate::genesis::tests::profile as sample_profile;

    /// The ordering parameters of the genesis tests' sample channel.
    fn config() -> ChannelConfig {
        sample_profile().channel_config()
    }

    #[test]
    fn the_genesis_config_has_the_parameters() {
        let mut ch = config();
        ch.consensus_type = ConsenterKind::Kafka;
        ch.batch_size.max_message_count = 10;
        let block = genesis(&ch).block;
        let values = ChannelValues::from_block(&block).unwrap();
        assert_eq!(values.channel_config(), ch);
        assert_eq!(values.sequence(), 0);
        crate::block::verify_block(&block, None).unwrap();
    }

    #[test]
    fn next_config_bumps_sequence_and_changed_versions_only() {
        let genesis = genesis_values(&config());
        let mut next = config();
        next.batch_size.max_message_count = 10;
        let env = next_config_envelope(&genesis, &next);
        let updated = ChannelValues::from_envelope(&env).unwrap();
        assert_eq!(updated.sequence(), 1);
        assert_eq!(updated.channel_config(), next);
        let orderer = &updated.config().channel_group.as_ref().unwrap().groups["Orderer"];
        assert_eq!(orderer.values["BatchSize"].version, 1);
        assert_eq!(orderer.values["BatchTimeout"].version, 0);
        assert_eq!(orderer.version, 0);
        assert!(is_config_envelope(&env));
        assert_eq!(env, reconfigure(&config(), &next));
    }
}
