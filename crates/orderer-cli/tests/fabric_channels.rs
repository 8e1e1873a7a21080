//! A channel's life on two Kafka OSNs of ours (one Apache Kafka node, booted from a
//! configtxgen system-channel block), driven by Fabric v2.5's own binaries:
//! `peer channel create` through the system channel, two peers joining, an anchor-peer
//! update made the Fabric way (fetch config, configtxlator, compute_update, `peer
//! channel update`), an orderer-admin BatchSize update that changes how both OSNs cut,
//! refused updates (FORBIDDEN, stale read set), and the channel participation API with
//! `osnadmin` (a third OSN without channels joins, replays the channel from Kafka,
//! then leaves it).
//!
//! Needs `FABRIC_BIN` (Fabric's `bin/`, with its sample `config/` beside it, see
//! ../shared/fabric); without it each test prints one line and passes.

#![allow(clippy::unwrap_used)]
// Test scenarios read top to bottom; the length limit is for production code.
#![allow(clippy::too_many_lines)]

mod common;

use std::path::{Path, PathBuf};

use common::fabric::{
    Configtx, Fabric, KAFKA_ENV, Msp, Peer, boot_from_file, broadcast_ok, fabric, msp, new_org,
    run, wait_for,
};
use common::{Orderer, envelopes_in, exactly_envelopes, free_port, wait_for_identical_chains};
use orderer_testkit::Broker;
use serde_json::{Value, json};

const SYSTEM_CHANNEL: &str = "syschan";
const CHANNEL: &str = "appchannel";

/// Two Kafka OSNs on one Apache Kafka node, booted from configtxgen's system-channel block,
/// with the organizations' crypto and the channel creation transaction.
struct Network {
    // Processes before directories: fields drop in declaration order.
    /// OSN1 and OSN2, listening on the addresses the genesis block names.
    osns: Vec<Orderer>,
    /// Kept for its lifetime: the broker stops when dropped.
    _broker: Broker,
    fabric: Fabric,
    /// OSN1's Admin listener (channel participation API), when it has one.
    admin: Option<String>,
    dir: PathBuf,
    orderer_org: PathBuf,
    org1: PathBuf,
    org2: PathBuf,
    /// The local MSPs of OrdererMSP's, Org1MSP's and Org2MSP's admins.
    admins: [PathBuf; 3],
    _tmp: tempfile::TempDir,
}

