//! The Kafka clients of one node, shared by all its channels: one producer, one
//! consumer whose per-partition queues are split off to each channel's chain, and one
//! admin client. A librdkafka client holds threads and connections per broker, so a
//! node with hundreds of channels stays light.

use std::sync::{Arc, Mutex, OnceLock};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::stream_consumer::StreamPartitionQueue;
use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers as _, Message as _, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, trace, warn};

use crate::errors::ClientError;
use crate::options::KafkaOptions;

/// The one partition of every channel's topic.
pub(crate) const PARTITION: i32 = 0;

/// Whether any broker is reachable, as librdkafka reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Brokers {
    /// No report yet, or a broker is up.
    Reachable,
    /// librdkafka reported all brokers down.
    Down(String),
}

/// librdkafka callbacks: logs into tracing, broker reachability into a watch.
#[derive(Clone)]
pub(crate) struct KafkaContext {
    brokers: watch::Sender<Brokers>,
    /// The last authentication or TLS failure of a broker connection, until a broker
    /// is up again: the cause behind the transport failures that requests report.
    connection_failure: Arc<Mutex<Option<String>>>,
}

impl KafkaContext {
    fn set_connection_failure(&self, failure: Option<String>) {
        *self
            .connection_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = failure;
    }
}

/// Whether a librdkafka error report is a broker connection's authentication or
/// TLS failure (a wrong SASL password, an untrusted certificate).
fn is_connection_failure(error: &KafkaError, reason: &str) -> bool {
    error.rdkafka_error_code() == Some(RDKafkaErrorCode::Authentication)
        || ["SASL", "SSL", "certificate"]
            .iter()
            .any(|word| reason.contains(word))
}

impl ClientContext for KafkaContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => error!(target: "librdkafka", fac, "{message}"),
            RDKafkaLogLevel::Warning => warn!(target: "librdkafka", fac, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                info!(target: "librdkafka", fac, "{message}")
            }
            RDKafkaLogLevel::Debug => debug!(target: "librdkafka", fac, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if is_connection_failure(&error, reason) {
            self.set_connection_failure(Some(reason.to_owned()));
        }
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            let why = match self
                .connection_failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
            {
                Some(f) => format!("{reason}: {f}"),
                None => reason.to_owned(),
            };
            self.brokers.send_replace(Brokers::Down(why));
        }
        warn!(target: "librdkafka", error = %error, "{reason}");
    }

    fn stats(&self, statistics: Statistics) {
        trace!(client = %statistics.name, brokers = statistics.brokers.len(), "librdkafka statistics");
        // A broker with a node id (not just a bootstrap address) in state UP means the
        // cluster is reachable again.
        let up = statistics
            .brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP");
        if up {
            self.set_connection_failure(None);
            self.brokers.send_if_modified(|b| {
                let changed = *b != Brokers::Reachable;
                *b = Brokers::Reachable;
                changed
            });
        }
    }
}

impl ConsumerContext for KafkaContext {}

impl std::fmt::Debug for KafkaContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaContext").finish_non_exhaustive()
    }
}

pub(crate) type PartitionQueue = StreamPartitionQueue<KafkaContext>;

/// The shared clients.
pub(crate) struct Clients {
    pub(crate) options: KafkaOptions,
    pub(crate) producer: FutureProducer<KafkaContext>,
    pub(crate) consumer: Arc<StreamConsumer<KafkaContext>>,
    pub(crate) admin: AdminClient<KafkaContext>,
    context: KafkaContext,
    brokers: watch::Receiver<Brokers>,
    /// Every broker id this node has seen, up or as a replica (the cluster check
    /// counts a broker that is down now).
    broker_ids: Mutex<std::collections::BTreeSet<i32>>,
    main_queue: JoinHandle<()>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("brokers", &self.options.brokers)
            .finish_non_exhaustive()
    }
}

impl Drop for Clients {
    fn drop(&mut self) {
        self.main_queue.abort();
    }
}

