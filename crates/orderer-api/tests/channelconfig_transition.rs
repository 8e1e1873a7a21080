//! Which configuration may follow which (Fabric's checks between bundles).

#![allow(clippy::unwrap_used)]

mod channelconfig_support;

use channelconfig_support::*;
use orderer_api::channelconfig::{ChannelValues, ConfigErrorKind, keys};
use orderer_api::proto::common::{Config, ConfigGroup};
use orderer_api::proto::msp::{FabricMspConfig, MspConfig};
use orderer_api::proto::orderer::ConsensusType;

/// The fixture, and its successor after `change` with the sequence bumped.
fn step(fixture: &[u8], change: impl FnOnce(&mut Config)) -> (ChannelValues, ChannelValues) {
    let current = parse(fixture);
    let next = accepted(fixture, |c| {
        c.sequence += 1;
        change(c);
    });
    (current, next)
}

fn msp_named(id: &str) -> MspConfig {
    MspConfig {
        r#type: 0,
        config: prost::Message::encode_to_vec(&FabricMspConfig {
            name: id.into(),
            ..Default::default()
        })
        .into(),
    }
}

#[test]
fn a_successor_has_the_next_sequence() {
    let (current, next) = step(SOLO_SYSTEM, |_| {});
    current.check_successor(&next).unwrap();
    let err = current.check_successor(&current).unwrap_err();
    assert_eq!(err.path, "Config.sequence");
    assert!(err.reason.contains("sequence 0 cannot follow sequence 0"));
}

#[test]
fn a_successor_is_for_the_same_channel() {
    let current = parse(SOLO_SYSTEM);
    let (_, mut cfg) = config(SOLO_SYSTEM);
    cfg.sequence = 1;
    let other = ChannelValues::new("otherchan", cfg).unwrap();
    assert_eq!(
        current.check_successor(&other).unwrap_err().path,
        "ChannelHeader.channel_id"
    );
}

#[test]
fn consensus_type_cannot_change() {
    let (current, next) = step(KAFKA_SYSTEM, |c| {
        let solo = ConsensusType {
            r#type: "solo".into(),
            ..Default::default()
        };
        set(c, &["Orderer"], keys::CONSENSUS_TYPE, &solo);
    });
    let err = current.check_successor(&next).unwrap_err();
    assert_error(
        &err,
        "/Channel/Orderer/ConsensusType",
        ConfigErrorKind::Invalid,
        "the consensus type cannot change from kafka to solo",
    );
    // Entering maintenance mode is a change of state, not of type.
    let (current, next) = step(KAFKA_SYSTEM, |c| {
        let maintenance = ConsensusType {
            r#type: "kafka".into(),
            state: 1,
            ..Default::default()
        };
        set(c, &["Orderer"], keys::CONSENSUS_TYPE, &maintenance);
    });
    current.check_successor(&next).unwrap();
}

#[test]
fn organizations_keep_their_msp_id() {
    for (group_path, path) in [
        (
            &["Orderer", "OrdererOrg"][..],
            "/Channel/Orderer/OrdererOrg/MSP",
        ),
        (
            &["Application", "PeerOrg"][..],
            "/Channel/Application/PeerOrg/MSP",
        ),
    ] {
        let (current, next) = step(KAFKA_V14_APP_CHANNEL, |c| {
            set(c, group_path, keys::MSP, &msp_named("RenamedMSP"));
        });
        let err = current.check_successor(&next).unwrap_err();
        assert_eq!(err.path, path);
        assert!(err.reason.contains("to RenamedMSP"), "{err}");
    }
    // Consortium members too; the same MSP is defined in three groups, so all change.
    let (current, next) = step(SOLO_SYSTEM, |c| {
        for g in [
            &["Orderer", "SampleOrg"][..],
            &["Application", "SampleOrg"],
            &["Consortiums", "SampleConsortium", "SampleOrg"],
        ] {
            set(c, g, keys::MSP, &msp_named("RenamedMSP"));
        }
    });
    assert_eq!(
        current.check_successor(&next).unwrap_err().path,
        "/Channel/Orderer/SampleOrg/MSP"
    );
    // Adding and removing organizations is what config updates are for.
    let (current, next) = step(KAFKA_V14_APP_CHANNEL, |c| {
        let org = group(c, &["Application", "PeerOrg"]).clone();
        let apps = group(c, &["Application"]);
        apps.groups.remove("PeerOrg");
        apps.groups.insert("PeerOrg2".into(), org);
    });
    current.check_successor(&next).unwrap();
}

#[test]
fn application_and_consortiums_groups_stay() {
    let (current, next) = step(KAFKA_V14_APP_CHANNEL, |c| {
        group(c, &[]).groups.remove("Application");
    });
    assert_eq!(
        current.check_successor(&next).unwrap_err().path,
        "/Channel/Application"
    );
    let (current, next) = step(SOLO_SYSTEM, |c| {
        group(c, &[]).groups.remove("Consortiums");
    });
    assert_eq!(
        current.check_successor(&next).unwrap_err().path,
        "/Channel/Consortiums"
    );
    let (current, next) = step(SOLO_APP_CHANNEL, |c| {
        group(c, &[])
            .groups
            .insert("Consortiums".into(), ConfigGroup::default());
    });
    let err = current.check_successor(&next).unwrap_err();
    assert!(err.reason.contains("cannot be added"), "{err}");
}
