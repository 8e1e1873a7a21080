//! The Kafka chain's rules that solo does not have, each driven by records crafted
//! straight into the channel's partition on librdkafka's mock cluster and checked
//! in the blocks the chain writes through the fake support. Each test is named after
//! the Fabric (v1.4 `orderer/consensus/kafka/chain.go`) behaviour it mirrors.
//!
//! Chains here use a batch timeout of an hour, so no chain posts a time-to-cut of
//! its own: every cut comes from a record the test wrote.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use orderer_api::proto::orderer::{
    KafkaMessage, KafkaMessageConnect, KafkaMessageRegular, KafkaMessageTimeToCut, KafkaMetadata,
    kafka_message, kafka_message_regular,
};
use orderer_api::testing::conformance::wait_for_state;
use orderer_api::testing::{EVENT_TIMEOUT, FakeSupport, WrittenBlock, test_envelope};
use orderer_api::{BatchSize, Chain, ChainState, ChannelConfig, Consenter, ConsenterKind};
use orderer_kafka::{KafkaConsenter, KafkaOptions, RetrySchedule};
use prost::Message;
use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::mpsc;

/// Long enough that no chain's own batch timer fires during a test.
const NO_TIMER: Duration = Duration::from_secs(3600);

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
    timeouts.read_timeout.0 = Duration::from_millis(500);
    timeouts.write_timeout.0 = Duration::from_secs(5);
    o
}

/// A channel on a three-broker mock cluster, a producer writing crafted records
/// into its partition, and chains over fake supports.
struct Rig {
    mock: MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    ch: ChannelConfig,
    producer: FutureProducer,
    options: fn(String) -> KafkaOptions,
}

impl Rig {
    fn new(name: &str, batch_size: BatchSize) -> Rig {
        let mock = MockCluster::new(3).unwrap();
        let ch = ChannelConfig {
            channel_id: format!("rules-{name}"),
            consensus_type: ConsenterKind::Kafka,
            batch_size,
            batch_timeout: NO_TIMER,
        };
        // The mock cluster has no CreateTopics: the topic exists before chains start.
        mock.create_topic(&ch.channel_id, 1, 3).unwrap();
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", mock.bootstrap_servers())
            .set("acks", "all")
            .set("linger.ms", "0")
            .set("max.in.flight.requests.per.connection", "1")
            .create()
            .unwrap();
        Rig {
            mock,
            ch,
            producer,
            options,
        }
    }

    fn count(name: &str, max_message_count: u32) -> Rig {
        Rig::new(
            name,
            BatchSize {
                max_message_count,
                absolute_max_bytes: 1 << 20,
                preferred_max_bytes: 1 << 20,
            },
        )
    }

    /// Writes one record and returns its offset.
    async fn produce(&self, bytes: Vec<u8>) -> i64 {
        let record = FutureRecord::<(), [u8]>::to(&self.ch.channel_id)
            .partition(0)
            .payload(&bytes);
        let delivery = self
            .producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .unwrap();
        delivery.offset
    }

