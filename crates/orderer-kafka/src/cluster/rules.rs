//! Seed 003's rules for the Kafka cluster, as a pure function over what the brokers
//! said about themselves ([`ClusterFacts`]). No I/O here: the facts are gathered
//! elsewhere, so every rule is tested with plain tables.
//!
//! Why each rule matters to an ordering service (seed 003, "Bringing up a
//! Kafka-based Ordering Service", step 4):
//! * `min.insync.replicas` M with 1 < M < N (N the replication factor): an envelope
//!   is answered SUCCESS once M replicas hold it (`acks=all`), so M = 1 loses
//!   acknowledged envelopes with one broker, and M = N stops writes when any replica
//!   is down.
//! * `unclean.leader.election.enable = false`: a replica outside the in-sync set that
//!   became leader would drop records the OSNs already cut into blocks; OSNs that
//!   read the partition later would cut another chain.
//! * Retention unlimited: the partition is the channel's history; an OSN replaying it
//!   (a new one, or one restarted from an old ledger) must find every record.
//! * `message.max.bytes` / `max.message.bytes` and `replica.fetch.max.bytes` at least
//!   the largest record the channel produces: else large envelopes are refused
//!   (REQUEST_ENTITY_TOO_LARGE) or, with old brokers, never replicated.
//! * K >= N + 1 brokers: with one broker down, a new channel's topic (N replicas) can
//!   still be created. K counts brokers that are down now ([`ClusterFacts::down`]):
//!   the rule is about the cluster's size, not its health.
//! * A channel topic with fewer replicas than `Kafka.Topic.ReplicationFactor` (made
//!   by someone else, or before the setting was raised) has less redundancy than the
//!   operator asked for.

use std::collections::BTreeMap;
use std::fmt;

use crate::options::BATCH_BYTES;

/// A resource's configuration as DescribeConfigs returns it: each entry's name and
/// value (`None` when unset or sensitive).
pub type Settings = BTreeMap<String, Option<String>>;

/// Bytes a channel's record may take beyond its envelope, as the brokers count them
/// against `message.max.bytes` (which limits a whole record batch). An upper bound
/// of what the orderer writes, with room to spare:
/// * the `orderer.KafkaMessage` around the envelope: at most [`KAFKA_MESSAGE_WRAPPING`];
/// * the record's own fields, key `"0"` and `traceparent` header: at most
///   [`RECORD_FIELDS`];
/// * the v2 record batch header: [`BATCH_HEADER`].
///
/// Those add up to 225 bytes; 1 KiB leaves room for a longer trace header or a
/// future field without warning about a cluster that works. (Seed 003 suggests a
/// whole megabyte of buffer; this check demands only what records need, so that it
/// never refuses a cluster on which every envelope passes.)
pub const RECORD_MARGIN: u64 = 1024;

/// The most bytes `orderer.KafkaMessage{regular{payload, config_seq, class,
/// original_offset}}` adds to its payload: tags and lengths of the two messages and
/// the payload (1 + 5 each), config_seq and original_offset (1 + 10 each), class
/// (1 + 10 as a negative enum at worst).
pub const KAFKA_MESSAGE_WRAPPING: u64 = 3 * (1 + 5) + 3 * (1 + 10);

/// The most bytes a v2 record adds to its value: length, offset delta, key and value
/// lengths, header count (varints, 5 each), attributes (1), timestamp delta (10),
/// key `"0"` (1), and a `traceparent` header: key and value lengths (5 each), the key
/// (11) and a W3C trace context (55).
pub const RECORD_FIELDS: u64 = 5 * 5 + 1 + 10 + 1 + (5 + 5 + 11 + 55);

/// The v2 record batch header (Kafka's `RECORD_BATCH_OVERHEAD`).
pub const BATCH_HEADER: u64 = 61;

// The margin covers the bound it is documented by.
const _: () = assert!(KAFKA_MESSAGE_WRAPPING + RECORD_FIELDS + BATCH_HEADER <= RECORD_MARGIN);

/// What the orderer asks of the cluster: its own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirements {
    /// `Kafka.Topic.ReplicationFactor`: the replicas of a channel topic this node
    /// creates.
    pub replication_factor: u16,
    /// The channel's `Orderer.BatchSize.AbsoluteMaxBytes` (for the node's check,
    /// the largest of its channels').
    pub absolute_max_bytes: u64,
}

impl Requirements {
    /// The smallest `message.max.bytes` / `replica.fetch.max.bytes` that carries
    /// every record batch the orderer produces: the largest envelope in a batch of
    /// its own, or a full batch of the producer's (`batch.size`).
    pub fn record_bytes(&self) -> u64 {
        (self.absolute_max_bytes + RECORD_MARGIN).max(BATCH_BYTES as u64)
    }

