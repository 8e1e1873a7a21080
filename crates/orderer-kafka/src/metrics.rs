//! The Kafka consenter's metrics, named as Fabric's.

/// `consensus_kafka_last_offset_persisted{channel}`: the offset recorded in the
/// channel's last block.
pub const LAST_OFFSET_PERSISTED: &str = "consensus_kafka_last_offset_persisted";

/// Describes this crate's metrics to the installed recorder.
pub fn describe() {
    metrics::describe_gauge!(
        LAST_OFFSET_PERSISTED,
        "The offset specified in the block metadata of the most recently committed block."
    );
}

pub(crate) fn offset_persisted(channel: &str, offset: i64) {
    metrics::gauge!(LAST_OFFSET_PERSISTED, "channel" => channel.to_owned()).set(offset as f64);
}
