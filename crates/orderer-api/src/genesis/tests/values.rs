//! The config values: keys, contents, mod_policy, when they appear.

use super::*;

#[test]
fn values_decode_with_configtxgen_keys_and_mod_policies() {
    let root = channel(&profile());
    let keys = |g: &ConfigGroup| g.values.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(&root),
        [
            "BlockDataHashingStructure",
            "Capabilities",
            "HashingAlgorithm",
            "OrdererAddresses"
        ]
    );
    assert_eq!(
        decode::<HashingAlgorithm>(&root.values["HashingAlgorithm"]).name,
        "SHA256"
    );
    assert_eq!(
        decode::<BlockDataHashingStructure>(&root.values["BlockDataHashingStructure"]).width,
        4294967295
    );
    let addresses = &root.values["OrdererAddresses"];
    assert_eq!(
        decode::<OrdererAddresses>(addresses).addresses,
        ["orderer0:7050"]
    );
    assert_eq!(addresses.mod_policy, "/Channel/Orderer/Admins");
    let caps = decode::<Capabilities>(&root.values["Capabilities"]);
    assert_eq!(caps.capabilities.keys().collect::<Vec<_>>(), ["V2_0"]);

    let o = at(&root, &["Orderer"]);
    assert_eq!(
        keys(o),
        [
            "BatchSize",
            "BatchTimeout",
            "Capabilities",
            "ChannelRestrictions",
            "ConsensusType"
        ]
    );
    let bs = decode::<ord::BatchSize>(&o.values["BatchSize"]);
    assert_eq!(
        (
            bs.max_message_count,
            bs.absolute_max_bytes,
            bs.preferred_max_bytes
        ),
        (500, 10 << 20, 2 << 20)
    );
    assert_eq!(
        decode::<ord::BatchTimeout>(&o.values["BatchTimeout"]).timeout,
        "2s"
    );
    assert_eq!(o.values["ChannelRestrictions"].value, Bytes::new());
    let ct = decode::<ord::ConsensusType>(&o.values["ConsensusType"]);
    assert_eq!(
        (ct.r#type.as_str(), ct.metadata.len(), ct.state),
        ("solo", 0, 0)
    );
    let oo = at(&root, &["Orderer", "OrdererOrg"]);
    assert_eq!(keys(oo), ["Endpoints", "MSP"]);
    assert_eq!(
        decode::<OrdererAddresses>(&oo.values["Endpoints"]).addresses,
        ["orderer0:7050"]
    );

    let a = at(&root, &["Application"]);
    assert_eq!(keys(a), ["ACLs", "Capabilities"]);
    let acls = decode::<peer::AcLs>(&a.values["ACLs"]);
    assert_eq!(acls.acls.len(), 19);
    assert_eq!(
        acls.acls["peer/Propose"].policy_ref,
        "/Channel/Application/Writers"
    );
    let org1 = at(&root, &["Application", "Org1"]);
    assert_eq!(keys(org1), ["AnchorPeers", "MSP"]);
    let anchors = decode::<peer::AnchorPeers>(&org1.values["AnchorPeers"]);
    assert_eq!(
        (
            anchors.anchor_peers[0].host.as_str(),
            anchors.anchor_peers[0].port
        ),
        ("peer0.org1", 7051)
    );
    let msp = decode::<MspConfig>(&org1.values["MSP"]);
    assert_eq!(msp.r#type, 0);
    assert_eq!(FabricMspConfig::decode(msp.config).unwrap().name, "Org1MSP");
    assert_eq!(keys(at(&root, &["Application", "Org2"])), ["MSP"]);

    // Every element: version 0, mod_policy Admins (OrdererAddresses aside).
    fn walk(g: &ConfigGroup) {
        assert_eq!((g.version, g.mod_policy.as_str()), (0, "Admins"));
        for (k, v) in &g.values {
            assert_eq!(v.version, 0);
            assert!(v.mod_policy == "Admins" || k == "OrdererAddresses", "{k}");
        }
        g.policies
            .values()
            .for_each(|p| assert_eq!((p.version, p.mod_policy.as_str()), (0, "Admins")));
        g.groups.values().for_each(walk);
    }
    walk(&root);
}

#[test]
fn kafka_carries_its_brokers_and_solo_does_not() {
    let root = channel(&kafka_profile());
    let o = at(&root, &["Orderer"]);
    let brokers = decode::<ord::KafkaBrokers>(&o.values["KafkaBrokers"]).brokers;
    assert_eq!(brokers, ["kafka0:9092", "10.0.0.2:9092"]);
    assert_eq!(
        decode::<ord::ConsensusType>(&o.values["ConsensusType"]).r#type,
        "kafka"
    );
    assert!(
        !at(&channel(&profile()), &["Orderer"])
            .values
            .contains_key("KafkaBrokers")
    );
}

#[test]
fn optional_values_appear_only_when_set() {
    let mut p = profile();
    p.orderer.addresses.clear();
    p.orderer.capabilities.clear();
    p.application.as_mut().unwrap().capabilities.clear();
    p.application.as_mut().unwrap().acls.clear();
    p.application.as_mut().unwrap().organizations[0]
        .anchor_peers
        .clear();
    p.orderer.organizations[0].orderer_endpoints.clear();
    p.consortium = Some("SampleConsortium".into());
    let root = channel(&p);
    assert_eq!(
        root.values.keys().collect::<Vec<_>>(),
        [
            "BlockDataHashingStructure",
            "Capabilities",
            "Consortium",
            "HashingAlgorithm"
        ]
    );
    let consortium = decode::<Consortium>(&root.values["Consortium"]);
    assert_eq!(consortium.name, "SampleConsortium");
    let keys = |path: &[&str]| at(&root, path).values.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&["Application"]), Vec::<String>::new());
    assert_eq!(keys(&["Application", "Org1"]), ["MSP"]);
    assert_eq!(keys(&["Orderer", "OrdererOrg"]), ["MSP"]);
    assert!(!keys(&["Orderer"]).contains(&"Capabilities".to_owned()));
}

