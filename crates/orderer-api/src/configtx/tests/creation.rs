//! Channel creation through a system channel (msgprocessor/systemchannel.go's
//! DefaultTemplator, SystemChannel.ProcessConfigUpdateMsg, systemchannelfilter.go).

use bytes::Bytes;
use prost::Message;

use super::*;
use crate::channelconfig::ChannelValues;
use crate::configtx::{channel_template, new_channel_config};
use crate::policies::dsl::{accept_all, policy_from_configtx, signature_policy};
use crate::proto::common::{ConfigEnvelope, ConfigPolicy, Consortium};
use crate::proto::orderer::ConsensusType;
use crate::proto::orderer::consensus_type::State;

use UpdateErrorClass::{BadRequest, Forbidden, Maintenance};

const SYSTEM: &str = "syschan";
const ORDERER_ADMINS: &str = "/Channel/Orderer/Admins";

/// A system channel as configtxgen makes one: the test profile's orderer, and a
/// consortium `SampleConsortium` of Org1..Org3 (the application orgs without anchor
/// peers) whose creation policy is `ANY Admins`. Its BatchSize was updated three
/// times (version 3), so the template's zeroing shows.
fn system_config(orderer_capabilities: &[&str]) -> Config {
    let mut p = profile();
    p.channel_id = SYSTEM.into();
    p.application
        .as_mut()
        .unwrap()
        .organizations
        .push(org("Org3", "Org3MSP"));
    if orderer_capabilities.is_empty() {
        p.capabilities.clear();
        p.application.as_mut().unwrap().capabilities.clear();
    }
    p.orderer.capabilities = orderer_capabilities.iter().map(|c| c.to_string()).collect();
    let mut root = p.channel_group().unwrap();
    let app = root.groups.remove("Application").unwrap();
    at_mut(&mut root, &["Orderer"])
        .values
        .get_mut("BatchSize")
        .unwrap()
        .version = 3;

    let mut consortium = ConfigGroup {
        mod_policy: ORDERER_ADMINS.into(),
        ..Default::default()
    };
    for (name, mut org) in app.groups {
        org.values.remove("AnchorPeers");
        consortium.groups.insert(name, org);
    }
    let any_admins = policy_from_configtx("ImplicitMeta", "ANY Admins").unwrap();
    consortium.values.insert(
        "ChannelCreationPolicy".into(),
        value(any_admins.encode_to_vec().into(), 0, ORDERER_ADMINS),
    );
    let mut consortiums = ConfigGroup {
        mod_policy: ORDERER_ADMINS.into(),
        ..Default::default()
    };
    consortiums.policies.insert(
        "Admins".into(),
        ConfigPolicy {
            version: 0,
            policy: Some(signature_policy(&accept_all())),
            mod_policy: ORDERER_ADMINS.into(),
        },
    );
    consortiums
        .groups
        .insert("SampleConsortium".into(), consortium);
    root.groups.insert("Consortiums".into(), consortiums);
    Config {
        sequence: 0,
        channel_group: Some(root),
    }
}

/// The new channel's Application group as configtxgen writes it (TwoOrgsChannel).
fn requested_application() -> ConfigGroup {
    at(&profile().channel_group().unwrap(), &["Application"]).clone()
}

/// configtxgen's creation request for `orgs` of `consortium`: the Application group
/// at version 1 with its values and policies, the orgs as version shells, and the
/// `Consortium` value at version 0 in both sets.
fn creation_update(channel_id: &str, consortium: &str, orgs: &[&str]) -> ConfigUpdate {
    let app = requested_application();
    let mut read_app = ConfigGroup::default();
    let mut write_app = ConfigGroup {
        version: 1,
        mod_policy: "Admins".into(),
        values: app.values.clone(),
        policies: app.policies.clone(),
        ..Default::default()
    };
    for org in orgs {
        read_app
            .groups
            .insert((*org).into(), ConfigGroup::default());
        write_app
            .groups
            .insert((*org).into(), ConfigGroup::default());
    }
    let consortium = Consortium {
        name: consortium.into(),
    };
    let mut read_set = ConfigGroup::default();
    read_set.groups.insert("Application".into(), read_app);
    read_set
        .values
        .insert("Consortium".into(), ConfigValue::default());
    let mut write_set = ConfigGroup::default();
    write_set.groups.insert("Application".into(), write_app);
    write_set.values.insert(
        "Consortium".into(),
        value(consortium.encode_to_vec().into(), 0, ""),
    );
    ConfigUpdate {
        channel_id: channel_id.into(),
        read_set: Some(read_set),
        write_set: Some(write_set),
        ..Default::default()
    }
}

