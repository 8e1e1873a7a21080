//! The channel participation API on the real node: a node with no channel joins one
//! with its genesis block (served byte for byte, ordering at once), lists it, keeps
//! it across a restart, refuses a second join and a block that is not a genesis
//! block, and removes it with its ledger. (`osnadmin` against the same listener: see
//! orderer-cli's fabric_channels test.)

#![allow(clippy::unwrap_used)]

mod common;

use common::TestNode;
use orderer_testkit::{http, participation_join as join};

const PARTICIPATION: &[(&str, &str)] = &[
    ("ORDERER_CHANNELPARTICIPATION_ENABLED", "true"),
    ("ORDERER_ADMIN_LISTENADDRESS", "127.0.0.1:0"),
    ("ORDERER_CHANNELS", "[]"),
];

fn admin_addr(node: &TestNode) -> String {
    node.node
        .as_ref()
        .unwrap()
        .admin_addr
        .expect("the Admin listener is served")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_channels_joins_lists_keeps_and_removes_a_channel() {
    let source_dir = tempfile::tempdir().unwrap();
    let source = TestNode::start(source_dir.path(), &[]).await;
    let genesis = source
        .node
        .as_ref()
        .unwrap()
        .registry()
        .get("mychannel")
        .unwrap()
        .ledger()
        .block_bytes(0)
        .await
        .unwrap();
    source.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path(), PARTICIPATION).await;
    let admin = admin_addr(&node);
    let list = |admin: &str| {
        let (code, body) = http(admin, "GET", "/participation/v1/channels", None);
        assert_eq!(code, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    assert_eq!(
        list(&admin),
        serde_json::json!({"systemChannel": null, "channels": null})
    );

    let (code, body) = join(&admin, b"not a block");
    assert_eq!(code, 400, "{body}");
    assert!(
        node.node.as_ref().unwrap().registry().channels().is_empty(),
        "a refused join leaves no channel"
    );

    let (code, body) = join(&admin, &genesis);
    assert_eq!(code, 201, "{body}");
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["name"], "mychannel");
    assert_eq!(info["height"], 1);
    assert_eq!(info["status"], "active");
    assert_eq!(info["consensusRelation"], "other");
    let channel = node
        .node
        .as_ref()
        .unwrap()
        .registry()
        .get("mychannel")
        .unwrap();
    assert_eq!(
        channel.ledger().block_bytes(0).await.unwrap(),
        genesis,
        "block 0 is stored as joined"
    );

    // It orders at once.
    let mut client = node.client().await;
    let report = orderer_cli::broadcast::broadcast(&mut client, 3, 10, |i| {
        Ok(orderer_cli::envelopes::transaction("mychannel", i, 200))
    })
    .await
    .unwrap();
    assert!(report.all_succeeded(), "{:?}", report.lines());

    let (code, body) = join(&admin, &genesis);
    assert_eq!(code, 405, "a second join: {body}");
    assert_eq!(
        list(&admin)["channels"][0]["name"],
        "mychannel",
        "listed after the join"
    );

    // A restart opens the joined channel from its ledger.
    node.stop().await;
    let node = TestNode::start(dir.path(), PARTICIPATION).await;
    let admin = admin_addr(&node);
    let (code, body) = http(&admin, "GET", "/participation/v1/channels/mychannel", None);
    assert_eq!(code, 200, "{body}");
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(info["height"].as_u64().unwrap() >= 2, "{info}");

    let (code, body) = http(
        &admin,
        "DELETE",
        "/participation/v1/channels/mychannel",
        None,
    );
    assert_eq!(code, 204, "{body}");
    let (code, _) = http(&admin, "GET", "/participation/v1/channels/mychannel", None);
    assert_eq!(code, 404);
    assert!(
        !dir.path().join("chains").join("mychannel").exists(),
        "the ledger is deleted"
    );
    node.stop().await;
}
