//! Broadcast and Deliver against an in-process node: Fabric's semantics, every
//! rejection with its reason, and the node serving on after each.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use bytes::Bytes;
use common::{EVENT_TIMEOUT, TestNode, broadcast_raw};
use orderer_api::block::block_header_hash;
use orderer_api::proto::common::{
    Block, ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader, Status,
};
use orderer_api::proto::orderer::{
    DeliverResponse, SeekInfo, deliver_response,
    seek_info::{SeekContentType, SeekErrorResponse},
};
use orderer_cli::broadcast::broadcast;
use orderer_cli::deliver::{ChainChecker, DeliverRequest, deliver};
use orderer_cli::envelopes::{Position, Signer, seek, transaction};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

fn bytes_of(e: &Envelope) -> Bytes {
    Bytes::from(e.encode_to_vec())
}

fn envelope_with(header: Option<Header>, data: &[u8]) -> Envelope {
    Envelope {
        payload: Payload {
            header,
            data: Bytes::copy_from_slice(data),
        }
        .encode_to_vec()
        .into(),
        signature: Bytes::new(),
    }
}

fn header(channel: &str, t: HeaderType) -> Header {
    Header {
        channel_header: ChannelHeader {
            r#type: t as i32,
            channel_id: channel.into(),
            tx_id: "t".into(),
            ..Default::default()
        }
        .encode_to_vec()
        .into(),
        signature_header: SignatureHeader::default().encode_to_vec().into(),
    }
}

/// Delivers `start..=stop` and returns the blocks and the final status.
async fn fetch(
    node: &TestNode,
    start: Position,
    stop: Position,
) -> (Vec<Block>, Option<Status>, Option<String>) {
    let mut client = node.client().await;
    let req = DeliverRequest {
        channel: "mychannel".into(),
        start,
        stop,
        fail_if_not_ready: false,
    };
    let mut blocks = Vec::new();
    let outcome = tokio::time::timeout(
        EVENT_TIMEOUT,
        deliver(&mut client, &Signer::sample().unwrap(), &req, |b| {
            blocks.push(b);
            Ok(())
        }),
    )
    .await
    .unwrap()
    .unwrap();
    (blocks, outcome.status, outcome.reason)
}

async fn send(node: &TestNode, count: u64, size: usize) {
    let mut client = node.client().await;
    let report = broadcast(&mut client, count, 100, move |i| {
        Ok(transaction("mychannel", i, size))
    })
    .await
    .unwrap();
    assert!(report.all_succeeded(), "{:?}", report.lines());
}

