//! A Kafka network booted from a system channel, made with the project's own tools
//! only: organizations from `orderer-cli msp new`, the system channel's block 0 from
//! `orderer-cli genesis --system`, OSNs booted from it, and `orderer-cli channel
//! create` in place of configtxgen and `peer channel create`.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use orderer_api::channelconfig::ChannelValues;
use orderer_api::proto::common::Block;
use orderer_cli::deliver::fetch_block;
use orderer_cli::envelopes::{Position, Signer};
use prost::Message;

use super::common::{EVENT_TIMEOUT, Orderer, block_lines, cli, envelopes_in, ok, stdout};

pub const SYSTEM: &str = "syschan";

/// `--msp-dir DIR --mspid ID` of an identity made by `msp new`.
pub struct Identity {
    pub dir: String,
    pub id: &'static str,
}

impl Identity {
    pub fn args(&self) -> [&str; 4] {
        ["--msp-dir", &self.dir, "--mspid", self.id]
    }

    pub fn signer(&self) -> Signer {
        Signer::load(Path::new(&self.dir), self.id).unwrap()
    }
}

/// How the network is made.
pub struct Spec<'a> {
    /// Seed brokers written into the system channel (`host:port`).
    pub brokers: &'a [String],
    /// OSNs booted from the system channel, `orderer0`...
    pub osns: usize,
    /// More ordering identities made beside theirs, for OSNs started later.
    pub spare_orderers: usize,
    /// `Kafka.Topic.ReplicationFactor` of every OSN.
    pub replication_factor: u32,
}

pub struct Network {
    /// Before `dir`: fields drop in order, and a failing test prints their logs.
    pub osns: Vec<Orderer>,
    pub dir: tempfile::TempDir,
    /// The OSNs' shared settings (`ORDERER_*`), for another one.
    pub kafka_env: Vec<(String, String)>,
}

impl Network {
    /// Orgs, the system channel block and `spec.osns` OSNs booted from it, each with
    /// the system channel's Kafka chain started.
    pub fn start(spec: &Spec<'_>) -> Network {
        let dir = tempfile::tempdir().unwrap();
        let orderers: Vec<String> = (0..spec.osns + spec.spare_orderers)
            .map(|i| format!("orderer{i}"))
            .chain(["admin".to_owned()])
            .collect();
        let orderers = orderers.join(",");
        for (org, id, identities) in [
            ("OrdererOrg", "OrdererMSP", orderers.as_str()),
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
        let addresses: Vec<String> = (0..spec.osns)
            .map(|i| format!("osn{i}.example.com:7050"))
            .collect();
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
            &spec.brokers.join(","),
            "--orderer-addresses",
            &addresses.join(","),
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

        let kafka_env: Vec<(String, String)> = [
            (
                "ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR",
                spec.replication_factor.to_string(),
            ),
            ("ORDERER_KAFKA_RETRY_SHORTINTERVAL", "300ms".to_owned()),
            (
                "ORDERER_KAFKA_RETRY_NETWORKTIMEOUTS_READTIMEOUT",
                "2s".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut net = Network {
            dir,
            osns: Vec::new(),
            kafka_env,
        };
        for i in 0..spec.osns {
            let o = net.start_osn(
                &format!("osn{i}"),
                &format!("orderer{i}"),
                &[
                    ("ORDERER_GENERAL_BOOTSTRAPMETHOD", "file"),
                    ("ORDERER_GENERAL_BOOTSTRAPFILE", block.to_str().unwrap()),
                ],
            );
            o.wait_for_log("Kafka chain started", 1);
            net.osns.push(o);
        }
        net
    }

    /// Starts an OSN in directory `name` as ordering identity `identity`, with the
    /// network's Kafka settings and `env`.
    pub fn start_osn(&self, name: &str, identity: &str, env: &[(&str, &str)]) -> Orderer {
        let osn_dir = self.path(name);
        std::fs::create_dir_all(&osn_dir).unwrap();
        let local = self.path(&format!("OrdererOrg/{identity}/msp"));
        let mut all: Vec<(&str, &str)> = vec![
            ("ORDERER_GENERAL_LOCALMSPDIR", local.to_str().unwrap()),
            ("ORDERER_GENERAL_LOCALMSPID", "OrdererMSP"),
        ];
        all.extend(self.kafka_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        all.extend_from_slice(env);
        Orderer::start(&osn_dir, &all)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn identity(&self, org: &str, name: &str, id: &'static str) -> Identity {
        Identity {
            dir: self
                .path(&format!("{org}/{name}/msp"))
                .to_str()
                .unwrap()
                .to_owned(),
            id,
        }
    }

    pub fn org1_admin(&self) -> Identity {
        self.identity("Org1", "admin", "Org1MSP")
    }

    /// `orderer-cli channel create` of `channel` in SampleConsortium for Org1 and
    /// Org2, through `o`, signed by `who`; block 0 goes to `CHANNEL.block` in the
    /// network's directory.
    pub fn create(&self, o: &Orderer, channel: &str, who: &Identity) -> std::process::Output {
        let block = self.block_file(channel);
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

    /// Where [`Network::create`] writes `channel`'s block 0.
    pub fn block_file(&self, channel: &str) -> PathBuf {
        self.path(&format!("{channel}.block"))
    }
}

/// The block lines `o` delivers for `channel` as `who`, if it serves them.
pub fn chain(o: &Orderer, channel: &str, who: &Identity) -> Result<Vec<String>, String> {
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
pub fn wait_for_identical_chains(
    osns: &[&Orderer],
    channel: &str,
    who: &Identity,
    envelopes: usize,
) -> Vec<String> {
    let mut args = vec!["--channel", channel];
    args.extend(who.args());
    super::common::wait_for_identical_chains(osns, &args, |blocks| {
        let held: usize = blocks.iter().map(|b| envelopes_in(b)).sum();
        if held >= envelopes {
            Ok(())
        } else {
            Err(format!("{held} of {envelopes} envelopes"))
        }
    })
}

/// Block 0 of `channel` as `addr` serves it, once it serves the channel (an OSN
/// other than the one that took the request creates it when it reads the system
/// channel's block, then starts its chain: NOT_FOUND, then SERVICE_UNAVAILABLE).
pub fn block0(addr: &str, channel: &str, who: &Identity) -> Block {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let deadline = Instant::now() + EVENT_TIMEOUT;
    rt.block_on(async {
        let mut client = orderer_cli::client::connect(addr).await.unwrap();
        loop {
            match fetch_block(&mut client, &who.signer(), channel, Position::Number(0)).await {
                Ok(block) => return block,
                Err(e)
                    if Instant::now() < deadline
                        && ["NotFound", "ServiceUnavailable"]
                            .iter()
                            .any(|s| format!("{e:#}").contains(s)) =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{addr}: block 0 of {channel}: {e:#}"),
            }
        }
    })
}
