//! The node's metrics, with Fabric's names and labels so that Fabric dashboards work.
//!
//! Recorded through the `metrics` facade; rendered in Prometheus' text format by the
//! operations server when `Metrics.Provider` is `prometheus`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock, RwLock};
use std::time::Duration;

use metrics::{
    Counter, Histogram, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const BROADCAST_VALIDATE_DURATION: &str = "broadcast_validate_duration";
pub const BROADCAST_ENQUEUE_DURATION: &str = "broadcast_enqueue_duration";
pub const BROADCAST_PROCESSED_COUNT: &str = "broadcast_processed_count";
pub const DELIVER_STREAMS_OPENED: &str = "deliver_streams_opened";
pub const DELIVER_STREAMS_CLOSED: &str = "deliver_streams_closed";
pub const DELIVER_REQUESTS_RECEIVED: &str = "deliver_requests_received";
pub const DELIVER_REQUESTS_COMPLETED: &str = "deliver_requests_completed";
pub const DELIVER_BLOCKS_SENT: &str = "deliver_blocks_sent";
pub const LEDGER_BLOCKCHAIN_HEIGHT: &str = "ledger_blockchain_height";
pub const LEDGER_BLOCKSTORAGE_COMMIT_TIME: &str = "ledger_blockstorage_commit_time";
pub const GRPC_STREAM_REQUESTS_RECEIVED: &str = "grpc_server_stream_requests_received";
pub const GRPC_STREAM_REQUESTS_COMPLETED: &str = "grpc_server_stream_requests_completed";
pub const GRPC_STREAM_REQUEST_DURATION: &str = "grpc_server_stream_request_duration";
pub const GRPC_STREAM_MESSAGES_RECEIVED: &str = "grpc_server_stream_messages_received";
pub const GRPC_STREAM_MESSAGES_SENT: &str = "grpc_server_stream_messages_sent";
pub const FABRIC_VERSION: &str = "fabric_version";
pub const PROCESS_CPU_SECONDS: &str = "process_cpu_seconds_total";
pub const PROCESS_RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
pub const PROCESS_VIRTUAL_MEMORY: &str = "process_virtual_memory_bytes";
pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
pub const PROCESS_THREADS: &str = "process_threads";
pub const PROCESS_START_TIME: &str = "process_start_time_seconds";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once per process and returns its handle, or
/// `None` when metrics are disabled. Histograms use Prometheus' default buckets,
/// except the ledger commit time, which uses Fabric's.
pub fn install(prometheus: bool) -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            if !prometheus {
                return None;
            }
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(LEDGER_BLOCKSTORAGE_COMMIT_TIME.into()),
                        &[0.005, 0.01, 0.015, 0.05, 0.1, 1.0, 10.0],
                    )
                })
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            gauge!(FABRIC_VERSION, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            Some(handle)
        })
        .clone()
}

fn describe() {
    describe_histogram!(
        BROADCAST_VALIDATE_DURATION,
        "The time to validate a transaction in seconds."
    );
    describe_histogram!(
        BROADCAST_ENQUEUE_DURATION,
        "The time to enqueue a transaction in seconds."
    );
    describe_counter!(
        BROADCAST_PROCESSED_COUNT,
        "The number of transactions processed."
    );
    describe_counter!(
        DELIVER_STREAMS_OPENED,
        "The number of GRPC streams that have been opened for the deliver service."
    );
    describe_counter!(
        DELIVER_STREAMS_CLOSED,
        "The number of GRPC streams that have been closed for the deliver service."
    );
    describe_counter!(
        DELIVER_REQUESTS_RECEIVED,
        "The number of deliver requests that have been received."
    );
    describe_counter!(
        DELIVER_REQUESTS_COMPLETED,
        "The number of deliver requests that have been completed."
    );
    describe_counter!(
        DELIVER_BLOCKS_SENT,
        "The number of blocks sent by the deliver service."
    );
    describe_gauge!(LEDGER_BLOCKCHAIN_HEIGHT, "Height of the chain in blocks.");
    describe_histogram!(
        LEDGER_BLOCKSTORAGE_COMMIT_TIME,
        "Time taken in seconds for committing the block to storage."
    );
    describe_counter!(
        GRPC_STREAM_REQUESTS_RECEIVED,
        "The number of stream requests received."
    );
    describe_counter!(
        GRPC_STREAM_REQUESTS_COMPLETED,
        "The number of stream requests completed."
    );
    describe_histogram!(
        GRPC_STREAM_REQUEST_DURATION,
        "The time to complete a stream request."
    );
    describe_counter!(
        GRPC_STREAM_MESSAGES_RECEIVED,
        "The number of stream messages received."
    );
    describe_counter!(
        GRPC_STREAM_MESSAGES_SENT,
        "The number of stream messages sent."
    );
    describe_gauge!(FABRIC_VERSION, "The active version of the orderer.");
    describe_counter!(
        PROCESS_CPU_SECONDS,
        "Total user and system CPU time spent in seconds."
    );
    describe_gauge!(PROCESS_RESIDENT_MEMORY, "Resident memory size in bytes.");
    describe_gauge!(PROCESS_VIRTUAL_MEMORY, "Virtual memory size in bytes.");
    describe_gauge!(PROCESS_OPEN_FDS, "Number of open file descriptors.");
    describe_gauge!(PROCESS_THREADS, "Number of OS threads in the process.");
    describe_gauge!(
        PROCESS_START_TIME,
        "Start time of the process since unix epoch in seconds."
    );
    orderer_api::metrics::describe();
    for r in crate::consenters::REGISTRY {
        (r.describe_metrics)();
    }
}

