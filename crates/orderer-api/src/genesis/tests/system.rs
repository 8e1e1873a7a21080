//! System channels: a Consortiums group instead of an Application group, and the
//! checks that apply to it.

use std::collections::BTreeMap;

use super::*;
use crate::channelconfig::ChannelValues;
use crate::policies::dsl::policy_from_configtx;

fn system() -> Profile {
    let p = profile();
    let mut org1 = org("Org1", "Org1MSP");
    // configtxgen ignores anchor peers in a consortium: so does the generator.
    org1.anchor_peers = vec![AnchorPeer {
        host: "peer0.org1".into(),
        port: 7051,
    }];
    let mut s = Profile::system(
        "syschan",
        Consensus::Kafka {
            brokers: vec!["kafka0:9092".into()],
        },
        p.orderer.organizations.clone(),
        BTreeMap::from([
            (
                "SampleConsortium".into(),
                ConsortiumProfile::new(vec![org1, org("Org2", "Org2MSP")]),
            ),
            ("Empty".into(), ConsortiumProfile::new(Vec::new())),
        ]),
    );
    s.orderer.addresses = p.orderer.addresses;
    s.orderer.max_channels = 7;
    s
}

#[test]
fn a_system_channel_has_consortiums_and_no_application_group() {
    let root = channel(&system());
    let keys: Vec<_> = root.groups.keys().map(String::as_str).collect();
    assert_eq!(keys, ["Consortiums", "Orderer"]);

    let consortiums = &root.groups["Consortiums"];
    assert_eq!(consortiums.mod_policy, "/Channel/Orderer/Admins");
    let admins = &consortiums.policies["Admins"];
    assert_eq!(admins.mod_policy, "/Channel/Orderer/Admins");
    assert_eq!(flat_signature(admins), (0, vec![]), "accepts anything");

    let sample = &consortiums.groups["SampleConsortium"];
    assert_eq!(sample.mod_policy, "/Channel/Orderer/Admins");
    assert!(sample.policies.is_empty());
    let creation = &sample.values["ChannelCreationPolicy"];
    assert_eq!(creation.mod_policy, "/Channel/Orderer/Admins");
    let policy: Policy = decode(creation);
    assert_eq!(
        policy,
        policy_from_configtx("ImplicitMeta", "ANY Admins").unwrap()
    );
    let org1 = &sample.groups["Org1"];
    let values: Vec<_> = org1.values.keys().map(String::as_str).collect();
    assert_eq!(values, ["MSP"], "no AnchorPeers in a consortium");
    let policies: Vec<_> = org1.policies.keys().map(String::as_str).collect();
    assert_eq!(policies, ["Admins", "Endorsement", "Readers", "Writers"]);
    assert!(consortiums.groups["Empty"].groups.is_empty());

    let restrictions: ord::ChannelRestrictions =
        decode(&root.groups["Orderer"].values["ChannelRestrictions"]);
    assert_eq!(restrictions.max_count, 7);
}

#[test]
fn the_node_reads_a_generated_system_channel() {
    let block = system().genesis_block().unwrap();
    let values = ChannelValues::from_block(&block).unwrap();
    assert_eq!(values.channel_id(), "syschan");
    assert!(values.application().is_none());
    let consortiums = values.consortiums().unwrap().consortiums();
    let msps: Vec<_> = consortiums["SampleConsortium"].msp_ids().collect();
    assert_eq!(msps, ["Org1MSP", "Org2MSP"]);
    assert!(
        consortiums["SampleConsortium"]
            .channel_creation_policy()
            .is_some()
    );
}

#[test]
fn bad_system_profiles_are_clear_errors() {
    type Edit = Box<dyn Fn(&mut Profile)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|p| p.consortiums = None),
            "neither an Application group",
        ),
        (
            Box::new(|p| {
                let c = p.consortiums.as_mut().unwrap();
                let sample = c.remove("SampleConsortium").unwrap();
                c.insert("Sample Consortium".into(), sample);
            }),
            "/Channel/Consortiums: name \"Sample Consortium\"",
        ),
        (
            Box::new(|p| {
                let c = p.consortiums.as_mut().unwrap();
                c.get_mut("SampleConsortium").unwrap().organizations[1].name = "Org1".into();
            }),
            "/Channel/Consortiums/SampleConsortium lists two organizations named \"Org1\"",
        ),
        (
            Box::new(|p| {
                let c = p.consortiums.as_mut().unwrap();
                c.get_mut("SampleConsortium")
                    .unwrap()
                    .channel_creation_policy = Policy::default();
            }),
            "/Channel/Consortiums/SampleConsortium: policy \"ChannelCreationPolicy\"",
        ),
        (
            // One MSP ID, two MSPs: in another consortium and in the orderer org.
            Box::new(|p| {
                let mut other = fabric_msp("OrdererMSP");
                other.root_certs = vec![Bytes::from_static(b"another root")];
                let c = p.consortiums.as_mut().unwrap();
                c.get_mut("Empty")
                    .unwrap()
                    .organizations
                    .push(Organization::new("Ord", "OrdererMSP", other.into()));
            }),
            "MSP \"OrdererMSP\" differs between /Channel/Orderer/OrdererOrg and /Channel/Consortiums/Empty/Ord",
        ),
    ];
    for (edit, want) in cases {
        let mut p = system();
        edit(&mut p);
        let err = p.generate().unwrap_err().to_string();
        assert!(err.contains(want), "want {want:?} in {err:?}");
    }
}

#[test]
fn bad_creation_requests_are_clear_errors() {
    let cases: Vec<(ChannelCreation, &str)> = vec![
        (
            ChannelCreation::new("new", "SampleConsortium", Vec::<String>::new()),
            "/Channel/Application needs at least one organization",
        ),
        (
            ChannelCreation::new("New", "SampleConsortium", ["Org1"]),
            "must start with a lowercase letter",
        ),
        (
            ChannelCreation::new("new", "Sample Consortium", ["Org1"]),
            "/Channel/Consortium: name \"Sample Consortium\"",
        ),
        (
            ChannelCreation::new("new", "SampleConsortium", ["Org/1"]),
            "/Channel/Application: name \"Org/1\"",
        ),
        (
            ChannelCreation {
                policies: Policies::new(),
                ..ChannelCreation::new("new", "SampleConsortium", ["Org1"])
            },
            "/Channel/Application has no Readers policy",
        ),
    ];
    for (request, want) in cases {
        let err = request.config_update().unwrap_err().to_string();
        assert!(err.contains(want), "want {want:?} in {err:?}");
    }
}
