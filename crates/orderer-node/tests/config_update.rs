//! Config updates through Broadcast, driven by this project's own client (the Fabric
//! tools drive the same flows in orderer-cli's fabric_channels test): an admin's
//! BatchSize update is ordered alone in a signed config block, LAST_CONFIG points at
//! it and the next blocks are cut by the new size; a stale read set is BAD_REQUEST
//! naming the element and both versions; an update without the admins' signatures
//! is FORBIDDEN naming the policy; maintenance mode refuses normal transactions;
//! the updated configuration survives a restart.

#![allow(clippy::unwrap_used)]

mod common;

use common::{EVENT_TIMEOUT, TestNode, broadcast_raw};
use orderer_api::configtx::compute_update;
use orderer_api::proto::common::{Block, Config, Envelope, HeaderType, Status};
use orderer_api::proto::orderer::BroadcastResponse;
use orderer_cli::channel::OrdererEdits;
use orderer_cli::deliver::{DeliverRequest, deliver};
use orderer_cli::envelopes::{Position, Signer};
use prost::Message;

const CHANNEL: &str = "mychannel";

/// The channel's configuration in force, read from the node.
fn current_config(node: &TestNode) -> Config {
    let registry = node.node.as_ref().unwrap().registry();
    registry
        .get(CHANNEL)
        .unwrap()
        .bundle()
        .values
        .config()
        .clone()
}

/// `config` with `Orderer/BatchSize.MaxMessageCount` set to `count` (the project's
/// client's edit).
fn with_max_message_count(config: &Config, count: u32) -> Config {
    OrdererEdits {
        max_message_count: Some(count),
        ..Default::default()
    }
    .apply(config)
    .unwrap()
}

/// `config` in maintenance mode, or out of it.
fn with_maintenance(config: &Config, on: bool) -> Config {
    OrdererEdits {
        maintenance: Some(on),
        ..Default::default()
    }
    .apply(config)
    .unwrap()
}

/// Broadcasts one envelope and returns its response.
async fn send_one(node: &TestNode, env: &Envelope) -> BroadcastResponse {
    let mut raw = node.raw_client().await;
    let mut responses = broadcast_raw(&mut raw, vec![env.encode_to_vec().into()])
        .await
        .unwrap();
    assert_eq!(responses.len(), 1);
    responses.remove(0)
}

