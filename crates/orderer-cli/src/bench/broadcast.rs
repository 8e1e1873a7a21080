//! The Broadcast benchmark: `streams` streams send the workload while the watcher
//! sees it land in blocks; the report of what they saw.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use orderer_api::proto::common::Status;
use orderer_api::proto::orderer::BroadcastResponse;
use prost::Message;
use serde_json::json;
use tokio::sync::{Semaphore, watch};
use tonic::transport::Channel;

use crate::client::describe_status;
use crate::raw;

use super::KEEP_REASONS;
use super::measure::{
    SendTimes, cpu_seconds, elapsed_nanos, histogram, per_second, percentile_line, percentiles,
    record, since_sent,
};
use super::watcher::{open_watcher, watch_blocks};
use super::workload::{Workload, WorkloadView};

/// What a Broadcast benchmark does.
#[derive(Debug, Clone)]
pub struct BroadcastBench {
    pub channel: String,
    pub count: u64,
    pub size: usize,
    /// Concurrent Broadcast streams, one connection each.
    pub streams: usize,
    /// Envelopes each stream sends ahead of their responses.
    pub window: usize,
    /// Total send rate in envelopes per second; as fast as possible when `None`.
    pub rate: Option<f64>,
    /// Times the workload is sent, each round after the previous one is in blocks.
    pub repeat: u64,
    /// Give up when no response or block arrives for this long.
    pub idle_timeout: Duration,
    pub progress: bool,
}

/// The result of a Broadcast benchmark.
#[derive(Debug)]
pub struct BroadcastResult {
    pub count: u64,
    pub size: usize,
    pub streams: usize,
    pub signed: bool,
    pub rate: Option<f64>,
    pub rounds: u64,
    pub acked: u64,
    /// Non-SUCCESS responses per status name.
    pub refused: BTreeMap<String, u64>,
    pub reasons: Vec<String>,
    pub errors: Vec<String>,
    pub ordered: u64,
    pub blocks: u64,
    pub bytes_sent: u64,
    pub bytes_delivered: u64,
    /// From the first send to the last response.
    pub ack_time: Duration,
    /// From the first send to the last envelope seen in a block.
    pub ordered_time: Duration,
    pub ack_latency: Histogram<u64>,
    pub block_latency: Histogram<u64>,
    pub client_cpu: Option<f64>,
    /// Number of the last block that held an envelope of the run.
    pub last_block: Option<u64>,
}

impl BroadcastResult {
    pub fn acked_tps(&self) -> f64 {
        per_second(self.acked, self.ack_time)
    }

    pub fn ordered_tps(&self) -> f64 {
        per_second(self.ordered, self.ordered_time)
    }

    /// Every envelope acknowledged and seen in a block.
    pub fn complete(&self) -> bool {
        self.errors.is_empty() && self.acked == self.count && self.ordered == self.count
    }

    pub fn json(&self) -> serde_json::Value {
        json!({
            "count": self.count,
            "size": self.size,
            "streams": self.streams,
            "signed": self.signed,
            "rate": self.rate,
            "rounds": self.rounds,
            "acked": self.acked,
            "refused": self.refused,
            "ordered": self.ordered,
            "blocks": self.blocks,
            "bytes_sent": self.bytes_sent,
            "bytes_delivered": self.bytes_delivered,
            "ack_seconds": self.ack_time.as_secs_f64(),
            "ordered_seconds": self.ordered_time.as_secs_f64(),
            "acked_tps": self.acked_tps().round(),
            "ordered_tps": self.ordered_tps().round(),
            "ack_latency_ms": percentiles(&self.ack_latency),
            "block_latency_ms": percentiles(&self.block_latency),
            "client_cpu_seconds": self.client_cpu,
            "complete": self.complete(),
            "errors": self.errors,
        })
    }

