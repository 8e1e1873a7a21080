//! Fabric v2.5's own binaries against the real `orderer`: a Fabric peer joins our
//! channel and commits every block we cut; configtxgen's genesis blocks (solo and
//! Kafka) boot the orderer, which serves them byte for byte and enforces their
//! policies, including a channel `Writers` signature policy that requires an admin.
//!
//! Needs `FABRIC_BIN` (Fabric's `bin/`, with its sample `config/` beside it, see
//! ../shared/fabric); without it each test prints one line and passes.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{EVENT_TIMEOUT, Orderer, cli, ok, stdout};
use orderer_api::proto::common::{Block, Envelope, Payload, Status};
use orderer_cli::envelopes::Signer;
use orderer_testkit::{Broker, Storage, free_port};
use prost::Message;

/// Fabric's release: its binaries and its sample configuration directory.
struct Fabric {
    bin: PathBuf,
    /// `core.yaml`, `configtx.yaml`, `msp/`.
    config: PathBuf,
    /// Fabric's SampleOrg MSP: its own CA, not the repository's sampleconfig/msp.
    msp: PathBuf,
}

/// Fabric's release at `FABRIC_BIN`, or `None` (said once) without it.
fn fabric() -> Option<Fabric> {
    let Some(bin) = std::env::var_os("FABRIC_BIN") else {
        println!("skipped: FABRIC_BIN is not set (.ci/run sets it from ../shared/fabric/unpack)");
        return None;
    };
    let bin = PathBuf::from(bin);
    let config = bin.join("../config");
    assert!(
        bin.join("peer").is_file() && config.join("core.yaml").is_file(),
        "FABRIC_BIN={} is not a Fabric release (bin/peer, config/core.yaml)",
        bin.display()
    );
    let msp = config.join("msp");
    Some(Fabric { bin, config, msp })
}

/// A local MSP that a Fabric client or peer runs as, or that orderer-cli signs with.
#[derive(Clone, Copy)]
struct Msp<'a> {
    dir: &'a Path,
    id: &'a str,
}

fn msp<'a>(dir: &'a Path, id: &'a str) -> Msp<'a> {
    Msp { dir, id }
}

impl<'a> Msp<'a> {
    /// orderer-cli's arguments to sign as this identity.
    fn cli_args(self) -> [&'a str; 4] {
        let dir = self.dir.to_str().unwrap();
        ["--msp-dir", dir, "--mspid", self.id]
    }
}

/// The repository's development MSP: orderer-cli's default identity.
fn sample_msp() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sampleconfig/msp")
}

impl Fabric {
    fn fabric_msp(&self) -> Msp<'_> {
        msp(&self.msp, "SampleOrg")
    }

    /// A Fabric tool reading its configuration from `cfg`, and from nothing inherited.
    fn command(&self, tool: &str, cfg: &Path) -> Command {
        let mut cmd = Command::new(self.bin.join(tool));
        let inherited = |key: &String| {
            ["CORE_", "FABRIC_", "CONFIGTX"]
                .iter()
                .any(|p| key.starts_with(p))
        };
        for (key, _) in std::env::vars().filter(|(key, _)| inherited(key)) {
            cmd.env_remove(key);
        }
        cmd.env("FABRIC_CFG_PATH", cfg);
        cmd
    }

    /// The `peer` CLI as `msp`, talking to the peer at `peer` if given.
    fn peer_cli(&self, msp: Msp<'_>, peer: Option<&str>, args: &[&str]) -> String {
        let mut cmd = self.command("peer", &self.config);
        cmd.args(args)
            .env("CORE_PEER_MSPCONFIGPATH", msp.dir)
            .env("CORE_PEER_LOCALMSPID", msp.id);
        if let Some(address) = peer {
            cmd.env("CORE_PEER_ADDRESS", address);
        }
        run(cmd, &format!("peer {}", args.join(" ")))
    }

    /// `peer channel fetch WHICH` from `o`, as `msp`: the block's file and bytes.
    fn fetch(&self, msp: Msp<'_>, o: &Orderer, channel: &str, which: &str) -> (PathBuf, Vec<u8>) {
        let out = o.dir.join(format!("{channel}-{which}.block"));
        let (addr, out_s) = (o.addr(), out.to_str().unwrap());
        self.peer_cli(
            msp,
            None,
            &["channel", "fetch", which, out_s, "-o", &addr, "-c", channel],
        );
        let bytes = std::fs::read(&out).unwrap_or_else(|e| panic!("fetch wrote no {out_s}: {e}"));
        (out, bytes)
    }

    /// `configtxgen -outputBlock` for `profile` of `cfg`/configtx.yaml.
    fn configtxgen(&self, cfg: &Path, profile: &str, channel: &str, out: &Path) -> Vec<u8> {
        let mut cmd = self.command("configtxgen", cfg);
        let (p, c, o) = (profile, channel, out.to_str().unwrap());
        cmd.args(["-profile", p, "-channelID", c, "-outputBlock", o]);
        run(cmd, &format!("configtxgen -profile {profile}"));
        std::fs::read(out).unwrap_or_else(|e| panic!("configtxgen wrote no {o}: {e}"))
    }

    /// configtxlator's JSON of a marshalled block; it must decode it.
    fn proto_decode_block(&self, path: &Path) -> serde_json::Value {
        let mut cmd = self.command("configtxlator", &self.config);
        let input = path.to_str().unwrap();
        cmd.args(["proto_decode", "--type", "common.Block", "--input", input]);
        let json = run(cmd, &format!("configtxlator proto_decode {input}"));
        serde_json::from_str(&json).expect("configtxlator printed no JSON")
    }
}

