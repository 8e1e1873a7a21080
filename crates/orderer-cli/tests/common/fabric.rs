//! Fabric v2.5's own binaries (`FABRIC_BIN`) around the real `orderer`: its CLI tools,
//! a `peer node start` process, and the orderer-cli calls the Fabric tests share.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use super::{EVENT_TIMEOUT, Orderer, block_lines, cli, exactly_envelopes, ok, stdout};
use orderer_api::proto::common::Block;
use orderer_testkit::fabric::fabric_bin;
use orderer_testkit::free_port;
use prost::Message;

/// Fabric's release: its binaries and its sample configuration directory.
pub struct Fabric {
    pub bin: PathBuf,
    /// `core.yaml`, `configtx.yaml`, `msp/`.
    pub config: PathBuf,
    /// Fabric's SampleOrg MSP: its own CA, not the repository's sampleconfig/msp.
    pub msp: PathBuf,
}

/// Fabric's release at `FABRIC_BIN` with every tool and sample file the Fabric tests
/// use, or `None` (said once) without it; under CI a missing `FABRIC_BIN` fails (see
/// [`orderer_testkit::fabric::fabric_bin`]).
pub fn fabric() -> Option<Fabric> {
    let bin = fabric_bin(
        &[
            "peer",
            "orderer",
            "configtxgen",
            "configtxlator",
            "osnadmin",
        ],
        &["core.yaml", "configtx.yaml", "orderer.yaml", "msp"],
    )?;
    let config = bin.join("../config");
    let msp = config.join("msp");
    Some(Fabric { bin, config, msp })
}

/// A local MSP that a Fabric client or peer runs as, or that orderer-cli signs with.
#[derive(Clone, Copy)]
pub struct Msp<'a> {
    pub dir: &'a Path,
    pub id: &'a str,
}

pub fn msp<'a>(dir: &'a Path, id: &'a str) -> Msp<'a> {
    Msp { dir, id }
}

impl<'a> Msp<'a> {
    /// orderer-cli's arguments to sign as this identity.
    pub fn cli_args(self) -> [&'a str; 4] {
        let dir = self.dir.to_str().unwrap();
        ["--msp-dir", dir, "--mspid", self.id]
    }
}

/// The repository's development MSP: orderer-cli's default identity.
pub fn sample_msp() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sampleconfig/msp")
}