impl Clients {
    /// Creates the clients. Nothing connects yet: librdkafka connects in the
    /// background, so a node starts even when no broker is up.
    pub(crate) fn new(options: KafkaOptions) -> Result<Self, ClientError> {
        let (brokers, brokers_rx) = watch::channel(Brokers::Reachable);
        let context = KafkaContext {
            brokers,
            connection_failure: Arc::default(),
        };
        let stats_interval = options.read_timeout().as_millis().max(1000).to_string();
        let mut producer_config = options.producer()?;
        producer_config.set("statistics.interval.ms", &stats_interval);
        let producer: FutureProducer<KafkaContext> = producer_config
            .create_with_context(context.clone())
            .map_err(|source| ClientError::Create {
                client: "producer",
                source,
            })?;
        let mut consumer_config = options.consumer()?;
        consumer_config.set("statistics.interval.ms", &stats_interval);
        let consumer: StreamConsumer<KafkaContext> = consumer_config
            .create_with_context(context.clone())
            .map_err(|source| ClientError::Create {
                client: "consumer",
                source,
            })?;
        let admin: AdminClient<KafkaContext> = options
            .common()?
            .create_with_context(context.clone())
            .map_err(|source| ClientError::Create {
                client: "admin client",
                source,
            })?;
        let consumer = Arc::new(consumer);
        // Every partition is split off to its chain; the main queue only carries
        // events, which must still be served.
        let main = Arc::clone(&consumer);
        let main_queue = tokio::spawn(async move {
            loop {
                match main.recv().await {
                    Ok(m) => warn!(
                        topic = m.topic(),
                        offset = m.offset(),
                        "record on the shared consumer's main queue ignored"
                    ),
                    Err(e) => trace!(error = %e, "consumer event"),
                }
            }
        });
        Ok(Clients {
            options,
            producer,
            consumer,
            admin,
            context,
            brokers: brokers_rx,
            broker_ids: Mutex::default(),
            main_queue,
        })
    }

    /// Broker reachability, and every change.
    pub(crate) fn brokers(&self) -> watch::Receiver<Brokers> {
        self.brokers.clone()
    }

    /// The last authentication or TLS failure of a broker connection, while no
    /// broker has been reached since.
    pub(crate) fn connection_failure(&self) -> Option<String> {
        self.context
            .connection_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A broker answered (a record was acknowledged or fetched): whatever librdkafka
    /// last reported, the cluster is reachable now.
    pub(crate) fn mark_reachable(&self) {
        if *self.brokers.borrow() != Brokers::Reachable {
            self.context.brokers.send_replace(Brokers::Reachable);
        }
    }

    /// Remembers the brokers `up` and the replicas seen in a metadata answer, and
    /// returns the ids seen now or before that are not up: brokers that are down.
    pub(crate) fn broker_ids_seen(&self, up: &[i32], replicas: &[i32]) -> Vec<i32> {
        let mut seen = self.broker_ids.lock().unwrap_or_else(|e| e.into_inner());
        seen.extend(up.iter().chain(replicas).copied());
        seen.iter().filter(|id| !up.contains(id)).copied().collect()
    }

    /// Makes sure the channel's topic exists: looks it up first (a restart, or a topic
    /// an operator created), and creates it with one partition only when missing.
    pub(crate) async fn ensure_topic(self: &Arc<Self>, topic: &str) -> Result<(), ClientError> {
        if let Some(n) = self.partition_count(topic).await? {
            if n > 1 {
                warn!(
                    topic,
                    partitions = n,
                    "the channel's topic has more than one partition; only partition 0 is used"
                );
            }
            return Ok(());
        }
        let new = NewTopic::new(
            topic,
            1,
            TopicReplication::Fixed(i32::from(self.options.config.topic.replication_factor)),
        );
        let opts = AdminOptions::new()
            .operation_timeout(Some(self.options.write_timeout()))
            .request_timeout(Some(self.options.write_timeout()));
        let results = self
            .admin
            .create_topics([&new], &opts)
            .await
            .map_err(|source| ClientError::CreateTopic {
                topic: topic.to_owned(),
                source,
            })?;
        for r in results {
            match r {
                Ok(_) => info!(
                    topic,
                    replication_factor = self.options.config.topic.replication_factor,
                    "created the channel's Kafka topic"
                ),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => debug!(topic, "topic exists"),
                Err((_, code)) => {
                    return Err(ClientError::TopicRefused {
                        topic: topic.to_owned(),
                        code,
                    });
                }
            }
        }
        Ok(())
    }

    /// Partition 0 of `topic` as the cluster's metadata has it: who leads it, which
    /// brokers hold replicas and which of them are in sync. For error reports.
    pub(crate) async fn replica_state(
        self: &Arc<Self>,
        topic: &str,
    ) -> Result<Option<ReplicaState>, ClientError> {
        self.topic_metadata(topic, |t| {
            t.partitions()
                .iter()
                .find(|p| p.id() == PARTITION)
                .map(|p| ReplicaState {
                    leader: p.leader(),
                    replicas: p.replicas().to_vec(),
                    isr: p.isr().to_vec(),
                })
        })
        .await
        .map(Option::flatten)
    }

    /// The topic's partition count, or `None` if the brokers do not know it.
    async fn partition_count(self: &Arc<Self>, topic: &str) -> Result<Option<usize>, ClientError> {
        self.topic_metadata(topic, |t| {
            (t.error().is_none() && !t.partitions().is_empty()).then(|| t.partitions().len())
        })
        .await
        .map(Option::flatten)
    }

    /// `read` of `topic`'s entry in a fresh metadata request, or `None` when the
    /// brokers' answer does not name the topic. The request blocks: it runs beside
    /// the runtime.
    async fn topic_metadata<T: Send + 'static>(
        self: &Arc<Self>,
        topic: &str,
        read: impl FnOnce(&rdkafka::metadata::MetadataTopic) -> T + Send + 'static,
    ) -> Result<Option<T>, ClientError> {
        let this = Arc::clone(self);
        let topic = topic.to_owned();
        let timeout = self.options.read_timeout();
        tokio::task::spawn_blocking(move || {
            let md = this
                .producer
                .client()
                .fetch_metadata(Some(&topic), timeout)
                .map_err(|source| ClientError::Metadata {
                    topic: topic.clone(),
                    source,
                })?;
            Ok(md.topics().iter().find(|t| t.name() == topic).map(read))
        })
        .await?
    }