/// Metric handles looked up once per label set. The metrics that move with every
/// envelope or block would otherwise allocate their labels and look themselves up
/// in the registry (hashing name and labels) each time: over a microsecond per
/// envelope. Handles stay valid: the recorder is installed once, before serving.
struct HandleCache<K, V>(LazyLock<RwLock<HashMap<K, V>>>);

impl<K: std::hash::Hash + Eq, V: Clone> HandleCache<K, V> {
    const fn new() -> Self {
        HandleCache(LazyLock::new(|| RwLock::new(HashMap::new())))
    }

    /// The handles under `key` (borrowed, as `&str` for a `String`), made by `make`
    /// the first time.
    fn get<Q>(&self, key: &Q, make: impl FnOnce() -> (K, V)) -> V
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        if let Some(v) = self.0.read().ok().and_then(|m| m.get(key).cloned()) {
            return v;
        }
        let (k, v) = make();
        if let Ok(mut m) = self.0.write() {
            m.insert(k, v.clone());
        }
        v
    }
}

/// A channel's Broadcast metrics for one envelope type and status.
#[derive(Clone)]
struct BroadcastHandles {
    validate: Histogram,
    /// Registered on the first enqueue only: a status never enqueued has no
    /// enqueue series, as in Fabric.
    enqueue: Arc<OnceLock<Histogram>>,
    processed: Counter,
    labels: Arc<[(&'static str, String); 3]>,
}

type BroadcastByKind = Arc<RwLock<HashMap<(&'static str, &'static str), BroadcastHandles>>>;
static BROADCAST: HandleCache<String, BroadcastByKind> = HandleCache::new();

/// One Broadcast envelope's outcome.
pub fn broadcast_processed(
    channel: &str,
    kind: &'static str,
    status: &'static str,
    validate: Duration,
    enqueue: Option<Duration>,
) {
    let by_kind = BROADCAST.get(channel, || (channel.to_owned(), BroadcastByKind::default()));
    let cached = by_kind
        .read()
        .ok()
        .and_then(|m| m.get(&(kind, status)).cloned());
    let h = cached.unwrap_or_else(|| {
        let labels = [
            ("channel", channel.to_owned()),
            ("type", kind.to_owned()),
            ("status", status.to_owned()),
        ];
        let h = BroadcastHandles {
            validate: histogram!(BROADCAST_VALIDATE_DURATION, &labels),
            enqueue: Arc::default(),
            processed: counter!(BROADCAST_PROCESSED_COUNT, &labels),
            labels: Arc::new(labels),
        };
        if let Ok(mut m) = by_kind.write() {
            m.insert((kind, status), h.clone());
        }
        h
    });
    h.validate.record(validate.as_secs_f64());
    if let Some(e) = enqueue {
        h.enqueue
            .get_or_init(|| histogram!(BROADCAST_ENQUEUE_DURATION, h.labels.as_slice()))
            .record(e.as_secs_f64());
    }
    h.processed.increment(1);
}

pub fn deliver_stream_opened() {
    counter!(DELIVER_STREAMS_OPENED).increment(1);
}

pub fn deliver_stream_closed() {
    counter!(DELIVER_STREAMS_CLOSED).increment(1);
}

fn deliver_labels(channel: &str) -> [(&'static str, String); 3] {
    [
        ("channel", channel.to_owned()),
        ("filtered", "false".to_owned()),
        ("data_type", "block".to_owned()),
    ]
}

pub fn deliver_request_received(channel: &str) {
    counter!(DELIVER_REQUESTS_RECEIVED, &deliver_labels(channel)).increment(1);
}

pub fn deliver_request_completed(channel: &str, success: bool) {
    let [a, b, c] = deliver_labels(channel);
    let labels = [a, b, c, ("success", success.to_string())];
    counter!(DELIVER_REQUESTS_COMPLETED, &labels).increment(1);
}

static BLOCKS_SENT: HandleCache<String, Counter> = HandleCache::new();

pub fn deliver_block_sent(channel: &str) {
    BLOCKS_SENT
        .get(channel, || {
            let c = counter!(DELIVER_BLOCKS_SENT, &deliver_labels(channel));
            (channel.to_owned(), c)
        })
        .increment(1);
}

pub fn ledger_height(channel: &str, height: u64) {
    gauge!(LEDGER_BLOCKCHAIN_HEIGHT, "channel" => channel.to_owned()).set(height as f64);
}

pub fn ledger_commit(channel: &str, took: Duration) {
    histogram!(LEDGER_BLOCKSTORAGE_COMMIT_TIME, "channel" => channel.to_owned())
        .record(took.as_secs_f64());
}

/// Fabric's gRPC labels: `orderer.AtomicBroadcast` becomes `orderer_AtomicBroadcast`.
pub const GRPC_SERVICE: &str = "orderer_AtomicBroadcast";

pub fn grpc_stream_received(method: &'static str) {
    counter!(GRPC_STREAM_REQUESTS_RECEIVED, "service" => GRPC_SERVICE, "method" => method)
        .increment(1);
}

pub fn grpc_stream_completed(method: &'static str, code: tonic::Code, took: Duration) {
    let code = grpc_code_name(code);
    counter!(GRPC_STREAM_REQUESTS_COMPLETED, "service" => GRPC_SERVICE, "method" => method, "code" => code).increment(1);
    histogram!(GRPC_STREAM_REQUEST_DURATION, "service" => GRPC_SERVICE, "method" => method, "code" => code)
        .record(took.as_secs_f64());
}

static MESSAGES_RECEIVED: HandleCache<&'static str, Counter> = HandleCache::new();
static MESSAGES_SENT: HandleCache<&'static str, Counter> = HandleCache::new();

pub fn grpc_message_received(method: &'static str) {
    MESSAGES_RECEIVED
        .get(method, || {
            let c = counter!(GRPC_STREAM_MESSAGES_RECEIVED, "service" => GRPC_SERVICE, "method" => method);
            (method, c)
        })
        .increment(1);
}

pub fn grpc_message_sent(method: &'static str) {
    MESSAGES_SENT
        .get(method, || {
            let c =
                counter!(GRPC_STREAM_MESSAGES_SENT, "service" => GRPC_SERVICE, "method" => method);
            (method, c)
        })
        .increment(1);
}

/// gRPC's canonical code names, as Go's `codes.Code.String()` (and so Fabric) spells them.
pub fn grpc_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "Canceled",
        C::Unknown => "Unknown",
        C::InvalidArgument => "InvalidArgument",
        C::DeadlineExceeded => "DeadlineExceeded",
        C::NotFound => "NotFound",
        C::AlreadyExists => "AlreadyExists",
        C::PermissionDenied => "PermissionDenied",
        C::ResourceExhausted => "ResourceExhausted",
        C::FailedPrecondition => "FailedPrecondition",
        C::Aborted => "Aborted",
        C::OutOfRange => "OutOfRange",
        C::Unimplemented => "Unimplemented",
        C::Internal => "Internal",
        C::Unavailable => "Unavailable",
        C::DataLoss => "DataLoss",
        C::Unauthenticated => "Unauthenticated",
    }
}

/// Refreshes the process metrics from `/proc/self` (Linux; elsewhere they stay unset).
pub fn update_process_metrics() {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let kb = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
        };
        if let Some(rss) = kb("VmRSS:") {
            gauge!(PROCESS_RESIDENT_MEMORY).set(rss * 1024.0);
        }
        if let Some(size) = kb("VmSize:") {
            gauge!(PROCESS_VIRTUAL_MEMORY).set(size * 1024.0);
        }
        if let Some(threads) = kb("Threads:") {
            gauge!(PROCESS_THREADS).set(threads);
        }
    }
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // The fields after the command name, which is in parentheses and may hold spaces.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
        // USER_HZ is 100 on every mainstream Linux build.
        const TICKS: f64 = 100.0;
        if let (Some(utime), Some(stime)) = (field(14), field(15)) {
            counter!(PROCESS_CPU_SECONDS).absolute(((utime + stime) / TICKS) as u64);
        }
        if let (Some(start), Some(boot)) = (field(22), boot_time()) {
            gauge!(PROCESS_START_TIME).set(boot + start / TICKS);
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        gauge!(PROCESS_OPEN_FDS).set(fds.count() as f64);
    }
}

fn boot_time() -> Option<f64> {
    std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_are_spelled_like_go() {
        assert_eq!(grpc_code_name(tonic::Code::Ok), "OK");
        assert_eq!(grpc_code_name(tonic::Code::Cancelled), "Canceled");
        assert_eq!(grpc_code_name(tonic::Code::Unavailable), "Unavailable");
    }
}
