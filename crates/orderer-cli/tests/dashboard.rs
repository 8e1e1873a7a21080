//! The Grafana dashboard and the alert rules in deploy/ query series a real orderer
//! exports: a Kafka orderer on Apache Kafka takes a workload, then every series they select
//! must be in its `/metrics` scrape.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::{Orderer, ok};
use orderer_testkit::{Broker, http};

/// Every series a PromQL expression selects: an identifier followed by `{` or `[`,
/// or the first argument of `label_values(...)`.
fn selected_series(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic() || c == '_') {
        let tail = &rest[start..];
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        let (ident, after) = tail.split_at(len);
        if after.trim_start().starts_with(['{', '[']) {
            out.push(ident.to_owned());
        }
        if ident == "label_values" {
            let arg: String = after
                .trim_start()
                .trim_start_matches('(')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.push(arg);
        }
        rest = after;
    }
    out
}

#[test]
fn the_series_parser_finds_selectors() {
    assert_eq!(
        selected_series(
            "sum by (le) (rate(x_bucket{a=\"b\"}[5m])) - y[1m] + label_values(z, instance)"
        ),
        ["x_bucket", "y", "z"]
    );
}

/// Every PromQL expression of the dashboard (panels and variables) and the alerts.
fn queries() -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy");
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/grafana/orderer-dashboard.json")).unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["query"].as_str().filter(|q| q.contains('(')) {
            exprs.push(q.to_owned());
        }
    }
    let alerts = std::fs::read_to_string(format!("{root}/orderer-alerts.yml")).unwrap();
    exprs.extend(
        alerts
            .lines()
            .filter_map(|l| l.trim().strip_prefix("expr: "))
            .map(str::to_owned),
    );
    exprs
}

#[test]
fn every_series_the_dashboard_and_alerts_query_is_exported_after_a_kafka_workload() {
    let exprs = queries();
    assert!(exprs.len() > 15, "found only {} queries", exprs.len());
    let mut broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let brokers = format!("[{}]", broker.bootstrap());
    let o = Orderer::start(
        dir.path(),
        &[
            ("ORDERER_ORDERER_ORDERERTYPE", "kafka"),
            ("ORDERER_ORDERER_KAFKA_BROKERS", &brokers),
            ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "1"),
            ("ORDERER_KAFKA_RETRY_SHORTINTERVAL", "300ms"),
        ],
    );
    o.wait_for_log("Kafka chain started", 1);
    // Broadcast and Deliver both: the bench follows its envelopes into blocks.
    ok(o.cli(&[
        "bench",
        "--channel",
        "mychannel",
        "--count",
        "300",
        "--size",
        "512",
        "--streams",
        "2",
    ]));
    // And a Deliver request that completes (the bench's follower is cancelled).
    ok(o.cli(&["deliver", "--channel", "mychannel", "--stop", "newest"]));
    let (status, scrape) = http(&o.ops(), "GET", "/metrics", None);
    assert_eq!(status, 200, "{scrape}");
    let exported: BTreeSet<&str> = scrape
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let mut missing = BTreeSet::new();
    for expr in &exprs {
        for series in selected_series(expr) {
            // `up` is Prometheus' own scrape metric.
            if series != "up" && !exported.contains(series.as_str()) {
                missing.insert(format!("{series} (in {expr})"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "queried but not exported after a Kafka workload:\n{}\nexported: {exported:?}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
    broker.kill();
}
