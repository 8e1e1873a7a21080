//! The fan-out benchmark: followers on Deliver streams while the Broadcast benchmark
//! runs, timed until every follower has the run's last block.

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use prost::Message;
use serde_json::json;
use tokio::sync::watch;
use tonic::codec::Streaming;
use tonic::transport::Channel;

use crate::client::describe_status;
use crate::raw::{self, Frame};

use super::KEEP_REASONS;
use super::broadcast::{BroadcastBench, BroadcastResult, broadcast};
use super::measure::{peak_rss, per_second};
use super::watcher::{open_watcher, status_name};
use super::workload::Workload;

/// What a fan-out benchmark does: `followers` Deliver streams, spread over
/// `connections` connections, follow the chain while the Broadcast benchmark sends
/// its workload.
#[derive(Debug, Clone)]
pub struct FollowBench {
    pub broadcast: BroadcastBench,
    pub followers: usize,
    pub connections: usize,
    /// The orderer's process, to report its peak resident memory (same machine).
    pub orderer_pid: Option<u32>,
}

/// The result of a fan-out benchmark.
#[derive(Debug)]
pub struct FollowResult {
    pub followers: usize,
    pub connections: usize,
    pub broadcast: BroadcastResult,
    /// Followers that received the last block of the run.
    pub caught_up: usize,
    /// Blocks received by all followers together, from the start to the last block.
    pub blocks: u64,
    pub bytes: u64,
    /// From the start of the broadcast until every follower had the last block.
    pub time: Duration,
    pub errors: Vec<String>,
    pub orderer_peak_rss: Option<u64>,
}

impl FollowResult {
    pub fn complete(&self) -> bool {
        self.broadcast.complete() && self.errors.is_empty() && self.caught_up == self.followers
    }

    pub fn blocks_per_second(&self) -> f64 {
        per_second(self.blocks, self.time)
    }

    pub fn json(&self) -> serde_json::Value {
        json!({
            "followers": self.followers,
            "connections": self.connections,
            "count": self.broadcast.count,
            "size": self.broadcast.size,
            "streams": self.broadcast.streams,
            "acked": self.broadcast.acked,
            "ordered": self.broadcast.ordered,
            "last_block": self.broadcast.last_block,
            "caught_up": self.caught_up,
            "blocks_delivered": self.blocks,
            "bytes_delivered": self.bytes,
            "seconds": self.time.as_secs_f64(),
            "blocks_per_s": self.blocks_per_second().round(),
            "mb_per_s": (per_second(self.bytes, self.time) / 1e5).round() / 10.0,
            "orderer_peak_rss_mb": self.orderer_peak_rss.map(|b| b / (1024 * 1024)),
            "client_cpu_seconds": self.broadcast.client_cpu,
            "complete": self.complete(),
            "errors": self.broadcast.errors.iter().chain(&self.errors).collect::<Vec<_>>(),
        })
    }

    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![
            format!(
                "{} followers on {} connections; {} envelopes of {} bytes over {} streams, ordered {} up to block {}",
                self.followers,
                self.connections,
                self.broadcast.count,
                self.broadcast.size,
                self.broadcast.streams,
                self.broadcast.ordered,
                self.broadcast
                    .last_block
                    .map_or_else(|| "?".into(), |n| n.to_string()),
            ),
            format!(
                "{} of {} followers had the last block after {:.3} s: {} blocks, {:.1} MB delivered, {:.0} blocks/s",
                self.caught_up,
                self.followers,
                self.time.as_secs_f64(),
                self.blocks,
                self.bytes as f64 / 1e6,
                self.blocks_per_second()
            ),
        ];
        if let Some(rss) = self.orderer_peak_rss {
            out.push(format!("orderer peak RSS {} MB", rss / (1024 * 1024)));
        }
        for e in self.broadcast.errors.iter().chain(&self.errors) {
            out.push(format!("error: {e}"));
        }
        out
    }
}

/// Only the header of a marshalled `common.Block` (the other fields are skipped).
#[derive(Clone, PartialEq, prost::Message)]
struct BlockHeaderOnly {
    #[prost(message, optional, tag = "1")]
    header: Option<orderer_api::proto::common::BlockHeader>,
}

/// What one follower saw.
#[derive(Debug, Default)]
struct Followed {
    blocks: u64,
    bytes: u64,
    /// When it received the target block, after the start.
    reached: Option<Duration>,
    error: Option<String>,
}