impl Network {
    /// Crypto, configtx.yaml, configtxgen's genesis block and `appchannel.tx`, the
    /// broker and two OSNs serving the system channel; OSN1 with an Admin listener when
    /// `with_admin`.
    fn start(fabric: Fabric, with_admin: bool) -> Network {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let identities = "orderer1,orderer2,orderer3,admin";
        let orderer_org = new_org(&dir, "ordererorg", "OrdererMSP", identities);
        let org1 = new_org(&dir, "org1", "Org1MSP", "peer0,admin");
        let org2 = new_org(&dir, "org2", "Org2MSP", "peer0,admin");
        let broker = Broker::start();

        // The genesis block names the OSNs' addresses: their ports are chosen first.
        let addresses = [free_port(), free_port()].map(|port| format!("127.0.0.1:{port}"));
        let cfg = dir.join("configtx");
        std::fs::create_dir_all(&cfg).unwrap();
        // The batch timeout is long enough that envelopes broadcast at once share a
        // block, so that a MaxMessageCount change shows.
        let configtx = Configtx {
            orderer_org: &orderer_org.join("msp"),
            orgs: &[("Org1", &org1.join("msp")), ("Org2", &org2.join("msp"))],
            addresses: &addresses,
            brokers: &[broker.bootstrap()],
            batch_timeout: "2s",
        };
        std::fs::write(cfg.join("configtx.yaml"), configtx.yaml()).unwrap();
        let genesis = dir.join("syschan.block");
        fabric.configtxgen(&cfg, "SystemChannel", SYSTEM_CHANNEL, &genesis);
        let mut cmd = fabric.command("configtxgen", &cfg);
        let tx = dir.join("appchannel.tx");
        let tx_s = tx.to_str().unwrap();
        cmd.args(["-profile", "AppChannel", "-channelID", CHANNEL]);
        cmd.args(["-outputCreateChannelTx", tx_s]);
        run(cmd, "configtxgen -outputCreateChannelTx");

        let admin = with_admin.then(|| format!("127.0.0.1:{}", free_port()));
        let mut osns = Vec::new();
        for (i, address) in addresses.iter().enumerate() {
            let name = format!("orderer{}", i + 1);
            let osn_dir = dir.join(format!("osn{}", i + 1));
            std::fs::create_dir_all(&osn_dir).unwrap();
            let local = orderer_org.join(&name).join("msp");
            let port = address.rsplit_once(':').unwrap().1;
            let mut env = vec![("ORDERER_GENERAL_LISTENPORT", port)];
            env.extend(KAFKA_ENV);
            if let (0, Some(admin)) = (i, &admin) {
                env.push(("ORDERER_ADMIN_LISTENADDRESS", admin));
                env.push(("ORDERER_CHANNELPARTICIPATION_ENABLED", "true"));
            }
            let osn = boot_from_file(&osn_dir, &genesis, msp(&local, "OrdererMSP"), &env);
            osn.wait_for_log("Kafka chain started", 1);
            osns.push(osn);
        }
        let admins = [&orderer_org, &org1, &org2].map(|org| org.join("admin/msp"));
        Network {
            osns,
            _broker: broker,
            fabric,
            admin,
            dir,
            orderer_org,
            org1,
            org2,
            admins,
            _tmp: tmp,
        }
    }

