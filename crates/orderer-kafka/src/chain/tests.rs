//! Processor rules with no broker: records are handed to it as a broker would.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use orderer_api::block::{block_data_hash, block_header_hash};
use orderer_api::genesis::{Consensus, Organization, Profile, config_envelope};
use orderer_api::proto::common::{Block, ChannelHeader, Envelope, Payload};
use orderer_api::proto::msp::FabricMspConfig;
use orderer_api::proto::orderer::{
    KafkaMessage, KafkaMessageConnect, KafkaMessageRegular, KafkaMessageTimeToCut, KafkaMetadata,
    kafka_message, kafka_message_regular,
};
use orderer_api::testing::{self, FakeSupport, WrittenBlock, test_envelope};
use orderer_api::{BatchSize, Chain, ChainState, ChannelConfig, ConsenterKind, GenesisOrigin};
use prost::Message;
use tokio::sync::mpsc::UnboundedReceiver;

use super::processor::Processor;
use super::{KafkaChain, Resume};
use crate::clients::Clients;
use crate::errors::Fault;
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
    let mut p = chain.startup().processor(None);
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

// One chain per channel: the partition's first record against this node's block 0.

/// Block 0 of `mychannel` as a node generates it from orderer.yaml: a full Fabric
/// configuration whose `OrdererAddresses` is `addresses` (by default the node's
/// own address, which is how two OSNs come to generate different blocks 0).
fn fabric_genesis(addresses: &[&str], max_message_count: u32) -> Block {
    let org = |name: &str, msp_id: &str| {
        let msp = FabricMspConfig {
            name: msp_id.into(),
            root_certs: vec![Bytes::from(format!("root of {msp_id}"))],
            ..Default::default()
        };
        Organization::new(name, msp_id, msp.into())
    };
    let mut p = Profile::new(
        "mychannel",
        Consensus::Kafka {
            brokers: vec!["127.0.0.1:9092".into()],
        },
        vec![org("SampleOrg", "SampleOrg")],
        vec![org("SampleOrg", "SampleOrg")],
    );
    p.orderer.addresses = addresses.iter().map(|a| (*a).to_owned()).collect();
    p.orderer.batch_size.max_message_count = max_message_count;
    p.orderer.batch_timeout = Duration::from_secs(3600);
    p.generate().unwrap().block
}

fn connect(payload: Bytes) -> Bytes {
    let record = KafkaMessage {
        r#type: Some(kafka_message::Type::Connect(KafkaMessageConnect {
            payload,
        })),
    };
    Bytes::from(record.encode_to_vec())
}

/// A chain of a node holding only `genesis` (from `origin`), and its processor
/// checking the partition's first record as a creating node does.
async fn checking(
    genesis: Block,
    origin: GenesisOrigin,
) -> (KafkaChain, Processor, UnboundedReceiver<WrittenBlock>) {
    let (support, rx) = FakeSupport::with_genesis(genesis.clone(), origin).unwrap();
    let options = KafkaOptions::new(vec!["127.0.0.1:1".into()]);
    let clients = Arc::new(Clients::new(options).unwrap());
    let chain = KafkaChain::new(Arc::new(support), clients, Resume::default());
    let own = chain.startup().own_genesis().await.unwrap();
    assert_eq!(own.block, genesis);
    assert_eq!(own.origin, origin);
    let p = chain.startup().processor(Some(own));
    (chain, p, rx)
}

fn state(chain: &KafkaChain) -> ChainState {
    chain.state().borrow().clone()
}

#[tokio::test]
async fn the_same_block_0_in_the_first_connect_is_served() {
    let genesis = fabric_genesis(&["127.0.0.1:7050"], 2);
    let (chain, mut p, mut rx) = checking(genesis.clone(), GenesisOrigin::Generated).await;
    assert!(
        matches!(state(&chain), ChainState::Starting { .. }),
        "nothing is served before the first record is checked"
    );
    // What this node posts is what a node with the same block 0 accepts.
    let payload = chain
        .startup()
        .own_genesis()
        .await
        .unwrap()
        .connect_payload();
    assert_eq!(Block::decode(payload.clone()).unwrap(), genesis);
    p.consume(0, connect(payload), None).await.unwrap();
    assert_eq!(state(&chain), ChainState::Ready);
    p.consume(1, regular("mychannel", 1), None).await.unwrap();
    p.consume(2, regular("mychannel", 2), None).await.unwrap();
    assert_eq!(
        blocks(&mut rx),
        vec![vec!["tx000000000001", "tx000000000002"]]
    );
}

#[tokio::test]
async fn another_block_0_is_refused_naming_each_differing_setting_with_both_values() {
    let theirs = fabric_genesis(&["127.0.0.1:7050"], 2);
    let ours = fabric_genesis(&["127.0.0.1:7051"], 3);
    let (chain, mut p, mut rx) = checking(ours, GenesisOrigin::Generated).await;
    let fault = p
        .consume(0, connect(Bytes::from(theirs.encode_to_vec())), None)
        .await
        .unwrap_err();
    let text = fault.to_string();
    for want in [
        "Orderer.Addresses is [127.0.0.1:7051] here but [127.0.0.1:7050] on the channel",
        "Orderer.BatchSize.MaxMessageCount is 3 here but 2 on the channel",
        "refusing to serve the channel",
    ] {
        assert!(text.contains(want), "{want:?} missing from: {text}");
    }
    assert!(matches!(fault, Fault::GenesisDiffers { .. }), "{fault:?}");
    assert!(!state(&chain).is_ready(), "{:?}", state(&chain));
    assert!(rx.try_recv().is_err(), "a refusing node wrote a block");
}

