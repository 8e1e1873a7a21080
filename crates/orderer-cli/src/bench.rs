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

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hdrhistogram::Histogram;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use orderer_api::proto::common::{Block, Envelope, Payload, Status};
use orderer_api::proto::orderer::BroadcastResponse;
use prost::Message;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, watch};
use tonic::codec::Streaming;
use tonic::transport::Channel;

use crate::client::describe_status;
use crate::deliver::ChainChecker;
use crate::envelopes::Signer;
use crate::raw::{self, Frame};

/// How many example rejection reasons a report keeps.
const KEEP_REASONS: usize = 5;
/// Latencies are recorded in microseconds, up to an hour, to 3 significant digits.
const LATENCY_MAX_US: u64 = 3_600_000_000;

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

/// The envelopes of one run, marshalled.
#[derive(Debug)]
pub struct Workload {
    run_id: u32,
    envelopes: Arc<Vec<Bytes>>,
    bytes: u64,
    signed: bool,
}

impl Workload {
    /// Builds `count` envelopes of `size` bytes for `channel`, signed by `signer`,
    /// on every core.
    pub fn prepare(
        signer: &Signer,
        channel: &str,
        count: u64,
        size: usize,
    ) -> anyhow::Result<Workload> {
        if count == 0 || count > u64::from(u32::MAX) {
            anyhow::bail!("--count must be between 1 and {}, got {count}", u32::MAX);
        }
        let run_id = run_id();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get() as u64)
            .unwrap_or(1)
            .min(count);
        let per_thread = count.div_ceil(threads);
        let parts: Vec<anyhow::Result<Vec<Bytes>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let range = t * per_thread..((t + 1) * per_thread).min(count);
                    s.spawn(move || {
                        range
                            .map(|i| {
                                let seq = (u64::from(run_id) << 32) | i;
                                let env = signer.transaction(channel, seq, size)?;
                                Ok(Bytes::from(env.encode_to_vec()))
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a signing thread panicked")))
                })
                .collect()
        });
        let mut envelopes = Vec::with_capacity(count as usize);
        for part in parts {
            envelopes.extend(part?);
        }
        let bytes = envelopes.iter().map(|e| e.len() as u64).sum();
        Ok(Workload {
            run_id,
            envelopes: Arc::new(envelopes),
            bytes,
            signed: signer.identity().is_some(),
        })
    }
}

impl Workload {
    /// The marshalled envelopes, in workload order.
    pub fn envelopes(&self) -> Arc<Vec<Bytes>> {
        Arc::clone(&self.envelopes)
    }
}