fn seqs(blocks: &[Block]) -> Vec<u64> {
    blocks
        .iter()
        .flat_map(|b| b.data.as_ref().unwrap().data.clone())
        .filter_map(|raw| {
            let env = Envelope::decode(raw).unwrap();
            let p = orderer_api::envelope::parse_payload(&env).unwrap();
            (p.header_type() == Some(HeaderType::EndorserTransaction))
                .then(|| u64::from_be_bytes(p.data[..8].try_into().unwrap()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_has_a_status_and_a_reason_and_the_stream_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(
        dir.path(),
        &[
            ("ORDERER_ORDERER_BATCHSIZE_ABSOLUTEMAXBYTES", "4 KB"),
            ("ORDERER_ORDERER_BATCHSIZE_PREFERREDMAXBYTES", "4 KB"),
        ],
    )
    .await;
    let good = bytes_of(&transaction("mychannel", 1, 200));
    let no_channel_header = Header {
        channel_header: Bytes::new(),
        signature_header: Bytes::new(),
    };
    let cases: Vec<(&str, Bytes, Status, &str)> = vec![
        (
            "garbage",
            Bytes::from_static(&[0xff, 0xff, 0xff, 0xff]),
            Status::BadRequest,
            "not a valid common.Envelope",
        ),
        (
            "empty envelope",
            Bytes::new(),
            Status::BadRequest,
            "empty payload",
        ),
        (
            "payload garbage",
            bytes_of(&Envelope {
                payload: Bytes::from_static(&[0x0a, 0x09, 0x01]),
                signature: Bytes::new(),
            }),
            Status::BadRequest,
            "not a valid common.Payload",
        ),
        (
            "no header",
            bytes_of(&envelope_with(None, b"x")),
            Status::BadRequest,
            "no header",
        ),
        (
            "no channel header",
            bytes_of(&envelope_with(Some(no_channel_header), b"x")),
            Status::BadRequest,
            "no channel header",
        ),
        (
            "unknown channel",
            bytes_of(&envelope_with(
                Some(header("nosuchchannel", HeaderType::EndorserTransaction)),
                b"x",
            )),
            Status::NotFound,
            "\"nosuchchannel\" does not exist",
        ),
        (
            "config",
            bytes_of(&envelope_with(
                Some(header("mychannel", HeaderType::Config)),
                b"x",
            )),
            Status::BadRequest,
            "CONFIG envelopes cannot be broadcast directly",
        ),
        (
            "orderer transaction",
            bytes_of(&envelope_with(
                Some(header("mychannel", HeaderType::OrdererTransaction)),
                b"x",
            )),
            Status::BadRequest,
            "ORDERER_TRANSACTION",
        ),
        (
            // Without a system channel, nothing creates channels.
            "config update for a channel that does not exist",
            bytes_of(&envelope_with(
                Some(header("nochannel", HeaderType::ConfigUpdate)),
                b"x",
            )),
            Status::NotFound,
            "\"nochannel\" does not exist",
        ),
        (
            "oversized",
            bytes_of(&transaction("mychannel", 2, 8000)),
            Status::BadRequest,
            "larger than the channel's Orderer.BatchSize.AbsoluteMaxBytes of 4096 bytes",
        ),
        ("good", good.clone(), Status::Success, ""),
    ];
    let mut raw = node.raw_client().await;
    let requests: Vec<Bytes> = cases.iter().map(|c| c.1.clone()).collect();
    let responses = broadcast_raw(&mut raw, requests).await.unwrap();
    assert_eq!(responses.len(), cases.len(), "one response per envelope");
    for ((name, _, status, needle), r) in cases.iter().zip(&responses) {
        assert_eq!(r.status, *status as i32, "{name}: {}", r.info);
        assert!(
            r.info.contains(needle),
            "{name}: {:?} lacks {needle:?}",
            r.info
        );
    }
    // Another stream is served as usual, and the good envelope was ordered.
    send(&node, 5, 200).await;
    let (blocks, status, _) = fetch(&node, Position::Oldest, Position::Number(1)).await;
    assert_eq!(status, Some(Status::Success));
    assert_eq!(seqs(&blocks)[0], 1);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_envelopes_come_back_in_order_in_blocks_of_at_most_max_message_count() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(
        dir.path(),
        &[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "10")],
    )
    .await;
    send(&node, 10_000, 300).await;
    let (blocks, status, _) = fetch(&node, Position::Oldest, Position::Number(1000)).await;
    assert_eq!(status, Some(Status::Success));
    let mut checker = ChainChecker::default();
    for b in &blocks {
        checker.check(b).unwrap();
        assert!(b.data.as_ref().unwrap().data.len() <= 10);
    }
    assert_eq!(seqs(&blocks), (0..10_000).collect::<Vec<_>>());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_seek_positions_and_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(
        dir.path(),
        &[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "10")],
    )
    .await;
    send(&node, 30, 200).await;
    // Blocks 1..=3 are cut by count; wait for the last one.
    let (blocks, ..) = fetch(&node, Position::Number(3), Position::Number(3)).await;
    assert_eq!(blocks.len(), 1);

    let numbers = |bs: &[Block]| {
        bs.iter()
            .map(|b| b.header.as_ref().unwrap().number)
            .collect::<Vec<_>>()
    };
    let (all, st, _) = fetch(&node, Position::Oldest, Position::Newest).await;
    assert_eq!(
        (numbers(&all), st),
        (vec![0, 1, 2, 3], Some(Status::Success))
    );
    let (newest, _, _) = fetch(&node, Position::Newest, Position::Newest).await;
    assert_eq!(numbers(&newest), vec![3]);
    let (some, _, _) = fetch(&node, Position::Number(1), Position::Number(2)).await;
    assert_eq!(numbers(&some), vec![1, 2]);
    let (oldest, _, _) = fetch(&node, Position::Oldest, Position::Oldest).await;
    assert_eq!(numbers(&oldest), vec![0]);

    let (none, st, reason) = fetch(&node, Position::Number(3), Position::Number(1)).await;
    assert!(none.is_empty());
    assert_eq!(st, Some(Status::BadRequest));
    assert!(reason.unwrap().contains("before the start"));

    let mut client = node.client().await;
    let req = DeliverRequest {
        channel: "mychannel".into(),
        start: Position::Number(50),
        stop: Position::Number(50),
        fail_if_not_ready: true,
    };
    let out = deliver(&mut client, &Signer::sample().unwrap(), &req, |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(out.status, Some(Status::NotFound));
    assert!(
        out.reason
            .unwrap()
            .contains("block 50 is not yet in channel mychannel")
    );

    let req = DeliverRequest {
        channel: "nosuch".into(),
        ..req
    };
    let out = deliver(&mut client, &Signer::sample().unwrap(), &req, |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(out.status, Some(Status::NotFound));

    // Malformed seek requests.
    let seek_with = |info: Bytes| {
        let e = seek("mychannel", Position::Oldest, Position::Oldest, false);
        let mut p = Payload::decode(e.payload.clone()).unwrap();
        p.data = info;
        Signer::sample()
            .unwrap()
            .sign_bytes(p.encode_to_vec().into())
            .unwrap()
    };
    let no_start = SeekInfo::default();
    for (env, needle) in [
        (
            seek_with(Bytes::from_static(&[0xff, 0xff])),
            "not a valid orderer.SeekInfo",
        ),
        (
            seek_with(no_start.encode_to_vec().into()),
            "no start position",
        ),
    ] {
        let mut s = client
            .deliver(tokio_stream::iter(vec![env]))
            .await
            .unwrap()
            .into_inner();
        let first = s.message().await.unwrap().unwrap();
        assert_eq!(
            first.r#type,
            Some(deliver_response::Type::Status(Status::BadRequest as i32))
        );
        assert!(
            s.message().await.unwrap().is_none(),
            "the stream ends after a failure"
        );
        let trailers = s.trailers().await.unwrap().unwrap();
        let msg = trailers
            .get("grpc-message")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(msg.replace("%20", " ").contains(needle), "{msg}");
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliver_waits_for_blocks_and_takes_the_next_seek_on_the_same_stream() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(
        dir.path(),
        &[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "5")],
    )
    .await;
    let mut client = node.client().await;
    let (tx, rx) = mpsc::channel(4);
    let mut stream = client
        .deliver(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();

    // First request: block 0 only.
    tx.send(seek("mychannel", Position::Oldest, Position::Oldest, false))
        .await
        .unwrap();
    let r = stream.message().await.unwrap().unwrap();
    assert!(
        matches!(r.r#type, Some(deliver_response::Type::Block(ref b)) if b.header.as_ref().unwrap().number == 0)
    );
    let r = stream.message().await.unwrap().unwrap();
    assert_eq!(
        r.r#type,
        Some(deliver_response::Type::Status(Status::Success as i32))
    );

    // Second request on the same stream: block 1, which does not exist yet.
    tx.send(seek(
        "mychannel",
        Position::Number(1),
        Position::Number(1),
        false,
    ))
    .await
    .unwrap();
    let waiting = tokio::spawn(async move {
        let block = stream.message().await.unwrap().unwrap();
        let status = stream.message().await.unwrap().unwrap();
        (block, status)
    });
    send(&node, 5, 100).await;
    let (block, status) = tokio::time::timeout(EVENT_TIMEOUT, waiting)
        .await
        .unwrap()
        .unwrap();
    match block.r#type {
        Some(deliver_response::Type::Block(b)) => {
            assert_eq!(b.header.unwrap().number, 1);
            assert_eq!(b.data.unwrap().data.len(), 5);
        }
        other => panic!("expected block 1, got {other:?}"),
    }
    assert_eq!(
        status.r#type,
        Some(deliver_response::Type::Status(Status::Success as i32))
    );
    drop(tx);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_followers_each_see_every_block() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(
        dir.path(),
        &[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "10")],
    )
    .await;
    let followers = 32;
    let last_block = 20u64; // 200 envelopes in blocks of 10 after the genesis block
    let mut tasks = Vec::new();
    for _ in 0..followers {
        let mut client = node.client().await;
        tasks.push(tokio::spawn(async move {
            let env = seek(
                "mychannel",
                Position::Oldest,
                Position::Number(u64::MAX),
                false,
            );
            let mut s = client
                .deliver(tokio_stream::iter(vec![env]))
                .await
                .unwrap()
                .into_inner();
            let mut checker = ChainChecker::default();
            let mut hashes = Vec::new();
            while let Some(DeliverResponse {
                r#type: Some(deliver_response::Type::Block(b)),
            }) = s.message().await.unwrap()
            {
                checker.check(&b).unwrap();
                let h = b.header.unwrap();
                hashes.push(block_header_hash(&h));
                if h.number == last_block {
                    break;
                }
            }
            hashes
        }));
    }
    send(&node, 200, 200).await;
    let mut distinct = BTreeSet::new();
    for t in tasks {
        let hashes = tokio::time::timeout(EVENT_TIMEOUT, t)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(hashes.len() as u64, last_block + 1);
        distinct.insert(hashes);
    }
    assert_eq!(distinct.len(), 1, "every follower saw the same chain");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_with_sig_omits_data_except_for_config_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(
        dir.path(),
        &[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "2")],
    )
    .await;
    send(&node, 2, 100).await;
    let mut client = node.client().await;
    let env = seek("mychannel", Position::Oldest, Position::Number(1), false);
    let mut p = Payload::decode(env.payload.clone()).unwrap();
    let mut info = SeekInfo::decode(p.data.clone()).unwrap();
    info.content_type = SeekContentType::HeaderWithSig as i32;
    p.data = info.encode_to_vec().into();
    let env = Signer::sample()
        .unwrap()
        .sign_bytes(p.encode_to_vec().into())
        .unwrap();
    let mut s = client
        .deliver(tokio_stream::iter(vec![env]))
        .await
        .unwrap()
        .into_inner();
    let mut blocks = Vec::new();
    while let Some(DeliverResponse {
        r#type: Some(deliver_response::Type::Block(b)),
    }) = s.message().await.unwrap()
    {
        blocks.push(b);
    }
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        blocks[0].data.as_ref().unwrap().data.len(),
        1,
        "config block keeps its data"
    );
    assert!(blocks[1].data.is_none(), "data omitted");
    assert!(blocks[1].header.is_some() && blocks[1].metadata.is_some());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_writes_every_accepted_envelope() {
    let dir = tempfile::tempdir().unwrap();
    // A timer that never fires during the test: only the stop can cut the batch.
    let env = [("ORDERER_ORDERER_BATCHTIMEOUT", "10m")];
    let node = TestNode::start(dir.path(), &env).await;
    send(&node, 7, 100).await;
    node.stop().await;
    let node = TestNode::start(dir.path(), &env).await;
    let (blocks, ..) = fetch(&node, Position::Oldest, Position::Newest).await;
    assert_eq!(blocks.len(), 2);
    assert_eq!(seqs(&blocks), (0..7).collect::<Vec<_>>());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_trace_dirs_receive_every_request_as_fabric_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let traces = dir.path().join("traces");
    let (b, d) = (traces.join("broadcast"), traces.join("deliver"));
    let env = [
        ("ORDERER_DEBUG_BROADCASTTRACEDIR", b.to_str().unwrap()),
        ("ORDERER_DEBUG_DELIVERTRACEDIR", d.to_str().unwrap()),
    ];
    let node = TestNode::start(&dir.path().join("ledger"), &env).await;
    send(&node, 5, 100).await;
    let (blocks, ..) = fetch(&node, Position::Oldest, Position::Oldest).await;
    assert_eq!(blocks.len(), 1);
    node.stop().await;
    // Written off the request path: wait for the files, not for time.
    let files = |dir: std::path::PathBuf, n: usize| async move {
        loop {
            let names: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            if names.len() >= n {
                return names;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let sent = tokio::time::timeout(EVENT_TIMEOUT, files(b.clone(), 5))
        .await
        .unwrap();
    let mut seen = BTreeSet::new();
    for path in &sent {
        assert_eq!(path.extension().unwrap(), "broadcast");
        let env = Envelope::decode(Bytes::from(std::fs::read(path).unwrap())).unwrap();
        let p = orderer_api::envelope::parse_payload(&env).unwrap();
        seen.insert(u64::from_be_bytes(p.data[..8].try_into().unwrap()));
    }
    assert_eq!(seen, (0..5).collect());
    let asked = tokio::time::timeout(EVENT_TIMEOUT, files(d.clone(), 1))
        .await
        .unwrap();
    let seek = Envelope::decode(Bytes::from(std::fs::read(&asked[0]).unwrap())).unwrap();
    assert!(orderer_api::envelope::parse_payload(&seek).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_with_changed_channel_settings_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path(), &[]).await;
    send(&node, 20, 100).await;
    node.stop().await;
    // The channel's configuration lives in its ledger: orderer.yaml cannot change it
    // (that is a config update), and the node writes no unsigned config block.
    for (var, value, needle) in [
        (
            "ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT",
            "5",
            "Orderer.BatchSize.MaxMessageCount is 500 in the ledger but 5 in the configuration",
        ),
        (
            "ORDERER_ORDERER_BATCHTIMEOUT",
            "1s",
            "Orderer.BatchTimeout is 200ms in the ledger but 1s in the configuration",
        ),
    ] {
        let config = common::test_config(dir.path(), &[(var, value)]);
        let err = orderer_node::start(config, orderer_node::consenters::Consenters::builtin())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{err}");
        assert!(err.contains("only a config update may change"), "{err}");
    }
    // Unchanged settings start as before, with the same chain.
    let node = TestNode::start(dir.path(), &[]).await;
    let (blocks, ..) = fetch(&node, Position::Oldest, Position::Newest).await;
    assert_eq!(blocks.len(), 2);
    assert_eq!(seqs(&blocks), (0..20).collect::<Vec<_>>());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_with_the_same_config_have_identical_genesis_blocks() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let na = TestNode::start(a.path(), &[]).await;
    let nb = TestNode::start(b.path(), &[]).await;
    let (ga, ..) = fetch(&na, Position::Oldest, Position::Oldest).await;
    let (gb, ..) = fetch(&nb, Position::Oldest, Position::Oldest).await;
    assert_eq!(ga[0].encode_to_vec(), gb[0].encode_to_vec());
    na.stop().await;
    nb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consenter_not_in_the_build_stops_the_start_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::test_config(dir.path(), &[("ORDERER_ORDERER_ORDERERTYPE", "kafka")]);
    let consenters = orderer_node::consenters::Consenters::default();
    let err = orderer_node::start(config, consenters).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("Orderer.OrdererType kafka is not compiled"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_reports_a_halted_chain() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path(), &[]).await;
    let ops = node.ops_addr();
    let get = move || {
        let ops = ops.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                orderer_testkit::http(&ops, "GET", "/healthz", None)
            })
            .await
            .unwrap()
        }
    };
    let (status, body) = get().await;
    assert_eq!(status, 200, "{body}");

    let registry = node.node.as_ref().unwrap().registry().clone();
    registry.get("mychannel").unwrap().chain.halt().await;
    let (status, body) = get().await;
    assert_eq!(status, 503);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "Service Unavailable");
    let check = &v["failed_checks"][0];
    assert_eq!(check["component"], "channel mychannel");
    assert!(
        check["reason"]
            .as_str()
            .unwrap()
            .starts_with("chain halted"),
        "{body}"
    );
    node.stop().await;
}

/// A consenter (solo underneath) whose chains and itself report warnings, as the
/// Kafka consenter does for a cluster that breaks seed 003's rules.
mod warning {
    use std::sync::Arc;

    use async_trait::async_trait;
    use bytes::Bytes;
    use orderer_api::{
        Chain, ChainError, ChainState, Consenter, ConsenterError, ConsenterKind, ConsenterSupport,
        RawEnvelope, Receipt,
    };
    use tokio::sync::watch;

    #[derive(Debug)]
    pub(crate) struct Warner(pub(crate) orderer_solo::SoloConsenter);

    impl Consenter for Warner {
        fn kind(&self) -> ConsenterKind {
            self.0.kind()
        }

        fn handle_chain(
            &self,
            support: Arc<dyn ConsenterSupport>,
            metadata: Bytes,
        ) -> Result<Arc<dyn Chain>, ConsenterError> {
            Ok(Arc::new(WarnChain(self.0.handle_chain(support, metadata)?)))
        }

        fn warnings(&self) -> Vec<String> {
            vec!["broker 1: min.insync.replicas = 1 breaks a rule".into()]
        }
    }

    #[derive(Debug)]
    struct WarnChain(Arc<dyn Chain>);

    #[async_trait]
    impl Chain for WarnChain {
        fn start(&self) {
            self.0.start()
        }
        async fn order(&self, env: RawEnvelope, seq: u64) -> Result<Receipt, ChainError> {
            self.0.order(env, seq).await
        }
        async fn configure(&self, env: RawEnvelope, seq: u64) -> Result<Receipt, ChainError> {
            self.0.configure(env, seq).await
        }
        fn state(&self) -> watch::Receiver<ChainState> {
            self.0.state()
        }
        fn channel_id(&self) -> &str {
            self.0.channel_id()
        }
        async fn halt(&self) {
            self.0.halt().await
        }
        fn warnings(&self) -> Vec<String> {
            vec!["topic mychannel: unclean.leader.election.enable = true breaks a rule".into()]
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_lists_consenter_and_chain_warnings_without_failing() {
    let dir = tempfile::tempdir().unwrap();
    let mut consenters = orderer_node::consenters::Consenters::builtin();
    consenters.register(std::sync::Arc::new(warning::Warner(
        orderer_solo::SoloConsenter::new(),
    )));
    let config = common::test_config(dir.path(), &[]);
    let node = orderer_node::start(config, consenters).await.unwrap();
    let ops = node.ops_addr.to_string();
    let (status, body) =
        tokio::task::spawn_blocking(move || orderer_testkit::http(&ops, "GET", "/healthz", None))
            .await
            .unwrap();
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "OK");
    assert_eq!(
        v["warnings"],
        serde_json::json!([
            { "component": "solo consenter", "reason": "broker 1: min.insync.replicas = 1 breaks a rule" },
            { "component": "channel mychannel", "reason": "topic mychannel: unclean.leader.election.enable = true breaks a rule" },
        ]),
        "{body}"
    );
    node.shutdown().await.unwrap();
}

/// BEST_EFFORT reads through trouble a chain may recover from; a halted chain is
/// stopped for good (e.g. a Kafka OSN refusing a channel whose block 0 is not its
/// own): nothing of its ledger is served, even BEST_EFFORT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_effort_deliver_serves_nothing_from_a_halted_chain() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path(), &[]).await;
    let best_effort = || {
        let env = seek("mychannel", Position::Oldest, Position::Number(0), false);
        let mut p = Payload::decode(env.payload.clone()).unwrap();
        let mut info = SeekInfo::decode(p.data.clone()).unwrap();
        info.error_response = SeekErrorResponse::BestEffort as i32;
        p.data = info.encode_to_vec().into();
        Signer::sample()
            .unwrap()
            .sign_bytes(p.encode_to_vec().into())
            .unwrap()
    };
    let responses = |env: Envelope| {
        let node = &node;
        async move {
            let mut client = node.client().await;
            let mut s = client
                .deliver(tokio_stream::iter(vec![env]))
                .await
                .unwrap()
                .into_inner();
            let mut out = Vec::new();
            while let Some(DeliverResponse { r#type: Some(t) }) = s.message().await.unwrap() {
                let done = matches!(t, deliver_response::Type::Status(_));
                out.push(t);
                if done {
                    break;
                }
            }
            out
        }
    };
    let served = responses(best_effort()).await;
    assert!(
        matches!(served[..], [deliver_response::Type::Block(_), deliver_response::Type::Status(s)] if s == Status::Success as i32),
        "{served:?}"
    );

    let registry = node.node.as_ref().unwrap().registry().clone();
    registry.get("mychannel").unwrap().chain.halt().await;
    let refused = responses(best_effort()).await;
    assert!(
        matches!(refused[..], [deliver_response::Type::Status(s)] if s == Status::ServiceUnavailable as i32),
        "{refused:?}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_do_not_read_stall_nobody_else() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(
        dir.path(),
        &[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "50")],
    )
    .await;
    send(&node, 500, 8 * 1024).await;

    // A follower that asks for everything, forever, and never reads.
    let mut idle_reader = node.client().await;
    let follow = seek(
        "mychannel",
        Position::Oldest,
        Position::Number(u64::MAX),
        false,
    );
    let _unread = idle_reader
        .deliver(tokio_stream::iter(vec![follow]))
        .await
        .unwrap();
    // A broadcaster that sends 2,000 envelopes and never reads a response.
    let mut deaf = node.client().await;
    let (tx, rx) = mpsc::channel(16);
    let _unanswered = deaf.broadcast(ReceiverStream::new(rx)).await.unwrap();
    tokio::spawn(async move {
        for i in 0..2000 {
            if tx
                .send(transaction("mychannel", 10_000 + i, 1024))
                .await
                .is_err()
            {
                return;
            }
        }
    });

    // Everyone else is served: new envelopes are ordered and delivered.
    send(&node, 300, 1024).await;
    let (blocks, status, reason) = fetch(&node, Position::Oldest, Position::Newest).await;
    assert_eq!(status, Some(Status::Success), "{reason:?}");
    assert!(blocks.len() > 16, "{} blocks", blocks.len());
    // (A graceful stop would wait up to its drain timeout for these streams.)
    drop((_unread, _unanswered, idle_reader, deaf));
    node.stop().await;
}
