//! This node's Kafka settings (Fabric's `Kafka` section plus `Orderer.Kafka.Brokers`)
//! and their translation into librdkafka properties.

use std::time::Duration;

use rdkafka::ClientConfig;

use crate::config::{KafkaConfig, Tls};
use crate::errors::ClientError;

/// When a chain's start steps are retried: every `short_interval` for `short_total`,
/// then every `long_interval` for `long_total`, then the chain gives up and halts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    pub short_interval: Duration,
    pub short_total: Duration,
    pub long_interval: Duration,
    pub long_total: Duration,
}

/// Everything the Kafka consenter needs to know about the cluster: the node's
/// `Kafka` section, the seed brokers and the largest record its channels need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaOptions {
    /// Seed brokers, `host:port` (`Orderer.Kafka.Brokers`).
    pub brokers: Vec<String>,
    /// The `Kafka` section of orderer.yaml.
    pub config: KafkaConfig,
    /// The largest record this node produces or must be able to fetch: the largest
    /// AbsoluteMaxBytes of its channels, plus the record envelope.
    pub max_record_bytes: usize,
    /// The largest `Orderer.BatchSize.AbsoluteMaxBytes` of the node's channels: what
    /// the node's cluster check holds the brokers' record limits to (channels check
    /// their own).
    pub absolute_max_bytes: u64,
}

impl KafkaOptions {
    /// The section's defaults (Fabric's sample values), for the given brokers.
    pub fn new(brokers: Vec<String>) -> Self {
        KafkaOptions {
            brokers,
            config: KafkaConfig::default(),
            max_record_bytes: 10 * 1024 * 1024 + RECORD_OVERHEAD,
            absolute_max_bytes: 10 * 1024 * 1024,
        }
    }

    pub fn retry_schedule(&self) -> RetrySchedule {
        let r = &self.config.retry;
        RetrySchedule {
            short_interval: r.short_interval.0,
            short_total: r.short_total.0,
            long_interval: r.long_interval.0,
            long_total: r.long_total.0,
        }
    }

    /// Sets the start steps' retry schedule (tests use short ones).
    pub fn set_retry_schedule(&mut self, s: RetrySchedule) {
        let r = &mut self.config.retry;
        r.short_interval.0 = s.short_interval;
        r.short_total.0 = s.short_total;
        r.long_interval.0 = s.long_interval;
        r.long_total.0 = s.long_total;
    }

    pub fn dial_timeout(&self) -> Duration {
        self.config.retry.network_timeouts.dial_timeout.0
    }

    pub fn read_timeout(&self) -> Duration {
        self.config.retry.network_timeouts.read_timeout.0
    }

    pub fn write_timeout(&self) -> Duration {
        self.config.retry.network_timeouts.write_timeout.0
    }

    /// Blocks of the duplicate window (`Kafka.DedupeWindow`; 0: off).
    pub fn dedupe_window(&self) -> u64 {
        self.config.dedupe_window
    }

    pub fn producer_retry_backoff(&self) -> Duration {
        self.config.retry.producer.retry_backoff.0
    }

    /// What one fetch asks of the channel's partition: room for the largest record
    /// up to 16 MiB, at least 1 MiB.
    fn fetch_bytes(&self) -> usize {
        self.max_record_bytes.clamp(1_048_576, 16 << 20)
    }

    /// How long a record may wait for the brokers' acknowledgement (librdkafka
    /// `message.timeout.ms`): a write timeout per attempt, for every allowed retry.
    pub fn delivery_timeout(&self) -> Duration {
        self.write_timeout() * (self.config.retry.producer.retry_max + 1)
    }