/// Reads blocks until one numbered `target` or later (known once the broadcast ends).
async fn follow(
    mut stream: Streaming<Bytes>,
    start: Instant,
    mut target: watch::Receiver<Option<u64>>,
    idle_timeout: Duration,
) -> Followed {
    let mut f = Followed::default();
    // (number, time) of every block received, for a target learnt afterwards.
    let mut seen: Vec<(u64, Duration)> = Vec::new();
    loop {
        if let Some(t) = *target.borrow_and_update() {
            if let Some(&(_, at)) = seen.iter().find(|(n, _)| *n >= t) {
                f.reached = Some(at);
                return f;
            }
        }
        let msg = tokio::select! {
            changed = target.changed() => {
                if changed.is_err() {
                    return f;
                }
                continue;
            }
            m = tokio::time::timeout(idle_timeout, stream.message()) => m,
        };
        let block = match msg {
            Err(_) => {
                f.error = Some(format!(
                    "a follower got no block for {} s",
                    idle_timeout.as_secs()
                ));
                return f;
            }
            Ok(Err(s)) => {
                f.error = Some(format!(
                    "a follower's Deliver failed: {}",
                    describe_status(&s)
                ));
                return f;
            }
            Ok(Ok(None)) => {
                f.error = Some("the orderer ended a follower's Deliver stream".into());
                return f;
            }
            Ok(Ok(Some(m))) => match raw::frame(m) {
                Ok(Frame::Block(b)) => b,
                Ok(Frame::Status(s)) => {
                    f.error = Some(format!("a follower's stream ended with {}", status_name(s)));
                    return f;
                }
                Err(e) => {
                    f.error = Some(format!("{e:#}"));
                    return f;
                }
            },
        };
        let at = start.elapsed();
        f.blocks += 1;
        f.bytes += block.len() as u64;
        match BlockHeaderOnly::decode(block) {
            Ok(BlockHeaderOnly { header: Some(h) }) => seen.push((h.number, at)),
            _ => {
                f.error = Some("a follower received a block without a header".into());
                return f;
            }
        }
    }
}

/// Runs a fan-out benchmark: opens every follower (each receives its first block
/// before the clock starts), runs the Broadcast benchmark, then waits until every
/// follower has the last block that holds an envelope of the run.
pub async fn follow_chain(
    bench: &FollowBench,
    workload: Workload,
    connections: Vec<Channel>,
    watcher: Channel,
    followers: Vec<Channel>,
    seek: Bytes,
) -> anyhow::Result<FollowResult> {
    anyhow::ensure!(
        followers.len() == bench.followers && bench.followers > 0,
        "one channel per follower"
    );
    let channel = bench.broadcast.channel.as_str();
    let streams = futures_util::future::try_join_all(
        followers
            .into_iter()
            .map(|c| open_watcher(c, seek.clone(), channel)),
    )
    .await?;
    let (target_tx, target_rx) = watch::channel(None);
    let start = Instant::now();
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|s| {
            tokio::spawn(follow(
                s,
                start,
                target_rx.clone(),
                bench.broadcast.idle_timeout,
            ))
        })
        .collect();
    let broadcast = broadcast(&bench.broadcast, workload, connections, watcher, seek).await?;
    let _ = target_tx.send(Some(broadcast.last_block.unwrap_or(u64::MAX)));
    let mut result = FollowResult {
        followers: bench.followers,
        connections: bench.connections,
        broadcast,
        caught_up: 0,
        blocks: 0,
        bytes: 0,
        time: Duration::ZERO,
        errors: Vec::new(),
        orderer_peak_rss: None,
    };
    for task in tasks {
        let f = task.await.context("a follower task failed")?;
        result.blocks += f.blocks;
        result.bytes += f.bytes;
        if let Some(at) = f.reached {
            result.caught_up += 1;
            result.time = result.time.max(at);
        }
        if let Some(e) = f.error {
            if result.errors.len() < KEEP_REASONS {
                result.errors.push(e);
            }
        }
    }
    result.orderer_peak_rss = bench.orderer_pid.and_then(peak_rss);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderer_api::proto::common::Block;

    #[test]
    fn followers_read_the_block_number_without_the_data() {
        let block = Block {
            header: Some(orderer_api::proto::common::BlockHeader {
                number: 42,
                ..Default::default()
            }),
            data: Some(orderer_api::proto::common::BlockData {
                data: vec![Bytes::from_static(b"envelope")],
            }),
            metadata: None,
        };
        let only = BlockHeaderOnly::decode(Bytes::from(block.encode_to_vec())).unwrap();
        assert_eq!(only.header.map(|h| h.number), Some(42));
    }
}
