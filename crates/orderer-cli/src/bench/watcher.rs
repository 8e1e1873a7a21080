//! The Deliver stream that watches the run's envelopes land in blocks, and what the
//! Deliver streams of every benchmark share: status names and trailer reasons.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use orderer_api::proto::common::{Block, Status};
use prost::Message;
use tokio::sync::watch;
use tonic::codec::Streaming;
use tonic::transport::Channel;

use crate::client::describe_status;
use crate::raw::{self, Frame};

use super::measure::{SendTimes, elapsed_nanos, histogram, record, since_sent};
use super::workload::WorkloadView;

/// What the Deliver watcher saw.
pub(super) struct Watched {
    pub(super) stream: Streaming<Bytes>,
    pub(super) ordered: u64,
    pub(super) blocks: u64,
    pub(super) bytes: u64,
    pub(super) latency: Histogram<u64>,
    pub(super) last: Duration,
    /// Number of the last block that held an envelope of the run.
    pub(super) last_block: Option<u64>,
    pub(super) error: Option<String>,
}

/// Reads blocks until every acknowledged envelope of the run has been seen.
pub(super) async fn watch_blocks(
    blocks: Streaming<Bytes>,
    workload: Arc<WorkloadView>,
    sent_at: SendTimes,
    start: Instant,
    mut expected: watch::Receiver<u64>,
    idle_timeout: Duration,
    bar: ProgressBar,
) -> Watched {
    let mut seen = vec![false; workload.count];
    let mut w = Watched {
        stream: blocks,
        ordered: 0,
        blocks: 0,
        bytes: 0,
        latency: histogram(),
        last: Duration::ZERO,
        last_block: None,
        error: None,
    };
    loop {
        if w.ordered >= *expected.borrow_and_update() {
            break;
        }
        let msg = tokio::select! {
            changed = expected.changed() => {
                if changed.is_err() {
                    break;
                }
                continue;
            }
            m = tokio::time::timeout(idle_timeout, w.stream.message()) => m,
        };
        let frame = match msg {
            Err(_) => {
                w.error = Some(format!(
                    "no block for {} s with {} envelopes of this run still not delivered",
                    idle_timeout.as_secs(),
                    *expected.borrow() - w.ordered
                ));
                break;
            }
            Ok(Err(s)) => {
                w.error = Some(format!("Deliver failed: {}", describe_status(&s)));
                break;
            }
            Ok(Ok(None)) => {
                w.error = Some("the orderer ended the Deliver stream".into());
                break;
            }
            Ok(Ok(Some(m))) => raw::frame(m),
        };
        let block = match frame {
            Ok(Frame::Block(b)) => b,
            Ok(Frame::Status(s)) => {
                w.error = Some(format!(
                    "the Deliver stream ended with status {}",
                    status_name(s)
                ));
                break;
            }
            Err(e) => {
                w.error = Some(format!("{e:#}"));
                break;
            }
        };
        let now = elapsed_nanos(start);
        w.blocks += 1;
        w.bytes += block.len() as u64;
        let block = match Block::decode(block) {
            Ok(b) => b,
            Err(e) => {
                w.error = Some(format!("a delivered block does not decode: {e}"));
                break;
            }
        };
        let number = block.header.as_ref().map_or(0, |h| h.number);
        let mut found = 0;
        for env in block.data.map(|d| d.data).unwrap_or_default() {
            let Some(i) = workload.index_of(env) else {
                continue;
            };
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            found += 1;
            if let Some(d) = since_sent(&sent_at[i], now) {
                record(&mut w.latency, d);
            }
        }
        if found > 0 {
            w.ordered += found;
            w.last = Duration::from_nanos(now);
            w.last_block = Some(number);
            bar.inc(found);
        }
    }
    w
}

pub(super) fn status_name(s: i32) -> String {
    Status::try_from(s)
        .map(|s| s.as_str_name().to_owned())
        .unwrap_or_else(|_| s.to_string())
}

/// The reason an orderer gave with a non-SUCCESS Deliver status (in the final
/// grpc-message), as ": reason", or nothing.
pub(super) async fn trailer_reason(stream: &mut Streaming<Bytes>) -> String {
    stream
        .trailers()
        .await
        .ok()
        .flatten()
        .and_then(|t| {
            t.get("grpc-message")
                .and_then(|v| v.to_str().ok())
                .map(crate::deliver::percent_decode)
        })
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

/// Opens the Deliver stream at the newest block and waits for that block, so that
/// the watcher is in place before the clock starts.
pub(super) async fn open_watcher(
    connection: Channel,
    seek: Bytes,
    channel: &str,
) -> anyhow::Result<Streaming<Bytes>> {
    let mut blocks = raw::deliver(connection, seek).await?;
    let first = tokio::time::timeout(Duration::from_secs(30), blocks.message())
        .await
        .map_err(|_| anyhow::anyhow!("Deliver sent no block of {channel} within 30 s"))?
        .map_err(|s| anyhow::anyhow!("Deliver failed: {}", describe_status(&s)))?
        .with_context(|| format!("the orderer ended the Deliver stream of {channel}"))?;
    match raw::frame(first)? {
        Frame::Block(_) => Ok(blocks),
        Frame::Status(s) => {
            let reason = trailer_reason(&mut blocks).await;
            anyhow::bail!(
                "Deliver of {channel} refused with {}{reason}",
                status_name(s)
            )
        }
    }
}