    async fn post(&self, msg: kafka_message::Type) -> i64 {
        self.produce(KafkaMessage { r#type: Some(msg) }.encode_to_vec())
            .await
    }

    /// A regular record holding test envelope `i` of cutter size `size`, validated
    /// at config sequence 0 (the fake support's current one).
    async fn regular(&self, i: u64, size: usize) -> i64 {
        self.post(kafka_message::Type::Regular(KafkaMessageRegular {
            payload: test_envelope(&self.ch.channel_id, i, size).into_bytes(),
            config_seq: 0,
            class: kafka_message_regular::Class::Normal as i32,
            original_offset: 0,
        }))
        .await
    }

    async fn time_to_cut(&self, block_number: u64) -> i64 {
        self.post(kafka_message::Type::TimeToCut(KafkaMessageTimeToCut {
            block_number,
        }))
        .await
    }

    fn consenter(&self) -> KafkaConsenter {
        KafkaConsenter::new((self.options)(self.mock.bootstrap_servers())).unwrap()
    }

    /// A chain on `support`, resuming from `metadata`, started (not waited for).
    fn chain_with(&self, support: Arc<FakeSupport>, metadata: Bytes) -> Arc<dyn Chain> {
        let chain = self.consenter().handle_chain(support, metadata).unwrap();
        chain.start();
        chain
    }

    /// A chain resuming from its support's last block, waited for until ready.
    async fn chain(&self, support: Arc<FakeSupport>) -> Arc<dyn Chain> {
        let metadata = support.last_consenter_metadata();
        let chain = self.chain_with(support, metadata);
        wait_for_state(chain.as_ref(), "Ready", ChainState::is_ready).await;
        chain
    }

    fn support(&self) -> (Arc<FakeSupport>, mpsc::UnboundedReceiver<WrittenBlock>) {
        let (s, rx) = FakeSupport::new(self.ch.clone());
        (Arc::new(s), rx)
    }
}

fn tx(i: u64) -> String {
    format!("tx{i:012}")
}

fn txs(ids: &[u64]) -> Vec<String> {
    ids.iter().map(|i| tx(*i)).collect()
}

async fn next_block(rx: &mut mpsc::UnboundedReceiver<WrittenBlock>) -> WrittenBlock {
    tokio::time::timeout(EVENT_TIMEOUT, rx.recv())
        .await
        .expect("no block written")
        .expect("the support was dropped")
}

fn kafka_metadata(b: &WrittenBlock) -> KafkaMetadata {
    KafkaMetadata::decode(b.consenter_metadata.clone()).unwrap()
}

/// Fabric's `processTimeToCut`: a time-to-cut for a block already cut (another OSN's
/// timer lost the race to a cut by size) is ignored; the pending batch waits for the
/// time-to-cut that names the next block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_time_to_cut_ignores_a_stale_time_to_cut() {
    let rig = Rig::count("ttc-stale", 100);
    let (support, mut rx) = rig.support();
    let chain = rig.chain(support).await;

    rig.regular(1, 200).await;
    let ttc1 = rig.time_to_cut(1).await;
    let b1 = next_block(&mut rx).await;
    assert_eq!(b1.tx_ids(), txs(&[1]));
    assert_eq!(kafka_metadata(&b1).last_offset_persisted, ttc1);

    rig.regular(2, 200).await;
    rig.time_to_cut(1).await; // stale: block 1 is cut
    rig.regular(3, 200).await;
    let ttc2 = rig.time_to_cut(2).await;
    let b2 = next_block(&mut rx).await;
    assert_eq!(
        b2.tx_ids(),
        txs(&[2, 3]),
        "a stale time-to-cut must not cut the pending batch"
    );
    assert_eq!(b2.number(), 2);
    assert_eq!(kafka_metadata(&b2).last_offset_persisted, ttc2);
    chain.halt().await;
}

/// Fabric's `processTimeToCut` returns an error for a time-to-cut naming a block
/// beyond the next one, and its chain stops. This chain neither cuts on it nor stops
/// (every OSN that agrees with it ignores it alike): the batch is cut by the
/// time-to-cut that names the next block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_time_to_cut_for_a_future_block_cuts_nothing_and_the_chain_goes_on() {
    let rig = Rig::count("ttc-future", 100);
    let (support, mut rx) = rig.support();
    let chain = rig.chain(support).await;

    rig.regular(1, 200).await;
    rig.time_to_cut(5).await; // the next block is 1
    rig.regular(2, 200).await;
    let ttc = rig.time_to_cut(1).await;
    let b1 = next_block(&mut rx).await;
    assert_eq!(
        b1.tx_ids(),
        txs(&[1, 2]),
        "a time-to-cut for a future block must not cut"
    );
    assert_eq!(kafka_metadata(&b1).last_offset_persisted, ttc);
    assert!(chain.state().borrow().is_ready());
    chain.halt().await;
}

/// Fabric's `processTimeToCut`: a time-to-cut naming the next block while nothing is
/// pending writes no (empty) block; Fabric reports it as a bug and stops, this chain
/// ignores it. The next envelope still goes into block 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_time_to_cut_with_nothing_pending_writes_no_empty_block() {
    let rig = Rig::count("ttc-empty", 100);
    let (support, mut rx) = rig.support();
    let chain = rig.chain(support.clone()).await;

    rig.time_to_cut(1).await;
    rig.regular(1, 200).await;
    rig.time_to_cut(1).await;
    let b1 = next_block(&mut rx).await;
    assert_eq!(b1.number(), 1);
    assert_eq!(
        b1.tx_ids(),
        txs(&[1]),
        "an empty time-to-cut must not write a block"
    );
    assert_eq!(support.blocks().len(), 2);
    assert!(chain.state().borrow().is_ready());
    chain.halt().await;
}

