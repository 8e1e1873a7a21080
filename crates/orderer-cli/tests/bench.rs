//! `orderer-cli bench` and `bench deliver` against a real `orderer` process.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Orderer, ok, stderr};

/// The JSON object `--json` prints as the last line.
fn last_json(out: &str) -> serde_json::Value {
    let last = out.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line is not JSON ({e}):\n{out}"))
}

#[test]
fn bench_sees_every_signed_envelope_acked_and_in_a_block_and_replays_them() {
    let dir = tempfile::tempdir().unwrap();
    let orderer = Orderer::start(
        dir.path(),
        &[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "50")],
    );
    let out = ok(orderer.cli(&[
        "bench",
        "--channel",
        "mychannel",
        "--count",
        "2000",
        "--size",
        "1024",
        "--streams",
        "4",
        "--repeat",
        "2",
        "--json",
    ]));
    let j = last_json(&out);
    assert_eq!(j["signed"], true, "{j}");
    assert_eq!(j["acked"], 4000, "{j}");
    assert_eq!(j["ordered"], 4000, "{j}");
    assert_eq!(j["complete"], true, "{j}");
    // Blocks of 50 (a batch timeout may cut a few smaller ones).
    assert!(j["blocks"].as_u64().unwrap() >= 80, "{j}");
    assert!(j["acked_tps"].as_f64().unwrap() > 0.0, "{j}");
    assert!(j["ordered_tps"].as_f64().unwrap() > 0.0, "{j}");
    for latency in ["ack_latency_ms", "block_latency_ms"] {
        let p = &j[latency];
        let (p50, p99, max) = (
            p["p50"].as_f64().unwrap(),
            p["p99"].as_f64().unwrap(),
            p["max"].as_f64().unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{latency}: {p}");
    }
    // Two rounds of the same 2000 envelopes of at least 1 KB each; an envelope's size
    // may differ from another's by a byte (a DER signature integer can be a byte
    // shorter), so the total is a multiple of the rounds, not of the count.
    let sent = j["bytes_sent"].as_u64().unwrap();
    assert!(sent % 2 == 0 && sent >= 4000 * 1024, "{j}");
    assert!(out.contains("acked:   4000 in"), "{out}");

    // Everything is in the chain: the genesis block's envelope and the 4000.
    let out = ok(orderer.cli(&[
        "bench",
        "deliver",
        "--channel",
        "mychannel",
        "--verify",
        "--json",
    ]));
    let j = last_json(&out);
    assert_eq!(j["envelopes"], 4001, "{j}");
    assert_eq!(j["hash_chain_verified"], true, "{j}");
    assert!(j["mb_per_s"].as_f64().unwrap() > 0.0, "{j}");
}

#[test]
fn bench_says_what_is_wrong_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let orderer = Orderer::start(
        dir.path(),
        &[
            ("ORDERER_ORDERER_BATCHSIZE_ABSOLUTEMAXBYTES", "100 KB"),
            ("ORDERER_ORDERER_BATCHSIZE_PREFERREDMAXBYTES", "100 KB"),
        ],
    );
    let out = orderer.cli(&["bench", "--channel", "nosuch", "--count", "10"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("nosuch") && err.contains("NOT_FOUND"), "{err}");

    // Envelopes over AbsoluteMaxBytes: every one refused, and the report says so.
    let out = orderer.cli(&[
        "bench",
        "--channel",
        "mychannel",
        "--count",
        "20",
        "--size",
        "200000",
        "--timeout",
        "5",
    ]);
    assert!(!out.status.success());
    let text = common::stdout(&out);
    assert!(text.contains("refused: 20 BAD_REQUEST"), "{text}");
    assert!(text.contains("acked:   0"), "{text}");

    // Unsigned requests to an orderer that checks signatures: even the Deliver
    // watcher is refused, before anything is sent.
    let out = orderer.cli(&["bench", "--channel", "mychannel", "--unsigned"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("FORBIDDEN"), "{}", stderr(&out));

    let out = orderer.cli(&["bench", "--count", "0"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--count"), "{}", stderr(&out));
}

#[test]
fn followers_all_receive_the_last_block_of_the_broadcast() {
    let dir = tempfile::tempdir().unwrap();
    let orderer = Orderer::start(
        dir.path(),
        &[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "50")],
    );
    let out = ok(orderer.cli(&[
        "bench",
        "deliver",
        "--channel",
        "mychannel",
        "--followers",
        "20",
        "--count",
        "500",
        "--streams",
        "2",
        "--json",
    ]));
    let j = last_json(&out);
    assert_eq!(j["complete"], true, "{j}");
    assert_eq!(j["ordered"], 500, "{j}");
    assert_eq!(j["caught_up"], 20, "{j}");
    // Each follower starts after the genesis block and sees the run's blocks (of 50,
    // or fewer when the batch timeout cuts one).
    let last = j["last_block"].as_u64().unwrap();
    assert!(last >= 10, "{j}");
    assert_eq!(j["blocks_delivered"].as_u64().unwrap(), 20 * last, "{j}");
    assert!(j["blocks_per_s"].as_f64().unwrap() > 0.0, "{j}");

    // --stop replays a range: it does not go with followers.
    let o = orderer.cli(&[
        "bench",
        "deliver",
        "--channel",
        "mychannel",
        "--followers",
        "2",
        "--stop",
        "3",
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("--stop"), "{err}");
}
