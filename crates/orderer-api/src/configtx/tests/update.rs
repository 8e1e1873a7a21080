//! Updates of an existing channel (common/configtx/update.go, validator.go).

use bytes::Bytes;
use prost::Message;

use super::*;
use crate::channelconfig::ChannelValues;
use crate::proto::common::ConfigPolicy;
use crate::proto::common::{ConfigEnvelope, OrdererAddresses};
use crate::proto::peer::{AnchorPeer as AnchorPeerProto, AnchorPeers};

use UpdateErrorClass::{BadRequest, Forbidden};

fn propose(update: &ConfigUpdate, signers: &[&str]) -> Result<ConfigEnvelope, UpdateError> {
    current()
        .validator()
        .propose_config_update(&envelope(update, signers), &FakeMsps)
}

fn next_root(env: &ConfigEnvelope) -> &ConfigGroup {
    env.config.as_ref().unwrap().channel_group.as_ref().unwrap()
}

#[test]
fn orderer_admins_change_batch_size() {
    let config = config();
    let update = value_update(&config, &["Orderer"], "BatchSize", batch_size(42));
    let env = envelope(&update, &[ORDERER_ADMIN]);
    let proposed = current_of(&config)
        .validator()
        .propose_config_update(&env, &FakeMsps)
        .unwrap();

    assert_eq!(proposed.last_update.as_ref(), Some(&env));
    let next = proposed.config.clone().unwrap();
    assert_eq!(next.sequence, config.sequence + 1);
    // Exactly one element changed: the current config with the new BatchSize.
    let mut expected = config.channel_group.clone().unwrap();
    let bs = at_mut(&mut expected, &["Orderer"])
        .values
        .get_mut("BatchSize")
        .unwrap();
    bs.version = 1;
    bs.value = batch_size(42);
    assert_eq!(next.channel_group.as_ref(), Some(&expected));
    let values = ChannelValues::new(CHANNEL, next).unwrap();
    assert_eq!(values.orderer().batch_size().max_message_count, 42);
}

#[test]
fn a_change_without_the_mod_policy_signatures_is_forbidden_naming_element_and_policy() {
    let config = config();
    let update = value_update(&config, &["Orderer"], "BatchSize", batch_size(42));
    for signers in [&[ORG1_ADMIN, ORG2_ADMIN][..], &[], &["OrdererMSP::member"]] {
        let err = propose(&update, signers).unwrap_err();
        assert_refused(
            err,
            Forbidden,
            &[
                "error applying config update to existing channel 'mychannel': \
                 error authorizing update: error validating DeltaSet: \
                 policy for [Value]  /Channel/Orderer/BatchSize not satisfied: ",
                "/Channel/Orderer/Admins",
            ],
        );
    }
    // A bad signature of the right signer does not count.
    let mut env = envelope(&update, &[ORDERER_ADMIN]);
    let mut payload = Payload::decode(env.payload.clone()).unwrap();
    let mut cue = ConfigUpdateEnvelope::decode(payload.data.clone()).unwrap();
    cue.signatures[0].signature = Bytes::from_static(b"bad");
    payload.data = cue.encode_to_vec().into();
    env.payload = payload.encode_to_vec().into();
    let err = current()
        .validator()
        .propose_config_update(&env, &FakeMsps)
        .unwrap_err();
    assert_refused(err, Forbidden, &["invalid signature"]);
}

#[test]
fn stale_read_set_names_the_element_and_both_versions() {
    let config = config();
    let mut update = value_update(&config, &["Orderer"], "BatchSize", batch_size(42));
    let read = update.read_set.as_mut().unwrap();
    at_mut(read, &["Orderer"])
        .values
        .insert("BatchTimeout".into(), value(Bytes::new(), 3, ""));
    let err = propose(&update, &[ORDERER_ADMIN]).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &[
            "error authorizing update: error validating ReadSet: proposed update requires that key \
           [Value]  /Channel/Orderer/BatchTimeout be at version 3, but it is currently at version 0",
        ],
    );
}

#[test]
fn a_read_set_element_that_does_not_exist_is_refused() {
    let config = config();
    let mut update = value_update(&config, &["Orderer"], "BatchSize", batch_size(42));
    let read = update.read_set.as_mut().unwrap();
    read.policies.insert("Nope".into(), Default::default());
    let err = propose(&update, &[ORDERER_ADMIN]).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &[
            "existing config does not contain element for [Policy] /Channel/Nope but was in the read set",
        ],
    );
}

