//! Our genesis blocks against Fabric's tools: `configtxlator` must decode them, and
//! its JSON of them must equal its JSON of `configtxgen`'s block for the equivalent
//! profile, except where configtxgen is random (timestamp, nonce, tx id, and so the
//! data hash).
//!
//! A Fabric peer then joins a channel from one of our blocks.
//!
//! Runs when Fabric's binaries are at `$FABRIC_BIN` (`.ci/run` sets it), with
//! the sample config (`configtx.yaml`, `msp/`) in `../config` beside them; otherwise
//! it prints one line and passes, except under CI (`CI=true`), where a missing
//! `FABRIC_BIN` fails.

// A test harness: a failed step should stop the test where it failed.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

use orderer_api::genesis::{
    AnchorPeer, ChannelCreation, Consensus, ConsortiumProfile, OrgMsp, Organization, Policies,
    Profile,
};
use orderer_api::policies::dsl::policy_from_configtx;
use orderer_api::proto::common::{
    Block, Capabilities, ChannelHeader, ConfigEnvelope, ConfigGroup, ConfigUpdate,
    ConfigUpdateEnvelope, Envelope, HeaderType, Payload,
};
use orderer_api::proto::msp::{FabricMspConfig, MspConfig};
use orderer_api::proto::peer::AcLs;
use prost::Message;
use serde_json::Value;

/// Profiles appended to Fabric's sample configtx.yaml, so they reuse its anchors
/// (defaults, ACLs, the SampleOrg MSP directory).
const PROFILES: &str = r#"
    RustSolo: &RustSolo
        <<: *ChannelDefaults
        Orderer:
            <<: *OrdererDefaults
            Addresses:
                - 127.0.0.1:7050
            Organizations:
                - <<: *SampleOrg
                  Policies:
                      Readers: { Type: Signature, Rule: "OR('SampleOrg.member')" }
                      Writers: { Type: Signature, Rule: "OR('SampleOrg.member')" }
                      Admins: { Type: Signature, Rule: "OR('SampleOrg.admin')" }
        Application:
            <<: *ApplicationDefaults
            Organizations:
                - *SampleOrg
            Capabilities:
                V2_0: true
    RustKafka:
        <<: *RustSolo
        Orderer:
            <<: *OrdererDefaults
            OrdererType: kafka
            Addresses:
                - 127.0.0.1:7050
            Organizations:
                - <<: *SampleOrg
                  Policies:
                      Readers: { Type: Signature, Rule: "OR('SampleOrg.member')" }
                      Writers: { Type: Signature, Rule: "OR('SampleOrg.member')" }
                      Admins: { Type: Signature, Rule: "OR('SampleOrg.admin')" }
    RustSystem:
        <<: *ChannelDefaults
        Orderer:
            <<: *OrdererDefaults
            OrdererType: kafka
            Addresses:
                - 127.0.0.1:7050
            MaxChannels: 5
            Organizations:
                - <<: *SampleOrg
                  Policies:
                      Readers: { Type: Signature, Rule: "OR('SampleOrg.member')" }
                      Writers: { Type: Signature, Rule: "OR('SampleOrg.member')" }
                      Admins: { Type: Signature, Rule: "OR('SampleOrg.admin')" }
        Consortiums:
            SampleConsortium:
                Organizations:
                    - *SampleOrg
                    - &SecondOrg
                      <<: *SampleOrg
                      Name: SecondOrg
                      ID: SecondMSP
            EmptyConsortium:
                Organizations:
    RustCreate:
        <<: *ChannelDefaults
        Consortium: SampleConsortium
        Application:
            <<: *ApplicationDefaults
            Organizations:
                - *SampleOrg
                - *SecondOrg
            Policies:
                Readers: { Type: ImplicitMeta, Rule: "ANY Readers" }
                Writers: { Type: ImplicitMeta, Rule: "ANY Writers" }
                Admins: { Type: Signature, Rule: "OR('SampleOrg.admin')" }
            Capabilities:
                V2_0: true
    RustPolicies:
        <<: *RustSolo
        Policies:
            Readers: { Type: ImplicitMeta, Rule: "ANY Readers" }
            Writers: { Type: ImplicitMeta, Rule: "ANY Writers" }
            Admins: { Type: ImplicitMeta, Rule: "ALL Admins" }
        Application:
            <<: *ApplicationDefaults
            Organizations:
                - <<: *SampleOrg
                  Policies:
                      Readers: { Type: Signature, Rule: "OutOf(2, 'SampleOrg.member', 'SampleOrg.admin', 'SampleOrg.peer')" }
                      Writers: { Type: Signature, Rule: "AND('SampleOrg.member', OR('SampleOrg.admin', 'SampleOrg.peer'), 'SampleOrg.client')" }
                      Admins: { Type: Signature, Rule: "OR('SampleOrg.admin')" }
                      Endorsement: { Type: Signature, Rule: "OR('SampleOrg.peer')" }
            Capabilities:
                V2_0: true
