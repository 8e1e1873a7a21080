//! A Fabric v2.5 Kafka OSN (`$FABRIC_BIN/orderer`) and one of ours on one Apache Kafka
//! broker, both booted from the same configtxgen system-channel block: the migration
//! path of a Fabric Kafka network, node by node. Clients broadcast to both; every
//! block, on the system channel and on an application channel created with `peer
//! channel create` through the Fabric OSN, has the same header hash on both nodes,
//! blocks cut by time-to-cut and config updates (one validated by each node)
//! included. Then the Fabric OSN stops and a fresh OSN of ours starts on the same
//! genesis block: it replays both topics (records Fabric wrote among them) to the
//! same chains, and the network goes on without Fabric.
//!
//! Needs `FABRIC_BIN` (Fabric's `bin/`, with its sample `config/` beside it, see
//! ../shared/fabric); without it the test prints one line and passes.

#![allow(clippy::unwrap_used)]
// Test scenarios read top to bottom; the length limit is for production code.
#![allow(clippy::too_many_lines)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::fabric::{Configtx, Fabric, KAFKA_ENV, Msp, boot_from_file, fabric, msp, new_org};
use common::{
    EVENT_TIMEOUT, envelopes_in, exactly_envelopes, free_port, ok, wait_for_identical_chains_at,
};
use orderer_testkit::Broker;

const SYSTEM_CHANNEL: &str = "syschan";
const CHANNEL: &str = "appchannel";

/// Fabric's `orderer` on the system channel block, killed when dropped.
struct FabricOsn {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
}

