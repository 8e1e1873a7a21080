//! Which groups and values may appear where, organizations and their MSPs, names:
//! Fabric's structural rules, one test each.

#![allow(clippy::unwrap_used)]

mod channelconfig_support;

use bytes::Bytes;
use channelconfig_support::*;
use orderer_api::channelconfig::{
    ChannelValues, ConfigBlockError, ConfigErrorKind, MspKind, keys, read_config_block,
};
use orderer_api::proto::common::{Capabilities, Capability, ConfigGroup, OrdererAddresses};
use orderer_api::proto::msp::{FabricMspConfig, MspConfig};
use prost::Message;

use ConfigErrorKind::{Invalid, Malformed, Structure, Unsupported};

fn msp(kind: i32, name: &str) -> MspConfig {
    MspConfig {
        r#type: kind,
        config: FabricMspConfig {
            name: name.into(),
            ..Default::default()
        }
        .encode_to_vec()
        .into(),
    }
}

#[test]
fn unknown_values_are_refused_where_fabric_reads_values() {
    let places: [(&[&str], &str); 7] = [
        (&[], "/Channel/Foo"),
        (&["Orderer"], "/Channel/Orderer/Foo"),
        (&["Orderer", "SampleOrg"], "/Channel/Orderer/SampleOrg/Foo"),
        (&["Application"], "/Channel/Application/Foo"),
        (
            &["Application", "SampleOrg"],
            "/Channel/Application/SampleOrg/Foo",
        ),
        (
            &["Consortiums", "SampleConsortium"],
            "/Channel/Consortiums/SampleConsortium/Foo",
        ),
        (
            &["Consortiums", "SampleConsortium", "SampleOrg"],
            "/Channel/Consortiums/SampleConsortium/SampleOrg/Foo",
        ),
    ];
    for (group_path, path) in places {
        let err = refused(SOLO_SYSTEM, |c| {
            group(c, group_path)
                .values
                .insert("Foo".into(), raw_value(vec![]));
        });
        assert_error(&err, path, Structure, "value not allowed here");
    }
    // A value known elsewhere is unknown here.
    let err = refused(SOLO_SYSTEM, |c| {
        let v = value(&OrdererAddresses::default());
        group(c, &["Application", "SampleOrg"])
            .values
            .insert(keys::ENDPOINTS.into(), v);
    });
    assert_eq!(err.path, "/Channel/Application/SampleOrg/Endpoints");
}

/// Fabric never reads the `Consortiums` group's own values, so it neither refuses
/// nor interprets them; they stay in the config as they came.
#[test]
fn unknown_values_of_consortiums_group_are_ignored() {
    let v = accepted(SOLO_SYSTEM, |c| {
        group(c, &["Consortiums"])
            .values
            .insert("Foo".into(), raw_value(vec![0xff]));
    });
    assert_eq!(v.raw_value(&["Consortiums", "Foo"]).unwrap()[..], [0xff]);
}

/// What the orderer does not interpret (`ACLs`, `AnchorPeers`, `MSP`) it keeps as
/// the exact bytes of the config, even where a re-encoding would differ (here, a
/// field unknown to the message, which a decoder drops).
#[test]
fn application_values_are_kept_byte_for_byte() {
    // peer.ACLs with one entry, then field 15 (unknown) as a varint.
    let mut acls = vec![
        0x0a, 0x0c, 0x0a, 0x03, b'a', b'/', b'b', 0x12, 0x05, 0x0a, 0x03, b'x', b'/', b'y',
    ];
    acls.extend_from_slice(&[0x78, 0x01]);
    // peer.AnchorPeers with one peer, port 7051, then the unknown field.
    let mut anchors = vec![
        0x0a, 0x09, 0x0a, 0x04, b'p', b'e', b'e', b'r', 0x10, 0x8b, 0x37,
    ];
    anchors.extend_from_slice(&[0x78, 0x01]);
    let (acls, anchors) = (Bytes::from(acls), Bytes::from(anchors));
    let v = accepted(SOLO_SYSTEM, |c| {
        group(c, &["Application"])
            .values
            .insert(keys::ACLS.into(), raw_value(acls.clone()));
        group(c, &["Application", "SampleOrg"])
            .values
            .insert(keys::ANCHOR_PEERS.into(), raw_value(anchors.clone()));
    });
    let app = v.application().unwrap();
    assert_eq!(app.acls(), Some(&acls));
    assert_eq!(
        app.organizations()["SampleOrg"].anchor_peers(),
        Some(&anchors)
    );
    // And the config the model keeps holds them unchanged, encoded or not.
    let again =
        orderer_api::proto::common::Config::decode(&v.config().encode_to_vec()[..]).unwrap();
    let app_group = &again.channel_group.as_ref().unwrap().groups["Application"];
    assert_eq!(app_group.values[keys::ACLS].value, acls);
    assert_eq!(
        app_group.groups["SampleOrg"].values[keys::ANCHOR_PEERS].value,
        anchors
    );
}