/// Runs `cmd` to completion: its stdout, or a panic showing both streams. A Fabric
/// client waits forever for a block the orderer never sends: killed after EVENT_TIMEOUT.
fn run(mut cmd: Command, what: &str) -> String {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let Ok(out) = rx.recv_timeout(EVENT_TIMEOUT) else {
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        panic!("{what} did not finish within {EVENT_TIMEOUT:?}");
    };
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{err}",
        out.status,
        stdout(&out)
    );
    stdout(&out)
}

/// Polls `check` until it gives a value; after EVENT_TIMEOUT fails with `what` and the
/// last state `check` described.
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + EVENT_TIMEOUT;
    loop {
        match check() {
            Ok(value) => return value,
            Err(_) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(last) => panic!("gave up waiting for {what}; last: {last}"),
        }
    }
}

/// Waits until `channel` holds `count` envelopes, read with `orderer-cli deliver` as `id`.
fn wait_for_envelopes(o: &Orderer, channel: &str, id: &[&str], count: usize) {
    let mut args = vec!["deliver", "--quiet", "--channel", channel];
    args.extend(id);
    wait_for(&format!("{count} envelopes in {channel}"), || {
        let out = stdout(&o.cli(&args));
        let held = out
            .split_once(" holding ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok());
        match held {
            Some(n) if n >= count => Ok(()),
            _ => Err(out),
        }
    });
}

/// Broadcasts `count` orderer-cli envelopes as `id`; all must be acked.
fn broadcast_ok(o: &Orderer, channel: &str, id: &[&str], count: usize) {
    let count = count.to_string();
    let mut args = vec!["broadcast", "--channel", channel, "--count", &count];
    args.extend(id);
    let out = ok(o.cli(&args));
    assert!(out.contains(&format!("acked {count} of {count}")), "{out}");
}

/// Broadcasts one envelope as `id` and returns the FORBIDDEN reason it must get.
fn broadcast_forbidden(o: &Orderer, channel: &str, id: &[&str]) -> String {
    let mut args = vec!["broadcast", "--channel", channel];
    args.extend(id);
    let out = o.cli(&args);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("acked 0 of 1 envelopes (FORBIDDEN 1)"),
        "{text}"
    );
    text.lines()
        .find_map(|l| l.strip_prefix("rejected: FORBIDDEN: "))
        .unwrap_or_else(|| panic!("no FORBIDDEN reason in {text:?}"))
        .to_owned()
}