#[test]
fn a_write_must_bump_the_version_by_exactly_one() {
    let config = config();
    for version in [0, 2] {
        let mut update = value_update(&config, &["Orderer"], "BatchSize", batch_size(42));
        let write = update.write_set.as_mut().unwrap();
        at_mut(write, &["Orderer"])
            .values
            .get_mut("BatchSize")
            .unwrap()
            .version = version;
        let err = propose(&update, &[ORDERER_ADMIN]).unwrap_err();
        assert_refused(
            err,
            BadRequest,
            &[&format!(
                "error validating DeltaSet: attempt to set key [Value]  /Channel/Orderer/BatchSize \
                 to version {version}, but key is at version 0"
            )],
        );
    }
}

#[test]
fn a_new_element_must_start_at_version_0() {
    let config = config();
    // The Org2 group is bumped (it gains a value); its existing children are in
    // both sets at their versions, as compute_update lists them.
    let (read_set, mut write_set) = sets_rw(&config, &["Application", "Org2"], |r, w, current| {
        w.version += 1;
        for (name, v) in &current.values {
            r.values.insert(name.clone(), shell_value(v));
            w.values.insert(name.clone(), shell_value(v));
        }
        for (name, p) in &current.policies {
            r.policies.insert(name.clone(), shell_policy(p));
            w.policies.insert(name.clone(), shell_policy(p));
        }
        w.values.insert(
            "AnchorPeers".into(),
            value(anchor_peers("peer0.org2"), 1, "Admins"),
        );
    });
    let update = ConfigUpdate {
        channel_id: CHANNEL.into(),
        read_set: Some(read_set),
        write_set: Some(write_set.clone()),
        ..Default::default()
    };
    let err = propose(&update, &[ORG2_ADMIN]).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &[
            "attempted to set key [Value]  /Channel/Application/Org2/AnchorPeers to version 1, but key does not exist",
        ],
    );

    // At version 0 the org's admin adds it: the group's own mod_policy (Admins,
    // relative to the group itself) authorizes the change.
    let w = at_mut(&mut write_set, &["Application", "Org2"]);
    w.values.get_mut("AnchorPeers").unwrap().version = 0;
    let update = ConfigUpdate {
        write_set: Some(write_set),
        ..update
    };
    let proposed = propose(&update, &[ORG2_ADMIN]).unwrap();
    let org2 = at(next_root(&proposed), &["Application", "Org2"]);
    assert_eq!(org2.version, 1);
    assert_eq!(org2.values["AnchorPeers"].value, anchor_peers("peer0.org2"));
    assert_eq!(
        org2.values["MSP"],
        at(
            config.channel_group.as_ref().unwrap(),
            &["Application", "Org2"]
        )
        .values["MSP"]
    );
    let err = propose(&update, &[ORG1_ADMIN]).unwrap_err();
    assert_refused(
        err,
        Forbidden,
        &[
            "policy for [Group]  /Channel/Application/Org2 not satisfied",
            "/Channel/Application/Org2/Admins",
        ],
    );
}

fn shell_value(v: &ConfigValue) -> ConfigValue {
    ConfigValue {
        version: v.version,
        ..Default::default()
    }
}

fn shell_policy(p: &ConfigPolicy) -> ConfigPolicy {
    ConfigPolicy {
        version: p.version,
        ..Default::default()
    }
}

fn anchor_peers(host: &str) -> Bytes {
    AnchorPeers {
        anchor_peers: vec![AnchorPeerProto {
            host: host.into(),
            port: 7051,
        }],
    }
    .encode_to_vec()
    .into()
}

#[test]
fn the_org_admin_updates_its_anchor_peers_and_no_one_else_may() {
    let config = config();
    let update = value_update(
        &config,
        &["Application", "Org1"],
        "AnchorPeers",
        anchor_peers("peer1.org1"),
    );
    let proposed = propose(&update, &[ORG1_ADMIN]).unwrap();
    let v = &at(next_root(&proposed), &["Application", "Org1"]).values["AnchorPeers"];
    assert_eq!((v.version, &v.value), (1, &anchor_peers("peer1.org1")));

    for signers in [&[ORG2_ADMIN][..], &[ORG1_MEMBER], &[ORDERER_ADMIN]] {
        let err = propose(&update, signers).unwrap_err();
        assert_refused(
            err,
            Forbidden,
            &[
                "policy for [Value]  /Channel/Application/Org1/AnchorPeers not satisfied",
                "/Channel/Application/Org1/Admins",
            ],
        );
    }
}

