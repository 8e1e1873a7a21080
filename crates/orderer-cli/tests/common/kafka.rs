//! What the tests read from Apache Kafka directly: a partition's leader, replicas and
//! in-sync replicas, and the records of a channel's partition.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message as _, Offset, TopicPartitionList};

/// A channel partition's state as the cluster's metadata has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// The leader's node id; -1 when the partition has none.
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

fn consumer(bootstrap: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "orderer-tests")
        .set("enable.auto.commit", "false")
        .set("topic.metadata.refresh.interval.ms", "500")
        .create()
        .unwrap_or_else(|e| panic!("a Kafka client for {bootstrap}: {e}"))
}

/// Partition 0 of `topic`, or `None` when the metadata does not have it (yet).
pub fn partition(bootstrap: &str, topic: &str) -> Option<PartitionState> {
    let md = consumer(bootstrap)
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .ok()?;
    let t = md.topics().iter().find(|t| t.name() == topic)?;
    let p = t.partitions().iter().find(|p| p.id() == 0)?;
    Some(PartitionState {
        leader: p.leader(),
        replicas: p.replicas().to_vec(),
        isr: p.isr().to_vec(),
    })
}

/// Waits until `topic`'s partition state satisfies `ok`, naming `what` on timeout.
pub fn wait_for_partition(
    bootstrap: &str,
    topic: &str,
    what: &str,
    timeout: Duration,
    ok: impl Fn(&PartitionState) -> bool,
) -> PartitionState {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        if let Some(p) = partition(bootstrap, topic) {
            if ok(&p) {
                return p;
            }
            last = Some(p);
        }
        assert!(
            Instant::now() < deadline,
            "{topic}: {what} did not happen in {timeout:?}; last metadata {last:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every record's value in partition 0 of `topic`, from the oldest to the end that
/// the partition has now.
pub fn records(bootstrap: &str, topic: &str) -> Vec<Vec<u8>> {
    let c = consumer(bootstrap);
    let (_, high) = c
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{topic}'s watermarks: {e}"));
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap_or_else(|e| panic!("{e}"));
    c.assign(&tpl)
        .unwrap_or_else(|e| panic!("assigning {topic}: {e}"));
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut next = 0;
    while next < high {
        assert!(
            Instant::now() < deadline,
            "{topic}: read {next} of {high} records"
        );
        match c.poll(Duration::from_secs(1)) {
            Some(Ok(m)) => {
                next = m.offset() + 1;
                out.push(m.payload().unwrap_or_default().to_vec());
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    out
}

/// Creates `topic` with one partition on exactly `replicas` (the first preferred as
/// leader), as an operator may before the OSNs start.
pub fn create_topic(bootstrap: &str, topic: &str, replicas: &[i32]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap_or_else(|e| panic!("an admin client for {bootstrap}: {e}"));
    let assignment = [replicas];
    let new = NewTopic::new(topic, 1, TopicReplication::Variable(&assignment));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let results = rt
        .block_on(admin.create_topics([&new], &AdminOptions::new()))
        .unwrap_or_else(|e| panic!("creating {topic}: {e}"));
    for r in results {
        r.unwrap_or_else(|(t, code)| panic!("creating {t}: {code}"));
    }
}