/// ENDORSER_TRANSACTION envelopes whose data is an empty `peer.Transaction`, signed by
/// the sample identity: orderer-cli's own carry filler that is no `peer.Transaction`,
/// which configtxlator refuses to decode (and a peer marks invalid).
fn broadcast_decodable_transactions(addr: &str, channel: &str, count: u64) {
    let signer = Signer::sample().unwrap();
    let envelopes: Vec<Envelope> = (0..count)
        .map(|seq| {
            let filler = signer.transaction(channel, seq, 0).unwrap();
            let mut payload = Payload::decode(filler.payload).unwrap();
            payload.data = Bytes::new();
            signer.envelope(&payload).unwrap()
        })
        .collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut client = orderer_cli::client::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connecting to {addr}: {e:#}"));
        for env in envelopes {
            let (status, info) = orderer_cli::broadcast::broadcast_one(&mut client, env)
                .await
                .unwrap_or_else(|e| panic!("broadcasting to {addr}: {e:#}"));
            assert_eq!(status, Status::Success, "{info}");
        }
    });
}

/// Standard base64, as `peer channel getinfo` prints hashes.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char
            } else {
                '='
            });
        }
    }
    out
}

/// A `peer node start` process on free loopback ports, killed when dropped.
struct Peer {
    child: Child,
    address: String,
    log: PathBuf,
}

impl Peer {
    /// Starts a peer as `msp`; other ports are tried if one was taken meanwhile.
    fn start(fabric: &Fabric, dir: &Path, msp: Msp<'_>) -> Peer {
        for _ in 0..5 {
            match Peer::try_start(fabric, dir, msp) {
                Ok(peer) => return peer,
                Err(log) if log.contains("address already in use") => {}
                Err(log) => panic!("the peer did not start: {log}"),
            }
        }
        panic!("the peer did not start: every probed port was taken")
    }

    /// The peer once it logs "Started peer", or its log if it exits before.
    fn try_start(fabric: &Fabric, dir: &Path, msp: Msp<'_>) -> Result<Peer, String> {
        let loopback = || format!("127.0.0.1:{}", free_port());
        let (address, chaincode) = (loopback(), loopback());
        let log = dir.join("peer.log");
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = fabric.command("peer", &fabric.config);
        cmd.args(["node", "start"])
            .env("CORE_PEER_MSPCONFIGPATH", msp.dir)
            .env("CORE_PEER_LOCALMSPID", msp.id)
            .env("CORE_PEER_FILESYSTEMPATH", dir.join("peer-data"))
            .env("CORE_LEDGER_SNAPSHOTS_ROOTDIR", dir.join("peer-snapshots"))
            .env("CORE_PEER_LISTENADDRESS", &address)
            .env("CORE_PEER_ADDRESS", &address)
            .env("CORE_PEER_GOSSIP_ENDPOINT", &address)
            .env("CORE_PEER_GOSSIP_BOOTSTRAP", &address)
            .env("CORE_PEER_CHAINCODELISTENADDRESS", &chaincode)
            .env("CORE_PEER_CHAINCODEADDRESS", &chaincode)
            .env("CORE_OPERATIONS_LISTENADDRESS", loopback())
            .env("CORE_VM_ENDPOINT", "unix:///nonexistent.sock")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .stdin(Stdio::null());
        let child = cmd.spawn().expect("spawning peer node start");
        let mut peer = Peer {
            child,
            address,
            log,
        };
        let started = wait_for("the peer to start", || {
            if let Ok(Some(status)) = peer.child.try_wait() {
                return Ok(Err(format!("exit {status}; log:\n{}", peer.log_text())));
            }
            let log = peer.log_text();
            log.contains("Started peer").then_some(Ok(())).ok_or(log)
        });
        started.map(|()| peer)
    }

