//! Channel creation against Fabric v2.5: configtxgen makes a system channel and a
//! channel creation request from MSPs generated here; `new_channel_config` accepts
//! the request signed by an org admin and refuses it unsigned. Then Fabric's own
//! orderer, booted from the same system channel, creates the channel for
//! `peer channel create`, and the config in its block 0 must equal what
//! `new_channel_config` makes from the same request: every OSN of a system
//! channel, ours or Fabric's, must build the same genesis config.
//!
//! Runs when Fabric's binaries are at `$FABRIC_BIN` (with `../config` beside them);
//! otherwise it prints one line and passes, except under CI (`CI=true`), where a
//! missing `FABRIC_BIN` fails.

// A test harness: a failed step should stop the test where it failed.
#![allow(clippy::unwrap_used)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use orderer_api::channelconfig::{ChannelValues, read_config_block};
use orderer_api::configtx::{UpdateErrorClass, new_channel_config};
use orderer_api::proto::common::{
    Block, ConfigEnvelope, ConfigSignature, ConfigUpdateEnvelope, Envelope, Payload,
    SignatureHeader,
};
use orderer_msp::generate::new_org;
use orderer_msp::{MspManager, SigningIdentity};
use prost::Message;

const SYSTEM: &str = "syschan";
const CHANNEL: &str = "mychannel";

struct Fabric {
    bin: PathBuf,
    /// Fabric's sample config: `core.yaml`, `orderer.yaml`.
    config: PathBuf,
}

/// Fabric's release at `FABRIC_BIN`, or `None` (said once) without it; under CI a
/// missing `FABRIC_BIN` fails (see [`orderer_testkit::fabric::fabric_bin`]).
fn fabric() -> Option<Fabric> {
    let bin = orderer_testkit::fabric::fabric_bin(
        &["configtxgen", "orderer", "peer"],
        &["orderer.yaml", "core.yaml"],
    )?;
    let config = bin.join("../config");
    Some(Fabric { bin, config })
}

