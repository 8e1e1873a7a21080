//! The test kit's Apache Kafka cluster itself: seed 003's four nodes start, a node
//! is SIGKILLed and restarts on its address, and a cut-off node's listeners hold.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use orderer_testkit::{ClusterSpec, KafkaCluster};

/// An ApiVersions v0 request, framed, as any Kafka client's first.
fn api_versions() -> Vec<u8> {
    let client = b"testkit";
    let mut r = Vec::new();
    r.extend_from_slice(&18i16.to_be_bytes());
    r.extend_from_slice(&0i16.to_be_bytes());
    r.extend_from_slice(&1i32.to_be_bytes());
    r.extend_from_slice(&(client.len() as i16).to_be_bytes());
    r.extend_from_slice(client);
    let mut framed = (r.len() as i32).to_be_bytes().to_vec();
    framed.extend(r);
    framed
}

/// Whether the broker at `addr` answers ApiVersions within `timeout`.
fn answers(addr: &str, timeout: Duration) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    s.set_read_timeout(Some(timeout)).unwrap();
    if s.write_all(&api_versions()).is_err() {
        return false;
    }
    let mut size = [0u8; 4];
    s.read_exact(&mut size).is_ok() && i32::from_be_bytes(size) > 0
}

#[test]
fn seed_003s_cluster_starts_and_a_node_is_killed_restarted_and_cut_off() {
    let started = Instant::now();
    let mut cluster = KafkaCluster::start(ClusterSpec::seed003());
    eprintln!("four nodes started in {:?}", started.elapsed());
    assert_eq!(cluster.ids(), vec![1, 2, 3, 4]);
    assert!(cluster.is_controller(3) && !cluster.is_controller(4));
    for b in cluster.brokers() {
        assert!(answers(&b, Duration::from_secs(10)), "{b} does not answer");
    }

    let addr = cluster.broker(2);
    cluster.kill(2);
    assert!(
        !answers(&addr, Duration::from_secs(2)),
        "a killed node answered"
    );
    let restarted = Instant::now();
    cluster.restart(2);
    eprintln!("node 2 restarted in {:?}", restarted.elapsed());
    assert!(
        answers(&addr, Duration::from_secs(10)),
        "the restarted node does not answer"
    );

    cluster.cut_node(4);
    assert!(
        !answers(&cluster.broker(4), Duration::from_secs(2)),
        "a cut-off node answered"
    );
    assert!(answers(&cluster.broker(1), Duration::from_secs(10)));
    cluster.heal_node(4);
    assert!(
        answers(&cluster.broker(4), Duration::from_secs(10)),
        "a healed node does not answer"
    );
}