#[test]
fn fabric_msps_are_written_as_verifying_msps() {
    let mut msp = fabric_msp("");
    msp.signing_identity = Some(SigningIdentityInfo {
        public_signer: Bytes::from_static(b"cert"),
        private_signer: Some(KeyInfo {
            key_identifier: "k".into(),
            key_material: Bytes::from_static(b"SECRET KEY"),
        }),
    });
    let mut p = profile();
    p.application.as_mut().unwrap().organizations[0].msp = msp.into();
    let root = channel(&p);
    let written = decode::<MspConfig>(&at(&root, &["Application", "Org1"]).values["MSP"]);
    assert!(!written.config.windows(10).any(|w| w == b"SECRET KEY"));
    let cfg = FabricMspConfig::decode(written.config).unwrap();
    assert_eq!(cfg.name, "Org1MSP");
    assert_eq!(cfg.signing_identity, None);
    let crypto = cfg.crypto_config.unwrap();
    assert_eq!(
        (
            crypto.signature_hash_family.as_str(),
            crypto.identity_identifier_hash_function.as_str()
        ),
        ("SHA2", "SHA256")
    );
}

#[test]
fn one_org_may_order_and_run_peers_with_one_msp() {
    let mut p = profile();
    p.orderer.organizations.push(org("Org1", "Org1MSP"));
    assert!(p.generate().is_ok());
    p.orderer.organizations[1].msp = FabricMspConfig {
        admins: vec![Bytes::from_static(b"another admin")],
        ..fabric_msp("Org1MSP")
    }
    .into();
    assert!(matches!(
        p.generate(),
        Err(GenesisError::ConflictingMsp { .. })
    ));
}