"#;

struct Fabric {
    bin: PathBuf,
    /// Fabric's sample config: `configtx.yaml`, `core.yaml`, `msp/`.
    config: PathBuf,
    /// configtxgen's config (the sample plus our profiles) and every file written.
    dir: tempfile::TempDir,
}

impl Fabric {
    /// Fabric's release at `FABRIC_BIN`, or `None` (said once) without it; under CI a
    /// missing `FABRIC_BIN` fails (see [`orderer_testkit::fabric::fabric_bin`]).
    fn find() -> Option<Fabric> {
        let bin = orderer_testkit::fabric::fabric_bin(
            &["configtxgen", "configtxlator", "peer"],
            &["configtx.yaml", "core.yaml", "msp"],
        )?;
        let config = bin.join("../config");
        let dir = tempfile::tempdir().unwrap();
        let sample = std::fs::read_to_string(config.join("configtx.yaml")).unwrap();
        // The sample ends inside its Profiles map: appended profiles join it.
        std::fs::write(dir.path().join("configtx.yaml"), sample + PROFILES).unwrap();
        std::os::unix::fs::symlink(
            config.join("msp").canonicalize().unwrap(),
            dir.path().join("msp"),
        )
        .unwrap();
        Some(Fabric { bin, config, dir })
    }

