//! Processor rules with no broker: records are handed to it as a broker would.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use orderer_api::proto::orderer::{
    KafkaMessage, KafkaMessageRegular, KafkaMessageTimeToCut, KafkaMetadata, kafka_message,
    kafka_message_regular,
};
use orderer_api::testing::{FakeSupport, WrittenBlock, test_envelope};
use orderer_api::{BatchSize, ChannelConfig, ConsenterKind};
use prost::Message;
use tokio::sync::mpsc::UnboundedReceiver;

use super::processor::Processor;
use super::{KafkaChain, Resume};
use crate::clients::Clients;
use crate::options::KafkaOptions;

fn regular(channel: &str, i: u64) -> Bytes {
    let record = KafkaMessage {
        r#type: Some(kafka_message::Type::Regular(KafkaMessageRegular {
            payload: test_envelope(channel, i, 200).into_bytes(),
            config_seq: 0,
            class: kafka_message_regular::Class::Normal as i32,
            original_offset: 0,
        })),
    };
    Bytes::from(record.encode_to_vec())
}

fn time_to_cut(block_number: u64) -> Bytes {
    let record = KafkaMessage {
        r#type: Some(kafka_message::Type::TimeToCut(KafkaMessageTimeToCut {
            block_number,
        })),
    };
    Bytes::from(record.encode_to_vec())
}

fn channel(name: &str, max_message_count: u32) -> ChannelConfig {
    ChannelConfig {
        channel_id: name.into(),
        consensus_type: ConsenterKind::Kafka,
        batch_size: BatchSize {
            max_message_count,
            absolute_max_bytes: 1 << 20,
            preferred_max_bytes: 1 << 20,
        },
        batch_timeout: Duration::from_secs(3600),
    }
}

/// A processor over `support` with the given window. Nothing listens at the
/// brokers' address; the clients never connect during these tests.
async fn processor(support: Arc<FakeSupport>, resume: Resume, window: u64) -> Processor {
    let mut options = KafkaOptions::new(vec!["127.0.0.1:1".into()]);
    options.config.dedupe_window = window;
    let clients = Arc::new(Clients::new(options).unwrap());
    let chain = KafkaChain::new(support, clients, resume);
    let mut p = chain.startup().processor(false);
    p.load_window(resume.dedupe_window).await.unwrap();
    p
}

fn blocks(rx: &mut UnboundedReceiver<WrittenBlock>) -> Vec<Vec<String>> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .map(|b| b.tx_ids())
        .collect()
}

#[tokio::test]
async fn a_record_handed_out_again_at_an_offset_already_processed_is_dropped() {
    let (support, mut rx) = FakeSupport::new(channel("dup", 100));
    let mut p = processor(Arc::new(support), Resume::default(), 0).await;

    p.consume(0, regular("dup", 1), None).await.unwrap();
    p.consume(1, regular("dup", 2), None).await.unwrap();
    // A fetch that started inside the batch of offsets 0..=1 repeats them.
    p.consume(0, regular("dup", 1), None).await.unwrap();
    p.consume(1, regular("dup", 2), None).await.unwrap();
    p.consume(2, time_to_cut(1), None).await.unwrap();
    let b = rx.try_recv().unwrap();
    assert_eq!(b.tx_ids(), vec!["tx000000000001", "tx000000000002"]);
    let meta = KafkaMetadata::decode(b.consenter_metadata).unwrap();
    assert_eq!(meta.last_offset_persisted, 2);
    // The time-to-cut handed out again is no second cut either.
    p.consume(2, time_to_cut(1), None).await.unwrap();
    p.consume(3, regular("dup", 3), None).await.unwrap();
    p.consume(3, time_to_cut(2), None).await.unwrap();
    assert!(rx.try_recv().is_err(), "a repeated offset was processed");
}

/// A produce retried after a lost answer, or a client resending an envelope answered
/// SERVICE_UNAVAILABLE: the same envelope at two offsets.
#[tokio::test]
async fn an_envelope_in_the_log_twice_is_ordered_once_whether_pending_or_cut() {
    let (support, mut rx) = FakeSupport::new(channel("twice", 2));
    let mut p = processor(Arc::new(support), Resume::default(), 10).await;
    p.consume(0, regular("twice", 1), None).await.unwrap();
    p.consume(1, regular("twice", 1), None).await.unwrap(); // pending: dropped
    p.consume(2, regular("twice", 2), None).await.unwrap(); // cuts block 1
    p.consume(3, regular("twice", 2), None).await.unwrap(); // in block 1: dropped
    p.consume(4, regular("twice", 3), None).await.unwrap();
    p.consume(5, regular("twice", 1), None).await.unwrap(); // in block 1: dropped
    p.consume(6, regular("twice", 4), None).await.unwrap(); // cuts block 2
    let got = blocks(&mut rx);
    assert_eq!(
        got,
        vec![
            vec!["tx000000000001", "tx000000000002"],
            vec!["tx000000000003", "tx000000000004"]
        ]
    );
}

#[tokio::test]
async fn with_window_zero_every_record_is_ordered_as_fabric_orders_it() {
    let (support, mut rx) = FakeSupport::new(channel("fabric", 2));
    let mut p = processor(Arc::new(support), Resume::default(), 0).await;
    p.consume(0, regular("fabric", 1), None).await.unwrap();
    p.consume(1, regular("fabric", 1), None).await.unwrap();
    let b = rx.try_recv().unwrap();
    assert_eq!(b.tx_ids(), vec!["tx000000000001", "tx000000000001"]);
    assert_eq!(
        KafkaMetadata::decode(b.consenter_metadata)
            .unwrap()
            .dedupe_window,
        0
    );
}

/// The window reaches back exactly `window` blocks, and a restarted OSN (its
/// window rebuilt from the ledger) drops and orders exactly what a running one does.
#[tokio::test]
async fn a_restarted_osn_applies_the_window_as_one_that_kept_running() {
    // One envelope per block: blocks 1..=4 hold envelopes 1..=4.
    let (support, mut rx) = FakeSupport::new(channel("restart", 1));
    let support = Arc::new(support);
    let mut running = processor(Arc::clone(&support), Resume::default(), 3).await;
    for i in 1..=4u64 {
        let offset = i64::try_from(i).unwrap() - 1;
        running
            .consume(offset, regular("restart", i), None)
            .await
            .unwrap();
    }
    assert_eq!(blocks(&mut rx).len(), 4);
    let last = support.last_consenter_metadata();
    let meta = KafkaMetadata::decode(last.clone()).unwrap();
    assert_eq!(meta.dedupe_window, 3, "each block records its window");

    // The same ledger, read by a restarted OSN.
    let (reopened, mut rx2) = support.reopen();
    let resume = Resume::from_metadata("restart", &last).unwrap();
    assert_eq!(resume.last_offset_persisted, Some(3));
    let mut restarted = processor(Arc::new(reopened), resume, 3).await;

    // Envelope 1 is in block 1, outside the last 3 blocks (2..=4): ordered again.
    // Envelopes 2 and 4 are inside: dropped.
    for (offset, i) in [(4, 2), (5, 1), (6, 4)] {
        running
            .consume(offset, regular("restart", i), None)
            .await
            .unwrap();
        restarted
            .consume(offset, regular("restart", i), None)
            .await
            .unwrap();
    }
    let kept = blocks(&mut rx);
    assert_eq!(kept, vec![vec!["tx000000000001"]]);
    assert_eq!(blocks(&mut rx2), kept);
}