    fn orderer_admin(&self) -> Msp<'_> {
        msp(&self.admins[0], "OrdererMSP")
    }

    fn org1_admin(&self) -> Msp<'_> {
        msp(&self.admins[1], "Org1MSP")
    }

    fn org2_admin(&self) -> Msp<'_> {
        msp(&self.admins[2], "Org2MSP")
    }

    /// `peer channel create` on OSN1 as Org1's admin: `appchannel`'s block 0, which
    /// OSN2 must serve too, byte for byte.
    fn create_channel(&self) -> PathBuf {
        let block0 = self.dir.join("appchannel.block");
        let tx = self.dir.join("appchannel.tx");
        let (osn1, tx, out) = (
            self.osns[0].addr(),
            tx.to_str().unwrap(),
            block0.to_str().unwrap(),
        );
        // The CLI polls for block 0 until the timeout (10 s by default).
        let timeout = "60s";
        let args = [
            "channel",
            "create",
            "-o",
            &osn1,
            "-c",
            CHANNEL,
            "-f",
            tx,
            "--outputBlock",
            out,
            "-t",
            timeout,
        ];
        self.fabric.peer_cli(self.org1_admin(), None, &args);
        let created = std::fs::read(&block0).unwrap();

        let served = wait_for("OSN2 to serve block 0 of appchannel", || {
            let fetched = self
                .fabric
                .try_fetch(self.org1_admin(), &self.osns[1], CHANNEL, "0");
            fetched.map(|(_, bytes)| bytes)
        });
        assert!(
            served == created,
            "block 0 of {CHANNEL} from OSN2 ({} bytes) differs from the one `peer channel \
             create` got from OSN1 ({} bytes)",
            served.len(),
            created.len()
        );
        block0
    }

    /// `appchannel`'s current config (configtxlator's JSON of the `common.Config`), as
    /// `peer channel fetch config` from OSN `osn` (0 or 1) gives it to `who`.
    fn config(&self, who: Msp<'_>, osn: usize) -> Value {
        let (path, _) = self.fabric.fetch(who, &self.osns[osn], CHANNEL, "config");
        let block = self.fabric.proto_decode_block(&path);
        let config = &block["data"]["data"][0]["payload"]["data"]["config"];
        assert!(
            config.is_object(),
            "`fetch config` from OSN{} gave no config block: {block}",
            osn + 1
        );
        config.clone()
    }

    /// Waits until both OSNs' config of `appchannel` satisfies `applied`; OSN1's.
    fn wait_for_config(&self, what: &str, applied: impl Fn(&Value) -> bool) -> Value {
        wait_for(&format!("{what} in both OSNs' config"), || {
            let configs = [0, 1].map(|osn| self.config(self.org1_admin(), osn));
            if configs.iter().all(&applied) {
                Ok(configs[0].clone())
            } else {
                Err(format!("OSN1: {}\nOSN2: {}", configs[0], configs[1]))
            }
        })
    }

    /// A CONFIG_UPDATE envelope for `appchannel` taking `original` to `updated`, made
    /// as Fabric's documentation does: both configs encoded by configtxlator,
    /// `compute_update`, the update decoded, wrapped in an Envelope JSON with a
    /// CONFIG_UPDATE header and encoded. Unsigned: `peer channel signconfigtx` and
    /// `peer channel update` sign it.
    fn config_update(&self, name: &str, original: &Value, updated: &Value) -> PathBuf {
        let work = self.dir.join("updates").join(name);
        std::fs::create_dir_all(&work).unwrap();
        let encode = |json: &Value, kind: &str, file: &str| {
            let (input, output) = (work.join(format!("{file}.json")), work.join(file));
            std::fs::write(&input, json.to_string()).unwrap();
            let (i, o) = (input.to_str().unwrap(), output.to_str().unwrap());
            let args = ["proto_encode", "--type", kind, "--input", i, "--output", o];
            self.fabric.configtxlator(&args);
            output
        };
        let original = encode(original, "common.Config", "original.pb");
        let updated = encode(updated, "common.Config", "updated.pb");
        let update = work.join("update.pb");
        let (o, u, out) = (original.to_str(), updated.to_str(), update.to_str());
        self.fabric.configtxlator(&[
            "compute_update",
            "--channel_id",
            CHANNEL,
            "--original",
            o.unwrap(),
            "--updated",
            u.unwrap(),
            "--output",
            out.unwrap(),
        ]);
        let args = [
            "proto_decode",
            "--type",
            "common.ConfigUpdate",
            "--input",
            out.unwrap(),
        ];
        let update = self.fabric.configtxlator(&args);
        let update: Value = serde_json::from_str(&update)
            .unwrap_or_else(|e| panic!("configtxlator decoded {name}'s update to no JSON: {e}"));
        // HeaderType CONFIG_UPDATE = 2.
        let envelope = json!({"payload": {
            "header": {"channel_header": {"channel_id": CHANNEL, "type": 2}},
            "data": {"config_update": update},
        }});
        encode(&envelope, "common.Envelope", "envelope.pb")
    }

    /// `peer channel signconfigtx` of `envelope` as `who` (adds a signature in place).
    fn sign(&self, who: Msp<'_>, envelope: &Path) {
        let args = ["channel", "signconfigtx", "-f", envelope.to_str().unwrap()];
        self.fabric.peer_cli(who, None, &args);
    }

    /// `peer channel update` of `envelope` to OSN1 as `who` (who signs it too): the
    /// CLI's output, or everything it printed when the update was refused.
    fn submit(&self, who: Msp<'_>, envelope: &Path) -> Result<String, String> {
        let osn1 = self.osns[0].addr();
        let envelope = envelope.to_str().unwrap();
        let args = [
            "channel", "update", "-o", &osn1, "-c", CHANNEL, "-f", envelope,
        ];
        self.fabric.try_peer_cli(who, None, &args)
    }

    /// Sets `/Channel/Orderer/BatchSize` MaxMessageCount to `count` the way an orderer
    /// admin does: OrdererMSP's admin signs, Org1's admin submits; returns once both
    /// OSNs have the new config.
    fn set_max_message_count(&self, count: u64) {
        let original = self.config(self.orderer_admin(), 0);
        let mut updated = original.clone();
        *max_message_count_mut(&mut updated) = json!(count);
        let envelope = self.config_update(&format!("batch-size-{count}"), &original, &updated);
        self.sign(self.orderer_admin(), &envelope);
        if let Err(refused) = self.submit(self.org1_admin(), &envelope) {
            panic!(
                "the orderer refused a BatchSize update signed by OrdererMSP's admin: {refused}"
            );
        }
        self.wait_for_config(&format!("MaxMessageCount {count}"), |c| {
            max_message_count(c) == Some(count)
        });
    }

    /// orderer-cli's arguments to read `appchannel` as Org1's admin.
    fn reader(&self) -> Vec<&str> {
        let mut args = vec!["--channel", CHANNEL];
        args.extend(self.org1_admin().cli_args());
        args
    }

    /// Broadcasts `count` orderer-cli envelopes to `osn` as Org1's admin.
    fn broadcast(&self, osn: &Orderer, count: usize) {
        broadcast_ok(osn, CHANNEL, &self.org1_admin().cli_args(), count);
    }

    /// Waits until `osns` hold the same `appchannel` (every block's header hash), with
    /// exactly `envelopes` envelopes in all (block 0's and the config updates'
    /// included); its block lines. More fails at once.
    fn identical_chains(&self, osns: &[&Orderer], envelopes: usize) -> Vec<String> {
        wait_for_identical_chains(osns, &self.reader(), |chain| {
            let held: usize = chain.iter().map(|l| envelopes_in(l)).sum();
            exactly_envelopes(held, envelopes, chain)
        })
    }

    /// `osnadmin ARGS` against the Admin listener at `admin`, over plain HTTP (osnadmin
    /// uses TLS only with --ca-file): the HTTP status and the JSON body (Null if none).
    fn osnadmin(&self, admin: &str, args: &[&str]) -> (u16, Value) {
        let mut cmd = self.fabric.command("osnadmin", &self.fabric.config);
        cmd.args(["--orderer-address", admin]).args(args);
        let what = format!("osnadmin {} on {admin}", args.join(" "));
        // osnadmin exits 0 whenever it got an answer, whatever the status.
        let out = run(cmd, &what);
        let (status, body) = out.split_once('\n').unwrap_or((&out, ""));
        let status = status
            .strip_prefix("Status: ")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("{what} printed no status line: {out}"));
        let body = match body.trim() {
            "" => Value::Null,
            text => serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("{what} printed a body that is no JSON ({e}): {out}")),
        };
        (status, body)
    }
}