impl Fabric {
    pub fn fabric_msp(&self) -> Msp<'_> {
        msp(&self.msp, "SampleOrg")
    }

    /// A Fabric tool reading its configuration from `cfg`, and from nothing inherited.
    pub fn command(&self, tool: &str, cfg: &Path) -> Command {
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
    pub fn peer_cli(&self, msp: Msp<'_>, peer: Option<&str>, args: &[&str]) -> String {
        self.try_peer_cli(msp, peer, args)
            .unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// The `peer` CLI as `msp`: its stdout, or, when it fails, the command and
    /// everything it printed (a refusal's status and reason are on stderr).
    pub fn try_peer_cli(
        &self,
        msp: Msp<'_>,
        peer: Option<&str>,
        args: &[&str],
    ) -> Result<String, String> {
        let mut cmd = self.command("peer", &self.config);
        cmd.args(args)
            .env("CORE_PEER_MSPCONFIGPATH", msp.dir)
            .env("CORE_PEER_LOCALMSPID", msp.id);
        if let Some(address) = peer {
            cmd.env("CORE_PEER_ADDRESS", address);
        }
        let what = format!("peer {} (as {})", args.join(" "), msp.id);
        let out = output(cmd, &what);
        if out.status.success() {
            return Ok(stdout(&out));
        }
        let err = without_colours(&String::from_utf8_lossy(&out.stderr));
        Err(format!(
            "{what} failed ({}):\n{}{err}",
            out.status,
            stdout(&out)
        ))
    }

    /// `peer channel fetch WHICH` from `o`, as `msp`: the block's file and bytes.
    pub fn fetch(
        &self,
        msp: Msp<'_>,
        o: &Orderer,
        channel: &str,
        which: &str,
    ) -> (PathBuf, Vec<u8>) {
        self.try_fetch(msp, o, channel, which)
            .unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// `peer channel fetch WHICH`, or why it failed (e.g. the channel is not there yet).
    pub fn try_fetch(
        &self,
        msp: Msp<'_>,
        o: &Orderer,
        channel: &str,
        which: &str,
    ) -> Result<(PathBuf, Vec<u8>), String> {
        let out = o.dir.join(format!("{channel}-{which}.block"));
        let (addr, out_s) = (o.addr(), out.to_str().unwrap());
        let args = ["channel", "fetch", which, out_s, "-o", &addr, "-c", channel];
        self.try_peer_cli(msp, None, &args)?;
        let bytes = std::fs::read(&out).map_err(|e| format!("fetch wrote no {out_s}: {e}"))?;
        Ok((out, bytes))
    }

    /// `channel`'s newest block on `o`, fetched as `msp`: its file, the chain's height
    /// and the block's header hash in base64 (as `peer channel getinfo` prints it).
    pub fn newest(&self, msp: Msp<'_>, o: &Orderer, channel: &str) -> (PathBuf, u64, String) {
        let (path, bytes) = self.fetch(msp, o, channel, "newest");
        let block = Block::decode(bytes.as_slice())
            .unwrap_or_else(|e| panic!("the newest block of {channel} does not decode: {e}"));
        let header = block.header.unwrap_or_default();
        let hash = base64(&orderer_api::block_header_hash(&header));
        (path, header.number + 1, hash)
    }

    /// `configtxgen -outputBlock` for `profile` of `cfg`/configtx.yaml.
    pub fn configtxgen(&self, cfg: &Path, profile: &str, channel: &str, out: &Path) -> Vec<u8> {
        let mut cmd = self.command("configtxgen", cfg);
        let (p, c, o) = (profile, channel, out.to_str().unwrap());
        cmd.args(["-profile", p, "-channelID", c, "-outputBlock", o]);
        run(cmd, &format!("configtxgen -profile {profile}"));
        std::fs::read(out).unwrap_or_else(|e| panic!("configtxgen wrote no {o}: {e}"))
    }

    /// configtxlator's JSON of a marshalled block; it must decode it.
    pub fn proto_decode_block(&self, path: &Path) -> serde_json::Value {
        let input = path.to_str().unwrap();
        let json =
            self.configtxlator(&["proto_decode", "--type", "common.Block", "--input", input]);
        serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("configtxlator printed no JSON for {input}: {e}"))
    }

    /// `configtxlator ARGS`: its stdout; it must succeed.
    pub fn configtxlator(&self, args: &[&str]) -> String {
        let mut cmd = self.command("configtxlator", &self.config);
        cmd.args(args);
        run(cmd, &format!("configtxlator {}", args.join(" ")))
    }
}

/// Runs `cmd` to completion: its stdout, or a panic showing both streams.
pub fn run(cmd: Command, what: &str) -> String {
    let out = output(cmd, what);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{err}",
        out.status,
        stdout(&out)
    );
    stdout(&out)
}

/// Runs `cmd` to completion and returns what it did. A Fabric client waits forever for
/// a block the orderer never sends: killed after EVENT_TIMEOUT.
pub fn output(mut cmd: Command, what: &str) -> Output {
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
    out.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// `text` without its terminal colour codes (Fabric's tools colour their logs).
pub fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\x1b') {
        out.push_str(&rest[..i]);
        rest = rest[i..].find('m').map_or("", |m| &rest[i + m + 1..]);
    }
    out + rest
}

pub use super::wait_for;

