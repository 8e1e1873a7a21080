#![allow(clippy::unwrap_used)]

use orderer_api::proto::orderer::{KafkaMessage, KafkaMessageRegular, kafka_message};
use prost::Message;

use super::*;

/// Fabric's default AbsoluteMaxBytes.
const ABM: u64 = 10 * 1024 * 1024;
/// What records of a 10 MiB channel need.
const NEED: u64 = ABM + RECORD_MARGIN;
/// 11 MiB: comfortably enough.
const BIG: &str = "11534336";

fn settings(pairs: &[(&str, &str)]) -> Settings {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
        .collect()
}

/// A broker configured as seed 003 asks.
fn good_broker() -> Settings {
    settings(&[
        ("min.insync.replicas", "2"),
        ("unclean.leader.election.enable", "false"),
        ("log.retention.ms", "-1"),
        ("log.retention.hours", "168"),
        ("log.retention.bytes", "-1"),
        ("log.cleanup.policy", "delete"),
        ("message.max.bytes", BIG),
        ("replica.fetch.max.bytes", BIG),
    ])
}

/// A channel topic on such brokers.
fn good_topic() -> Settings {
    settings(&[
        ("min.insync.replicas", "2"),
        ("unclean.leader.election.enable", "false"),
        ("retention.ms", "-1"),
        ("retention.bytes", "-1"),
        ("cleanup.policy", "delete"),
        ("max.message.bytes", BIG),
    ])
}

/// Seed 003's minimum cluster: 4 brokers, RF 3, M 2; with the channel's topic or
/// without (the node's check).
fn seed_cluster(with_topic: bool) -> ClusterFacts {
    ClusterFacts {
        brokers: vec![4, 1, 3, 2],
        down: vec![],
        broker_configs: (1..=4).map(|id| (id, Ok(good_broker()))).collect(),
        topic: with_topic.then(|| TopicFacts {
            name: "mychannel".into(),
            replication_factor: 3,
            config: Ok(good_topic()),
        }),
    }
}

fn req() -> Requirements {
    Requirements {
        replication_factor: 3,
        absolute_max_bytes: ABM,
    }
}

fn set(s: &mut Result<Settings, Unreadable>, key: &str, value: Option<&str>) {
    if let Ok(s) = s {
        s.insert(key.to_owned(), value.map(str::to_owned));
    }
}

fn broker_mut(facts: &mut ClusterFacts, id: i32) -> &mut Result<Settings, Unreadable> {
    facts.broker_configs.get_mut(&id).unwrap()
}

fn topic_mut(facts: &mut ClusterFacts) -> &mut Result<Settings, Unreadable> {
    &mut facts.topic.as_mut().unwrap().config
}

#[test]
fn seed_003s_cluster_breaks_no_rule() {
    for with_topic in [false, true] {
        let f = check(&seed_cluster(with_topic), &req());
        assert_eq!(f, Findings::default(), "with topic: {with_topic}");
    }
}

/// One broker setting off, in the node's check: exactly one violation, naming the
/// broker, the setting, its value and the rule.
#[test]
fn each_broken_broker_setting_is_named() {
    let need = NEED.to_string();
    let cases: &[(&str, &str, Rule, &str)] = &[
        (
            "min.insync.replicas",
            "1",
            Rule::MinInsyncReplicas,
            "1 < min.insync.replicas < Kafka.Topic.ReplicationFactor = 3",
        ),
        (
            "min.insync.replicas",
            "3",
            Rule::MinInsyncReplicas,
            "< Kafka.Topic.ReplicationFactor = 3",
        ),
        ("min.insync.replicas", "0", Rule::MinInsyncReplicas, "1 <"),
        (
            "unclean.leader.election.enable",
            "true",
            Rule::UncleanLeaderElection,
            "expected false;",
        ),
        (
            "unclean.leader.election.enable",
            "TRUE",
            Rule::UncleanLeaderElection,
            "expected false;",
        ),
        (
            "log.retention.ms",
            "604800000",
            Rule::Retention,
            "-1 (unlimited)",
        ),
        ("log.retention.ms", "0", Rule::Retention, "-1 (unlimited)"),
        (
            "log.retention.bytes",
            "1073741824",
            Rule::Retention,
            "-1 (unlimited)",
        ),
        ("log.cleanup.policy", "compact", Rule::Retention, "delete"),
        (
            "log.cleanup.policy",
            "delete,compact",
            Rule::Retention,
            "delete",
        ),
        ("message.max.bytes", "1048588", Rule::MessageSize, &need),
        (
            "replica.fetch.max.bytes",
            "1048576",
            Rule::MessageSize,
            &need,
        ),
        ("replica.fetch.max.bytes", "-1", Rule::MessageSize, &need),
    ];
    for (key, value, rule, expected) in cases {
        let mut facts = seed_cluster(false);
        set(broker_mut(&mut facts, 2), key, Some(value));
        let f = check(&facts, &req());
        assert!(f.unchecked.is_empty(), "{key}={value}: {:?}", f.unchecked);
        let [v] = f.violations.as_slice() else {
            panic!(
                "{key}={value}: expected one violation, got {:?}",
                f.violations
            );
        };
        assert_eq!(
            (v.rule, &v.resource, v.setting.as_str(), v.value.as_str()),
            (*rule, &Resource::Broker(2), *key, *value),
        );
        let text = v.to_string();
        for needle in ["broker 2: ", key, value, rule.label(), expected, rule.why()] {
            assert!(text.contains(needle), "{needle:?} not in {text:?}");
        }
        assert_eq!(f.count(*rule), 1);
    }
}

