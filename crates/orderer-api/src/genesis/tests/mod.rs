//! Tests of the generator without Fabric's tools; `tests/genesis_fabric.rs` compares
//! with configtxgen.

mod errors;
mod policies;
mod system;
mod values;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;

use super::*;
use crate::block::verify_block;
use crate::proto::common::{
    BlockDataHashingStructure, BlockMetadataIndex, Capabilities, ConfigPolicy, ConfigValue,
    Consortium, HashingAlgorithm, ImplicitMetaPolicy, MspPrincipal, MspRole, OrdererAddresses,
    Policy, SignaturePolicyEnvelope, implicit_meta_policy::Rule, msp_role::MspRoleType,
    policy::PolicyType, signature_policy,
};
use crate::proto::msp::{FabricMspConfig, KeyInfo, MspConfig, SigningIdentityInfo};
use crate::proto::{orderer as ord, peer};
use crate::{BatchSize, ConsenterKind};

fn fabric_msp(name: &str) -> FabricMspConfig {
    FabricMspConfig {
        name: name.into(),
        root_certs: vec![Bytes::from(format!("root of {name}"))],
        ..Default::default()
    }
}

fn org(name: &str, msp_id: &str) -> Organization {
    Organization::new(name, msp_id, fabric_msp(msp_id).into())
}

pub(crate) fn profile() -> Profile {
    let mut orderer = org("OrdererOrg", "OrdererMSP");
    orderer.orderer_endpoints = vec!["orderer0:7050".into()];
    let mut org1 = org("Org1", "Org1MSP");
    org1.anchor_peers = vec![AnchorPeer {
        host: "peer0.org1".into(),
        port: 7051,
    }];
    let mut p = Profile::new(
        "mychannel",
        Consensus::Solo,
        vec![orderer],
        vec![org1, org("Org2", "Org2MSP")],
    );
    p.orderer.addresses = vec!["orderer0:7050".into()];
    p
}

pub(crate) fn kafka_profile() -> Profile {
    let mut p = profile();
    p.orderer.consensus = Consensus::Kafka {
        brokers: vec!["kafka0:9092".into(), "10.0.0.2:9092".into()],
    };
    p
}

fn channel(p: &Profile) -> ConfigGroup {
    p.channel_group().unwrap()
}

fn at<'a>(root: &'a ConfigGroup, path: &[&str]) -> &'a ConfigGroup {
    path.iter().fold(root, |g, key| &g.groups[*key])
}

fn decode<M: Message + Default>(v: &ConfigValue) -> M {
    M::decode(v.value.clone()).unwrap()
}

fn meta(p: &ConfigPolicy) -> (Rule, String) {
    let policy = p.policy.as_ref().unwrap();
    assert_eq!(policy.r#type, PolicyType::ImplicitMeta as i32);
    let m = ImplicitMetaPolicy::decode(policy.value.clone()).unwrap();
    (Rule::try_from(m.rule).unwrap(), m.sub_policy)
}

/// A signature policy as (n, [(msp, role)]) when it is one flat n-out-of gate.
fn flat_signature(p: &ConfigPolicy) -> (i32, Vec<(String, MspRoleType)>) {
    let policy = p.policy.as_ref().unwrap();
    assert_eq!(policy.r#type, PolicyType::Signature as i32);
    let env = SignaturePolicyEnvelope::decode(policy.value.clone()).unwrap();
    let Some(signature_policy::Type::NOutOf(gate)) = env.rule.unwrap().r#type else {
        panic!("not an n-out-of gate");
    };
    let principals = env.identities.iter().map(role).collect();
    for (i, r) in gate.rules.iter().enumerate() {
        assert_eq!(r.r#type, Some(signature_policy::Type::SignedBy(i as i32)));
    }
    (gate.n, principals)
}

fn role(p: &MspPrincipal) -> (String, MspRoleType) {
    assert_eq!(p.principal_classification, 0, "ROLE");
    let r = MspRole::decode(p.principal.clone()).unwrap();
    (r.msp_identifier, MspRoleType::try_from(r.role).unwrap())
}

#[test]
fn same_profile_same_bytes_and_org_order_does_not_matter() {
    let a = profile().generate().unwrap();
    let b = profile().generate().unwrap();
    assert_eq!(a.block.encode_to_vec(), b.block.encode_to_vec());

    let mut reordered = profile();
    reordered
        .application
        .as_mut()
        .unwrap()
        .organizations
        .reverse();
    let c = reordered.generate().unwrap();
    assert_eq!(a.block.encode_to_vec(), c.block.encode_to_vec());

    // Lists are part of the config: another order is another block.
    let mut brokers = kafka_profile();
    let x = brokers.genesis_block().unwrap();
    if let Consensus::Kafka { brokers } = &mut brokers.orderer.consensus {
        brokers.reverse();
    }
    assert_ne!(x, brokers.genesis_block().unwrap());
}

#[test]
fn the_block_has_fabrics_genesis_layout_without_timestamp_or_nonce() {
    let g = profile().generate().unwrap();
    let header = g.block.header.clone().unwrap();
    assert_eq!((header.number, header.previous_hash.len()), (0, 0));
    verify_block(&g.block, None).unwrap();
    let slots = &g.block.metadata.as_ref().unwrap().metadata;
    // Byte for byte what configtxgen writes: SIGNATURES holds
    // Metadata{OrdererBlockMetadata{last_config: {index: 0}}}, LAST_CONFIG encodes empty.
    assert_eq!(slots.len(), 5);
    assert_eq!(
        slots[BlockMetadataIndex::Signatures as usize],
        Bytes::from_static(&[0x0a, 0x02, 0x0a, 0x00])
    );
    assert!(slots[1..].iter().all(Bytes::is_empty));

    let data = &g.block.data.as_ref().unwrap().data;
    assert_eq!(data.len(), 1);
    let env = Envelope::decode(data[0].clone()).unwrap();
    assert!(env.signature.is_empty());
    let payload = Payload::decode(env.payload).unwrap();
    let hdr = payload.header.unwrap();
    let ch = ChannelHeader::decode(hdr.channel_header).unwrap();
    assert_eq!(
        (ch.r#type, ch.version, ch.epoch),
        (HeaderType::Config as i32, 1, 0)
    );
    assert_eq!(ch.channel_id, "mychannel");
    assert_eq!(ch.timestamp, None);
    // SHA-256 of nothing: Fabric's tx id over an empty nonce and creator.
    assert_eq!(
        ch.tx_id,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert!(hdr.signature_header.is_empty());
    let ce = ConfigEnvelope::decode(payload.data).unwrap();
    assert_eq!(ce.config.as_ref(), Some(&g.config));
    assert_eq!(ce.last_update, None);
    assert_eq!(g.config.sequence, 0);
}

#[test]
fn the_node_reads_the_generated_block() {
    let mut p = kafka_profile();
    p.orderer.batch_size = BatchSize {
        max_message_count: 10,
        absolute_max_bytes: 1 << 20,
        preferred_max_bytes: 1 << 19,
    };
    p.orderer.batch_timeout = Duration::from_millis(250);
    let g = p.generate().unwrap();
    let values = crate::channelconfig::ChannelValues::from_block(&g.block).unwrap();
    assert_eq!(values.channel_config(), p.channel_config());
    assert_eq!(values.channel_config().consensus_type, ConsenterKind::Kafka);
    assert_eq!(values.config(), &g.config);
}