/// The Application group bumped with `children` as its children: existing ones as
/// version shells (in both sets), new ones in full.
fn application_update(config: &Config, children: Vec<(&str, ConfigGroup)>) -> ConfigUpdate {
    let (read_set, write_set) = sets_rw(config, &["Application"], |r, w, current| {
        w.version = current.version + 1;
        for (name, v) in &current.values {
            r.values.insert(name.clone(), shell_value(v));
            w.values.insert(name.clone(), shell_value(v));
        }
        for (name, p) in &current.policies {
            r.policies.insert(name.clone(), shell_policy(p));
            w.policies.insert(name.clone(), shell_policy(p));
        }
        for (name, group) in children {
            if current.groups.contains_key(name) {
                r.groups.insert(name.to_owned(), group.clone());
            }
            w.groups.insert(name.to_owned(), group);
        }
    });
    ConfigUpdate {
        channel_id: CHANNEL.into(),
        read_set: Some(read_set),
        write_set: Some(write_set),
        ..Default::default()
    }
}

#[test]
fn adding_an_org_needs_a_majority_of_application_admins() {
    let config = config();
    let root = config.channel_group.as_ref().unwrap();
    let org3 = {
        let mut p = profile();
        p.application.as_mut().unwrap().organizations = vec![org("Org3", "Org3MSP")];
        at(&p.channel_group().unwrap(), &["Application", "Org3"]).clone()
    };
    let update = application_update(
        &config,
        vec![
            ("Org1", shell(at(root, &["Application", "Org1"]))),
            ("Org2", shell(at(root, &["Application", "Org2"]))),
            ("Org3", org3.clone()),
        ],
    );
    let proposed = propose(&update, &[ORG1_ADMIN, ORG2_ADMIN]).unwrap();
    let app = at(next_root(&proposed), &["Application"]);
    assert_eq!(app.version, 1);
    assert_eq!(app.groups["Org3"], org3);
    // Unchanged children come from the current config, whole.
    assert_eq!(app.groups["Org1"], *at(root, &["Application", "Org1"]));
    assert_eq!(app.values, at(root, &["Application"]).values);
    let values = ChannelValues::new(CHANNEL, proposed.config.unwrap()).unwrap();
    assert!(values.msps().contains_key("Org3MSP"));

    let err = propose(&update, &[ORG1_ADMIN]).unwrap_err();
    assert_refused(
        err,
        Forbidden,
        &[
            "policy for [Group]  /Channel/Application not satisfied",
            "/Channel/Application/Admins",
        ],
    );
}

#[test]
fn a_group_written_without_a_child_removes_it() {
    let config = config();
    let root = config.channel_group.as_ref().unwrap();
    let update = application_update(
        &config,
        vec![("Org1", shell(at(root, &["Application", "Org1"])))],
    );
    let proposed = propose(&update, &[ORG1_ADMIN, ORG2_ADMIN]).unwrap();
    let app = at(next_root(&proposed), &["Application"]);
    assert_eq!(app.groups.keys().collect::<Vec<_>>(), ["Org1"]);
}

#[test]
fn an_absolute_mod_policy_resolves_from_the_root() {
    // configtxgen gives OrdererAddresses mod_policy /Channel/Orderer/Admins.
    let config = config();
    let root = config.channel_group.as_ref().unwrap();
    assert_eq!(
        root.values["OrdererAddresses"].mod_policy,
        "/Channel/Orderer/Admins"
    );
    let addresses = OrdererAddresses {
        addresses: vec!["orderer1:7050".into()],
    };
    let update = value_update(
        &config,
        &[],
        "OrdererAddresses",
        addresses.encode_to_vec().into(),
    );
    propose(&update, &[ORDERER_ADMIN]).unwrap();
    // The channel's own Admins (a majority of orderer and application admins) is
    // not what is asked.
    let err = propose(&update, &[ORG1_ADMIN, ORG2_ADMIN]).unwrap_err();
    assert_refused(
        err,
        Forbidden,
        &[
            "[Value]  /Channel/OrdererAddresses",
            "/Channel/Orderer/Admins",
        ],
    );
}

