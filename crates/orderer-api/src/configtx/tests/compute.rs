//! `compute_update` (configtxlator's rules): the update it computes, applied by the
//! validator, yields exactly the edited config; its read and write sets are the ones
//! configtxlator writes.

use super::*;
use crate::configtx::{ComputeUpdateError, compute_update};
use crate::proto::common::ConfigPolicy;

/// Proposes `update` (signed by every admin) against `config`: the resulting config.
fn applied(config: &Config, update: &ConfigUpdate) -> Config {
    let signers = [
        "OrdererMSP:admin:o",
        "Org1MSP:admin:a",
        "Org2MSP:admin:b",
        "Org3MSP:admin:c",
    ];
    current_of(config)
        .validator()
        .propose_config_update(&envelope(update, &signers), &FakeMsps)
        .unwrap_or_else(|e| panic!("the computed update does not apply: {e}"))
        .config
        .unwrap()
}

/// The config an update should yield: `edited` with the validator's versions.
fn versions_of(mut edited: Config, result: &Config) -> Config {
    fn copy(to: &mut ConfigGroup, from: &ConfigGroup) {
        to.version = from.version;
        for (k, v) in &mut to.values {
            v.version = from.values[k].version;
        }
        for (k, p) in &mut to.policies {
            p.version = from.policies[k].version;
        }
        for (k, g) in &mut to.groups {
            copy(g, &from.groups[k]);
        }
    }
    copy(
        edited.channel_group.as_mut().unwrap(),
        result.channel_group.as_ref().unwrap(),
    );
    edited.sequence = result.sequence;
    edited
}

#[test]
fn a_changed_value_is_written_at_the_next_version_and_its_group_only_read() {
    let original = config();
    let mut edited = original.clone();
    let orderer = at_mut(edited.channel_group.as_mut().unwrap(), &["Orderer"]);
    orderer.values.get_mut("BatchSize").unwrap().value = batch_size(7);
    let update = compute_update("mychannel", &original, &edited).unwrap();

    let write = update.write_set.as_ref().unwrap();
    let w_orderer = at(write, &["Orderer"]);
    assert_eq!(w_orderer.version, 0, "the group keeps its version");
    assert_eq!(w_orderer.values.len(), 1);
    assert_eq!(w_orderer.values["BatchSize"].version, 1);
    assert_eq!(w_orderer.values["BatchSize"].mod_policy, "Admins");
    let read = update.read_set.as_ref().unwrap();
    assert!(at(read, &["Orderer"]).values.is_empty());

    let result = applied(&original, &update);
    assert_eq!(result, versions_of(edited, &result));
    assert_eq!(result.sequence, original.sequence + 1);
}

#[test]
fn a_new_member_bumps_its_group_and_reads_every_unchanged_sibling() {
    let original = config();
    let mut edited = original.clone();
    let org1 = at_mut(
        edited.channel_group.as_mut().unwrap(),
        &["Application", "Org1"],
    );
    let existing = org1.policies["Admins"].clone();
    org1.policies.insert(
        "Extra".into(),
        ConfigPolicy {
            version: 0,
            ..existing
        },
    );
    let update = compute_update("mychannel", &original, &edited).unwrap();
    let write = update.write_set.as_ref().unwrap();
    let w_org1 = at(write, &["Application", "Org1"]);
    let o_org1 = at(
        original.channel_group.as_ref().unwrap(),
        &["Application", "Org1"],
    );
    assert_eq!(w_org1.version, o_org1.version + 1);
    assert_eq!(w_org1.mod_policy, o_org1.mod_policy);
    assert_eq!(w_org1.policies["Extra"].version, 0);
    // Every unchanged member is read and written at its version, content-free.
    let r_org1 = at(update.read_set.as_ref().unwrap(), &["Application", "Org1"]);
    for (name, p) in &o_org1.policies {
        assert_eq!(r_org1.policies[name].version, p.version);
        assert!(
            r_org1.policies[name].policy.is_none(),
            "{name} is read without content"
        );
    }
    for (name, v) in &o_org1.values {
        assert_eq!(w_org1.values[name].version, v.version);
    }
    let result = applied(&original, &update);
    assert_eq!(result, versions_of(edited, &result));
}

#[test]
fn identical_configs_have_no_update() {
    let original = config();
    let err = compute_update("mychannel", &original, &original).unwrap_err();
    assert_eq!(err, ComputeUpdateError::NoDifferences);
    assert_eq!(
        err.to_string(),
        "no differences detected between original and updated config"
    );
}
