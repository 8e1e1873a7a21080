//! The `Orderer` group: how the channel's blocks are ordered and cut.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

use super::capabilities::{ChannelCapabilities, OrdererCapabilities};
use super::error::ConfigError;
use super::group::Group;
use super::organization::Organization;
use super::{CAPABILITIES_KEY, keys};
use crate::blockcutter::BatchSize;
use crate::consensus::ConsenterKind;
use crate::duration::{self, DurationError};
use crate::proto::common::OrdererAddresses;
use crate::proto::orderer as ord;

/// `ConsensusType.state`: whether the channel takes normal transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConsensusState {
    /// Orders every kind of transaction.
    Normal,
    /// Orders only config transactions: the state a consensus-type migration goes
    /// through.
    Maintenance,
}

/// `/Channel/Orderer/ConsensusType`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsensusType {
    /// `solo` or `kafka`: the only types this orderer runs.
    pub kind: ConsenterKind,
    /// The consenter's own metadata, exactly as configured (empty for solo and Kafka).
    pub metadata: Bytes,
    pub state: ConsensusState,
}

/// An organization of the ordering service: its MSP and, from channel capability
/// `V1_4_2` on, the addresses of its ordering nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct OrdererOrg {
    org: Organization,
    endpoints: Option<Vec<String>>,
}

impl OrdererOrg {
    /// The name and MSP.
    pub fn org(&self) -> &Organization {
        &self.org
    }

    /// The `Endpoints` value (`host:port` of this organization's OSNs), if present.
    pub fn endpoints(&self) -> Option<&[String]> {
        self.endpoints.as_deref()
    }
}

/// The typed values of `/Channel/Orderer`.
#[derive(Clone, Debug, PartialEq)]
pub struct OrdererValues {
    consensus: ConsensusType,
    batch_size: BatchSize,
    batch_timeout: Duration,
    kafka_brokers: Vec<String>,
    max_channels: u64,
    capabilities: OrdererCapabilities,
    orgs: BTreeMap<String, OrdererOrg>,
}

/// The values an orderer organization may hold besides `MSP`.
const ORG_VALUES: &[&str] = &[keys::ENDPOINTS];

impl OrdererValues {
    /// Reads and checks the `Orderer` group. The caller checks the organizations'
    /// MSPs against the rest of the channel's.
    pub(crate) fn parse(
        group: &Group<'_>,
        channel: &ChannelCapabilities,
    ) -> Result<Self, ConfigError> {
        // The consensus type first: an etcdraft or BFT config is best refused for
        // being one.
        let consensus = parse_consensus_type(group)?;
        group.allow_values(&[
            keys::CONSENSUS_TYPE,
            keys::BATCH_SIZE,
            keys::BATCH_TIMEOUT,
            keys::KAFKA_BROKERS,
            keys::CHANNEL_RESTRICTIONS,
            CAPABILITIES_KEY,
        ])?;
        let batch_size = parse_batch_size(group)?;
        let batch_timeout = parse_batch_timeout(group)?;

        let brokers_path = group.child_path(keys::KAFKA_BROKERS);
        let kafka_brokers = group
            .decode::<ord::KafkaBrokers>(keys::KAFKA_BROKERS)?
            .map(|b| b.brokers)
            .unwrap_or_default();
        // Fabric checks the syntax whatever the consensus type.
        for broker in &kafka_brokers {
            check_broker(broker).map_err(|why| {
                ConfigError::invalid(&brokers_path, format!("broker {broker:?}: {why}"))
            })?;
        }
        if consensus.kind == ConsenterKind::Kafka && kafka_brokers.is_empty() {
            return Err(ConfigError::invalid(
                brokers_path,
                "a kafka channel needs at least one broker address",
            ));
        }

        let max_channels = group
            .decode::<ord::ChannelRestrictions>(keys::CHANNEL_RESTRICTIONS)?
            .map(|r| r.max_count)
            .unwrap_or(0);
        let capabilities = OrdererCapabilities::new(group.decode(CAPABILITIES_KEY)?.as_ref());

        let mut orgs = BTreeMap::new();
        for (name, org_group) in group.children() {
            let endpoints_path = org_group.child_path(keys::ENDPOINTS);
            let has_endpoints = org_group.group.values.contains_key(keys::ENDPOINTS);
            if has_endpoints && !channel.org_specific_orderer_endpoints() {
                return Err(ConfigError::structure(
                    endpoints_path,
                    "orderer organizations may hold Endpoints only from channel capability V1_4_2 on",
                ));
            }
            let org = Organization::parse(name, &org_group, ORG_VALUES, "an orderer organization")?;
            let endpoints = org_group
                .decode::<OrdererAddresses>(keys::ENDPOINTS)?
                .map(|a| a.addresses);
            orgs.insert(name.to_owned(), OrdererOrg { org, endpoints });
        }

        Ok(OrdererValues {
            consensus,
            batch_size,
            batch_timeout,
            kafka_brokers,
            max_channels,
            capabilities,
            orgs,
        })
    }