#[tokio::test]
async fn a_block_0_differing_outside_the_configuration_is_refused_naming_the_header_hashes() {
    let ours = fabric_genesis(&["127.0.0.1:7050"], 2);
    // The same configuration in another envelope: a tx id in its channel header.
    let mut theirs = ours.clone();
    let data = theirs.data.as_mut().unwrap();
    let mut env = Envelope::decode(data.data[0].clone()).unwrap();
    let mut payload = Payload::decode(env.payload.clone()).unwrap();
    let header = payload.header.as_mut().unwrap();
    let mut ch = ChannelHeader::decode(header.channel_header.clone()).unwrap();
    ch.tx_id = "another".into();
    header.channel_header = ch.encode_to_vec().into();
    env.payload = payload.encode_to_vec().into();
    data.data[0] = env.encode_to_vec().into();
    let hash = block_data_hash(&data.data);
    theirs.header.as_mut().unwrap().data_hash = Bytes::copy_from_slice(&hash);
    let hex = |b: &Block| {
        block_header_hash(b.header.as_ref().unwrap())
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let (_chain, mut p, _rx) = checking(ours.clone(), GenesisOrigin::Given).await;
    let text = p
        .consume(0, connect(Bytes::from(theirs.encode_to_vec())), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("the channel configurations are the same")
            && text.contains(&format!(
                "header hash is {} here but {} on the channel",
                hex(&ours),
                hex(&theirs)
            )),
        "{text}"
    );

    // Same header, other metadata (a signature, say).
    let mut signed = ours.clone();
    signed.metadata.as_mut().unwrap().metadata[0] = Bytes::from_static(b"a signature");
    let (_chain, mut p, _rx) = checking(ours.clone(), GenesisOrigin::Given).await;
    let text = p
        .consume(0, connect(Bytes::from(signed.encode_to_vec())), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        text.contains(&format!("header (hash {})", hex(&ours))) && text.contains("metadata"),
        "{text}"
    );
}

#[tokio::test]
async fn an_empty_first_connect_refuses_a_generated_block_0_with_the_advice_to_boot_from_the_file()
{
    let genesis = fabric_genesis(&["127.0.0.1:7050"], 2);
    let (chain, mut p, mut rx) = checking(genesis.clone(), GenesisOrigin::Generated).await;
    let fault = p.consume(0, connect(Bytes::new()), None).await.unwrap_err();
    let text = fault.to_string();
    for want in [
        "created by another OSN without a block 0 to compare with",
        "the first CONNECT record of its partition is empty",
        "General.BootstrapMethod: file",
        "General.BootstrapFile",
    ] {
        assert!(text.contains(want), "{want:?} missing from: {text}");
    }
    assert!(!state(&chain).is_ready());
    assert!(rx.try_recv().is_err());

    // A partition that does not start with a CONNECT proves nothing either.
    let (_chain, mut p, _rx) = checking(genesis, GenesisOrigin::Generated).await;
    let text = p
        .consume(0, regular("mychannel", 1), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("does not start with a CONNECT") && text.contains("General.BootstrapFile"),
        "{text}"
    );
}

#[tokio::test]
async fn an_empty_first_connect_is_fine_for_a_block_0_given_to_the_node() {
    let genesis = fabric_genesis(&["127.0.0.1:7050"], 2);
    let (chain, mut p, mut rx) = checking(genesis, GenesisOrigin::Given).await;
    p.consume(0, connect(Bytes::new()), None).await.unwrap();
    assert_eq!(state(&chain), ChainState::Ready);
    p.consume(1, regular("mychannel", 1), None).await.unwrap();
    p.consume(2, regular("mychannel", 2), None).await.unwrap();
    assert_eq!(blocks(&mut rx).len(), 1);
}

/// Earlier versions of this orderer posted the genesis configuration as a CONFIG
/// envelope of the batch parameters: still read, and those still compared.
#[tokio::test]
async fn an_earlier_versions_connect_is_still_checked_for_its_batch_parameters() {
    let genesis = fabric_genesis(&["127.0.0.1:7050"], 2);
    let legacy = |count: u32| {
        let mut ch = channel("mychannel", count);
        ch.batch_size = orderer_api::BatchSize {
            max_message_count: count,
            ..orderer_api::BatchSize::default()
        };
        // Those versions' config held the Channel group with only its Orderer
        // group: the generated config, cut down to that.
        let mut config = testing::config::genesis(&ch).config;
        if let Some(root) = config.channel_group.as_mut() {
            root.groups.retain(|name, _| name == "Orderer");
        }
        let env = config_envelope(&ch.channel_id, &config);
        connect(Bytes::from(env.encode_to_vec()))
    };
    let (chain, mut p, _rx) = checking(genesis.clone(), GenesisOrigin::Generated).await;
    p.consume(0, legacy(2), None).await.unwrap();
    assert_eq!(state(&chain), ChainState::Ready);

    let (chain, mut p, _rx) = checking(genesis, GenesisOrigin::Generated).await;
    let text = p.consume(0, legacy(7), None).await.unwrap_err().to_string();
    assert!(
        text.contains("Orderer.BatchSize.MaxMessageCount is 2 here but 7 on the channel"),
        "{text}"
    );
    assert!(!state(&chain).is_ready());
}

#[tokio::test]
async fn a_first_connect_holding_neither_a_block_nor_an_envelope_is_refused() {
    let genesis = fabric_genesis(&["127.0.0.1:7050"], 2);
    let (_chain, mut p, _rx) = checking(genesis, GenesisOrigin::Given).await;
    let fault = p
        .consume(0, connect(Bytes::from_static(&[0xff, 0xff, 0xff])), None)
        .await
        .unwrap_err();
    assert!(matches!(fault, Fault::GenesisUnreadable(_)), "{fault:?}");
}
