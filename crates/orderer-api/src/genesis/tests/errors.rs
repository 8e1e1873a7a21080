//! Input validation: each bad input is an error that names what is wrong.

use super::*;
use crate::policies::dsl::{
    envelope, implicit_meta_policy, n_out_of, policy_from_configtx, signature_policy,
};

#[test]
fn bad_inputs_are_clear_errors() {
    type Edit = Box<dyn Fn(&mut Profile)>;
    let encoded = |msp: FabricMspConfig, kind: i32| {
        OrgMsp::Encoded(MspConfig {
            r#type: kind,
            config: msp.encode_to_vec().into(),
        })
    };
    let signing = FabricMspConfig {
        signing_identity: Some(SigningIdentityInfo::default()),
        ..fabric_msp("Org1MSP")
    };
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|p| p.channel_id.clear()),
            "channel id \"\": must not be empty",
        ),
        (
            Box::new(|p| p.channel_id = "MyChannel".into()),
            "must start with a lowercase letter",
        ),
        (
            Box::new(|p| p.channel_id = "my_channel".into()),
            "only lowercase letters",
        ),
        (
            Box::new(|p| p.orderer.organizations.clear()),
            "/Channel/Orderer needs at least one organization",
        ),
        (
            Box::new(|p| p.application.as_mut().unwrap().organizations.clear()),
            "/Channel/Application needs at least one organization",
        ),
        (
            Box::new(|p| {
                p.application.as_mut().unwrap().organizations[1].msp_id = "Org1MSP".into()
            }),
            "organizations \"Org1\" and \"Org2\" have the same MSP ID \"Org1MSP\"",
        ),
        (
            Box::new(|p| p.application.as_mut().unwrap().organizations[1].name = "Org1".into()),
            "two organizations named \"Org1\"",
        ),
        (
            Box::new(|p| p.application.as_mut().unwrap().organizations[0].name = "Org/1".into()),
            "only ASCII letters",
        ),
        (
            Box::new(|p| p.application.as_mut().unwrap().organizations[0].msp_id = "Other".into()),
            "names MSP \"Org1MSP\", not the organization's MSP ID \"Other\"",
        ),
        (
            Box::new(|p| {
                p.application.as_mut().unwrap().organizations[0].msp =
                    OrgMsp::from(FabricMspConfig {
                        root_certs: vec![],
                        ..fabric_msp("Org1MSP")
                    })
            }),
            "no root CA",
        ),
        (
            Box::new(move |p| {
                p.application.as_mut().unwrap().organizations[0].msp =
                    encoded(fabric_msp("Org1MSP"), 1)
            }),
            "only type 0",
        ),
        (
            Box::new(move |p| {
                p.application.as_mut().unwrap().organizations[0].msp = encoded(signing.clone(), 0)
            }),
            "carries a signing identity",
        ),
        (
            Box::new(|p| {
                p.application.as_mut().unwrap().organizations[0].msp = OrgMsp::Encoded(MspConfig {
                    r#type: 0,
                    config: Bytes::from_static(b"\xff"),
                })
            }),
            "not a FabricMSPConfig",
        ),
        (
            Box::new(|p| p.orderer.consensus = Consensus::Kafka { brokers: vec![] }),
            "at least one Kafka broker",
        ),
        (
            Box::new(|p| {
                p.orderer.consensus = Consensus::Kafka {
                    brokers: vec!["kafka0".into()],
                }
            }),
            "\"kafka0\": expected host:port",
        ),
        (
            Box::new(|p| {
                p.orderer.consensus = Consensus::Kafka {
                    brokers: vec!["kafka0:0".into()],
                }
            }),
            "port must be a number",
        ),
        (
            Box::new(|p| {
                p.orderer.consensus = Consensus::Kafka {
                    brokers: vec!["kafka0:http".into()],
                }
            }),
            "port must be a number",
        ),
        (
            Box::new(|p| {
                p.orderer.consensus = Consensus::Kafka {
                    brokers: vec![":9092".into()],
                }
            }),
            "host must be",
        ),
        (
            Box::new(|p| {
                p.orderer.consensus = Consensus::Kafka {
                    brokers: vec!["[::1]:9092".into()],
                }
            }),
            "DNS name or an IPv4",
        ),
        (
            Box::new(|p| {
                p.orderer.consensus = Consensus::Kafka {
                    brokers: vec!["k:1".into(), "k:1".into()],
                }
            }),
            "listed twice",
        ),
        (
            Box::new(|p| p.orderer.addresses = vec!["bad host:7050".into()]),
            "/Channel/OrdererAddresses: address",
        ),
        (
            Box::new(|p| p.application.as_mut().unwrap().organizations[0].anchor_peers[0].port = 0),
            "/Channel/Application/Org1/AnchorPeers",
        ),
        (
            Box::new(|p| p.orderer.batch_timeout = Duration::ZERO),
            "BatchTimeout must be positive",
        ),
        (
            Box::new(|p| p.orderer.batch_size.preferred_max_bytes = u32::MAX),
            "BatchSize",
        ),
        (
            Box::new(|p| {
                p.orderer.policies.remove(BLOCK_VALIDATION);
            }),
            "/Channel/Orderer has no BlockValidation policy",
        ),
        (
            Box::new(|p| {
                p.policies.remove(ADMINS);
            }),
            "/Channel has no Admins policy",
        ),
        (
            Box::new(|p| {
                p.application.as_mut().unwrap().organizations[0].policies = Some(Policies::new())
            }),
            "/Channel/Application/Org1 has no Readers policy",
        ),
        (
            Box::new(|p| {
                // Fabric's parser and configtxgen take it; nothing can satisfy it.
                let never = policy_from_configtx("Signature", "OutOf(2, 'Org1MSP.member')");
                p.policies.insert(READERS.into(), never.unwrap());
            }),
            "/Channel: policy \"Readers\": rule needs 2 of 1 rules: n must be between 0 and 1",
        ),
        (
            Box::new(|p| {
                let reject_all = signature_policy(&envelope(n_out_of(1, vec![]), vec![]));
                p.policies.insert(READERS.into(), reject_all);
            }),
            "needs 1 of 0 rules",
        ),
        (
            Box::new(|p| {
                p.policies.insert(
                    READERS.into(),
                    Policy {
                        r#type: 2,
                        value: Bytes::new(),
                    },
                );
            }),
            "only SIGNATURE (1) and IMPLICIT_META (3)",
        ),
        (
            Box::new(|p| {
                p.policies.insert(
                    READERS.into(),
                    Policy {
                        r#type: PolicyType::Signature as i32,
                        value: Bytes::from_static(b"\xff"),
                    },
                );
            }),
            "not a valid SignaturePolicyEnvelope",
        ),
        (
            Box::new(|p| {
                p.policies
                    .insert(READERS.into(), implicit_meta_policy(Rule::Any, "Bad Name"));
            }),
            "sub-policy \"Bad Name\" is not a valid policy name",
        ),
        (
            Box::new(|p| {
                let unknown_rule = ImplicitMetaPolicy {
                    sub_policy: READERS.into(),
                    rule: 7,
                };
                p.policies.insert(
                    READERS.into(),
                    Policy {
                        r#type: PolicyType::ImplicitMeta as i32,
                        value: unknown_rule.encode_to_vec().into(),
                    },
                );
            }),
            "implicit meta rule 7 is not ANY, ALL or MAJORITY",
        ),
        (
            Box::new(|p| {
                p.policies
                    .insert("Bad Name".into(), implicit_meta_policy(Rule::Any, READERS));
            }),
            "\"Bad Name\"",
        ),
        (
            Box::new(|p| {
                p.orderer.capabilities.insert("V2.0".into());
            }),
            "/Channel/Orderer/Capabilities: \"V2.0\" is not a capability",
        ),
        (
            // Fabric 3's: the node refuses a channel that requires it.
            Box::new(|p| p.capabilities = ["V3_0".to_owned()].into()),
            "/Channel/Capabilities: \"V3_0\" is not a capability",
        ),
        (
            Box::new(|p| {
                p.application
                    .as_mut()
                    .unwrap()
                    .acls
                    .insert("peer/Propose".into(), String::new());
            }),
            "policy reference is empty",
        ),
        (
            Box::new(|p| p.capabilities = ["V1_3".to_owned()].into()),
            "/Channel/Orderer/OrdererOrg/Endpoints needs the channel capability V1_4_2",
        ),
        (
            Box::new(|p| {
                p.capabilities.clear();
                p.orderer.organizations[0].orderer_endpoints.clear();
                p.orderer.addresses.clear();
            }),
            "/Channel/OrdererAddresses must list the orderers",
        ),
        (
            Box::new(|p| p.consortium = Some(String::new())),
            "/Channel/Consortium",
        ),
    ];
    for (edit, want) in cases {
        let mut p = profile();
        edit(&mut p);
        let err = p.generate().unwrap_err().to_string();
        assert!(err.contains(want), "want {want:?} in {err:?}");
    }
}