    fn record_bytes_why(&self) -> String {
        let need = self.record_bytes();
        if need == BATCH_BYTES as u64 {
            format!("at least {need} (the orderer's producer batch.size)")
        } else {
            format!(
                "at least {need} (AbsoluteMaxBytes {} + {RECORD_MARGIN} bytes of record overhead)",
                self.absolute_max_bytes
            )
        }
    }
}

/// A configuration that could not be read, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The error, as the brokers or librdkafka gave it.
    pub reason: String,
    /// `false` when the brokers refuse to answer for good (authorization, an API
    /// they do not have); `true` for timeouts and the like.
    pub transient: bool,
}

/// The channel's topic as the brokers describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicFacts {
    pub name: String,
    /// Replicas of partition 0 (the channel's only partition).
    pub replication_factor: usize,
    /// The topic's effective configuration (its own settings and the broker
    /// defaults it inherits).
    pub config: Result<Settings, Unreadable>,
}

/// What the cluster said about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterFacts {
    /// Ids of the brokers in the cluster metadata (those registered and up).
    pub brokers: Vec<i32>,
    /// Ids of brokers known to be part of the cluster but not in the metadata now:
    /// replicas of a topic, or brokers seen earlier, that are down. They count
    /// towards the cluster's size: a cluster with a broker down is not too small,
    /// and must not keep a strict channel from starting (seed 003's promise is that
    /// one broker down changes nothing).
    pub down: Vec<i32>,
    /// Each described broker's configuration, by id.
    pub broker_configs: BTreeMap<i32, Result<Settings, Unreadable>>,
    /// The channel's topic, for a channel's check; `None` for the node's check at
    /// start, which then checks the brokers' defaults for topics.
    pub topic: Option<TopicFacts>,
}

/// A rule of seed 003. The label is the metric's `rule` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    MinInsyncReplicas,
    UncleanLeaderElection,
    Retention,
    MessageSize,
    BrokerCount,
    ReplicationFactor,
}

impl Rule {
    pub const ALL: [Rule; 6] = [
        Rule::MinInsyncReplicas,
        Rule::UncleanLeaderElection,
        Rule::Retention,
        Rule::MessageSize,
        Rule::BrokerCount,
        Rule::ReplicationFactor,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Rule::MinInsyncReplicas => "min_insync_replicas",
            Rule::UncleanLeaderElection => "unclean_leader_election",
            Rule::Retention => "retention",
            Rule::MessageSize => "message_size",
            Rule::BrokerCount => "broker_count",
            Rule::ReplicationFactor => "replication_factor",
        }
    }

    /// What breaking the rule costs the ordering service.
    pub fn why(self) -> &'static str {
        match self {
            Rule::MinInsyncReplicas => {
                "with M = 1 one broker's loss loses envelopes already answered SUCCESS; with M >= N one replica down stops every write"
            }
            Rule::UncleanLeaderElection => {
                "a replica outside the in-sync set may become leader and drop records the OSNs already cut into blocks, so OSNs would cut different chains"
            }
            Rule::Retention => {
                "records would be deleted, and an OSN replaying the channel (new, or restarted from an old ledger) would miss blocks"
            }
            Rule::MessageSize => {
                "the brokers would refuse (or not replicate) the channel's largest envelopes"
            }
            Rule::BrokerCount => "with one broker down, a new channel's topic cannot be created",
            Rule::ReplicationFactor => {
                "the channel's partition has fewer copies than this orderer is configured to create"
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Where a setting lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    Broker(i32),
    Topic(String),
    /// The cluster as a whole (its broker count).
    Cluster,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Broker(id) => write!(f, "broker {id}"),
            Resource::Topic(name) => write!(f, "topic {name}"),
            Resource::Cluster => f.write_str("Kafka cluster"),
        }
    }
}

/// One broken rule: the setting, its value, and what the rule asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    pub resource: Resource,
    /// The Kafka setting (or `brokers`, `replication factor`).
    pub setting: String,
    pub value: String,
    /// What seed 003 asks of the setting.
    pub expected: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} = {} breaks the Kafka cluster rule {}: expected {}; {}",
            self.resource,
            self.setting,
            self.value,
            self.rule,
            self.expected,
            self.rule.why()
        )
    }
}

/// A setting that could not be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unchecked {
    pub resource: Resource,
    pub what: String,
    /// Trying again may help (see [`Unreadable::transient`]).
    pub transient: bool,
}

impl fmt::Display for Unchecked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.resource, self.what)
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    pub violations: Vec<Violation>,
    pub unchecked: Vec<Unchecked>,
}

impl Findings {
    /// Violations of `rule`.
    pub fn count(&self, rule: Rule) -> usize {
        self.violations.iter().filter(|v| v.rule == rule).count()
    }

