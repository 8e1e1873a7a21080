//! Fabric v2.5's own binaries against the real `orderer`: a Fabric peer joins our
//! channel and commits every block we cut; configtxgen's genesis blocks (solo and
//! Kafka) boot the orderer, which serves them byte for byte and enforces their
//! policies, including a channel `Writers` signature policy that requires an admin.
//!
//! Needs `FABRIC_BIN` (Fabric's `bin/`, with its sample `config/` beside it, see
//! ../shared/fabric); without it each test prints one line and passes.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use bytes::Bytes;
use common::Orderer;
use common::fabric::{
    Configtx, Fabric, Peer, boot_from_file, broadcast_forbidden, broadcast_ok, config_copy, fabric,
    msp, new_org, sample_msp, wait_for_envelopes,
};
use orderer_api::proto::common::{Envelope, Payload, Status};
use orderer_cli::envelopes::Signer;
use orderer_testkit::Broker;
use prost::Message;

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
    // Block 0's config envelope and the 5.
    wait_for_envelopes(&o, "mychannel", &[], 1 + 5);

    let (block0, block0_bytes) = fabric.fetch(msp, &o, "mychannel", "0");
    let peer = Peer::start(&fabric, dir, msp);
    let peer_cli = |args: &[&str]| fabric.peer_cli(msp, Some(&peer.address), args);
    peer_cli(&["channel", "join", "-b", block0.to_str().unwrap()]);

    broadcast_ok(&o, "mychannel", &[], 20);
    // Wait for those to be cut, so that the newest block holds decodable ones only.
    wait_for_envelopes(&o, "mychannel", &[], 1 + 5 + 20);
    broadcast_decodable_transactions(&o.addr(), "mychannel", 3);
    wait_for_envelopes(&o, "mychannel", &[], 1 + 5 + 20 + 3);

    let (newest_path, height, hash) = fabric.newest(msp, &o, "mychannel");
    peer.wait_for_chain(&fabric, msp, "mychannel", height, &hash);

    let log = peer.log_text();
    for n in 0..height {
        let committed = format!("Committed block [{n}]");
        assert!(
            log.contains(&committed),
            "the peer's log lacks {committed:?}"
        );
    }
    peer.assert_no_refused_block();

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
    // configtxgen's block 0 holds one envelope (the genesis config).
    wait_for_envelopes(o, "syschan", &id, 1 + 10);

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
    let broker = Broker::start();
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

#[test]
fn a_signature_policy_requiring_an_admin_is_honoured_and_other_orgs_are_forbidden() {
    let Some(fabric) = fabric() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let orderer_org = new_org(dir, "orderer-org", "OrdererMSP", "orderer");
    let org1 = new_org(dir, "org1", "Org1MSP", "admin,client");
    let org2 = new_org(dir, "org2", "Org2MSP", "client");
    let cfg = dir.join("configtx");
    std::fs::create_dir_all(&cfg).unwrap();
    let configtx = Configtx {
        orderer_org: &orderer_org.join("msp"),
        orgs: &[("Org1", &org1.join("msp")), ("Org2", &org2.join("msp"))],
        addresses: &["127.0.0.1:7050".to_owned()],
        brokers: &[],
        batch_timeout: "500ms",
    };
    std::fs::write(cfg.join("configtx.yaml"), configtx.yaml()).unwrap();
    let genesis = dir.join("genesis.block");
    fabric.configtxgen(&cfg, "AdminWriters", "adminchan", &genesis);

    let orderer_msp = orderer_org.join("orderer/msp");
    let o = boot_from_file(dir, &genesis, msp(&orderer_msp, "OrdererMSP"), &[]);
    let (admin, client1, client2) = (
        org1.join("admin/msp"),
        org1.join("client/msp"),
        org2.join("client/msp"),
    );
    let admin = msp(&admin, "Org1MSP").cli_args();
    broadcast_ok(&o, "adminchan", &admin, 3);
    // Block 0's config envelope and the 3.
    wait_for_envelopes(&o, "adminchan", &admin, 1 + 3);

    // Members, but not admins, of Org1; and of an organization the policy ignores.
    for (id, client) in [("Org1MSP", &client1), ("Org2MSP", &client2)] {
        let reason = broadcast_forbidden(&o, "adminchan", &msp(client, id).cli_args());
        assert!(reason.contains("/Channel/Writers"), "{id} client: {reason}");
    }
}