fn create(
    system: &Config,
    update: &ConfigUpdate,
    signers: &[&str],
    existing: usize,
) -> Result<ConfigEnvelope, UpdateError> {
    let env = envelope_for(&update.channel_id, update, signers);
    new_channel_config(system, SYSTEM, &env, &FakeMsps, existing)
}

fn zeroed(mut group: ConfigGroup) -> ConfigGroup {
    group.version = 0;
    group.values.values_mut().for_each(|v| v.version = 0);
    group.policies.values_mut().for_each(|p| p.version = 0);
    group.groups = group
        .groups
        .into_iter()
        .map(|(k, g)| (k, zeroed(g)))
        .collect();
    group
}

#[test]
fn creation_applies_the_request_to_fabrics_template() {
    let system = system_config(&["V2_0"]);
    let update = creation_update(CHANNEL, "SampleConsortium", &["Org1", "Org2"]);
    let env = envelope_for(CHANNEL, &update, &[ORG1_ADMIN]);
    let created = new_channel_config(&system, SYSTEM, &env, &FakeMsps, 1).unwrap();
    assert_eq!(created.last_update.as_ref(), Some(&env));

    // Element for element what Fabric v2.5 builds: the system channel's values and
    // policies and its Orderer group, all at version 0, the Consortium value
    // (mod_policy Admins), and the request's Application group holding the
    // consortium's definitions of the members.
    let sys = system.channel_group.as_ref().unwrap();
    let mut expected = ConfigGroup {
        version: 0,
        mod_policy: sys.mod_policy.clone(),
        values: sys.values.clone(),
        policies: sys.policies.clone(),
        ..Default::default()
    };
    expected.values.insert(
        "Consortium".into(),
        value(
            Consortium {
                name: "SampleConsortium".into(),
            }
            .encode_to_vec()
            .into(),
            0,
            "Admins",
        ),
    );
    expected
        .groups
        .insert("Orderer".into(), zeroed(sys.groups["Orderer"].clone()));
    let members = &at(sys, &["Consortiums", "SampleConsortium"]).groups;
    let app = requested_application();
    let mut application = ConfigGroup {
        version: 1,
        mod_policy: "Admins".into(),
        values: app.values,
        policies: app.policies,
        ..Default::default()
    };
    for org in ["Org1", "Org2"] {
        application.groups.insert(org.into(), members[org].clone());
    }
    expected.groups.insert("Application".into(), application);
    assert_eq!(
        created.config,
        Some(Config {
            sequence: 1,
            channel_group: Some(expected),
        })
    );
    assert_eq!(at(sys, &["Orderer"]).values["BatchSize"].version, 3);

    let values = ChannelValues::new(CHANNEL, created.config.unwrap()).unwrap();
    assert_eq!(values.consortium(), Some("SampleConsortium"));
    assert_eq!(values.application().unwrap().organizations().len(), 2);
}

#[test]
fn creation_needs_the_consortium_creation_policy() {
    let system = system_config(&["V2_0"]);
    let update = creation_update(CHANNEL, "SampleConsortium", &["Org1", "Org2"]);
    for signers in [&[][..], &[ORG1_MEMBER], &[ORDERER_ADMIN]] {
        let err = create(&system, &update, signers, 1).unwrap_err();
        assert_refused(
            err,
            Forbidden,
            &[
                "error validating channel creation transaction for new channel 'mychannel', \
                 could not successfully apply update to template configuration: \
                 error authorizing update: error validating DeltaSet: \
                 policy for [Group]  /Channel/Application not satisfied",
                "/Channel/Application/ChannelCreationPolicy",
            ],
        );
    }
    create(&system, &update, &[ORG2_ADMIN], 1).unwrap();
}

#[test]
fn only_the_new_channels_msps_may_sign_a_creation() {
    // Org3 is in the consortium and could sign by the policy, but it is not a
    // member of the new channel, whose template MSPs do not know it.
    let mut system = system_config(&["V2_0"]);
    let policy = policy_from_configtx("Signature", "OR('Org1MSP.admin', 'Org3MSP.admin')").unwrap();
    let root = system.channel_group.as_mut().unwrap();
    at_mut(root, &["Consortiums", "SampleConsortium"])
        .values
        .get_mut("ChannelCreationPolicy")
        .unwrap()
        .value = policy.encode_to_vec().into();
    let update = creation_update(CHANNEL, "SampleConsortium", &["Org1", "Org2"]);
    let err = create(&system, &update, &["Org3MSP:admin:eve"], 1).unwrap_err();
    assert_refused(
        err,
        Forbidden,
        &["MSP Org3MSP is not an organization of new channel 'mychannel'"],
    );
    create(&system, &update, &[ORG1_ADMIN], 1).unwrap();
    let with_org3 = creation_update(CHANNEL, "SampleConsortium", &["Org1", "Org3"]);
    create(&system, &with_org3, &["Org3MSP:admin:eve"], 1).unwrap();
}

