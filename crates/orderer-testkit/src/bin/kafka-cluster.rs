//! `kafka-cluster`: an Apache Kafka cluster of the test kit for `bench/run`, until
//! standard input closes.
//!
//! kafka-cluster [--nodes N] [--heap MB]
//!
//! N nodes (default 4: seed 003's shape, three of them controllers; 1: a single node
//! with replication factor 1), the optimising JIT on. Prints one line,
//! `brokers=HOST:PORT,... pids=PID,...`, once every broker has started; stops the
//! cluster when its standard input reaches end of file.

use std::io::Read;
use std::process::ExitCode;

use orderer_testkit::{ClusterSpec, KafkaCluster};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut nodes = 4usize;
    let mut heap = 512u32;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = it.next().and_then(|v| v.parse().ok());
        match (a.as_str(), value) {
            ("--nodes", Some(n)) if n >= 1 => nodes = n as usize,
            ("--heap", Some(h)) if h >= 128 => heap = h,
            _ => {
                eprintln!("kafka-cluster: expected [--nodes N] [--heap MB >= 128], got {args:?}");
                return ExitCode::from(2);
            }
        }
    }
    let mut spec = if nodes == 1 {
        ClusterSpec::single()
    } else {
        ClusterSpec::seed003()
    };
    spec.nodes = nodes;
    spec.controllers = nodes.min(3);
    spec.heap_mb = heap;
    spec.optimise = true;
    let cluster = KafkaCluster::start(spec);
    let pids: Vec<String> = cluster
        .ids()
        .into_iter()
        .filter_map(|id| cluster.pid(id))
        .map(|p| p.to_string())
        .collect();
    println!("brokers={} pids={}", cluster.bootstrap(), pids.join(","));
    // Until whoever started it closes our standard input (or exits).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(cluster);
    ExitCode::SUCCESS
}
