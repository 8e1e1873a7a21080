//! Broker faults with librdkafka's own mock cluster: brokers down and back, the
//! partition leader moved mid-stream, injected produce errors. Every envelope the
//! chain acknowledged ends up in exactly one block, in order, and the chain goes on.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use orderer_api::testing::conformance::{Harness, start_chain, wait_for_state};
use orderer_api::testing::{EVENT_TIMEOUT, FakeSupport, WrittenBlock, test_envelope};
use orderer_api::{
    BatchSize, Chain, ChainState, ChannelConfig, Consenter, ConsenterKind, ConsenterSupport,
    Receipt,
};
use orderer_kafka::{KafkaConsenter, KafkaOptions, RetrySchedule};
use rdkafka::mocking::MockCluster;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use tokio::sync::mpsc;

const TOPIC_PREFIX: &str = "mock";

fn options(brokers: String) -> KafkaOptions {
    let mut o = KafkaOptions::new(vec![brokers]);
    o.config.topic.replication_factor = 3;
    o.set_retry_schedule(RetrySchedule {
        short_interval: Duration::from_millis(200),
        short_total: Duration::from_secs(30),
        long_interval: Duration::from_secs(1),
        long_total: Duration::from_secs(30),
    });
    let timeouts = &mut o.config.retry.network_timeouts;
    timeouts.read_timeout.0 = Duration::from_secs(2);
    timeouts.write_timeout.0 = Duration::from_secs(5);
    o.config.retry.producer.retry_max = 10;
    o
}

fn channel(name: &str, count: u32, timeout: Duration) -> ChannelConfig {
    ChannelConfig {
        channel_id: format!("{TOPIC_PREFIX}-{name}"),
        consensus_type: ConsenterKind::Kafka,
        batch_size: BatchSize {
            max_message_count: count,
            absolute_max_bytes: 1 << 20,
            preferred_max_bytes: 1 << 20,
        },
        batch_timeout: timeout,
    }
}

/// A mock cluster of three brokers kept alive for the test.
struct Cluster {
    mock: MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
}

impl Cluster {
    fn new() -> Cluster {
        Cluster {
            mock: MockCluster::new(3).unwrap(),
        }
    }

    /// Topics exist before chains start (the mock cluster has no CreateTopics).
    fn topic(&self, ch: &ChannelConfig) {
        self.mock.create_topic(&ch.channel_id, 1, 3).unwrap();
    }

    fn harness(&self) -> MockHarness {
        self.harness_with(|_| {})
    }

    /// Chains whose options `tune` changes from the tests' defaults.
    fn harness_with(&self, tune: fn(&mut KafkaOptions)) -> MockHarness {
        MockHarness {
            servers: self.mock.bootstrap_servers(),
            tune,
        }
    }
}

/// Orders `range` one after another, then collects each receipt's outcome.
async fn order_range(chain: &dyn Chain, ch: &str, range: std::ops::Range<u64>) -> Vec<(u64, bool)> {
    let mut receipts: Vec<(u64, Receipt)> = Vec::new();
    for i in range {
        // A refused envelope is simply not acknowledged.
        if let Ok(r) = chain.order(test_envelope(ch, i, 200), 0).await {
            receipts.push((i, r));
        }
    }
    let mut out = Vec::new();
    for (i, r) in receipts {
        out.push((i, r.await.is_ok()));
    }
    out
}

/// Blocks until every tx id in `want` has been written; returns all tx ids written.
async fn written_until(
    rx: &mut mpsc::UnboundedReceiver<WrittenBlock>,
    want: &BTreeSet<String>,
) -> Vec<String> {
    let mut all = Vec::new();
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    while !want.iter().all(|t| all.contains(t)) {
        let b = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("acknowledged envelopes never reached a block")
            .unwrap();
        all.extend(b.tx_ids());
    }
    all
}

fn tx(i: u64) -> String {
    format!("tx{i:012}")
}

