//! Real config blocks made by Fabric v2.5's configtxgen (see
//! `fixtures/channelconfig/README.md`) and helpers to bend their configs one rule
//! at a time.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use orderer_api::channelconfig::{ChannelValues, ConfigError, ConfigErrorKind, read_config_block};
use orderer_api::proto::common::{Block, Config, ConfigGroup, ConfigValue};
use prost::Message;

/// `SampleDevModeSolo`: a solo system channel with Orderer, Application and
/// Consortiums groups, capabilities V2_0 / V2_0 / V2_5, org endpoints, no
/// OrdererAddresses.
pub const SOLO_SYSTEM: &[u8] = include_bytes!("../fixtures/channelconfig/solo_system.block");
/// `SampleDevModeKafka`: the same with `OrdererType: kafka` and three brokers.
pub const KAFKA_SYSTEM: &[u8] = include_bytes!("../fixtures/channelconfig/kafka_system.block");
/// `SampleAppChannelInsecureSolo`: an application channel without organizations.
pub const SOLO_APP_CHANNEL: &[u8] =
    include_bytes!("../fixtures/channelconfig/solo_app_channel.block");
/// `KafkaV14AppChannel`: a v1.4-era kafka application channel: capabilities
/// V1_3 / V1_1 / V1_3, OrdererAddresses, a Consortium value, two organizations.
pub const KAFKA_V14_APP_CHANNEL: &[u8] =
    include_bytes!("../fixtures/channelconfig/kafka_v14_app_channel.block");
/// `RaftChannel`: an etcdraft application channel.
pub const ETCDRAFT_CHANNEL: &[u8] =
    include_bytes!("../fixtures/channelconfig/etcdraft_channel.block");

pub fn block(bytes: &[u8]) -> Block {
    Block::decode(Bytes::copy_from_slice(bytes)).unwrap()
}

/// The channel ID and config of a fixture block.
pub fn config(bytes: &[u8]) -> (String, Config) {
    let tx = read_config_block(&block(bytes)).unwrap();
    (tx.channel_header.channel_id, tx.config)
}

pub fn parse(bytes: &[u8]) -> ChannelValues {
    ChannelValues::from_block(&block(bytes)).unwrap()
}

/// The group at `path` below `/Channel` (empty path: `/Channel` itself).
pub fn group<'a>(config: &'a mut Config, path: &[&str]) -> &'a mut ConfigGroup {
    let mut g = config.channel_group.as_mut().unwrap();
    for name in path {
        g = g
            .groups
            .get_mut(*name)
            .unwrap_or_else(|| panic!("no group {name}"));
    }
    g
}

/// A config value holding `msg`, as configtxgen writes one.
pub fn value(msg: &impl Message) -> ConfigValue {
    raw_value(msg.encode_to_vec())
}

pub fn raw_value(bytes: impl Into<Bytes>) -> ConfigValue {
    ConfigValue {
        version: 0,
        value: bytes.into(),
        mod_policy: "Admins".into(),
    }
}

/// Sets value `key` of the group at `path` to `msg`.
pub fn set(config: &mut Config, path: &[&str], key: &str, msg: &impl Message) {
    group(config, path).values.insert(key.into(), value(msg));
}

/// Removes value `key` of the group at `path`.
pub fn remove(config: &mut Config, path: &[&str], key: &str) {
    group(config, path)
        .values
        .remove(key)
        .expect("value to remove");
}

/// Parses `fixture` after `change`, expecting an error.
pub fn refused(fixture: &[u8], change: impl FnOnce(&mut Config)) -> ConfigError {
    let (id, mut cfg) = config(fixture);
    change(&mut cfg);
    match ChannelValues::new(&id, cfg) {
        Ok(_) => panic!("the changed config was accepted"),
        Err(e) => e,
    }
}

/// Parses `fixture` after `change`, expecting success.
pub fn accepted(fixture: &[u8], change: impl FnOnce(&mut Config)) -> ChannelValues {
    let (id, mut cfg) = config(fixture);
    change(&mut cfg);
    ChannelValues::new(&id, cfg).unwrap()
}

/// Asserts the error's path and kind, and that its message contains `text`.
pub fn assert_error(err: &ConfigError, path: &str, kind: ConfigErrorKind, text: &str) {
    assert_eq!(err.path, path, "{err}");
    assert_eq!(err.kind, kind, "{err}");
    assert!(
        err.to_string().contains(text),
        "{err:?} should contain {text:?}"
    );
}