    /// The report, for people.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![
            format!(
                "{} {} envelopes of {} bytes over {} streams{}{}",
                if self.signed { "signed" } else { "unsigned" },
                self.count,
                self.size,
                self.streams,
                self.rate
                    .map(|r| format!(", paced at {r:.0}/s"))
                    .unwrap_or_default(),
                if self.rounds > 1 {
                    format!(" ({} rounds)", self.rounds)
                } else {
                    String::new()
                }
            ),
            format!(
                "acked:   {} in {:.3} s = {:.0} tx/s",
                self.acked,
                self.ack_time.as_secs_f64(),
                self.acked_tps()
            ),
            format!(
                "ordered: {} in {:.3} s = {:.0} tx/s, in {} blocks",
                self.ordered,
                self.ordered_time.as_secs_f64(),
                self.ordered_tps(),
                self.blocks
            ),
            format!("broadcast to ack:   {}", percentile_line(&self.ack_latency)),
            format!(
                "broadcast to block: {}",
                percentile_line(&self.block_latency)
            ),
            format!(
                "bytes: {:.1} MB sent, {:.1} MB delivered; client CPU {}",
                self.bytes_sent as f64 / 1e6,
                self.bytes_delivered as f64 / 1e6,
                self.client_cpu
                    .map(|c| format!("{c:.2} s"))
                    .unwrap_or_else(|| "unknown".into())
            ),
        ];
        for (status, n) in &self.refused {
            out.push(format!("refused: {n} {status}"));
        }
        for r in &self.reasons {
            out.push(format!("  e.g. {r}"));
        }
        for e in &self.errors {
            out.push(format!("error: {e}"));
        }
        out
    }
}

/// Progress bars on a terminal (hidden otherwise).
struct Progress {
    _multi: MultiProgress,
    acked: ProgressBar,
    ordered: ProgressBar,
}

impl Progress {
    fn new(count: u64, visible: bool) -> Progress {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let style = ProgressStyle::with_template(
            "{prefix:>8} [{bar:40}] {pos}/{len} {per_sec} {elapsed_precise}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = |name: &'static str| {
            let b = multi.add(ProgressBar::new(count));
            b.set_style(style.clone());
            b.set_prefix(name);
            b
        };
        let acked = bar("acked");
        let ordered = bar("ordered");
        Progress {
            _multi: multi,
            acked,
            ordered,
        }
    }
}

/// What one Broadcast stream saw.
struct StreamOutcome {
    acked: u64,
    refused: BTreeMap<String, u64>,
    reasons: Vec<String>,
    error: Option<String>,
    latency: Histogram<u64>,
    last: Duration,
}