#[test]
fn an_empty_delta_is_refused() {
    let config = config();
    let (read_set, write_set) = sets(&config, &["Orderer"], |_, _| {});
    for write in [Some(write_set), None] {
        let update = ConfigUpdate {
            channel_id: CHANNEL.into(),
            read_set: Some(read_set.clone()),
            write_set: write,
            ..Default::default()
        };
        let err = propose(&update, &[ORDERER_ADMIN]).unwrap_err();
        assert_refused(
            err,
            BadRequest,
            &["delta set was empty -- update would have no effect"],
        );
    }
}

#[test]
fn an_update_for_another_channel_is_refused() {
    let config = config();
    let mut update = value_update(&config, &["Orderer"], "BatchSize", batch_size(42));
    update.channel_id = "other".into();
    let err = propose(&update, &[ORDERER_ADMIN]).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &[
            "error authorizing update: ConfigUpdate for channel 'other' but envelope for channel 'mychannel'",
        ],
    );

    update.channel_id = CHANNEL.into();
    let env = envelope_for("other", &update, &[ORDERER_ADMIN]);
    let err = current()
        .validator()
        .propose_config_update(&env, &FakeMsps)
        .unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &["envelope for channel 'other' sent to channel 'mychannel'"],
    );
}

#[test]
fn an_envelope_that_is_not_a_config_update_is_refused() {
    let config = config();
    let update = value_update(&config, &["Orderer"], "BatchSize", batch_size(42));
    let mut env = envelope(&update, &[ORDERER_ADMIN]);
    let mut payload = Payload::decode(env.payload.clone()).unwrap();
    let mut header = payload.header.clone().unwrap();
    let mut ch = ChannelHeader::decode(header.channel_header.clone()).unwrap();
    ch.r#type = HeaderType::EndorserTransaction as i32;
    header.channel_header = ch.encode_to_vec().into();
    payload.header = Some(header);
    env.payload = payload.encode_to_vec().into();
    let err = current()
        .validator()
        .propose_config_update(&env, &FakeMsps)
        .unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &["ENDORSER_TRANSACTION, expected CONFIG_UPDATE"],
    );

    let garbage = Envelope {
        payload: Bytes::from_static(&[0x0a, 0x05, 0x01]),
        signature: Bytes::new(),
    };
    let err = current()
        .validator()
        .propose_config_update(&garbage, &FakeMsps)
        .unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &["error converting envelope to config update"],
    );
}

#[test]
fn a_bad_mod_policy_or_key_is_refused() {
    let config = config();
    for (mod_policy, why) in [
        ("", "mod_policy not set"),
        (
            "Org1/bad policy",
            "path element at 1 is invalid: config ID 'bad policy' contains illegal characters",
        ),
        (
            "/Channel/../Admins",
            "path element at 1 is invalid: name '..' for config ID is not allowed",
        ),
    ] {
        let mut update = value_update(&config, &["Orderer"], "BatchSize", batch_size(42));
        let write = update.write_set.as_mut().unwrap();
        at_mut(write, &["Orderer"])
            .values
            .get_mut("BatchSize")
            .unwrap()
            .mod_policy = mod_policy.into();
        let err = propose(&update, &[ORDERER_ADMIN]).unwrap_err();
        assert_refused(
            err,
            BadRequest,
            &[
                "invalid mod_policy for element [Value]  /Channel/Orderer/BatchSize: ",
                why,
            ],
        );
    }
    let mut update = value_update(&config, &["Orderer"], "BatchSize", batch_size(42));
    let write = update.write_set.as_mut().unwrap();
    at_mut(write, &["Orderer"])
        .values
        .insert("bad/key".into(), value(Bytes::new(), 0, "Admins"));
    let err = propose(&update, &[ORDERER_ADMIN]).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &["error mapping WriteSet: illegal characters in key: [Value]  /Channel/Orderer/bad/key"],
    );
}

#[test]
fn an_update_leading_to_an_invalid_config_is_a_bad_request() {
    let config = config();
    let update = value_update(&config, &["Orderer"], "BatchSize", batch_size(0));
    let err = propose(&update, &[ORDERER_ADMIN]).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &[
            "error applying config update to existing channel 'mychannel': the updated config is not valid: /Channel/Orderer/BatchSize",
        ],
    );

    // A valid config that may not follow: an org changing its MSP ID.
    let mut msp = crate::proto::msp::MspConfig::decode(
        at(
            config.channel_group.as_ref().unwrap(),
            &["Application", "Org1"],
        )
        .values["MSP"]
            .value
            .clone(),
    )
    .unwrap();
    let mut fabric = crate::proto::msp::FabricMspConfig::decode(msp.config.clone()).unwrap();
    fabric.name = "Org3MSP".into();
    msp.config = fabric.encode_to_vec().into();
    let update = value_update(
        &config,
        &["Application", "Org1"],
        "MSP",
        msp.encode_to_vec().into(),
    );
    let err = propose(&update, &[ORG1_ADMIN]).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &["cannot follow the current one", "MSP ID"],
    );
}

