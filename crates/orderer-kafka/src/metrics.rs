//! The Kafka consenter's metrics, named as Fabric's.

/// `consensus_kafka_last_offset_persisted{channel}`: the offset recorded in the
/// channel's last block.
pub const LAST_OFFSET_PERSISTED: &str = "consensus_kafka_last_offset_persisted";

/// `consensus_kafka_duplicates_dropped_total{channel}` (this orderer's own): envelopes
/// read from the partition and dropped because the duplicate window held them.
pub const DUPLICATES_DROPPED: &str = "consensus_kafka_duplicates_dropped_total";

/// `consensus_kafka_cluster_rule_violations{rule}` (this orderer's own): the rules of
/// seed 003 the brokers' own settings break, as the node's check at start found them
/// (0 for each rule kept; absent until the check ran).
pub const CLUSTER_RULE_VIOLATIONS: &str = "consensus_kafka_cluster_rule_violations";

/// `consensus_kafka_channel_rule_violations{channel,rule}` (this orderer's own): the
/// same for a channel, as its check found its topic and the brokers when the chain
/// started.
pub const CHANNEL_RULE_VIOLATIONS: &str = "consensus_kafka_channel_rule_violations";

/// Describes this crate's metrics to the installed recorder.
pub fn describe() {
    metrics::describe_counter!(
        DUPLICATES_DROPPED,
        "Envelopes read from the channel's partition and dropped as already ordered within Kafka.DedupeWindow blocks."
    );
    metrics::describe_gauge!(
        CLUSTER_RULE_VIOLATIONS,
        "Settings of the Kafka brokers that break a rule of the Kafka-based ordering service's cluster setup, by rule (checked at start)."
    );
    metrics::describe_gauge!(
        CHANNEL_RULE_VIOLATIONS,
        "Settings of a channel's Kafka topic or brokers that break a rule of the cluster setup, by rule (checked when the chain starts)."
    );
    metrics::describe_gauge!(
        LAST_OFFSET_PERSISTED,
        "The offset specified in the block metadata of the most recently committed block."
    );
}

pub(crate) fn offset_persisted(channel: &str, offset: i64) {
    metrics::gauge!(LAST_OFFSET_PERSISTED, "channel" => channel.to_owned()).set(offset as f64);
}

/// Publishes the channel's counters at zero, so that `rate()` works before the first event.
pub(crate) fn chain_started(channel: &str) {
    metrics::counter!(DUPLICATES_DROPPED, "channel" => channel.to_owned()).increment(0);
}

pub(crate) fn duplicate_dropped(channel: &str) {
    metrics::counter!(DUPLICATES_DROPPED, "channel" => channel.to_owned()).increment(1);
}

pub(crate) fn cluster_rule_violations(findings: &crate::cluster::Findings) {
    for rule in crate::cluster::Rule::ALL {
        metrics::gauge!(CLUSTER_RULE_VIOLATIONS, "rule" => rule.label())
            .set(findings.count(rule) as f64);
    }
}

pub(crate) fn channel_rule_violations(channel: &str, findings: &crate::cluster::Findings) {
    for rule in crate::cluster::Rule::ALL {
        metrics::gauge!(CHANNEL_RULE_VIOLATIONS, "channel" => channel.to_owned(), "rule" => rule.label())
            .set(findings.count(rule) as f64);
    }
}