/// One topic setting off, in a channel's check.
#[test]
fn each_broken_topic_setting_is_named() {
    let cases: &[(&str, &str, Rule, &str)] = &[
        (
            "min.insync.replicas",
            "1",
            Rule::MinInsyncReplicas,
            "1 < min.insync.replicas < the topic's replication factor = 3",
        ),
        ("min.insync.replicas", "3", Rule::MinInsyncReplicas, "= 3"),
        (
            "unclean.leader.election.enable",
            "true",
            Rule::UncleanLeaderElection,
            "false",
        ),
        ("retention.ms", "604800000", Rule::Retention, "-1"),
        ("retention.bytes", "0", Rule::Retention, "-1"),
        ("cleanup.policy", "compact", Rule::Retention, "key \"0\""),
        (
            "max.message.bytes",
            "1048588",
            Rule::MessageSize,
            "AbsoluteMaxBytes 10485760 + 1024",
        ),
    ];
    for (key, value, rule, expected) in cases {
        let mut facts = seed_cluster(true);
        set(topic_mut(&mut facts), key, Some(value));
        let f = check(&facts, &req());
        let [v] = f.violations.as_slice() else {
            panic!(
                "{key}={value}: expected one violation, got {:?}",
                f.violations
            );
        };
        assert_eq!(
            (v.rule, &v.resource, v.setting.as_str(), v.value.as_str()),
            (*rule, &Resource::Topic("mychannel".into()), *key, *value),
        );
        let text = v.to_string();
        assert!(text.starts_with("topic mychannel: "), "{text}");
        assert!(text.contains(expected), "{expected:?} not in {text:?}");
    }
}

/// A channel's check judges the topic by its own settings: the brokers' defaults
/// for new topics are the node's check's business, so they are not reported twice.
#[test]
fn a_channels_check_reads_topic_settings_not_broker_defaults() {
    let mut facts = seed_cluster(true);
    for key in [
        "min.insync.replicas",
        "unclean.leader.election.enable",
        "log.retention.ms",
        "message.max.bytes",
    ] {
        set(broker_mut(&mut facts, 1), key, Some("1"));
    }
    assert_eq!(check(&facts, &req()), Findings::default());
    // replica.fetch.max.bytes is the brokers' own: checked in both.
    set(
        broker_mut(&mut facts, 3),
        "replica.fetch.max.bytes",
        Some("1048576"),
    );
    let f = check(&facts, &req());
    assert_eq!(f.violations.len(), 1, "{:?}", f.violations);
    assert_eq!(f.violations[0].resource, Resource::Broker(3));
}

