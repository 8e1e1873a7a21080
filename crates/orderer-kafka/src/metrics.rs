//! The Kafka consenter's metrics, named as Fabric's.

/// `consensus_kafka_last_offset_persisted{channel}`: the offset recorded in the
/// channel's last block.
pub const LAST_OFFSET_PERSISTED: &str = "consensus_kafka_last_offset_persisted";

/// `consensus_kafka_duplicates_dropped_total{channel}` (this orderer's own): envelopes
/// read from the partition and dropped because the duplicate window held them.
pub const DUPLICATES_DROPPED: &str = "consensus_kafka_duplicates_dropped_total";

/// Describes this crate's metrics to the installed recorder.
pub fn describe() {
    metrics::describe_counter!(
        DUPLICATES_DROPPED,
        "Envelopes read from the channel's partition and dropped as already ordered within Kafka.DedupeWindow blocks."
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