    fn violation(
        &mut self,
        rule: Rule,
        resource: &Resource,
        setting: &str,
        value: &str,
        expected: String,
    ) {
        self.violations.push(Violation {
            rule,
            resource: resource.clone(),
            setting: setting.to_owned(),
            value: value.to_owned(),
            expected,
        });
    }

    fn unchecked(&mut self, resource: &Resource, what: String, transient: bool) {
        self.unchecked.push(Unchecked {
            resource: resource.clone(),
            what,
            transient,
        });
    }
}

/// Checks every rule on `facts`. With a topic (a channel's check), the topic-level
/// rules are checked on the topic's effective settings, which is what its records
/// meet; without (the node's check at start), on each broker's defaults for
/// topics. Either way the brokers' own settings (`replica.fetch.max.bytes`) and the
/// broker count are checked.
pub fn check(facts: &ClusterFacts, req: &Requirements) -> Findings {
    let mut f = Findings::default();
    let configured = u64::from(req.replication_factor);
    let need = req.record_bytes();
    let mut largest_rf = configured;
    if let Some(t) = &facts.topic {
        let resource = Resource::Topic(t.name.clone());
        let rf = t.replication_factor as u64;
        largest_rf = largest_rf.max(rf);
        if rf < configured {
            f.violation(
                Rule::ReplicationFactor,
                &resource,
                "replication factor",
                &rf.to_string(),
                format!("at least Kafka.Topic.ReplicationFactor = {configured}"),
            );
        }
        match &t.config {
            Err(u) => unreadable(&mut f, &resource, u),
            Ok(s) => {
                let mut c = Checker::new(&mut f, &resource, s);
                c.min_insync(rf, "the topic's replication factor");
                c.unclean();
                c.unlimited("retention.ms");
                c.unlimited("retention.bytes");
                c.no_compaction("cleanup.policy");
                c.at_least("max.message.bytes", need, req);
            }
        }
    }
    for (id, config) in &facts.broker_configs {
        let resource = Resource::Broker(*id);
        let s = match config {
            Err(u) => {
                unreadable(&mut f, &resource, u);
                continue;
            }
            Ok(s) => s,
        };
        let mut c = Checker::new(&mut f, &resource, s);
        if facts.topic.is_none() {
            // The defaults every new channel topic gets.
            c.min_insync(configured, "Kafka.Topic.ReplicationFactor");
            c.unclean();
            c.broker_retention_time();
            c.unlimited("log.retention.bytes");
            c.no_compaction("log.cleanup.policy");
            c.at_least("message.max.bytes", need, req);
        }
        c.at_least("replica.fetch.max.bytes", need, req);
    }
    for id in &facts.brokers {
        if !facts.broker_configs.contains_key(id) {
            f.unchecked(&Resource::Broker(*id), "was not described".into(), true);
        }
    }
    let mut ids: Vec<(i32, bool)> = facts
        .brokers
        .iter()
        .map(|id| (*id, true))
        .chain(
            facts
                .down
                .iter()
                .filter(|id| !facts.brokers.contains(id))
                .map(|id| (*id, false)),
        )
        .collect();
    ids.sort_unstable();
    ids.dedup_by_key(|(id, _)| *id);
    let k = ids.len() as u64;
    if k < largest_rf + 1 {
        let ids: Vec<String> = ids
            .iter()
            .map(|(id, up)| {
                if *up {
                    id.to_string()
                } else {
                    format!("{id} (down)")
                }
            })
            .collect();
        f.violation(
            Rule::BrokerCount,
            &Resource::Cluster,
            "brokers",
            &format!("{k} [{}]", ids.join(", ")),
            format!("at least replication factor + 1 = {}", largest_rf + 1),
        );
    }
    f
}

fn unreadable(f: &mut Findings, resource: &Resource, u: &Unreadable) {
    f.unchecked(
        resource,
        format!(
            "configuration not readable, its rules are unchecked: {}",
            u.reason
        ),
        u.transient,
    );
}

/// A setting's value, read as the rules need it.
enum Read<T> {
    Value(T, String),
    /// Not reported, or reported without a value.
    Unset,
    /// Reported with a value this check does not understand.
    Unparsable(String),
}

fn read<T: std::str::FromStr>(s: &Settings, key: &str) -> Read<T> {
    match s.get(key) {
        Some(Some(raw)) => match raw.trim().parse() {
            Ok(v) => Read::Value(v, raw.clone()),
            Err(_) => Read::Unparsable(raw.clone()),
        },
        _ => Read::Unset,
    }
}

/// Checks the settings of one resource.
struct Checker<'a> {
    f: &'a mut Findings,
    resource: &'a Resource,
    s: &'a Settings,
}