    fn run(&self, tool: &str, args: &[&str]) -> Vec<u8> {
        let out = Command::new(self.bin.join(tool))
            .args(args)
            .env("FABRIC_CFG_PATH", self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// configtxgen's block for `profile`, read back.
    fn configtxgen(&self, profile: &str) -> Block {
        let out = self.path(&format!("{profile}.block"));
        let out_str = out.to_str().unwrap();
        self.run(
            "configtxgen",
            &[
                "-profile",
                profile,
                "-channelID",
                "mychannel",
                "-outputBlock",
                out_str,
            ],
        );
        Block::decode(Bytes::from(std::fs::read(&out).unwrap())).unwrap()
    }

    /// configtxgen's channel creation transaction for `profile`, read back.
    fn create_tx(&self, profile: &str, channel: &str) -> (Envelope, Vec<u8>) {
        let out = self.path(&format!("{profile}-{channel}.tx"));
        let out_str = out.to_str().unwrap();
        self.run(
            "configtxgen",
            &[
                "-profile",
                profile,
                "-channelID",
                channel,
                "-outputCreateChannelTx",
                out_str,
            ],
        );
        let bytes = std::fs::read(&out).unwrap();
        (Envelope::decode(bytes.as_slice()).unwrap(), bytes)
    }

    /// configtxlator's JSON of a block; it must decode it.
    fn decode(&self, name: &str, block: &Block) -> Value {
        let path = self.path(&format!("{name}.pb"));
        std::fs::write(&path, block.encode_to_vec()).unwrap();
        let json = self.run(
            "configtxlator",
            &[
                "proto_decode",
                "--type",
                "common.Block",
                "--input",
                path.to_str().unwrap(),
            ],
        );
        serde_json::from_slice(&json).unwrap()
    }
}

fn config_group(block: &Block) -> ConfigGroup {
    let env = Envelope::decode(block.data.as_ref().unwrap().data[0].clone()).unwrap();
    let payload = Payload::decode(env.payload).unwrap();
    let config = ConfigEnvelope::decode(payload.data)
        .unwrap()
        .config
        .unwrap();
    config.channel_group.unwrap()
}

/// The SampleOrg MSP exactly as configtxgen read it from the sample `msp/`: reading
/// MSP directories is the caller's job, so the test takes it from Fabric.
fn sample_msp(block: &Block) -> MspConfig {
    let msp = &config_group(block).groups["Orderer"].groups["SampleOrg"].values["MSP"];
    MspConfig::decode(msp.value.clone()).unwrap()
}

/// The parts configtxgen makes random: the channel header's time and tx id, the
/// nonce, and the data hash over them.
fn without_random_parts(mut block: Value) -> Value {
    let header = &mut block["data"]["data"][0]["payload"]["header"];
    for key in ["timestamp", "tx_id"] {
        header["channel_header"]
            .as_object_mut()
            .unwrap()
            .remove(key);
    }
    // Without the nonce, configtxgen's signature header is empty, which encodes to
    // no bytes at all: configtxlator shows ours as null.
    if let Some(signature_header) = header["signature_header"].as_object_mut() {
        signature_header.remove("nonce");
        if signature_header.values().all(Value::is_null) {
            header["signature_header"] = Value::Null;
        }
    }
    block["header"].as_object_mut().unwrap().remove("data_hash");
    block
}

/// Where two JSON values differ, one line per difference.
fn differences(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let p = format!("{path}/{key}");
                match (x.get(key), y.get(key)) {
                    (Some(u), Some(v)) => differences(&p, u, v, out),
                    (u, v) => out.push(format!("{p}: ours {u:?}, configtxgen {v:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                differences(&format!("{path}[{i}]"), u, v, out);
            }
        }
        _ if a != b => out.push(format!("{path}: ours {a}, configtxgen {b}")),
        _ => {}
    }
}

fn assert_same(what: &str, ours: &Value, theirs: &Value) {
    let mut diffs = Vec::new();
    differences("", ours, theirs, &mut diffs);
    assert!(
        diffs.is_empty(),
        "{what} differs from configtxgen's:\n{}",
        diffs.join("\n")
    );
}

fn policies(entries: &[(&str, &str, &str)]) -> Policies {
    entries
        .iter()
        .map(|(name, kind, rule)| (name.to_string(), policy_from_configtx(kind, rule).unwrap()))
        .collect()
}

fn sample_org(msp: &MspConfig) -> Organization {
    Organization::new("SampleOrg", "SampleOrg", OrgMsp::Encoded(msp.clone()))
}

/// The inputs equivalent to the `RustSolo` profile.
fn rust_solo(msp: &MspConfig) -> Profile {
    let mut orderer_org = sample_org(msp);
    orderer_org.orderer_endpoints = vec!["127.0.0.1:7050".into()];
    let mut app_org = sample_org(msp);
    app_org.anchor_peers = vec![AnchorPeer {
        host: "127.0.0.1".into(),
        port: 7051,
    }];
    let mut p = Profile::new(
        "mychannel",
        Consensus::Solo,
        vec![orderer_org],
        vec![app_org],
    );
    p.orderer.addresses = vec!["127.0.0.1:7050".into()];
    p
}

fn kafka() -> Consensus {
    Consensus::Kafka {
        brokers: ["kafka0:9092", "kafka1:9092", "kafka2:9092"]
            .map(String::from)
            .to_vec(),
    }
}

#[test]
fn configtxlator_reads_our_blocks_as_configtxgen_makes_them() {
    let Some(fabric) = Fabric::find() else { return };
    let msp = sample_msp(&fabric.configtxgen("RustSolo"));

    let solo = rust_solo(&msp);
    let mut kafka_profile = rust_solo(&msp);
    kafka_profile.orderer.consensus = kafka();
    let mut custom = rust_solo(&msp);
    custom.policies = policies(&[
        ("Readers", "ImplicitMeta", "ANY Readers"),
        ("Writers", "ImplicitMeta", "ANY Writers"),
        ("Admins", "ImplicitMeta", "ALL Admins"),
    ]);
    custom.application.as_mut().unwrap().organizations[0].policies = Some(policies(&[
        (
            "Readers",
            "Signature",
            "OutOf(2, 'SampleOrg.member', 'SampleOrg.admin', 'SampleOrg.peer')",
        ),
        (
            "Writers",
            "Signature",
            "AND('SampleOrg.member', OR('SampleOrg.admin', 'SampleOrg.peer'), 'SampleOrg.client')",
        ),
        ("Admins", "Signature", "OR('SampleOrg.admin')"),
        ("Endorsement", "Signature", "OR('SampleOrg.peer')"),
    ]));

    for (name, profile) in [
        ("RustSolo", solo),
        ("RustKafka", kafka_profile),
        ("RustPolicies", custom),
    ] {
        let theirs = fabric.decode(&format!("{name}-configtxgen"), &fabric.configtxgen(name));
        let block = profile.genesis_block().unwrap();
        let ours = fabric.decode(name, &block);
        assert_same(
            name,
            &without_random_parts(ours),
            &without_random_parts(theirs),
        );
        // configtxgen's own reader takes it too.
        let path = fabric.path(&format!("{name}.pb"));
        fabric.run("configtxgen", &["-inspectBlock", path.to_str().unwrap()]);
    }
}

/// Fabric's shipped SampleDevMode profiles (an Application group and a
/// Consortiums group), reproduced from inputs that override what the profiles
/// override. The shipped orderer org lists anchor peers that configtxgen ignores
/// there (and in the consortium).
#[test]
fn the_shipped_dev_mode_profiles_are_reproduced() {
    let Some(fabric) = Fabric::find() else { return };
    for (name, consensus) in [
        ("SampleDevModeSolo", Consensus::Solo),
        ("SampleDevModeKafka", kafka()),
    ] {
        let theirs_block = fabric.configtxgen(name);
        let msp = sample_msp(&theirs_block);
        let dev_policies = policies(&[
            ("Readers", "Signature", "OR('SampleOrg.member')"),
            ("Writers", "Signature", "OR('SampleOrg.member')"),
            ("Admins", "Signature", "OR('SampleOrg.member')"),
            ("Endorsement", "Signature", "OR('SampleOrg.member')"),
        ]);
        let mut org = sample_org(&msp);
        org.policies = Some(dev_policies);
        org.orderer_endpoints = vec!["127.0.0.1:7050".into()];
        org.anchor_peers = vec![AnchorPeer {
            host: "127.0.0.1".into(),
            port: 7051,
        }];
        let mut p = Profile::new("mychannel", consensus, vec![org.clone()], vec![org.clone()]);
        p.application.as_mut().unwrap().capabilities = ["V2_5".to_owned()].into();
        p.consortiums = Some(BTreeMap::from([(
            "SampleConsortium".to_owned(),
            ConsortiumProfile::new(vec![org]),
        )]));

        let theirs = fabric.decode(name, &theirs_block);
        let ours = fabric.decode(&format!("{name}-ours"), &p.genesis_block().unwrap());
        assert_same(
            name,
            &without_random_parts(ours),
            &without_random_parts(theirs),
        );
    }
}

/// Kills the peer when the test ends, however it ends.
struct Peer(std::process::Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// What a peer checks when it joins: the config bundle (MSPs, policies,
/// capabilities, the Application group), then the ledger commits block 0.
/// Starts a `peer` process on free local ports; it takes about a second.
#[test]
fn a_fabric_peer_joins_a_channel_from_our_genesis_block() {
    let Some(fabric) = Fabric::find() else { return };
    let msp = sample_msp(&fabric.configtxgen("RustSolo"));
    let mut profile = rust_solo(&msp);
    profile.channel_id = "rustchannel".into();
    let block = fabric.path("join.block");
    std::fs::write(&block, profile.genesis_block().unwrap().encode_to_vec()).unwrap();

    let address = format!("127.0.0.1:{}", free_port());
    let chaincode = format!("127.0.0.1:{}", free_port());
    let log_path = fabric.path("peer.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let _peer = Peer(
        Command::new(fabric.bin.join("peer"))
            .args(["node", "start"])
            .env("FABRIC_CFG_PATH", &fabric.config)
            .env("CORE_PEER_FILESYSTEMPATH", fabric.path("peer-data"))
            .env("CORE_PEER_LISTENADDRESS", &address)
            .env("CORE_PEER_ADDRESS", &address)
            .env("CORE_PEER_GOSSIP_ENDPOINT", &address)
            .env("CORE_PEER_CHAINCODELISTENADDRESS", &chaincode)
            .env("CORE_PEER_CHAINCODEADDRESS", &chaincode)
            .env(
                "CORE_OPERATIONS_LISTENADDRESS",
                format!("127.0.0.1:{}", free_port()),
            )
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let started = (0..300).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains("Started peer"))
    });
    assert!(
        started,
        "the peer did not start: see {}",
        log_path.display()
    );

    let cli = |args: &[&str]| {
        let out = Command::new(fabric.bin.join("peer"))
            .args(args)
            .env("FABRIC_CFG_PATH", &fabric.config)
            .env("CORE_PEER_ADDRESS", &address)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "peer {args:?}: {text}");
        text
    };
    cli(&["channel", "join", "-b", block.to_str().unwrap()]);
    let info = cli(&["channel", "getinfo", "-c", "rustchannel"]);
    assert!(info.contains("\"height\":1"), "{info}");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("Created ledger [rustchannel] with genesis block"),
        "{log}"
    );
}