/// Waits until `channel` holds exactly `count` envelopes, every block's counted (block
/// 0's config envelope included), read with `orderer-cli deliver` as `id`. More than
/// `count` fails at once.
pub fn wait_for_envelopes(o: &Orderer, channel: &str, id: &[&str], count: usize) {
    let mut args = vec!["deliver", "--channel", channel];
    args.extend(id);
    wait_for(&format!("{count} envelopes in {channel}"), || {
        let out = stdout(&o.cli(&args));
        // Until the orderer serves the channel, deliver prints no summary.
        let held = out
            .split_once(" holding ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| out.clone())?;
        exactly_envelopes(held, count, &block_lines(&out))
    });
}

/// Broadcasts `count` orderer-cli envelopes as `id`; all must be acked.
pub fn broadcast_ok(o: &Orderer, channel: &str, id: &[&str], count: usize) {
    let count = count.to_string();
    let mut args = vec!["broadcast", "--channel", channel, "--count", &count];
    args.extend(id);
    let out = ok(o.cli(&args));
    assert!(out.contains(&format!("acked {count} of {count}")), "{out}");
}

/// Broadcasts one envelope as `id` and returns the FORBIDDEN reason it must get.
pub fn broadcast_forbidden(o: &Orderer, channel: &str, id: &[&str]) -> String {
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

/// Standard base64, as `peer channel getinfo` prints hashes.
pub fn base64(bytes: &[u8]) -> String {
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
pub struct Peer {
    child: Child,
    pub address: String,
    pub log: PathBuf,
}

impl Peer {
    /// Starts a peer as `msp`; other ports are tried if one was taken meanwhile.
    pub fn start(fabric: &Fabric, dir: &Path, msp: Msp<'_>) -> Peer {
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
    pub fn log_text(&self) -> String {
        without_colours(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// Waits until the peer's `channel` is `height` blocks high and its newest block's
    /// header hash is `hash` (base64), as `peer channel getinfo` run as `msp` says.
    pub fn wait_for_chain(
        &self,
        fabric: &Fabric,
        msp: Msp<'_>,
        channel: &str,
        height: u64,
        hash: &str,
    ) {
        let what = format!(
            "the peer {} to reach height {height} of {channel}",
            self.address
        );
        wait_for(&what, || {
            let args = ["channel", "getinfo", "-c", channel];
            let info = fabric.try_peer_cli(msp, Some(&self.address), &args)?;
            let json = info
                .split_once("Blockchain info: ")
                .map_or("", |(_, j)| j.trim());
            let info: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
            let reached = info["height"].as_u64() == Some(height)
                && info["currentBlockHash"].as_str() == Some(hash);
            reached
                .then_some(())
                .ok_or(format!("{info}, want height {height} hash {hash}"))
        });
    }

    /// Fails naming the first warning or error in the log where the peer refused a
    /// block (see BLOCK_REFUSALS), rather than a transaction in it.
    pub fn assert_no_refused_block(&self) {
        let log = self.log_text();
        for line in log
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERRO "))
        {
            let lower = line.to_lowercase();
            let refusal = BLOCK_REFUSALS.iter().find(|r| lower.contains(*r));
            assert!(
                refusal.is_none(),
                "the peer {} refused a block: {line}",
                self.address
            );
        }
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
pub const BLOCK_REFUSALS: [&str; 6] = [
    "failed verifying block",
    "error verifying block",
    "invalid block",
    "block verification",
    "signature set did not satisfy policy",
    "implicit policy evaluation failed",
];

/// A writable copy of Fabric's sample config dir (configtx.yaml refers to `msp/`).
pub fn config_copy(fabric: &Fabric, to: &Path) -> PathBuf {
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
pub fn boot_from_file(
    dir: &Path,
    genesis: &Path,
    local: Msp<'_>,
    extra: &[(&str, &str)],
) -> Orderer {
    let mut env = vec![
        ("ORDERER_GENERAL_BOOTSTRAPMETHOD", "file"),
        ("ORDERER_GENERAL_BOOTSTRAPFILE", genesis.to_str().unwrap()),
        ("ORDERER_GENERAL_LOCALMSPDIR", local.dir.to_str().unwrap()),
        ("ORDERER_GENERAL_LOCALMSPID", local.id),
    ];
    env.extend(extra);
    Orderer::start(dir, &env)
}

/// `orderer-cli msp new` for `id` with `identities`, in `dir/name`.
pub fn new_org(dir: &Path, name: &str, id: &str, identities: &str) -> PathBuf {
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

/// Settings every Kafka OSN of a test network on one Apache Kafka node gets (the
/// brokers come from the channel config): one broker, so one replica; quick retries.
pub const KAFKA_ENV: [(&str, &str); 3] = [
    ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "1"),
    ("ORDERER_KAFKA_RETRY_SHORTINTERVAL", "300ms"),
    ("ORDERER_KAFKA_RETRY_NETWORKTIMEOUTS_READTIMEOUT", "2s"),
];

/// What differs between the Fabric tests' networks: the rest of their configtx.yaml
/// (policies, V2_0 capabilities, batch sizes) is one template.
pub struct Configtx<'a> {
    /// The ordering organization's MSP directory (`OrdererOrg`, `OrdererMSP`).
    pub orderer_org: &'a Path,
    /// Member organizations, `(name, MSP directory)`; MSP ID `{name}MSP`. They form
    /// the system channel's consortium and the application channel.
    pub orgs: &'a [(&'a str, &'a Path)],
    /// The OSNs' addresses (`Orderer.Addresses`).
    pub addresses: &'a [String],
    /// `Orderer.Kafka.Brokers` of the Kafka profile (unused by the solo one).
    pub brokers: &'a [String],
    /// `Orderer.BatchTimeout`, e.g. `2s`.
    pub batch_timeout: &'a str,
}

impl Configtx<'_> {
    /// configtx.yaml with three profiles: `SystemChannel` (Kafka, MaxMessageCount
    /// 10, consortium `SampleConsortium` of every org), `AppChannel` (every org), and
    /// `AdminWriters` (solo, every org, the channel's Writers an admin of the first
    /// org: a signature policy where the others are implicit).
    pub fn yaml(&self) -> String {
        let path = |p: &Path| p.to_str().unwrap().to_owned();
        let mut orgs = format!(
            r#"Organizations:
  - &OrdererOrg
    Name: OrdererOrg
    ID: OrdererMSP
    MSPDir: {}
    Policies:
      Readers: {{ Type: Signature, Rule: "OR('OrdererMSP.member')" }}
      Writers: {{ Type: Signature, Rule: "OR('OrdererMSP.member')" }}
      Admins: {{ Type: Signature, Rule: "OR('OrdererMSP.admin')" }}
"#,
            path(self.orderer_org)
        );
        for (name, dir) in self.orgs {
            let id = format!("{name}MSP");
            orgs += &format!(
                r#"  - &{name}
    Name: {name}
    ID: {id}
    MSPDir: {dir}
    Policies:
      Readers: {{ Type: Signature, Rule: "OR('{id}.admin', '{id}.peer', '{id}.client')" }}
      Writers: {{ Type: Signature, Rule: "OR('{id}.admin', '{id}.client')" }}
      Admins: {{ Type: Signature, Rule: "OR('{id}.admin')" }}
      Endorsement: {{ Type: Signature, Rule: "OR('{id}.peer')" }}
"#,
                dir = path(dir)
            );
        }
        let members: Vec<String> = self.orgs.iter().map(|(n, _)| format!("*{n}")).collect();
        let members = members.join(", ");
        format!(
            r#"{orgs}
Channel: &ChannelDefaults
  Policies:
    Readers: {{ Type: ImplicitMeta, Rule: "ANY Readers" }}
    Writers: {{ Type: ImplicitMeta, Rule: "ANY Writers" }}
    Admins: {{ Type: ImplicitMeta, Rule: "MAJORITY Admins" }}
  Capabilities: {{ V2_0: true }}

Profiles:
  SystemChannel:
    <<: *ChannelDefaults
    Orderer: &OrdererDefaults
      OrdererType: kafka
      Addresses: [ {addresses} ]
      BatchTimeout: {timeout}
      BatchSize: {{ MaxMessageCount: 10, AbsoluteMaxBytes: 10 MB, PreferredMaxBytes: 2 MB }}
      Kafka:
        Brokers: [ {brokers} ]
      Organizations: [ *OrdererOrg ]
      Policies:
        Readers: {{ Type: ImplicitMeta, Rule: "ANY Readers" }}
        Writers: {{ Type: ImplicitMeta, Rule: "ANY Writers" }}
        Admins: {{ Type: ImplicitMeta, Rule: "MAJORITY Admins" }}
        BlockValidation: {{ Type: ImplicitMeta, Rule: "ANY Writers" }}
      Capabilities: {{ V2_0: true }}
    Consortiums:
      SampleConsortium:
        Organizations: [ {members} ]
  AppChannel:
    <<: *ChannelDefaults
    Consortium: SampleConsortium
    Application: &ApplicationDefaults
      Organizations: [ {members} ]
      Policies:
        Readers: {{ Type: ImplicitMeta, Rule: "ANY Readers" }}
        Writers: {{ Type: ImplicitMeta, Rule: "ANY Writers" }}
        Admins: {{ Type: ImplicitMeta, Rule: "MAJORITY Admins" }}
        LifecycleEndorsement: {{ Type: ImplicitMeta, Rule: "MAJORITY Endorsement" }}
        Endorsement: {{ Type: ImplicitMeta, Rule: "MAJORITY Endorsement" }}
      Capabilities: {{ V2_0: true }}
  AdminWriters:
    <<: *ChannelDefaults
    Policies:
      Readers: {{ Type: ImplicitMeta, Rule: "ANY Readers" }}
      Writers: {{ Type: Signature, Rule: "OR('{first}MSP.admin')" }}
      Admins: {{ Type: ImplicitMeta, Rule: "MAJORITY Admins" }}
    Orderer:
      <<: *OrdererDefaults
      OrdererType: solo
    Application:
      <<: *ApplicationDefaults
"#,
            first = self.orgs.first().map_or("", |(name, _)| *name),
            addresses = self.addresses.join(", "),
            timeout = self.batch_timeout,
            brokers = self.brokers.join(", "),
        )
    }
}
