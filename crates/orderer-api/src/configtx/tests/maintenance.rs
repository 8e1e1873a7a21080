//! Maintenance mode (orderer/common/msgprocessor/maintenancefilter.go).

use bytes::Bytes;
use prost::Message;

use super::*;
use crate::channelconfig::ChannelValues;
use crate::configtx::check_maintenance;
use crate::proto::orderer::ConsensusType;
use crate::proto::orderer::consensus_type::State;

use UpdateErrorClass::BadRequest;

fn consensus(kind: &str, state: State, metadata: &[u8]) -> Bytes {
    ConsensusType {
        r#type: kind.into(),
        metadata: Bytes::copy_from_slice(metadata),
        state: state as i32,
    }
    .encode_to_vec()
    .into()
}

fn to_maintenance(config: &Config) -> ConfigUpdate {
    value_update(
        config,
        &["Orderer"],
        "ConsensusType",
        consensus("solo", State::Maintenance, b""),
    )
}

fn propose_on(config: &Config, update: &ConfigUpdate) -> Result<Config, UpdateError> {
    current_of(config)
        .validator()
        .propose_config_update(&envelope(update, &[ORDERER_ADMIN]), &FakeMsps)
        .map(|env| env.config.unwrap())
}

#[test]
fn entering_and_leaving_maintenance_mode_change_only_the_consensus_type() {
    let config = config();
    let maintenance = propose_on(&config, &to_maintenance(&config)).unwrap();
    assert!(
        ChannelValues::new(CHANNEL, maintenance.clone())
            .unwrap()
            .is_maintenance()
    );
    let back = value_update(
        &maintenance,
        &["Orderer"],
        "ConsensusType",
        consensus("solo", State::Normal, b""),
    );
    let normal = propose_on(&maintenance, &back).unwrap();
    assert!(
        !ChannelValues::new(CHANNEL, normal)
            .unwrap()
            .is_maintenance()
    );

    // In maintenance mode, other config updates pass.
    let batch = value_update(&maintenance, &["Orderer"], "BatchSize", batch_size(9));
    propose_on(&maintenance, &batch).unwrap();
}

#[test]
fn a_change_of_state_with_any_other_change_is_refused() {
    let config = config();
    let mut update = to_maintenance(&config);
    let write = update.write_set.as_mut().unwrap();
    let orderer = at_mut(write, &["Orderer"]);
    let mut bs =
        at(config.channel_group.as_ref().unwrap(), &["Orderer"]).values["BatchSize"].clone();
    bs.version = 1;
    bs.value = batch_size(9);
    orderer.values.insert("BatchSize".into(), bs);
    let err = propose_on(&config, &update).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &[
            "config update for existing channel did not pass maintenance checks: \
           config update contain more then just the ConsensusType value in the Orderer group",
        ],
    );

    // A channel-level value alongside.
    let mut update = to_maintenance(&config);
    let write = update.write_set.as_mut().unwrap();
    let mut hashing = config.channel_group.as_ref().unwrap().values["HashingAlgorithm"].clone();
    hashing.version = 0;
    write
        .values
        .insert("HashingAlgorithm".into(), hashing.clone());
    update
        .read_set
        .as_mut()
        .unwrap()
        .values
        .insert("HashingAlgorithm".into(), hashing);
    let err = propose_on(&config, &update).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &["config update contains changes to values in group Channel"],
    );
}

#[test]
fn changing_the_metadata_with_the_state_is_refused() {
    let config = config();
    let update = value_update(
        &config,
        &["Orderer"],
        "ConsensusType",
        consensus("solo", State::Maintenance, b"meta"),
    );
    let err = propose_on(&config, &update).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &[
            "attempted to change ConsensusType.Metadata, but ConsensusType.State is changing from STATE_NORMAL to STATE_MAINTENANCE",
        ],
    );
}

#[test]
fn without_the_migration_capability_maintenance_mode_is_refused() {
    let mut p = profile();
    p.capabilities.clear();
    p.orderer.capabilities = ["V1_1".to_owned()].into();
    p.application.as_mut().unwrap().capabilities.clear();
    p.application.as_mut().unwrap().acls.clear();
    let config = p.config().unwrap();
    let err = propose_on(&config, &to_maintenance(&config)).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &[
            "next config attempted to change ConsensusType.State to STATE_MAINTENANCE, but capability is disabled",
        ],
    );
}

#[test]
fn a_consensus_type_change_is_always_refused() {
    // check_successor refuses it before the maintenance checks; check_maintenance
    // on its own says why.
    let values = |kind: &str, state: State| {
        let mut config = config();
        let root = config.channel_group.as_mut().unwrap();
        let orderer = at_mut(root, &["Orderer"]);
        orderer.values.get_mut("ConsensusType").unwrap().value = consensus(kind, state, b"");
        orderer.values.insert(
            "KafkaBrokers".into(),
            value(
                crate::proto::orderer::KafkaBrokers {
                    brokers: vec!["kafka0:9092".into()],
                }
                .encode_to_vec()
                .into(),
                0,
                "Admins",
            ),
        );
        ChannelValues::new(CHANNEL, config).unwrap()
    };
    let update = ConfigUpdate::default();
    let solo = values("solo", State::Maintenance);
    let kafka = values("kafka", State::Maintenance);
    let err = check_maintenance(&solo, &kafka, &update).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &[
            "attempted to change consensus type from solo to kafka, transition not supported",
            "no consensus-type migration",
        ],
    );
    // Entering maintenance mode and changing type at once: Fabric's first check
    // is that the update changes only the consensus type.
    let err = check_maintenance(&values("solo", State::Normal), &kafka, &update).unwrap_err();
    assert_refused(err, BadRequest, &["config update contains no changes"]);

    // Through a proposal: a solo channel that lists brokers becoming kafka.
    let config = solo.config().clone();
    let config = Config {
        channel_group: config.channel_group.map(|mut root| {
            let ct = at_mut(&mut root, &["Orderer"])
                .values
                .get_mut("ConsensusType");
            ct.unwrap().value = consensus("solo", State::Normal, b"");
            root
        }),
        ..config
    };
    let update = value_update(
        &config,
        &["Orderer"],
        "ConsensusType",
        consensus("kafka", State::Normal, b""),
    );
    let err = propose_on(&config, &update).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &["consensus type cannot change from solo to kafka"],
    );
}
