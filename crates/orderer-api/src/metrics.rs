//! Metrics of the domain, named as Fabric names them so its dashboards work.
//!
//! Recorded through the `metrics` facade: free when the node installs no recorder.

use std::time::Duration;

/// `blockcutter_block_fill_duration{channel}`: seconds from a batch's first envelope
/// to its cut.
pub const BLOCK_FILL_DURATION: &str = "blockcutter_block_fill_duration";

/// Describes this crate's metrics to the installed recorder.
pub fn describe() {
    metrics::describe_histogram!(
        BLOCK_FILL_DURATION,
        metrics::Unit::Seconds,
        "The time from first transaction enqueuing to the block being cut in seconds."
    );
}

pub(crate) fn block_filled(channel: &str, fill: Duration) {
    metrics::histogram!(BLOCK_FILL_DURATION, "channel" => channel.to_owned())
        .record(fill.as_secs_f64());
}
