//! Fabric's rules for channel and orderer values, one test per rule, each bending a
//! real configtxgen config in one place.

#![allow(clippy::unwrap_used)]

mod channelconfig_support;

use channelconfig_support::*;
use orderer_api::channelconfig::{ConfigErrorKind, ConsensusState, keys};
use orderer_api::proto::common::{
    BlockDataHashingStructure, Capabilities, Capability, HashingAlgorithm, OrdererAddresses,
};
use orderer_api::proto::orderer::{
    BatchSize, BatchTimeout, ChannelRestrictions, ConsensusType, KafkaBrokers,
};

use ConfigErrorKind::{Invalid, Malformed, Structure, Unsupported};

const ORDERER: &[&str] = &["Orderer"];

fn caps(names: &[&str]) -> Capabilities {
    Capabilities {
        capabilities: names
            .iter()
            .map(|n| (n.to_string(), Capability {}))
            .collect(),
    }
}

fn consensus(kind: &str) -> ConsensusType {
    ConsensusType {
        r#type: kind.into(),
        ..Default::default()
    }
}

fn batch_size(count: u32, absolute: u32, preferred: u32) -> BatchSize {
    BatchSize {
        max_message_count: count,
        absolute_max_bytes: absolute,
        preferred_max_bytes: preferred,
    }
}

#[test]
fn hashing_algorithm_must_be_sha256() {
    let path = "/Channel/HashingAlgorithm";
    let cases = [
        (
            "SHA3_256",
            Unsupported,
            "SHA3_256 is not supported by this orderer",
        ),
        (
            "MD5",
            Invalid,
            "unknown hashing algorithm \"MD5\" (must be SHA256)",
        ),
        ("sha256", Invalid, "unknown hashing algorithm"),
        ("", Invalid, "unknown hashing algorithm"),
    ];
    for (name, kind, text) in cases {
        let err = refused(SOLO_SYSTEM, |c| {
            set(
                c,
                &[],
                keys::HASHING_ALGORITHM,
                &HashingAlgorithm { name: name.into() },
            )
        });
        assert_error(&err, path, kind, text);
    }
    let err = refused(SOLO_SYSTEM, |c| remove(c, &[], keys::HASHING_ALGORITHM));
    assert_error(&err, path, Structure, "missing");
}

#[test]
fn data_hashing_width_must_be_max_uint32() {
    let path = "/Channel/BlockDataHashingStructure";
    for width in [0, 1, 2, u32::MAX - 1] {
        let err = refused(SOLO_SYSTEM, |c| {
            set(
                c,
                &[],
                keys::BLOCK_DATA_HASHING_STRUCTURE,
                &BlockDataHashingStructure { width },
            )
        });
        assert_error(
            &err,
            path,
            Invalid,
            &format!("width {width} is not supported"),
        );
    }
    let err = refused(SOLO_SYSTEM, |c| {
        remove(c, &[], keys::BLOCK_DATA_HASHING_STRUCTURE)
    });
    assert_error(&err, path, Structure, "missing");
}

#[test]
fn orderer_addresses_are_required_before_channel_v1_4_2() {
    let path = "/Channel/OrdererAddresses";
    let err = refused(KAFKA_V14_APP_CHANNEL, |c| {
        remove(c, &[], keys::ORDERER_ADDRESSES)
    });
    assert_error(&err, path, Structure, "without channel capability V1_4_2");
    let err = refused(KAFKA_V14_APP_CHANNEL, |c| {
        set(
            c,
            &[],
            keys::ORDERER_ADDRESSES,
            &OrdererAddresses::default(),
        )
    });
    assert_error(&err, path, Structure, "must list its OrdererAddresses");
}