fn max_message_count(config: &Value) -> Option<u64> {
    config["channel_group"]["groups"]["Orderer"]["values"]["BatchSize"]["value"]
        ["max_message_count"]
        .as_u64()
}

fn max_message_count_mut(config: &mut Value) -> &mut Value {
    &mut config["channel_group"]["groups"]["Orderer"]["values"]["BatchSize"]["value"]["max_message_count"]
}

fn org_values_mut<'a>(config: &'a mut Value, org: &str) -> &'a mut Value {
    &mut config["channel_group"]["groups"]["Application"]["groups"][org]["values"]
}

fn anchor_peers(config: &Value, org: &str) -> Value {
    config["channel_group"]["groups"]["Application"]["groups"][org]["values"]["AnchorPeers"]
        ["value"]["anchor_peers"]
        .clone()
}

/// Whether `text`, after the first `after`, has `word` among its words (split at
/// anything but letters and digits).
fn has_word_after(text: &str, after: &str, word: &str) -> bool {
    text.split_once(after).is_some_and(|(_, rest)| {
        rest.split(|c: char| !c.is_alphanumeric())
            .any(|w| w == word)
    })
}

#[test]
fn a_channel_is_created_joined_and_reconfigured_with_fabric_s_own_tools() {
    let Some(fabric) = fabric() else { return };
    let net = Network::start(fabric, false);
    let block0 = net.create_channel();
    let block0_s = block0.to_str().unwrap();

    // Two peers, one per organization, join with block 0.
    let orgs = [
        (&net.org1, "Org1MSP", net.org1_admin()),
        (&net.org2, "Org2MSP", net.org2_admin()),
    ];
    let peers: Vec<(Peer, Msp<'_>)> = orgs
        .iter()
        .map(|(org, id, admin)| {
            let dir = net.dir.join(format!("peer-{id}"));
            std::fs::create_dir_all(&dir).unwrap();
            let local = org.join("peer0/msp");
            let peer = Peer::start(&net.fabric, &dir, msp(&local, id));
            let args = ["channel", "join", "-b", block0_s];
            net.fabric.peer_cli(*admin, Some(&peer.address), &args);
            (peer, *admin)
        })
        .collect();
    let peers_follow_the_orderer = || {
        let (_, height, hash) = net.fabric.newest(net.org1_admin(), &net.osns[0], CHANNEL);
        for (peer, admin) in &peers {
            peer.wait_for_chain(&net.fabric, *admin, CHANNEL, height, &hash);
            peer.assert_no_refused_block();
        }
    };

    // Org1's anchor peer, added the Fabric way and submitted by Org1's admin.
    let original = net.config(net.org1_admin(), 0);
    assert_eq!(
        anchor_peers(&original, "Org1"),
        Value::Null,
        "a new channel has no anchor peer"
    );
    let (host, port) = peers[0].0.address.rsplit_once(':').unwrap();
    let anchor = json!([{"host": host, "port": port.parse::<u16>().unwrap()}]);
    let mut updated = original.clone();
    org_values_mut(&mut updated, "Org1")["AnchorPeers"] = json!({
        "mod_policy": "Admins",
        "value": {"anchor_peers": anchor},
        "version": "0",
    });
    let anchor_update = net.config_update("anchor-peers", &original, &updated);
    if let Err(refused) = net.submit(net.org1_admin(), &anchor_update) {
        panic!("the anchor peer update by Org1's admin was refused: {refused}");
    }
    net.wait_for_config("Org1's anchor peer", |c| anchor_peers(c, "Org1") == anchor);
    peers_follow_the_orderer();

    // Blocks before the BatchSize change: envelopes broadcast at once share a block.
    // Envelopes so far: block 0 and the anchor peer update.
    let mut envelopes = 2;
    net.broadcast(&net.osns[1], 6);
    envelopes += 6;
    let before = net.identical_chains(&[&net.osns[0], &net.osns[1]], envelopes);
    assert!(
        before[2..].iter().any(|l| envelopes_in(l) > 2),
        "with MaxMessageCount 10 and a 2 s batch timeout, 6 envelopes broadcast at once \
         should share a block; blocks: {before:?}"
    );

    // MaxMessageCount 10 -> 2, signed by OrdererMSP's admin: both OSNs cut by 2 after it.
    net.set_max_message_count(2);
    envelopes += 1;
    net.broadcast(&net.osns[0], 6);
    envelopes += 6;
    let after = net.identical_chains(&[&net.osns[0], &net.osns[1]], envelopes);
    assert!(
        after.starts_with(&before),
        "the chain changed under the update: before {before:?}, after {after:?}"
    );
    let config_block = &after[before.len()];
    assert_eq!(
        envelopes_in(config_block),
        1,
        "the block after {:?} should hold the config update alone",
        before.last()
    );
    let cut_after = &after[before.len() + 1..];
    let oversized: Vec<&String> = cut_after.iter().filter(|l| envelopes_in(l) > 2).collect();
    assert!(
        oversized.is_empty(),
        "blocks of more than MaxMessageCount 2 after the update: {oversized:?} (all: {after:?})"
    );
    let cut: usize = cut_after.iter().map(|l| envelopes_in(l)).sum();
    assert_eq!(cut, 6, "envelopes cut after the update, in {cut_after:?}");

    // The same kind of update signed by Org1's admin alone: its mod_policy is the
    // orderer organization's Admins. This project answers FORBIDDEN; Fabric 2.5's
    // orderer says BAD_REQUEST with the same reason (its ClassifyError keeps FORBIDDEN
    // for ErrPermissionDenied), which is the only difference this test found when run
    // against two Fabric 2.5 Kafka OSNs.
    let current = net.config(net.org1_admin(), 0);
    let mut updated = current.clone();
    *max_message_count_mut(&mut updated) = json!(3);
    let org1_only = net.config_update("batch-size-by-org1", &current, &updated);
    match net.submit(net.org1_admin(), &org1_only) {
        Ok(out) => panic!("a BatchSize update signed by Org1's admin only was accepted: {out}"),
        Err(refused) => assert!(
            refused.contains("FORBIDDEN")
                && refused.contains("BatchSize")
                && refused.contains("Admins"),
            "want FORBIDDEN naming BatchSize and its Admins policy: {refused}"
        ),
    }
    // The applied anchor-peer update again: its read set names Org1 at version 0, which
    // the update moved to 1.
    match net.submit(net.org1_admin(), &anchor_update) {
        Ok(out) => panic!("the anchor peer update was accepted twice: {out}"),
        Err(refused) => assert!(
            refused.contains("BAD_REQUEST")
                && has_word_after(&refused, "/Channel/Application/Org1", "0")
                && has_word_after(&refused, "/Channel/Application/Org1", "1"),
            "want BAD_REQUEST naming /Channel/Application/Org1 and versions 0 and 1: {refused}"
        ),
    }
    let unchanged = net.identical_chains(&[&net.osns[0], &net.osns[1]], envelopes);
    assert_eq!(unchanged, after, "refused updates changed the chain");
    let config = net.config(net.org1_admin(), 1);
    assert_eq!(
        max_message_count(&config),
        Some(2),
        "MaxMessageCount after the refused update"
    );

    // The peers validated every block, the config blocks included.
    peers_follow_the_orderer();
}

#[test]
fn osnadmin_lists_channels_and_a_new_osn_joins_replays_and_leaves_a_channel() {
    let Some(fabric) = fabric() else { return };
    let net = Network::start(fabric, true);
    let admin1 = net.admin.clone().unwrap();
    let block0 = net.create_channel();
    let block0_s = block0.to_str().unwrap();

    let (status, list) = net.osnadmin(&admin1, &["channel", "list"]);
    assert_eq!(status, 200, "osnadmin channel list on OSN1: {list}");
    let url = format!("/participation/v1/channels/{CHANNEL}");
    assert_eq!(
        list["systemChannel"],
        json!({"name": SYSTEM_CHANNEL, "url": format!("/participation/v1/channels/{SYSTEM_CHANNEL}")}),
        "OSN1's system channel in {list}"
    );
    assert_eq!(
        list["channels"],
        json!([{"name": CHANNEL, "url": url}]),
        "OSN1's application channels in {list}"
    );

    // Traffic and a config change, which a joining OSN must replay to cut the same blocks.
    let mut envelopes = 1;
    net.broadcast(&net.osns[0], 3);
    envelopes += 3;
    net.set_max_message_count(2);
    envelopes += 1;
    net.broadcast(&net.osns[1], 5);
    envelopes += 5;
    let chain = net.identical_chains(&[&net.osns[0], &net.osns[1]], envelopes);

    let info_args = ["channel", "list", "--channelID", CHANNEL];
    let (status, info) = net.osnadmin(&admin1, &info_args);
    assert_eq!(
        status, 200,
        "osnadmin channel list --channelID on OSN1: {info}"
    );
    let want = json!({
        "name": CHANNEL,
        "url": url,
        "consensusRelation": "other",
        "status": "active",
        "height": chain.len(),
    });
    assert_eq!(info, want, "OSN1's info on {CHANNEL} (chain {chain:?})");

    // With a system channel, joining is not allowed (Fabric's 405).
    let join_args = [
        "channel",
        "join",
        "--channelID",
        CHANNEL,
        "--config-block",
        block0_s,
    ];
    let (status, body) = net.osnadmin(&admin1, &join_args);
    assert_eq!(
        status, 405,
        "join on OSN1, which has a system channel: {body}"
    );

    // OSN3: no channel at start, an Admin listener.
    let osn3_dir = net.dir.join("osn3");
    std::fs::create_dir_all(&osn3_dir).unwrap();
    let local = net.orderer_org.join("orderer3/msp");
    let admin3 = format!("127.0.0.1:{}", free_port());
    let mut env = vec![
        ("ORDERER_GENERAL_BOOTSTRAPMETHOD", "none"),
        // No channel of its own: it joins them (allowed with the participation API).
        ("ORDERER_CHANNELS", "[]"),
        ("ORDERER_GENERAL_LOCALMSPDIR", local.to_str().unwrap()),
        ("ORDERER_GENERAL_LOCALMSPID", "OrdererMSP"),
        ("ORDERER_ADMIN_LISTENADDRESS", &admin3),
        ("ORDERER_CHANNELPARTICIPATION_ENABLED", "true"),
    ];
    env.extend(KAFKA_ENV);
    let osn3 = Orderer::start(&osn3_dir, &env);
    let (status, list) = net.osnadmin(&admin3, &["channel", "list"]);
    assert_eq!(status, 200, "osnadmin channel list on OSN3: {list}");
    let no_channels =
        list["systemChannel"].is_null() && list["channels"].as_array().is_none_or(Vec::is_empty);
    assert!(
        no_channels,
        "OSN3 started with no channel, yet lists {list}"
    );

    let (status, joined) = net.osnadmin(&admin3, &join_args);
    assert_eq!(status, 201, "osnadmin channel join on OSN3: {joined}");
    assert_eq!(
        joined["name"], CHANNEL,
        "the joined channel's info: {joined}"
    );
    // OSN3 replays the channel's Kafka topic from block 0 into the same chain.
    let replayed = net.identical_chains(&[&net.osns[0], &net.osns[1], &osn3], envelopes);
    assert_eq!(replayed, chain, "OSN3's replay of {CHANNEL}");
    let (status, list) = net.osnadmin(&admin3, &["channel", "list"]);
    assert_eq!(status, 200, "osnadmin channel list on OSN3: {list}");
    assert_eq!(
        list["channels"],
        json!([{"name": CHANNEL, "url": url}]),
        "OSN3's channels after the join, in {list}"
    );
    let (status, info) = net.osnadmin(&admin3, &info_args);
    assert_eq!(
        status, 200,
        "osnadmin channel list --channelID on OSN3: {info}"
    );
    assert_eq!(
        info["height"],
        json!(chain.len()),
        "OSN3's height in {info}"
    );

    // Leaving: the channel and its ledger are gone.
    let ledger = osn3_dir.join("ledger").join("chains").join(CHANNEL);
    assert!(
        ledger.is_dir(),
        "OSN3 keeps no ledger at {}",
        ledger.display()
    );
    let remove_args = ["channel", "remove", "--channelID", CHANNEL];
    let (status, body) = net.osnadmin(&admin3, &remove_args);
    assert_eq!(status, 204, "osnadmin channel remove on OSN3: {body}");
    let (status, list) = net.osnadmin(&admin3, &["channel", "list"]);
    assert_eq!(status, 200, "osnadmin channel list on OSN3: {list}");
    let empty = list["channels"].as_array().is_none_or(Vec::is_empty);
    assert!(
        empty,
        "OSN3 still lists a channel after the removal: {list}"
    );
    let (status, body) = net.osnadmin(&admin3, &info_args);
    assert_eq!(status, 404, "info on the removed channel: {body}");
    wait_for("OSN3 to delete the removed channel's ledger", || {
        (!ledger.exists())
            .then_some(())
            .ok_or(format!("{} still exists", ledger.display()))
    });
    let mut deliver = vec!["deliver", "--fail-if-not-ready"];
    deliver.extend(net.reader());
    let out = osn3.cli(&deliver);
    let said = common::stdout(&out);
    assert!(
        !out.status.success() && said.contains("NOT_FOUND"),
        "Deliver of the removed channel from OSN3 should be NOT_FOUND: {said}"
    );
}