fn sample_org_policies() -> Policies {
    policies(&[
        ("Readers", "Signature", "OR('SampleOrg.member')"),
        ("Writers", "Signature", "OR('SampleOrg.member')"),
        ("Admins", "Signature", "OR('SampleOrg.admin')"),
        ("Endorsement", "Signature", "OR('SampleOrg.member')"),
    ])
}

/// System channels (a Consortiums group, no Application group): `RustSystem` and
/// Fabric's shipped SampleSingleMSP profiles.
#[test]
fn system_channel_blocks_are_configtxgens() {
    let Some(fabric) = Fabric::find() else { return };
    let msp = sample_msp(&fabric.configtxgen("RustSolo"));

    let mut orderer_org = sample_org(&msp);
    orderer_org.orderer_endpoints = vec!["127.0.0.1:7050".into()];
    let mut member = sample_org(&msp);
    member.policies = Some(sample_org_policies());
    // configtxgen ignores anchor peers in a consortium.
    member.anchor_peers = vec![AnchorPeer {
        host: "127.0.0.1".into(),
        port: 7051,
    }];
    // The sample MSP again, under another MSP ID.
    let mut second_msp = FabricMspConfig::decode(msp.config.clone()).unwrap();
    second_msp.name = "SecondMSP".into();
    let second = Organization {
        name: "SecondOrg".into(),
        msp_id: "SecondMSP".into(),
        msp: second_msp.into(),
        ..member.clone()
    };
    let mut rust_system = Profile::system(
        "mychannel",
        kafka(),
        vec![orderer_org.clone()],
        BTreeMap::from([
            (
                "SampleConsortium".to_owned(),
                ConsortiumProfile::new(vec![member.clone(), second]),
            ),
            ("EmptyConsortium".to_owned(), ConsortiumProfile::new(vec![])),
        ]),
    );
    rust_system.orderer.addresses = vec!["127.0.0.1:7050".into()];
    rust_system.orderer.max_channels = 5;

    let mut shipped_orderer = orderer_org;
    shipped_orderer.policies = Some(sample_org_policies());
    let single = |consensus| {
        Profile::system(
            "mychannel",
            consensus,
            vec![shipped_orderer.clone()],
            BTreeMap::from([(
                "SampleConsortium".to_owned(),
                ConsortiumProfile::new(vec![member.clone()]),
            )]),
        )
    };

    for (name, profile) in [
        ("RustSystem", rust_system),
        ("SampleSingleMSPSolo", single(Consensus::Solo)),
        ("SampleSingleMSPKafka", single(kafka())),
    ] {
        let theirs = fabric.decode(&format!("{name}-configtxgen"), &fabric.configtxgen(name));
        let block = profile.genesis_block().unwrap();
        let ours = fabric.decode(name, &block);
        assert!(
            ours["data"]["data"][0]["payload"]["data"]["config"]["channel_group"]["groups"]
                ["Application"]
                .is_null(),
            "{name}: a system channel has no Application group"
        );
        assert_same(
            name,
            &without_random_parts(ours),
            &without_random_parts(theirs),
        );
    }
}

