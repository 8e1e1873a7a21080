//! End to end with the real binaries: `orderer` processes on free ports with
//! temporary ledgers, driven by `orderer-cli`.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Orderer, block_lines, cli, cli_bin, free_port, ok, orderer_bin, stderr, stdout};
use orderer_api::proto::common::{Envelope, HeaderType};
use orderer_cli::deliver::{DeliverRequest, deliver};
use orderer_cli::envelopes::{Position, Signer};
use prost::Message;

/// The sequence numbers `orderer-cli broadcast` put at the start of each envelope's data,
/// in block order.
async fn delivered_sequence(addr: &str, last_block: u64) -> Vec<u64> {
    let mut client = orderer_cli::client::connect(addr).await.unwrap();
    let req = DeliverRequest {
        channel: "mychannel".into(),
        start: Position::Oldest,
        stop: Position::Number(last_block),
        fail_if_not_ready: false,
    };
    let mut seqs = Vec::new();
    deliver(&mut client, &Signer::sample().unwrap(), &req, |block| {
        for raw in block.data.unwrap().data {
            let env = Envelope::decode(raw).unwrap();
            let p = orderer_api::envelope::parse_payload(&env).unwrap();
            if p.header_type() == Some(HeaderType::EndorserTransaction) {
                seqs.push(u64::from_be_bytes(p.data[..8].try_into().unwrap()));
            }
        }
        Ok(())
    })
    .await
    .unwrap();
    seqs
}

#[test]
fn ten_thousand_envelopes_through_the_cli_come_back_in_order_with_a_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    // Blocks cut by count only: with the tests' 200 ms batch timeout, a stall of the
    // client on a loaded machine cut a short block (block 71 with 62 envelopes).
    let orderer = Orderer::start(
        dir.path(),
        &[
            ("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "100"),
            ("ORDERER_ORDERER_BATCHTIMEOUT", "10m"),
        ],
    );
    let out = ok(orderer.cli(&[
        "broadcast",
        "--channel",
        "mychannel",
        "--count",
        "10000",
        "--size",
        "512",
    ]));
    assert!(
        out.contains("acked 10000 of 10000 envelopes (SUCCESS 10000)"),
        "{out}"
    );

    // 10,000 envelopes in blocks of 100: blocks 1..=100 after the genesis block.
    let out = ok(orderer.cli(&[
        "deliver",
        "--channel",
        "mychannel",
        "--seek",
        "oldest",
        "--stop",
        "100",
    ]));
    let lines = block_lines(&out);
    assert_eq!(lines.len(), 101);
    assert!(lines[0].starts_with("block 0: 1 envelopes"));
    assert!(lines[100].starts_with("block 100: 100 envelopes"));
    assert!(
        out.contains(
            "delivered 101 blocks holding 10001 envelopes; hash chain verified; status SUCCESS"
        ),
        "{out}"
    );
    let seqs = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(delivered_sequence(&orderer.addr(), 100));
    assert_eq!(
        seqs,
        (0..10_000).collect::<Vec<_>>(),
        "in order, none missing or duplicated"
    );

    // -2/-1 as in the original client: the newest block alone.
    let out = ok(orderer.cli(&["deliver", "--seek", "-1", "--stop", "-1"]));
    assert_eq!(block_lines(&out).len(), 1);
    assert!(block_lines(&out)[0].starts_with("block 100:"));
}