#[test]
fn values_at_the_edges() {
    // (replication factor, min.insync.replicas, breaks the rule)
    let cases = [
        (3, "2", false),
        (5, "4", false),
        (5, "2", false),
        (5, "5", true),
        (2, "2", true),
        (2, "1", true),
        (1, "1", true),
    ];
    for (rf, m, broken) in cases {
        let mut facts = seed_cluster(true);
        facts.brokers = (1..=rf + 1).collect();
        facts.broker_configs = facts
            .brokers
            .iter()
            .map(|id| (*id, Ok(good_broker())))
            .collect();
        let requirements = Requirements {
            replication_factor: rf as u16,
            ..req()
        };
        let topic = facts.topic.as_mut().unwrap();
        topic.replication_factor = rf as usize;
        set(&mut topic.config, "min.insync.replicas", Some(m));
        let f = check(&facts, &requirements);
        assert_eq!(
            f.count(Rule::MinInsyncReplicas) == 1,
            broken,
            "rf {rf} M {m}: {f:?}"
        );
        assert_eq!(
            f.violations.len(),
            usize::from(broken),
            "rf {rf} M {m}: {f:?}"
        );
        if rf < 3 {
            assert!(f.violations[0].expected.contains("at least 3"), "{f:?}");
        }
    }
    // Message size: exactly what records need passes, one byte less does not.
    for (value, broken) in [(NEED, false), (NEED - 1, true)] {
        let mut facts = seed_cluster(true);
        set(
            topic_mut(&mut facts),
            "max.message.bytes",
            Some(&value.to_string()),
        );
        assert_eq!(
            check(&facts, &req()).count(Rule::MessageSize) == 1,
            broken,
            "{value}"
        );
    }
}

/// Kafka reads log.retention.ms, else .minutes, else .hours; the violation names
/// the one in force.
#[test]
fn broker_time_retention_as_kafka_reads_it() {
    // (ms, minutes, hours) -> the violating key, if any
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let cases: &[Case<'_>] = &[
        (None, None, Some("168"), Some("log.retention.hours")),
        (None, None, Some("-1"), None),
        (None, Some("-1"), Some("168"), None),
        (None, Some("60"), Some("-1"), Some("log.retention.minutes")),
        (Some("-1"), Some("60"), Some("168"), None),
        (Some("1000"), None, Some("-1"), Some("log.retention.ms")),
    ];
    for (ms, minutes, hours, violating) in cases {
        let mut facts = seed_cluster(false);
        let b = broker_mut(&mut facts, 1);
        set(b, "log.retention.ms", *ms);
        set(b, "log.retention.minutes", *minutes);
        set(b, "log.retention.hours", *hours);
        let f = check(&facts, &req());
        assert!(f.unchecked.is_empty(), "{f:?}");
        let found: Vec<&str> = f.violations.iter().map(|v| v.setting.as_str()).collect();
        assert_eq!(
            found,
            violating.iter().copied().collect::<Vec<_>>(),
            "{ms:?} {minutes:?} {hours:?}"
        );
    }
}

#[test]
fn brokers_and_replicas() {
    // Seed 003's K >= N + 1: three brokers for RF 3 are one too few.
    let mut facts = seed_cluster(true);
    facts.brokers = vec![3, 1, 2];
    facts.broker_configs.remove(&4);
    let f = check(&facts, &req());
    let [v] = f.violations.as_slice() else {
        panic!("{f:?}");
    };
    assert_eq!(v.rule, Rule::BrokerCount);
    assert_eq!(
        v.to_string(),
        format!(
            "Kafka cluster: brokers = 3 [1, 2, 3] breaks the Kafka cluster rule broker_count: expected at least replication factor + 1 = 4; {}",
            Rule::BrokerCount.why()
        )
    );

    // A broker down is not a cluster too small: it still counts (seed 003's
    // promise is that one broker down changes nothing), and is named as down.
    facts.down = vec![4, 2];
    assert_eq!(check(&facts, &req()), Findings::default());
    facts.brokers = vec![1, 2];
    facts.down = vec![3];
    let f = check(&facts, &req());
    assert_eq!(f.violations.len(), 1, "{f:?}");
    assert_eq!(f.violations[0].value, "3 [1, 2, 3 (down)]");

    // A topic created with fewer replicas than Kafka.Topic.ReplicationFactor.
    let mut facts = seed_cluster(true);
    let topic = facts.topic.as_mut().unwrap();
    topic.replication_factor = 2;
    set(&mut topic.config, "min.insync.replicas", Some("1"));
    let f = check(&facts, &req());
    let rules: Vec<Rule> = f.violations.iter().map(|v| v.rule).collect();
    assert_eq!(rules, [Rule::ReplicationFactor, Rule::MinInsyncReplicas]);
    assert!(
        f.violations[0]
            .expected
            .contains("Kafka.Topic.ReplicationFactor = 3")
    );

    // A topic with more replicas than configured needs the brokers for them.
    let mut facts = seed_cluster(true);
    facts.topic.as_mut().unwrap().replication_factor = 4;
    set(topic_mut(&mut facts), "min.insync.replicas", Some("2"));
    let f = check(&facts, &req());
    assert_eq!(f.count(Rule::BrokerCount), 1, "{f:?}");
}