/// Fabric's `commitNormalMsg`: when an envelope cuts the pending batch and stays
/// pending itself, the block records the offset *before* it, so a restart reads it
/// again; recording its own offset would lose it across the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_normal_msg_persists_the_offset_before_an_envelope_left_pending() {
    // Two 400-byte envelopes fit in a batch, a third overflows it.
    let rig = Rig::new(
        "resume-pending",
        BatchSize {
            max_message_count: 100,
            absolute_max_bytes: 1 << 20,
            preferred_max_bytes: 1000,
        },
    );
    let (support, mut rx) = rig.support();
    let chain = rig.chain(support.clone()).await;

    rig.regular(1, 400).await;
    let o2 = rig.regular(2, 400).await;
    let o3 = rig.regular(3, 400).await;
    let b1 = next_block(&mut rx).await;
    assert_eq!(b1.tx_ids(), txs(&[1, 2]));
    assert_eq!(
        kafka_metadata(&b1).last_offset_persisted,
        o2,
        "envelope 3 (offset {o3}) is still pending"
    );

    // Restart with envelope 3 pending: it is read again and ordered.
    chain.halt().await;
    let (reopened, mut rx) = support.reopen();
    let chain = rig.chain(Arc::new(reopened)).await;
    rig.regular(4, 400).await;
    let ttc = rig.time_to_cut(2).await;
    let b2 = next_block(&mut rx).await;
    assert_eq!(
        b2.tx_ids(),
        txs(&[3, 4]),
        "the envelope pending at the restart was lost or duplicated"
    );
    assert_eq!(kafka_metadata(&b2).last_offset_persisted, ttc);
    chain.halt().await;
}

/// Fabric's `commitNormalMsg`: an envelope larger than PreferredMaxBytes cuts the
/// pending batch and then its own; the first block records the offset before it.
/// A node that crashes between the two writes resumes there and orders it; had the
/// first block recorded the envelope's own offset, it would be lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_normal_msg_cutting_two_batches_persists_the_offset_before_the_envelope_in_the_first()
 {
    let rig = Rig::new(
        "resume-two",
        BatchSize {
            max_message_count: 100,
            absolute_max_bytes: 1 << 20,
            preferred_max_bytes: 1000,
        },
    );
    let (support, mut rx) = rig.support();
    // The node crashes after block 1, before block 2 is written.
    support.fail_writes_from(2);
    let chain = rig.chain(support.clone()).await;

    let o1 = rig.regular(1, 200).await;
    let o_big = rig.regular(2, 2000).await;
    let b1 = next_block(&mut rx).await;
    assert_eq!(b1.tx_ids(), txs(&[1]));
    assert_eq!(
        kafka_metadata(&b1).last_offset_persisted,
        o1,
        "block 1 must not claim the oversized envelope at {o_big}"
    );
    wait_for_state(chain.as_ref(), "Halted", |s| {
        matches!(s, ChainState::Halted { .. })
    })
    .await;

    let (reopened, mut rx) = support.reopen();
    let chain = rig.chain(Arc::new(reopened)).await;
    // If the restart skipped envelope 2, these would make block 2 of envelope 3.
    rig.regular(3, 200).await;
    rig.time_to_cut(2).await;
    rig.time_to_cut(3).await;
    let b2 = next_block(&mut rx).await;
    assert_eq!(
        b2.tx_ids(),
        txs(&[2]),
        "the envelope whose second block was not written is lost"
    );
    assert_eq!(kafka_metadata(&b2).last_offset_persisted, o_big);
    let b3 = next_block(&mut rx).await;
    assert_eq!(b3.tx_ids(), txs(&[3]));
    chain.halt().await;
}