/// A number that tells this run's envelopes from other runs'.
fn run_id() -> u32 {
    let mut h = Sha256::new();
    h.update(std::process::id().to_le_bytes());
    h.update(format!("{:?}", std::time::SystemTime::now()).as_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

fn histogram() -> Histogram<u64> {
    // Bounds are constants within hdrhistogram's limits.
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("valid histogram bounds")
}

fn record(h: &mut Histogram<u64>, latency: Duration) {
    let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    h.saturating_record(us.clamp(1, LATENCY_MAX_US));
}

/// Recorded microseconds as milliseconds.
fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Latency percentiles in milliseconds.
fn percentiles(h: &Histogram<u64>) -> serde_json::Value {
    json!({
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "max": ms(h.max()),
    })
}

fn percentile_line(h: &Histogram<u64>) -> String {
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

/// CPU time (user + system) this process has used so far, from /proc/self/stat.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start with the state,
    // field 3; utime and stime are fields 14 and 15, in clock ticks. Linux reports
    // them in USER_HZ, 100 on every architecture it runs on.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
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

fn per_second(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
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

/// Send times of every envelope, nanoseconds after the start plus one (0: not sent).
type SendTimes = Arc<Vec<AtomicU64>>;

fn elapsed_nanos(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn since_sent(sent: &AtomicU64, now: u64) -> Option<Duration> {
    match sent.load(Ordering::Relaxed) {
        0 => None,
        t => Some(Duration::from_nanos(now.saturating_sub(t - 1))),
    }
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

/// What the Deliver watcher saw.
struct Watched {
    stream: Streaming<Bytes>,
    ordered: u64,
    blocks: u64,
    bytes: u64,
    latency: Histogram<u64>,
    last: Duration,
    /// Number of the last block that held an envelope of the run.
    last_block: Option<u64>,
    error: Option<String>,
}

/// Reads blocks until every acknowledged envelope of the run has been seen.
async fn watch_blocks(
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

/// What the watcher needs of the workload.
#[derive(Debug)]
struct WorkloadView {
    run_id: u32,
    count: usize,
}

impl WorkloadView {
    fn index_of(&self, envelope: Bytes) -> Option<usize> {
        let env = Envelope::decode(envelope).ok()?;
        let payload = Payload::decode(env.payload).ok()?;
        let seq = u64::from_be_bytes(payload.data.get(..8)?.try_into().ok()?);
        if (seq >> 32) as u32 != self.run_id {
            return None;
        }
        let i = (seq & u64::from(u32::MAX)) as usize;
        (i < self.count).then_some(i)
    }
}

fn status_name(s: i32) -> String {
    Status::try_from(s)
        .map(|s| s.as_str_name().to_owned())
        .unwrap_or_else(|_| s.to_string())
}

/// The reason an orderer gave with a non-SUCCESS Deliver status (in the final
/// grpc-message), as ": reason", or nothing.
async fn trailer_reason(stream: &mut Streaming<Bytes>) -> String {
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
async fn open_watcher(
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

/// The result of a Deliver replay.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverResult {
    pub blocks: u64,
    pub envelopes: Option<u64>,
    pub bytes: u64,
    pub time: Duration,
    pub client_cpu: Option<f64>,
    pub verified: bool,
}

impl DeliverResult {
    pub fn blocks_per_second(&self) -> f64 {
        per_second(self.blocks, self.time)
    }

    pub fn mb_per_second(&self) -> f64 {
        per_second(self.bytes, self.time) / 1e6
    }

    pub fn json(&self) -> serde_json::Value {
        json!({
            "blocks": self.blocks,
            "envelopes": self.envelopes,
            "bytes": self.bytes,
            "seconds": self.time.as_secs_f64(),
            "blocks_per_s": self.blocks_per_second().round(),
            "mb_per_s": (self.mb_per_second() * 10.0).round() / 10.0,
            "hash_chain_verified": self.verified,
            "client_cpu_seconds": self.client_cpu,
        })
    }

    pub fn lines(&self) -> Vec<String> {
        vec![
            format!(
                "delivered {} blocks, {:.1} MB in {:.3} s: {:.0} blocks/s, {:.1} MB/s",
                self.blocks,
                self.bytes as f64 / 1e6,
                self.time.as_secs_f64(),
                self.blocks_per_second(),
                self.mb_per_second()
            ),
            format!(
                "hash chain {}; client CPU {}",
                if self.verified {
                    "verified"
                } else {
                    "not checked (--verify checks it)"
                },
                self.client_cpu
                    .map(|c| format!("{c:.2} s"))
                    .unwrap_or_else(|| "unknown".into())
            ),
        ]
    }
}

/// Replays what the marshalled seek envelope `seek` asks for, as fast as the orderer
/// sends it. With `verify`, decodes every block and checks the hash chain.
pub async fn deliver(
    connection: Channel,
    seek: Bytes,
    verify: bool,
    progress: bool,
) -> anyhow::Result<DeliverResult> {
    let bar = if progress {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    let mut stream = raw::deliver(connection, seek).await?;
    let mut result = DeliverResult {
        blocks: 0,
        envelopes: verify.then_some(0),
        bytes: 0,
        time: Duration::ZERO,
        client_cpu: None,
        verified: verify,
    };
    let mut checker = ChainChecker::default();
    loop {
        let msg = stream
            .message()
            .await
            .map_err(|s| anyhow::anyhow!("Deliver failed: {}", describe_status(&s)))?
            .context("the orderer ended the Deliver stream without a status")?;
        match raw::frame(msg)? {
            Frame::Block(b) => {
                result.blocks += 1;
                result.bytes += b.len() as u64;
                if verify {
                    let block = Block::decode(b).context("a delivered block does not decode")?;
                    checker
                        .check(&block)
                        .map_err(|e| anyhow::anyhow!("chain verification failed: {e}"))?;
                    let n = block.data.map(|d| d.data.len() as u64).unwrap_or(0);
                    result.envelopes = result.envelopes.map(|e| e + n);
                }
                if result.blocks % 256 == 0 {
                    bar.set_message(format!(
                        "{} blocks, {:.0} MB",
                        result.blocks,
                        result.bytes as f64 / 1e6
                    ));
                    bar.tick();
                }
            }
            Frame::Status(s) if s == Status::Success as i32 => break,
            Frame::Status(s) => {
                let reason = trailer_reason(&mut stream).await;
                anyhow::bail!(
                    "Deliver ended with {} after {} blocks{reason}",
                    status_name(s),
                    result.blocks
                );
            }
        }
    }
    result.time = start.elapsed();
    bar.finish_and_clear();
    result.client_cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    Ok(result)
}

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

/// Peak resident memory of process `pid` in bytes (VmHWM in /proc/PID/status).
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
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

    #[test]
    fn workloads_are_recognised_in_blocks_and_others_are_not() {
        let signer = Signer::unsigned();
        let w = Workload::prepare(&signer, "mychannel", 10, 300).unwrap();
        assert_eq!(w.envelopes.len(), 10);
        assert!(w.envelopes.iter().all(|e| e.len() >= 300));
        let view = WorkloadView {
            run_id: w.run_id,
            count: 10,
        };
        for (i, e) in w.envelopes.iter().enumerate() {
            assert_eq!(view.index_of(e.clone()), Some(i));
        }
        let other = Workload::prepare(&signer, "mychannel", 1, 300).unwrap();
        if other.run_id != w.run_id {
            assert_eq!(view.index_of(other.envelopes[0].clone()), None);
        }
        assert_eq!(view.index_of(Bytes::from_static(b"junk")), None);
        assert!(Workload::prepare(&signer, "mychannel", 0, 300).is_err());
    }

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

    #[test]
    fn peak_rss_is_read_from_proc() {
        let rss = peak_rss(std::process::id()).expect("Linux /proc/PID/status");
        assert!(rss > 1024 * 1024, "{rss}");
        assert_eq!(peak_rss(u32::MAX), None);
    }

    #[test]
    fn cpu_time_is_read_from_proc() {
        let t = cpu_seconds().expect("Linux /proc/self/stat");
        assert!(t >= 0.0);
    }

    #[test]
    fn percentiles_are_in_milliseconds() {
        let mut h = histogram();
        for ms in 1..=100u64 {
            record(&mut h, Duration::from_millis(ms));
        }
        let p = percentiles(&h);
        let p50 = p["p50"].as_f64().unwrap();
        assert!((49.9..=50.1).contains(&p50), "{p}");
        let max = p["max"].as_f64().unwrap();
        assert!((99.9..=100.1).contains(&max), "{p}");
    }
}
