//! Kafka end to end: real `orderer` processes on a real Kafka-protocol broker (Apache Kafka,
//! SQLite storage), driven by `orderer-cli`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    EVENT_TIMEOUT, Orderer, cli_bin, envelopes_in, exactly_envelopes, ok, stdout, wait_for,
};
use orderer_api::proto::common::{Envelope, HeaderType};
use orderer_cli::deliver::{DeliverRequest, deliver};
use orderer_cli::envelopes::{Position, Signer};
use orderer_testkit::{Broker, http};
use prost::Message;

/// `ORDERER_*` settings of a Kafka OSN on `broker`.
fn kafka_env(broker: &Broker, count: &str) -> Vec<(String, String)> {
    [
        ("ORDERER_ORDERER_ORDERERTYPE", "kafka".to_owned()),
        (
            "ORDERER_ORDERER_KAFKA_BROKERS",
            format!("[{}]", broker.bootstrap()),
        ),
        ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "1".to_owned()),
        ("ORDERER_KAFKA_RETRY_SHORTINTERVAL", "300ms".to_owned()),
        (
            "ORDERER_KAFKA_RETRY_NETWORKTIMEOUTS_READTIMEOUT",
            "2s".to_owned(),
        ),
        (
            "ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT",
            count.to_owned(),
        ),
        ("ORDERER_ORDERER_BATCHTIMEOUT", "500ms".to_owned()),
        // Every OSN records the same ordering addresses in block 0 (Fabric's
        // configtx.yaml Orderer.Addresses), so that their blocks 0 are identical.
        (
            "ORDERER_ORDERER_ADDRESSES",
            "[osn0.example.com:7050,osn1.example.com:7050]".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn start_osn(dir: &std::path::Path, env: &[(String, String)]) -> Orderer {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let o = Orderer::start(dir, &env);
    o.wait_for_log("Kafka chain started", 1);
    o
}

/// The tx ids of every endorser transaction in `addr`'s chain, in order.
async fn tx_ids(addr: &str) -> Vec<String> {
    tx_ids_until(addr, Position::Newest).await
}

/// The tx ids of every endorser transaction in `addr`'s chain up to block `stop`.
async fn tx_ids_until(addr: &str, stop: Position) -> Vec<String> {
    let mut client = orderer_cli::client::connect(addr).await.unwrap();
    let req = DeliverRequest {
        channel: "mychannel".into(),
        start: Position::Oldest,
        stop,
        fail_if_not_ready: false,
    };
    let mut ids = Vec::new();
    deliver(&mut client, &Signer::sample().unwrap(), &req, |block| {
        for raw in block.data.unwrap_or_default().data {
            let env = Envelope::decode(raw).unwrap();
            let p = orderer_api::envelope::parse_payload(&env).unwrap();
            if p.header_type() == Some(HeaderType::EndorserTransaction) {
                ids.push(p.channel_header.tx_id);
            }
        }
        Ok(())
    })
    .await
    .unwrap();
    ids
}

/// Waits until every OSN delivers the same blocks (same header hashes), holding
/// exactly `envelopes` transactions (more fails at once), and returns those block
/// lines.
fn wait_for_identical_chains(osns: &[&Orderer], envelopes: usize) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    common::wait_for_identical_chains(osns, &[], |chain| {
        // Counted in exactly the blocks `chain` lists: blocks cut since it was read
        // must not make a shorter chain look complete.
        let last = Position::Number(chain.len().saturating_sub(1) as u64);
        let count = rt.block_on(tx_ids_until(&osns[0].addr(), last)).len();
        exactly_envelopes(count, envelopes, chain)
    })
}

/// The tx ids in an `orderer-cli bench --acked-out` file, one a line.
fn acked_ids(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The number `orderer-cli bench --resend` reports as acked.
fn acked(out: &str) -> usize {
    out.lines()
        .find_map(|l| l.strip_prefix("acked "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no acked count in {out:?}"))
}

#[test]
fn three_osns_hold_identical_chains_and_a_killed_one_catches_up() {
    let broker = Broker::start();
    let env = kafka_env(&broker, "100");
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = start_osn(dirs[0].path(), &env);
    let mut b = start_osn(dirs[1].path(), &env);
    let c = start_osn(dirs[2].path(), &env);

    // 10,000 envelopes across the three OSNs at once, each client writing the tx
    // ids answered SUCCESS. OSN b's client gives up 15 s after b is killed (it
    // resends only to b).
    let files = tempfile::tempdir().unwrap();
    let acked_file = |name: &str| files.path().join(format!("acked-{name}.txt"));
    let load = |o: &Orderer, count: &str, name: &str, deadline: &str| {
        Command::new(cli_bin())
            .args(["bench", "--server", &o.addr(), "--count", count])
            .args(["--size", "300", "--streams", "2", "--resend"])
            .args(["--deadline", deadline, "--acked-out"])
            .arg(acked_file(name))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let la = load(&a, "3334", "a", "120");
    let lb = load(&b, "3333", "b", "15");
    let lc = load(&c, "3333", "c", "120");
    // Kill OSN b mid-load, once it has served some blocks, then restart it.
    b.wait_for_log("ledger opened", 1);
    let rt = tokio::runtime::Runtime::new().unwrap();
    wait_for("OSN b to deliver 1,000 of the 10,000 envelopes", || {
        let n = rt.block_on(tx_ids(&b.addr())).len();
        (n >= 1000).then_some(()).ok_or(format!("{n} delivered"))
    });
    b.kill9();
    let out_a = stdout(&la.wait_with_output().unwrap());
    let out_b = stdout(&lb.wait_with_output().unwrap());
    let out_c = stdout(&lc.wait_with_output().unwrap());
    assert_eq!(acked(&out_a), 3334, "{out_a}");
    assert_eq!(acked(&out_c), 3333, "{out_c}");
    let acked_total = acked(&out_a) + acked(&out_b) + acked(&out_c);
    b.restart();
    b.wait_for_log("Kafka chain started", 2);

    // A client's SUCCESS comes when Kafka holds the record, before it is cut: wait
    // until every acknowledged envelope is in a block on every OSN (the last ones cut
    // by time-to-cut). The partition's last envelopes are the clients' last
    // acknowledged ones: the clients ended with every envelope acknowledged (the
    // resends of b's client went nowhere, b being down), and those of b's that were
    // in flight at the kill reached Kafka long before. So from then on nothing is
    // pending in any OSN's block cutter, and the chain holds its final count.
    let acked_set: BTreeSet<String> = ["a", "b", "c"]
        .iter()
        .flat_map(|name| acked_ids(&acked_file(name)))
        .collect();
    assert_eq!(
        acked_set.len(),
        acked_total,
        "acknowledged tx ids in the files"
    );
    common::wait_for_identical_chains(&[&a, &b, &c], &[], |chain| {
        let present: BTreeSet<String> = rt.block_on(tx_ids(&a.addr())).into_iter().collect();
        let missing = acked_set.difference(&present).count();
        (missing == 0).then_some(()).ok_or(format!(
            "{missing} of {acked_total} acknowledged envelopes not in the {} blocks",
            chain.len()
        ))
    });
    let ids = rt.block_on(tx_ids(&a.addr()));
    let chain = wait_for_identical_chains(&[&a, &b, &c], ids.len());
    // No envelope twice, every acknowledged one present by tx id in every chain
    // (those in flight at the kill may or may not be: their clients got no SUCCESS).
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "an envelope was ordered twice");
    // Every acknowledged envelope, and perhaps some of b's that were in flight at the
    // kill (ordered, but their client got no SUCCESS).
    assert!(
        ids.len() >= acked_total && ids.len() <= 10_000,
        "{} envelopes ordered, {acked_total} acknowledged, 10,000 sent",
        ids.len()
    );
    let mut check = vec!["chain-check".to_owned(), "--json".to_owned()];
    for o in [&a, &b, &c] {
        check.extend(["--server".to_owned(), o.addr()]);
    }
    for name in ["a", "b", "c"] {
        check.push("--acked".to_owned());
        check.push(acked_file(name).display().to_string());
    }
    let check: Vec<&str> = check.iter().map(String::as_str).collect();
    let report = ok(common::cli(&check));
    let json: serde_json::Value = serde_json::from_str(report.lines().last().unwrap()).unwrap();
    assert_eq!(json["acked"], acked_total as u64, "{report}");
    assert_eq!(json["lost"], 0, "{report}");
    assert_eq!(json["duplicates"], 0, "{report}");
    // Blocks of at most MaxMessageCount (100), plus the genesis block.
    assert!(
        chain.len() > ids.len().div_ceil(100),
        "{} blocks for {} envelopes",
        chain.len(),
        ids.len()
    );

    // The load stops below MaxMessageCount: with nothing pending (above), the 37 are
    // cut by time-to-cut, not by count, at the same offset on every OSN. (A slow
    // broadcast may see them cut in more than one block.)
    ok(c.cli(&["broadcast", "--count", "37"]));
    let after = wait_for_identical_chains(&[&a, &b, &c], ids.len() + 37);
    assert_eq!(after[..chain.len()], chain[..], "history changed");
    let cut = &after[chain.len()..];
    assert!(
        cut.iter().all(|l| envelopes_in(l) < 100),
        "the 37 were cut by count, not by time-to-cut: {cut:?}"
    );
    drop(broker);
}

#[test]
fn an_orderer_started_before_its_broker_serves_once_the_broker_appears() {
    let mut broker = Broker::reserved();
    let dir = tempfile::tempdir().unwrap();
    let env = kafka_env(&broker, "10");
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let o = Orderer::start(dir.path(), &env_ref);
    o.wait_for_log("failed; retrying", 1);

    let out = o.cli(&["broadcast", "--count", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("SERVICE_UNAVAILABLE") && text.contains("not ready"),
        "{text}"
    );

    broker.spawn();
    o.wait_for_log("Kafka chain started", 1);
    ok(o.cli(&["broadcast", "--count", "25"]));
    let out = ok(o.cli(&["deliver", "--stop", "3"]));
    assert!(
        out.contains("delivered 4 blocks holding 26 envelopes"),
        "{out}"
    );
}

#[test]
fn while_kafka_is_unreachable_deliver_and_broadcast_say_so_and_recover() {
    let mut broker = Broker::start();
    let dir = tempfile::tempdir().unwrap();
    let env = kafka_env(&broker, "10");
    let o = start_osn(dir.path(), &env);
    ok(o.cli(&["broadcast", "--count", "20"]));
    ok(o.cli(&["deliver", "--stop", "2"]));
    assert_eq!(http(&o.ops(), "GET", "/healthz", None).0, 200);

    broker.kill();
    o.wait_for_log("Kafka chain errored", 1);
    let (status, body) = http(&o.ops(), "GET", "/healthz", None);
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("channel mychannel") && body.contains("Kafka"),
        "{body}"
    );
    let out = o.cli(&["deliver", "--stop", "newest"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("status SERVICE_UNAVAILABLE"),
        "{}",
        stdout(&out)
    );
    let out = o.cli(&["broadcast", "--count", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("SERVICE_UNAVAILABLE"),
        "{}",
        stdout(&out)
    );

    broker.spawn();
    o.wait_for_log("Kafka chain healthy again", 2);
    assert_eq!(http(&o.ops(), "GET", "/healthz", None).0, 200);
    ok(o.cli(&["broadcast", "--count", "10"]));
    let out = ok(o.cli(&["deliver", "--stop", "3"]));
    assert!(out.contains("hash chain verified; status SUCCESS"), "{out}");
}

/// The envelope counts of the blocks `o` serves, genesis and config blocks included.
fn block_sizes(o: &Orderer) -> Vec<usize> {
    common::block_lines(&stdout(&o.cli(&["deliver", "--stop", "newest"])))
        .iter()
        .map(|l| envelopes_in(l))
        .collect()
}

/// `orderer-cli channel update` (the project's own client, signing as the orderer
/// organization's admin) changes BatchSize.MaxMessageCount through OSN a; the config
/// record travels through Kafka, both OSNs write the same config block and cut the
/// following blocks by the new size, with identical chains. An update without the
/// admins' signatures is FORBIDDEN and changes nothing; a restarted OSN keeps the
/// updated configuration.
#[test]
fn a_config_update_through_one_osn_applies_on_both_at_the_same_block() {
    let broker = Broker::start();
    let env = kafka_env(&broker, "10");
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = start_osn(dirs[0].path(), &env);
    let mut b = start_osn(dirs[1].path(), &env);
    ok(a.cli(&["broadcast", "--count", "25"]));
    // Delivered blocks hold cut envelopes only: once the chains deliver all 25 (the
    // last ones cut by time-to-cut), none is pending and the config block is the
    // next one.
    let before = wait_for_identical_chains(&[&a, &b], 25);

    let refused = a.cli(&[
        "channel",
        "update",
        "--max-message-count",
        "3",
        "--no-update-signature",
    ]);
    assert!(!refused.status.success(), "{}", stdout(&refused));
    let out = stdout(&refused);
    assert!(
        out.contains("FORBIDDEN") && out.contains("/Channel/Orderer/BatchSize"),
        "{out}"
    );

    let applied = ok(a.cli(&["channel", "update", "--max-message-count", "3"]));
    assert!(applied.starts_with("SUCCESS"), "{applied}");
    ok(b.cli(&["broadcast", "--count", "7"]));
    let after = wait_for_identical_chains(&[&a, &b], 32);
    assert_eq!(after[..before.len()], before[..], "history changed");
    let sizes = block_sizes(&a);
    let config_at = before.len();
    assert_eq!(
        sizes[config_at], 1,
        "the config block holds one envelope: {sizes:?}"
    );
    assert!(
        sizes[config_at + 1..].iter().all(|n| *n <= 3),
        "blocks after the update exceed 3 envelopes: {sizes:?}"
    );
    assert!(
        sizes[1..config_at].iter().any(|n| *n > 3),
        "blocks before the update were cut by 10: {sizes:?}"
    );

    // Restarted with the same settings (orderer.yaml still says 10), OSN b keeps the
    // ledger's configuration.
    assert!(b.terminate().success(), "a graceful stop exits 0");
    b.restart();
    b.wait_for_log("Kafka chain started", 2);
    ok(b.cli(&["broadcast", "--count", "4"]));
    wait_for_identical_chains(&[&a, &b], 36);
    let sizes = block_sizes(&b);
    assert!(
        sizes[config_at + 1..].iter().all(|n| *n <= 3),
        "after the restart: {sizes:?}"
    );
    drop(broker);
}

/// One chain per channel. Two OSNs on one broker, both generating block 0 from
/// orderer.yaml with `Orderer.Addresses` left at its default (each node's own
/// address): their blocks 0 differ. The first serves the channel; the second must
/// refuse it, naming `Orderer.Addresses` with both values in its log and
/// `/healthz`, and must never serve a block 0 other than the first's (before this
/// check, both served `mychannel` and every block differed). A third OSN that lists
/// the first's address makes the same block 0 and serves the same chain.
#[test]
fn two_osns_whose_generated_blocks_0_differ_never_serve_two_chains() {
    let broker = Broker::start();
    let mut env = kafka_env(&broker, "10");
    env.retain(|(k, _)| k != "ORDERER_ORDERER_ADDRESSES");
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let a = start_osn(dirs[0].path(), &env);
    ok(a.cli(&["broadcast", "--count", "12"]));
    let first = wait_for_identical_chains(&[&a], 12);
    let block0 = first[0].clone();
    assert!(block0.starts_with("block 0:"), "{block0}");

    // Every answer B gives, from its start on, is a refusal or A's block 0.
    let deliver_on = |o: &Orderer| {
        let out = o.cli(&["deliver", "--stop", "newest", "--fail-if-not-ready"]);
        let text = stdout(&out);
        for line in common::block_lines(&text) {
            assert!(
                !line.starts_with("block 0:") || line == block0,
                "OSN {} served another block 0: {line} (the channel's: {block0})",
                o.addr()
            );
        }
        (out.status.success(), text)
    };
    let env_b: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let b = Orderer::start(dirs[1].path(), &env_b);
    let deadline = Instant::now() + EVENT_TIMEOUT;
    while !b.log_text().contains("Kafka chain stopped") {
        let (served, text) = deliver_on(&b);
        assert!(!served, "OSN b served the channel:\n{text}");
        assert!(
            Instant::now() < deadline,
            "OSN b never refused the channel:\n{}",
            b.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let differs = format!(
        "Orderer.Addresses is [{}] here but [{}] on the channel",
        b.addr(),
        a.addr()
    );
    let log = b.log_text();
    assert!(
        log.contains(&differs),
        "{differs:?} not in the log of OSN b:\n{log}"
    );
    assert!(
        !log.contains("Kafka chain started"),
        "OSN b started serving the channel:\n{log}"
    );
    let (status, body) = http(&b.ops(), "GET", "/healthz", None);
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("channel mychannel") && body.contains(&differs),
        "{differs:?} not in /healthz of OSN b: {body}"
    );
    let (served, text) = deliver_on(&b);
    assert!(!served && text.contains("SERVICE_UNAVAILABLE"), "{text}");
    let out = b.cli(&["broadcast", "--count", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("SERVICE_UNAVAILABLE"),
        "{}",
        stdout(&out)
    );

    // The channel goes on at A, alone; B still serves nothing of it.
    ok(a.cli(&["broadcast", "--count", "5"]));
    wait_for_identical_chains(&[&a], 17);
    assert!(!deliver_on(&b).0);

    // Listing A's address makes A's block 0: C serves the same chain.
    let mut env_c = env.clone();
    env_c.push((
        "ORDERER_ORDERER_ADDRESSES".into(),
        format!("[{}]", a.addr()),
    ));
    let c = start_osn(dirs[2].path(), &env_c);
    ok(c.cli(&["broadcast", "--count", "3"]));
    let chain = wait_for_identical_chains(&[&a, &c], 20);
    assert_eq!(chain[0], block0);
    assert!(!deliver_on(&b).0);
    drop(broker);
}