async fn blocks(node: &TestNode, start: u64, stop: u64) -> Vec<Block> {
    let mut client = node.client().await;
    let req = DeliverRequest {
        channel: CHANNEL.into(),
        start: Position::Number(start),
        stop: Position::Number(stop),
        fail_if_not_ready: false,
    };
    let mut out = Vec::new();
    let outcome = tokio::time::timeout(
        EVENT_TIMEOUT,
        deliver(&mut client, &Signer::sample().unwrap(), &req, |b| {
            out.push(b);
            Ok(())
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(outcome.status, Some(Status::Success));
    out
}

fn envelope_count(block: &Block) -> usize {
    block.data.as_ref().map_or(0, |d| d.data.len())
}

fn header_type(raw: &bytes::Bytes) -> Option<HeaderType> {
    let env = Envelope::decode(raw.clone()).unwrap();
    orderer_api::envelope::parse_payload(&env)
        .unwrap()
        .header_type()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admins_batch_size_update_is_ordered_and_applies_from_the_next_block() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path(), &[("ORDERER_ORDERER_BATCHTIMEOUT", "100ms")]).await;
    // The sample identity is SampleOrg's admin (admincerts), and SampleOrg is the
    // ordering organization: it satisfies /Channel/Orderer/Admins.
    let admin = Signer::sample().unwrap();
    let original = current_config(&node);
    assert_eq!(original.sequence, 0);

    let batch_update =
        compute_update(CHANNEL, &original, &with_max_message_count(&original, 2)).unwrap();
    // Computed from the same original: its read set holds BatchSize at version 0
    // (the Orderer group changes shape), which the first update makes stale.
    let mut reshaped = original.clone();
    let orderer = reshaped
        .channel_group
        .as_mut()
        .unwrap()
        .groups
        .get_mut("Orderer")
        .unwrap();
    orderer.mod_policy = "Writers".into();
    let stale_update = compute_update(CHANNEL, &original, &reshaped).unwrap();

    // Without the admins' signatures (the envelope alone is signed): FORBIDDEN,
    // naming the element and the policy.
    let unsigned = admin.config_update(&batch_update, &[]).unwrap();
    let r = send_one(&node, &unsigned).await;
    assert_eq!(r.status, Status::Forbidden as i32, "{}", r.info);
    assert!(
        r.info.contains("/Channel/Orderer/BatchSize") && r.info.contains("Admins"),
        "the refusal names the element and the policy: {}",
        r.info
    );

    let r = send_one(
        &node,
        &admin.config_update(&batch_update, &[&admin]).unwrap(),
    )
    .await;
    assert_eq!(r.status, Status::Success as i32, "{}", r.info);

    // Block 1: the CONFIG envelope alone, signed by the orderer, LAST_CONFIG = 1.
    let got = blocks(&node, 1, 1).await;
    let config_block = &got[0];
    assert_eq!(envelope_count(config_block), 1);
    assert_eq!(
        header_type(&config_block.data.as_ref().unwrap().data[0]),
        Some(HeaderType::Config)
    );
    let meta = orderer_api::block::orderer_metadata(config_block).unwrap();
    assert_eq!(meta.last_config.unwrap().index, 1);
    let sigs = orderer_api::block::signatures_metadata(config_block).unwrap();
    assert_eq!(sigs.signatures.len(), 1, "the config block is signed");
    assert_eq!(current_config(&node).sequence, 1);

    // The next blocks are cut at 2 envelopes.
    let mut client = node.client().await;
    let report = orderer_cli::broadcast::broadcast(&mut client, 5, 100, |i| {
        Ok(orderer_cli::envelopes::transaction(CHANNEL, i, 200))
    })
    .await
    .unwrap();
    assert!(report.all_succeeded(), "{:?}", report.lines());
    let cut = blocks(&node, 2, 4).await;
    let sizes: Vec<usize> = cut.iter().map(envelope_count).collect();
    assert_eq!(
        sizes,
        vec![2, 2, 1],
        "blocks after the update hold at most 2"
    );
    for b in &cut {
        let meta = orderer_api::block::orderer_metadata(b).unwrap();
        assert_eq!(
            meta.last_config.unwrap().index,
            1,
            "LAST_CONFIG points at block 1"
        );
    }

    // Stale: its read set says BatchSize is at version 0; it is at 1 now.
    let r = send_one(
        &node,
        &admin.config_update(&stale_update, &[&admin]).unwrap(),
    )
    .await;
    assert_eq!(r.status, Status::BadRequest as i32, "{}", r.info);
    assert!(
        r.info.contains("[Value]  /Channel/Orderer/BatchSize")
            && r.info.contains("version 0")
            && r.info.contains("version 1"),
        "the refusal names the element and both versions: {}",
        r.info
    );
    // The same update again changes nothing.
    let r = send_one(
        &node,
        &admin.config_update(&batch_update, &[&admin]).unwrap(),
    )
    .await;
    assert_eq!(r.status, Status::BadRequest as i32, "{}", r.info);

    // Restarted with the same orderer.yaml: the ledger's configuration (sequence 1)
    // stays in force.
    node.stop().await;
    let node = TestNode::start(dir.path(), &[("ORDERER_ORDERER_BATCHTIMEOUT", "100ms")]).await;
    assert_eq!(current_config(&node).sequence, 1);
    let mut client = node.client().await;
    let report = orderer_cli::broadcast::broadcast(&mut client, 3, 100, |i| {
        Ok(orderer_cli::envelopes::transaction(CHANNEL, 100 + i, 200))
    })
    .await
    .unwrap();
    assert!(report.all_succeeded(), "{:?}", report.lines());
    let cut = blocks(&node, 5, 6).await;
    assert_eq!(
        cut.iter().map(envelope_count).collect::<Vec<_>>(),
        vec![2, 1]
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_mode_refuses_normal_transactions_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path(), &[]).await;
    let admin = Signer::sample().unwrap();
    let original = current_config(&node);
    let enter = compute_update(CHANNEL, &original, &with_maintenance(&original, true)).unwrap();
    let r = send_one(&node, &admin.config_update(&enter, &[&admin]).unwrap()).await;
    assert_eq!(r.status, Status::Success as i32, "{}", r.info);
    blocks(&node, 1, 1).await;

    let tx = orderer_cli::envelopes::transaction(CHANNEL, 1, 200);
    let r = send_one(&node, &tx).await;
    assert_eq!(r.status, Status::ServiceUnavailable as i32, "{}", r.info);
    assert!(r.info.contains("maintenance"), "{}", r.info);

    // Leaving maintenance is a config update the orderer admins may still make.
    let in_maintenance = current_config(&node);
    let leave = compute_update(
        CHANNEL,
        &in_maintenance,
        &with_maintenance(&in_maintenance, false),
    )
    .unwrap();
    let r = send_one(&node, &admin.config_update(&leave, &[&admin]).unwrap()).await;
    assert_eq!(r.status, Status::Success as i32, "{}", r.info);
    blocks(&node, 2, 2).await;
    let r = send_one(&node, &tx).await;
    assert_eq!(r.status, Status::Success as i32, "{}", r.info);
    node.stop().await;
}