    /// Starts consuming the channel's partition at `offset` and hands its queue over.
    pub(crate) fn assign(
        &self,
        topic: &str,
        offset: Offset,
    ) -> Result<PartitionQueue, ClientError> {
        let queue = self
            .consumer
            .split_partition_queue(topic, PARTITION)
            .ok_or_else(|| ClientError::NoQueue {
                topic: topic.to_owned(),
                partition: PARTITION,
            })?;
        let assign = |source| ClientError::Assign {
            place: format!("{topic}/{PARTITION} at {offset:?}"),
            source,
        };
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, PARTITION, offset)
            .map_err(assign)?;
        self.consumer.incremental_assign(&tpl).map_err(assign)?;
        Ok(queue)
    }

    /// Stops consuming the channel's partition.
    pub(crate) fn unassign(&self, topic: &str) {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(topic, PARTITION);
        if let Err(e) = self.consumer.incremental_unassign(&tpl) {
            debug!(topic, error = %e, "unassigning the partition");
        }
    }

    /// The partition's high watermark (the offset the next record will get).
    pub(crate) async fn high_watermark(self: &Arc<Self>, topic: &str) -> Result<i64, ClientError> {
        let this = Arc::clone(self);
        let topic = topic.to_owned();
        let timeout = self.options.read_timeout();
        tokio::task::spawn_blocking(move || {
            this.consumer
                .fetch_watermarks(&topic, PARTITION, timeout)
                .map(|(_, high)| high)
                .map_err(|source| ClientError::Watermarks { topic, source })
        })
        .await?
    }
}

/// A partition's leader, replicas and in-sync replicas (broker ids; leader -1: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplicaState {
    pub(crate) leader: i32,
    pub(crate) replicas: Vec<i32>,
    pub(crate) isr: Vec<i32>,
}

impl std::fmt::Display for ReplicaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let missing: Vec<i32> = self
            .replicas
            .iter()
            .filter(|r| !self.isr.contains(r))
            .copied()
            .collect();
        write!(
            f,
            "in-sync replicas {:?} of replicas {:?} (out of sync: {:?}), leader {}",
            self.isr,
            self.replicas,
            missing,
            if self.leader < 0 {
                "none".to_owned()
            } else {
                self.leader.to_string()
            }
        )
    }
}

/// One topic's records, handed to the shared producer one batch at a time: while a
/// batch is unacknowledged, the records sent meanwhile wait here, and all of them go
/// to librdkafka together when it is acknowledged.
///
/// Why: librdkafka's idempotent producer (2.12) keeps one produce request per
/// partition in flight, and while one is in flight and a full batch waits in its
/// queue, its broker thread wakes at once again and again (`poll(…, 0)` in a loop),
/// spending a core until the answer arrives (bench/README.md). With the waiting done
/// here, librdkafka's queue is empty while a request is in flight and its broker
/// thread sleeps. Batches are the same size either way: they grow with the broker's
/// latency.
pub struct TopicProducer {
    tx: mpsc::Sender<Outgoing>,
    /// The pump's inputs until the first `send` spawns it (a chain is created
    /// outside the runtime, and sends inside it).
    idle: Mutex<Option<Pump>>,
    pump: OnceLock<JoinHandle<()>>,
}