impl<'a> Checker<'a> {
    fn new(f: &'a mut Findings, resource: &'a Resource, s: &'a Settings) -> Self {
        Checker { f, resource, s }
    }

    /// The value of `key`, or `None` after noting why it cannot be checked.
    fn value<T: std::str::FromStr>(&mut self, key: &str) -> Option<(T, String)> {
        match read(self.s, key) {
            Read::Value(v, raw) => Some((v, raw)),
            Read::Unset => {
                self.f
                    .unchecked(self.resource, format!("does not report {key}"), false);
                None
            }
            Read::Unparsable(raw) => {
                self.f.unchecked(
                    self.resource,
                    format!("reports {key} = {raw:?}, which this check does not understand"),
                    false,
                );
                None
            }
        }
    }

    /// 1 < M < N.
    fn min_insync(&mut self, n: u64, n_is: &str) {
        let key = "min.insync.replicas";
        let Some((m, raw)) = self.value::<i64>(key) else {
            return;
        };
        let n_signed = i64::try_from(n).unwrap_or(i64::MAX);
        if m >= 2 && m < n_signed {
            return;
        }
        let expected = if n < 3 {
            format!("1 < {key} < {n_is} = {n}, which needs a replication factor of at least 3")
        } else {
            format!("1 < {key} < {n_is} = {n}")
        };
        self.f
            .violation(Rule::MinInsyncReplicas, self.resource, key, &raw, expected);
    }

    fn unclean(&mut self) {
        let key = "unclean.leader.election.enable";
        let Some((on, raw)) = self.value::<Bool>(key) else {
            return;
        };
        if on.0 {
            self.f.violation(
                Rule::UncleanLeaderElection,
                self.resource,
                key,
                &raw,
                "false".into(),
            );
        }
    }

    /// A retention limit that must be -1 (any negative value means none to Kafka).
    fn unlimited(&mut self, key: &str) {
        let Some((limit, raw)) = self.value::<i64>(key) else {
            return;
        };
        if limit >= 0 {
            self.f.violation(
                Rule::Retention,
                self.resource,
                key,
                &raw,
                "-1 (unlimited)".into(),
            );
        }
    }

    /// The broker's time retention: `log.retention.ms`, else `.minutes`, else
    /// `.hours`, as Kafka reads them; the violation names the one in force.
    fn broker_retention_time(&mut self) {
        for (key, unit_ms) in [
            ("log.retention.ms", 1i64),
            ("log.retention.minutes", 60_000),
            ("log.retention.hours", 3_600_000),
        ] {
            match read::<i64>(self.s, key) {
                Read::Unset => continue,
                Read::Unparsable(raw) => {
                    self.f.unchecked(
                        self.resource,
                        format!("reports {key} = {raw:?}, which this check does not understand"),
                        false,
                    );
                    return;
                }
                Read::Value(v, raw) => {
                    if v.saturating_mul(unit_ms) >= 0 {
                        let expected = if key == "log.retention.ms" {
                            "-1 (unlimited)".to_owned()
                        } else {
                            format!(
                                "log.retention.ms = -1 (unlimited); {key} is in force as log.retention.ms is unset"
                            )
                        };
                        self.f
                            .violation(Rule::Retention, self.resource, key, &raw, expected);
                    }
                    return;
                }
            }
        }
        self.f.unchecked(
            self.resource,
            "reports none of log.retention.ms, .minutes, .hours".into(),
            false,
        );
    }

    /// Compaction keeps only the last record of each key, and every record of a
    /// channel has key `"0"`: a compacted partition loses the channel's history.
    fn no_compaction(&mut self, key: &str) {
        let Some((policy, raw)) = self.value::<String>(key) else {
            return;
        };
        if policy
            .split(',')
            .any(|p| p.trim().eq_ignore_ascii_case("compact"))
        {
            self.f.violation(
                Rule::Retention,
                self.resource,
                key,
                &raw,
                "delete (compaction keeps only the last record of each key, and all of a channel's records have key \"0\")".into(),
            );
        }
    }

    fn at_least(&mut self, key: &str, need: u64, req: &Requirements) {
        let Some((v, raw)) = self.value::<i64>(key) else {
            return;
        };
        if u64::try_from(v).map_or(true, |v| v < need) {
            self.f.violation(
                Rule::MessageSize,
                self.resource,
                key,
                &raw,
                req.record_bytes_why(),
            );
        }
    }
}

/// Kafka's booleans: `true` / `false`, any case.
struct Bool(bool);

impl std::str::FromStr for Bool {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        if s.eq_ignore_ascii_case("true") {
            Ok(Bool(true))
        } else if s.eq_ignore_ascii_case("false") {
            Ok(Bool(false))
        } else {
            Err(())
        }
    }
}

#[cfg(test)]
mod tests;