impl Fabric {
    /// `tool` reading its configuration from `cfg` and from no inherited variable.
    fn command(&self, tool: &str, cfg: &Path) -> Command {
        let mut cmd = Command::new(self.bin.join(tool));
        for (key, _) in std::env::vars() {
            if ["CORE_", "FABRIC_", "ORDERER_", "CONFIGTX"]
                .iter()
                .any(|p| key.starts_with(p))
            {
                cmd.env_remove(key);
            }
        }
        cmd.env("FABRIC_CFG_PATH", cfg);
        cmd
    }
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// configtx.yaml for generated orgs: a solo system channel whose consortium holds
/// Org1 and Org2, and TwoOrgsChannel to create in it. V2_0 everywhere.
fn configtx_yaml(dir: &Path, orderer_port: u16) -> String {
    let org = |name: &str, id: &str, extra: &str| {
        format!(
            r#"
    - &{name}
      Name: {name}
      ID: {id}
      MSPDir: {msp}
      Policies:
        Readers: {{ Type: Signature, Rule: "OR('{id}.member')" }}
        Writers: {{ Type: Signature, Rule: "OR('{id}.member')" }}
        Admins: {{ Type: Signature, Rule: "OR('{id}.admin')" }}
        Endorsement: {{ Type: Signature, Rule: "OR('{id}.peer')" }}
{extra}"#,
            msp = dir.join(name).join("msp").display()
        )
    };
    let endpoints = format!("      OrdererEndpoints: [127.0.0.1:{orderer_port}]\n");
    format!(
        r#"Organizations:{orderer}{org1}{org2}
Capabilities:
    Channel: &ChannelCapabilities {{ V2_0: true }}
    Orderer: &OrdererCapabilities {{ V2_0: true }}
    Application: &ApplicationCapabilities {{ V2_0: true }}
Application: &ApplicationDefaults
    Organizations:
    Policies:
        Readers: {{ Type: ImplicitMeta, Rule: "ANY Readers" }}
        Writers: {{ Type: ImplicitMeta, Rule: "ANY Writers" }}
        Admins: {{ Type: ImplicitMeta, Rule: "MAJORITY Admins" }}
        LifecycleEndorsement: {{ Type: ImplicitMeta, Rule: "MAJORITY Endorsement" }}
        Endorsement: {{ Type: ImplicitMeta, Rule: "MAJORITY Endorsement" }}
    Capabilities: *ApplicationCapabilities
Orderer: &OrdererDefaults
    OrdererType: solo
    Addresses: [127.0.0.1:{orderer_port}]
    BatchTimeout: 2s
    BatchSize: {{ MaxMessageCount: 10, AbsoluteMaxBytes: 99 MB, PreferredMaxBytes: 512 KB }}
    MaxChannels: 0
    Organizations:
    Policies:
        Readers: {{ Type: ImplicitMeta, Rule: "ANY Readers" }}
        Writers: {{ Type: ImplicitMeta, Rule: "ANY Writers" }}
        Admins: {{ Type: ImplicitMeta, Rule: "MAJORITY Admins" }}
        BlockValidation: {{ Type: ImplicitMeta, Rule: "ANY Writers" }}
    Capabilities: *OrdererCapabilities
Channel: &ChannelDefaults
    Policies:
        Readers: {{ Type: ImplicitMeta, Rule: "ANY Readers" }}
        Writers: {{ Type: ImplicitMeta, Rule: "ANY Writers" }}
        Admins: {{ Type: ImplicitMeta, Rule: "MAJORITY Admins" }}
    Capabilities: *ChannelCapabilities
Profiles:
    SysChannel:
        <<: *ChannelDefaults
        Orderer:
            <<: *OrdererDefaults
            Organizations: [*OrdererOrg]
        Consortiums:
            SampleConsortium:
                Organizations: [*Org1, *Org2]
    TwoOrgsChannel:
        <<: *ChannelDefaults
        Consortium: SampleConsortium
        Application:
            <<: *ApplicationDefaults
            Organizations: [*Org1, *Org2]
"#,
        orderer = org("OrdererOrg", "OrdererMSP", &endpoints),
        org1 = org("Org1", "Org1MSP", ""),
        org2 = org("Org2", "Org2MSP", ""),
    )
}

struct Setup {
    dir: tempfile::TempDir,
    port: u16,
    system_block: PathBuf,
    create_tx: PathBuf,
}

impl Setup {
    fn new(fabric: &Fabric) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        for (name, id, identities) in [
            ("OrdererOrg", "OrdererMSP", &["orderer0", "admin"][..]),
            ("Org1", "Org1MSP", &["admin", "peer0"]),
            ("Org2", "Org2MSP", &["admin", "peer0"]),
        ] {
            let names: Vec<String> = identities.iter().map(|s| s.to_string()).collect();
            new_org(&dir.path().join(name), id, &names, 30).unwrap();
        }
        std::fs::write(
            dir.path().join("configtx.yaml"),
            configtx_yaml(dir.path(), port),
        )
        .unwrap();
        let system_block = dir.path().join("system.block");
        let create_tx = dir.path().join("create.tx");
        let mut cmd = fabric.command("configtxgen", dir.path());
        cmd.args(["-profile", "SysChannel", "-channelID", SYSTEM]);
        cmd.arg("-outputBlock").arg(&system_block);
        run(cmd, "configtxgen -outputBlock");
        let mut cmd = fabric.command("configtxgen", dir.path());
        cmd.args(["-profile", "TwoOrgsChannel", "-channelID", CHANNEL]);
        cmd.arg("-outputCreateChannelTx").arg(&create_tx);
        run(cmd, "configtxgen -outputCreateChannelTx");
        Setup {
            dir,
            port,
            system_block,
            create_tx,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn system(&self) -> (ChannelValues, MspManager) {
        let block = Block::decode(Bytes::from(std::fs::read(&self.system_block).unwrap())).unwrap();
        let values = ChannelValues::from_config_tx(read_config_block(&block).unwrap()).unwrap();
        let msps =
            MspManager::from_msp_configs(values.msps().values().map(|m| m.config())).unwrap();
        (values, msps)
    }

    fn create_tx(&self) -> Envelope {
        Envelope::decode(Bytes::from(std::fs::read(&self.create_tx).unwrap())).unwrap()
    }

    fn signer(&self, org: &str, msp_id: &str) -> SigningIdentity {
        SigningIdentity::load(&self.path(&format!("{org}/admin/msp")), msp_id).unwrap()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `env` with a config signature of `signer` added, as `peer channel signconfigtx`
/// adds one.
fn sign_config_update(env: &Envelope, signer: &SigningIdentity) -> Envelope {
    let mut payload = Payload::decode(env.payload.clone()).unwrap();
    let mut update = ConfigUpdateEnvelope::decode(payload.data.clone()).unwrap();
    let header = SignatureHeader {
        creator: signer.serialized().clone(),
        nonce: Bytes::copy_from_slice(&signer.nonce().unwrap()),
    }
    .encode_to_vec();
    let mut signed = header.clone();
    signed.extend_from_slice(&update.config_update);
    update.signatures.push(ConfigSignature {
        signature_header: header.into(),
        signature: signer.sign(&signed).unwrap().into(),
    });
    payload.data = update.encode_to_vec().into();
    Envelope {
        payload: payload.encode_to_vec().into(),
        signature: Bytes::new(),
    }
}

#[test]
fn configtxgen_creation_request_signed_by_an_org_admin_creates_the_channel() {
    let Some(fabric) = fabric() else { return };
    let setup = Setup::new(&fabric);
    let (system, msps) = setup.system();
    let request = setup.create_tx();

    let err = new_channel_config(system.config(), SYSTEM, &request, &msps, 1).unwrap_err();
    assert_eq!(err.class(), UpdateErrorClass::Forbidden, "{err}");
    assert!(
        err.message()
            .contains("/Channel/Application/ChannelCreationPolicy"),
        "{err}"
    );

    let signed = sign_config_update(&request, &setup.signer("Org1", "Org1MSP"));
    let created = new_channel_config(system.config(), SYSTEM, &signed, &msps, 1).unwrap();
    let config = created.config.clone().unwrap();
    assert_eq!(config.sequence, 1);
    let values = ChannelValues::new(CHANNEL, config.clone()).unwrap();
    assert_eq!(values.consortium(), Some("SampleConsortium"));
    let orgs: Vec<_> = values.msps().keys().cloned().collect();
    assert_eq!(orgs, ["OrdererMSP", "Org1MSP", "Org2MSP"]);
    // Fabric's template rules, visible in the result: the request changes the
    // Application group (version 1, its Admins policy new at version 0); the
    // rest is the system channel's at version 0.
    let root = config.channel_group.as_ref().unwrap();
    let app = &root.groups["Application"];
    assert_eq!((app.version, app.mod_policy.as_str()), (1, "Admins"));
    assert_eq!(app.policies["Admins"].version, 0);
    assert!(!app.policies.contains_key("ChannelCreationPolicy"));
    assert_eq!(root.mod_policy, "Admins");
    assert_eq!(root.values["Consortium"].mod_policy, "Admins");
    let system_root = system.channel_group().unwrap();
    assert_eq!(root.groups["Orderer"], system_root.groups["Orderer"]);
    assert_eq!(
        app.groups["Org1"],
        system_root.groups["Consortiums"].groups["SampleConsortium"].groups["Org1"]
    );

    // A signer of an org outside the consortium's policy scope (the orderer org).
    let by_orderer = sign_config_update(&request, &setup.signer("OrdererOrg", "OrdererMSP"));
    let err = new_channel_config(system.config(), SYSTEM, &by_orderer, &msps, 1).unwrap_err();
    assert_eq!(err.class(), UpdateErrorClass::Forbidden, "{err}");
}

/// Fabric's orderer, killed on drop.
struct FabricOrderer(Child);

impl Drop for FabricOrderer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn fabric_orderer_and_new_channel_config_build_the_same_genesis_config() {
    let Some(fabric) = fabric() else { return };
    let setup = Setup::new(&fabric);
    let (system, msps) = setup.system();

    let log = std::fs::File::create(setup.path("orderer.log")).unwrap();
    let mut cmd = fabric.command("orderer", &fabric.config);
    let port = setup.port.to_string();
    cmd.envs([
        ("ORDERER_GENERAL_LISTENADDRESS", "127.0.0.1"),
        ("ORDERER_GENERAL_LISTENPORT", port.as_str()),
        ("ORDERER_GENERAL_BOOTSTRAPMETHOD", "file"),
        ("ORDERER_GENERAL_LOCALMSPID", "OrdererMSP"),
        ("ORDERER_CHANNELPARTICIPATION_ENABLED", "false"),
        ("ORDERER_OPERATIONS_LISTENADDRESS", "127.0.0.1:0"),
        ("ORDERER_ADMIN_LISTENADDRESS", "127.0.0.1:0"),
    ])
    .env("ORDERER_GENERAL_BOOTSTRAPFILE", &setup.system_block)
    .env(
        "ORDERER_GENERAL_LOCALMSPDIR",
        setup.path("OrdererOrg/orderer0/msp"),
    )
    .env("ORDERER_FILELEDGER_LOCATION", setup.path("ledger"))
    .env("ORDERER_CONSENSUS_WALDIR", setup.path("wal"))
    .env("ORDERER_CONSENSUS_SNAPDIR", setup.path("snap"))
    .stdout(log.try_clone().unwrap())
    .stderr(log);
    let _orderer = FabricOrderer(cmd.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", setup.port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "Fabric's orderer did not listen: {}",
            std::fs::read_to_string(setup.path("orderer.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let block0 = setup.path("mychannel.block");
    let mut cmd = fabric.command("peer", &fabric.config);
    cmd.env("CORE_PEER_MSPCONFIGPATH", setup.path("Org1/admin/msp"))
        .env("CORE_PEER_LOCALMSPID", "Org1MSP")
        .args(["channel", "create", "-o", &format!("127.0.0.1:{port}")])
        .args(["-c", CHANNEL, "-f"])
        .arg(&setup.create_tx)
        .arg("--outputBlock")
        .arg(&block0)
        .stdin(Stdio::null());
    run(cmd, "peer channel create");

    let block = Block::decode(Bytes::from(std::fs::read(&block0).unwrap())).unwrap();
    let env = Envelope::decode(block.data.unwrap().data[0].clone()).unwrap();
    let fabric_config = ConfigEnvelope::decode(Payload::decode(env.payload).unwrap().data).unwrap();
    let request = fabric_config.last_update.clone().unwrap();
    let fabric_root = fabric_config
        .config
        .as_ref()
        .unwrap()
        .channel_group
        .as_ref()
        .unwrap();
    assert!(
        fabric_root.groups["Application"]
            .groups
            .contains_key("Org2")
    );
    eprintln!(
        "Fabric's genesis config of {CHANNEL}: {} bytes",
        fabric_config.config.as_ref().unwrap().encoded_len()
    );

    // One existing channel: the system channel.
    let ours = new_channel_config(system.config(), SYSTEM, &request, &msps, 1).unwrap();
    assert_eq!(ours.last_update.as_ref(), Some(&request));
    assert!(
        ours.config == fabric_config.config,
        "our genesis config differs from Fabric's:\nours:   {:?}\nfabric: {:?}",
        ours.config,
        fabric_config.config
    );
    // And so do the bytes, map entries in key order.
    assert_eq!(ours.encode_to_vec(), fabric_config.encode_to_vec());
}
