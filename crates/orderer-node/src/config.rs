//! `orderer.yaml`: Fabric's key names, layered with figment.
//!
//! Layers, later wins: built-in defaults, then the YAML file (or the embedded sample
//! configuration when no file is given), then `ORDERER_*` environment variables. An
//! environment variable's name is `ORDERER_` plus the key path upper-cased with `.`
//! replaced by `_` (`ORDERER_GENERAL_LISTENPORT` sets `General.ListenPort`); keys match
//! case-insensitively in the file and in the environment, as with Fabric's viper.
//!
//! Every problem is reported with the key path, the value, where it came from and the
//! form expected. Unknown keys are errors: a typo never silently falls back to a default.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Serialized, Yaml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use orderer_api::{BatchSize, ChannelConfig, ConsenterKind, duration};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The sample configuration, used when no file is given.
pub const SAMPLE_CONFIG: &str = include_str!("../../../sampleconfig/orderer.yaml");

const ENV_PREFIX: &str = "ORDERER_";

/// The whole node configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Config {
    pub general: General,
    pub file_ledger: FileLedger,
    /// How this node talks to Kafka (used when `Orderer.OrdererType` is kafka).
    pub kafka: Kafka,
    pub operations: Operations,
    pub metrics: Metrics,
    /// OpenTelemetry trace export.
    pub tracing: Tracing,
    /// Defaults for every channel's ordering parameters (Fabric's configtx `Orderer`).
    pub orderer: OrdererDefaults,
    /// Organizations whose members may broadcast and deliver (see each channel's
    /// Writers and Readers).
    #[serde(deserialize_with = "null_as_default")]
    pub organizations: Vec<Organization>,
    /// The channels this node serves; each may override the `Orderer` defaults.
    pub channels: Vec<ChannelEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct General {
    /// Address the gRPC server binds: an IP address or a host name.
    pub listen_address: String,
    pub listen_port: u16,
    /// Largest gRPC message accepted from a client.
    pub max_recv_msg_size: ByteSize,
    /// Largest gRPC message sent to a client (a block in Deliver).
    pub max_send_msg_size: ByteSize,
    /// A tracing filter: `info`, or `info,orderer_node=debug`.
    pub log_level: String,
    /// The orderer's own identity: an MSP directory with `signcerts/` and `keystore/`.
    /// It signs every block.
    #[serde(rename = "LocalMSPDir")]
    pub local_msp_dir: String,
    #[serde(rename = "LocalMSPID")]
    pub local_msp_id: String,
    pub authentication: Authentication,
    /// TLS on the gRPC listener.
    #[serde(rename = "TLS")]
    pub tls: ServerTls,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Authentication {
    /// A request's ChannelHeader timestamp may differ from the orderer's clock by at
    /// most this much.
    pub time_window: GoDuration,
    /// Accept envelopes without checking signatures, certificates or Writers/Readers.
    /// For development only; the orderer warns at every start.
    pub skip_signature_checks: bool,
}

/// TLS of a listener. Paths are PEM files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ServerTls {
    pub enabled: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub private_key: String,
    #[serde(deserialize_with = "null_as_default")]
    pub certificate: String,
    /// CAs of this server's certificate chain (sent to clients with it).
    #[serde(rename = "RootCAs", default, deserialize_with = "null_as_default")]
    pub root_cas: Vec<String>,
    /// Refuse clients without a certificate from `ClientRootCAs` (mutual TLS).
    pub client_auth_required: bool,
    #[serde(rename = "ClientRootCAs", deserialize_with = "null_as_default")]
    pub client_root_cas: Vec<String>,
}

/// An organization whose members may write to or read from channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Organization {
    pub name: String,
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "MSPDir")]
    pub msp_dir: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FileLedger {
    /// Directory of the block store. Relative paths from a file are relative to that
    /// file's directory; from the environment, to the working directory.
    pub location: PathBuf,
}

