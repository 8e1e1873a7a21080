//! Seed 003's promise about the Kafka cluster, on Apache Kafka's own four-node KRaft
//! cluster in seed 003's shape (three brokers that are controllers too, one broker
//! only; replication factor 3, min.insync.replicas 2, unclean leader election off):
//! with one broker down every channel stays writable and readable.
//!
//! Three real `orderer` OSNs of one Kafka channel, clients that resend (`orderer-cli
//! bench --resend`) on all three, and at the end `orderer-cli chain-check`: identical
//! chains header for header (Kafka offsets in the metadata included), every
//! acknowledged envelope exactly once by tx id.
//!
//! These tests run one at a time (nextest group `kafka-cluster`): four JVMs.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/kafka.rs"]
mod kafka;
#[path = "common/syschannel.rs"]
mod syschannel;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Orderer, cli_bin, envelopes_in, exactly_envelopes, free_port, ok, stdout};
use orderer_testkit::{ClusterSpec, KafkaCluster, metric};

const CHANNEL: &str = "mychannel";
/// How long metadata may take to show a failover or a replica's return.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(90);
/// How long one broker stays down in the outage test: "for minutes", well past
/// `replica.lag.time.max.ms` (30 s) and the broker's session timeout.
const OUTAGE: Duration = Duration::from_secs(120);