    /// Properties shared by the producer, the consumer and the admin client.
    pub(crate) fn common(&self) -> Result<ClientConfig, ClientError> {
        let k = &self.config;
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", self.brokers.join(","))
            .set("client.id", &k.client_id)
            .set(
                "socket.connection.setup.timeout.ms",
                ms(self.dial_timeout()),
            )
            .set(
                "socket.timeout.ms",
                ms(self.read_timeout().max(self.write_timeout())),
            )
            .set(
                "topic.metadata.refresh.fast.interval.ms",
                ms(k.retry.metadata.retry_backoff.0),
            )
            .set("retry.backoff.ms", ms(self.producer_retry_backoff()))
            // librdkafka leaves Nagle's algorithm on. A produce request that ends in a
            // small segment would then wait for the broker's delayed ACK (up to 40 ms
            // on Linux) while a channel's next batch queues behind it; Go's clients
            // (Fabric's sarama) turn it off too. The clients batch by themselves.
            .set("socket.nagle.disable", "true")
            .set(
                "message.max.bytes",
                self.max_record_bytes.max(1_000_000).to_string(),
            )
            .set(
                "receive.message.max.bytes",
                (self.max_record_bytes.max(1_000_000) * 2 + 512).to_string(),
            );
        if !k.version.is_empty() {
            c.set("broker.version.fallback", &k.version);
        }
        if k.verbose {
            c.set(
                "debug",
                "broker,topic,metadata,msg,protocol,consumer,fetch,cgrp",
            );
        }
        let protocol = match (k.tls.enabled, k.sasl_plain.enabled) {
            (false, false) => "plaintext",
            (true, false) => "ssl",
            (false, true) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        };
        c.set("security.protocol", protocol);
        if k.tls.enabled {
            let tls: &Tls = &k.tls;
            let read = |p: &String, key: &'static str| {
                std::fs::read_to_string(p).map_err(|source| ClientError::ReadPem {
                    key,
                    path: p.clone(),
                    source,
                })
            };
            c.set("ssl.key.pem", read(&tls.private_key, "PrivateKey")?)
                .set(
                    "ssl.certificate.pem",
                    read(&tls.certificate, "Certificate")?,
                );
            let mut cas = String::new();
            for p in &tls.root_cas {
                cas.push_str(&read(p, "RootCAs")?);
                cas.push('\n');
            }
            c.set("ssl.ca.pem", cas);
        }
        if k.sasl_plain.enabled {
            c.set("sasl.mechanisms", "PLAIN")
                .set("sasl.username", &k.sasl_plain.user)
                .set("sasl.password", &k.sasl_plain.password);
        }
        Ok(c)
    }

    /// The producer: acks from every in-sync replica, batching with a short linger,
    /// and order kept through retries: by default by idempotence (no duplicates; 5
    /// requests allowed in flight, though librdkafka 2.12 keeps one per partition) or,
    /// like Fabric's own Kafka consenter, by one request in flight (a retry after a
    /// lost response may duplicate an envelope).
    ///
    /// The idempotent producer costs no more CPU only because each chain hands its
    /// records over one batch at a time ([`crate::TopicProducer`]): handed over as they
    /// come, librdkafka's broker thread spins while a request is in flight.
    pub fn producer(&self) -> Result<ClientConfig, ClientError> {
        let mut c = self.common()?;
        let (idempotent, in_flight) = if self.config.idempotent {
            ("true", "5")
        } else {
            ("false", "1")
        };
        c.set("acks", "all")
            .set("enable.idempotence", idempotent)
            .set("max.in.flight.requests.per.connection", in_flight)
            .set("linger.ms", "2")
            .set("batch.num.messages", "10000")
            .set("batch.size", BATCH_BYTES.to_string())
            .set("compression.type", "none")
            .set("message.timeout.ms", ms(self.delivery_timeout()))
            .set("request.timeout.ms", ms(self.write_timeout()))
            .set(
                "message.send.max.retries",
                (self.config.retry.producer.retry_max.max(1) * 1000).to_string(),
            );
        Ok(c)
    }

    /// The consumer: manual assignment, no commits (the ledger's block metadata is
    /// the only offset store), and an error instead of a silent jump when an offset
    /// is gone.
    pub(crate) fn consumer(&self) -> Result<ClientConfig, ClientError> {
        let mut c = self.common()?;
        // librdkafka's consumer requires a group id even though partitions are
        // assigned by hand and nothing is committed (offsets live in the ledger).
        c.set("group.id", "orderer")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "error")
            .set("enable.partition.eof", "false")
            .set(
                "fetch.error.backoff.ms",
                ms(self.config.retry.consumer.retry_backoff.0),
            )
            // Fewer, larger fetches: each costs the broker a read of its log, and
            // under load that cost limits the channel (measured on tansu); when idle
            // the wait adds at most 20 ms to a block's latency.
            .set("fetch.wait.max.ms", "20")
            .set("fetch.min.bytes", "65536")
            // Fetch sizes are soft limits: the broker returns a record batch larger
            // than them whole (KIP-74), so they need not reach max_record_bytes and
            // a replaying consumer's fetches stay bounded.
            .set("max.partition.fetch.bytes", self.fetch_bytes().to_string())
            .set("fetch.max.bytes", (self.fetch_bytes() * 2).to_string())
            // librdkafka wants fetch.max.bytes >= message.max.bytes; the consumer
            // sends no records, and the responses are bounded by
            // receive.message.max.bytes.
            .set("message.max.bytes", (self.fetch_bytes() * 2).to_string())
            .set("queued.max.messages.kbytes", "32768");
        Ok(c)
    }
}