#[test]
fn the_application_admins_policy_follows_fabrics_v2_rule() {
    let system = |caps: &[&str]| ChannelValues::new(SYSTEM, system_config(caps)).unwrap();
    let template_app = |caps: &[&str], edit: &dyn Fn(&mut ConfigGroup)| {
        let mut update = creation_update(CHANNEL, "SampleConsortium", &["Org1"]);
        edit(at_mut(update.write_set.as_mut().unwrap(), &["Application"]));
        let env = envelope_for(CHANNEL, &update, &[]);
        let (id, template) = channel_template(&system(caps), &env).unwrap();
        assert_eq!(id, CHANNEL);
        at(template.channel_group.as_ref().unwrap(), &["Application"]).clone()
    };
    let admins_at = |version| {
        move |app: &mut ConfigGroup| app.policies.get_mut("Admins").unwrap().version = version
    };
    let no_admins = |app: &mut ConfigGroup| {
        app.policies.remove("Admins");
    };
    let no_policies = |app: &mut ConfigGroup| app.policies.clear();
    type Edit<'a> = &'a dyn Fn(&mut ConfigGroup);
    let cases: [(&[&str], Edit<'_>, &str); 6] = [
        (&["V2_0"], &admins_at(0), "ChannelCreationPolicy"),
        (&["V2_0"], &admins_at(1), "Admins"),
        (&["V2_0"], &no_admins, "Admins"),
        (&["V2_0"], &no_policies, "ChannelCreationPolicy"),
        (&["V1_4_2"], &admins_at(1), "ChannelCreationPolicy"),
        (&[], &admins_at(1), "ChannelCreationPolicy"),
    ];
    for (caps, edit, key) in cases {
        let app = template_app(caps, edit);
        assert_eq!(app.mod_policy, key, "{caps:?}");
        assert_eq!(app.policies.keys().collect::<Vec<_>>(), [key], "{caps:?}");
        let policy = &app.policies[key];
        assert_eq!((policy.version, policy.mod_policy.as_str()), (0, key));
        let expected = policy_from_configtx("ImplicitMeta", "ANY Admins").unwrap();
        assert_eq!(policy.policy.as_ref(), Some(&expected));
    }
}

#[test]
fn without_v1_1_capabilities_the_template_keeps_versions_and_has_no_mod_policy() {
    let system = ChannelValues::new(SYSTEM, system_config(&[])).unwrap();
    let update = creation_update(CHANNEL, "SampleConsortium", &["Org1"]);
    let env = envelope_for(CHANNEL, &update, &[]);
    let (_, template) = channel_template(&system, &env).unwrap();
    let root = template.channel_group.unwrap();
    assert_eq!(root.mod_policy, "");
    assert_eq!(at(&root, &["Orderer"]).values["BatchSize"].version, 3);

    let system = ChannelValues::new(SYSTEM, system_config(&["V1_1"])).unwrap();
    let (_, template) = channel_template(&system, &env).unwrap();
    let root = template.channel_group.unwrap();
    assert_eq!(root.mod_policy, "Admins");
    assert_eq!(at(&root, &["Orderer"]).values["BatchSize"].version, 0);
}

#[test]
fn channel_restrictions_cap_the_number_of_channels() {
    let mut system = system_config(&["V2_0"]);
    let restrictions = crate::proto::orderer::ChannelRestrictions { max_count: 2 };
    let root = system.channel_group.as_mut().unwrap();
    at_mut(root, &["Orderer"]).values.insert(
        "ChannelRestrictions".into(),
        value(restrictions.encode_to_vec().into(), 0, "Admins"),
    );
    let update = creation_update(CHANNEL, "SampleConsortium", &["Org1", "Org2"]);
    // Fabric counts the system channel and refuses beyond the maximum.
    create(&system, &update, &[ORG1_ADMIN], 2).unwrap();
    let err = create(&system, &update, &[ORG1_ADMIN], 3).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &["channel creation would exceed maximum number of channels: 2"],
    );
}

#[test]
fn no_channel_is_created_while_the_system_channel_is_in_maintenance() {
    let mut system = system_config(&["V2_0"]);
    let root = system.channel_group.as_mut().unwrap();
    at_mut(root, &["Orderer"])
        .values
        .get_mut("ConsensusType")
        .unwrap()
        .value = ConsensusType {
        r#type: "solo".into(),
        metadata: Bytes::new(),
        state: State::Maintenance as i32,
    }
    .encode_to_vec()
    .into();
    let update = creation_update(CHANNEL, "SampleConsortium", &["Org1", "Org2"]);
    let err = create(&system, &update, &[ORG1_ADMIN], 1).unwrap_err();
    assert_refused(
        err,
        Maintenance,
        &["channel creation is not permitted: maintenance mode"],
    );
}

