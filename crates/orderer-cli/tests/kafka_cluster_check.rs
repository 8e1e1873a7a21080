//! The orderer checks the Kafka cluster it is given (issue 19 item 4, seed 003's
//! rules): real `orderer` processes on one Apache Kafka broker configured against
//! the rules, with unclean leader election on and `min.insync.replicas=1`.
//! Without `Kafka.Strict` the violations are reported by name (log, `/healthz`
//! warnings, metrics) and the channel serves; with it the channel refuses.

#![allow(clippy::unwrap_used)]
// Test scenarios read top to bottom; the length limit is for production code.
#![allow(clippy::too_many_lines)]

mod common;

use common::{Orderer, ok, stdout};
use orderer_testkit::{Broker, ClusterSpec, http, metric};

const UNCLEAN: &str =
    "unclean.leader.election.enable = true breaks the Kafka cluster rule unclean_leader_election";
const MIN_ISR: &str = "min.insync.replicas = 1 breaks the Kafka cluster rule min_insync_replicas";

/// `ORDERER_*` settings of a Kafka OSN on `broker`, with `extra`.
fn kafka_env(broker: &Broker, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let bootstrap = format!("[{}]", broker.bootstrap());
    [
        ("ORDERER_ORDERER_ORDERERTYPE", "kafka"),
        ("ORDERER_ORDERER_KAFKA_BROKERS", bootstrap.as_str()),
        ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "1"),
        ("ORDERER_KAFKA_RETRY_SHORTINTERVAL", "300ms"),
        ("ORDERER_KAFKA_RETRY_NETWORKTIMEOUTS_READTIMEOUT", "5s"),
        ("ORDERER_METRICS_PROVIDER", "prometheus"),
        // Both OSNs make the same block 0.
        (
            "ORDERER_ORDERER_ADDRESSES",
            "[osn0.example.com:7050,osn1.example.com:7050]",
        ),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn start(dir: &std::path::Path, env: &[(String, String)]) -> Orderer {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Orderer::start(dir, &env)
}

#[test]
fn a_broker_that_breaks_the_rules_is_reported_by_name_and_refused_in_strict_mode() {
    // The kit's single node is seed 003's except for the replicas it cannot have;
    // here it also elects unclean leaders (min.insync.replicas is 1 already).
    let spec = ClusterSpec::single()
        .with("unclean.leader.election.enable", "true")
        .with("min.insync.replicas", "1");
    let broker = Broker::start_spec(spec);

    // Without Kafka.Strict: reported at start, and the channel serves.
    let dir = tempfile::tempdir().unwrap();
    let lenient = start(dir.path(), &kafka_env(&broker, &[]));
    lenient.wait_for_log("Kafka chain started", 1);
    // The node's check (the broker's own settings) and the channel's (its topic).
    for needle in [
        format!("broker 1: {UNCLEAN}"),
        format!("broker 1: {MIN_ISR}"),
        format!("topic mychannel: {UNCLEAN}"),
        format!("topic mychannel: {MIN_ISR}"),
        "Kafka cluster: brokers = 1 [1] breaks the Kafka cluster rule broker_count".to_owned(),
    ] {
        lenient.wait_for_log(&needle, 1);
        let log = lenient.log_text();
        let line = log.lines().find(|l| l.contains(&needle)).unwrap();
        assert!(line.contains("WARN"), "{line}");
    }
    ok(lenient.cli(&["broadcast", "--count", "5"]));

    let (status, body) = http(&lenient.ops(), "GET", "/healthz", None);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let warnings: Vec<(String, String)> = v["warnings"]
        .as_array()
        .unwrap_or_else(|| panic!("no warnings in {body}"))
        .iter()
        .map(|w| {
            (
                w["component"].as_str().unwrap().to_owned(),
                w["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (component, needle) in [
        ("kafka consenter", format!("broker 1: {UNCLEAN}")),
        ("kafka consenter", format!("broker 1: {MIN_ISR}")),
        ("channel mychannel", format!("topic mychannel: {UNCLEAN}")),
        ("channel mychannel", format!("topic mychannel: {MIN_ISR}")),
    ] {
        assert!(
            warnings
                .iter()
                .any(|(c, r)| c == component && r.starts_with(&needle)),
            "{component}: {needle:?} not in {warnings:#?}"
        );
    }

    // Every setting the rules need was read from the broker.
    assert!(
        !warnings.iter().any(|(_, r)| r.starts_with("not checked")),
        "{warnings:#?}"
    );

    let (status, scrape) = http(&lenient.ops(), "GET", "/metrics", None);
    assert_eq!(status, 200);
    for rule in [
        "unclean_leader_election",
        "min_insync_replicas",
        "broker_count",
    ] {
        assert_eq!(
            metric(
                &scrape,
                "consensus_kafka_cluster_rule_violations",
                &[("rule", rule)]
            ),
            Some(1.0),
            "{rule}"
        );
        assert_eq!(
            metric(
                &scrape,
                "consensus_kafka_channel_rule_violations",
                &[("channel", "mychannel"), ("rule", rule)]
            ),
            Some(1.0),
            "{rule}"
        );
    }
    // The rules the kit's broker keeps are published at 0. (Its record limits,
    // 99 MiB, are above AbsoluteMaxBytes, 10 MB, though not above the 100 MB of
    // General.MaxRecvMsgSize that the orderer's own clients are sized for.)
    for rule in ["retention", "message_size", "replication_factor"] {
        assert_eq!(
            metric(
                &scrape,
                "consensus_kafka_cluster_rule_violations",
                &[("rule", rule)]
            ),
            Some(0.0),
            "{rule}"
        );
        assert_eq!(
            metric(
                &scrape,
                "consensus_kafka_channel_rule_violations",
                &[("channel", "mychannel"), ("rule", rule)]
            ),
            Some(0.0),
            "{rule}"
        );
    }

    // With Kafka.Strict: the channel does not start, and says why.
    let dir = tempfile::tempdir().unwrap();
    let strict = start(
        dir.path(),
        &kafka_env(&broker, &[("ORDERER_KAFKA_STRICT", "true")]),
    );
    strict.wait_for_log("checking the Kafka cluster failed", 1);
    let out = strict.cli(&["broadcast", "--count", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    for needle in [
        "SERVICE_UNAVAILABLE",
        "Kafka.Strict is true",
        UNCLEAN,
        MIN_ISR,
    ] {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
    let (status, body) = http(&strict.ops(), "GET", "/healthz", None);
    assert_eq!(status, 503, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let check = &v["failed_checks"][0];
    assert_eq!(check["component"], "channel mychannel", "{body}");
    let reason = check["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("chain not started: checking the Kafka cluster failed")
            && reason.contains(UNCLEAN)
            && reason.contains("rule broker_count"),
        "{reason}"
    );
    assert!(
        !strict.log_text().contains("Kafka chain started"),
        "the strict OSN started the channel"
    );
}