/// From channel capability V1_4_2 on, orderer organizations carry their own
/// `Endpoints` and the channel-wide list may be absent. Like Fabric, the capability
/// alone makes it optional: organizations without endpoints are not refused.
#[test]
fn orderer_addresses_may_come_from_org_endpoints() {
    let v = parse(SOLO_SYSTEM);
    assert!(v.orderer_addresses().is_empty());
    assert_eq!(
        v.orderer().organizations()["SampleOrg"]
            .endpoints()
            .unwrap(),
        ["127.0.0.1:7050"]
    );
    for channel_cap in ["V1_4_2", "V1_4_3", "V2_0"] {
        let v = accepted(KAFKA_V14_APP_CHANNEL, |c| {
            set(c, &[], "Capabilities", &caps(&[channel_cap]));
            remove(c, &[], keys::ORDERER_ADDRESSES);
            let endpoints = OrdererAddresses {
                addresses: vec!["osn0.example.com:7050".into()],
            };
            set(c, &["Orderer", "OrdererOrg"], keys::ENDPOINTS, &endpoints);
        });
        assert!(v.orderer_addresses().is_empty());
    }
    // Both together are fine too.
    let v = accepted(SOLO_SYSTEM, |c| {
        let addresses = OrdererAddresses {
            addresses: vec!["osn1.example.com:7050".into()],
        };
        set(c, &[], keys::ORDERER_ADDRESSES, &addresses);
    });
    assert_eq!(v.orderer_addresses(), ["osn1.example.com:7050"]);
}

#[test]
fn org_endpoints_need_channel_v1_4_2() {
    let err = refused(KAFKA_V14_APP_CHANNEL, |c| {
        set(
            c,
            &["Orderer", "OrdererOrg"],
            keys::ENDPOINTS,
            &OrdererAddresses::default(),
        )
    });
    assert_error(
        &err,
        "/Channel/Orderer/OrdererOrg/Endpoints",
        Structure,
        "only from channel capability V1_4_2 on",
    );
}

#[test]
fn unsupported_capability_is_refused_by_name() {
    let err = refused(SOLO_SYSTEM, |c| {
        set(c, &[], "Capabilities", &caps(&["V3_0"]))
    });
    assert_error(
        &err,
        "/Channel/Capabilities",
        Unsupported,
        "channel requires capability V3_0 which this orderer does not support",
    );
    let err = refused(SOLO_SYSTEM, |c| {
        set(c, ORDERER, "Capabilities", &caps(&["V2_0", "V3_0"]))
    });
    assert_error(
        &err,
        "/Channel/Orderer/Capabilities",
        Unsupported,
        "orderer requires capability V3_0 which this orderer does not support",
    );
    // Names that exist at another level only are unknown at this one.
    let err = refused(SOLO_SYSTEM, |c| {
        set(c, ORDERER, "Capabilities", &caps(&["V2_5"]))
    });
    assert_error(
        &err,
        "/Channel/Orderer/Capabilities",
        Unsupported,
        "capability V2_5",
    );
}

/// A config made for Fabric 3 is refused for its capability, before anything else
/// in it (here a value Fabric 2.5 does not know) can confuse the reason.
#[test]
fn capabilities_are_checked_before_anything_else() {
    let err = refused(SOLO_SYSTEM, |c| {
        set(c, &[], "Capabilities", &caps(&["V3_0"]));
        set(c, ORDERER, "Orderers", &OrdererAddresses::default());
        set(c, ORDERER, keys::CONSENSUS_TYPE, &consensus("BFT"));
    });
    assert_eq!(err.path, "/Channel/Capabilities");
}

/// Like Fabric's orderer, which checks channel and orderer capabilities only: the
/// application's are the peers' to enforce.
#[test]
fn application_capabilities_are_not_enforced_by_the_orderer() {
    let v = accepted(SOLO_SYSTEM, |c| {
        set(
            c,
            &["Application"],
            "Capabilities",
            &caps(&["V2_5", "V3_0"]),
        )
    });
    assert_eq!(
        v.application().unwrap().capabilities().all().unsupported(),
        ["V3_0"]
    );
}

#[test]
fn every_fabric_2_5_capability_is_accepted() {
    accepted(SOLO_SYSTEM, |c| {
        set(
            c,
            &[],
            "Capabilities",
            &caps(&["V1_1", "V1_3", "V1_4_2", "V1_4_3", "V2_0"]),
        );
        set(
            c,
            ORDERER,
            "Capabilities",
            &caps(&["V1_1", "V1_4_2", "V2_0"]),
        );
        let app = caps(&["V1_1", "V1_2", "V1_3", "V1_4_2", "V2_0", "V2_5"]);
        set(c, &["Application"], "Capabilities", &app);
    });
}