#[test]
fn malformed_anchor_peers_are_refused() {
    let err = refused(SOLO_SYSTEM, |c| {
        group(c, &["Application", "SampleOrg"])
            .values
            .insert(keys::ANCHOR_PEERS.into(), raw_value(vec![0x0a, 0x05, 0x01]));
    });
    assert_error(
        &err,
        "/Channel/Application/SampleOrg/AnchorPeers",
        Malformed,
        "not a valid",
    );
}

#[test]
fn acls_need_application_v1_2() {
    let err = refused(SOLO_SYSTEM, |c| {
        let v1_1 = Capabilities {
            capabilities: [("V1_1".to_string(), Capability {})].into(),
        };
        set(c, &["Application"], "Capabilities", &v1_1);
    });
    assert_error(
        &err,
        "/Channel/Application/ACLs",
        Structure,
        "from application capability V1_2 on",
    );
}

#[test]
fn groups_are_allowed_only_where_fabric_allows_them() {
    let places: [(&[&str], &str, &str); 5] = [
        (&[], "/Channel/Foo", "group not allowed here"),
        (
            &["Orderer", "SampleOrg"],
            "/Channel/Orderer/SampleOrg/Foo",
            "an orderer organization holds no sub-groups",
        ),
        (
            &["Application", "SampleOrg"],
            "/Channel/Application/SampleOrg/Foo",
            "an application organization holds no sub-groups",
        ),
        (
            &["Consortiums", "SampleConsortium", "SampleOrg"],
            "/Channel/Consortiums/SampleConsortium/SampleOrg/Foo",
            "a consortium organization holds no sub-groups",
        ),
        // A group under Consortiums is a consortium, which needs no values...
        // but a group under a consortium is an organization and needs an MSP.
        (
            &["Consortiums", "SampleConsortium"],
            "/Channel/Consortiums/SampleConsortium/Foo/MSP",
            "missing",
        ),
    ];
    for (group_path, path, text) in places {
        let err = refused(SOLO_SYSTEM, |c| {
            group(c, group_path)
                .groups
                .insert("Foo".into(), ConfigGroup::default());
        });
        assert_error(&err, path, Structure, text);
    }
}

#[test]
fn an_orderer_group_is_required() {
    let err = refused(SOLO_SYSTEM, |c| {
        group(c, &[]).groups.remove("Orderer");
    });
    assert_error(&err, "/Channel/Orderer", Structure, "missing");
}

#[test]
fn every_organization_needs_an_msp_with_an_id() {
    let org = ["Orderer", "SampleOrg"];
    let path = "/Channel/Orderer/SampleOrg/MSP";
    let err = refused(SOLO_SYSTEM, |c| remove(c, &org, keys::MSP));
    assert_error(&err, path, Structure, "missing");
    let err = refused(SOLO_SYSTEM, |c| set(c, &org, keys::MSP, &msp(0, "")));
    assert_error(
        &err,
        path,
        Invalid,
        "the MSP of organization SampleOrg has an empty MSP ID",
    );
    let err = refused(SOLO_SYSTEM, |c| set(c, &org, keys::MSP, &msp(2, "Other")));
    assert_error(&err, path, Unsupported, "MSP type 2 is not supported");
    let err = refused(SOLO_SYSTEM, |c| {
        let bad = MspConfig {
            r#type: 0,
            config: Bytes::from_static(&[0x0a, 0x09, b'x']),
        };
        set(c, &org, keys::MSP, &bad);
    });
    assert_error(&err, path, Malformed, "not a valid FabricMSPConfig");
    let err = refused(SOLO_SYSTEM, |c| {
        group(c, &org)
            .values
            .insert(keys::MSP.into(), raw_value(vec![0xff]));
    });
    assert_error(&err, path, Malformed, "not a valid MSPConfig");
}

