//! Channel creation through a system channel with the project's own tools only:
//! organizations from `orderer-cli msp new`, the system channel's block 0 from
//! `orderer-cli genesis --system`, two Kafka OSNs on an Apache Kafka node booted from
//! it, and `orderer-cli channel create` in place of configtxgen and `peer channel
//! create`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{EVENT_TIMEOUT, Orderer, block_lines, cli, ok, stdout};
use orderer_api::channelconfig::ChannelValues;
use orderer_api::proto::common::Block;
use orderer_cli::deliver::fetch_block;
use orderer_cli::envelopes::{Position, Signer};
use orderer_testkit::Broker;
use prost::Message;

const SYSTEM: &str = "syschan";
const CHANNEL: &str = "newchan";

/// `--msp-dir DIR --mspid ID` of an identity made by `msp new`.
struct Identity {
    dir: String,
    id: &'static str,
}

impl Identity {
    fn args(&self) -> [&str; 4] {
        ["--msp-dir", &self.dir, "--mspid", self.id]
    }

    fn signer(&self) -> Signer {
        Signer::load(Path::new(&self.dir), self.id).unwrap()
    }
}

struct Network {
    dir: tempfile::TempDir,
    broker: Broker,
    osns: Vec<Orderer>,
}

impl Network {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn identity(&self, org: &str, name: &str, id: &'static str) -> Identity {
        Identity {
            dir: self
                .path(&format!("{org}/{name}/msp"))
                .to_str()
                .unwrap()
                .to_owned(),
            id,
        }
    }

    fn org1_admin(&self) -> Identity {
        self.identity("Org1", "admin", "Org1MSP")
    }
}

/// Orgs, the system channel block and two OSNs booted from it, both with the
/// system channel's Kafka chain started.
fn network() -> Network {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start();
    for (org, id, identities) in [
        ("OrdererOrg", "OrdererMSP", "orderer0,orderer1,admin"),
        ("Org1", "Org1MSP", "admin,client"),
        ("Org2", "Org2MSP", "admin"),
    ] {
        let out = dir.path().join(org);
        ok(cli(&[
            "msp",
            "new",
            "--out",
            out.to_str().unwrap(),
            "--mspid",
            id,
            "--identities",
            identities,
            "--days",
            "2",
        ]));
    }
    let org = |name: &str, id: &str| {
        format!(
            "{name}:{id}:{}",
            dir.path().join(name).join("msp").display()
        )
    };
    let block = dir.path().join("system.block");
    let written = ok(cli(&[
        "genesis",
        "--system",
        "--channel",
        SYSTEM,
        "--out",
        block.to_str().unwrap(),
        "--orderer-org",
        &org("OrdererOrg", "OrdererMSP"),
        "--org",
        &org("Org1", "Org1MSP"),
        "--org",
        &org("Org2", "Org2MSP"),
        "--consortium",
        "SampleConsortium",
        "--kafka-brokers",
        &broker.bootstrap(),
        "--orderer-addresses",
        "osn0.example.com:7050,osn1.example.com:7050",
        "--batch-timeout",
        "300ms",
        "--max-message-count",
        "10",
    ]));
    assert!(written.contains("system channel syschan"), "{written}");
    // What the OSNs boot from is a system channel: consortiums, no Application.
    let values = ChannelValues::from_block(
        &Block::decode(Bytes::from(std::fs::read(&block).unwrap())).unwrap(),
    )
    .unwrap();
    assert!(values.application().is_none());
    assert!(values.consortiums().is_some());

    let osns = (0..2)
        .map(|i| {
            let osn_dir = dir.path().join(format!("osn{i}"));
            std::fs::create_dir_all(&osn_dir).unwrap();
            let local = dir.path().join(format!("OrdererOrg/orderer{i}/msp"));
            let env = [
                ("ORDERER_GENERAL_BOOTSTRAPMETHOD", "file"),
                ("ORDERER_GENERAL_BOOTSTRAPFILE", block.to_str().unwrap()),
                ("ORDERER_GENERAL_LOCALMSPDIR", local.to_str().unwrap()),
                ("ORDERER_GENERAL_LOCALMSPID", "OrdererMSP"),
                ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "1"),
                ("ORDERER_KAFKA_RETRY_SHORTINTERVAL", "300ms"),
                ("ORDERER_KAFKA_RETRY_NETWORKTIMEOUTS_READTIMEOUT", "2s"),
            ];
            let o = Orderer::start(&osn_dir, &env);
            o.wait_for_log("Kafka chain started", 1);
            o
        })
        .collect();
    Network { dir, broker, osns }
}

/// `orderer-cli channel create` of `channel` in SampleConsortium for Org1 and
/// Org2, through `o`, signed by `who`.
fn create(net: &Network, o: &Orderer, channel: &str, who: &Identity) -> std::process::Output {
    let block = net.path(&format!("{channel}.block"));
    let mut args = vec![
        "channel",
        "create",
        "--channel",
        channel,
        "--consortium",
        "SampleConsortium",
        "--orgs",
        "Org1,Org2",
        "--output-block",
        block.to_str().unwrap(),
        "--timeout",
        "60",
    ];
    args.extend(who.args());
    o.cli(&args)
}