#[test]
fn capabilities_are_enabled_on_the_orderer_first() {
    let err = refused(SOLO_SYSTEM, |c| remove(c, ORDERER, "Capabilities"));
    assert_error(
        &err,
        "/Channel/Capabilities",
        Structure,
        "channel capabilities cannot be enabled before orderer capabilities",
    );
    let err = refused(SOLO_SYSTEM, |c| {
        remove(c, ORDERER, "Capabilities");
        remove(c, &[], "Capabilities");
        let addresses = OrdererAddresses {
            addresses: vec!["osn0:7050".into()],
        };
        set(c, &[], keys::ORDERER_ADDRESSES, &addresses);
    });
    assert_error(
        &err,
        "/Channel/Application/Capabilities",
        Structure,
        "application capabilities cannot be enabled before orderer capabilities",
    );
}

#[test]
fn etcdraft_and_other_consensus_types_are_refused() {
    let path = "/Channel/Orderer/ConsensusType";
    for kind in ["etcdraft", "BFT", "Kafka", "SOLO", " solo", "pbft"] {
        let err = refused(SOLO_SYSTEM, |c| {
            set(c, ORDERER, keys::CONSENSUS_TYPE, &consensus(kind))
        });
        assert_error(
            &err,
            path,
            Unsupported,
            &format!(
                "consensus type {kind:?} is not supported by this orderer (it runs solo and kafka)"
            ),
        );
    }
    let err = refused(SOLO_SYSTEM, |c| {
        set(c, ORDERER, keys::CONSENSUS_TYPE, &consensus(""))
    });
    assert_error(&err, path, Invalid, "empty");
    let err = refused(SOLO_SYSTEM, |c| remove(c, ORDERER, keys::CONSENSUS_TYPE));
    assert_error(&err, path, Structure, "missing");
}

#[test]
fn consensus_state_and_metadata_are_kept() {
    let v = accepted(KAFKA_SYSTEM, |c| {
        let ct = ConsensusType {
            r#type: "kafka".into(),
            metadata: vec![1, 2, 3].into(),
            state: 1,
        };
        set(c, ORDERER, keys::CONSENSUS_TYPE, &ct);
    });
    assert!(v.is_maintenance());
    assert_eq!(
        v.orderer().consensus_type().state,
        ConsensusState::Maintenance
    );
    assert_eq!(&v.orderer().consensus_type().metadata[..], [1, 2, 3]);

    let err = refused(KAFKA_SYSTEM, |c| {
        let ct = ConsensusType {
            r#type: "kafka".into(),
            state: 7,
            ..Default::default()
        };
        set(c, ORDERER, keys::CONSENSUS_TYPE, &ct);
    });
    assert_error(
        &err,
        "/Channel/Orderer/ConsensusType",
        Invalid,
        "unknown state 7",
    );
}

#[test]
fn preferred_over_absolute_is_refused() {
    let err = refused(SOLO_SYSTEM, |c| {
        set(c, ORDERER, keys::BATCH_SIZE, &batch_size(10, 1000, 1001))
    });
    assert_eq!(
        err.to_string(),
        "/Channel/Orderer/BatchSize: PreferredMaxBytes (1001) must not exceed AbsoluteMaxBytes (1000)"
    );
    assert_eq!(err.kind, Invalid);
    // Equal is fine.
    let v = accepted(SOLO_SYSTEM, |c| {
        set(c, ORDERER, keys::BATCH_SIZE, &batch_size(1, 1000, 1000))
    });
    assert_eq!(v.orderer().batch_size().preferred_max_bytes, 1000);
}

#[test]
fn batch_size_limits_must_be_positive() {
    let cases = [
        (
            batch_size(0, 10, 10),
            "MaxMessageCount must be greater than 0",
        ),
        (
            batch_size(1, 0, 10),
            "AbsoluteMaxBytes must be greater than 0",
        ),
        (
            batch_size(1, 10, 0),
            "PreferredMaxBytes must be greater than 0",
        ),
    ];
    for (bs, text) in cases {
        let err = refused(SOLO_SYSTEM, |c| set(c, ORDERER, keys::BATCH_SIZE, &bs));
        assert_error(&err, "/Channel/Orderer/BatchSize", Invalid, text);
    }
    let err = refused(SOLO_SYSTEM, |c| remove(c, ORDERER, keys::BATCH_SIZE));
    assert_error(&err, "/Channel/Orderer/BatchSize", Structure, "missing");
}