/// `ORDERER_*` settings of OSN `name` on `cluster`: the channel's topic with three
/// replicas, every OSN with the same block 0.
fn osn_env(cluster: &KafkaCluster, name: &str) -> Vec<(String, String)> {
    [
        ("ORDERER_ORDERER_ORDERERTYPE", "kafka".to_owned()),
        (
            "ORDERER_ORDERER_KAFKA_BROKERS",
            format!("[{}]", cluster.brokers().join(",")),
        ),
        ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "3".to_owned()),
        ("ORDERER_KAFKA_CLIENTID", name.to_owned()),
        ("ORDERER_KAFKA_RETRY_SHORTINTERVAL", "300ms".to_owned()),
        (
            "ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT",
            "100".to_owned(),
        ),
        ("ORDERER_ORDERER_BATCHTIMEOUT", "500ms".to_owned()),
        (
            "ORDERER_ORDERER_ADDRESSES",
            "[osn0.example.com:7050,osn1.example.com:7050,osn2.example.com:7050]".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Seed 003's cluster and three OSNs whose channel has started.
struct Network {
    cluster: KafkaCluster,
    osns: Vec<Orderer>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Network {
    fn start() -> Network {
        Network::on(KafkaCluster::start(ClusterSpec::seed003()), &[])
    }

    /// Three OSNs on `cluster`, with `extra` settings beside [`osn_env`]'s.
    fn on(cluster: KafkaCluster, extra: &[(&str, &str)]) -> Network {
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        let osns = dirs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let env = osn_env(&cluster, &format!("osn{i}"));
                let mut env: Vec<(&str, &str)> =
                    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                env.extend_from_slice(extra);
                Orderer::start(d.path(), &env)
            })
            .collect::<Vec<_>>();
        for o in &osns {
            o.wait_for_log("Kafka chain started", 1);
        }
        Network {
            cluster,
            osns,
            _dirs: dirs,
        }
    }

    fn bootstrap(&self) -> String {
        self.cluster.bootstrap()
    }

    /// Envelopes answered SUCCESS on the channel so far, over all OSNs.
    fn acked_so_far(&self) -> u64 {
        self.osns
            .iter()
            .map(|o| {
                let (_, text) = orderer_testkit::http(&o.ops(), "GET", "/metrics", None);
                metric(
                    &text,
                    "broadcast_processed_count",
                    &[
                        ("channel", CHANNEL),
                        ("type", "ENDORSER_TRANSACTION"),
                        ("status", "SUCCESS"),
                    ],
                )
                .unwrap_or(0.0) as u64
            })
            .sum()
    }

    /// Waits until the OSNs have acknowledged at least `count` envelopes in all,
    /// failing with `why()` after [`CLUSTER_TIMEOUT`].
    fn wait_for_acks(&self, count: u64, why: impl Fn() -> String) {
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        while self.acked_so_far() < count {
            assert!(Instant::now() < deadline, "{}", why());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// chain-check over the three OSNs and the clients' acknowledged tx ids.
    fn chain_check(&self, acked: &[PathBuf]) -> serde_json::Value {
        let mut args = vec!["chain-check".to_owned(), "--json".to_owned()];
        args.extend(["--channel".to_owned(), CHANNEL.to_owned()]);
        args.extend(["--wait".to_owned(), "120".to_owned()]);
        for o in &self.osns {
            args.extend(["--server".to_owned(), o.addr()]);
        }
        for a in acked {
            args.extend(["--acked".to_owned(), a.display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ok(common::cli(&args));
        serde_json::from_str(out.lines().last().unwrap())
            .unwrap_or_else(|e| panic!("chain-check's JSON: {e}: {out}"))
    }
}

/// A resending client: `count` envelopes at `rate` per second over every OSN,
/// writing the tx ids answered SUCCESS to `acked`. It gives up on a stream that
/// answers nothing for 2 s and sends its unanswered envelopes again elsewhere, as an
/// SDK with a short timeout does: shorter than a leader failover (the cluster fences
/// a dead broker after 4 s), so that the kills make clients resend envelopes the
/// brokers may still have written.
fn client(osns: &[Orderer], first: usize, count: u64, rate: f64, acked: &Path) -> Child {
    let mut cmd = Command::new(cli_bin());
    cmd.arg("bench");
    for i in 0..osns.len() {
        cmd.args(["--server", &osns[(first + i) % osns.len()].addr()]);
    }
    cmd.args(["--channel", CHANNEL, "--resend", "--json"])
        .args(["--count", &count.to_string(), "--size", "512"])
        .args(["--streams", "2", "--window", "32"])
        .args(["--rate", &format!("{rate:.1}")])
        .args(["--timeout", "2", "--backoff-ms", "500", "--deadline", "400"])
        .arg("--acked-out")
        .arg(acked)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A client's final JSON report.
fn report(child: Child) -> serde_json::Value {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let json: serde_json::Value = text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "a client printed no report: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(out.status.success(), "a client failed: {json}");
    json
}

/// Asserts what chain-check says of a run: identical chains (header hashes and
/// Kafka offsets), every acknowledged envelope present exactly once.
fn assert_exactly_once(check: &serde_json::Value, acked: u64) {
    assert_eq!(check["identical"], true, "chains differ: {check}");
    assert_eq!(check["acked"], acked, "{check}");
    assert_eq!(check["lost"], 0, "acknowledged envelopes missing: {check}");
    assert_eq!(check["duplicates"], 0, "envelopes ordered twice: {check}");
}

#[test]
fn each_broker_sigkilled_in_turn_under_load_loses_nothing_and_orders_each_envelope_once() {
    let mut net = Network::start();
    let bootstrap = net.bootstrap();
    let initial = kafka::wait_for_partition(
        &bootstrap,
        CHANNEL,
        "three in-sync replicas",
        CLUSTER_TIMEOUT,
        |p| p.leader > 0 && p.isr.len() == 3,
    );
    assert_eq!(
        initial.replicas.len(),
        3,
        "replication factor 3: {initial:?}"
    );

    let files = tempfile::tempdir().unwrap();
    let acked: Vec<PathBuf> = (0..3)
        .map(|k| files.path().join(format!("acked-{k}.txt")))
        .collect();
    // About 100 s of load: every broker is down in turn within it.
    let (per_client, rate) = (2400, 24.0);
    let clients: Vec<Child> = (0..3)
        .map(|k| client(&net.osns, k, per_client, rate, &acked[k]))
        .collect();

    let mut killed = Vec::new();
    let mut leader_kills = 0;
    for _ in net.cluster.ids() {
        let now = kafka::partition(&bootstrap, CHANNEL).unwrap();
        // The current leader while it has not been down yet, else the next broker
        // that has not.
        let victim = if now.leader > 0 && !killed.contains(&(now.leader as u32)) {
            now.leader as u32
        } else {
            *net.cluster
                .ids()
                .iter()
                .find(|id| !killed.contains(*id))
                .unwrap()
        };
        let was_leader = victim as i32 == now.leader;
        std::thread::sleep(Duration::from_secs(3));
        net.cluster.kill(victim);
        killed.push(victim);
        let acked_at_kill = net.acked_so_far();
        if was_leader {
            leader_kills += 1;
            let moved = kafka::wait_for_partition(
                &bootstrap,
                CHANNEL,
                "a new leader",
                CLUSTER_TIMEOUT,
                |p| p.leader > 0 && p.leader != victim as i32,
            );
            assert_ne!(moved.leader, victim as i32);
        }
        // Down for a while under load: the channel stays writable.
        net.wait_for_acks(acked_at_kill + 20, || {
            format!(
                "with broker {victim} down no more envelopes were acknowledged (leader before: {}, after: {:?})",
                now.leader,
                kafka::partition(&bootstrap, CHANNEL)
            )
        });
        std::thread::sleep(Duration::from_secs(4));
        net.cluster.restart(victim);
        // Back in sync before the next broker goes down (min.insync.replicas 2 of 3).
        kafka::wait_for_partition(
            &bootstrap,
            CHANNEL,
            "three in-sync replicas again",
            CLUSTER_TIMEOUT,
            |p| p.isr.len() == 3,
        );
    }
    assert!(
        leader_kills >= 2,
        "only {leader_kills} of the kills hit the leader"
    );

    let reports: Vec<serde_json::Value> = clients.into_iter().map(report).collect();
    let acked_total: u64 = reports.iter().map(|r| r["acked"].as_u64().unwrap()).sum();
    let resent: u64 = reports.iter().map(|r| r["resent"].as_u64().unwrap()).sum();
    assert_eq!(
        acked_total,
        3 * per_client,
        "every envelope acknowledged: {reports:?}"
    );
    assert!(
        resent > 0,
        "no client had to resend: the kills were not felt: {reports:?}"
    );
    assert_exactly_once(&net.chain_check(&acked), acked_total);
}

/// `orderer-cli broadcast` of `count` envelopes on `channel` through `o` as `who`,
/// every one answered SUCCESS.
fn broadcast(o: &Orderer, channel: &str, who: &syschannel::Identity, count: usize) {
    let count_s = count.to_string();
    let mut args = vec!["broadcast", "--channel", channel, "--count", &count_s];
    args.extend(who.args());
    let out = o.cli(&args);
    let said = stdout(&out);
    assert!(
        out.status.success() && said.contains(&format!("acked {count} of {count}")),
        "broadcast of {count} on {channel} through {}: {said}{}",
        o.addr(),
        common::stderr(&out)
    );
}

/// Waits until `osns` serve `channel` as one chain holding exactly `envelopes`
/// envelopes (block 0's included).
fn exactly(osns: &[&Orderer], channel: &str, who: &syschannel::Identity, envelopes: usize) {
    let mut args = vec!["--channel", channel];
    args.extend(who.args());
    common::wait_for_identical_chains(osns, &args, |blocks| {
        let held = blocks.iter().map(|b| envelopes_in(b)).sum();
        exactly_envelopes(held, envelopes, blocks)
    });
}

/// Waits until every OSN serves `channel` (its chain started: block 0 read with
/// FAIL_IF_NOT_READY), and asserts they serve the block 0 `channel create` wrote.
fn served_alike(
    net: &syschannel::Network,
    osns: &[&Orderer],
    channel: &str,
    who: &syschannel::Identity,
) {
    let written = std::fs::read(net.block_file(channel)).unwrap();
    for o in osns {
        let served = syschannel::block0(&o.addr(), channel, who);
        assert!(
            prost::Message::encode_to_vec(&served) == written,
            "OSN {} serves another block 0 of {channel}",
            o.addr()
        );
    }
}

#[test]
fn with_one_broker_down_for_minutes_channels_stay_writable_a_channel_is_created_and_one_joined() {
    let mut cluster = KafkaCluster::start(ClusterSpec::seed003());
    let bootstrap = cluster.bootstrap();
    let net = syschannel::Network::start(&syschannel::Spec {
        brokers: &cluster.brokers(),
        osns: 3,
        spare_orderers: 1,
        replication_factor: 3,
    });
    let admin = net.org1_admin();
    let osns: Vec<&Orderer> = net.osns.iter().collect();

    // A channel made before the outage, with some traffic.
    let out = ok(net.create(osns[0], "before", &admin));
    assert!(out.starts_with("SUCCESS: created channel before"), "{out}");
    served_alike(&net, &osns, "before", &admin);
    broadcast(osns[1], "before", &admin, 10);
    let mut before = 11;
    exactly(&osns, "before", &admin, before);

    // Down goes the leader of the system channel's partition, through which channels
    // are created.
    let system = kafka::wait_for_partition(
        &bootstrap,
        syschannel::SYSTEM,
        "three in-sync replicas",
        CLUSTER_TIMEOUT,
        |p| p.leader > 0 && p.isr.len() == 3,
    );
    let victim = system.leader as u32;
    cluster.kill(victim);
    let down_at = Instant::now();
    for topic in [syschannel::SYSTEM, "before"] {
        kafka::wait_for_partition(
            &bootstrap,
            topic,
            "a leader and an ISR without the killed broker",
            CLUSTER_TIMEOUT,
            |p| p.leader > 0 && p.leader != victim as i32 && !p.isr.contains(&(victim as i32)),
        );
    }

    // A new channel, created through the system channel with one broker down: its
    // topic gets three replicas on the three brokers left.
    let out = ok(net.create(osns[2], "during", &admin));
    assert!(out.starts_with("SUCCESS: created channel during"), "{out}");
    served_alike(&net, &osns, "during", &admin);
    let during_topic = kafka::wait_for_partition(
        &bootstrap,
        "during",
        "three in-sync replicas",
        CLUSTER_TIMEOUT,
        |p| p.isr.len() == 3,
    );
    assert!(
        !during_topic.replicas.contains(&(victim as i32)),
        "the new channel's replicas include the dead broker {victim}: {during_topic:?}"
    );
    broadcast(osns[0], "during", &admin, 5);
    let mut during = 6;
    exactly(&osns, "during", &admin, during);

    // A fourth OSN with no channel joins `before` through the participation API,
    // and replays it from Kafka with the broker still down.
    let admin_addr = format!("127.0.0.1:{}", free_port());
    let joiner = net.start_osn(
        "osn3",
        "orderer3",
        &[
            ("ORDERER_GENERAL_BOOTSTRAPMETHOD", "none"),
            ("ORDERER_CHANNELS", "[]"),
            ("ORDERER_ADMIN_LISTENADDRESS", &admin_addr),
            ("ORDERER_CHANNELPARTICIPATION_ENABLED", "true"),
        ],
    );
    let block0 = std::fs::read(net.block_file("before")).unwrap();
    let (status, body) = orderer_testkit::participation_join(&admin_addr, &block0);
    assert_eq!(status, 201, "joining `before` on the fourth OSN: {body}");
    let all: Vec<&Orderer> = osns.iter().copied().chain([&joiner]).collect();
    exactly(&all, "before", &admin, before);

    // Both channels writable and readable, through every OSN, until the broker has
    // been down for minutes.
    let mut round = 0;
    while down_at.elapsed() < OUTAGE {
        broadcast(all[round % all.len()], "before", &admin, 10);
        before += 10;
        broadcast(osns[round % osns.len()], "during", &admin, 10);
        during += 10;
        exactly(&all, "before", &admin, before);
        exactly(&osns, "during", &admin, during);
        round += 1;
        std::thread::sleep(Duration::from_secs(3));
    }
    assert!(round > 5, "only {round} rounds while the broker was down");
    assert!(
        !cluster.running(victim),
        "broker {victim} came back during the outage"
    );

    // Back: every replica in sync again, and nothing written meanwhile is lost.
    cluster.restart(victim);
    for topic in [syschannel::SYSTEM, "before", "during"] {
        kafka::wait_for_partition(
            &bootstrap,
            topic,
            "every replica in sync",
            CLUSTER_TIMEOUT,
            |p| p.leader > 0 && p.isr.len() == p.replicas.len(),
        );
    }
    broadcast(&joiner, "before", &admin, 3);
    broadcast(osns[1], "during", &admin, 3);
    exactly(&all, "before", &admin, before + 3);
    exactly(&osns, "during", &admin, during + 3);
}

/// `orderer-cli bench --resend` of `count` envelopes through `osn` for at most
/// `deadline` seconds (an answer awaited 15 s), writing the acknowledged tx ids to
/// `acked`; returns its JSON report.
fn bench_once(osn: &Orderer, count: u64, deadline: u64, acked: &Path) -> serde_json::Value {
    let out = common::cli(&[
        "bench",
        "--server",
        &osn.addr(),
        "--channel",
        CHANNEL,
        "--count",
        &count.to_string(),
        "--size",
        "256",
        "--streams",
        "1",
        "--json",
        "--resend",
        "--timeout",
        "15",
        "--deadline",
        &deadline.to_string(),
        "--acked-out",
        acked.to_str().unwrap(),
    ]);
    let text = common::stdout(&out);
    text.lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("bench printed no report: {text}{}", common::stderr(&out)))
}

#[test]
fn with_both_other_replicas_down_broadcast_is_refused_naming_the_replicas_and_nothing_is_lost() {
    let cluster = KafkaCluster::start(ClusterSpec::seed003());
    let bootstrap = cluster.bootstrap();
    // The channel's replicas are 4 (the broker-only node, preferred leader), 1 and 2:
    // with 4 and 1 down the controller quorum (1, 2, 3) keeps a majority, and the
    // partition keeps one in-sync replica, below min.insync.replicas 2.
    kafka::create_topic(&bootstrap, CHANNEL, &[4, 1, 2]);
    // Records time out after 3 s x 3 attempts instead of Fabric's 10 s x 4.
    let mut net = Network::on(
        cluster,
        &[
            ("ORDERER_KAFKA_RETRY_NETWORKTIMEOUTS_WRITETIMEOUT", "3s"),
            ("ORDERER_KAFKA_RETRY_PRODUCER_RETRYMAX", "2"),
        ],
    );
    let state = kafka::wait_for_partition(
        &bootstrap,
        CHANNEL,
        "three in-sync replicas",
        CLUSTER_TIMEOUT,
        |p| p.isr.len() == 3,
    );
    assert_eq!(state.replicas, vec![4, 1, 2], "{state:?}");
    assert!(!net.cluster.is_controller(4) && net.cluster.is_controller(1));

    let files = tempfile::tempdir().unwrap();
    let before = files.path().join("acked-before.txt");
    let during = files.path().join("acked-during.txt");
    let after = files.path().join("acked-after.txt");
    let r = bench_once(&net.osns[0], 50, 120, &before);
    assert_eq!(r["acked"], 50, "{r}");

    net.cluster.kill(4);
    net.cluster.kill(1);
    let short = kafka::wait_for_partition(
        &bootstrap,
        CHANNEL,
        "one in-sync replica",
        CLUSTER_TIMEOUT,
        |p| p.isr == vec![2],
    );
    assert_eq!(short.leader, 2, "{short:?}");

    // Broadcast is refused, SERVICE_UNAVAILABLE, with a reason that names the
    // replicas; nothing is acknowledged.
    let r = bench_once(&net.osns[1], 5, 25, &during);
    assert_eq!(r["acked"], 0, "acknowledged with one in-sync replica: {r}");
    let reasons = r["reasons"].to_string();
    assert!(
        reasons.contains("SERVICE_UNAVAILABLE")
            && reasons.contains("in-sync replicas [2] of replicas [4, 1, 2]"),
        "the refusal does not name the replicas: {r}"
    );
    let (status, body) = orderer_testkit::http(&net.osns[1].ops(), "GET", "/healthz", None);
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("replicas [4, 1, 2]"),
        "healthz does not say why: {body}"
    );

    // One replica back: min.insync.replicas is met again and ordering resumes.
    net.cluster.restart(1);
    kafka::wait_for_partition(
        &bootstrap,
        CHANNEL,
        "two in-sync replicas",
        CLUSTER_TIMEOUT,
        |p| p.isr.len() >= 2,
    );
    let deadline = Instant::now() + CLUSTER_TIMEOUT;
    loop {
        let (status, _) = orderer_testkit::http(&net.osns[1].ops(), "GET", "/healthz", None);
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the OSN stayed unhealthy with two in-sync replicas"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let r = bench_once(&net.osns[2], 50, 120, &after);
    assert_eq!(r["acked"], 50, "{r}");
    assert_exactly_once(&net.chain_check(&[before, during, after]), 100);
}

/// The tx id of every envelope in the regular records of `topic`'s partition.
fn tx_ids_in_partition(bootstrap: &str, topic: &str) -> Vec<String> {
    use orderer_api::proto::common::{ChannelHeader, Envelope, Payload};
    use orderer_api::proto::orderer::{KafkaMessage, kafka_message};
    use prost::Message;
    kafka::records(bootstrap, topic)
        .into_iter()
        .filter_map(
            |record| match KafkaMessage::decode(record.as_slice()).ok()?.r#type? {
                kafka_message::Type::Regular(r) => Some(r.payload),
                _ => None,
            },
        )
        .filter_map(|env| {
            let env = Envelope::decode(env).ok()?;
            let payload = Payload::decode(env.payload).ok()?;
            let ch = ChannelHeader::decode(payload.header?.channel_header).ok()?;
            (!ch.tx_id.is_empty()).then_some(ch.tx_id)
        })
        .collect()
}

/// A client that does not resend: `count` envelopes at `rate` per second through
/// `osn`, one stream; its JSON report (acknowledgements, latency).
fn steady_client(osn: &Orderer, count: u64, rate: f64) -> Child {
    Command::new(cli_bin())
        .args(["bench", "--server", &osn.addr(), "--channel", CHANNEL])
        .args([
            "--count",
            &count.to_string(),
            "--size",
            "512",
            "--streams",
            "1",
        ])
        .args(["--rate", &format!("{rate:.1}"), "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn without_the_duplicate_window_a_leader_failover_writes_no_envelope_twice() {
    // As beside Fabric's OSNs: every record of the partition is ordered, so a record
    // the producer wrote twice would be an envelope in the chain twice.
    let cluster = KafkaCluster::start(ClusterSpec::seed003());
    let mut net = Network::on(cluster, &[("ORDERER_KAFKA_DEDUPEWINDOW", "0")]);
    let bootstrap = net.bootstrap();
    let before = kafka::wait_for_partition(
        &bootstrap,
        CHANNEL,
        "three in-sync replicas",
        CLUSTER_TIMEOUT,
        |p| p.leader > 0 && p.isr.len() == 3,
    );
    let (count, rate) = (900, 30.0);
    let clients: Vec<Child> = net
        .osns
        .iter()
        .map(|o| steady_client(o, count, rate))
        .collect();
    // Under load, kill the leader.
    net.wait_for_acks(200, || "no load reached the OSNs".to_owned());
    net.cluster.kill(before.leader as u32);
    let after =
        kafka::wait_for_partition(&bootstrap, CHANNEL, "a new leader", CLUSTER_TIMEOUT, |p| {
            p.leader > 0 && p.leader != before.leader
        });
    assert_ne!(after.leader, before.leader);
    let reports: Vec<serde_json::Value> = clients.into_iter().map(report).collect();
    for r in &reports {
        assert_eq!(r["acked"], count, "{r}");
    }
    // Envelopes sent before the kill waited across the failover (the cluster fences
    // the dead leader after 4 s): they were in flight at the kill.
    let waited = reports
        .iter()
        .filter_map(|r| r["ack_latency_ms"]["max"].as_f64())
        .fold(0.0, f64::max);
    assert!(
        waited >= 2000.0,
        "no envelope was in flight across the failover: {reports:?}"
    );
    net.cluster.restart(before.leader as u32);

    // Read the partition itself: each envelope once.
    let ids = tx_ids_in_partition(&bootstrap, CHANNEL);
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "an envelope is in the partition twice"
    );
    assert_eq!(
        ids.len() as u64,
        3 * count,
        "the partition holds other envelopes than the acknowledged"
    );
    let check = net.chain_check(&[]);
    assert_eq!(check["identical"], true, "{check}");
    assert_eq!(check["duplicates"], 0, "{check}");
}

#[test]
fn the_leader_cut_off_the_network_drops_out_and_writes_go_on_without_loss() {
    let net = Network::start();
    let bootstrap = net.bootstrap();
    let before = kafka::wait_for_partition(
        &bootstrap,
        CHANNEL,
        "three in-sync replicas",
        CLUSTER_TIMEOUT,
        |p| p.leader > 0 && p.isr.len() == 3,
    );
    let files = tempfile::tempdir().unwrap();
    let acked: Vec<PathBuf> = (0..3)
        .map(|k| files.path().join(format!("acked-{k}.txt")))
        .collect();
    let per_client = 1200;
    let clients: Vec<Child> = (0..3)
        .map(|k| client(&net.osns, k, per_client, 24.0, &acked[k]))
        .collect();
    std::thread::sleep(Duration::from_secs(5));
    // All its traffic held: clients, replication and controller listeners, and what
    // it opens to the others. The controller fences it (no heartbeats) and the
    // partition moves; it drops out of the ISR.
    let victim = before.leader as u32;
    net.cluster.cut_node(victim);
    let acked_at_cut = net.acked_so_far();
    // Both other replicas in the new ISR: the election may find one of them behind
    // (seen on a loaded machine: ISR [3] of [2, 3, 4]) until it catches up.
    kafka::wait_for_partition(
        &bootstrap,
        CHANNEL,
        "a new leader and both other replicas in the ISR, without the cut-off node",
        CLUSTER_TIMEOUT,
        |p| {
            p.leader > 0
                && p.leader != before.leader
                && !p.isr.contains(&before.leader)
                && p.isr.len() == 2
        },
    );
    net.wait_for_acks(acked_at_cut + 50, || {
        format!(
            "no acknowledgements with the leader cut off: {:?}",
            kafka::partition(&bootstrap, CHANNEL)
        )
    });
    std::thread::sleep(Duration::from_secs(5));
    net.cluster.heal_node(victim);
    kafka::wait_for_partition(
        &bootstrap,
        CHANNEL,
        "the healed node back in the ISR",
        CLUSTER_TIMEOUT,
        |p| p.isr.len() == 3,
    );
    let reports: Vec<serde_json::Value> = clients.into_iter().map(report).collect();
    let acked_total: u64 = reports.iter().map(|r| r["acked"].as_u64().unwrap()).sum();
    assert_eq!(acked_total, 3 * per_client, "{reports:?}");
    assert_exactly_once(&net.chain_check(&acked), acked_total);
}

#[test]
fn a_10_mb_envelope_goes_through_the_replicas_and_a_config_update_raises_the_limit() {
    let net = Network::start();
    let osn = &net.osns[0];
    // AbsoluteMaxBytes is 10 MB (the sample configuration): an envelope of just
    // under it, then one over it, refused at the door.
    let out = ok(osn.cli(&["broadcast", "--count", "1", "--size", "10000000"]));
    assert!(out.contains("SUCCESS 1"), "{out}");
    let refused = osn.cli(&["broadcast", "--count", "1", "--size", "12000000"]);
    assert!(
        common::stdout(&refused).contains("BAD_REQUEST"),
        "{}",
        common::stdout(&refused)
    );
    // Raise AbsoluteMaxBytes to 20 MB by a config update; the 12 MB envelope passes.
    ok(osn.cli(&["channel", "update", "--absolute-max-bytes", "20971520"]));
    let deadline = Instant::now() + CLUSTER_TIMEOUT;
    loop {
        let out = common::stdout(&osn.cli(&["broadcast", "--count", "1", "--size", "12000000"]));
        if out.contains("SUCCESS 1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the raised limit never applied: {out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let check = net.chain_check(&[]);
    assert_eq!(check["identical"], true, "{check}");
    let state = kafka::partition(&net.bootstrap(), CHANNEL).unwrap();
    assert_eq!(
        state.isr.len(),
        3,
        "the large records did not reach every replica: {state:?}"
    );
}
