//! `orderer-cli bench`: throughput and latency of an orderer, measured by a client.
//!
//! Broadcast: envelopes are built, signed and marshalled before the clock starts; then
//! `streams` Broadcast streams (one connection each) send them while one Deliver
//! stream, opened beforehand at the newest block, watches every one of them land in a
//! block. Each envelope carries `run id << 32 | index` in its first 8 data bytes, so the
//! watcher recognises this run's envelopes among anyone else's.
//!
//! Deliver: replays a range of blocks on raw frames (no decoding unless asked to
//! verify the hash chain); with followers, N streams follow the chain while the
//! Broadcast benchmark runs, and the time until every one has the run's last block is
//! measured (each follower reads only block headers).
//!
//! The parts: [`workload`] (the envelopes of a run and how they are recognised),
//! [`broadcast`] (the Broadcast streams and the report), [`watcher`] (the Deliver
//! stream that sees the run land in blocks), [`deliver`] (the replay), [`follow`]
//! (the fan-out), [`measure`] (latency histograms, rates, CPU and memory).

mod broadcast;
mod deliver;
mod follow;
mod measure;
mod watcher;
mod workload;

pub use self::broadcast::{BroadcastBench, BroadcastResult, broadcast};
pub use self::deliver::{DeliverResult, deliver};
pub use self::follow::{FollowBench, FollowResult, follow_chain};
pub use self::measure::{cpu_seconds, peak_rss};
pub use self::workload::Workload;

/// How many example rejection reasons a report keeps.
const KEEP_REASONS: usize = 5;
