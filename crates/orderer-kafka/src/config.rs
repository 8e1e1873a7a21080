//! The `Kafka` section of `orderer.yaml`: how this node talks to the brokers. Key
//! names and defaults are Fabric's; `Idempotent` and `DedupeWindow` are this
//! orderer's own.

use orderer_api::config::{GoDuration, KeyDoc, Problems, Section, null_as_default};
use serde::{Deserialize, Serialize};

/// Blocks of the duplicate window by default: at the peak rate (500-envelope blocks)
/// about half a minute of envelopes, idle channels (one block per batch timeout) much
/// longer; at most 500,000 hashes (about 40 MB) per channel.
pub const DEFAULT_DEDUPE_WINDOW: u64 = 1000;

/// The largest window accepted (memory: up to 50 M hashes at 500 envelopes a block).
const MAX_DEDUPE_WINDOW: u64 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KafkaConfig {
    pub retry: Retry,
    pub topic: Topic,
    pub verbose: bool,
    pub idempotent: bool,
    pub dedupe_window: u64,
    /// Refuse to serve a channel whose Kafka cluster breaks a rule of seed 003
    /// (see [`crate::cluster`]) instead of only warning.
    pub strict: bool,
    /// librdkafka's `client.id`: how the brokers (and a test's forwarder) tell
    /// this node's connections from other nodes'.
    pub client_id: String,
    #[serde(rename = "TLS")]
    pub tls: Tls,
    #[serde(rename = "SASLPlain")]
    pub sasl_plain: SaslPlain,
    #[serde(deserialize_with = "null_as_default")]
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Retry {
    pub short_interval: GoDuration,
    pub short_total: GoDuration,
    pub long_interval: GoDuration,
    pub long_total: GoDuration,
    pub network_timeouts: NetworkTimeouts,
    pub metadata: RetryPolicy,
    pub producer: RetryPolicy,
    pub consumer: ConsumerRetry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NetworkTimeouts {
    pub dial_timeout: GoDuration,
    pub read_timeout: GoDuration,
    pub write_timeout: GoDuration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RetryPolicy {
    pub retry_backoff: GoDuration,
    pub retry_max: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ConsumerRetry {
    pub retry_backoff: GoDuration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Topic {
    pub replication_factor: u16,
}

/// TLS to the brokers (PEM files).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Tls {
    pub enabled: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub private_key: String,
    #[serde(deserialize_with = "null_as_default")]
    pub certificate: String,
    #[serde(rename = "RootCAs", deserialize_with = "null_as_default")]
    pub root_cas: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SaslPlain {
    pub enabled: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub user: String,
    #[serde(deserialize_with = "null_as_default")]
    pub password: String,
}

impl Default for KafkaConfig {
    /// The values of Fabric's sample orderer.yaml.
    fn default() -> Self {
        KafkaConfig {
            retry: Retry {
                short_interval: GoDuration::secs(5),
                short_total: GoDuration::secs(600),
                long_interval: GoDuration::secs(300),
                long_total: GoDuration::secs(12 * 3600),
                network_timeouts: NetworkTimeouts {
                    dial_timeout: GoDuration::secs(10),
                    read_timeout: GoDuration::secs(10),
                    write_timeout: GoDuration::secs(10),
                },
                metadata: RetryPolicy {
                    retry_backoff: GoDuration::millis(250),
                    retry_max: 3,
                },
                producer: RetryPolicy {
                    retry_backoff: GoDuration::millis(100),
                    retry_max: 3,
                },
                consumer: ConsumerRetry {
                    retry_backoff: GoDuration::secs(2),
                },
            },
            topic: Topic {
                replication_factor: 3,
            },
            verbose: false,
            idempotent: true,
            dedupe_window: DEFAULT_DEDUPE_WINDOW,
            strict: false,
            client_id: "orderer".to_owned(),
            tls: Tls::default(),
            sasl_plain: SaslPlain::default(),
            version: String::new(),
        }
    }
}

impl Section for KafkaConfig {
    const KEYS: &'static [KeyDoc] = &[
        KeyDoc::new(
            "Kafka.Retry.ShortInterval",
            "A channel's start steps (topic, CONNECT, consumer) are retried this often...",
        ),
        KeyDoc::new("Kafka.Retry.ShortTotal", "...for this long,"),
        KeyDoc::new("Kafka.Retry.LongInterval", "then this often..."),
        KeyDoc::new(
            "Kafka.Retry.LongTotal",
            "...for this long; then the channel's chain halts.",
        ),
        KeyDoc::new(
            "Kafka.Retry.NetworkTimeouts.DialTimeout",
            "Connection setup (`socket.connection.setup.timeout.ms`).",
        ),
        KeyDoc::new(
            "Kafka.Retry.NetworkTimeouts.ReadTimeout",
            "Socket timeout; also how long consumer errors or a stalled consumer last before the chain reports itself errored.",
        ),
        KeyDoc::new(
            "Kafka.Retry.NetworkTimeouts.WriteTimeout",
            "Produce request timeout; a record is given up after WriteTimeout x (Producer.RetryMax + 1).",
        ),
        KeyDoc::new(
            "Kafka.Retry.Metadata.RetryBackoff",
            "Metadata refresh backoff while a leader is unknown.",
        ),
        KeyDoc::new(
            "Kafka.Retry.Metadata.RetryMax",
            "Accepted for Fabric compatibility; librdkafka retries metadata until the request times out.",
        ),
        KeyDoc::new(
            "Kafka.Retry.Producer.RetryBackoff",
            "Backoff between produce retries (`retry.backoff.ms`).",
        ),
        KeyDoc::new(
            "Kafka.Retry.Producer.RetryMax",
            "Sets the delivery timeout above; the producer retries within it.",
        ),
        KeyDoc::new(
            "Kafka.Retry.Consumer.RetryBackoff",
            "Backoff after a fetch error (`fetch.error.backoff.ms`).",
        ),
        KeyDoc::new(
            "Kafka.Topic.ReplicationFactor",
            "Replicas of a channel topic this node creates (1 for a single broker).",
        ),
        KeyDoc::new(
            "Kafka.Verbose",
            "librdkafka's debug log (broker, topic, metadata, msg, protocol, consumer, fetch) into the log at debug level.",
        ),
        KeyDoc::new(
            "Kafka.Idempotent",
            "`true`: librdkafka's idempotent producer: no duplicate envelope after a produce whose answer was lost and retried; one produce request per channel in flight, order kept. `false`, Fabric's behaviour: one request in flight, order kept, such a retry may duplicate an envelope. Both cost the same CPU (each channel hands its records to librdkafka one batch at a time; see bench/README.md).",
        ),
        KeyDoc::new(
            "Kafka.DedupeWindow",
            "An envelope read from the partition whose bytes were already ordered in the channel's last this-many blocks (or are waiting to be cut) is dropped: no duplicate after a produce retried on a lost answer, or after a client resent an envelope answered SERVICE_UNAVAILABLE that had reached Kafka. Every OSN of a channel must use the same value (the rule depends only on the log and the chain, so their chains stay identical; each block records the value it was written with). `0` orders every record, as Fabric does: required while Fabric OSNs share the channel's topic, whose chains would otherwise differ when a duplicate reaches the log.",
        ),
        KeyDoc::new(
            "Kafka.Strict",
            "`false`: each Kafka cluster rule the brokers or a channel's topic break (see Running with Kafka: the orderer reads their settings with DescribeConfigs at start and when a channel's topic is set up) is a WARN line naming the setting, its value and the rule, a `/healthz` warning that does not fail it, and a `consensus_kafka_*_rule_violations` gauge. `true`: a channel whose cluster breaks a rule does not start (Broadcast answers SERVICE_UNAVAILABLE naming the rule, `/healthz` fails) and is checked again on the `Kafka.Retry` schedule. Settings the brokers refuse to describe (ACLs) or do not report are warned about, never refused.",
        ),
        KeyDoc::new(
            "Kafka.ClientId",
            "The client id this node's Kafka clients send in every request (librdkafka `client.id`; Fabric's OSN sends sarama's default, `sarama`). Give each OSN its own to tell them apart in broker logs, quotas or a test's network partition.",
        ),
        KeyDoc::new(
            "Kafka.TLS.Enabled",
            "TLS to the brokers; needs the three keys below.",
        ),
        KeyDoc::path(
            "Kafka.TLS.PrivateKey",
            "PEM file of this node's key (client authentication).",
        ),
        KeyDoc::path(
            "Kafka.TLS.Certificate",
            "PEM file of this node's certificate.",
        ),
        KeyDoc::path(
            "Kafka.TLS.RootCAs",
            "PEM files of the CAs that sign the brokers' certificates.",
        ),
        KeyDoc::new(
            "Kafka.SASLPlain.Enabled",
            "SASL/PLAIN authentication; needs User and Password. Combine with TLS.",
        ),
        KeyDoc::new("Kafka.SASLPlain.User", "SASL user."),
        KeyDoc::secret(
            "Kafka.SASLPlain.Password",
            "SASL password (`--check-config` shows it redacted).",
        ),
        KeyDoc::new(
            "Kafka.Version",
            "The brokers' version, e.g. `2.8.1`. librdkafka negotiates protocol versions itself; this is only its fallback (`broker.version.fallback`) for brokers older than 0.10.",
        ),
    ];

    fn validate(&self, p: &mut Problems) {
        let r = &self.retry;
        let n = &r.network_timeouts;
        for (key, d) in [
            ("Kafka.Retry.ShortInterval", r.short_interval),
            ("Kafka.Retry.ShortTotal", r.short_total),
            ("Kafka.Retry.LongInterval", r.long_interval),
            ("Kafka.Retry.LongTotal", r.long_total),
            ("Kafka.Retry.NetworkTimeouts.DialTimeout", n.dial_timeout),
            ("Kafka.Retry.NetworkTimeouts.ReadTimeout", n.read_timeout),
            ("Kafka.Retry.NetworkTimeouts.WriteTimeout", n.write_timeout),
            (
                "Kafka.Retry.Metadata.RetryBackoff",
                r.metadata.retry_backoff,
            ),
            (
                "Kafka.Retry.Producer.RetryBackoff",
                r.producer.retry_backoff,
            ),
            (
                "Kafka.Retry.Consumer.RetryBackoff",
                r.consumer.retry_backoff,
            ),
        ] {
            p.positive(key, d);
        }
        if r.short_total < r.short_interval {
            p.bad(
                "Kafka.Retry.ShortTotal",
                r.short_total,
                "expected at least Kafka.Retry.ShortInterval",
            );
        }
        if r.long_total < r.long_interval {
            p.bad(
                "Kafka.Retry.LongTotal",
                r.long_total,
                "expected at least Kafka.Retry.LongInterval",
            );
        }
        if self.dedupe_window > MAX_DEDUPE_WINDOW {
            p.bad(
                "Kafka.DedupeWindow",
                self.dedupe_window,
                "expected a number of blocks from 0 (off) to 100000 (each block's envelope hashes stay in memory)",
            );
        }
        if self.topic.replication_factor == 0 {
            p.bad(
                "Kafka.Topic.ReplicationFactor",
                0,
                "expected at least 1 (3 or more in production)",
            );
        }
        let id_ok = !self.client_id.is_empty()
            && self
                .client_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !id_ok {
            p.bad(
                "Kafka.ClientId",
                format!("{:?}", self.client_id),
                "expected a non-empty id of letters, digits, '.', '_' or '-'",
            );
        }
        if self.tls.enabled {
            let because = "Kafka.TLS.Enabled is true";
            p.pem_file("Kafka.TLS.PrivateKey", &self.tls.private_key, because);
            p.pem_file("Kafka.TLS.Certificate", &self.tls.certificate, because);
            if self.tls.root_cas.is_empty() {
                p.bad(
                    "Kafka.TLS.RootCAs",
                    "[]",
                    "Kafka.TLS.Enabled is true, so expected at least one PEM file of the brokers' CA",
                );
            }
            for path in &self.tls.root_cas {
                p.pem_file("Kafka.TLS.RootCAs", path, because);
            }
        }
        if self.sasl_plain.enabled {
            let because = "Kafka.SASLPlain.Enabled is true, so expected";
            p.non_empty(
                "Kafka.SASLPlain.User",
                &self.sasl_plain.user,
                &format!("{because} a user name"),
            );
            p.non_empty(
                "Kafka.SASLPlain.Password",
                &self.sasl_plain.password,
                &format!("{because} a password"),
            );
        }
        let v = &self.version;
        let version_ok = v.is_empty()
            || (v.split('.').count() >= 2
                && v.split('.')
                    .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())));
        if !version_ok {
            p.bad(
                "Kafka.Version",
                format!("{v:?}"),
                "expected a Kafka version like 2.8.1 or 0.10.2.0, or empty to negotiate",
            );
        }
    }

    fn visit_paths(&mut self, visit: &mut dyn FnMut(&'static str, &mut String)) {
        visit("Kafka.TLS.PrivateKey", &mut self.tls.private_key);
        visit("Kafka.TLS.Certificate", &mut self.tls.certificate);
        for p in &mut self.tls.root_cas {
            visit("Kafka.TLS.RootCAs", p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(c: &KafkaConfig) -> Problems {
        let mut p = Problems::default();
        c.validate(&mut p);
        p
    }

    #[test]
    fn defaults_are_fabrics_and_valid() {
        assert!(problems(&KafkaConfig::default()).is_empty());
    }

    #[test]
    fn inconsistent_settings_name_the_key() {
        let mut c = KafkaConfig::default();
        c.retry.short_total = GoDuration::secs(1);
        c.retry.network_timeouts.read_timeout = GoDuration::secs(0);
        c.topic.replication_factor = 0;
        c.sasl_plain.enabled = true;
        c.version = "two".into();
        c.client_id = "osn 1".into();
        c.tls.enabled = true;
        c.dedupe_window = 1_000_000;
        let p = problems(&c);
        let keys: Vec<&str> = p.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "Kafka.Retry.NetworkTimeouts.ReadTimeout",
                "Kafka.Retry.ShortTotal",
                "Kafka.DedupeWindow",
                "Kafka.Topic.ReplicationFactor",
                "Kafka.ClientId",
                "Kafka.TLS.RootCAs",
                "Kafka.SASLPlain.User",
                "Kafka.SASLPlain.Password",
                "Kafka.Version",
            ]
        );
        let files: Vec<&str> = p.pem_files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(files, ["Kafka.TLS.PrivateKey", "Kafka.TLS.Certificate"]);
    }
}
