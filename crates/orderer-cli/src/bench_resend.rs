//! `orderer-cli bench --resend`: a client that behaves like a Fabric SDK under faults.
//!
//! Every envelope of the workload is sent until an orderer answers it SUCCESS: one
//! answered anything else, or in flight on a stream that broke or stayed silent, is
//! sent again (the same bytes) after a backoff, by whichever stream takes it next.
//! A broken stream reconnects to the next `--server`. The run ends when every
//! envelope is acknowledged or at the deadline; the acknowledged tx ids can be
//! written out for `orderer-cli chain-check --acked`.
//!
//! Nothing here watches blocks: what was ordered, and how often, is chain-check's
//! question, asked of every orderer after the run.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use orderer_api::proto::common::{Envelope, Status};
use orderer_api::proto::orderer::BroadcastResponse;
use prost::Message;
use serde_json::json;
use tokio::sync::{Mutex, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::bench::Workload;
use crate::client::{self, Tls, describe_status};
use crate::raw;

/// How many example reasons (refusals, stream errors) a report keeps.
const KEEP_REASONS: usize = 8;

/// What a resending Broadcast run does.
#[derive(Debug, Clone)]
pub struct ResendBench {
    /// Orderers, `host:port`: stream k starts at `servers[k % n]` and moves to the
    /// next one whenever its stream breaks.
    pub servers: Vec<String>,
    pub tls: Option<Tls>,
    pub streams: usize,
    /// Envelopes each stream sends ahead of their responses.
    pub window: usize,
    /// First sends per second in total; resends are not paced.
    pub rate: Option<f64>,
    /// Wait before an envelope is sent again, and before a broken stream reconnects.
    pub backoff: Duration,
    /// A stream with envelopes in flight and no response for this long is broken.
    pub response_timeout: Duration,
    /// Give up on what is not acknowledged by then, counted from the start.
    pub deadline: Duration,
    /// Where to write one tx id per line for every envelope answered SUCCESS.
    pub acked_out: Option<PathBuf>,
}

/// The result of a resending run.
#[derive(Debug, Default)]
pub struct ResendResult {
    pub count: u64,
    /// Envelopes answered SUCCESS at least once.
    pub acked: u64,
    /// Sends in total, first sends and resends.
    pub sends: u64,
    /// Envelopes sent more than once.
    pub resent: u64,
    /// Non-SUCCESS answers per status name.
    pub refused: BTreeMap<String, u64>,
    /// Streams that broke (error, end, silence) with envelopes in flight or on connect.
    pub stream_breaks: u64,
    pub reasons: Vec<String>,
    pub time: Duration,
    pub deadline_passed: bool,
}

impl ResendResult {
    pub fn complete(&self) -> bool {
        self.acked == self.count
    }

    pub fn json(&self) -> serde_json::Value {
        json!({
            "count": self.count,
            "acked": self.acked,
            "sends": self.sends,
            "resent": self.resent,
            "refused": self.refused,
            "stream_breaks": self.stream_breaks,
            "seconds": self.time.as_secs_f64(),
            "acked_tps": if self.time.is_zero() { 0.0 } else { (self.acked as f64 / self.time.as_secs_f64()).round() },
            "deadline_passed": self.deadline_passed,
            "complete": self.complete(),
            "reasons": self.reasons,
        })
    }

    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "acked {} of {} envelopes in {:.3} s ({} sends, {} envelopes resent, {} broken streams)",
            self.acked,
            self.count,
            self.time.as_secs_f64(),
            self.sends,
            self.resent,
            self.stream_breaks
        )];
        for (status, n) in &self.refused {
            out.push(format!("refused: {n} {status}"));
        }
        for r in &self.reasons {
            out.push(format!("  e.g. {r}"));
        }
        if self.deadline_passed {
            out.push(format!(
                "deadline passed with {} envelopes not acknowledged",
                self.count - self.acked
            ));
        }
        out
    }
}