impl FabricOsn {
    /// Starts Fabric's orderer with its sample orderer.yaml and env overrides in the
    /// way its documentation deploys a Kafka OSN, and waits until its system
    /// channel's Kafka chain has started.
    fn start(fabric: &Fabric, dir: &Path, genesis: &Path, local: Msp<'_>, port: u16) -> FabricOsn {
        std::fs::create_dir_all(dir).unwrap();
        let log = dir.join("fabric-orderer.log");
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = fabric.command("orderer", &fabric.config);
        let path = |p: &Path| p.to_str().unwrap().to_owned();
        let local_addr = |port: u16| format!("127.0.0.1:{port}");
        let env = [
            ("ORDERER_GENERAL_LISTENADDRESS", "127.0.0.1".to_owned()),
            ("ORDERER_GENERAL_LISTENPORT", port.to_string()),
            ("ORDERER_GENERAL_BOOTSTRAPMETHOD", "file".to_owned()),
            ("ORDERER_GENERAL_BOOTSTRAPFILE", path(genesis)),
            ("ORDERER_GENERAL_LOCALMSPDIR", path(local.dir)),
            ("ORDERER_GENERAL_LOCALMSPID", local.id.to_owned()),
            ("ORDERER_FILELEDGER_LOCATION", path(&dir.join("ledger"))),
            ("ORDERER_CONSENSUS_WALDIR", path(&dir.join("wal"))),
            ("ORDERER_CONSENSUS_SNAPDIR", path(&dir.join("snap"))),
            ("ORDERER_OPERATIONS_LISTENADDRESS", local_addr(free_port())),
            ("ORDERER_ADMIN_LISTENADDRESS", local_addr(free_port())),
            ("ORDERER_CHANNELPARTICIPATION_ENABLED", "false".to_owned()),
            // sarama's default protocol version (0.10.2.0) hangs on tansu.
            ("ORDERER_KAFKA_VERSION", "2.0.0".to_owned()),
            ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "1".to_owned()),
            ("ORDERER_KAFKA_RETRY_SHORTINTERVAL", "1s".to_owned()),
            ("FABRIC_LOGGING_SPEC", "info".to_owned()),
        ];
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = cmd
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let osn = FabricOsn {
            child: Some(child),
            port,
            log,
        };
        osn.wait_for_log(
            &format!("[channel: {SYSTEM_CHANNEL}] Start phase completed successfully"),
            1,
        );
        osn
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for_log(&self, needle: &str, times: usize) {
        let deadline = Instant::now() + EVENT_TIMEOUT;
        while self.log_text().matches(needle).count() < times {
            assert!(
                Instant::now() < deadline,
                "Fabric's orderer log never showed {needle:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The log lines Fabric's orderer logs at ERROR, WARN... that say its Kafka chain
    /// or block writer went wrong (a panic, a chain that exited, a refused block).
    fn failures(&self) -> Vec<String> {
        const BAD: [&str; 5] = [
            "panic",
            "Consenter for channel exiting",
            "larger time-to-cut",
            "no pending requests though",
            "Could not append block",
        ];
        self.log_text()
            .lines()
            .filter(|l| BAD.iter().any(|b| l.contains(b)))
            .map(str::to_owned)
            .collect()
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for FabricOsn {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!(
                "--- last lines of Fabric's orderer log ---\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        self.stop();
    }
}

/// The total number of envelopes in `orderer-cli deliver`'s block lines.
fn envelopes(blocks: &[String]) -> usize {
    blocks.iter().map(|b| envelopes_in(b)).sum()
}

/// Waits until the OSNs at `addrs` hold identical chains of `channel` holding exactly
/// `count` envelopes (block 0's and config updates' included), read as `reader`; the
/// block lines. More fails at once.
fn identical(addrs: &[String], channel: &str, reader: Msp<'_>, count: usize) -> Vec<String> {
    let mut args = vec!["--channel", channel];
    args.extend(reader.cli_args());
    wait_for_identical_chains_at(addrs, &args, |blocks| {
        exactly_envelopes(envelopes(blocks), count, blocks)
    })
}

/// `orderer-cli chain-check` of `channel` on the OSNs at `addrs`, read as `reader`:
/// the blocks are identical, header hashes and the metadata they do not cover (each
/// block's Kafka offset and LAST_CONFIG), and every block after block 0 records its
/// Kafka offset.
fn same_blocks_and_metadata(addrs: &[String], channel: &str, reader: Msp<'_>, blocks: usize) {
    let mut args = vec![
        "chain-check",
        "--channel",
        channel,
        "--json",
        "--wait",
        "60",
    ];
    args.extend(reader.cli_args());
    for a in addrs {
        args.extend(["--server", a.as_str()]);
    }
    let out = ok(common::cli(&args));
    let json: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(json["identical"], true, "{out}");
    assert_eq!(json["blocks_with_kafka_offset"], blocks as u64 - 1, "{out}");
}

/// Broadcasts `count` envelopes to `addr` as `who`, all to be acknowledged.
fn broadcast(addr: &str, who: Msp<'_>, count: usize) {
    let n = count.to_string();
    let mut args = vec!["broadcast", "--channel", CHANNEL, "--count", &n];
    args.extend(who.cli_args());
    args.extend(["--server", addr]);
    let out = ok(common::cli(&args));
    assert!(out.contains(&format!("acked {n} of {n}")), "{out}");
}

/// `orderer-cli channel update` of `appchannel`'s MaxMessageCount at `addr`, as the
/// orderer organization's admin.
fn set_max_message_count(addr: &str, admin: Msp<'_>, count: u32) {
    let n = count.to_string();
    let mut args = vec!["channel", "update", "--channel", CHANNEL];
    args.extend(["--max-message-count", &n]);
    args.extend(admin.cli_args());
    args.extend(["--server", addr]);
    let out = common::cli(&args);
    assert!(
        out.status.success(),
        "the BatchSize update to {count} at {addr} was refused:\n{}{}",
        common::stdout(&out),
        common::stderr(&out)
    );
}

#[test]
fn a_fabric_kafka_osn_and_ours_cut_identical_chains_and_ours_takes_over() {
    let Some(fabric) = fabric() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let orderer_org = new_org(
        dir,
        "ordererorg",
        "OrdererMSP",
        "orderer1,orderer2,orderer3,admin",
    );
    let org1 = new_org(dir, "org1", "Org1MSP", "admin");
    let broker = Broker::start();

    let (fabric_port, our_port) = (free_port(), free_port());
    let cfg = dir.join("configtx");
    std::fs::create_dir_all(&cfg).unwrap();
    // The batch timeout is short so that time-to-cut blocks come quickly;
    // MaxMessageCount 10 so that count-cut blocks come too.
    let configtx = Configtx {
        orderer_org: &orderer_org.join("msp"),
        orgs: &[("Org1", &org1.join("msp"))],
        addresses: &[
            format!("127.0.0.1:{fabric_port}"),
            format!("127.0.0.1:{our_port}"),
        ],
        brokers: &[broker.bootstrap()],
        batch_timeout: "1s",
    };
    std::fs::write(cfg.join("configtx.yaml"), configtx.yaml()).unwrap();
    let genesis = dir.join("syschan.block");
    fabric.configtxgen(&cfg, "SystemChannel", SYSTEM_CHANNEL, &genesis);
    let tx = dir.join("appchannel.tx");
    let mut cmd = fabric.command("configtxgen", &cfg);
    cmd.args(["-profile", "AppChannel", "-channelID", CHANNEL]);
    cmd.args(["-outputCreateChannelTx", tx.to_str().unwrap()]);
    common::fabric::run(cmd, "configtxgen -outputCreateChannelTx");

    let orderer_admin_dir = orderer_org.join("admin/msp");
    let orderer_admin = msp(&orderer_admin_dir, "OrdererMSP");
    let org1_admin_dir = org1.join("admin/msp");
    let org1_admin = msp(&org1_admin_dir, "Org1MSP");
    let local = |name: &str| orderer_org.join(name).join("msp");

    // Ours first: its CONNECT, carrying the genesis configuration, is the
    // partition's first record, which the Fabric OSN must read unharmed.
    let our_dir = dir.join("ours");
    std::fs::create_dir_all(&our_dir).unwrap();
    let port = our_port.to_string();
    // A topic shared with Fabric's OSNs: no duplicate window (Fabric orders every record).
    let mut env = vec![
        ("ORDERER_GENERAL_LISTENPORT", port.as_str()),
        ("ORDERER_KAFKA_DEDUPEWINDOW", "0"),
    ];
    env.extend(KAFKA_ENV);
    let (local1, local2, local3) = (local("orderer1"), local("orderer2"), local("orderer3"));
    let ours = boot_from_file(&our_dir, &genesis, msp(&local1, "OrdererMSP"), &env);
    ours.wait_for_log("Kafka chain started", 1);
    let mut theirs = FabricOsn::start(
        &fabric,
        &dir.join("fabric"),
        &genesis,
        msp(&local2, "OrdererMSP"),
        fabric_port,
    );
    let both = [theirs.addr(), ours.addr()];

    // The application channel, created through the Fabric OSN with Fabric's CLI.
    let block0 = dir.join("appchannel.block");
    let args = [
        "channel",
        "create",
        "-o",
        &theirs.addr(),
        "-c",
        CHANNEL,
        "-f",
        tx.to_str().unwrap(),
        "--outputBlock",
        block0.to_str().unwrap(),
        "-t",
        "60s",
    ];
    fabric.peer_cli(org1_admin, None, &args);
    let system = identical(&both, SYSTEM_CHANNEL, orderer_admin, 2);
    assert_eq!(
        system.len(),
        2,
        "the system channel: genesis and the creation"
    );

    // Envelopes to both OSNs, in three rounds of sizes that leave a partial batch:
    // blocks cut by count and by time-to-cut.
    broadcast(&theirs.addr(), org1_admin, 2);
    let mut total = 1 + 2;
    let chain = identical(&both, CHANNEL, org1_admin, total);
    assert_eq!(chain.len(), 2, "2 envelopes cut by time: {chain:?}");
    broadcast(&ours.addr(), org1_admin, 13);
    broadcast(&theirs.addr(), org1_admin, 4);
    total += 17;
    let chain = identical(&both, CHANNEL, org1_admin, total);
    let sizes: Vec<usize> = chain.iter().map(|b| envelopes_in(b)).collect();
    assert!(
        sizes.contains(&10) && sizes.iter().skip(2).any(|n| *n < 10),
        "no block cut by count or none by time among {sizes:?}"
    );

    // A BatchSize update validated by the Fabric OSN, one validated by ours: both
    // apply both, and cut by the new counts.
    set_max_message_count(&theirs.addr(), orderer_admin, 3);
    total += 1;
    let before = identical(&both, CHANNEL, org1_admin, total).len();
    broadcast(&ours.addr(), org1_admin, 7);
    total += 7;
    let chain = identical(&both, CHANNEL, org1_admin, total);
    let after: Vec<usize> = chain[before..].iter().map(|b| envelopes_in(b)).collect();
    assert!(
        after.iter().all(|n| *n <= 3) && after.contains(&3),
        "blocks after MaxMessageCount 3: {after:?}"
    );
    set_max_message_count(&ours.addr(), orderer_admin, 5);
    total += 1;
    let before = identical(&both, CHANNEL, org1_admin, total).len();
    broadcast(&theirs.addr(), org1_admin, 6);
    total += 6;
    let chain = identical(&both, CHANNEL, org1_admin, total);
    let after: Vec<usize> = chain[before..].iter().map(|b| envelopes_in(b)).collect();
    assert_eq!(after, vec![5, 1], "blocks after MaxMessageCount 5");
    let system_now = identical(&both, SYSTEM_CHANNEL, orderer_admin, 2);
    same_blocks_and_metadata(&both, CHANNEL, org1_admin, chain.len());
    same_blocks_and_metadata(&both, SYSTEM_CHANNEL, orderer_admin, system_now.len());
    assert!(
        theirs.failures().is_empty(),
        "Fabric's orderer reported failures: {:?}",
        theirs.failures()
    );

    // The Fabric OSN stops; a fresh OSN of ours on the same genesis block replays
    // both topics, records Fabric wrote among them, to the same chains.
    theirs.stop();
    let fresh_dir = dir.join("fresh");
    std::fs::create_dir_all(&fresh_dir).unwrap();
    let mut fresh_env = vec![("ORDERER_KAFKA_DEDUPEWINDOW", "0")];
    fresh_env.extend(KAFKA_ENV);
    let fresh = boot_from_file(&fresh_dir, &genesis, msp(&local3, "OrdererMSP"), &fresh_env);
    let ours_now = [ours.addr(), fresh.addr()];
    let system_after = identical(&ours_now, SYSTEM_CHANNEL, orderer_admin, 2);
    assert_eq!(
        system_after, system,
        "the system channel replayed differently"
    );
    let replayed = identical(&ours_now, CHANNEL, org1_admin, total);
    assert_eq!(
        replayed, chain,
        "the application channel replayed differently"
    );
    broadcast(&fresh.addr(), org1_admin, 2);
    total += 2;
    let going_on = identical(&ours_now, CHANNEL, org1_admin, total);
    assert_eq!(&going_on[..chain.len()], &chain[..]);
    assert_eq!(going_on.len(), chain.len() + 1, "{going_on:?}");
}