/// The ConfigUpdate inside a CONFIG_UPDATE envelope without signatures.
fn unsigned_update(env: &Envelope) -> (ChannelHeader, Bytes) {
    let payload = Payload::decode(env.payload.clone()).unwrap();
    let header = ChannelHeader::decode(payload.header.unwrap().channel_header).unwrap();
    let update = ConfigUpdateEnvelope::decode(payload.data).unwrap();
    assert!(update.signatures.is_empty(), "configtxgen signs nothing");
    (header, update.config_update)
}

/// Values whose bytes hold maps, decoded and encoded again: configtxgen writes map
/// entries in Go's random iteration order (and an empty `Capability` as an
/// explicit empty field), prost in key order, so the same value has many
/// encodings. Everything else is compared as configtxgen wrote it.
fn normalized(mut update: ConfigUpdate) -> ConfigUpdate {
    fn group(g: &mut ConfigGroup) {
        for (key, value) in g.values.iter_mut() {
            value.value = match key.as_str() {
                "ACLs" => AcLs::decode(value.value.clone()).unwrap().encode_to_vec(),
                "Capabilities" => Capabilities::decode(value.value.clone())
                    .unwrap()
                    .encode_to_vec(),
                _ => continue,
            }
            .into();
        }
        g.groups.values_mut().for_each(group);
    }
    update.read_set.iter_mut().for_each(group);
    update.write_set.iter_mut().for_each(group);
    update
}

