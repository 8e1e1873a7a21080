//! The consenters compiled into this binary, keyed by `Orderer.OrdererType`.

use std::collections::BTreeMap;
use std::sync::Arc;

use orderer_api::{Consenter, ConsenterKind};

use crate::config::Config;

/// Factories of chains, one per consensus kind.
#[derive(Debug, Clone, Default)]
pub struct Consenters {
    by_kind: BTreeMap<ConsenterKind, Arc<dyn Consenter>>,
}

impl Consenters {
    /// Solo only: needs no configuration.
    pub fn builtin() -> Self {
        let mut c = Consenters::default();
        c.register(Arc::new(orderer_solo::SoloConsenter::new()));
        c
    }

    /// The consenters this binary has, set up for `config`. The Kafka consenter's
    /// clients are created only when `Orderer.OrdererType` is kafka. Must run inside a
    /// Tokio runtime.
    pub fn for_config(config: &Config) -> Result<Self, String> {
        #[allow(unused_mut)]
        let mut c = Consenters::builtin();
        #[cfg(feature = "kafka")]
        if config.orderer.orderer_type == ConsenterKind::Kafka {
            let kafka = orderer_kafka::KafkaConsenter::new(kafka_options(config)?)?;
            c.register(Arc::new(kafka));
        }
        #[cfg(not(feature = "kafka"))]
        let _ = config;
        Ok(c)
    }

    pub fn register(&mut self, consenter: Arc<dyn Consenter>) {
        self.by_kind.insert(consenter.kind(), consenter);
    }

    /// The consenter for `kind`, or a message saying it is not in this build.
    pub fn get(&self, kind: ConsenterKind) -> Result<Arc<dyn Consenter>, String> {
        self.by_kind.get(&kind).cloned().ok_or_else(|| {
            let built: Vec<_> = self.by_kind.keys().map(|k| k.as_str()).collect();
            format!(
                "Orderer.OrdererType {kind} is not compiled into this orderer (it has: {})",
                built.join(", ")
            )
        })
    }
}

/// The Kafka consenter's options from `Kafka` and `Orderer.Kafka.Brokers`.
#[cfg(feature = "kafka")]
pub fn kafka_options(config: &Config) -> Result<orderer_kafka::KafkaOptions, String> {
    use orderer_kafka::{KafkaOptions, RetrySchedule, TlsFiles};
    let k = &config.kafka;
    let r = &k.retry;
    let mut o = KafkaOptions::new(config.orderer.kafka.brokers.clone());
    o.retry = RetrySchedule {
        short_interval: r.short_interval.0,
        short_total: r.short_total.0,
        long_interval: r.long_interval.0,
        long_total: r.long_total.0,
    };
    o.dial_timeout = r.network_timeouts.dial_timeout.0;
    o.read_timeout = r.network_timeouts.read_timeout.0;
    o.write_timeout = r.network_timeouts.write_timeout.0;
    o.metadata_retry_backoff = r.metadata.retry_backoff.0;
    o.metadata_retry_max = r.metadata.retry_max;
    o.producer_retry_backoff = r.producer.retry_backoff.0;
    o.producer_retry_max = r.producer.retry_max;
    o.consumer_retry_backoff = r.consumer.retry_backoff.0;
    o.replication_factor = k.topic.replication_factor;
    o.verbose = k.verbose;
    o.idempotent = k.idempotent;
    o.version = (!k.version.is_empty()).then(|| k.version.clone());
    if k.tls.enabled {
        o.tls = Some(TlsFiles {
            private_key: k.tls.private_key.clone().into(),
            certificate: k.tls.certificate.clone().into(),
            root_cas: k.tls.root_cas.iter().map(Into::into).collect(),
        });
    }
    if k.sasl_plain.enabled {
        o.sasl_plain = Some((k.sasl_plain.user.clone(), k.sasl_plain.password.clone()));
    }
    // Records must fit the largest envelope any channel accepts.
    let mut largest = 0usize;
    for entry in &config.channels {
        let ch = config.channel_config(entry)?;
        largest = largest.max(ch.batch_size.absolute_max_bytes as usize);
    }
    o.max_record_bytes = largest + orderer_kafka::options::RECORD_OVERHEAD;
    Ok(o)
}