/// Fabric's `Kafka` section of orderer.yaml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Kafka {
    pub retry: KafkaRetry,
    pub topic: KafkaTopic,
    /// Log librdkafka's debug output (broker, topic, metadata, msg) through tracing.
    pub verbose: bool,
    /// librdkafka's idempotent producer (no duplicate after a retried produce) instead
    /// of Fabric's one-request-at-a-time producer (ordered, a retry may duplicate an
    /// envelope, which peers then mark as a duplicate transaction).
    pub idempotent: bool,
    #[serde(rename = "TLS")]
    pub tls: KafkaTls,
    #[serde(rename = "SASLPlain")]
    pub sasl_plain: KafkaSaslPlain,
    /// The brokers' Kafka version, e.g. `2.8.1`. librdkafka negotiates protocol
    /// versions with the brokers itself; this is only its fallback
    /// (`broker.version.fallback`) for brokers too old to answer (before 0.10).
    /// Empty: negotiate.
    #[serde(deserialize_with = "null_as_default")]
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KafkaRetry {
    /// A chain's start steps (create topic, post CONNECT, assign the consumer) are
    /// retried every ShortInterval for ShortTotal, then every LongInterval for
    /// LongTotal; after that the chain halts.
    pub short_interval: GoDuration,
    pub short_total: GoDuration,
    pub long_interval: GoDuration,
    pub long_total: GoDuration,
    pub network_timeouts: KafkaNetworkTimeouts,
    pub metadata: KafkaRetryPolicy,
    pub producer: KafkaRetryPolicy,
    pub consumer: KafkaConsumerRetry,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KafkaNetworkTimeouts {
    pub dial_timeout: GoDuration,
    pub read_timeout: GoDuration,
    pub write_timeout: GoDuration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KafkaRetryPolicy {
    pub retry_backoff: GoDuration,
    pub retry_max: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KafkaConsumerRetry {
    pub retry_backoff: GoDuration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KafkaTopic {
    /// Replicas of each channel's topic when this node creates it.
    pub replication_factor: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KafkaTls {
    pub enabled: bool,
    /// PEM files: this node's key and certificate (client authentication) and the
    /// CAs that sign the brokers' certificates.
    #[serde(deserialize_with = "null_as_default")]
    pub private_key: String,
    #[serde(deserialize_with = "null_as_default")]
    pub certificate: String,
    #[serde(rename = "RootCAs", deserialize_with = "null_as_default")]
    pub root_cas: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct KafkaSaslPlain {
    pub enabled: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub user: String,
    #[serde(deserialize_with = "null_as_default")]
    pub password: String,
}

/// A key written without a value (`User:`), as Fabric's sample leaves them, is empty.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Operations {
    /// `host:port` of the operations HTTP server (metrics, health, log level).
    pub listen_address: String,
    #[serde(rename = "TLS")]
    pub tls: OperationsTls,
}

/// TLS of the operations listener (Fabric's keys: no RootCAs there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OperationsTls {
    pub enabled: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub private_key: String,
    #[serde(deserialize_with = "null_as_default")]
    pub certificate: String,
    pub client_auth_required: bool,
    #[serde(rename = "ClientRootCAs", deserialize_with = "null_as_default")]
    pub client_root_cas: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Metrics {
    /// `prometheus`: `/metrics` on the operations server; `disabled`: no metrics.
    pub provider: MetricsProvider,
}

/// Where metrics go. Fabric also knows `statsd`, which this orderer does not offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsProvider {
    Prometheus,
    Disabled,
}

impl MetricsProvider {
    const ALL: [(&'static str, MetricsProvider); 2] = [
        ("prometheus", MetricsProvider::Prometheus),
        ("disabled", MetricsProvider::Disabled),
    ];
}

impl Serialize for MetricsProvider {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let name = MetricsProvider::ALL
            .iter()
            .find(|(_, p)| p == self)
            .map(|(n, _)| *n)
            .unwrap_or("disabled");
        s.serialize_str(name)
    }
}

impl<'de> Deserialize<'de> for MetricsProvider {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        MetricsProvider::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s.trim()))
            .map(|(_, p)| *p)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown metrics provider {s:?}: expected one of prometheus, disabled"
                ))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Tracing {
    /// OTLP/gRPC endpoint, like `http://127.0.0.1:4317`. Empty: the standard
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` variable if set, else no export.
    #[serde(deserialize_with = "null_as_default")]
    pub endpoint: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Fraction of traces exported, 0 to 1 (a parent's decision is followed).
    pub sample_ratio: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OrdererDefaults {
    pub orderer_type: ConsenterKind,
    pub batch_timeout: GoDuration,
    pub batch_size: BatchSizeConfig,
    pub kafka: OrdererKafka,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BatchSizeConfig {
    pub max_message_count: u32,
    pub absolute_max_bytes: ByteSize,
    pub preferred_max_bytes: ByteSize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct OrdererKafka {
    /// Seed brokers, `host:port`.
    pub brokers: Vec<String>,
}

/// A channel: a name, optionally with its own batch parameters.
///
/// In YAML either `- mychannel` or `- {Name: fast, BatchTimeout: 200ms}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelEntry {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_timeout: Option<GoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<BatchSizeOverride>,
    /// Organizations (by Name) whose members may broadcast; default: all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writers: Option<Vec<String>>,
    /// Organizations (by Name) whose members may deliver; default: all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readers: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct BatchSizeOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absolute_max_bytes: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_max_bytes: Option<ByteSize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ChannelEntryMap {
    name: String,
    #[serde(default)]
    batch_timeout: Option<GoDuration>,
    #[serde(default)]
    batch_size: Option<BatchSizeOverride>,
    #[serde(default)]
    writers: Option<Vec<String>>,
    #[serde(default)]
    readers: Option<Vec<String>>,
}

impl<'de> Deserialize<'de> for ChannelEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ChannelEntry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a channel name, or a map with Name and optional BatchTimeout/BatchSize",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ChannelEntry, E> {
                Ok(ChannelEntry {
                    name: v.to_owned(),
                    batch_timeout: None,
                    batch_size: None,
                    writers: None,
                    readers: None,
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<ChannelEntry, A::Error> {
                let m = ChannelEntryMap::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                Ok(ChannelEntry {
                    name: m.name,
                    batch_timeout: m.batch_timeout,
                    batch_size: m.batch_size,
                    writers: m.writers,
                    readers: m.readers,
                })
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A duration written the Go way (`500ms`, `2s`, `1m30s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoDuration(pub Duration);

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&duration::format(self.0))
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like 500ms, 2s, 1m30s or 1h")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<GoDuration, E> {
                duration::parse(v).map(GoDuration).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<GoDuration, E> {
                if v == 0 {
                    return Ok(GoDuration(Duration::ZERO));
                }
                Err(E::custom(format!(
                    "expected a duration with a unit like 500ms, 2s, 1m30s or 1h, got the bare number {v}"
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<GoDuration, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!(
                        "expected a non-negative duration like 500ms or 2s, got {v}"
                    ))),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A byte count: a number, or a number with a unit (`512 KB`, `10 MB`, `1 GiB`).
/// Units are powers of 1024, as in Fabric's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let expected =
            || format!("expected a size like 1048576, 512 KB, 10 MB or 1 GB, got {text:?}");
        let s = text.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num.parse().map_err(|_| expected())?;
        let scale: u64 = match unit.trim().to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "K" | "KB" | "KIB" => 1 << 10,
            "M" | "MB" | "MIB" => 1 << 20,
            "G" | "GB" | "GIB" => 1 << 30,
            _ => return Err(expected()),
        };
        n.checked_mul(scale).map(ByteSize).ok_or_else(expected)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, scale) in [("GB", 1u64 << 30), ("MB", 1 << 20), ("KB", 1 << 10)] {
            if n >= scale && n % scale == 0 {
                return write!(f, "{} {unit}", n / scale);
            }
        }
        write!(f, "{n}")
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size like 1048576, 512 KB, 10 MB or 1 GB")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("expected a non-negative size, got {v}")))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Default for Config {
    /// Built-in defaults: Fabric's sample values, a solo orderer on 127.0.0.1:7050.
    fn default() -> Self {
        let batch = BatchSize::default();
        Config {
            general: General {
                listen_address: "127.0.0.1".into(),
                listen_port: 7050,
                max_recv_msg_size: ByteSize(100 << 20),
                max_send_msg_size: ByteSize(100 << 20),
                log_level: "info".into(),
                local_msp_dir: "msp".into(),
                local_msp_id: "SampleOrg".into(),
                authentication: Authentication {
                    time_window: GoDuration(Duration::from_secs(15 * 60)),
                    skip_signature_checks: false,
                },
                tls: ServerTls {
                    enabled: false,
                    private_key: String::new(),
                    certificate: String::new(),
                    root_cas: Vec::new(),
                    client_auth_required: false,
                    client_root_cas: Vec::new(),
                },
            },
            file_ledger: FileLedger {
                location: PathBuf::from("data/ledger"),
            },
            kafka: Kafka {
                retry: KafkaRetry {
                    short_interval: GoDuration(Duration::from_secs(5)),
                    short_total: GoDuration(Duration::from_secs(600)),
                    long_interval: GoDuration(Duration::from_secs(300)),
                    long_total: GoDuration(Duration::from_secs(12 * 3600)),
                    network_timeouts: KafkaNetworkTimeouts {
                        dial_timeout: GoDuration(Duration::from_secs(10)),
                        read_timeout: GoDuration(Duration::from_secs(10)),
                        write_timeout: GoDuration(Duration::from_secs(10)),
                    },
                    metadata: KafkaRetryPolicy {
                        retry_backoff: GoDuration(Duration::from_millis(250)),
                        retry_max: 3,
                    },
                    producer: KafkaRetryPolicy {
                        retry_backoff: GoDuration(Duration::from_millis(100)),
                        retry_max: 3,
                    },
                    consumer: KafkaConsumerRetry {
                        retry_backoff: GoDuration(Duration::from_secs(2)),
                    },
                },
                topic: KafkaTopic {
                    replication_factor: 3,
                },
                verbose: false,
                idempotent: false,
                tls: KafkaTls {
                    enabled: false,
                    private_key: String::new(),
                    certificate: String::new(),
                    root_cas: Vec::new(),
                },
                sasl_plain: KafkaSaslPlain {
                    enabled: false,
                    user: String::new(),
                    password: String::new(),
                },
                version: String::new(),
            },
            operations: Operations {
                listen_address: "127.0.0.1:8443".into(),
                tls: OperationsTls {
                    enabled: false,
                    private_key: String::new(),
                    certificate: String::new(),
                    client_auth_required: false,
                    client_root_cas: Vec::new(),
                },
            },
            metrics: Metrics {
                provider: MetricsProvider::Prometheus,
            },
            tracing: Tracing {
                endpoint: String::new(),
                service_name: "orderer".into(),
                sample_ratio: 1.0,
            },
            orderer: OrdererDefaults {
                orderer_type: ConsenterKind::Solo,
                batch_timeout: GoDuration(Duration::from_secs(2)),
                batch_size: BatchSizeConfig {
                    max_message_count: batch.max_message_count,
                    absolute_max_bytes: ByteSize(u64::from(batch.absolute_max_bytes)),
                    preferred_max_bytes: ByteSize(u64::from(batch.preferred_max_bytes)),
                },
                kafka: OrdererKafka {
                    brokers: vec!["127.0.0.1:9092".into()],
                },
            },
            organizations: Vec::new(),
            channels: Vec::new(),
        }
    }
}

/// Everything wrong with a configuration, one problem per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration")?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    fn one(problem: impl Into<String>) -> Self {
        ConfigError {
            problems: vec![problem.into()],
        }
    }
}

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// The embedded `sampleconfig/orderer.yaml`.
    Sample,
    /// A YAML file.
    File(PathBuf),
}

/// A loaded, validated configuration and the figment it came from (to name sources).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub source: ConfigSource,
}

/// Loads the configuration from `source` and the process environment.
pub fn load(source: ConfigSource) -> Result<Loaded, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_with_env(source, &env)
}

/// Loads the configuration from `source` and the given environment (for tests).
pub fn load_with_env(
    source: ConfigSource,
    env: &[(String, String)],
) -> Result<Loaded, ConfigError> {
    let schema = schema();
    let mut figment = Figment::from(Named {
        inner: Serialized::defaults(Config::default()),
        name: DEFAULT_SOURCE.into(),
    });
    match &source {
        ConfigSource::Sample => {
            figment = figment.merge(CanonicalKeys {
                inner: Yaml::string(SAMPLE_CONFIG),
                schema: schema.clone(),
                name: SAMPLE_SOURCE.into(),
            });
        }
        ConfigSource::File(path) => {
            if !path.is_file() {
                return Err(ConfigError::one(format!(
                    "config file {}: does not exist or is not a file",
                    path.display()
                )));
            }
            figment = figment.merge(CanonicalKeys {
                inner: Yaml::file_exact(path),
                schema: schema.clone(),
                name: format!("file {}", path.display()),
            });
        }
    }
    let env_vars = env_overrides(&schema, env)?;
    figment = figment.merge(env_vars);

    let mut config: Config = figment.extract().map_err(|e| from_figment(e, &figment))?;
    resolve_paths(&mut config, &figment, &source);
    let problems = validate(&config, &figment);
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    Ok(Loaded { config, source })
}

/// Where the built-in sample configuration came from: its relative paths (the
/// development MSP, the ledger) are relative to this directory, as a file's are to
/// the file's directory.
pub const SAMPLE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sampleconfig");

/// Makes relative paths absolute: relative to the file that set them, to the sample
/// configuration's directory, or (environment, defaults) to the working directory.
fn resolve_paths(config: &mut Config, figment: &Figment, source: &ConfigSource) {
    let base = |key: &str| -> Option<PathBuf> {
        let name = figment.find_metadata(key)?.name.to_string();
        match source {
            ConfigSource::File(path) if name.starts_with("file ") => {
                path.parent().map(Path::to_path_buf)
            }
            ConfigSource::Sample if name == SAMPLE_SOURCE => Some(PathBuf::from(SAMPLE_DIR)),
            _ => None,
        }
    };
    let fix = |s: &mut String, key: &str| {
        if !s.is_empty() && Path::new(s.as_str()).is_relative() {
            if let Some(b) = base(key) {
                *s = b.join(&*s).display().to_string();
            }
        }
    };
    let mut location = config.file_ledger.location.display().to_string();
    fix(&mut location, "FileLedger.Location");
    config.file_ledger.location = PathBuf::from(location);
    fix(&mut config.general.local_msp_dir, "General.LocalMSPDir");
    let t = &mut config.general.tls;
    fix(&mut t.private_key, "General.TLS.PrivateKey");
    fix(&mut t.certificate, "General.TLS.Certificate");
    t.root_cas
        .iter_mut()
        .for_each(|p| fix(p, "General.TLS.RootCAs"));
    t.client_root_cas
        .iter_mut()
        .for_each(|p| fix(p, "General.TLS.ClientRootCAs"));
    let o = &mut config.operations.tls;
    fix(&mut o.private_key, "Operations.TLS.PrivateKey");
    fix(&mut o.certificate, "Operations.TLS.Certificate");
    o.client_root_cas
        .iter_mut()
        .for_each(|p| fix(p, "Operations.TLS.ClientRootCAs"));
    let k = &mut config.kafka.tls;
    fix(&mut k.private_key, "Kafka.TLS.PrivateKey");
    fix(&mut k.certificate, "Kafka.TLS.Certificate");
    k.root_cas
        .iter_mut()
        .for_each(|p| fix(p, "Kafka.TLS.RootCAs"));
    for org in &mut config.organizations {
        fix(&mut org.msp_dir, "Organizations");
    }
}

/// The known keys, as a tree: the defaults, plus one map-form entry under `Channels`
/// so that channel entries' keys are known too.
fn schema() -> Dict {
    let mut example = Config::default();
    example.channels.push(ChannelEntry {
        name: String::new(),
        batch_timeout: Some(GoDuration(Duration::ZERO)),
        batch_size: Some(BatchSizeOverride {
            max_message_count: Some(0),
            absolute_max_bytes: Some(ByteSize(0)),
            preferred_max_bytes: Some(ByteSize(0)),
        }),
        writers: Some(Vec::new()),
        readers: Some(Vec::new()),
    });
    example.organizations.push(Organization {
        name: String::new(),
        id: String::new(),
        msp_dir: String::new(),
    });
    Serialized::defaults(example)
        .data()
        .ok()
        .and_then(|mut m| m.remove(&Profile::Default))
        .unwrap_or_default()
}

/// Renames keys to their canonical spelling (`listenport` -> `ListenPort`) wherever
/// the schema knows them; unknown keys stay as written so extraction reports them.
fn canonicalize(dict: Dict, schema: &Dict) -> Dict {
    dict.into_iter()
        .map(|(key, value)| {
            let Some((canon, sub)) = schema.iter().find(|(k, _)| k.eq_ignore_ascii_case(&key))
            else {
                return (key, value);
            };
            let value = match (value, sub) {
                (Value::Dict(tag, d), Value::Dict(_, sd)) => Value::Dict(tag, canonicalize(d, sd)),
                (Value::Array(tag, items), Value::Array(_, schema_items)) => {
                    let items = match schema_items.first() {
                        Some(Value::Dict(_, sd)) => items
                            .into_iter()
                            .map(|item| match item {
                                Value::Dict(t, d) => Value::Dict(t, canonicalize(d, sd)),
                                other => other,
                            })
                            .collect(),
                        _ => items,
                    };
                    Value::Array(tag, items)
                }
                (v, _) => v,
            };
            (canon.clone(), value)
        })
        .collect()
}

/// A provider whose keys are canonicalized against the schema.
struct CanonicalKeys<P> {
    inner: P,
    schema: Dict,
    name: String,
}

impl<P: Provider> Provider for CanonicalKeys<P> {
    fn metadata(&self) -> Metadata {
        let mut m = self.inner.metadata();
        m.name = self.name.clone().into();
        m
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut data = self.inner.data()?;
        for dict in data.values_mut() {
            *dict = canonicalize(std::mem::take(dict), &self.schema);
        }
        Ok(data)
    }
}

/// The canonical key path for an environment variable's suffix
/// (`GENERAL_LISTENPORT` -> `General.ListenPort`), or `None` for an unknown key.
fn env_key_path(schema: &Dict, suffix: &str) -> Option<String> {
    let mut level = schema;
    let mut path: Vec<String> = Vec::new();
    let mut segments = suffix.split('_').peekable();
    while let Some(seg) = segments.next() {
        let (canon, value) = level.iter().find(|(k, _)| k.eq_ignore_ascii_case(seg))?;
        path.push(canon.clone());
        match value {
            Value::Dict(_, d) => level = d,
            // A leaf (or a list, set whole): nothing may follow it.
            _ if segments.peek().is_some() => return None,
            _ => {}
        }
    }
    (!path.is_empty()).then(|| path.join("."))
}

/// `ORDERER_*` variables as a provider; an unknown one is an error naming it.
fn env_overrides(
    schema: &Dict,
    env: &[(String, String)],
) -> Result<Named<Serialized<Dict>>, ConfigError> {
    let mut dict = Dict::new();
    let mut problems = Vec::new();
    for (name, raw) in env {
        let Some(suffix) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let Some(path) = env_key_path(schema, suffix) else {
            problems.push(format!(
                "environment variable {name}: no configuration key matches {suffix:?}; the name is ORDERER_ plus a key path, like ORDERER_GENERAL_LISTENPORT"
            ));
            continue;
        };
        let segments: Vec<&str> = path.split('.').collect();
        let value = match leaf(schema, &segments) {
            // A string key takes the text as it is: ORDERER_OPERATIONS_LISTENADDRESS=8443
            // is the string "8443" (which validation then refuses with a reason).
            Some(Value::String(..)) => Value::from(raw.clone()),
            Some(Value::Array(..)) => match raw.parse::<Value>() {
                Ok(v @ Value::Array(..)) => v,
                // `ORDERER_CHANNELS=mychannel` means a list of one.
                Ok(v) => Value::from(vec![v]),
            },
            // Numbers and booleans parse as such; anything else stays a string and
            // extraction names the expected type.
            _ => {
                let Ok(v) = raw.parse::<Value>();
                v
            }
        };
        insert_path(&mut dict, &segments, value);
    }
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    Ok(Named {
        inner: Serialized::defaults(dict),
        name: ENV_SOURCE.into(),
    })
}

/// The schema's value at `path`, if the path names a key.
fn leaf<'a>(schema: &'a Dict, path: &[&str]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut level = schema;
    for seg in parents {
        match level.get(*seg) {
            Some(Value::Dict(_, d)) => level = d,
            _ => return None,
        }
    }
    level.get(*last)
}

fn insert_path(dict: &mut Dict, path: &[&str], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        dict.insert((*first).to_owned(), value);
        return;
    }
    let entry = dict
        .entry((*first).to_owned())
        .or_insert_with(|| Value::from(Dict::new()));
    if !matches!(entry, Value::Dict(..)) {
        *entry = Value::from(Dict::new());
    }
    if let Value::Dict(_, d) = entry {
        insert_path(d, rest, value);
    }
}

const ENV_SOURCE: &str = "environment";
const SAMPLE_SOURCE: &str = "embedded sample configuration";
const DEFAULT_SOURCE: &str = "built-in default";

/// A provider under a name of our choosing, for error messages.
struct Named<P> {
    inner: P,
    name: String,
}

impl<P: Provider> Provider for Named<P> {
    fn metadata(&self) -> Metadata {
        let mut m = self.inner.metadata();
        m.name = self.name.clone().into();
        m
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        self.inner.data()
    }
}

/// Describes where the value of `key` came from.
fn source_of(key: &str, figment: &Figment) -> String {
    describe_metadata(figment.find_metadata(key), key)
}

fn describe_metadata(meta: Option<&Metadata>, key: &str) -> String {
    match meta {
        Some(m) if m.name == ENV_SOURCE => format!("environment variable {}", env_name(key)),
        Some(m) => m.name.to_string(),
        None => DEFAULT_SOURCE.into(),
    }
}

/// The environment variable that sets `key`.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
}

fn from_figment(err: figment::Error, figment: &Figment) -> ConfigError {
    let problems = err
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = describe_metadata(e.metadata.as_ref(), &key);
            let what = match &e.kind {
                figment::error::Kind::UnknownField(field, expected) => {
                    let at = if key.is_empty() {
                        String::new()
                    } else {
                        format!("{key}.")
                    };
                    return format!(
                        "unknown key {at}{field} ({source}); valid keys here: {}",
                        expected.join(", ")
                    );
                }
                figment::error::Kind::InvalidType(actual, expected) => {
                    format!("found {actual}, expected {expected}")
                }
                figment::error::Kind::InvalidValue(actual, expected) => {
                    format!("invalid value {actual}, expected {expected}")
                }
                figment::error::Kind::MissingField(field) => {
                    return format!("{key}: missing key {field} ({source})");
                }
                other => other.to_string(),
            };
            let shown = figment
                .find_value(&key)
                .ok()
                .map(|v| format!(" = {}", show_value(&v)))
                .unwrap_or_default();
            format!("{key}{shown} ({source}): {what}")
        })
        .collect();
    ConfigError { problems }
}

fn show_value(v: &Value) -> String {
    match v {
        Value::String(_, s) => format!("{s:?}"),
        Value::Num(_, n) => match n.to_u128() {
            Some(u) => u.to_string(),
            None => format!("{n:?}"),
        },
        Value::Bool(_, b) => b.to_string(),
        Value::Array(_, items) => format!(
            "[{}]",
            items.iter().map(show_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Dict(..) => "{...}".into(),
        other => format!("{other:?}"),
    }
}

/// Checks the relations serde cannot: ranges, consistency, names.
fn validate(c: &Config, figment: &Figment) -> Vec<String> {
    let mut problems = Vec::new();
    let mut bad = |key: &str, value: String, expected: String| {
        problems.push(format!(
            "{key} = {value} ({}): {expected}",
            source_of(key, figment)
        ));
    };

    if c.general.listen_address.trim().is_empty() {
        bad(
            "General.ListenAddress",
            "\"\"".into(),
            "expected an IP address or host name".into(),
        );
    }
    if c.general.listen_address.contains(':')
        && c.general
            .listen_address
            .parse::<std::net::Ipv6Addr>()
            .is_err()
    {
        bad(
            "General.ListenAddress",
            format!("{:?}", c.general.listen_address),
            "expected an IP address or host name without a port; the port is General.ListenPort"
                .into(),
        );
    }
    for (key, size) in [
        ("General.MaxRecvMsgSize", c.general.max_recv_msg_size),
        ("General.MaxSendMsgSize", c.general.max_send_msg_size),
    ] {
        if size.0 == 0 || size.0 > u64::from(u32::MAX) {
            bad(
                key,
                size.to_string(),
                "expected a size between 1 byte and 4 GB".into(),
            );
        }
    }
    if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&c.general.log_level) {
        bad(
            "General.LogLevel",
            format!("{:?}", c.general.log_level),
            format!("expected a tracing filter like info or info,orderer_node=debug: {e}"),
        );
    }
    if !(0.0..=1.0).contains(&c.tracing.sample_ratio) {
        bad(
            "Tracing.SampleRatio",
            c.tracing.sample_ratio.to_string(),
            "expected a fraction between 0 and 1".into(),
        );
    }
    if !c.tracing.endpoint.is_empty() && !c.tracing.endpoint.contains("://") {
        bad(
            "Tracing.Endpoint",
            format!("{:?}", c.tracing.endpoint),
            "expected a URL like http://127.0.0.1:4317".into(),
        );
    }
    if parse_listen_addr(&c.operations.listen_address).is_err() {
        bad(
            "Operations.ListenAddress",
            format!("{:?}", c.operations.listen_address),
            "expected host:port, like 127.0.0.1:8443 (port 0: any free port)".into(),
        );
    }
    let kafka_mode = c.orderer.orderer_type == ConsenterKind::Kafka;
    if kafka_mode {
        if c.orderer.kafka.brokers.is_empty() {
            bad(
                "Orderer.Kafka.Brokers",
                "[]".into(),
                "expected at least one broker host:port when Orderer.OrdererType is kafka".into(),
            );
        }
        for b in &c.orderer.kafka.brokers {
            if let Err(e) = check_host_port(b) {
                bad("Orderer.Kafka.Brokers", format!("{b:?}"), e);
            }
        }
    }

    if kafka_mode {
        validate_kafka(&c.kafka, figment, &mut problems);
    }
    validate_security(c, figment, &mut problems);
    if c.channels.is_empty() {
        problems.push(format!(
            "Channels = [] ({}): expected at least one channel, like Channels: [mychannel]",
            source_of("Channels", figment)
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, ch) in c.channels.iter().enumerate() {
        let key = format!("Channels[{i}]");
        if let Err(e) = check_channel_name(&ch.name) {
            problems.push(format!(
                "{key} = {:?} ({}): {e}",
                ch.name,
                source_of("Channels", figment)
            ));
        }
        if !seen.insert(ch.name.clone()) {
            problems.push(format!(
                "{key} = {:?} ({}): channel listed twice",
                ch.name,
                source_of("Channels", figment)
            ));
        }
    }
    // Batch parameters, per effective channel configuration, naming the keys.
    match c.default_channel_params() {
        Ok((bs, timeout)) => {
            if let Err(e) = bs.validate() {
                let key = format!("Orderer.BatchSize.{}", e.field);
                problems.push(format!("{key} ({}): {e}", source_of(&key, figment)));
            }
            if timeout.is_zero() {
                problems.push(format!(
                    "Orderer.BatchTimeout = 0s ({}): expected a positive duration like 2s",
                    source_of("Orderer.BatchTimeout", figment)
                ));
            }
        }
        Err(e) => problems.push(e),
    }
    for (i, ch) in c.channels.iter().enumerate() {
        if ch.batch_size.is_none() && ch.batch_timeout.is_none() {
            continue;
        }
        match c.channel_config(ch) {
            Ok(cfg) => {
                if let Err(e) = cfg.batch_size.validate() {
                    problems.push(format!("Channels[{i}] ({}): {e}", ch.name));
                }
                if cfg.batch_timeout.is_zero() {
                    problems.push(format!(
                        "Channels[{i}].BatchTimeout ({}): expected a positive duration like 2s",
                        ch.name
                    ));
                }
            }
            Err(e) => problems.push(format!("Channels[{i}] ({}): {e}", ch.name)),
        }
    }
    problems
}

/// The `Kafka` section, checked only when the node uses Kafka.
fn validate_kafka(k: &Kafka, figment: &Figment, problems: &mut Vec<String>) {
    let mut bad = |key: &str, value: String, expected: &str| {
        problems.push(format!(
            "{key} = {value} ({}): {expected}",
            source_of(key, figment)
        ));
    };
    let r = &k.retry;
    for (key, d) in [
        ("Kafka.Retry.ShortInterval", r.short_interval),
        ("Kafka.Retry.ShortTotal", r.short_total),
        ("Kafka.Retry.LongInterval", r.long_interval),
        ("Kafka.Retry.LongTotal", r.long_total),
        (
            "Kafka.Retry.NetworkTimeouts.DialTimeout",
            r.network_timeouts.dial_timeout,
        ),
        (
            "Kafka.Retry.NetworkTimeouts.ReadTimeout",
            r.network_timeouts.read_timeout,
        ),
        (
            "Kafka.Retry.NetworkTimeouts.WriteTimeout",
            r.network_timeouts.write_timeout,
        ),
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
        if d.0.is_zero() {
            bad(key, "0s".into(), "expected a positive duration");
        }
    }
    if r.short_total.0 < r.short_interval.0 {
        bad(
            "Kafka.Retry.ShortTotal",
            duration::format(r.short_total.0),
            "expected at least Kafka.Retry.ShortInterval",
        );
    }
    if r.long_total.0 < r.long_interval.0 {
        bad(
            "Kafka.Retry.LongTotal",
            duration::format(r.long_total.0),
            "expected at least Kafka.Retry.LongInterval",
        );
    }
    if k.topic.replication_factor == 0 {
        bad(
            "Kafka.Topic.ReplicationFactor",
            "0".into(),
            "expected at least 1 (3 or more in production)",
        );
    }
    if k.tls.enabled {
        for (key, path) in [
            ("Kafka.TLS.PrivateKey", &k.tls.private_key),
            ("Kafka.TLS.Certificate", &k.tls.certificate),
        ] {
            if let Err(e) = check_pem_file(path) {
                bad(
                    key,
                    format!("{path:?}"),
                    &format!("Kafka.TLS.Enabled is true, so expected {e}"),
                );
            }
        }
        if k.tls.root_cas.is_empty() {
            bad(
                "Kafka.TLS.RootCAs",
                "[]".into(),
                "Kafka.TLS.Enabled is true, so expected at least one PEM file of the brokers' CA",
            );
        }
        for path in &k.tls.root_cas {
            if let Err(e) = check_pem_file(path) {
                bad(
                    "Kafka.TLS.RootCAs",
                    format!("{path:?}"),
                    &format!("expected {e}"),
                );
            }
        }
    }
    if k.sasl_plain.enabled {
        if k.sasl_plain.user.is_empty() {
            bad(
                "Kafka.SASLPlain.User",
                "\"\"".into(),
                "Kafka.SASLPlain.Enabled is true, so expected a user name",
            );
        }
        if k.sasl_plain.password.is_empty() {
            bad(
                "Kafka.SASLPlain.Password",
                "\"\"".into(),
                "Kafka.SASLPlain.Enabled is true, so expected a password",
            );
        }
    }
    let v = &k.version;
    let version_ok = v.is_empty()
        || (v.split('.').count() >= 2
            && v.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())));
    if !version_ok {
        bad(
            "Kafka.Version",
            format!("{v:?}"),
            "expected a Kafka version like 2.8.1 or 0.10.2.0, or empty to negotiate",
        );
    }
}

/// Identities, organizations, Writers/Readers and TLS.
fn validate_security(c: &Config, figment: &Figment, problems: &mut Vec<String>) {
    let mut bad = |key: &str, value: String, expected: &str| {
        problems.push(format!(
            "{key} = {value} ({}): {expected}",
            source_of(key, figment)
        ));
    };
    if c.general.local_msp_id.trim().is_empty() {
        bad(
            "General.LocalMSPID",
            "\"\"".into(),
            "expected the MSP ID of this orderer's identity",
        );
    }
    if c.general.local_msp_dir.trim().is_empty() {
        bad(
            "General.LocalMSPDir",
            "\"\"".into(),
            "expected the MSP directory of this orderer's identity",
        );
    }
    if c.general.authentication.time_window.0.is_zero() {
        bad(
            "General.Authentication.TimeWindow",
            "0s".into(),
            "expected a positive duration like 15m",
        );
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, org) in c.organizations.iter().enumerate() {
        let key = format!("Organizations[{i}]");
        if org.name.trim().is_empty() || org.id.trim().is_empty() || org.msp_dir.trim().is_empty() {
            bad(
                &key,
                format!("{:?}", org.name),
                "expected Name, ID (the MSP ID) and MSPDir",
            );
        }
        if !names.insert(org.name.clone()) {
            bad(&key, format!("{:?}", org.name), "organization listed twice");
        }
    }
    if c.organizations.is_empty() && !c.general.authentication.skip_signature_checks {
        problems.push(format!(
            "Organizations = [] ({}): expected at least one organization whose members may write and read, like {{Name: SampleOrg, ID: SampleOrg, MSPDir: msp}} (or General.Authentication.SkipSignatureChecks: true for development)",
            source_of("Organizations", figment)
        ));
    }
    for (i, ch) in c.channels.iter().enumerate() {
        for (what, list) in [("Writers", &ch.writers), ("Readers", &ch.readers)] {
            for name in list.iter().flatten() {
                if !names.contains(name) {
                    problems.push(format!(
                        "Channels[{i}].{what} ({}): unknown organization {name:?}; Organizations has: {}",
                        ch.name,
                        names.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
    }
    let tls_files = |prefix: &str,
                     enabled: bool,
                     key: &str,
                     cert: &str,
                     client_auth: bool,
                     client_cas: &[String],
                     problems: &mut Vec<String>| {
        if !enabled {
            return;
        }
        for (name, path) in [("PrivateKey", key), ("Certificate", cert)] {
            let k = format!("{prefix}.TLS.{name}");
            if let Err(e) = check_pem_file(path) {
                problems.push(format!(
                    "{k} = {path:?} ({}): {prefix}.TLS.Enabled is true, so expected {e}",
                    source_of(&k, figment)
                ));
            }
        }
        if client_auth && client_cas.is_empty() {
            let k = format!("{prefix}.TLS.ClientRootCAs");
            problems.push(format!("{k} = [] ({}): {prefix}.TLS.ClientAuthRequired is true, so expected the CAs of client certificates", source_of(&k, figment)));
        }
        for path in client_cas {
            let k = format!("{prefix}.TLS.ClientRootCAs");
            if let Err(e) = check_pem_file(path) {
                problems.push(format!(
                    "{k} = {path:?} ({}): expected {e}",
                    source_of(&k, figment)
                ));
            }
        }
    };
    let t = &c.general.tls;
    tls_files(
        "General",
        t.enabled,
        &t.private_key,
        &t.certificate,
        t.client_auth_required,
        &t.client_root_cas,
        problems,
    );
    let o = &c.operations.tls;
    tls_files(
        "Operations",
        o.enabled,
        &o.private_key,
        &o.certificate,
        o.client_auth_required,
        &o.client_root_cas,
        problems,
    );
}

/// A readable file holding PEM data; the error says what is wrong with it.
fn check_pem_file(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the path of a PEM file".into());
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("a readable PEM file ({e})"))?;
    if !text.contains("-----BEGIN ") {
        return Err("a PEM file (no -----BEGIN line found)".into());
    }
    Ok(())
}

fn to_u32(key: &str, size: ByteSize) -> Result<u32, String> {
    u32::try_from(size.0).map_err(|_| {
        format!(
            "{key} = {size}: expected at most 4 GB (it is a 32-bit field of the channel config)"
        )
    })
}

impl Config {
    /// `Orderer.BatchSize` and `Orderer.BatchTimeout` as domain values.
    pub fn default_channel_params(&self) -> Result<(BatchSize, Duration), String> {
        let b = &self.orderer.batch_size;
        Ok((
            BatchSize {
                max_message_count: b.max_message_count,
                absolute_max_bytes: to_u32(
                    "Orderer.BatchSize.AbsoluteMaxBytes",
                    b.absolute_max_bytes,
                )?,
                preferred_max_bytes: to_u32(
                    "Orderer.BatchSize.PreferredMaxBytes",
                    b.preferred_max_bytes,
                )?,
            },
            self.orderer.batch_timeout.0,
        ))
    }

    /// The ordering parameters of one configured channel: the `Orderer` defaults
    /// with the entry's overrides applied.
    pub fn channel_config(&self, entry: &ChannelEntry) -> Result<ChannelConfig, String> {
        let (mut batch_size, mut timeout) = self.default_channel_params()?;
        if let Some(t) = entry.batch_timeout {
            timeout = t.0;
        }
        if let Some(o) = &entry.batch_size {
            if let Some(n) = o.max_message_count {
                batch_size.max_message_count = n;
            }
            if let Some(s) = o.absolute_max_bytes {
                batch_size.absolute_max_bytes = to_u32("BatchSize.AbsoluteMaxBytes", s)?;
            }
            if let Some(s) = o.preferred_max_bytes {
                batch_size.preferred_max_bytes = to_u32("BatchSize.PreferredMaxBytes", s)?;
            }
        }
        Ok(ChannelConfig {
            channel_id: entry.name.clone(),
            consensus_type: self.orderer.orderer_type,
            batch_size,
            batch_timeout: timeout,
        })
    }

    /// The MSP IDs of the named organizations (all organizations when `None`).
    pub fn msp_ids(&self, names: Option<&Vec<String>>) -> Vec<String> {
        self.organizations
            .iter()
            .filter(|o| names.is_none_or(|n| n.contains(&o.name)))
            .map(|o| o.id.clone())
            .collect()
    }

    /// The gRPC listen address as `host:port`.
    pub fn grpc_address(&self) -> String {
        let host = &self.general.listen_address;
        if host.contains(':') {
            format!("[{host}]:{}", self.general.listen_port)
        } else {
            format!("{host}:{}", self.general.listen_port)
        }
    }
}

/// Parses a listen address: `host:port`, where port 0 means any free port.
pub fn parse_listen_addr(s: &str) -> Result<SocketAddr, String> {
    match s.rsplit_once(':') {
        Some((host, "0")) => parse_socket_addr(&format!("{host}:1")).map(|mut a| {
            a.set_port(0);
            a
        }),
        _ => parse_socket_addr(s),
    }
}

/// Parses `host:port` where host is an IP address or `localhost`.
pub fn parse_socket_addr(s: &str) -> Result<SocketAddr, String> {
    check_host_port(s)?;
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let (host, port) = s.rsplit_once(':').ok_or("expected host:port")?;
    let port: u16 = port
        .parse()
        .map_err(|_| "port must be 0-65535".to_string())?;
    match host {
        "localhost" => Ok(SocketAddr::from(([127, 0, 0, 1], port))),
        "" | "0.0.0.0" => Ok(SocketAddr::from(([0, 0, 0, 0], port))),
        _ => Err(format!(
            "expected an IP address or localhost before the port, got {host:?}"
        )),
    }
}

/// Checks `host:port` syntax: a non-empty host and a port number.
pub fn check_host_port(s: &str) -> Result<(), String> {
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err("expected host:port, like 127.0.0.1:9092 (the port is missing)".into());
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() && !s.starts_with(':') {
        return Err("expected host:port with a host name or IP address".into());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!(
            "expected host:port with a port 1-65535, got port {port:?}"
        )),
    }
}

/// Fabric's channel name rule: lowercase letters, digits, `.` and `-`, starting with a
/// letter, shorter than 250 characters (it also names the channel's Kafka topic and
/// ledger directory).
pub fn check_channel_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() < 250
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    if valid {
        Ok(())
    } else {
        Err("expected a channel name of lowercase letters, digits, '.' and '-', starting with a letter, under 250 characters".into())
    }
}

/// The path a config file argument or `FABRIC_CFG_PATH` (a directory holding
/// `orderer.yaml`, as in Fabric) points to, if any.
pub fn source_from(arg: Option<&Path>, fabric_cfg_path: Option<&Path>) -> ConfigSource {
    match (arg, fabric_cfg_path) {
        (Some(p), _) => ConfigSource::File(p.to_path_buf()),
        (None, Some(dir)) => ConfigSource::File(dir.join("orderer.yaml")),
        (None, None) => ConfigSource::Sample,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sample(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        load_with_env(ConfigSource::Sample, &env(pairs)).map(|l| l.config)
    }

    fn file(yaml: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orderer.yaml");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(yaml.as_bytes())
            .unwrap();
        (dir, path)
    }

    /// Loads `yaml` as a file. Unless it configures General or Organizations itself,
    /// security checks are skipped: these tests are about other keys.
    fn from_file(
        yaml: &str,
        pairs: &[(&str, &str)],
    ) -> (tempfile::TempDir, Result<Config, ConfigError>) {
        let yaml = if yaml.contains("Organizations") || yaml.contains("General:") {
            yaml.to_owned()
        } else {
            format!("General:\n  Authentication:\n    SkipSignatureChecks: true\n{yaml}")
        };
        let (dir, path) = file(&yaml);
        let r = load_with_env(ConfigSource::File(path), &env(pairs)).map(|l| l.config);
        (dir, r)
    }

    /// The one problem reported, which must mention every needle.
    fn assert_problem(r: Result<Config, ConfigError>, needles: &[&str]) {
        let err = r.expect_err("configuration should be refused");
        let text = err.to_string();
        for n in needles {
            assert!(text.contains(n), "{n:?} missing from:\n{text}");
        }
    }

    #[test]
    fn sample_is_a_secure_solo_orderer_for_mychannel() {
        let c = sample(&[]).unwrap();
        assert_eq!(c.grpc_address(), "127.0.0.1:7050");
        assert_eq!(c.orderer.orderer_type, ConsenterKind::Solo);
        assert_eq!(c.channels.len(), 1);
        assert_eq!(c.channels[0].name, "mychannel");
        let sample_dir = PathBuf::from(SAMPLE_DIR);
        assert_eq!(c.file_ledger.location, sample_dir.join("../data/ledger"));
        assert_eq!(
            PathBuf::from(&c.general.local_msp_dir),
            sample_dir.join("msp")
        );
        assert_eq!(c.general.local_msp_id, "SampleOrg");
        assert!(!c.general.authentication.skip_signature_checks);
        assert_eq!(c.organizations.len(), 1);
        assert_eq!(
            PathBuf::from(&c.organizations[0].msp_dir),
            sample_dir.join("msp")
        );
        assert_eq!(c.msp_ids(None), ["SampleOrg"]);
        assert_eq!(
            PathBuf::from(&c.general.tls.certificate),
            sample_dir.join("tls/server.crt")
        );
        let ch = c.channel_config(&c.channels[0]).unwrap();
        assert_eq!(ch.batch_size, BatchSize::default());
        assert_eq!(ch.batch_timeout, Duration::from_secs(2));
        // Every other key of the sample file is the built-in default.
        let expected = Config {
            channels: c.channels.clone(),
            organizations: c.organizations.clone(),
            file_ledger: c.file_ledger.clone(),
            general: General {
                local_msp_dir: c.general.local_msp_dir.clone(),
                tls: c.general.tls.clone(),
                ..Config::default().general
            },
            operations: Operations {
                tls: c.operations.tls.clone(),
                ..Config::default().operations
            },
            ..Config::default()
        };
        assert_eq!(c, expected);
    }

    #[test]
    fn writers_readers_and_tls_are_checked() {
        let c = sample(&[]).unwrap();
        assert_eq!(c.msp_ids(Some(&vec!["SampleOrg".into()])), ["SampleOrg"]);
        assert_problem(
            sample(&[
                ("ORDERER_GENERAL_TLS_ENABLED", "true"),
                ("ORDERER_GENERAL_TLS_CERTIFICATE", "/nonexistent.pem"),
            ]),
            &[
                "General.TLS.Certificate",
                "/nonexistent.pem",
                "General.TLS.Enabled is true",
                "readable PEM file",
            ],
        );
        assert!(
            sample(&[("ORDERER_GENERAL_TLS_ENABLED", "true")]).is_ok(),
            "the sample's TLS files exist"
        );
        assert_problem(
            sample(&[
                ("ORDERER_OPERATIONS_TLS_ENABLED", "true"),
                ("ORDERER_OPERATIONS_TLS_CLIENTAUTHREQUIRED", "true"),
                ("ORDERER_OPERATIONS_TLS_CLIENTROOTCAS", "[]"),
            ]),
            &["Operations.TLS.ClientRootCAs", "ClientAuthRequired is true"],
        );
        let (_d, r) = from_file(
            "Organizations:\n  - {Name: A, ID: AMSP, MSPDir: a}\nChannels:\n  - {Name: c, Writers: [A, B]}\n",
            &[],
        );
        assert_problem(
            r,
            &[
                "Channels[0].Writers",
                "unknown organization \"B\"",
                "Organizations has: A",
            ],
        );
        let (_d, r) = from_file("Organizations: []\nChannels: [c]\n", &[]);
        assert_problem(r, &["Organizations = []", "SkipSignatureChecks"]);
        assert_problem(
            sample(&[("ORDERER_GENERAL_AUTHENTICATION_TIMEWINDOW", "0s")]),
            &["General.Authentication.TimeWindow"],
        );
    }

    #[test]
    fn environment_overrides_every_kind_of_key() {
        let c = sample(&[
            ("ORDERER_GENERAL_LISTENPORT", "7051"),
            ("ORDERER_FILELEDGER_LOCATION", "/tmp/x"),
            ("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "10"),
            ("ORDERER_ORDERER_BATCHTIMEOUT", "200ms"),
            ("ORDERER_ORDERER_ORDERERTYPE", "solo"),
            ("ORDERER_ORDERER_BATCHSIZE_PREFERREDMAXBYTES", "512 KB"),
            ("ORDERER_GENERAL_LOGLEVEL", "info,orderer_node=debug"),
            ("ORDERER_CHANNELS", "[mychannel,other]"),
            ("UNRELATED", "ignored"),
        ])
        .unwrap();
        assert_eq!(c.general.listen_port, 7051);
        assert_eq!(c.file_ledger.location, PathBuf::from("/tmp/x"));
        assert_eq!(c.orderer.batch_size.max_message_count, 10);
        assert_eq!(
            c.orderer.batch_timeout,
            GoDuration(Duration::from_millis(200))
        );
        assert_eq!(
            c.orderer.batch_size.preferred_max_bytes,
            ByteSize(512 * 1024)
        );
        assert_eq!(c.general.log_level, "info,orderer_node=debug");
        let names: Vec<_> = c.channels.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["mychannel", "other"]);
    }

    #[test]
    fn single_channel_from_environment_and_kafka_brokers_list() {
        let c = sample(&[
            ("ORDERER_CHANNELS", "solo-only"),
            ("ORDERER_ORDERER_ORDERERTYPE", "kafka"),
            (
                "ORDERER_ORDERER_KAFKA_BROKERS",
                "[127.0.0.1:9092,127.0.0.1:9093]",
            ),
        ])
        .unwrap();
        assert_eq!(c.channels[0].name, "solo-only");
        assert_eq!(
            c.orderer.kafka.brokers,
            ["127.0.0.1:9092", "127.0.0.1:9093"]
        );
    }

    #[test]
    fn file_then_environment_and_case_insensitive_keys() {
        let (dir, r) = from_file(
            "general:\n  listenport: 7060\n  LISTENADDRESS: 0.0.0.0\n  authentication: {skipsignaturechecks: true}\nfileledger:\n  location: ledger\nchannels: [a, b]\n",
            &[("ORDERER_GENERAL_LISTENPORT", "7061")],
        );
        let c = r.unwrap();
        assert_eq!(
            c.general.listen_port, 7061,
            "environment wins over the file"
        );
        assert_eq!(c.general.listen_address, "0.0.0.0");
        assert_eq!(
            c.file_ledger.location,
            dir.path().join("ledger"),
            "relative to the file"
        );
        // Keys the file does not set keep their built-in defaults.
        assert_eq!(c.orderer.batch_size.max_message_count, 500);
    }

    #[test]
    fn channel_entries_may_override_batch_parameters() {
        let (_d, r) = from_file(
            "Channels:\n  - plain\n  - name: fast\n    batchtimeout: 200ms\n    BatchSize: {MaxMessageCount: 10, preferredmaxbytes: 1 MB}\n",
            &[],
        );
        let c = r.unwrap();
        let fast = c.channel_config(&c.channels[1]).unwrap();
        assert_eq!(fast.batch_timeout, Duration::from_millis(200));
        assert_eq!(fast.batch_size.max_message_count, 10);
        assert_eq!(fast.batch_size.preferred_max_bytes, 1 << 20);
        let plain = c.channel_config(&c.channels[0]).unwrap();
        assert_eq!(plain.batch_size, BatchSize::default());
    }

    #[test]
    fn bad_duration_names_key_value_source_and_form() {
        let (_d, r) = from_file("Orderer:\n  BatchTimeout: 2x\nChannels: [a]\n", &[]);
        assert_problem(
            r,
            &[
                "Orderer.BatchTimeout",
                "\"2x\"",
                "orderer.yaml",
                "expected a duration",
            ],
        );
    }

    #[test]
    fn bad_port_from_environment_names_the_variable() {
        assert_problem(
            sample(&[("ORDERER_GENERAL_LISTENPORT", "seventy")]),
            &[
                "General.ListenPort",
                "ORDERER_GENERAL_LISTENPORT",
                "\"seventy\"",
                "expected u16",
            ],
        );
        assert_problem(
            sample(&[("ORDERER_GENERAL_LISTENPORT", "70000")]),
            &["General.ListenPort", "70000"],
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let (_d, r) = from_file(
            "General:\n  ListenPot: 7050\n  Authentication: {SkipSignatureChecks: true}\nChannels: [a]\n",
            &[],
        );
        assert_problem(r, &["unknown key General.ListenPot", "ListenPort"]);
        assert_problem(
            sample(&[("ORDERER_GENERAL_LISTENPOT", "7050")]),
            &["ORDERER_GENERAL_LISTENPOT", "no configuration key"],
        );
        assert_problem(
            sample(&[("ORDERER_GENERAL_LISTENPORT_X", "7050")]),
            &["ORDERER_GENERAL_LISTENPORT_X"],
        );
    }

    #[test]
    fn unknown_orderer_type_lists_the_valid_ones() {
        assert_problem(
            sample(&[("ORDERER_ORDERER_ORDERERTYPE", "etcdraft")]),
            &[
                "Orderer.OrdererType",
                "etcdraft",
                "expected one of solo, kafka",
            ],
        );
    }

    #[test]
    fn batch_size_relations_are_checked() {
        assert_problem(
            sample(&[("ORDERER_ORDERER_BATCHSIZE_PREFERREDMAXBYTES", "20 MB")]),
            &[
                "Orderer.BatchSize.PreferredMaxBytes",
                "ORDERER_ORDERER_BATCHSIZE_PREFERREDMAXBYTES",
                "must not exceed",
                "AbsoluteMaxBytes",
            ],
        );
        assert_problem(
            sample(&[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "0")]),
            &["MaxMessageCount must be greater than 0"],
        );
        assert_problem(
            sample(&[("ORDERER_ORDERER_BATCHSIZE_ABSOLUTEMAXBYTES", "ten")]),
            &[
                "Orderer.BatchSize.AbsoluteMaxBytes",
                "\"ten\"",
                "expected a size",
            ],
        );
        assert_problem(
            sample(&[("ORDERER_ORDERER_BATCHTIMEOUT", "0s")]),
            &["Orderer.BatchTimeout", "positive"],
        );
        assert_problem(
            sample(&[("ORDERER_ORDERER_BATCHSIZE_ABSOLUTEMAXBYTES", "8 GB")]),
            &["AbsoluteMaxBytes", "at most 4 GB"],
        );
    }

    #[test]
    fn channel_names_are_checked() {
        assert_problem(
            sample(&[("ORDERER_CHANNELS", "[My_Channel]")]),
            &["Channels[0]", "My_Channel", "lowercase"],
        );
        assert_problem(
            sample(&[("ORDERER_CHANNELS", "[a,a]")]),
            &["Channels[1]", "listed twice"],
        );
        assert_problem(
            sample(&[("ORDERER_CHANNELS", "[]")]),
            &["Channels", "at least one channel"],
        );
        let (_d, r) = from_file("Channels:\n  - Name: x\n    Bogus: 1\n", &[]);
        assert_problem(r, &["Bogus"]);
    }

    #[test]
    fn other_values_are_checked() {
        assert_problem(
            sample(&[("ORDERER_GENERAL_LOGLEVEL", "info,[[[")]),
            &["General.LogLevel", "tracing filter"],
        );
        assert_problem(
            sample(&[("ORDERER_OPERATIONS_LISTENADDRESS", "8443")]),
            &["Operations.ListenAddress", "\"8443\"", "host:port"],
        );
        assert_problem(
            sample(&[("ORDERER_GENERAL_LISTENADDRESS", "127.0.0.1:7050")]),
            &["General.ListenAddress", "without a port"],
        );
        assert_problem(
            sample(&[
                ("ORDERER_ORDERER_ORDERERTYPE", "kafka"),
                ("ORDERER_ORDERER_KAFKA_BROKERS", "[kafka0]"),
            ]),
            &["Orderer.Kafka.Brokers", "kafka0", "port is missing"],
        );
    }

    #[test]
    fn kafka_keys_from_the_environment() {
        let c = sample(&[
            ("ORDERER_ORDERER_ORDERERTYPE", "kafka"),
            ("ORDERER_ORDERER_KAFKA_BROKERS", "[127.0.0.1:9092]"),
            ("ORDERER_KAFKA_RETRY_SHORTINTERVAL", "1s"),
            ("ORDERER_KAFKA_RETRY_NETWORKTIMEOUTS_DIALTIMEOUT", "3s"),
            ("ORDERER_KAFKA_RETRY_PRODUCER_RETRYMAX", "7"),
            ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "1"),
            ("ORDERER_KAFKA_VERBOSE", "true"),
            ("ORDERER_KAFKA_VERSION", "2.8.1"),
        ])
        .unwrap();
        assert_eq!(
            c.kafka.retry.short_interval,
            GoDuration(Duration::from_secs(1))
        );
        assert_eq!(
            c.kafka.retry.network_timeouts.dial_timeout,
            GoDuration(Duration::from_secs(3))
        );
        assert_eq!(c.kafka.retry.producer.retry_max, 7);
        assert_eq!(c.kafka.topic.replication_factor, 1);
        assert!(c.kafka.verbose);
        assert_eq!(c.kafka.version, "2.8.1");
        assert_eq!(c.orderer.kafka.brokers, ["127.0.0.1:9092"]);
    }

    #[test]
    fn inconsistent_kafka_settings_name_the_key() {
        let kafka = ("ORDERER_ORDERER_ORDERERTYPE", "kafka");
        assert_problem(
            sample(&[kafka, ("ORDERER_KAFKA_TLS_ENABLED", "true")]),
            &[
                "Kafka.TLS.PrivateKey",
                "Kafka.TLS.Certificate",
                "Kafka.TLS.RootCAs",
                "Kafka.TLS.Enabled is true",
            ],
        );
        let dir = tempfile::tempdir().unwrap();
        let not_pem = dir.path().join("key.txt");
        std::fs::write(&not_pem, "hello").unwrap();
        let path = not_pem.to_str().unwrap();
        assert_problem(
            sample(&[
                kafka,
                ("ORDERER_KAFKA_TLS_ENABLED", "true"),
                ("ORDERER_KAFKA_TLS_PRIVATEKEY", path),
            ]),
            &["Kafka.TLS.PrivateKey", "no -----BEGIN line"],
        );
        assert_problem(
            sample(&[
                kafka,
                ("ORDERER_KAFKA_SASLPLAIN_ENABLED", "true"),
                ("ORDERER_KAFKA_SASLPLAIN_PASSWORD", "pw"),
            ]),
            &["Kafka.SASLPlain.User", "expected a user name"],
        );
        assert_problem(
            sample(&[
                kafka,
                ("ORDERER_ORDERER_KAFKA_BROKERS", "[127.0.0.1:9092, kafka1]"),
            ]),
            &["Orderer.Kafka.Brokers", "\"kafka1\"", "port is missing"],
        );
        assert_problem(
            sample(&[kafka, ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "0")]),
            &["Kafka.Topic.ReplicationFactor", "at least 1"],
        );
        assert_problem(
            sample(&[kafka, ("ORDERER_KAFKA_RETRY_SHORTTOTAL", "1s")]),
            &[
                "Kafka.Retry.ShortTotal",
                "at least Kafka.Retry.ShortInterval",
            ],
        );
        assert_problem(
            sample(&[kafka, ("ORDERER_KAFKA_VERSION", "latest")]),
            &["Kafka.Version", "\"latest\""],
        );
        // The same settings are not checked for a solo orderer, which ignores them.
        assert!(sample(&[("ORDERER_KAFKA_TLS_ENABLED", "true")]).is_ok());
    }

    #[test]
    fn kafka_sample_configuration_loads() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sampleconfig/orderer-kafka.yaml");
        let c = load_with_env(ConfigSource::File(path), &[]).unwrap().config;
        assert_eq!(c.orderer.orderer_type, ConsenterKind::Kafka);
        assert_eq!(c.kafka.topic.replication_factor, 1);
        assert_eq!(c.orderer.kafka.brokers, ["127.0.0.1:9092"]);
        // Keys it leaves out keep the defaults.
        assert_eq!(
            c.kafka.retry.long_total,
            GoDuration(Duration::from_secs(12 * 3600))
        );
    }

    #[test]
    fn metrics_and_tracing_keys() {
        let c = sample(&[
            ("ORDERER_METRICS_PROVIDER", "disabled"),
            ("ORDERER_TRACING_ENDPOINT", "http://127.0.0.1:4317"),
            ("ORDERER_TRACING_SAMPLERATIO", "0.25"),
        ])
        .unwrap();
        assert_eq!(c.metrics.provider, MetricsProvider::Disabled);
        assert_eq!(c.tracing.endpoint, "http://127.0.0.1:4317");
        assert_eq!(c.tracing.sample_ratio, 0.25);
        assert_eq!(
            sample(&[]).unwrap().metrics.provider,
            MetricsProvider::Prometheus
        );
        assert_problem(
            sample(&[("ORDERER_METRICS_PROVIDER", "statsd")]),
            &[
                "Metrics.Provider",
                "statsd",
                "expected one of prometheus, disabled",
            ],
        );
        assert_problem(
            sample(&[("ORDERER_TRACING_SAMPLERATIO", "2")]),
            &["Tracing.SampleRatio", "between 0 and 1"],
        );
        assert_problem(
            sample(&[("ORDERER_TRACING_ENDPOINT", "collector:4317")]),
            &["Tracing.Endpoint", "http://"],
        );
    }

    #[test]
    fn unreadable_files_are_reported() {
        let missing = load_with_env(ConfigSource::File("/nonexistent/orderer.yaml".into()), &[]);
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("/nonexistent/orderer.yaml")
        );
        let (_d, r) = from_file("General: [unclosed\n", &[]);
        assert_problem(r, &["orderer.yaml"]);
    }

    #[test]
    fn byte_sizes_parse_and_print() {
        assert_eq!(ByteSize::parse("10 MB"), Ok(ByteSize(10 << 20)));
        assert_eq!(ByteSize::parse("512KB"), Ok(ByteSize(512 << 10)));
        assert_eq!(ByteSize::parse("1 GiB"), Ok(ByteSize(1 << 30)));
        assert_eq!(ByteSize::parse("42"), Ok(ByteSize(42)));
        assert!(ByteSize::parse("10 XB").is_err());
        assert!(ByteSize::parse("").is_err());
        assert_eq!(ByteSize(10 << 20).to_string(), "10 MB");
        assert_eq!(ByteSize(1000).to_string(), "1000");
    }

    /// Every leaf key path of the schema, `General.ListenPort` style.
    fn leaf_keys(dict: &Dict, prefix: &str, out: &mut Vec<String>) {
        for (k, v) in dict {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Dict(_, d) => leaf_keys(d, &path, out),
                _ => out.push(path),
            }
        }
    }

    #[test]
    fn readme_documents_every_key_with_its_environment_variable() {
        let readme = include_str!("../../../README.md");
        let mut keys = Vec::new();
        leaf_keys(&schema(), "", &mut keys);
        assert!(keys.len() > 10);
        for key in keys {
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| `{key}` |")))
                .unwrap_or_else(|| panic!("README's configuration table lacks {key}"));
            assert!(
                row.contains(&format!("`{}`", env_name(&key))),
                "{key}: {row}"
            );
        }
    }

    #[test]
    fn fabric_cfg_path_points_at_a_directory() {
        match source_from(None, Some(Path::new("/etc/hyperledger"))) {
            ConfigSource::File(p) => assert_eq!(p, PathBuf::from("/etc/hyperledger/orderer.yaml")),
            ConfigSource::Sample => panic!("expected a file"),
        }
        assert!(matches!(source_from(None, None), ConfigSource::Sample));
    }
}