    /// `ConsensusType`: kind, metadata and state.
    pub fn consensus_type(&self) -> &ConsensusType {
        &self.consensus
    }

    /// Solo or Kafka.
    pub fn consenter_kind(&self) -> ConsenterKind {
        self.consensus.kind
    }

    /// Whether the channel is in maintenance mode (config transactions only).
    pub fn is_maintenance(&self) -> bool {
        self.consensus.state == ConsensusState::Maintenance
    }

    /// `BatchSize`, validated.
    pub fn batch_size(&self) -> BatchSize {
        self.batch_size
    }

    /// `BatchTimeout`, positive.
    pub fn batch_timeout(&self) -> Duration {
        self.batch_timeout
    }

    /// `KafkaBrokers`: seed brokers as `host:port`; non-empty on a kafka channel.
    pub fn kafka_brokers(&self) -> &[String] {
        &self.kafka_brokers
    }

    /// `ChannelRestrictions.max_count`: how many channels a system channel may
    /// create; 0 means no limit.
    pub fn max_channels(&self) -> u64 {
        self.max_channels
    }

    /// `/Channel/Orderer/Capabilities`.
    pub fn capabilities(&self) -> &OrdererCapabilities {
        &self.capabilities
    }

    /// The ordering organizations by group name.
    pub fn organizations(&self) -> &BTreeMap<String, OrdererOrg> {
        &self.orgs
    }

    /// The MSP IDs of the ordering organizations, sorted by group name.
    pub fn msp_ids(&self) -> impl Iterator<Item = &str> {
        self.orgs.values().map(|o| o.org.msp_id())
    }
}

fn parse_consensus_type(group: &Group<'_>) -> Result<ConsensusType, ConfigError> {
    let path = group.child_path(keys::CONSENSUS_TYPE);
    let ct: ord::ConsensusType = group.require(keys::CONSENSUS_TYPE, "it names the consenter")?;
    if ct.r#type.is_empty() {
        return Err(ConfigError::invalid(path, "the consensus type is empty"));
    }
    // Exact names, as Fabric looks consenters up: `Kafka` is not `kafka`.
    let kind = ConsenterKind::ALL
        .into_iter()
        .find(|k| k.as_str() == ct.r#type)
        .ok_or_else(|| {
            ConfigError::unsupported(
                &path,
                format!(
                    "consensus type {:?} is not supported by this orderer (it runs solo and kafka)",
                    ct.r#type
                ),
            )
        })?;
    let state = match ord::consensus_type::State::try_from(ct.state) {
        Ok(ord::consensus_type::State::Normal) => ConsensusState::Normal,
        Ok(ord::consensus_type::State::Maintenance) => ConsensusState::Maintenance,
        Err(_) => {
            return Err(ConfigError::invalid(
                path,
                format!(
                    "unknown state {} (STATE_NORMAL is 0, STATE_MAINTENANCE is 1)",
                    ct.state
                ),
            ));
        }
    };
    Ok(ConsensusType {
        kind,
        metadata: ct.metadata,
        state,
    })
}

fn parse_batch_size(group: &Group<'_>) -> Result<BatchSize, ConfigError> {
    let path = group.child_path(keys::BATCH_SIZE);
    let bs: ord::BatchSize = group.require(keys::BATCH_SIZE, "it bounds every block")?;
    let batch_size = BatchSize {
        max_message_count: bs.max_message_count,
        absolute_max_bytes: bs.absolute_max_bytes,
        preferred_max_bytes: bs.preferred_max_bytes,
    };
    batch_size.validate().map_err(|e| {
        // The path already says BatchSize.
        ConfigError::invalid(
            path,
            format!("{} {}", e.field, e.reason.replace("BatchSize.", "")),
        )
    })?;
    Ok(batch_size)
}

fn parse_batch_timeout(group: &Group<'_>) -> Result<Duration, ConfigError> {
    let path = group.child_path(keys::BATCH_TIMEOUT);
    let bt: ord::BatchTimeout =
        group.require(keys::BATCH_TIMEOUT, "it bounds how long a block waits")?;
    let timeout = parse_go_duration(&bt.timeout)
        .map_err(|why| ConfigError::invalid(&path, why.to_string()))?;
    if timeout.is_zero() {
        return Err(ConfigError::invalid(
            path,
            format!("timeout {:?} must be positive", bt.timeout),
        ));
    }
    Ok(timeout)
}