/// State shared by the streams.
struct Shared {
    bench: ResendBench,
    envelopes: Arc<Vec<Bytes>>,
    /// Indices of envelopes to send, first sends and resends.
    queue_tx: mpsc::UnboundedSender<usize>,
    queue: Mutex<mpsc::UnboundedReceiver<usize>>,
    /// Per envelope: times sent, and whether acknowledged (high bit).
    sends: Vec<AtomicU64>,
    acked: AtomicU64,
    /// Indices in the order they were first acknowledged.
    acked_order: std::sync::Mutex<Vec<usize>>,
    done: watch::Sender<bool>,
    report: std::sync::Mutex<ResendResult>,
}

const ACKED: u64 = 1 << 63;

impl Shared {
    fn note(&self, reason: String) {
        let mut r = self.report.lock().unwrap_or_else(|e| e.into_inner());
        if r.reasons.len() < KEEP_REASONS && !r.reasons.contains(&reason) {
            r.reasons.push(reason);
        }
    }

    fn refused(&self, status: String, info: &str) {
        self.note(format!("{status}: {info}"));
        let mut r = self.report.lock().unwrap_or_else(|e| e.into_inner());
        *r.refused.entry(status).or_default() += 1;
    }

    fn broke(&self, reason: String) {
        self.note(reason);
        let mut r = self.report.lock().unwrap_or_else(|e| e.into_inner());
        r.stream_breaks += 1;
    }

    fn ack(&self, i: usize) {
        let before = self.sends[i].fetch_or(ACKED, Ordering::AcqRel);
        if before & ACKED != 0 {
            return;
        }
        self.acked_order
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(i);
        let n = self.acked.fetch_add(1, Ordering::AcqRel) + 1;
        if n == self.envelopes.len() as u64 {
            let _ = self.done.send(true);
        }
    }

    /// Sends `indices` again after the backoff (those acknowledged meanwhile are skipped).
    fn resend_later(self: &Arc<Self>, indices: Vec<usize>) {
        if indices.is_empty() {
            return;
        }
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(shared.bench.backoff).await;
            for i in indices {
                if shared.sends[i].load(Ordering::Acquire) & ACKED == 0 {
                    let _ = shared.queue_tx.send(i);
                }
            }
        });
    }

    /// The next envelope to send that is not acknowledged yet.
    async fn next(&self) -> Option<usize> {
        let mut q = self.queue.lock().await;
        loop {
            let i = q.recv().await?;
            if self.sends[i].load(Ordering::Acquire) & ACKED == 0 {
                return Some(i);
            }
        }
    }
}

/// One stream: connects, sends, reads answers in order, reconnects elsewhere on a break.
async fn run_stream(k: usize, shared: Arc<Shared>) {
    let servers = &shared.bench.servers;
    let window = shared.bench.window.max(1);
    let mut done = shared.done.subscribe();
    let mut attempt = 0usize;
    while !*done.borrow() {
        let server = &servers[(k + attempt) % servers.len()];
        attempt += 1;
        let opened = tokio::time::timeout(shared.bench.response_timeout, async {
            let connection = client::channel(server, shared.bench.tls.as_ref()).await?;
            let (tx, rx) = mpsc::channel::<Bytes>(window);
            let responses = raw::broadcast(connection, ReceiverStream::new(rx)).await?;
            anyhow::Ok((tx, responses))
        })
        .await;
        let (tx, mut responses) = match opened {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                shared.broke(format!("{server}: {e:#}"));
                tokio::time::sleep(shared.bench.backoff).await;
                continue;
            }
            Err(_) => {
                shared.broke(format!("{server}: no Broadcast stream within the timeout"));
                continue;
            }
        };
        let mut inflight: VecDeque<usize> = VecDeque::new();
        let broke = loop {
            let room = inflight.len() < window;
            tokio::select! {
                changed = done.changed() => {
                    if changed.is_err() || *done.borrow() {
                        break None;
                    }
                }
                m = tokio::time::timeout(shared.bench.response_timeout, responses.message()),
                    if !inflight.is_empty() => {
                    let msg = match m {
                        Err(_) => break Some(format!(
                            "{server}: no answer for {} s", shared.bench.response_timeout.as_secs())),
                        Ok(Err(s)) => break Some(format!("{server}: {}", describe_status(&s))),
                        Ok(Ok(None)) => break Some(format!("{server}: the orderer ended the stream")),
                        Ok(Ok(Some(m))) => m,
                    };
                    let Some(i) = inflight.pop_front() else { break None };
                    match BroadcastResponse::decode(msg) {
                        Ok(r) if r.status == Status::Success as i32 => shared.ack(i),
                        Ok(r) => {
                            let name = Status::try_from(r.status)
                                .map(|s| s.as_str_name().to_owned())
                                .unwrap_or_else(|_| r.status.to_string());
                            shared.refused(name, &r.info);
                            shared.resend_later(vec![i]);
                        }
                        Err(e) => {
                            inflight.push_front(i);
                            break Some(format!("{server}: bad BroadcastResponse: {e}"));
                        }
                    }
                }
                i = shared.next(), if room => {
                    let Some(i) = i else { break None };
                    shared.sends[i].fetch_add(1, Ordering::AcqRel);
                    inflight.push_back(i);
                    if tx.send(shared.envelopes[i].clone()).await.is_err() {
                        break Some(format!("{server}: the request stream closed"));
                    }
                }
            }
        };
        // Unanswered envelopes may or may not have been ordered: an SDK cannot know,
        // and sends them again.
        shared.resend_later(inflight.into());
        if let Some(reason) = broke {
            shared.broke(reason);
            tokio::time::sleep(shared.bench.backoff).await;
        }
    }
}