/// Fabric's `processConnect` does nothing with a CONNECT; this chain's first CONNECT
/// carries the genesis configuration of the node that created the channel. A node
/// whose ledger holds only the genesis block (new, or restarted before the first
/// cut) with a different configuration would cut different blocks: it refuses the
/// channel and names the key, while a node with the same configuration serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_channel_config_differs_from_the_creators_connect_refuses_the_channel() {
    let rig = Rig::count("genesis", 10);
    let (creator, _rx) = rig.support();
    let first = rig.chain(creator).await;

    let mut changed = rig.ch.clone();
    changed.batch_size.max_message_count = 20;
    let (restarted, mut rx) = FakeSupport::new(changed);
    let refused = rig.chain_with(Arc::new(restarted), Bytes::new());
    wait_for_state(refused.as_ref(), "Halted", |s| {
        matches!(s, ChainState::Halted { .. })
    })
    .await;
    let state = format!("{:?}", *refused.state().borrow());
    assert!(
        state.contains("Orderer.BatchSize.MaxMessageCount") && state.contains("refusing"),
        "{state}"
    );
    // Nothing was ordered by the refusing node.
    rig.regular(1, 200).await;
    rig.time_to_cut(1).await;
    assert!(rx.try_recv().is_err());

    let (same, _rx) = rig.support();
    let agreeing = rig.chain(same).await;
    assert!(agreeing.state().borrow().is_ready());
    agreeing.halt().await;
    first.halt().await;
}

/// Fabric's `processMessagesToBlocks` logs and skips a record it cannot unmarshal
/// (and `processRegular` one whose payload is no envelope): every OSN skips it
/// alike, and the chain goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_records_are_skipped_and_the_chain_goes_on() {
    let rig = Rig::count("malformed", 100);
    let (support, mut rx) = rig.support();
    let chain = rig.chain(support).await;

    rig.regular(1, 200).await;
    rig.produce(vec![0xff, 0xff, 0xff, 0xff]).await; // not a KafkaMessage
    rig.produce(Vec::new()).await; // a KafkaMessage of no type
    rig.post(kafka_message::Type::Regular(KafkaMessageRegular {
        payload: Bytes::from_static(&[0xff, 0xff, 0xff]),
        config_seq: 0,
        class: kafka_message_regular::Class::Normal as i32,
        original_offset: 0,
    }))
    .await; // a regular record holding no envelope
    rig.post(kafka_message::Type::Connect(KafkaMessageConnect {
        payload: Bytes::from_static(b"not a config"),
    }))
    .await; // a later CONNECT is never checked
    rig.regular(2, 200).await;
    rig.time_to_cut(1).await;
    let b1 = next_block(&mut rx).await;
    assert_eq!(b1.tx_ids(), txs(&[1, 2]));
    assert!(chain.state().borrow().is_ready());
    chain.halt().await;
}

/// Fabric closes the chain's errorChan on `ErrOffsetOutOfRange`, the one consumer
/// error it does not retry. This consumer runs with `auto.offset.reset=error`: a
/// ledger ahead of the partition (its offsets are gone, or it is another cluster)
/// marks the chain errored instead of jumping silently to another offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offset_out_of_range_marks_the_chain_errored() {
    let rig = Rig::count("out-of-range", 10);
    let (support, mut rx) = rig.support();
    let ahead = KafkaMetadata {
        last_offset_persisted: 1000,
        ..Default::default()
    };
    rig.regular(1, 200).await;
    rig.time_to_cut(1).await;
    let chain = rig.chain_with(support, Bytes::from(ahead.encode_to_vec()));
    wait_for_state(chain.as_ref(), "Errored", |s| {
        matches!(s, ChainState::Errored { .. })
    })
    .await;
    let state = format!("{:?}", *chain.state().borrow());
    assert!(
        state.contains("consuming the channel's partition fails"),
        "{state}"
    );
    assert!(rx.try_recv().is_err(), "nothing is ordered from offset 0");
    chain.halt().await;
}

/// Fabric drops Deliver sessions when consumption stops for ReadTimeout; this chain
/// reports itself errored when records wait in the partition and none was processed
/// for three ReadTimeouts (here a ledger that stopped answering), and ready again
/// when processing resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_makes_no_progress_while_records_wait_marks_the_chain_errored() {
    let rig = Rig::count("stall", 100);
    let (support, mut rx) = rig.support();
    let chain = rig.chain(support.clone()).await;

    support.pause_writes();
    rig.regular(1, 200).await;
    rig.time_to_cut(1).await; // the chain is stuck writing block 1
    rig.regular(2, 200).await;
    wait_for_state(chain.as_ref(), "Errored", |s| {
        matches!(s, ChainState::Errored { .. })
    })
    .await;
    let state = format!("{:?}", *chain.state().borrow());
    assert!(state.contains("consumer stalled"), "{state}");

    support.resume_writes();
    assert_eq!(next_block(&mut rx).await.tx_ids(), txs(&[1]));
    wait_for_state(chain.as_ref(), "Ready", ChainState::is_ready).await;
    chain.halt().await;
}