#[test]
fn validate_accepts_the_proposal_and_refuses_anything_else() {
    let config = config();
    let current = current_of(&config);
    let v = current.validator();
    let update = value_update(&config, &["Orderer"], "BatchSize", batch_size(42));
    let proposed = v
        .propose_config_update(&envelope(&update, &[ORDERER_ADMIN]), &FakeMsps)
        .unwrap();
    v.validate(&proposed, &FakeMsps).unwrap();

    // A config the update does not produce.
    let mut tampered = proposed.clone();
    let root = tampered
        .config
        .as_mut()
        .unwrap()
        .channel_group
        .as_mut()
        .unwrap();
    at_mut(root, &["Orderer"])
        .values
        .get_mut("BatchSize")
        .unwrap()
        .value = batch_size(43);
    let err = v.validate(&tampered, &FakeMsps).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &["ConfigEnvelope LastUpdate did not produce the supplied config result"],
    );

    // Another sequence.
    let mut skipped = proposed.clone();
    skipped.config.as_mut().unwrap().sequence = 2;
    let err = v.validate(&skipped, &FakeMsps).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &["config currently at sequence 0, cannot validate config at sequence 2"],
    );

    // An update whose signatures do not hold.
    let unsigned = ConfigEnvelope {
        last_update: Some(envelope(&update, &[ORG1_ADMIN])),
        ..proposed.clone()
    };
    let err = v.validate(&unsigned, &FakeMsps).unwrap_err();
    assert_eq!(err.class(), Forbidden, "{err}");

    // The next validator, over the proposed config, takes the next update.
    let next = proposed.config.unwrap();
    let next_current = current_of(&next);
    let v2 = next_current.validator();
    let update2 = value_update(&next, &["Orderer"], "BatchSize", batch_size(7));
    let proposed2 = v2
        .propose_config_update(&envelope(&update2, &[ORDERER_ADMIN]), &FakeMsps)
        .unwrap();
    assert_eq!(proposed2.config.as_ref().unwrap().sequence, 2);
    // The stale update (against version 0 of BatchSize) no longer applies.
    let err = v2
        .propose_config_update(&envelope(&update, &[ORDERER_ADMIN]), &FakeMsps)
        .unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &[
            "attempt to set key [Value]  /Channel/Orderer/BatchSize to version 1, but key is at version 1",
        ],
    );
}

#[test]
fn empty_mod_policies_are_upgraded_to_admins_once_the_orderer_has_capabilities() {
    // Configs written before Fabric v1.1 left mod_policies empty; Fabric fills them
    // in when it applies an update to a config with orderer capabilities.
    let mut config = config();
    let root = config.channel_group.as_mut().unwrap();
    at_mut(root, &["Application", "Org2"]).mod_policy.clear();
    at_mut(root, &["Application", "Org2"])
        .values
        .get_mut("MSP")
        .unwrap()
        .mod_policy
        .clear();
    let update = value_update(&config, &["Orderer"], "BatchSize", batch_size(42));
    let proposed = current_of(&config)
        .validator()
        .propose_config_update(&envelope(&update, &[ORDERER_ADMIN]), &FakeMsps)
        .unwrap();
    let org2 = at(next_root(&proposed), &["Application", "Org2"]);
    assert_eq!(org2.mod_policy, "Admins");
    assert_eq!(org2.values["MSP"].mod_policy, "Admins");
}

#[test]
fn the_routing_helper_reads_the_channel_header() {
    let config = config();
    let update = value_update(&config, &["Orderer"], "BatchSize", batch_size(42));
    let env = envelope_for("newchannel", &update, &[]);
    assert_eq!(
        super::super::config_update_channel_id(&env).unwrap(),
        "newchannel"
    );
    let err = super::super::config_update_channel_id(&Envelope::default()).unwrap_err();
    assert_eq!(err.class(), BadRequest);
}
