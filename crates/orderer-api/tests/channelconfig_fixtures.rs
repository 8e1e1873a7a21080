//! Config blocks made by Fabric's configtxgen, read value by value.

#![allow(clippy::unwrap_used)]

mod channelconfig_support;

use std::time::Duration;

use bytes::Bytes;
use channelconfig_support::*;
use orderer_api::channelconfig::{
    ChannelValues, ConfigBlockError, ConfigErrorKind, ConsensusState, MspKind, MspVersion,
    read_config_block,
};
use orderer_api::proto::common::{
    Block, BlockData, Config, ConfigEnvelope, Envelope, ImplicitMetaPolicy, Payload,
    policy::PolicyType,
};
use orderer_api::{BatchSize, ConsenterKind};
use prost::Message;

fn names<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    it.collect()
}

#[test]
fn solo_system_channel_reads_every_value() {
    let v = parse(SOLO_SYSTEM);
    assert_eq!(v.channel_id(), "syschan");
    assert_eq!(v.sequence(), 0);
    assert_eq!(v.hashing_algorithm(), "SHA256");
    assert_eq!(v.block_data_hashing_width(), u32::MAX);
    assert!(v.orderer_addresses().is_empty());
    assert_eq!(v.consortium(), None);
    assert!(v.is_system_channel());
    assert!(!v.is_maintenance());

    assert_eq!(names(v.capabilities().all().names()), ["V2_0"]);
    assert!(v.capabilities().v2_0());
    assert!(v.capabilities().org_specific_orderer_endpoints());
    assert_eq!(v.capabilities().msp_version(), MspVersion::V1_4_3);

    let o = v.orderer();
    assert_eq!(o.consenter_kind(), ConsenterKind::Solo);
    assert_eq!(o.consensus_type().state, ConsensusState::Normal);
    assert!(o.consensus_type().metadata.is_empty());
    assert_eq!(
        o.batch_size(),
        BatchSize {
            max_message_count: 500,
            absolute_max_bytes: 10 * 1024 * 1024,
            preferred_max_bytes: 2 * 1024 * 1024,
        }
    );
    assert_eq!(o.batch_timeout(), Duration::from_secs(2));
    assert!(o.kafka_brokers().is_empty());
    assert_eq!(o.max_channels(), 0);
    assert!(o.capabilities().v2_0());
    assert!(o.capabilities().use_channel_creation_policy_as_admins());
    assert_eq!(names(o.msp_ids()), ["SampleOrg"]);
    let org = &o.organizations()["SampleOrg"];
    assert_eq!(org.org().name(), "SampleOrg");
    assert_eq!(org.org().msp().kind(), MspKind::Fabric);
    assert_eq!(org.endpoints(), Some(&["127.0.0.1:7050".to_string()][..]));

    let app = v.application().unwrap();
    assert_eq!(names(app.capabilities().all().names()), ["V2_5"]);
    assert!(app.capabilities().acls());
    assert!(app.acls().is_some());
    assert_eq!(names(app.msp_ids()), ["SampleOrg"]);
    assert!(app.organizations()["SampleOrg"].anchor_peers().is_some());

    let consortiums = v.consortiums().unwrap();
    let sample = consortiums.get("SampleConsortium").unwrap();
    assert_eq!(names(sample.msp_ids()), ["SampleOrg"]);
    let policy = sample.channel_creation_policy().unwrap();
    assert_eq!(policy.r#type, PolicyType::ImplicitMeta as i32);
    let meta = ImplicitMetaPolicy::decode(policy.value.clone()).unwrap();
    assert_eq!(meta.sub_policy, "Admins");

    // One organization in three groups is one MSP.
    assert_eq!(v.msps().keys().collect::<Vec<_>>(), ["SampleOrg"]);

    let cc = v.channel_config();
    assert_eq!(cc.channel_id, "syschan");
    assert_eq!(cc.consensus_type, ConsenterKind::Solo);
    assert_eq!(cc.batch_size, o.batch_size());
    assert_eq!(cc.batch_timeout, Duration::from_secs(2));
}

#[test]
fn kafka_system_channel_reads_its_brokers() {
    let v = parse(KAFKA_SYSTEM);
    assert_eq!(v.channel_id(), "kafkasys");
    assert_eq!(v.orderer().consenter_kind(), ConsenterKind::Kafka);
    assert_eq!(
        v.orderer().kafka_brokers(),
        ["kafka0:9092", "kafka1:9092", "kafka2:9092"]
    );
    assert_eq!(v.channel_config().consensus_type, ConsenterKind::Kafka);
    assert!(v.is_system_channel());
}

#[test]
fn application_channel_without_organizations_reads() {
    let v = parse(SOLO_APP_CHANNEL);
    assert_eq!(v.channel_id(), "mychannel");
    assert!(!v.is_system_channel());
    assert!(v.orderer().organizations().is_empty());
    assert!(v.application().unwrap().organizations().is_empty());
    assert!(v.msps().is_empty());
}

#[test]
fn v1_4_kafka_application_channel_reads_every_value() {
    let v = parse(KAFKA_V14_APP_CHANNEL);
    assert_eq!(v.channel_id(), "kafkachannel");
    assert_eq!(v.consortium(), Some("SampleConsortium"));
    assert_eq!(
        v.orderer_addresses(),
        ["orderer0.example.com:7050", "orderer1.example.com:7050"]
    );
    assert_eq!(names(v.capabilities().all().names()), ["V1_3"]);
    assert!(!v.capabilities().org_specific_orderer_endpoints());
    assert_eq!(v.capabilities().msp_version(), MspVersion::V1_3);

    let o = v.orderer();
    assert_eq!(o.consenter_kind(), ConsenterKind::Kafka);
    assert_eq!(
        o.kafka_brokers(),
        ["kafka0.example.com:9092", "10.0.0.7:9093"]
    );
    assert_eq!(o.batch_timeout(), Duration::from_millis(500));
    assert_eq!(
        o.batch_size(),
        BatchSize {
            max_message_count: 10,
            absolute_max_bytes: 1024 * 1024,
            preferred_max_bytes: 512 * 1024,
        }
    );
    assert_eq!(o.max_channels(), 10);
    assert!(o.capabilities().v1_1_fixes());
    assert!(!o.capabilities().v2_0());
    assert_eq!(names(o.msp_ids()), ["OrdererMSP"]);
    assert_eq!(o.organizations()["OrdererOrg"].endpoints(), None);

    let app = v.application().unwrap();
    // V1_3 allows ACLs; configtxgen wrote none.
    assert!(app.capabilities().acls());
    assert_eq!(app.acls(), None);
    assert_eq!(names(app.msp_ids()), ["PeerMSP"]);
    assert!(v.consortiums().is_none());
    assert_eq!(
        v.msps().keys().collect::<Vec<_>>(),
        ["OrdererMSP", "PeerMSP"]
    );
}

#[test]
fn etcdraft_consensus_is_refused() {
    let err = ChannelValues::from_block(&block(ETCDRAFT_CHANNEL)).unwrap_err();
    let ConfigBlockError::Values { channel, error } = err else {
        panic!("{err:?}");
    };
    assert_eq!(channel, "raftchannel");
    assert_error(
        &error,
        "/Channel/Orderer/ConsensusType",
        ConfigErrorKind::Unsupported,
        "consensus type \"etcdraft\" is not supported by this orderer",
    );
}

/// The model shares the config's bytes instead of re-encoding what it does not
/// interpret: every such value is a slice of the block as received.
#[test]
fn uninterpreted_values_are_the_blocks_own_bytes() {
    for fixture in [SOLO_SYSTEM, KAFKA_V14_APP_CHANNEL] {
        let v = parse(fixture);
        let mut kept: Vec<Bytes> = v.msps().values().map(|m| m.value().clone()).collect();
        kept.push(v.orderer().consensus_type().metadata.clone());
        let app = v.application().unwrap();
        kept.extend(app.acls().cloned());
        kept.extend(
            app.organizations()
                .values()
                .filter_map(|o| o.anchor_peers().cloned()),
        );
        for bytes in kept.iter().filter(|b| !b.is_empty()) {
            assert!(
                fixture.windows(bytes.len()).any(|w| w == &bytes[..]),
                "a kept value is not a slice of the block"
            );
        }
        assert_eq!(
            app.acls(),
            v.raw_value(&["Application", "ACLs"]),
            "ACLs are the config's value"
        );
    }
}

/// The model keeps the Config it read, whole: re-encoded, it is as long as the
/// block's (Go writes map entries in random order and prost in key order, so only
/// the order may differ), and every value in it is, byte for byte, a slice of the
/// block.
#[test]
fn kept_config_loses_nothing() {
    for fixture in [
        SOLO_SYSTEM,
        KAFKA_SYSTEM,
        SOLO_APP_CHANNEL,
        KAFKA_V14_APP_CHANNEL,
    ] {
        let v = parse(fixture);
        let b = block(fixture);
        let env = Envelope::decode(b.data.as_ref().unwrap().data[0].clone()).unwrap();
        let payload = Payload::decode(env.payload).unwrap();
        let again = ConfigEnvelope {
            config: Some(v.config().clone()),
            last_update: None,
        }
        .encode_to_vec();
        assert_eq!(again.len(), payload.data.len());
        assert_eq!(
            &Config::decode(&v.config().encode_to_vec()[..]).unwrap(),
            v.config()
        );

        let mut groups = vec![v.channel_group().unwrap()];
        let mut values = 0;
        while let Some(g) = groups.pop() {
            for cv in g.values.values().filter(|cv| !cv.value.is_empty()) {
                values += 1;
                assert!(fixture.windows(cv.value.len()).any(|w| w == &cv.value[..]));
            }
            groups.extend(g.groups.values());
        }
        assert!(values >= 9, "{values}");
    }
}

#[test]
fn read_config_block_returns_header_and_config() {
    let tx = read_config_block(&block(SOLO_SYSTEM)).unwrap();
    assert_eq!(tx.channel_id(), "syschan");
    assert_eq!(tx.header_type(), 1);
    assert!(tx.last_update.is_none());
    assert!(tx.config.channel_group.is_some());
}

#[test]
fn malformed_config_blocks_are_refused() {
    let good = block(SOLO_SYSTEM);
    let env = Envelope::decode(good.data.as_ref().unwrap().data[0].clone()).unwrap();
    let with_data = |data: Vec<Bytes>| Block {
        data: Some(BlockData { data }),
        ..good.clone()
    };
    let with_payload = |payload: Payload| {
        with_data(vec![
            Envelope {
                payload: payload.encode_to_vec().into(),
                signature: Bytes::new(),
            }
            .encode_to_vec()
            .into(),
        ])
    };
    let payload = Payload::decode(env.payload.clone()).unwrap();

    let no_header = Block {
        header: None,
        ..good.clone()
    };
    assert_eq!(
        read_config_block(&no_header).unwrap_err(),
        ConfigBlockError::MissingHeader
    );
    let two = with_data(vec![good.data.as_ref().unwrap().data[0].clone(); 2]);
    assert!(matches!(
        read_config_block(&two).unwrap_err(),
        ConfigBlockError::EnvelopeCount {
            number: 0,
            count: 2
        }
    ));
    let garbage = with_data(vec![Bytes::from_static(b"\xff\xff\xff")]);
    assert!(matches!(
        read_config_block(&garbage).unwrap_err(),
        ConfigBlockError::Envelope(_)
    ));
    let bad_data = with_payload(Payload {
        data: Bytes::from_static(b"\x0a\x05ab"),
        ..payload.clone()
    });
    assert!(matches!(
        read_config_block(&bad_data).unwrap_err(),
        ConfigBlockError::MalformedConfigEnvelope(_)
    ));
    let empty_data = with_payload(Payload {
        data: Bytes::new(),
        ..payload.clone()
    });
    assert_eq!(
        read_config_block(&empty_data).unwrap_err(),
        ConfigBlockError::MissingConfig
    );

    // An endorser transaction is not a config, whatever its data.
    let mut header = payload.header.clone().unwrap();
    let mut chdr =
        orderer_api::proto::common::ChannelHeader::decode(header.channel_header.clone()).unwrap();
    chdr.r#type = 3;
    header.channel_header = chdr.encode_to_vec().into();
    let not_config = with_payload(Payload {
        header: Some(header),
        ..payload
    });
    assert_eq!(
        read_config_block(&not_config).unwrap_err(),
        ConfigBlockError::NotConfig { found: 3 }
    );
}

/// Configs come from the network: no corruption of a block may panic the parser.
#[test]
fn corrupted_blocks_never_panic() {
    for fixture in [SOLO_SYSTEM, KAFKA_V14_APP_CHANNEL] {
        for i in (0..fixture.len()).step_by(3) {
            let mut bytes = fixture.to_vec();
            bytes[i] ^= 0x5a;
            if let Ok(b) = Block::decode(Bytes::from(bytes.clone())) {
                let _ = ChannelValues::from_block(&b);
            }
            bytes.truncate(i);
            if let Ok(b) = Block::decode(Bytes::from(bytes)) {
                let _ = ChannelValues::from_block(&b);
            }
        }
    }
}
