//! Fabric's solo chain rule: an envelope validated under a config sequence that a
//! config block has since advanced is checked again before it is cut; one the new
//! configuration refuses is dropped, the others are ordered; a config update
//! validated at the old sequence is applied again at the new one.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Solo;
use orderer_api::testing::conformance::{Harness, start_chain};
use orderer_api::testing::{EVENT_TIMEOUT, FakeSupport, WrittenBlock, test_envelope};
use orderer_api::{BatchSize, ChannelConfig, ConsenterSupport, RawEnvelope};
use prost::Message;
use tokio::sync::mpsc;

fn config_envelope(ch: &ChannelConfig, count: u32) -> RawEnvelope {
    let mut next = ch.clone();
    next.batch_size.max_message_count = count;
    let env = orderer_api::testing::config::reconfigure(ch, &next);
    RawEnvelope::parse(env.encode_to_vec().into()).unwrap().0
}

async fn next_block(rx: &mut mpsc::UnboundedReceiver<WrittenBlock>) -> WrittenBlock {
    tokio::time::timeout(EVENT_TIMEOUT, rx.recv())
        .await
        .expect("no block written")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_overtaken_by_a_config_block_are_checked_again() {
    let ch = Solo.channel(
        "revalidation",
        BatchSize {
            max_message_count: 3,
            absolute_max_bytes: 1 << 20,
            preferred_max_bytes: 1 << 20,
        },
        Duration::from_secs(3600),
    );
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let support = Arc::new(support);
    support.refuse_on_revalidation("tx000000000002");
    let chain = start_chain(&Solo, support.clone()).await;

    chain
        .configure(config_envelope(&ch, 3), 0)
        .await
        .unwrap()
        .await
        .unwrap();
    let block = next_block(&mut rx).await;
    assert!(block.is_config);
    assert_eq!(support.sequence(), 1);

    // Validated at sequence 0, ordered after the config block: 2 is refused now.
    for i in 1..=4 {
        chain
            .order(test_envelope(&ch.channel_id, i, 100), 0)
            .await
            .unwrap()
            .await
            .unwrap();
    }
    // A config update validated at 0 is applied again (the fake support's
    // revalidation makes it the next sequence).
    chain
        .configure(config_envelope(&ch, 2), 0)
        .await
        .unwrap()
        .await
        .unwrap();
    let normal = next_block(&mut rx).await;
    assert_eq!(
        normal.tx_ids(),
        vec!["tx000000000001", "tx000000000003", "tx000000000004"],
        "the refused envelope was ordered, or a valid one dropped"
    );
    let config = next_block(&mut rx).await;
    assert!(config.is_config);
    assert_eq!(
        support.sequence(),
        2,
        "the stale config update was applied again"
    );
    chain.halt().await;
}