/// Sends every `streams`-th envelope from `first` on `connection` and reads the responses.
async fn run_stream(
    connection: Channel,
    first: usize,
    bench: BroadcastBench,
    envelopes: Arc<Vec<Bytes>>,
    sent_at: SendTimes,
    start: Instant,
    bar: ProgressBar,
) -> StreamOutcome {
    let stride = bench.streams;
    // This stream's j-th envelope is the workload's first + j * stride.
    let n = envelopes.len().saturating_sub(first).div_ceil(stride);
    let index = move |j: usize| first + j * stride;
    let mut outcome = StreamOutcome {
        acked: 0,
        refused: BTreeMap::new(),
        reasons: Vec::new(),
        error: None,
        latency: histogram(),
        last: Duration::ZERO,
    };
    let credits = Arc::new(Semaphore::new(bench.window.max(1)));
    let per_stream_rate = bench.rate.map(|r| r / stride as f64);
    let requests = {
        let credits = Arc::clone(&credits);
        let sent_at = Arc::clone(&sent_at);
        futures_util::stream::unfold(0usize, move |j| {
            let credits = Arc::clone(&credits);
            let sent_at = Arc::clone(&sent_at);
            let envelopes = Arc::clone(&envelopes);
            let i = (j < n).then(|| index(j));
            async move {
                let i = i?;
                credits.acquire().await.ok()?.forget();
                if let Some(rate) = per_stream_rate {
                    let due = start + Duration::from_secs_f64(j as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                sent_at[i].store(elapsed_nanos(start) + 1, Ordering::Relaxed);
                Some((envelopes[i].clone(), j + 1))
            }
        })
    };
    let mut responses = match raw::broadcast(connection, requests).await {
        Ok(r) => r,
        Err(e) => {
            outcome.error = Some(format!("{e:#}"));
            return outcome;
        }
    };
    for j in 0..n {
        let i = index(j);
        let msg = match responses.message().await {
            Ok(Some(m)) => m,
            Ok(None) => {
                outcome.error = Some(format!(
                    "the orderer ended a Broadcast stream after {j} of {n} responses"
                ));
                break;
            }
            Err(s) => {
                outcome.error = Some(format!("Broadcast failed: {}", describe_status(&s)));
                break;
            }
        };
        let now = elapsed_nanos(start);
        credits.add_permits(1);
        let r = match BroadcastResponse::decode(msg) {
            Ok(r) => r,
            Err(e) => {
                outcome.error = Some(format!("bad BroadcastResponse: {e}"));
                break;
            }
        };
        if r.status == Status::Success as i32 {
            outcome.acked += 1;
            if let Some(d) = since_sent(&sent_at[i], now) {
                record(&mut outcome.latency, d);
            }
            bar.inc(1);
        } else {
            let name = Status::try_from(r.status)
                .map(|s| s.as_str_name().to_owned())
                .unwrap_or_else(|_| r.status.to_string());
            if outcome.reasons.len() < KEEP_REASONS {
                outcome.reasons.push(format!("{name}: {}", r.info));
            }
            *outcome.refused.entry(name).or_default() += 1;
        }
        outcome.last = Duration::from_nanos(now);
    }
    credits.close();
    outcome
}

/// Runs a Broadcast benchmark: `connections` (one per stream) send the workload
/// while `watcher` (with the marshalled seek envelope `seek`, newest to forever)
/// watches the blocks.
pub async fn broadcast(
    bench: &BroadcastBench,
    workload: Workload,
    connections: Vec<Channel>,
    watcher: Channel,
    seek: Bytes,
) -> anyhow::Result<BroadcastResult> {
    anyhow::ensure!(
        connections.len() == bench.streams && bench.streams > 0,
        "one connection per stream"
    );
    let mut blocks = open_watcher(watcher, seek, &bench.channel).await?;
    let count = workload.envelopes.len();
    let rounds = bench.repeat.max(1);
    let progress = Progress::new(count as u64 * rounds, bench.progress);
    let view = Arc::new(WorkloadView {
        run_id: workload.run_id,
        count,
    });
    let mut result = BroadcastResult {
        count: count as u64 * rounds,
        size: bench.size,
        streams: bench.streams,
        signed: workload.signed,
        rate: bench.rate,
        rounds,
        acked: 0,
        refused: BTreeMap::new(),
        reasons: Vec::new(),
        errors: Vec::new(),
        ordered: 0,
        blocks: 0,
        bytes_sent: workload.bytes * rounds,
        bytes_delivered: 0,
        ack_time: Duration::ZERO,
        ordered_time: Duration::ZERO,
        ack_latency: histogram(),
        block_latency: histogram(),
        client_cpu: None,
        last_block: None,
    };
    let cpu_before = cpu_seconds();
    // Each round sends the whole workload again and waits until all of it is in
    // blocks, so that the watcher tells rounds apart.
    for _ in 0..rounds {
        let sent_at: SendTimes = Arc::new((0..count).map(|_| AtomicU64::new(0)).collect());
        let (expected_tx, expected_rx) = watch::channel(count as u64);
        let start = Instant::now();
        let watcher = tokio::spawn(watch_blocks(
            blocks,
            Arc::clone(&view),
            Arc::clone(&sent_at),
            start,
            expected_rx,
            bench.idle_timeout,
            progress.ordered.clone(),
        ));
        let tasks: Vec<_> = connections
            .iter()
            .cloned()
            .enumerate()
            .map(|(k, conn)| {
                tokio::spawn(run_stream(
                    conn,
                    k,
                    bench.clone(),
                    Arc::clone(&workload.envelopes),
                    Arc::clone(&sent_at),
                    start,
                    progress.acked.clone(),
                ))
            })
            .collect();
        let mut acked = 0;
        let mut ack_time = Duration::ZERO;
        for task in tasks {
            let s = task.await.context("a Broadcast stream task failed")?;
            acked += s.acked;
            for (k, v) in s.refused {
                *result.refused.entry(k).or_default() += v;
            }
            for r in s.reasons {
                if result.reasons.len() < KEEP_REASONS {
                    result.reasons.push(r);
                }
            }
            result.errors.extend(s.error);
            // Same bounds on both sides: adding cannot fail.
            let _ = result.ack_latency.add(&s.latency);
            ack_time = ack_time.max(s.last);
        }
        result.acked += acked;
        result.ack_time += ack_time;
        // Only acknowledged envelopes are expected in blocks.
        let _ = expected_tx.send(acked);
        let w = watcher.await.context("the Deliver watcher task failed")?;
        blocks = w.stream;
        result.ordered += w.ordered;
        result.blocks += w.blocks;
        result.bytes_delivered += w.bytes;
        let _ = result.block_latency.add(&w.latency);
        result.ordered_time += w.last;
        result.last_block = w.last_block.or(result.last_block);
        result.errors.extend(w.error);
        if !result.errors.is_empty() {
            break;
        }
    }
    progress.acked.finish();
    progress.ordered.finish();
    result.client_cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    Ok(result)
}