#[test]
fn batch_timeout_must_be_a_positive_go_duration() {
    let path = "/Channel/Orderer/BatchTimeout";
    for text in ["0", "0s", "-1s", "", "2", "2 s", " 2s", "1d", "abc"] {
        let err = refused(SOLO_SYSTEM, |c| {
            set(
                c,
                ORDERER,
                keys::BATCH_TIMEOUT,
                &BatchTimeout {
                    timeout: text.into(),
                },
            )
        });
        assert_error(&err, path, Invalid, "");
    }
    for (text, millis) in [("1ms", 1), ("+2s", 2000), ("1m30s", 90_000), ("1.5s", 1500)] {
        let v = accepted(SOLO_SYSTEM, |c| {
            set(
                c,
                ORDERER,
                keys::BATCH_TIMEOUT,
                &BatchTimeout {
                    timeout: text.into(),
                },
            )
        });
        assert_eq!(v.orderer().batch_timeout().as_millis(), millis, "{text}");
    }
}

#[test]
fn kafka_needs_brokers() {
    let path = "/Channel/Orderer/KafkaBrokers";
    let err = refused(KAFKA_SYSTEM, |c| remove(c, ORDERER, keys::KAFKA_BROKERS));
    assert_error(
        &err,
        path,
        Invalid,
        "a kafka channel needs at least one broker address",
    );
    let err = refused(KAFKA_SYSTEM, |c| {
        set(c, ORDERER, keys::KAFKA_BROKERS, &KafkaBrokers::default())
    });
    assert_error(&err, path, Invalid, "at least one broker");
    // Solo does without.
    assert!(parse(SOLO_SYSTEM).orderer().kafka_brokers().is_empty());
}

#[test]
fn broker_without_port_is_refused() {
    let path = "/Channel/Orderer/KafkaBrokers";
    let cases = [
        ("kafka0", "the port is missing"),
        ("kafka0:", "expected a port 1-65535"),
        ("kafka0:99999", "expected a port 1-65535"),
        ("[::1]:9092", "single colon"),
        ("kafka_0:9092", "only letters, digits, dots and hyphens"),
    ];
    for (broker, text) in cases {
        // Checked whatever the consensus type, as Fabric does.
        for fixture in [KAFKA_SYSTEM, SOLO_SYSTEM] {
            let err = refused(fixture, |c| {
                let brokers = KafkaBrokers {
                    brokers: vec!["kafka1:9092".into(), broker.into()],
                };
                set(c, ORDERER, keys::KAFKA_BROKERS, &brokers);
            });
            assert_error(&err, path, Invalid, &format!("broker {broker:?}: "));
            assert!(err.reason.contains(text), "{err}");
        }
    }
}

#[test]
fn channel_restrictions_give_the_channel_limit() {
    let v = accepted(SOLO_SYSTEM, |c| {
        set(
            c,
            ORDERER,
            keys::CHANNEL_RESTRICTIONS,
            &ChannelRestrictions { max_count: 3 },
        )
    });
    assert_eq!(v.orderer().max_channels(), 3);
    let v = accepted(SOLO_SYSTEM, |c| {
        remove(c, ORDERER, keys::CHANNEL_RESTRICTIONS)
    });
    assert_eq!(v.orderer().max_channels(), 0);
}

#[test]
fn malformed_values_are_refused_by_path() {
    let garbage = || raw_value(vec![0xff, 0xff, 0xff]);
    let cases: [(&[&str], &str); 6] = [
        (&[], keys::HASHING_ALGORITHM),
        (&[], "Capabilities"),
        (ORDERER, keys::BATCH_SIZE),
        (ORDERER, keys::CONSENSUS_TYPE),
        (ORDERER, keys::KAFKA_BROKERS),
        (&["Application"], keys::ACLS),
    ];
    for (group_path, key) in cases {
        let err = refused(SOLO_SYSTEM, |c| {
            group(c, group_path).values.insert(key.into(), garbage());
        });
        let mut path = vec!["/Channel"];
        path.extend_from_slice(group_path);
        path.push(key);
        assert_error(&err, &path.join("/"), Malformed, "not a valid");
    }
}