/// The tx id in the channel header of a marshalled envelope.
pub fn tx_id(envelope: &[u8]) -> Option<String> {
    let env = Envelope::decode(envelope).ok()?;
    let p = orderer_api::envelope::parse_payload(&env).ok()?;
    Some(p.channel_header.tx_id)
}

/// Runs the workload until every envelope is acknowledged or the deadline passes.
pub async fn broadcast(bench: &ResendBench, workload: Workload) -> anyhow::Result<ResendResult> {
    anyhow::ensure!(
        bench.streams > 0 && !bench.servers.is_empty(),
        "--streams and --server: at least one each"
    );
    let envelopes = workload.envelopes();
    let count = envelopes.len();
    let (queue_tx, queue_rx) = mpsc::unbounded_channel();
    let (done, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        bench: bench.clone(),
        envelopes: Arc::clone(&envelopes),
        queue_tx,
        queue: Mutex::new(queue_rx),
        sends: (0..count).map(|_| AtomicU64::new(0)).collect(),
        acked: AtomicU64::new(0),
        acked_order: std::sync::Mutex::new(Vec::with_capacity(count)),
        done,
        report: std::sync::Mutex::new(ResendResult {
            count: count as u64,
            ..Default::default()
        }),
    });
    let start = Instant::now();
    let feeder = {
        let shared = Arc::clone(&shared);
        let rate = bench.rate;
        tokio::spawn(async move {
            for i in 0..count {
                if let Some(rate) = rate {
                    let due = start + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                if shared.queue_tx.send(i).is_err() {
                    return;
                }
            }
        })
    };
    let streams: Vec<_> = (0..bench.streams)
        .map(|k| tokio::spawn(run_stream(k, Arc::clone(&shared))))
        .collect();
    let mut done = shared.done.subscribe();
    let deadline_passed = tokio::time::timeout(bench.deadline, done.wait_for(|d| *d))
        .await
        .is_err();
    let _ = shared.done.send(true);
    feeder.abort();
    for s in streams {
        s.await.context("a Broadcast stream task failed")?;
    }
    let mut result = std::mem::take(&mut *shared.report.lock().unwrap_or_else(|e| e.into_inner()));
    result.time = start.elapsed();
    result.deadline_passed = deadline_passed;
    result.acked = shared.acked.load(Ordering::Acquire);
    for s in &shared.sends {
        let n = s.load(Ordering::Acquire) & !ACKED;
        result.sends += n;
        result.resent += u64::from(n > 1);
    }
    if let Some(path) = &bench.acked_out {
        let order = shared
            .acked_order
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut text = String::with_capacity(order.len() * 65);
        for i in order {
            let id = tx_id(&envelopes[i])
                .with_context(|| format!("envelope {i} of the workload has no tx id"))?;
            text.push_str(&id);
            text.push('\n');
        }
        std::fs::write(path, text)
            .with_context(|| format!("--acked-out {}: cannot write", path.display()))?;
    }
    Ok(result)
}