/// What the pump task runs on.
struct Pump {
    spawn: Box<dyn FnOnce(mpsc::Receiver<Outgoing>) -> JoinHandle<()> + Send>,
    rx: mpsc::Receiver<Outgoing>,
}

/// The partition and offset of an acknowledged record.
pub type Acknowledged = Result<(i32, i64), KafkaError>;

struct Outgoing {
    payload: Vec<u8>,
    headers: Option<OwnedHeaders>,
    done: oneshot::Sender<Acknowledged>,
}

impl Outgoing {
    /// An upper bound of the record's size in a v2 record batch.
    fn wire_size(&self, key: usize) -> usize {
        let headers: usize = self.headers.as_ref().map_or(0, |h| {
            h.iter()
                .map(|h| h.key.len() + h.value.map_or(0, <[u8]>::len) + RECORD_FIELDS)
                .sum()
        });
        self.payload.len() + key + headers + RECORD_FIELDS
    }
}

/// Length, attributes, timestamp and offset deltas, key, value and header counts
/// of a record: at most this many bytes besides its key, value and headers.
const RECORD_FIELDS: usize = 48;

/// A record batch's header, with room to spare.
const BATCH_HEADER: usize = 256;

/// Records a [`TopicProducer`] holds before `send` waits: about what librdkafka's own
/// queue holds by default.
const TOPIC_QUEUE: usize = 100_000;

impl TopicProducer {
    /// Produces to partition [`PARTITION`] of `topic`, every record with `key`.
    /// `batch_bytes` is the producer's `batch.size`: at most that much is handed over
    /// at once, so that one produce request carries it.
    pub fn new<C: ClientContext + 'static>(
        producer: FutureProducer<C>,
        topic: String,
        key: Vec<u8>,
        batch_bytes: usize,
    ) -> Self {
        let (tx, rx) = mpsc::channel(TOPIC_QUEUE);
        let spawn = Box::new(move |rx| tokio::spawn(pump(producer, topic, key, batch_bytes, rx)));
        TopicProducer {
            tx,
            idle: Mutex::new(Some(Pump { spawn, rx })),
            pump: OnceLock::new(),
        }
    }

    /// Queues a record; waits only while [`TOPIC_QUEUE`] records are queued. The
    /// receiver resolves with the brokers' answer.
    pub async fn send(
        &self,
        payload: Vec<u8>,
        headers: Option<OwnedHeaders>,
    ) -> Result<oneshot::Receiver<Acknowledged>, KafkaError> {
        self.pump.get_or_init(|| {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).take();
            match idle {
                Some(p) => (p.spawn)(p.rx),
                // Only get_or_init takes it, once.
                None => tokio::spawn(async {}),
            }
        });
        let (done, receipt) = oneshot::channel();
        let out = Outgoing {
            payload,
            headers,
            done,
        };
        self.tx.send(out).await.map_err(|_| KafkaError::Canceled)?;
        Ok(receipt)
    }
}

impl Drop for TopicProducer {
    fn drop(&mut self) {
        if let Some(p) = self.pump.get() {
            p.abort();
        }
    }
}

impl std::fmt::Debug for TopicProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicProducer").finish_non_exhaustive()
    }
}

/// Hands the queued records over in batches of at most `batch_bytes`, each batch
/// once the previous one is acknowledged.
async fn pump<C: ClientContext + 'static>(
    producer: FutureProducer<C>,
    topic: String,
    key: Vec<u8>,
    batch_bytes: usize,
    mut rx: mpsc::Receiver<Outgoing>,
) {
    let mut carry: Option<Outgoing> = None;
    let mut batch = Vec::new();
    let mut waiting = Vec::new();
    loop {
        let first = match carry.take() {
            Some(out) => out,
            None => match rx.recv().await {
                Some(out) => out,
                None => return,
            },
        };
        // Wire size as librdkafka counts it against batch.size: a batch that does not
        // fit one request leaves records waiting in its queue while the first request
        // is in flight, and the broker thread spins again.
        let limit = batch_bytes.saturating_sub(BATCH_HEADER);
        let mut bytes = first.wire_size(key.len());
        batch.push(first);
        while let Ok(out) = rx.try_recv() {
            bytes += out.wire_size(key.len());
            if bytes > limit {
                carry = Some(out);
                break;
            }
            batch.push(out);
        }
        for out in batch.drain(..) {
            match produce(&producer, &topic, &key, out.payload, out.headers).await {
                Ok(delivery) => waiting.push((delivery, out.done)),
                Err(e) => {
                    let _ = out.done.send(Err(e));
                }
            }
        }
        for (delivery, done) in waiting.drain(..) {
            let answer = match delivery.await {
                Ok(Ok(d)) => Ok((d.partition, d.offset)),
                Ok(Err((e, _))) => Err(e),
                Err(_) => Err(KafkaError::Canceled),
            };
            let _ = done.send(answer);
        }
    }
}

