//! The Kafka clients of one node, shared by all its channels: one producer, one
//! consumer whose per-partition queues are split off to each channel's chain, and one
//! admin client. A librdkafka client holds threads and connections per broker, so a
//! node with hundreds of channels stays light.

use std::sync::Arc;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::stream_consumer::StreamPartitionQueue;
use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureProducer, Producer as _};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, trace, warn};

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
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.brokers.send_replace(Brokers::Down(reason.to_owned()));
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
    admin: AdminClient<KafkaContext>,
    context: KafkaContext,
    brokers: watch::Receiver<Brokers>,
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
    pub(crate) fn new(options: KafkaOptions) -> Result<Self, String> {
        let (brokers, brokers_rx) = watch::channel(Brokers::Reachable);
        let context = KafkaContext { brokers };
        let stats_interval = options.read_timeout().as_millis().max(1000).to_string();
        let mut producer_config = options.producer()?;
        producer_config.set("statistics.interval.ms", &stats_interval);
        let producer: FutureProducer<KafkaContext> = producer_config
            .create_with_context(context.clone())
            .map_err(|e| format!("creating the Kafka producer: {e}"))?;
        let mut consumer_config = options.consumer()?;
        consumer_config.set("statistics.interval.ms", &stats_interval);
        let consumer: StreamConsumer<KafkaContext> = consumer_config
            .create_with_context(context.clone())
            .map_err(|e| format!("creating the Kafka consumer: {e}"))?;
        let admin: AdminClient<KafkaContext> = options
            .common()?
            .create_with_context(context.clone())
            .map_err(|e| format!("creating the Kafka admin client: {e}"))?;
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
            main_queue,
        })
    }

    /// Broker reachability, and every change.
    pub(crate) fn brokers(&self) -> watch::Receiver<Brokers> {
        self.brokers.clone()
    }

    /// A broker answered (a record was acknowledged or fetched): whatever librdkafka
    /// last reported, the cluster is reachable now.
    pub(crate) fn mark_reachable(&self) {
        if *self.brokers.borrow() != Brokers::Reachable {
            self.context.brokers.send_replace(Brokers::Reachable);
        }
    }

    /// Makes sure the channel's topic exists: looks it up first (a restart, or a topic
    /// an operator created), and creates it with one partition only when missing.
    pub(crate) async fn ensure_topic(self: &Arc<Self>, topic: &str) -> Result<(), String> {
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
            .map_err(|e| format!("creating topic {topic}: {e}"))?;
        for r in results {
            match r {
                Ok(_) => info!(
                    topic,
                    replication_factor = self.options.config.topic.replication_factor,
                    "created the channel's Kafka topic"
                ),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => debug!(topic, "topic exists"),
                Err((_, code)) => return Err(format!("creating topic {topic}: {code}")),
            }
        }
        Ok(())
    }

    /// The topic's partition count, or `None` if the brokers do not know it.
    async fn partition_count(self: &Arc<Self>, topic: &str) -> Result<Option<usize>, String> {
        let this = Arc::clone(self);
        let topic = topic.to_owned();
        let timeout = self.options.read_timeout();
        tokio::task::spawn_blocking(move || {
            let md = this
                .producer
                .client()
                .fetch_metadata(Some(&topic), timeout)
                .map_err(|e| format!("reading metadata of topic {topic}: {e}"))?;
            Ok(md
                .topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
                .map(|t| t.partitions().len()))
        })
        .await
        .map_err(|e| e.to_string())?
    }

    /// Starts consuming the channel's partition at `offset` and hands its queue over.
    pub(crate) fn assign(&self, topic: &str, offset: Offset) -> Result<PartitionQueue, String> {
        let queue = self
            .consumer
            .split_partition_queue(topic, PARTITION)
            .ok_or_else(|| format!("cannot split off the queue of {topic}/{PARTITION}"))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, PARTITION, offset)
            .map_err(|e| format!("assigning {topic}/{PARTITION}: {e}"))?;
        self.consumer
            .incremental_assign(&tpl)
            .map_err(|e| format!("assigning {topic}/{PARTITION} at {offset:?}: {e}"))?;
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
    pub(crate) async fn high_watermark(self: &Arc<Self>, topic: &str) -> Result<i64, String> {
        let this = Arc::clone(self);
        let topic = topic.to_owned();
        let timeout = self.options.read_timeout();
        tokio::task::spawn_blocking(move || {
            this.consumer
                .fetch_watermarks(&topic, PARTITION, timeout)
                .map(|(_, high)| high)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}