/// The block lines `o` delivers for `channel` as `who`, if it serves them.
fn chain(o: &Orderer, channel: &str, who: &Identity) -> Result<Vec<String>, String> {
    let mut args = vec!["deliver", "--channel", channel, "--stop", "newest"];
    args.extend(who.args());
    let out = o.cli(&args);
    if out.status.success() {
        Ok(block_lines(&stdout(&out)))
    } else {
        Err(stdout(&out))
    }
}

/// Waits until every OSN serves `channel` with the same blocks holding at least
/// `envelopes` envelopes (block 0's config envelope included).
fn wait_for_identical_chains(
    osns: &[Orderer],
    channel: &str,
    who: &Identity,
    envelopes: usize,
) -> Vec<String> {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        let chains: Vec<_> = osns.iter().map(|o| chain(o, channel, who)).collect();
        let count = |c: &[String]| -> usize {
            c.iter()
                .map(|l| {
                    l.split_whitespace()
                        .nth(2)
                        .unwrap()
                        .parse::<usize>()
                        .unwrap()
                })
                .sum()
        };
        match &chains[..] {
            [Ok(first), rest @ ..]
                if rest.iter().all(|c| c.as_ref() == Ok(first)) && count(first) >= envelopes =>
            {
                return first.clone();
            }
            _ => assert!(
                Instant::now() < deadline,
                "{channel}: the OSNs did not converge: {chains:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Block 0 of `channel` as `addr` serves it, once it serves the channel (an OSN
/// other than the one that took the request creates it when it reads the system
/// channel's block).
fn block0(addr: &str, channel: &str, who: &Identity) -> Block {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let deadline = Instant::now() + EVENT_TIMEOUT;
    rt.block_on(async {
        let mut client = orderer_cli::client::connect(addr).await.unwrap();
        loop {
            match fetch_block(&mut client, &who.signer(), channel, Position::Number(0)).await {
                Ok(block) => return block,
                Err(e) if Instant::now() < deadline && format!("{e:#}").contains("NotFound") => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{addr}: block 0 of {channel}: {e:#}"),
            }
        }
    })
}

#[test]
fn a_channel_created_with_the_projects_tools_is_served_by_both_kafka_osns() {
    let mut net = network();
    let admin = net.org1_admin();
    let orderer_admin = net.identity("OrdererOrg", "admin", "OrdererMSP");
    let (a, b) = (&net.osns[0], &net.osns[1]);

    // The channel does not exist before it is created.
    assert!(chain(b, CHANNEL, &admin).unwrap_err().contains("NOT_FOUND"));

    let out = ok(create(&net, a, CHANNEL, &admin));
    assert!(out.starts_with("SUCCESS: created channel newchan"), "{out}");
    let written = std::fs::read(net.path("newchan.block")).unwrap();
    // Both OSNs built the same block 0, the one the command wrote.
    for o in [a, b] {
        let served = block0(&o.addr(), CHANNEL, &admin);
        assert!(
            served.encode_to_vec() == written,
            "OSN {} serves another block 0",
            o.addr()
        );
    }
    let values = ChannelValues::from_block(&Block::decode(Bytes::from(written)).unwrap()).unwrap();
    assert_eq!(values.consortium(), Some("SampleConsortium"));
    let members: Vec<_> = values.application().unwrap().msp_ids().collect();
    assert_eq!(members, ["Org1MSP", "Org2MSP"]);

    // The new channel orders: transactions through either OSN, one chain.
    let mut args = vec!["broadcast", "--channel", CHANNEL, "--count", "15"];
    args.extend(admin.args());
    ok(a.cli(&args));
    let client = net.identity("Org1", "client", "Org1MSP");
    let mut args = vec!["broadcast", "--channel", CHANNEL, "--count", "7"];
    args.extend(client.args());
    ok(b.cli(&args));
    let before = wait_for_identical_chains(&net.osns, CHANNEL, &admin, 23);

    // An admin of an org outside the consortium cannot create a channel.
    let refused = create(&net, a, "otherchan", &orderer_admin);
    assert!(!refused.status.success());
    let text = stdout(&refused);
    assert!(text.starts_with("FORBIDDEN"), "{text}");
    assert!(text.contains("ChannelCreationPolicy"), "{text}");

    // The same name again is an update of the existing channel that the
    // channel refuses (its Application group is past version 0).
    let again = create(&net, b, CHANNEL, &admin);
    assert!(!again.status.success());
    let text = stdout(&again);
    assert!(text.starts_with("BAD_REQUEST"), "{text}");

    // Restarted, both OSNs still serve the created channel, and it still orders.
    for o in &mut net.osns {
        assert!(o.terminate().success(), "a graceful stop exits 0");
        o.restart();
    }
    for o in &net.osns {
        o.wait_for_log("Kafka chain started", 4);
    }
    let (a, b) = (&net.osns[0], &net.osns[1]);
    let mut args = vec!["broadcast", "--channel", CHANNEL, "--count", "5"];
    args.extend(admin.args());
    ok(b.cli(&args));
    let after = wait_for_identical_chains(&net.osns, CHANNEL, &admin, 28);
    assert_eq!(after[..before.len()], before[..], "history changed");
    assert!(
        chain(a, "otherchan", &admin)
            .unwrap_err()
            .contains("NOT_FOUND")
    );
    drop(net.broker);
}