/// Checks: every acknowledged envelope once; no envelope twice; ascending order.
fn check(acked: &[u64], written: &[String]) {
    let set: BTreeSet<&String> = written.iter().collect();
    assert_eq!(
        set.len(),
        written.len(),
        "an envelope was written twice: {written:?}"
    );
    for i in acked {
        assert!(
            written.contains(&tx(*i)),
            "acknowledged envelope {i} is missing"
        );
    }
    let mut sorted = written.to_vec();
    sorted.sort();
    assert_eq!(&sorted, written, "envelopes out of submission order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_moved_mid_stream_loses_and_duplicates_nothing() {
    let cluster = Cluster::new();
    let ch = channel("leader", 20, Duration::from_millis(300));
    cluster.topic(&ch);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = start_chain(&cluster.harness(), Arc::new(support)).await;

    let first = order_range(chain.as_ref(), &ch.channel_id, 0..200).await;
    for broker in [2, 3, 1] {
        cluster
            .mock
            .partition_leader(&ch.channel_id, 0, Some(broker))
            .unwrap();
        let more = order_range(
            chain.as_ref(),
            &ch.channel_id,
            (broker as u64) * 1000..(broker as u64) * 1000 + 100,
        )
        .await;
        assert!(
            more.iter().all(|(_, ok)| *ok),
            "envelopes refused while the leader moved"
        );
    }
    assert!(first.iter().all(|(_, ok)| *ok));
    let mut acked: Vec<u64> = (0..200).collect();
    for b in [2u64, 3, 1] {
        acked.extend(b * 1000..b * 1000 + 100);
    }
    let want: BTreeSet<String> = acked.iter().map(|i| tx(*i)).collect();
    let written = written_until(&mut rx, &want).await;
    // Order: 0..200, then the batches in the order they were sent.
    let mut expected: Vec<String> = acked.iter().map(|i| tx(*i)).collect();
    expected.dedup();
    assert_eq!(written, expected);
    chain.halt().await;
}

/// How many times each envelope is in the partition, read straight from the brokers
/// (at least `want` records, then until none arrives for a second).
fn copies_in_log(servers: &str, topic: &str, want: usize) -> BTreeMap<String, usize> {
    let reader = partition_reader(servers, topic);
    let mut copies = BTreeMap::new();
    // Done once a poll after the `want`th record brings nothing.
    let read = read_copies(&reader, &mut copies, |copies, arrived| {
        !arrived && copies.values().sum::<usize>() >= want
    });
    assert!(
        read,
        "fewer than {want} envelopes in the partition within {EVENT_TIMEOUT:?}: {copies:?}"
    );
    copies
}

/// A consumer of `topic`'s partition from its first record.
fn partition_reader(servers: &str, topic: &str) -> rdkafka::consumer::BaseConsumer {
    use rdkafka::consumer::Consumer;
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};

    let consumer: rdkafka::consumer::BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", servers)
        .set("group.id", "inspect")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    consumer
}

/// Reads on with `reader`, adding the copies of each envelope (by tx id) to `copies`,
/// until `done(copies, a record arrived)` holds after a poll; false if EVENT_TIMEOUT
/// passes first.
fn read_copies(
    reader: &rdkafka::consumer::BaseConsumer,
    copies: &mut BTreeMap<String, usize>,
    mut done: impl FnMut(&BTreeMap<String, usize>, bool) -> bool,
) -> bool {
    use orderer_api::proto::orderer::{KafkaMessage, kafka_message};
    use prost::Message as _;
    use rdkafka::message::Message as _;

    let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
    while std::time::Instant::now() < deadline {
        let message = reader.poll(Duration::from_secs(1));
        if let Some(Ok(m)) = &message
            && let Ok(KafkaMessage {
                r#type: Some(kafka_message::Type::Regular(r)),
            }) = KafkaMessage::decode(m.payload().unwrap_or_default())
        {
            let id = orderer_api::testing::tx_id(&r.payload);
            *copies.entry(id).or_insert(0) += 1;
        }
        if done(copies, matches!(message, Some(Ok(_)))) {
            return true;
        }
    }
    false
}