/// Why a `BatchTimeout` value is not a duration Fabric accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum TimeoutError {
    #[error("timeout {0:?} must be positive")]
    Negative(String),
    #[error("timeout {0:?} has surrounding spaces")]
    Spaces(String),
    #[error(transparent)]
    Syntax(#[from] DurationError),
    #[error("timeout {0:?} is longer than Go's longest duration")]
    TooLong(String),
}

/// Go's `time.ParseDuration` for what Fabric accepts here: an optional `+`, no
/// surrounding spaces, at most 2^63-1 nanoseconds. A negative duration parses in Go
/// but is refused as non-positive, as here.
fn parse_go_duration(text: &str) -> Result<Duration, TimeoutError> {
    if text.starts_with('-') {
        return Err(TimeoutError::Negative(text.to_owned()));
    }
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    if unsigned.trim() != unsigned {
        return Err(TimeoutError::Spaces(text.to_owned()));
    }
    let d = duration::parse(unsigned)?;
    if d.as_nanos() > i64::MAX as u128 {
        return Err(TimeoutError::TooLong(text.to_owned()));
    }
    Ok(d)
}

/// Why a Kafka broker address breaks Fabric's syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    #[error("expected host:port, the port is missing")]
    MissingPort,
    #[error("expected host:port with a single colon (IPv6 literals are not accepted)")]
    ExtraColon,
    #[error("expected a port 1-65535, got {port:?}")]
    BadPort { port: String },
    #[error("expected host:port, the host is missing")]
    MissingHost,
    #[error(
        "host {host:?} may hold only letters, digits, dots and hyphens, and must start and end with a letter or digit"
    )]
    BadHost { host: String },
}

/// Fabric's check of a broker address: `host:port`, one colon (so no IPv6
/// literal), a port that fits 16 bits, and a host of letters, digits, dots and
/// hyphens that neither starts nor ends with a dot or hyphen. Stricter than Fabric in
/// two places that no client could dial anyway: the host must not be empty and the
/// port must not be 0.
pub fn check_broker(broker: &str) -> Result<(), BrokerError> {
    let Some((host, port)) = broker.split_once(':') else {
        return Err(BrokerError::MissingPort);
    };
    if port.contains(':') {
        return Err(BrokerError::ExtraColon);
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {}
        _ => {
            return Err(BrokerError::BadPort {
                port: port.to_owned(),
            });
        }
    }
    if host.is_empty() {
        return Err(BrokerError::MissingHost);
    }
    let inner = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    let bytes = host.as_bytes();
    let edges_ok = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    if !edges_ok || !bytes.iter().all(|&b| inner(b)) {
        return Err(BrokerError::BadHost {
            host: host.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_syntax_follows_fabric() {
        for ok in [
            "kafka0:9092",
            "10.0.0.7:9093",
            "a:1",
            "Kafka-0.example.com:65535",
        ] {
            assert_eq!(check_broker(ok), Ok(()), "{ok}");
        }
        for bad in [
            "kafka0",
            "kafka0:",
            "kafka0:0",
            "kafka0:65536",
            "kafka0:+92",
            ":9092",
            "[::1]:9092",
            "::1:9092",
            "-kafka:9092",
            "kafka.:9092",
            "kaf_ka:9092",
            "kafka 0:9092",
        ] {
            assert!(check_broker(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn batch_timeout_reads_like_go() {
        assert_eq!(parse_go_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_go_duration("+500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("1m30s"), Ok(Duration::from_secs(90)));
        for bad in ["", " 2s", "2s ", "-1s", "2", "2 s", "3000000h", "1e3s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeout_and_broker_errors_keep_their_wording() {
        assert_eq!(
            parse_go_duration("-1s").unwrap_err().to_string(),
            "timeout \"-1s\" must be positive"
        );
        assert_eq!(
            parse_go_duration("3000000h").unwrap_err().to_string(),
            "timeout \"3000000h\" is longer than Go's longest duration"
        );
        assert!(matches!(
            parse_go_duration("2"),
            Err(TimeoutError::Syntax(DurationError::MissingUnit { .. }))
        ));
        assert_eq!(
            check_broker("kafka0:65536").unwrap_err().to_string(),
            "expected a port 1-65535, got \"65536\""
        );
        assert_eq!(
            check_broker("kaf_ka:9092"),
            Err(BrokerError::BadHost {
                host: "kaf_ka".into()
            })
        );
    }
}