#[test]
fn idemix_organizations_are_read_by_name() {
    let v = accepted(SOLO_SYSTEM, |c| {
        let mut idemix = group(c, &["Application", "SampleOrg"]).clone();
        idemix
            .values
            .insert(keys::MSP.into(), value(&msp(1, "AnonMSP")));
        group(c, &["Application"])
            .groups
            .insert("Anon".into(), idemix);
    });
    let msp = &v.msps()["AnonMSP"];
    assert_eq!(msp.kind(), MspKind::Idemix);
    assert_eq!(msp.id(), "AnonMSP");
}

#[test]
fn one_msp_id_cannot_have_two_definitions() {
    let err = refused(SOLO_SYSTEM, |c| {
        set(
            c,
            &["Application", "SampleOrg"],
            keys::MSP,
            &msp(0, "SampleOrg"),
        );
    });
    assert_error(
        &err,
        "/Channel/Application/SampleOrg/MSP",
        Invalid,
        "defines MSP SampleOrg differently from /Channel/Orderer/SampleOrg/MSP",
    );
    // The same definition under another group name is one MSP.
    let v = accepted(SOLO_SYSTEM, |c| {
        let twin = group(c, &["Application", "SampleOrg"]).clone();
        group(c, &["Application"])
            .groups
            .insert("Twin".into(), twin);
    });
    assert_eq!(v.msps().len(), 1);
    assert_eq!(
        v.application().unwrap().msp_ids().collect::<Vec<_>>(),
        ["SampleOrg", "SampleOrg"]
    );
}

#[test]
fn keys_must_be_fabric_config_ids() {
    for bad in ["my org", "org_1", "..", "a/b"] {
        let err = refused(SOLO_SYSTEM, |c| {
            let org = group(c, &["Application", "SampleOrg"]).clone();
            group(c, &["Application"]).groups.insert(bad.into(), org);
        });
        assert_error(&err, "/Channel/Application", Structure, bad);
    }
    let err = refused(SOLO_SYSTEM, |c| {
        let policy = group(c, &["Orderer"]).policies["Admins"].clone();
        group(c, &["Orderer", "SampleOrg"])
            .policies
            .insert("Bad Policy".into(), policy);
    });
    assert_error(&err, "/Channel/Orderer/SampleOrg", Structure, "Bad Policy");
}

#[test]
fn channel_id_must_be_a_fabric_channel_id() {
    let (_, cfg) = config(SOLO_SYSTEM);
    for bad in ["", "SysChan", "sys_chan", "9chan"] {
        let err = ChannelValues::new(bad, cfg.clone()).unwrap_err();
        assert_eq!(err.path, "ChannelHeader.channel_id", "{bad}");
    }
}

#[test]
fn a_config_without_channel_group_is_refused() {
    let (id, mut cfg) = config(SOLO_SYSTEM);
    cfg.channel_group = None;
    assert_error(
        &ChannelValues::new(&id, cfg).unwrap_err(),
        "/Channel",
        Structure,
        "no channel group",
    );
}

#[test]
fn from_envelope_reads_the_same_values() {
    let block = block(KAFKA_V14_APP_CHANNEL);
    let env =
        orderer_api::proto::common::Envelope::decode(block.data.as_ref().unwrap().data[0].clone())
            .unwrap();
    let v = ChannelValues::from_envelope(&env).unwrap();
    assert_eq!(v, ChannelValues::from_block(&block).unwrap());
    assert_eq!(v.config(), &read_config_block(&block).unwrap().config);
}

#[test]
fn block_errors_name_the_channel() {
    let (_, mut cfg) = config(SOLO_SYSTEM);
    remove(&mut cfg, &["Orderer"], keys::BATCH_SIZE);
    let err = ChannelValues::new("syschan", cfg).unwrap_err();
    let wrapped = ConfigBlockError::Values {
        channel: "syschan".into(),
        error: err,
    };
    assert_eq!(
        wrapped.to_string(),
        "channel syschan: /Channel/Orderer/BatchSize: missing: it bounds every block"
    );
}