    /// The log without its colour codes.
    fn log_text(&self) -> String {
        let raw = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw.as_str();
        while let Some(i) = rest.find('\x1b') {
            out.push_str(&rest[..i]);
            rest = rest[i..].find('m').map_or("", |m| &rest[i + m + 1..]);
        }
        out + rest
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            eprintln!("--- last lines of the peer's log ---\n{}", tail.join("\n"));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Warnings and errors of a peer that refused a block (rather than a transaction in it).
const BLOCK_REFUSALS: [&str; 6] = [
    "failed verifying block",
    "error verifying block",
    "invalid block",
    "block verification",
    "signature set did not satisfy policy",
    "implicit policy evaluation failed",
];

#[test]
fn a_fabric_peer_joins_the_default_channel_and_commits_every_block() {
    let Some(fabric) = fabric() else { return };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // The default configuration: block 0 names 127.0.0.1:PORT as the ordering address,
    // which is where the peer will pull blocks from.
    let o = Orderer::start(dir, &[]);
    let sample = sample_msp();
    let msp = msp(&sample, "SampleOrg");
    broadcast_ok(&o, "mychannel", &[], 5);
    wait_for_envelopes(&o, "mychannel", &[], 6);

    let (block0, block0_bytes) = fabric.fetch(msp, &o, "mychannel", "0");
    let peer = Peer::start(&fabric, dir, msp);
    let peer_cli = |args: &[&str]| fabric.peer_cli(msp, Some(&peer.address), args);
    peer_cli(&["channel", "join", "-b", block0.to_str().unwrap()]);

    broadcast_ok(&o, "mychannel", &[], 20);
    // Wait for those to be cut, so that the newest block holds decodable ones only.
    wait_for_envelopes(&o, "mychannel", &[], 26);
    broadcast_decodable_transactions(&o.addr(), "mychannel", 3);
    wait_for_envelopes(&o, "mychannel", &[], 29);

    let (newest_path, newest) = fabric.fetch(msp, &o, "mychannel", "newest");
    let newest = Block::decode(newest.as_slice()).expect("the newest block decodes");
    let header = newest.header.clone().unwrap_or_default();
    let (height, hash) = (
        header.number + 1,
        base64(&orderer_api::block_header_hash(&header)),
    );
    wait_for("the peer to reach the orderer's height and hash", || {
        let info = peer_cli(&["channel", "getinfo", "-c", "mychannel"]);
        let json = info
            .split_once("Blockchain info: ")
            .map_or("", |(_, j)| j.trim());
        let info: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
        let reached = info["height"].as_u64() == Some(height)
            && info["currentBlockHash"].as_str() == Some(hash.as_str());
        reached
            .then_some(())
            .ok_or(format!("{info}, want height {height} hash {hash}"))
    });

    let log = peer.log_text();
    for n in 0..height {
        let committed = format!("Committed block [{n}]");
        assert!(
            log.contains(&committed),
            "the peer's log lacks {committed:?}"
        );
    }
    for line in log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERRO "))
    {
        let lower = line.to_lowercase();
        let refusal = BLOCK_REFUSALS.iter().find(|r| lower.contains(*r));
        assert!(refusal.is_none(), "the peer refused a block: {line}");
    }

    // `fetch config` follows the newest block's last-config index back to block 0.
    let (_, config) = fabric.fetch(msp, &o, "mychannel", "config");
    assert!(
        config == block0_bytes,
        "fetch config did not return block 0"
    );
    fabric.proto_decode_block(&block0);
    let json = fabric.proto_decode_block(&newest_path);
    assert_eq!(json["header"]["number"], (height - 1).to_string(), "{json}");
}

/// A writable copy of Fabric's sample config dir (configtx.yaml refers to `msp/`).
fn config_copy(fabric: &Fabric, to: &Path) -> PathBuf {
    let cfg = to.join("fabric-config");
    std::fs::create_dir_all(&cfg).unwrap();
    for file in ["configtx.yaml", "core.yaml"] {
        std::fs::copy(fabric.config.join(file), cfg.join(file)).unwrap();
    }
    std::os::unix::fs::symlink(
        fabric.config.join("msp").canonicalize().unwrap(),
        cfg.join("msp"),
    )
    .unwrap();
    cfg
}

/// Starts an orderer on `genesis` (BootstrapMethod file) as `local`, with `extra` env.
fn boot_from_file(dir: &Path, genesis: &Path, local: Msp<'_>, extra: &[(&str, &str)]) -> Orderer {
    let mut env = vec![
        ("ORDERER_GENERAL_BOOTSTRAPMETHOD", "file"),
        ("ORDERER_GENERAL_BOOTSTRAPFILE", genesis.to_str().unwrap()),
        ("ORDERER_GENERAL_LOCALMSPDIR", local.dir.to_str().unwrap()),
        ("ORDERER_GENERAL_LOCALMSPID", local.id),
    ];
    env.extend(extra);
    Orderer::start(dir, &env)
}

/// configtxgen's `profile` block for `syschan` boots an orderer in `dir/profile`:
/// its block 0 and the running orderer (Kafka ones still connecting).
fn boot_from_profile(
    fabric: &Fabric,
    cfg: &Path,
    dir: &Path,
    profile: &str,
    extra: &[(&str, &str)],
) -> (Vec<u8>, Orderer) {
    let dir = dir.join(profile);
    std::fs::create_dir_all(&dir).unwrap();
    let genesis = dir.join("genesis.block");
    let bytes = fabric.configtxgen(cfg, profile, "syschan", &genesis);
    (
        bytes,
        boot_from_file(&dir, &genesis, fabric.fabric_msp(), extra),
    )
}

/// What a SampleDevMode block means: Fabric's fetch gets it back byte for byte,
/// Fabric's SampleOrg members write, and the repository's SampleOrg identity (same
/// MSP ID, a CA the block does not know) is refused.
fn serves_and_enforces_sample_dev_mode(fabric: &Fabric, o: &Orderer, genesis: &[u8]) {
    let (_, served) = fabric.fetch(fabric.fabric_msp(), o, "syschan", "0");
    assert!(
        served == genesis,
        "block 0 as served differs from configtxgen's file"
    );

    let id = fabric.fabric_msp().cli_args();
    broadcast_ok(o, "syschan", &id, 10);
    wait_for_envelopes(o, "syschan", &id, 11);

    let reason = broadcast_forbidden(o, "syschan", &[]);
    let names = reason.contains("/Channel/Writers") && reason.contains("SampleOrg");
    assert!(names, "{reason}");
}

#[test]
fn the_orderer_boots_from_configtxgen_blocks_and_serves_block_0_byte_for_byte() {
    let Some(fabric) = fabric() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_copy(&fabric, tmp.path());
    let (genesis, o) = boot_from_profile(&fabric, &cfg, tmp.path(), "SampleDevModeSolo", &[]);
    serves_and_enforces_sample_dev_mode(&fabric, &o, &genesis);
    drop(o);

    // Kafka: the block names the broker; orderer.yaml still says solo and no brokers.
    let broker = Broker::start(Storage::Sqlite);
    let configtx = std::fs::read_to_string(cfg.join("configtx.yaml")).unwrap();
    let brokers =
        "            - kafka0:9092\n            - kafka1:9092\n            - kafka2:9092\n";
    assert!(
        configtx.contains(brokers),
        "Fabric's configtx.yaml no longer lists kafka0..2"
    );
    let ours = format!("            - {}\n", broker.bootstrap());
    std::fs::write(cfg.join("configtx.yaml"), configtx.replace(brokers, &ours)).unwrap();
    let kafka_env = [
        ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "1"),
        ("ORDERER_KAFKA_RETRY_SHORTINTERVAL", "300ms"),
    ];
    let (genesis, o) =
        boot_from_profile(&fabric, &cfg, tmp.path(), "SampleDevModeKafka", &kafka_env);
    o.wait_for_log("Kafka chain started", 1);
    let log = o.log_text();
    assert!(
        log.contains("channel opened channel=syschan height=1 orderer_type=kafka"),
        "{log}"
    );
    serves_and_enforces_sample_dev_mode(&fabric, &o, &genesis);
}

/// Two organizations; the channel's Writers policy requires an Org1 admin.
const ADMIN_WRITERS_CONFIGTX: &str = r#"
Organizations:
  - &Org1
    Name: Org1
    ID: Org1MSP
    MSPDir: ORG1_MSP
    Policies:
      Readers: { Type: Signature, Rule: "OR('Org1MSP.member')" }
      Writers: { Type: Signature, Rule: "OR('Org1MSP.member')" }
      Admins: { Type: Signature, Rule: "OR('Org1MSP.admin')" }
      Endorsement: { Type: Signature, Rule: "OR('Org1MSP.member')" }
    OrdererEndpoints: [ "127.0.0.1:7050" ]
  - &Org2
    Name: Org2
    ID: Org2MSP
    MSPDir: ORG2_MSP
    Policies:
      Readers: { Type: Signature, Rule: "OR('Org2MSP.member')" }
      Writers: { Type: Signature, Rule: "OR('Org2MSP.member')" }
      Admins: { Type: Signature, Rule: "OR('Org2MSP.admin')" }
      Endorsement: { Type: Signature, Rule: "OR('Org2MSP.member')" }

Profiles:
  AdminWriters:
    Policies:
      Readers: { Type: ImplicitMeta, Rule: "ANY Readers" }
      Writers: { Type: Signature, Rule: "OR('Org1MSP.admin')" }
      Admins: { Type: ImplicitMeta, Rule: "MAJORITY Admins" }
    Capabilities: { V2_0: true }
    Orderer:
      OrdererType: solo
      BatchTimeout: 500ms
      BatchSize: { MaxMessageCount: 10, AbsoluteMaxBytes: 10 MB, PreferredMaxBytes: 2 MB }
      Organizations: [ *Org1 ]
      Policies:
        Readers: { Type: ImplicitMeta, Rule: "ANY Readers" }
        Writers: { Type: ImplicitMeta, Rule: "ANY Writers" }
        Admins: { Type: ImplicitMeta, Rule: "MAJORITY Admins" }
        BlockValidation: { Type: ImplicitMeta, Rule: "ANY Writers" }
      Capabilities: { V2_0: true }
    Application:
      Organizations: [ *Org1, *Org2 ]
      Policies:
        Readers: { Type: ImplicitMeta, Rule: "ANY Readers" }
        Writers: { Type: ImplicitMeta, Rule: "ANY Writers" }
        Admins: { Type: ImplicitMeta, Rule: "MAJORITY Admins" }
        LifecycleEndorsement: { Type: ImplicitMeta, Rule: "MAJORITY Endorsement" }
        Endorsement: { Type: ImplicitMeta, Rule: "MAJORITY Endorsement" }
      Capabilities: { V2_0: true }
"#;

/// `orderer-cli msp new` for `id` with `identities`, in `dir/name`.
fn new_org(dir: &Path, name: &str, id: &str, identities: &str) -> PathBuf {
    let out = dir.join(name);
    let out_s = out.to_str().unwrap();
    let args = [
        "msp",
        "new",
        "--out",
        out_s,
        "--mspid",
        id,
        "--identities",
        identities,
    ];
    ok(cli(&args));
    out
}

#[test]
fn a_signature_policy_requiring_an_admin_is_honoured_and_other_orgs_are_forbidden() {
    let Some(fabric) = fabric() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let org1 = new_org(dir, "org1", "Org1MSP", "orderer,admin,client");
    let org2 = new_org(dir, "org2", "Org2MSP", "client");
    let cfg = dir.join("configtx");
    std::fs::create_dir_all(&cfg).unwrap();
    let configtx = ADMIN_WRITERS_CONFIGTX
        .replace("ORG1_MSP", org1.join("msp").to_str().unwrap())
        .replace("ORG2_MSP", org2.join("msp").to_str().unwrap());
    std::fs::write(cfg.join("configtx.yaml"), configtx).unwrap();
    let genesis = dir.join("genesis.block");
    fabric.configtxgen(&cfg, "AdminWriters", "adminchan", &genesis);

    let orderer_msp = org1.join("orderer/msp");
    let o = boot_from_file(dir, &genesis, msp(&orderer_msp, "Org1MSP"), &[]);
    let (admin, client1, client2) = (
        org1.join("admin/msp"),
        org1.join("client/msp"),
        org2.join("client/msp"),
    );
    let admin = msp(&admin, "Org1MSP").cli_args();
    broadcast_ok(&o, "adminchan", &admin, 3);
    wait_for_envelopes(&o, "adminchan", &admin, 4);

    // Members, but not admins, of Org1; and of an organization the policy ignores.
    for (id, client) in [("Org1MSP", &client1), ("Org2MSP", &client2)] {
        let reason = broadcast_forbidden(&o, "adminchan", &msp(client, id).cli_args());
        assert!(reason.contains("/Channel/Writers"), "{id} client: {reason}");
    }
}