/// `configtxgen -outputCreateChannelTx` against `ChannelCreation`: the same
/// ConfigUpdate, field for field, and the same bytes up to the encoding of maps
/// inside values (see [`normalized`]).
#[test]
fn channel_creation_requests_are_configtxgens() {
    let Some(fabric) = Fabric::find() else { return };
    let mut shipped = ChannelCreation::new("newchan", "SampleConsortium", ["SampleOrg"]);
    shipped.capabilities = BTreeSet::from(["V2_5".to_owned()]);
    let mut custom = ChannelCreation::new(
        "other.chan-1",
        "SampleConsortium",
        ["SecondOrg", "SampleOrg"],
    );
    custom.policies = policies(&[
        ("Readers", "ImplicitMeta", "ANY Readers"),
        ("Writers", "ImplicitMeta", "ANY Writers"),
        ("Admins", "Signature", "OR('SampleOrg.admin')"),
    ]);

    for (profile, ours) in [("SampleSingleMSPChannel", shipped), ("RustCreate", custom)] {
        let (env, _) = fabric.create_tx(profile, &ours.channel_id);
        let (header, bytes) = unsigned_update(&env);
        assert_eq!(header.r#type, HeaderType::ConfigUpdate as i32);
        assert_eq!(header.channel_id, ours.channel_id);
        let theirs = normalized(ConfigUpdate::decode(bytes.clone()).unwrap());
        let update = ours.config_update().unwrap();
        assert_eq!(
            normalized(update.clone()),
            update,
            "ours is in canonical form"
        );
        assert_eq!(update, theirs, "{profile}");
        assert_eq!(update.encode_to_vec(), theirs.encode_to_vec(), "{profile}");
        // configtxlator reads ours as it reads theirs.
        let decode = |name: &str, b: &[u8]| {
            let path = fabric.path(name);
            std::fs::write(&path, b).unwrap();
            let json = fabric.run(
                "configtxlator",
                &[
                    "proto_decode",
                    "--type",
                    "common.ConfigUpdate",
                    "--input",
                    path.to_str().unwrap(),
                ],
            );
            serde_json::from_slice::<Value>(&json).unwrap()
        };
        assert_same(
            profile,
            &decode(&format!("{profile}-ours.pb"), &update.encode_to_vec()),
            &decode(&format!("{profile}-theirs.pb"), &bytes),
        );
    }
}