#[test]
fn malformed_creation_requests_are_refused_with_fabrics_reasons() {
    let system = system_config(&["V2_0"]);
    let request = || creation_update(CHANNEL, "SampleConsortium", &["Org1", "Org2"]);
    let app_version = {
        let mut u = request();
        at_mut(u.write_set.as_mut().unwrap(), &["Application"]).version = 2;
        u
    };
    let no_consortium = {
        let mut u = request();
        u.write_set.as_mut().unwrap().values.clear();
        u
    };
    let no_app = {
        let mut u = request();
        u.write_set.as_mut().unwrap().groups.clear();
        u
    };
    let no_write_set = ConfigUpdate {
        write_set: None,
        ..request()
    };
    let cases = [
        (no_write_set, "Config update has an empty writeset"),
        (no_app, "Config update has missing application group"),
        (
            app_version,
            "Config update for channel creation does not set application group version to 1, was 2",
        ),
        (no_consortium, "Consortium config value missing"),
        (
            creation_update(CHANNEL, "Other", &["Org1"]),
            "Unknown consortium name: Other",
        ),
        (
            creation_update(CHANNEL, "SampleConsortium", &["Org1", "Org9"]),
            "Attempted to include member Org9 which is not in the consortium",
        ),
        (
            creation_update(CHANNEL, "SampleConsortium", &[]),
            "Proposed configuration has no application group members, but consortium contains members",
        ),
        (
            creation_update("Bad_Name", "SampleConsortium", &["Org1"]),
            "ChannelHeader.channel_id",
        ),
        (
            creation_update(SYSTEM, "SampleConsortium", &["Org1"]),
            "channel 'syschan' is the system channel",
        ),
    ];
    for (update, why) in cases {
        let err = create(&system, &update, &[ORG1_ADMIN], 1).unwrap_err();
        assert_refused(err, BadRequest, &[why]);
    }

    let update = request();
    let env = envelope_for("otherchannel", &update, &[ORG1_ADMIN]);
    let err = new_channel_config(&system, SYSTEM, &env, &FakeMsps, 1).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &[
            "Failing initial channel config creation: mismatched channel IDs: 'mychannel' != 'otherchannel'",
        ],
    );

    // An application channel cannot create channels.
    let update = creation_update("newchannel", "SampleConsortium", &["Org1"]);
    let env = envelope_for("newchannel", &update, &[ORG1_ADMIN]);
    let err = new_channel_config(&config(), CHANNEL, &env, &FakeMsps, 1).unwrap_err();
    assert_refused(
        err,
        BadRequest,
        &["The ordering system channel does not appear to support creating channels"],
    );
}

/// `genesis::Profile::system` makes the system channel this file builds by hand
/// after configtxgen's layout, and `genesis::channel_creation_update` the request.
#[test]
fn the_generators_make_configtxgens_system_channel_and_creation_request() {
    use crate::genesis::{ConsortiumProfile, channel_creation_update};
    use std::collections::BTreeMap;

    let mut by_hand = system_config(&["V2_0"]);
    at_mut(by_hand.channel_group.as_mut().unwrap(), &["Orderer"])
        .values
        .get_mut("BatchSize")
        .unwrap()
        .version = 0;
    let p = profile();
    let mut members = p.application.clone().unwrap().organizations;
    members.push(org("Org3", "Org3MSP"));
    let mut system = Profile::system(
        SYSTEM,
        Consensus::Solo,
        p.orderer.organizations.clone(),
        BTreeMap::from([("SampleConsortium".into(), ConsortiumProfile::new(members))]),
    );
    system.orderer.addresses = p.orderer.addresses.clone();
    system.orderer.capabilities = ["V2_0".to_owned()].into();
    assert_eq!(system.config().unwrap(), by_hand);

    let request = channel_creation_update(CHANNEL, "SampleConsortium", &["Org2", "Org1"]).unwrap();
    assert_eq!(
        request,
        creation_update(CHANNEL, "SampleConsortium", &["Org1", "Org2"])
    );
    let created = create(&by_hand, &request, &[ORG2_ADMIN], 1).unwrap();
    let values = ChannelValues::new(CHANNEL, created.config.unwrap()).unwrap();
    assert_eq!(values.consortium(), Some("SampleConsortium"));
    // Org1's member is no admin: the consortium's ANY Admins is not met.
    let err = create(&by_hand, &request, &[ORG1_MEMBER], 1).unwrap_err();
    assert_eq!(err.class(), Forbidden, "{err}");
}