/// The producer's `batch.size`: the most record bytes one produce request carries
/// (librdkafka's default), and what a [`crate::TopicProducer`] hands over at once.
pub const BATCH_BYTES: usize = 1_000_000;

/// Bytes a KafkaMessage adds around an envelope (tags, lengths, config sequence),
/// with room to spare.
pub const RECORD_OVERHEAD: usize = 64 * 1024;

fn ms(d: Duration) -> String {
    d.as_millis().max(1).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(c: &ClientConfig, key: &str) -> String {
        c.get(key)
            .unwrap_or_else(|| panic!("{key} not set"))
            .to_owned()
    }

    #[test]
    fn producer_keeps_order_with_acks_all() {
        let mut o = KafkaOptions::new(vec!["a:1".into(), "b:2".into()]);
        let p = o.producer().unwrap();
        assert_eq!(get(&p, "bootstrap.servers"), "a:1,b:2");
        assert_eq!(get(&p, "acks"), "all");
        // Idempotent by default: no duplicate after a retried produce.
        assert_eq!(get(&p, "enable.idempotence"), "true");
        assert_eq!(get(&p, "max.in.flight.requests.per.connection"), "5");
        // Fabric's producer: one request in flight keeps the order through retries.
        o.config.idempotent = false;
        let p = o.producer().unwrap();
        assert_eq!(get(&p, "enable.idempotence"), "false");
        assert_eq!(get(&p, "max.in.flight.requests.per.connection"), "1");
        assert_eq!(get(&p, "message.timeout.ms"), "40000");
        assert_eq!(get(&p, "security.protocol"), "plaintext");
        let c = o.consumer().unwrap();
        assert_eq!(get(&c, "auto.offset.reset"), "error");
        assert_eq!(get(&c, "enable.auto.commit"), "false");
    }

    #[test]
    fn tls_and_sasl_map_to_librdkafka_properties() {
        let dir = tempfile::tempdir().unwrap();
        let pem = |name: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, format!("-----BEGIN X-----\n{name}\n-----END X-----\n")).unwrap();
            p.display().to_string()
        };
        let mut o = KafkaOptions::new(vec!["a:1".into()]);
        o.config.tls = Tls {
            enabled: true,
            private_key: pem("key.pem"),
            certificate: pem("cert.pem"),
            root_cas: vec![pem("ca1.pem"), pem("ca2.pem")],
        };
        let sasl = &mut o.config.sasl_plain;
        sasl.enabled = true;
        sasl.user = "alice".into();
        sasl.password = "secret".into();
        o.config.version = "2.8.1".into();
        let c = o.producer().unwrap();
        assert_eq!(get(&c, "security.protocol"), "sasl_ssl");
        assert!(get(&c, "ssl.key.pem").contains("key.pem"));
        assert!(get(&c, "ssl.certificate.pem").contains("cert.pem"));
        let cas = get(&c, "ssl.ca.pem");
        assert!(cas.contains("ca1.pem") && cas.contains("ca2.pem"));
        assert_eq!(get(&c, "sasl.mechanisms"), "PLAIN");
        assert_eq!(get(&c, "sasl.username"), "alice");
        assert_eq!(get(&c, "broker.version.fallback"), "2.8.1");

        o.config.sasl_plain.enabled = false;
        assert_eq!(get(&o.consumer().unwrap(), "security.protocol"), "ssl");
        o.config.tls.private_key = dir.path().join("missing.pem").display().to_string();
        match o.producer().unwrap_err() {
            ClientError::ReadPem { key, path, .. } => {
                assert_eq!(key, "PrivateKey");
                assert!(path.ends_with("missing.pem"), "{path}");
            }
            other => panic!("{other}"),
        }
        let text = o.producer().unwrap_err().to_string();
        assert!(text.starts_with("Kafka.TLS.PrivateKey "), "{text}");
    }
}
