//! Traces across a Kafka round trip: two OSNs export spans to a test OTLP receiver;
//! every block cut on either OSN links back to the broadcasts of its envelopes.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::{Orderer, ok};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use orderer_testkit::Broker;

/// Spans received, with the `service.instance.id` of the node that sent them.
#[derive(Default, Clone)]
struct Receiver(Arc<Mutex<Vec<(String, Span)>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            let instance = rs
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|kv| kv.key == "service.instance.id")
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for ss in rs.scope_spans {
                for span in ss.spans {
                    spans.push((instance.clone(), span));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn start_receiver(rt: &tokio::runtime::Runtime) -> (Receiver, SocketAddr) {
    let receiver = Receiver::default();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let service = TraceServiceServer::new(receiver.clone());
    rt.spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    (receiver, addr)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn every_osn_links_its_blocks_to_the_broadcasts_across_kafka() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (receiver, collector) = start_receiver(&rt);
    let broker = Broker::start();
    let endpoint = format!("http://{collector}");
    let brokers = format!("[{}]", broker.bootstrap());
    let env = [
        ("ORDERER_ORDERER_ORDERERTYPE", "kafka"),
        ("ORDERER_ORDERER_KAFKA_BROKERS", brokers.as_str()),
        ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "1"),
        ("ORDERER_KAFKA_RETRY_SHORTINTERVAL", "300ms"),
        ("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "5"),
        // The same block 0 on both OSNs (the default is each node's own address, and
        // an OSN whose block 0 is not the channel's refuses the channel).
        (
            "ORDERER_ORDERER_ADDRESSES",
            "[osn0.example.com:7050,osn1.example.com:7050]",
        ),
        ("ORDERER_TRACING_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = Orderer::start(da.path(), &env);
    a.wait_for_log("Kafka chain started", 1);
    let mut b = Orderer::start(db.path(), &env);
    b.wait_for_log("Kafka chain started", 1);

    // 10 envelopes through OSN a: blocks 1 and 2 on both OSNs.
    ok(a.cli(&["broadcast", "--count", "10"]));
    ok(a.cli(&["deliver", "--stop", "2"]));
    ok(b.cli(&["deliver", "--stop", "2"]));
    // A graceful stop flushes every span not yet exported.
    assert!(a.terminate().success());
    assert!(b.terminate().success());

    let spans = receiver.0.lock().unwrap().clone();
    let (ia, ib) = (a.addr(), b.addr());
    let by_name = |instance: &str, name: &str| -> Vec<Span> {
        spans
            .iter()
            .filter(|(i, s)| i == instance && s.name == name)
            .map(|(_, s)| s.clone())
            .collect()
    };

    // Each envelope: a root span on OSN a with its validate and enqueue children.
    let envelopes = by_name(&ia, "broadcast.envelope");
    assert_eq!(envelopes.len(), 10, "one span per broadcast envelope");
    let envelope_ids: BTreeSet<(String, String)> = envelopes
        .iter()
        .map(|s| (hex(&s.trace_id), hex(&s.span_id)))
        .collect();
    for child in ["broadcast.validate", "broadcast.enqueue"] {
        let children = by_name(&ia, child);
        assert_eq!(children.len(), 10, "{child}");
        for c in children {
            assert!(
                envelope_ids.contains(&(hex(&c.trace_id), hex(&c.parent_span_id))),
                "{child} is a child of a broadcast.envelope span"
            );
        }
    }

    // On both OSNs: the blocks holding the envelopes link to every broadcast, and
    // each block's commit is a child of its cut.
    for instance in [&ia, &ib] {
        let cuts: Vec<Span> = by_name(instance, "block.cut")
            .into_iter()
            .filter(|s| !s.links.is_empty())
            .collect();
        let linked: BTreeSet<(String, String)> = cuts
            .iter()
            .flat_map(|s| s.links.iter().map(|l| (hex(&l.trace_id), hex(&l.span_id))))
            .collect();
        assert_eq!(
            linked, envelope_ids,
            "{instance}: block.cut links cover every broadcast"
        );
        let cut_ids: BTreeMap<String, String> = cuts
            .iter()
            .map(|s| (hex(&s.span_id), hex(&s.trace_id)))
            .collect();
        let commits: Vec<Span> = by_name(instance, "ledger.commit")
            .into_iter()
            .filter(|s| cut_ids.contains_key(&hex(&s.parent_span_id)))
            .collect();
        assert_eq!(
            commits.len(),
            cuts.len(),
            "{instance}: one ledger.commit per linked cut"
        );
        for c in commits {
            assert_eq!(cut_ids[&hex(&c.parent_span_id)], hex(&c.trace_id));
        }
        assert!(
            !by_name(instance, "deliver.request").is_empty(),
            "{instance}: deliver spans"
        );
    }
    drop(broker);
}
