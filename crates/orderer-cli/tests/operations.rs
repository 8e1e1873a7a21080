//! The operations server of a real `orderer` process: exact metrics after a known
//! workload, health, log spec, version.

#![allow(clippy::unwrap_used)]
// Test scenarios read top to bottom; the length limit is for production code.
#![allow(clippy::too_many_lines)]

mod common;

use common::{Orderer, ok};
use orderer_testkit::{http, metric};

fn scrape(o: &Orderer) -> String {
    let (status, body) = http(&o.ops(), "GET", "/metrics", None);
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn metrics_after_a_known_workload_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let o = Orderer::start(
        dir.path(),
        &[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "10")],
    );
    ok(o.cli(&[
        "broadcast",
        "--channel",
        "mychannel",
        "--count",
        "200",
        "--size",
        "300",
    ]));
    let refused = o.cli(&["broadcast", "--channel", "nosuchchannel", "--count", "1"]);
    assert_eq!(refused.status.code(), Some(1));
    // 200 envelopes in blocks of 10: blocks 1..=20 after the genesis block.
    ok(o.cli(&[
        "deliver",
        "--channel",
        "mychannel",
        "--seek",
        "oldest",
        "--stop",
        "20",
    ]));

    // The server records a stream's end after the client has its last answer: wait
    // until the three streams are recorded before reading exact values.
    let svc = ("service", "orderer_AtomicBroadcast");
    let deadline = std::time::Instant::now() + common::EVENT_TIMEOUT;
    let m = loop {
        let m = scrape(&o);
        let broadcasts = [svc, ("method", "Broadcast"), ("code", "OK")];
        let delivers = [svc, ("method", "Deliver"), ("code", "OK")];
        let done = metric(&m, "grpc_server_stream_requests_completed", &broadcasts) == Some(2.0)
            && metric(&m, "grpc_server_stream_requests_completed", &delivers) == Some(1.0);
        if done || std::time::Instant::now() > deadline {
            break m;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let v = |name: &str, labels: &[(&str, &str)]| {
        metric(&m, name, labels).unwrap_or_else(|| panic!("no {name}{labels:?} in\n{m}"))
    };
    let ok_labels = [
        ("channel", "mychannel"),
        ("type", "ENDORSER_TRANSACTION"),
        ("status", "SUCCESS"),
    ];
    assert_eq!(v("broadcast_processed_count", &ok_labels), 200.0);
    assert_eq!(v("broadcast_validate_duration_count", &ok_labels), 200.0);
    assert_eq!(v("broadcast_enqueue_duration_count", &ok_labels), 200.0);
    let unknown = [
        ("channel", "unknown"),
        ("type", "ENDORSER_TRANSACTION"),
        ("status", "NOT_FOUND"),
    ];
    assert_eq!(v("broadcast_processed_count", &unknown), 1.0);
    assert_eq!(v("broadcast_validate_duration_count", &unknown), 1.0);
    assert_eq!(
        metric(&m, "broadcast_enqueue_duration_count", &unknown),
        None,
        "never enqueued"
    );

    let ch = [("channel", "mychannel")];
    assert_eq!(v("ledger_blockchain_height", &ch), 21.0);
    assert_eq!(v("ledger_blockstorage_commit_time_count", &ch), 21.0);
    assert_eq!(v("blockcutter_block_fill_duration_count", &ch), 20.0);

    let d = [
        ("channel", "mychannel"),
        ("filtered", "false"),
        ("data_type", "block"),
    ];
    assert_eq!(v("deliver_streams_opened", &[]), 1.0);
    assert_eq!(v("deliver_streams_closed", &[]), 1.0);
    assert_eq!(v("deliver_requests_received", &d), 1.0);
    assert_eq!(
        v(
            "deliver_requests_completed",
            &[d[0], d[1], d[2], ("success", "true")]
        ),
        1.0
    );
    assert_eq!(v("deliver_blocks_sent", &d), 21.0);

    assert_eq!(
        v(
            "grpc_server_stream_requests_received",
            &[svc, ("method", "Broadcast")]
        ),
        2.0
    );
    assert_eq!(
        v(
            "grpc_server_stream_requests_received",
            &[svc, ("method", "Deliver")]
        ),
        1.0
    );
    assert_eq!(
        v(
            "grpc_server_stream_requests_completed",
            &[svc, ("method", "Broadcast"), ("code", "OK")]
        ),
        2.0
    );
    assert_eq!(
        v(
            "grpc_server_stream_requests_completed",
            &[svc, ("method", "Deliver"), ("code", "OK")]
        ),
        1.0
    );
    assert_eq!(
        v(
            "grpc_server_stream_messages_received",
            &[svc, ("method", "Broadcast")]
        ),
        201.0
    );
    assert_eq!(
        v(
            "grpc_server_stream_messages_sent",
            &[svc, ("method", "Broadcast")]
        ),
        201.0
    );
    assert_eq!(
        v(
            "grpc_server_stream_messages_received",
            &[svc, ("method", "Deliver")]
        ),
        1.0
    );
    // 21 blocks and the final status.
    assert_eq!(
        v(
            "grpc_server_stream_messages_sent",
            &[svc, ("method", "Deliver")]
        ),
        22.0
    );

    assert_eq!(
        v("fabric_version", &[("version", env!("CARGO_PKG_VERSION"))]),
        1.0
    );
    assert!(v("process_resident_memory_bytes", &[]) > 1e6);
    assert!(v("process_open_fds", &[]) > 3.0);
    assert!(v("process_start_time_seconds", &[]) > 1.6e9);
    assert!(metric(&m, "process_cpu_seconds_total", &[]).is_some());
    assert!(m.contains("# HELP broadcast_processed_count The number of transactions processed."));
}

#[test]
fn healthz_logspec_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let o = Orderer::start(dir.path(), &[]);
    let (status, body) = http(&o.ops(), "GET", "/healthz", None);
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "OK");
    assert!(v["time"].as_str().unwrap().ends_with('Z'));

    let (status, body) = http(&o.ops(), "GET", "/logspec", None);
    assert_eq!((status, body.as_str()), (200, r#"{"spec":"info"}"#));
    let (status, _) = http(
        &o.ops(),
        "PUT",
        "/logspec",
        Some(r#"{"spec":"info,orderer_node=debug"}"#),
    );
    assert_eq!(status, 204);
    let (_, body) = http(&o.ops(), "GET", "/logspec", None);
    assert_eq!(body, r#"{"spec":"info,orderer_node=debug"}"#);
    // The new filter is in force at once: debug lines of orderer_node appear.
    let refused = o.cli(&["broadcast", "--channel", "nosuchchannel"]);
    assert_eq!(refused.status.code(), Some(1));
    o.wait_for_log("broadcast envelope rejected", 1);
    let (status, body) = http(&o.ops(), "PUT", "/logspec", Some(r#"{"spec":"info,[[["}"#));
    assert_eq!(status, 400);
    assert!(body.contains("invalid log spec"), "{body}");
    let (status, body) = http(&o.ops(), "PUT", "/logspec", Some("debug"));
    assert_eq!(status, 400);
    assert!(
        body.contains(r#"expected a JSON body like {\"spec\": \"info\"}"#),
        "{body}"
    );

    let (status, body) = http(&o.ops(), "GET", "/version", None);
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Version"], env!("CARGO_PKG_VERSION"));
    assert!(!v["CommitSHA"].as_str().unwrap().is_empty());
    let (status, _) = http(&o.ops(), "POST", "/version", None);
    assert_eq!(status, 405);
    let (status, _) = http(&o.ops(), "GET", "/nothing", None);
    assert_eq!(status, 404);
}