/// Hands one record to librdkafka, waiting while its queue is full.
async fn produce<C: ClientContext + 'static>(
    producer: &FutureProducer<C>,
    topic: &str,
    key: &[u8],
    payload: Vec<u8>,
    headers: Option<OwnedHeaders>,
) -> Result<DeliveryFuture, KafkaError> {
    let mut record = FutureRecord::<[u8], [u8]>::to(topic)
        .partition(PARTITION)
        .key(key)
        .payload(&payload);
    if let Some(h) = headers {
        record = record.headers(h);
    }
    let deadline = tokio::time::Instant::now() + QUEUE_FULL_PATIENCE;
    loop {
        match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            // Only when other topics fill librdkafka's shared queue.
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r))
                if tokio::time::Instant::now() < deadline =>
            {
                record = r;
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// How long a record waits for room in librdkafka's queue before it fails.
const QUEUE_FULL_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use rdkafka::client::DefaultClientContext;
    use rdkafka::message::Header;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::DefaultProducerContext;

    /// An idempotent producer on a one-broker mock cluster with `topic`.
    fn mock_producer(
        topic: &str,
    ) -> (MockCluster<'static, DefaultProducerContext>, FutureProducer) {
        let mock = MockCluster::new(1).unwrap();
        mock.create_topic(topic, 1, 1).unwrap();
        let mut options = KafkaOptions::new(vec![mock.bootstrap_servers()]);
        options.config.idempotent = true;
        let producer = options
            .producer()
            .unwrap()
            .create::<FutureProducer<DefaultClientContext>>()
            .unwrap();
        (mock, producer)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn topic_producer_keeps_the_send_order_across_batches() {
        let (_mock, producer) = mock_producer("t");
        // Batches of at most ~3 records: many hand-overs, a carried record each time.
        let tp = TopicProducer::new(producer, "t".into(), b"0".to_vec(), 3 * 1100 + BATCH_HEADER);
        let mut receipts = Vec::new();
        for i in 0..50u32 {
            let headers = (i % 2 == 0).then(|| {
                OwnedHeaders::new().insert(Header {
                    key: "n",
                    value: Some(&i.to_be_bytes()),
                })
            });
            receipts.push(tp.send(vec![i as u8; 1000], headers).await.unwrap());
        }
        let mut offsets = Vec::new();
        for r in receipts {
            let (partition, offset) = r.await.unwrap().unwrap();
            assert_eq!(partition, PARTITION);
            offsets.push(offset);
        }
        let expected: Vec<i64> = (0..50).collect();
        assert_eq!(offsets, expected, "records acknowledged out of send order");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn topic_producer_sends_a_record_larger_than_a_batch() {
        let (_mock, producer) = mock_producer("big");
        let tp = TopicProducer::new(producer, "big".into(), Vec::new(), 1000);
        let small = tp.send(vec![1; 10], None).await.unwrap();
        let big = tp.send(vec![2; 5000], None).await.unwrap();
        let after = tp.send(vec![3; 10], None).await.unwrap();
        assert_eq!(small.await.unwrap().unwrap().1, 0);
        assert_eq!(big.await.unwrap().unwrap().1, 1);
        assert_eq!(after.await.unwrap().unwrap().1, 2);
    }

    #[test]
    fn wire_size_counts_key_value_and_headers() {
        let (done, _rx) = oneshot::channel();
        let out = Outgoing {
            payload: vec![0; 1000],
            headers: Some(OwnedHeaders::new().insert(Header {
                key: "traceparent",
                value: Some(&[0u8; 55][..]),
            })),
            done,
        };
        assert_eq!(
            out.wire_size(1),
            1000 + 1 + RECORD_FIELDS + 11 + 55 + RECORD_FIELDS
        );
    }
}