/// A produce request the leader appends but whose answer never reaches the orderer
/// (the round trip outlasts request.timeout.ms): librdkafka sends it again, so the
/// partition holds the envelopes twice or more. The chain orders each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_produce_appended_whose_answer_is_lost_is_ordered_once() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let cluster = Cluster::new();
    let ch = channel("lost-answer", 1000, Duration::from_millis(300));
    cluster.topic(&ch);
    cluster
        .mock
        .partition_leader(&ch.channel_id, 0, Some(1))
        .unwrap();
    let (support, mut rx) = FakeSupport::new(ch.clone());
    // socket.timeout.ms 1 s, so that a 3 s round trip loses the answer.
    let harness = cluster.harness_with(|o| {
        o.config.retry.network_timeouts.write_timeout.0 = Duration::from_secs(1);
        o.config.retry.network_timeouts.read_timeout.0 = Duration::from_secs(1);
        o.config.retry.producer.retry_max = 30;
    });
    let chain = start_chain(&harness, Arc::new(support)).await;
    let before = order_range(chain.as_ref(), &ch.channel_id, 0..10).await;
    assert_eq!(before, (0..10).map(|i| (i, true)).collect::<Vec<_>>());

    // A reader of the partition, connected to the leader while its round trips are
    // fast (through slow ones, each request of a new consumer costs 3 s).
    let (servers, topic) = (cluster.mock.bootstrap_servers(), ch.channel_id.clone());
    let (reader, copies) = tokio::task::spawn_blocking(move || {
        let reader = partition_reader(&servers, &topic);
        let mut copies = BTreeMap::new();
        let read = read_copies(&reader, &mut copies, |c, _| c.len() == 10);
        assert!(read, "0..10 not in the partition: {copies:?}");
        (reader, copies)
    })
    .await
    .unwrap();

    cluster
        .mock
        .broker_round_trip_time(1, Duration::from_secs(3))
        .unwrap();
    let mut receipts = Vec::new();
    for i in 10..20 {
        receipts.push(
            chain
                .order(test_envelope(&ch.channel_id, i, 200), 0)
                .await
                .unwrap(),
        );
    }
    // The round trip stays slow until the leader has appended one of 10..20, seen
    // through the same slow round trips (the leader is broker 1): that fetch's answer
    // left the leader 3 s after the append, so by then the produce request's own
    // answer has outlived the 1 s timeout, lost. librdkafka sends the request again
    // once the round trip is fast; the partition then holds envelopes twice (checked
    // below).
    tokio::task::spawn_blocking(move || {
        let mut copies = copies;
        let slow = (10..20).map(tx).collect::<BTreeSet<_>>();
        let read = read_copies(&reader, &mut copies, |c, _| {
            slow.iter().any(|t| c.contains_key(t))
        });
        assert!(
            read,
            "no envelope of 10..20 reached the partition within {EVENT_TIMEOUT:?} of slow \
             round trips: {copies:?}"
        );
    })
    .await
    .unwrap();
    cluster
        .mock
        .broker_round_trip_time(1, Duration::ZERO)
        .unwrap();
    for r in receipts {
        r.await.unwrap();
    }
    // The slow fetches meanwhile may have reported the consumer stalled.
    wait_for_state(chain.as_ref(), "Ready", ChainState::is_ready).await;
    let after = order_range(chain.as_ref(), &ch.channel_id, 20..30).await;
    assert_eq!(after, (20..30).map(|i| (i, true)).collect::<Vec<_>>());

    let want: BTreeSet<String> = (0..30).map(tx).collect();
    let written = written_until(&mut rx, &want).await;
    // The condition under test happened: some envelope is in the log more than once.
    let copies = copies_in_log(&cluster.mock.bootstrap_servers(), &ch.channel_id, 30);
    assert!(
        copies.values().any(|&n| n > 1),
        "no envelope reached the log twice, the lost answer was not provoked: {copies:?}"
    );
    check(&(0..30).collect::<Vec<_>>(), &written);
    assert_eq!(written.len(), 30, "{written:?}");
    chain.halt().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retriable_produce_errors_are_retried_without_duplicates() {
    let cluster = Cluster::new();
    let ch = channel("retriable", 25, Duration::from_millis(300));
    cluster.topic(&ch);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = start_chain(&cluster.harness(), Arc::new(support)).await;
    // The next produce requests fail with errors a broker really returns under
    // replica trouble and leader changes; the idempotent producer retries them.
    cluster.mock.request_errors(
        RDKafkaApiKey::Produce,
        &[
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        ],
    );
    let outcomes = order_range(chain.as_ref(), &ch.channel_id, 0..100).await;
    assert!(
        outcomes.iter().all(|(_, ok)| *ok),
        "retriable errors must not fail envelopes"
    );
    let want: BTreeSet<String> = (0..100).map(tx).collect();
    let written = written_until(&mut rx, &want).await;
    assert_eq!(written, (0..100).map(tx).collect::<Vec<_>>());
    chain.halt().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_brokers_refuse_as_too_large_is_reported_and_not_ordered() {
    let cluster = Cluster::new();
    let ch = channel("too-large", 10, Duration::from_millis(300));
    cluster.topic(&ch);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = start_chain(&cluster.harness(), Arc::new(support)).await;
    cluster.mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE],
    );
    let refused = chain
        .order(test_envelope(&ch.channel_id, 0, 200), 0)
        .await
        .unwrap()
        .await;
    match refused {
        Err(orderer_api::ChainError::TooLarge { reason, .. }) => {
            assert!(reason.contains("message.max.bytes"), "{reason}")
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // The chain goes on: later envelopes are ordered, the refused one is not.
    let outcomes = order_range(chain.as_ref(), &ch.channel_id, 1..21).await;
    assert!(outcomes.iter().all(|(_, ok)| *ok));
    let want: BTreeSet<String> = (1..21).map(tx).collect();
    let written = written_until(&mut rx, &want).await;
    assert!(
        !written.contains(&tx(0)),
        "a refused envelope must not be ordered"
    );
    check(&(1..21).collect::<Vec<_>>(), &written);
    chain.halt().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_down_and_back_the_chain_reports_it_and_continues() {
    let cluster = Cluster::new();
    let ch = channel("down-up", 10, Duration::from_millis(300));
    cluster.topic(&ch);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = start_chain(&cluster.harness(), Arc::new(support)).await;
    let before = order_range(chain.as_ref(), &ch.channel_id, 0..30).await;
    assert!(before.iter().all(|(_, ok)| *ok));

    for b in 1..=3 {
        cluster.mock.broker_down(b).unwrap();
    }
    wait_for_state(chain.as_ref(), "Errored", |s| {
        matches!(s, ChainState::Errored { .. })
    })
    .await;
    let reason = format!("{:?}", *chain.state().borrow());
    assert!(
        reason.contains("broker") || reason.contains("Kafka"),
        "{reason}"
    );
    // While errored, new envelopes are refused with the reason.
    assert!(
        chain
            .order(test_envelope(&ch.channel_id, 99, 200), 0)
            .await
            .is_err()
    );

    for b in 1..=3 {
        cluster.mock.broker_up(b).unwrap();
    }
    wait_for_state(chain.as_ref(), "Ready", ChainState::is_ready).await;
    let after = order_range(chain.as_ref(), &ch.channel_id, 30..60).await;
    assert!(after.iter().all(|(_, ok)| *ok));
    let want: BTreeSet<String> = (0..60).map(tx).collect();
    let written = written_until(&mut rx, &want).await;
    check(&(0..60).collect::<Vec<_>>(), &written);
    assert!(!written.contains(&tx(99)));
    chain.halt().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_sent_while_the_leader_is_down_are_delivered_when_it_returns() {
    let cluster = Cluster::new();
    let ch = channel("leader-down", 10, Duration::from_millis(300));
    cluster.topic(&ch);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = start_chain(&cluster.harness(), Arc::new(support)).await;
    cluster
        .mock
        .partition_leader(&ch.channel_id, 0, Some(2))
        .unwrap();
    let first = order_range(chain.as_ref(), &ch.channel_id, 0..10).await;
    assert!(first.iter().all(|(_, ok)| *ok));

    // The leader goes down; envelopes submitted now wait in the producer.
    cluster.mock.broker_down(2).unwrap();
    let mut receipts = Vec::new();
    for i in 10..40 {
        receipts.push((
            i,
            chain
                .order(test_envelope(&ch.channel_id, i, 200), 0)
                .await
                .unwrap(),
        ));
    }
    // The leader stays down for half a second on purpose, which is the scenario: the
    // envelopes must wait in the producer meanwhile, neither acknowledged (acks=all
    // needs the leader) nor refused.
    let waiting = futures_util::future::select_all(receipts.iter_mut().map(|(_, r)| r));
    if let Ok((outcome, index, rest)) =
        tokio::time::timeout(Duration::from_millis(500), waiting).await
    {
        drop(rest);
        panic!(
            "envelope {} was answered {outcome:?} while the partition's leader was down",
            receipts[index].0
        );
    }
    cluster.mock.broker_up(2).unwrap();
    let mut acked: Vec<u64> = (0..10).collect();
    for (i, r) in receipts {
        if r.await.is_ok() {
            acked.push(i);
        }
    }
    assert_eq!(
        acked.len(),
        40,
        "every envelope is acknowledged once the leader is back"
    );
    let want: BTreeSet<String> = acked.iter().map(|i| tx(*i)).collect();
    let written = written_until(&mut rx, &want).await;
    check(&acked, &written);
    chain.halt().await;
}

/// Chains on the mock cluster at these bootstrap servers. (The mock cluster itself is
/// neither Send nor Sync, so only its address travels.)
struct MockHarness {
    servers: String,
    tune: fn(&mut KafkaOptions),
}

#[async_trait]
impl Harness for MockHarness {
    async fn consenter(&self) -> Arc<dyn Consenter> {
        let mut o = options(self.servers.clone());
        (self.tune)(&mut o);
        Arc::new(KafkaConsenter::new(o).unwrap())
    }

    fn channel(&self, test: &str, batch_size: BatchSize, batch_timeout: Duration) -> ChannelConfig {
        ChannelConfig {
            channel_id: format!("{TOPIC_PREFIX}-{test}"),
            consensus_type: ConsenterKind::Kafka,
            batch_size,
            batch_timeout,
        }
    }
}

/// The conformance suite on the mock cluster (the real broker runs it too). Each
/// property gets its own cluster, which lives until the test process ends.
mod conformance_on_mock_cluster {
    use super::*;

    fn leaked_cluster() -> MockHarness {
        let cluster: &'static Cluster = Box::leak(Box::new(Cluster::new()));
        cluster.harness()
    }

    orderer_api::conformance_tests!(|| async { leaked_cluster() });
}

/// A CONFIG envelope changing the batch size to `count`, as the fake support reads
/// config envelopes.
fn config_envelope(ch: &ChannelConfig, count: u32) -> orderer_api::RawEnvelope {
    use prost::Message;
    let mut next = ch.clone();
    next.batch_size.max_message_count = count;
    let env = orderer_api::testing::config::reconfigure(ch, &next);
    orderer_api::RawEnvelope::parse(env.encode_to_vec().into())
        .unwrap()
        .0
}

/// Reads blocks until one holds `tx_id` (or, for `""`, until a config block).
async fn block_with(
    rx: &mut mpsc::UnboundedReceiver<WrittenBlock>,
    tx_id: &str,
) -> Vec<WrittenBlock> {
    let mut seen = Vec::new();
    loop {
        let b = tokio::time::timeout(EVENT_TIMEOUT, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no block with {tx_id:?}"))
            .unwrap();
        let done = if tx_id.is_empty() {
            b.is_config
        } else {
            b.tx_ids().iter().any(|t| t == tx_id)
        };
        seen.push(b);
        if done {
            return seen;
        }
    }
}

fn kafka_metadata(b: &WrittenBlock) -> orderer_api::proto::orderer::KafkaMetadata {
    use prost::Message;
    orderer_api::proto::orderer::KafkaMetadata::decode(b.consenter_metadata.clone()).unwrap()
}

/// Fabric's resubmission (Kafka chain with the Resubmission capability): envelopes
/// validated under config sequence 0 but read after a config block are validated
/// again; the valid ones are produced again with their original offset and ordered
/// once on both OSNs (each OSN resubmits; the later copy is dropped), the refused
/// one is ordered nowhere, and the chains stay identical. A config update validated
/// at the old sequence is applied again and ordered at the next sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_validated_under_an_older_config_are_revalidated_and_resubmitted_once() {
    let cluster = Cluster::new();
    let ch = channel("resubmit", 100, Duration::from_millis(300));
    cluster.topic(&ch);
    let (support_a, mut rx_a) = FakeSupport::new(ch.clone());
    let (support_b, mut rx_b) = FakeSupport::new(ch.clone());
    let (support_a, support_b) = (Arc::new(support_a), Arc::new(support_b));
    for s in [&support_a, &support_b] {
        s.refuse_on_revalidation(&tx(3));
    }
    let a = start_chain(&cluster.harness(), support_a.clone()).await;
    let b = start_chain(&cluster.harness(), support_b.clone()).await;

    // Block 1: a config update at sequence 0 (max 100 -> 2 messages per block).
    a.configure(config_envelope(&ch, 2), 0)
        .await
        .unwrap()
        .await
        .unwrap();
    block_with(&mut rx_a, "").await;
    block_with(&mut rx_b, "").await;
    assert_eq!(support_a.sequence(), 1);

    // Validated before that config block landed (sequence 0): 1 and 2 stay valid,
    // 3 is refused by the new configuration; 4 was validated at sequence 1.
    for i in 1..=3 {
        a.order(test_envelope(&ch.channel_id, i, 200), 0)
            .await
            .unwrap()
            .await
            .unwrap();
    }
    b.order(test_envelope(&ch.channel_id, 4, 200), 1)
        .await
        .unwrap()
        .await
        .unwrap();
    // A second config update, validated at sequence 0: applied again at sequence 1.
    b.configure(config_envelope(&ch, 3), 0)
        .await
        .unwrap()
        .await
        .unwrap();
    let a_blocks = block_with(&mut rx_a, "").await;
    let b_blocks = block_with(&mut rx_b, "").await;
    assert_eq!(
        support_a.sequence(),
        2,
        "the resubmitted config update is applied"
    );
    assert_eq!(support_b.sequence(), 2);

    let txs = |blocks: &[WrittenBlock]| -> Vec<String> {
        blocks
            .iter()
            .flat_map(|b| b.tx_ids())
            .filter(|t| !t.is_empty())
            .collect()
    };
    let ordered = txs(&a_blocks);
    for i in [1, 2, 4] {
        assert_eq!(
            ordered.iter().filter(|t| **t == tx(i)).count(),
            1,
            "envelope {i} must be ordered exactly once: {ordered:?}"
        );
    }
    assert!(
        !ordered.contains(&tx(3)),
        "the refused envelope was ordered: {ordered:?}"
    );
    assert_eq!(ordered, txs(&b_blocks), "the OSNs' chains differ");
    let hashes = |s: &FakeSupport| -> Vec<_> {
        s.blocks()
            .iter()
            .map(|b| orderer_api::block::block_header_hash(b.header.as_ref().unwrap()))
            .collect()
    };
    assert_eq!(hashes(&support_a), hashes(&support_b));

    // The metadata records the original offsets as Fabric does: the config block
    // ordered from a resubmission records its original offset as processed.
    let last = a_blocks.last().unwrap();
    let meta = kafka_metadata(last);
    assert!(meta.last_original_offset_processed > 0, "{meta:?}");
    assert_eq!(
        meta.last_resubmitted_config_offset,
        meta.last_original_offset_processed
    );

    // Ingress is open again once the resubmitted config is ordered.
    a.wait_ready().await.unwrap();
    a.order(test_envelope(&ch.channel_id, 5, 200), 2)
        .await
        .unwrap()
        .await
        .unwrap();
    a.order(test_envelope(&ch.channel_id, 6, 200), 2)
        .await
        .unwrap()
        .await
        .unwrap();
    a.order(test_envelope(&ch.channel_id, 7, 200), 2)
        .await
        .unwrap()
        .await
        .unwrap();
    let blocks = block_with(&mut rx_b, &tx(7)).await;
    assert_eq!(
        blocks.last().unwrap().tx_ids(),
        vec![tx(5), tx(6), tx(7)],
        "the new batch size (3) applies"
    );

    // A restarted OSN resumes from the metadata and orders nothing twice.
    b.halt().await;
    let (reopened, mut rx_c) = support_b.reopen();
    let c = start_chain(&cluster.harness(), Arc::new(reopened)).await;
    for i in 8..=10 {
        a.order(test_envelope(&ch.channel_id, i, 200), 2)
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let blocks = block_with(&mut rx_c, &tx(10)).await;
    assert_eq!(txs(&blocks), vec![tx(8), tx(9), tx(10)]);
    a.halt().await;
    c.halt().await;
}

/// A partition that Fabric's OSN writes too: its records (key "0", an empty CONNECT
/// before ours, NORMAL records at config sequence 0, time-to-cut records) are read as
/// Fabric reads them, blocks carry the offsets Fabric records (a time-to-cut block
/// without `last_resubmitted_config_offset`), stale and future time-to-cuts cut
/// nothing, and this chain's own records carry Fabric's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_shared_with_fabric_s_osn_is_cut_as_fabric_cuts_it() {
    use orderer_api::proto::orderer::{
        KafkaMessage, KafkaMessageConnect, KafkaMessageRegular, KafkaMessageTimeToCut,
        KafkaMetadata, kafka_message, kafka_message_regular,
    };
    use prost::Message as _;
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message as _;
    use rdkafka::producer::{FutureProducer, FutureRecord};

    let cluster = Cluster::new();
    // A long batch timeout: only the records posted here cut by time.
    let ch = channel("fabric-records", 100, Duration::from_secs(600));
    cluster.topic(&ch);
    let servers = cluster.mock.bootstrap_servers();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &servers)
        .create()
        .unwrap();
    // Fabric's producer: one record, key "0", partition 0; its offset.
    let fabric = |t: kafka_message::Type| {
        let payload = KafkaMessage { r#type: Some(t) }.encode_to_vec();
        let producer = producer.clone();
        let topic = ch.channel_id.clone();
        async move {
            let record = FutureRecord::to(&topic)
                .partition(0)
                .key("0")
                .payload(&payload);
            producer
                .send(record, Duration::from_secs(10))
                .await
                .unwrap()
                .offset
        }
    };
    let regular = |i: u64| {
        kafka_message::Type::Regular(KafkaMessageRegular {
            payload: test_envelope(&ch.channel_id, i, 100).into_bytes(),
            config_seq: 0,
            class: kafka_message_regular::Class::Normal as i32,
            original_offset: 0,
        })
    };
    let ttc = |block_number| kafka_message::Type::TimeToCut(KafkaMessageTimeToCut { block_number });

    // Fabric's OSN created the topic: its empty CONNECT comes first.
    fabric(kafka_message::Type::Connect(KafkaMessageConnect::default())).await;
    let (support, mut rx) = FakeSupport::new(ch.clone());
    // Sharing a topic with Fabric's OSNs takes the duplicate window off.
    let harness = cluster.harness_with(|o| o.config.dedupe_window = 0);
    let chain = start_chain(&harness, Arc::new(support)).await;
    fabric(regular(1)).await;
    fabric(regular(2)).await;
    let cut_at = fabric(ttc(1)).await;
    let block = block_with(&mut rx, &tx(2)).await.pop().unwrap();
    assert_eq!(block.tx_ids(), vec![tx(1), tx(2)]);
    assert_eq!(
        kafka_metadata(&block),
        KafkaMetadata {
            last_offset_persisted: cut_at,
            last_original_offset_processed: 0,
            last_resubmitted_config_offset: 0,
            dedupe_window: 0,
        }
    );

    // A stale time-to-cut, one for a block beyond the next, then ours and Fabric's
    // envelopes and the right time-to-cut: only the last one cuts.
    fabric(ttc(1)).await;
    fabric(ttc(7)).await;
    chain
        .order(test_envelope(&ch.channel_id, 3, 100), 0)
        .await
        .unwrap()
        .await
        .unwrap();
    fabric(regular(4)).await;
    let cut_at = fabric(ttc(2)).await;
    let block = block_with(&mut rx, &tx(4)).await;
    assert_eq!(block.len(), 1, "a time-to-cut record cut early: {block:?}");
    assert_eq!(block[0].tx_ids(), vec![tx(3), tx(4)]);
    assert_eq!(kafka_metadata(&block[0]).last_offset_persisted, cut_at);
    chain.halt().await;

    // Every record, ours included, has Fabric's key; ours (the CONNECT and the
    // envelope) are readable as KafkaMessages.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &servers)
        .set("group.id", "fabric-records-check")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(&ch.channel_id, 0, rdkafka::Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut seen = 0;
    while seen <= cut_at {
        let m = consumer
            .poll(Duration::from_secs(10))
            .expect("the partition ended early")
            .unwrap();
        assert_eq!(m.key(), Some(&b"0"[..]), "record at offset {}", m.offset());
        KafkaMessage::decode(m.payload().unwrap_or_default()).unwrap();
        seen = m.offset() + 1;
    }
}

/// `Kafka.Strict` on a cluster that breaks a rule the metadata shows: three brokers
/// for replication factor 3 (seed 003 wants one more, so that a channel can be
/// created with a broker down). The chain does not start; its state, and so
/// Broadcast's SERVICE_UNAVAILABLE, names the rule and the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_refuses_a_channel_whose_cluster_breaks_a_rule() {
    let cluster = Cluster::new();
    let ch = channel("strict-refused", 10, Duration::from_millis(100));
    cluster.topic(&ch);
    let consenter = cluster
        .harness_with(|o| o.config.strict = true)
        .consenter()
        .await;
    let (support, _rx) = FakeSupport::new(ch);
    let support = Arc::new(support);
    let chain = consenter
        .handle_chain(support.clone(), support.last_consenter_metadata())
        .unwrap();
    chain.start();
    let refused = |s: &ChainState| matches!(s, ChainState::Starting { reason } if reason.contains("does not meet the cluster rules"));
    wait_for_state(chain.as_ref(), "refused by Kafka.Strict", refused).await;
    match chain
        .order(test_envelope("mock-strict-refused", 1, 100), 0)
        .await
    {
        Err(orderer_api::ChainError::NotReady { reason, .. }) => {
            for needle in [
                "Kafka.Strict is true",
                "Kafka cluster: brokers = 3 [1, 2, 3]",
                "rule broker_count: expected at least replication factor + 1 = 4",
            ] {
                assert!(reason.contains(needle), "{needle:?} not in {reason:?}");
            }
        }
        other => panic!("{other:?}"),
    }
    assert!(
        chain
            .warnings()
            .iter()
            .all(|w| w.starts_with("not checked: "))
    );
    chain.halt().await;
}

/// `Kafka.Strict` on brokers that cannot describe their configuration (the mock
/// cluster has no DescribeConfigs, like a broker whose ACLs refuse it), with no
/// rule broken that the metadata shows (replication factor 2 on three brokers): the
/// chain starts anyway, and both the chain and the node's check warn that the
/// settings could not be checked, and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_starts_where_the_brokers_cannot_be_described_and_warns() {
    let cluster = Cluster::new();
    let ch = channel("strict-undescribed", 10, Duration::from_millis(100));
    cluster.mock.create_topic(&ch.channel_id, 1, 2).unwrap();
    let consenter = cluster
        .harness_with(|o| {
            o.config.strict = true;
            o.config.topic.replication_factor = 2;
        })
        .consenter()
        .await;
    let (support, _rx) = FakeSupport::new(ch);
    let support = Arc::new(support);
    let chain = consenter
        .handle_chain(support.clone(), support.last_consenter_metadata())
        .unwrap();
    chain.start();
    wait_for_state(chain.as_ref(), "Ready", ChainState::is_ready).await;
    // Strict: the check ran before the chain became ready.
    let warnings = chain.warnings();
    assert!(
        warnings.iter().any(
            |w| w.starts_with("not checked: broker 1: configuration not readable")
                && w.contains("UnsupportedFeature")
        ),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("topic mock-strict-undescribed:")),
        "{warnings:?}"
    );
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        let node = consenter.warnings();
        if !node.is_empty() {
            assert!(
                node.iter().all(|w| w.starts_with("not checked: broker ")),
                "{node:?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node's check never ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    chain.halt().await;
}