#[test]
fn a_restart_keeps_the_chain_and_extends_it() {
    let dir = tempfile::tempdir().unwrap();
    // Blocks of exactly 100, cut by count only (see the test above).
    let mut orderer = Orderer::start(
        dir.path(),
        &[
            ("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "100"),
            ("ORDERER_ORDERER_BATCHTIMEOUT", "10m"),
        ],
    );
    ok(orderer.cli(&["broadcast", "--count", "1000"]));
    let before = block_lines(&ok(orderer.cli(&["deliver", "--stop", "10"])));
    assert_eq!(before.len(), 11);

    let status = orderer.terminate();
    assert!(status.success(), "SIGTERM ends with exit 0, got {status}");
    orderer.restart();

    let after = block_lines(&ok(orderer.cli(&["deliver", "--stop", "newest"])));
    assert_eq!(
        after, before,
        "the same blocks, byte for byte (same header hashes)"
    );
    ok(orderer.cli(&["broadcast", "--count", "500"]));
    let out = ok(orderer.cli(&["deliver", "--stop", "15"]));
    let extended = block_lines(&out);
    assert_eq!(extended.len(), 16);
    assert_eq!(
        extended[..11],
        before[..],
        "the old blocks are the prefix of the new chain"
    );
    assert!(out.contains("hash chain verified"), "{out}");
}

#[test]
fn kill_9_under_load_then_restart_keeps_every_block_it_had() {
    let dir = tempfile::tempdir().unwrap();
    let mut orderer = Orderer::start(
        dir.path(),
        &[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "50")],
    );
    let addr = orderer.addr();

    // Load: a broadcast that runs far longer than this test waits.
    let mut load = Command::new(cli_bin())
        .args([
            "broadcast",
            "--server",
            &addr,
            "--count",
            "10000000",
            "--size",
            "300",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A follower records every block the orderer served before the kill.
    let mut follower = Command::new(cli_bin())
        .args(["deliver", "--server", &addr, "--seek", "oldest", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with("block ") {
            seen.push(line);
        }
        if seen.len() > 40 {
            break;
        }
    }
    orderer.kill9();
    // Blocks the follower had buffered before the connection dropped.
    for line in lines {
        let Ok(line) = line else { break };
        if line.starts_with("block ") {
            seen.push(line);
        }
    }
    let _ = follower.wait();
    let _ = load.kill();
    let _ = load.wait();
    assert!(seen.len() > 40);

    orderer.restart();
    let out = ok(orderer.cli(&["deliver", "--seek", "oldest", "--stop", "newest"]));
    assert!(out.contains("hash chain verified; status SUCCESS"), "{out}");
    let recovered = block_lines(&out);
    assert!(
        recovered.len() >= seen.len(),
        "no block that was served is lost"
    );
    assert_eq!(
        recovered[..seen.len()],
        seen[..],
        "every block served before the kill is intact"
    );
    // And the recovered chain takes new envelopes.
    ok(orderer.cli(&["broadcast", "--count", "50"]));
}

#[test]
fn bad_configuration_stops_the_start_with_the_key_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let mut cmd = Command::new(orderer_bin());
        cmd.args(args)
            .env("ORDERER_FILELEDGER_LOCATION", dir.path())
            .env("ORDERER_GENERAL_LISTENPORT", free_port().to_string());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[("ORDERER_ORDERER_BATCHTIMEOUT", "2x")], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("Orderer.BatchTimeout") && err.contains("ORDERER_ORDERER_BATCHTIMEOUT"),
        "{err}"
    );
    assert!(err.contains("expected a duration"), "{err}");

    let out = run(&[], &["--config", "/nonexistent/orderer.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/orderer.yaml"));

    let yaml = dir.path().join("orderer.yaml");
    std::fs::write(
        &yaml,
        "Orderer:\n  OrdererType: raft\nChannels: [mychannel]\n",
    )
    .unwrap();
    let out = run(&[], &["--config", yaml.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("expected one of solo, kafka"),
        "{}",
        stderr(&out)
    );

    // A port already taken: the start fails naming the listen keys.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(&[("ORDERER_GENERAL_LISTENPORT", &port)], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("General.ListenPort"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_cli_reports_an_unreachable_server_and_refusals() {
    let out = cli(&[
        "broadcast",
        "--server",
        &format!("127.0.0.1:{}", free_port()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot connect to the orderer"),
        "{}",
        stderr(&out)
    );

    let dir = tempfile::tempdir().unwrap();
    let orderer = Orderer::start(dir.path(), &[]);
    let out = orderer.cli(&["broadcast", "--channel", "nosuchchannel"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("NOT_FOUND: channel \"nosuchchannel\" does not exist"),
        "{}",
        stdout(&out)
    );
    let out = orderer.cli(&["deliver", "--seek", "5", "--fail-if-not-ready"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("status NOT_FOUND: block 5 is not yet in channel mychannel"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn block_inspect_prints_the_genesis_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let orderer = Orderer::start(
        dir.path(),
        &[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "10")],
    );
    let out = ok(orderer.cli(&[
        "block",
        "inspect",
        "--channel",
        "mychannel",
        "--number",
        "0",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["header"]["number"], 0);
    assert_eq!(v["data"][0]["channel_header"]["type"], "CONFIG");
    assert_eq!(
        v["data"][0]["config"]["batch_size"]["max_message_count"],
        10
    );
    assert_eq!(v["data"][0]["config"]["orderer_type"], "solo");
}