/// The integration test's cluster: one broker, unclean election on, M = 1.
#[test]
fn a_single_permissive_broker_is_reported_by_name() {
    let broker = settings(&[
        ("min.insync.replicas", "1"),
        ("unclean.leader.election.enable", "true"),
        ("log.retention.ms", "-1"),
        ("log.retention.bytes", "-1"),
        ("log.cleanup.policy", "delete"),
        ("message.max.bytes", BIG),
        ("replica.fetch.max.bytes", BIG),
    ]);
    let facts = ClusterFacts {
        brokers: vec![1],
        down: vec![],
        broker_configs: [(1, Ok(broker))].into(),
        topic: None,
    };
    let requirements = Requirements {
        replication_factor: 1,
        ..req()
    };
    let f = check(&facts, &requirements);
    let rules: Vec<(Rule, String)> = f
        .violations
        .iter()
        .map(|v| (v.rule, v.setting.clone()))
        .collect();
    assert_eq!(
        rules,
        [
            (Rule::MinInsyncReplicas, "min.insync.replicas".into()),
            (
                Rule::UncleanLeaderElection,
                "unclean.leader.election.enable".into()
            ),
            (Rule::BrokerCount, "brokers".into()),
        ]
    );
}

/// The producer's batches (batch.size, 1 MB) must pass too, however small the
/// channel's envelopes.
#[test]
fn small_channels_need_room_for_a_producer_batch() {
    let requirements = Requirements {
        replication_factor: 3,
        absolute_max_bytes: 100_000,
    };
    assert_eq!(requirements.record_bytes(), BATCH_BYTES as u64);
    let mut facts = seed_cluster(true);
    set(topic_mut(&mut facts), "max.message.bytes", Some("1048588"));
    assert_eq!(check(&facts, &requirements), Findings::default());
    set(topic_mut(&mut facts), "max.message.bytes", Some("500000"));
    let f = check(&facts, &requirements);
    assert_eq!(f.count(Rule::MessageSize), 1);
    assert!(f.violations[0].expected.contains("batch.size"), "{f:?}");
}

/// What cannot be read is unchecked (a warning, never a refusal), and says why.
#[test]
fn unreadable_missing_and_odd_settings_are_unchecked() {
    let mut facts = seed_cluster(true);
    *broker_mut(&mut facts, 1) = Err(Unreadable {
        reason: "Broker: Cluster authorization failed".into(),
        transient: false,
    });
    facts.broker_configs.remove(&4);
    let t = topic_mut(&mut facts);
    if let Ok(s) = t {
        s.remove("retention.bytes");
    }
    set(t, "min.insync.replicas", Some("two"));
    set(t, "unclean.leader.election.enable", None);
    let f = check(&facts, &req());
    assert!(f.violations.is_empty(), "{:?}", f.violations);
    let texts: Vec<(String, bool)> = f
        .unchecked
        .iter()
        .map(|u| (u.to_string(), u.transient))
        .collect();
    assert_eq!(
        texts,
        [
            (
                "topic mychannel: reports min.insync.replicas = \"two\", which this check does not understand".into(),
                false
            ),
            ("topic mychannel: does not report unclean.leader.election.enable".into(), false),
            ("topic mychannel: does not report retention.bytes".into(), false),
            (
                "broker 1: configuration not readable, its rules are unchecked: Broker: Cluster authorization failed".into(),
                false
            ),
            ("broker 4: was not described".into(), true),
        ]
    );
}

/// RECORD_MARGIN bounds what a real record adds to its envelope.
#[test]
fn the_margin_bounds_a_record() {
    // The KafkaMessage's share, with every integer at its widest.
    let payload = vec![7u8; 3 << 20];
    let msg = KafkaMessage {
        r#type: Some(kafka_message::Type::Regular(KafkaMessageRegular {
            payload: payload.clone().into(),
            config_seq: u64::MAX,
            class: -1,
            original_offset: i64::MIN,
        })),
    };
    let wrapping = (msg.encoded_len() - payload.len()) as u64;
    assert!(wrapping <= KAFKA_MESSAGE_WRAPPING, "{wrapping}");
    // A W3C traceparent (version 00) is 55 characters.
    assert_eq!(
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".len(),
        55
    );
}
