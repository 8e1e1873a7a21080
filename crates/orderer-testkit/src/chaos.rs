//! The chaos run: three Kafka OSNs (real `orderer` processes) on one Apache Kafka node
//! (SQLite engine), SDK-like clients (`orderer-cli bench --resend`) broadcasting to
//! all three, while the broker is SIGKILLed and restarted, each OSN is SIGKILLed and
//! restarted in turn, and one OSN is cut off from the broker. At the end
//! `orderer-cli chain-check` compares the three chains and the acknowledged tx ids.
//!
//! Each OSN has its own `Kafka.ClientId`, so that the broker's forwarder can cut
//! exactly one of them off (see [`crate::Broker::cut_client`]).

use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Broker, free_port, metric};

/// The channel every OSN orders (the default one, generated from orderer.yaml).
const CHANNEL: &str = "mychannel";
/// How often the OSNs' heights are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// Bound on waiting for an OSN to (re)start its chain.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// What a chaos run does.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    pub orderer_bin: PathBuf,
    pub cli_bin: PathBuf,
    /// Envelopes in total, split among the clients.
    pub envelopes: u64,
    /// Client processes, each with `streams` Broadcast streams over the three OSNs.
    pub clients: usize,
    pub streams: usize,
    pub size: usize,
    /// How long one OSN is cut off from the broker.
    pub partition: Duration,
    /// Load between two faults.
    pub pause: Duration,
    /// How long the broker and each OSN stay down.
    pub down: Duration,
    /// Where the OSNs' ledgers and logs, the broker's data and the clients' files
    /// go (kept for inspection); a temporary directory when `None`.
    pub dir: Option<PathBuf>,
}

impl ChaosConfig {
    /// The long run of `bench/run chaos`: 20,000 envelopes, a 30 s partition.
    pub fn long(orderer_bin: PathBuf, cli_bin: PathBuf) -> ChaosConfig {
        ChaosConfig {
            orderer_bin,
            cli_bin,
            envelopes: 20_000,
            clients: 4,
            streams: 3,
            size: 1024,
            partition: Duration::from_secs(30),
            pause: Duration::from_secs(5),
            down: Duration::from_secs(2),
            dir: None,
        }
    }

    /// The short run of the test command: 3,000 envelopes, a 10 s partition.
    pub fn short(orderer_bin: PathBuf, cli_bin: PathBuf) -> ChaosConfig {
        ChaosConfig {
            envelopes: 3_000,
            clients: 3,
            size: 512,
            partition: Duration::from_secs(10),
            pause: Duration::from_secs(3),
            down: Duration::from_secs(1),
            ..ChaosConfig::long(orderer_bin, cli_bin)
        }
    }

    /// How long the faults take, for pacing the load over them (with margin for
    /// restarts and the first blocks).
    fn schedule(&self) -> Duration {
        self.pause * 6 + self.down * 4 + self.partition + Duration::from_secs(20)
    }
}

/// One fault and how long the chains took to grow again on every OSN after it.
#[derive(Debug, Clone)]
pub struct Fault {
    pub name: String,
    /// After the start of the load.
    pub ended_at: Duration,
    /// Until every OSN's height grew past what it had at the fault's end; `None` when
    /// some OSN's did not grow before the run ended.
    pub recovery: Option<Duration>,
}

/// What a chaos run found.
#[derive(Debug, Clone, Default)]
pub struct ChaosReport {
    /// Envelopes the clients were told to send: `--count` times the clients (the
    /// configured total, rounded up to a multiple of the clients).
    pub requested: u64,
    /// Envelopes the clients reported sending (first sends), from their JSON reports.
    pub envelopes: u64,
    /// From chain-check: distinct tx ids the clients wrote out as answered SUCCESS.
    pub acked: u64,
    /// From chain-check: distinct tx ids in the chains, ids present twice, acked ids
    /// missing, and whether the chains are identical.
    pub delivered: u64,
    pub duplicates: u64,
    pub lost: u64,
    pub identical: bool,
    /// Per OSN, `consensus_kafka_duplicates_dropped_total` at the end: records the
    /// duplicate window dropped since the OSN's last restart.
    pub dropped_by_window: Vec<Option<u64>>,
    /// chain-check's JSON (heights, first difference, examples).
    pub chain_check: Value,
    pub faults: Vec<Fault>,
    /// Lines of the OSNs' logs that say a thread panicked.
    pub panics: Vec<String>,
    /// Exits that were not what the signal sent should give.
    pub bad_exits: Vec<String>,
    /// Clients that did not get every envelope acknowledged, with their report.
    pub client_problems: Vec<String>,
    pub seconds: f64,
    pub dir: PathBuf,
}

impl ChaosReport {
    pub fn longest_recovery(&self) -> Option<Duration> {
        self.faults
            .iter()
            .map(|f| f.recovery)
            .try_fold(Duration::ZERO, |max, r| r.map(|r| max.max(r)))
    }

    /// Every envelope sent and acknowledged, nothing lost, nothing twice, identical
    /// chains, every fault recovered, no panic, every exit as expected.
    pub fn ok(&self) -> bool {
        self.envelopes == self.requested
            && self.acked == self.requested
            && self.identical
            && self.duplicates == 0
            && self.lost == 0
            && self.longest_recovery().is_some()
            && self.panics.is_empty()
            && self.bad_exits.is_empty()
            && self.client_problems.is_empty()
    }

    pub fn json(&self) -> Value {
        json!({
            "requested": self.requested,
            "envelopes": self.envelopes,
            "acked": self.acked,
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "identical": self.identical,
            "dropped_by_window": self.dropped_by_window,
            "longest_recovery_seconds": self.longest_recovery().map(|d| d.as_secs_f64()),
            "faults": self.faults.iter().map(|f| json!({
                "fault": f.name,
                "ended_at_seconds": f.ended_at.as_secs_f64(),
                "recovery_seconds": f.recovery.map(|d| d.as_secs_f64()),
            })).collect::<Vec<_>>(),
            "panics": self.panics,
            "bad_exits": self.bad_exits,
            "client_problems": self.client_problems,
            "chain_check": self.chain_check,
            "seconds": self.seconds,
            "dir": self.dir.display().to_string(),
            "ok": self.ok(),
        })
    }

    /// The report as a table, for people.
    pub fn table(&self) -> String {
        let secs = |d: Option<Duration>| {
            d.map_or_else(
                || "never".to_owned(),
                |d| format!("{:.1} s", d.as_secs_f64()),
            )
        };
        let mut out = String::new();
        let mut row = |k: &str, v: String| out.push_str(&format!("| {k:<32} | {v:>12} |\n"));
        row("requested", self.requested.to_string());
        row("envelopes", self.envelopes.to_string());
        row("acked", self.acked.to_string());
        row("delivered (distinct tx ids)", self.delivered.to_string());
        row("duplicates", self.duplicates.to_string());
        row("lost", self.lost.to_string());
        let dropped: Vec<String> = self
            .dropped_by_window
            .iter()
            .map(|d| d.map_or_else(|| "?".to_owned(), |d| d.to_string()))
            .collect();
        row("dropped by dedupe window", dropped.join(" / "));
        row(
            "chains identical",
            if self.identical { "yes" } else { "NO" }.into(),
        );
        row("longest recovery", secs(self.longest_recovery()));
        for f in &self.faults {
            row(&format!("  recovery after {}", f.name), secs(f.recovery));
        }
        row("panics in OSN logs", self.panics.len().to_string());
        row("unexpected exits", self.bad_exits.len().to_string());
        row("run time", format!("{:.0} s", self.seconds));
        let mut text = format!(
            "| {:<32} | {:>12} |\n|{}|{}|\n",
            "",
            "",
            "-".repeat(34),
            "-".repeat(14)
        );
        text.push_str(&out);
        for p in self
            .panics
            .iter()
            .chain(&self.bad_exits)
            .chain(&self.client_problems)
        {
            text.push_str(&format!("problem: {p}\n"));
        }
        text
    }
}

/// One OSN process on fixed ports (so that clients and the sampler find it again
/// after a restart).
struct Osn {
    name: String,
    client_id: String,
    port: u16,
    ops_port: u16,
    dir: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    orderer_bin: PathBuf,
}

impl Osn {
    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("orderer.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("{}: log file: {e}", self.name))?;
        let log2 = log.try_clone().map_err(|e| format!("{}: {e}", self.name))?;
        let mut cmd = Command::new(&self.orderer_bin);
        for (k, _) in std::env::vars() {
            if k.starts_with("ORDERER_") || k == "FABRIC_CFG_PATH" {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| {
                format!(
                    "{}: starting {}: {e}",
                    self.name,
                    self.orderer_bin.display()
                )
            })?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the log shows the chain started `times` times in all.
    fn wait_started(&mut self, times: usize) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        while self.log().matches("Kafka chain started").count() < times {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(format!(
                        "{} exited ({status}) before its chain started; log:\n{}",
                        self.name,
                        self.log()
                    ));
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{}'s chain did not start within {} s; log:\n{}",
                    self.name,
                    START_TIMEOUT.as_secs(),
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Sends `signal` and waits for the exit.
    fn stop(&mut self, signal: &str) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status();
        child.wait().ok()
    }
}

impl Drop for Osn {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `GET /metrics` on `addr`, or `None` when nothing answers.
fn scrape(addr: &str) -> Option<String> {
    crate::try_http(addr, "GET", "/metrics", None, Some(Duration::from_secs(2)))
        .ok()
        .map(|(_, body)| body)
}

/// Heights of every OSN over time: (time since start, height or None when down).
type Samples = Arc<Mutex<Vec<(Duration, Vec<Option<u64>>)>>>;

fn sample_heights(ops: Vec<String>, start: Instant, samples: Samples, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let heights = ops
            .iter()
            .map(|a| {
                let text = scrape(a)?;
                metric(&text, "ledger_blockchain_height", &[("channel", CHANNEL)]).map(|h| h as u64)
            })
            .collect();
        samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((start.elapsed(), heights));
        std::thread::sleep(SAMPLE_EVERY);
    }
}

/// Time from `end` until every OSN reported a height above the last one it
/// reported at or before `end`.
fn recovery(
    samples: &[(Duration, Vec<Option<u64>>)],
    end: Duration,
    osns: usize,
) -> Option<Duration> {
    let mut worst = Duration::ZERO;
    for i in 0..osns {
        let before = samples
            .iter()
            .rev()
            .filter(|(t, _)| *t <= end)
            .find_map(|(_, h)| h[i])
            .unwrap_or(0);
        let grown = samples
            .iter()
            .filter(|(t, _)| *t > end)
            .find(|(_, h)| h[i].is_some_and(|h| h > before))?;
        worst = worst.max(grown.0 - end);
    }
    Some(worst)
}

/// The `ORDERER_*` settings of a Kafka OSN on `broker`.
fn osn_env(broker: &Broker, osn: &Osn) -> Vec<(String, String)> {
    [
        ("ORDERER_GENERAL_LISTENPORT", osn.port.to_string()),
        (
            "ORDERER_OPERATIONS_LISTENADDRESS",
            format!("127.0.0.1:{}", osn.ops_port),
        ),
        (
            "ORDERER_FILELEDGER_LOCATION",
            osn.dir.join("ledger").display().to_string(),
        ),
        ("ORDERER_ORDERER_ORDERERTYPE", "kafka".into()),
        (
            "ORDERER_ORDERER_KAFKA_BROKERS",
            format!("[{}]", broker.bootstrap()),
        ),
        ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "1".into()),
        ("ORDERER_KAFKA_CLIENTID", osn.client_id.clone()),
        ("ORDERER_KAFKA_RETRY_SHORTINTERVAL", "300ms".into()),
        (
            "ORDERER_KAFKA_RETRY_NETWORKTIMEOUTS_READTIMEOUT",
            "2s".into(),
        ),
        ("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "100".into()),
        ("ORDERER_ORDERER_BATCHTIMEOUT", "500ms".into()),
        // The same block 0 on every OSN.
        (
            "ORDERER_ORDERER_ADDRESSES",
            "[osn0.example.com:7050,osn1.example.com:7050,osn2.example.com:7050]".into(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Runs the chaos run and reports; `Err` when the setup itself fails (a process does
/// not start), `Ok` with the findings otherwise. `progress` gets a line per step.
///
/// The phases: start the broker and the OSNs, start the clients, inject the faults
/// under load (sampling the heights), wait for the clients, check the chains, stop
/// the OSNs and read what they left.
pub fn run(config: &ChaosConfig, progress: &mut dyn FnMut(&str)) -> Result<ChaosReport, String> {
    // Kept until the end: dropping it removes the run's files.
    let (_temp, dir) = run_dir(config)?;
    let started = Instant::now();
    let mut broker = Broker::start();
    let mut osns = start_osns(config, &broker, &dir)?;
    progress(&format!(
        "three OSNs on the broker at {}: {}",
        broker.bootstrap(),
        osns.iter().map(Osn::addr).collect::<Vec<_>>().join(", ")
    ));

    let clients = start_clients(config, &osns, &dir)?;
    progress(&format!(
        "{} clients, {} envelopes of {} bytes at {:.0}/s in total",
        config.clients, config.envelopes, config.size, clients.rate
    ));

    let load_start = Instant::now();
    let sampler = Sampler::start(&osns, load_start);
    let mut bad_exits = Vec::new();
    let faults = inject_faults(
        config,
        &mut broker,
        &mut osns,
        load_start,
        &mut bad_exits,
        progress,
    )?;

    let outcome = wait_for_clients(clients.running)?;
    progress("clients done");
    // A little more load after the clients so that the last fault's recovery shows
    // even if the clients ended with it.
    std::thread::sleep(Duration::from_secs(2));
    let samples = sampler.finish();

    let chain_check = run_chain_check(config, &osns, &outcome.acked_files, &dir)?;
    let dropped_by_window = dropped_by_window(&osns);
    for o in &mut osns {
        match o.stop("TERM") {
            Some(s) if s.success() => {}
            other => bad_exits.push(format!("{} after SIGTERM: {other:?}", o.name)),
        }
    }
    let panics = panics(&osns);
    let faults = faults
        .into_iter()
        .map(|(name, ended_at)| Fault {
            recovery: recovery(&samples, ended_at, osns.len()),
            name,
            ended_at,
        })
        .collect();
    drop(broker);
    let counts = ChainCheckCounts::parse(&chain_check).map_err(|e| {
        let kept = match &config.dir {
            Some(d) => d.clone(),
            None => keep_evidence(&dir),
        };
        format!("{e} (the run's files are in {})", kept.display())
    })?;
    let report = ChaosReport {
        requested: clients.per_client * config.clients as u64,
        envelopes: outcome.envelopes,
        acked: counts.acked,
        delivered: counts.delivered,
        duplicates: counts.duplicates,
        lost: counts.lost,
        identical: counts.identical,
        dropped_by_window,
        chain_check,
        faults,
        panics,
        bad_exits,
        client_problems: outcome.client_problems,
        seconds: started.elapsed().as_secs_f64(),
        dir: dir.clone(),
    };
    if config.dir.is_none() && !report.ok() {
        return Ok(ChaosReport {
            dir: keep_evidence(&dir),
            ..report
        });
    }
    Ok(report)
}

/// The run's directory: the configured one (created if needed), else a temporary
/// one, returned too so that it lives as long as the run.
fn run_dir(config: &ChaosConfig) -> Result<(Option<tempfile::TempDir>, PathBuf), String> {
    match &config.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
            Ok((None, d.clone()))
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("chaos")
                .tempdir()
                .map_err(|e| format!("temp dir: {e}"))?;
            let dir = temp.path().to_path_buf();
            Ok((Some(temp), dir))
        }
    }
}

/// Starts the three OSNs on `broker` and waits until each has started its chain.
fn start_osns(config: &ChaosConfig, broker: &Broker, dir: &Path) -> Result<Vec<Osn>, String> {
    let mut osns: Vec<Osn> = (0..3)
        .map(|i| Osn {
            name: format!("osn{i}"),
            client_id: format!("osn{i}"),
            port: free_port(),
            ops_port: free_port(),
            dir: dir.join(format!("osn{i}")),
            env: Vec::new(),
            child: None,
            orderer_bin: config.orderer_bin.clone(),
        })
        .collect();
    for o in &mut osns {
        std::fs::create_dir_all(&o.dir).map_err(|e| format!("{}: {e}", o.dir.display()))?;
        o.env = osn_env(broker, o);
        o.spawn()?;
    }
    for o in &mut osns {
        o.wait_started(1)?;
    }
    Ok(osns)
}

/// The client processes and the load they were given.
struct Clients {
    /// Each client's process, its acked-ids file and its output file.
    running: Vec<(Child, PathBuf, PathBuf)>,
    /// Envelopes each client sends.
    per_client: u64,
    /// Envelopes per second, all clients together.
    rate: f64,
}

/// Starts the clients: each sends its share paced over the fault schedule, to every
/// OSN.
fn start_clients(config: &ChaosConfig, osns: &[Osn], dir: &Path) -> Result<Clients, String> {
    let per_client = config.envelopes.div_ceil(config.clients as u64);
    let rate = config.envelopes as f64 / config.schedule().as_secs_f64();
    let deadline = config.schedule() + Duration::from_secs(180);
    let mut running = Vec::new();
    for k in 0..config.clients {
        let acked = dir.join(format!("acked-{k}.txt"));
        let out = dir.join(format!("client-{k}.out"));
        let out_file = File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        let err_file = out_file.try_clone().map_err(|e| format!("{e}"))?;
        let mut cmd = Command::new(&config.cli_bin);
        cmd.arg("bench");
        // Each client starts its streams at a different OSN.
        for i in 0..osns.len() {
            cmd.args(["--server", &osns[(k + i) % osns.len()].addr()]);
        }
        cmd.args(["--channel", CHANNEL, "--resend", "--json"])
            .args(["--count", &per_client.to_string()])
            .args(["--size", &config.size.to_string()])
            .args(["--streams", &config.streams.to_string()])
            .args(["--window", "64"])
            .args(["--rate", &format!("{:.1}", rate / config.clients as f64)])
            .args(["--timeout", "10", "--backoff-ms", "500"])
            .args(["--deadline", &deadline.as_secs().to_string()])
            .arg("--acked-out")
            .arg(&acked)
            .stdin(Stdio::null())
            .stdout(out_file)
            .stderr(err_file);
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", config.cli_bin.display()))?;
        running.push((child, acked, out));
    }
    Ok(Clients {
        running,
        per_client,
        rate,
    })
}

/// The thread sampling the OSNs' heights while the load runs.
struct Sampler {
    samples: Samples,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Sampler {
    /// Samples `osns` from now on, timed from `load_start`.
    fn start(osns: &[Osn], load_start: Instant) -> Sampler {
        let samples: Samples = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let ops = osns
            .iter()
            .map(|o| format!("127.0.0.1:{}", o.ops_port))
            .collect();
        let thread = {
            let (samples, stop) = (Arc::clone(&samples), Arc::clone(&stop));
            std::thread::spawn(move || sample_heights(ops, load_start, samples, stop))
        };
        Sampler {
            samples,
            stop,
            thread,
        }
    }

    /// Stops sampling and returns the samples.
    fn finish(self) -> Vec<(Duration, Vec<Option<u64>>)> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The faults, one after another with load between them: the broker SIGKILLed, each
/// OSN SIGKILLed in turn, the last OSN cut off the broker. Returns each fault's name
/// and when it ended (since `load_start`); unexpected exits go to `bad_exits`.
fn inject_faults(
    config: &ChaosConfig,
    broker: &mut Broker,
    osns: &mut [Osn],
    load_start: Instant,
    bad_exits: &mut Vec<String>,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<(String, Duration)>, String> {
    let mut faults: Vec<(String, Duration)> = Vec::new();

    std::thread::sleep(config.pause + Duration::from_secs(2));
    progress("SIGKILL the broker");
    broker.kill();
    std::thread::sleep(config.down);
    broker.spawn();
    faults.push(("broker SIGKILL".into(), load_start.elapsed()));
    progress("broker restarted");

    for o in osns.iter_mut() {
        std::thread::sleep(config.pause);
        progress(&format!("SIGKILL {}", o.name));
        match o.stop("KILL") {
            Some(s) if s.signal() == Some(9) => {}
            other => bad_exits.push(format!(
                "{} was not running until its SIGKILL: {other:?}",
                o.name
            )),
        }
        std::thread::sleep(config.down);
        o.spawn()?;
        o.wait_started(2)?;
        faults.push((format!("{} SIGKILL", o.name), load_start.elapsed()));
        progress(&format!("{} restarted", o.name));
    }

    std::thread::sleep(config.pause);
    let cut = &osns[2];
    progress(&format!(
        "cut {} off the broker for {} s",
        cut.name,
        config.partition.as_secs()
    ));
    broker.cut_client(&cut.client_id);
    std::thread::sleep(config.partition);
    broker.heal_client(&cut.client_id);
    faults.push((format!("{} partition", cut.name), load_start.elapsed()));
    progress("partition healed");
    Ok(faults)
}

/// What the clients reported.
struct ClientsOutcome {
    /// First sends, summed over the clients' JSON reports.
    envelopes: u64,
    acked_files: Vec<PathBuf>,
    client_problems: Vec<String>,
}

/// Waits for the clients: they end when every envelope is acknowledged (or at their
/// deadline).
fn wait_for_clients(clients: Vec<(Child, PathBuf, PathBuf)>) -> Result<ClientsOutcome, String> {
    let mut envelopes = 0;
    let mut acked_files = Vec::new();
    let mut client_problems = Vec::new();
    for (k, (mut child, acked, out)) in clients.into_iter().enumerate() {
        let status = child.wait().map_err(|e| format!("client {k}: {e}"))?;
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let report: Value = text
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or(Value::Null);
        // A client without a count in its report is a problem named as such, not 0
        // envelopes: the count is what the acknowledgements are checked against.
        match report["count"].as_u64() {
            Some(n) => envelopes += n,
            None => client_problems.push(format!(
                "client {k} ({status}): no `count` in its JSON report: {}",
                text.trim()
            )),
        }
        if !status.success() || report["complete"] != Value::Bool(true) {
            client_problems.push(format!("client {k} ({status}): {}", text.trim()));
        }
        acked_files.push(acked);
    }
    Ok(ClientsOutcome {
        envelopes,
        acked_files,
        client_problems,
    })
}

/// Runs `orderer-cli chain-check` over the OSNs and the clients' acked ids, keeps its
/// output in `dir`, and returns its JSON.
fn run_chain_check(
    config: &ChaosConfig,
    osns: &[Osn],
    acked_files: &[PathBuf],
    dir: &Path,
) -> Result<Value, String> {
    let mut check = Command::new(&config.cli_bin);
    check.args([
        "chain-check",
        "--channel",
        CHANNEL,
        "--json",
        "--wait",
        "120",
    ]);
    for o in osns {
        check.args(["--server", &o.addr()]);
    }
    for a in acked_files {
        check.arg("--acked").arg(a);
    }
    let out = check
        .output()
        .map_err(|e| format!("running chain-check: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    std::fs::write(dir.join("chain-check.out"), &text).map_err(|e| format!("{e}"))?;
    text.lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| {
            format!(
                "chain-check printed no JSON: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// Per OSN, `consensus_kafka_duplicates_dropped_total` now (`None` when it does not
/// answer).
fn dropped_by_window(osns: &[Osn]) -> Vec<Option<u64>> {
    osns.iter()
        .map(|o| {
            let text = scrape(&format!("127.0.0.1:{}", o.ops_port))?;
            metric(
                &text,
                "consensus_kafka_duplicates_dropped_total",
                &[("channel", CHANNEL)],
            )
            .map(|d| d as u64)
        })
        .collect()
}

/// The lines of the OSNs' logs that say a thread panicked, each prefixed with the
/// OSN's name.
fn panics(osns: &[Osn]) -> Vec<String> {
    osns.iter()
        .flat_map(|o| {
            o.log()
                .lines()
                .filter(|l| l.contains("panicked"))
                .map(|l| format!("{}: {l}", o.name))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Copies a failed run's temporary directory where it outlives the run.
fn keep_evidence(dir: &Path) -> PathBuf {
    let kept = std::env::temp_dir().join(format!("chaos-{}", std::process::id()));
    let _ = copy_dir(dir, &kept);
    kept
}

/// The fields of `orderer-cli chain-check --json` that the verdict rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChainCheckCounts {
    acked: u64,
    delivered: u64,
    duplicates: u64,
    lost: u64,
    identical: bool,
}

impl ChainCheckCounts {
    /// Reads every field strictly: a field that is missing or of another type (`lost`
    /// is null when chain-check was given no acknowledged ids) is an error naming it,
    /// never a 0 or a `false` that could pass or fail the run for the wrong reason.
    fn parse(report: &Value) -> Result<ChainCheckCounts, String> {
        let field = |name: &str| {
            report
                .get(name)
                .ok_or_else(|| format!("chain-check's report has no `{name}` field: {report}"))
        };
        let count = |name: &str| {
            field(name)?.as_u64().ok_or_else(|| {
                format!(
                    "chain-check's report: `{name}` is {}, not a count: {report}",
                    report[name]
                )
            })
        };
        let identical = field("identical")?.as_bool().ok_or_else(|| {
            format!(
                "chain-check's report: `identical` is {}, not true or false: {report}",
                report["identical"]
            )
        })?;
        Ok(ChainCheckCounts {
            acked: count("acked")?,
            delivered: count("delivered")?,
            duplicates: count("duplicates")?,
            lost: count("lost")?,
            identical,
        })
    }
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: u64, h: &[Option<u64>]) -> (Duration, Vec<Option<u64>>) {
        (Duration::from_millis(t), h.to_vec())
    }

    #[test]
    fn recovery_waits_for_every_osn_to_grow_past_its_height_at_the_fault_end() {
        let samples = vec![
            s(0, &[Some(5), Some(5)]),
            s(1000, &[Some(6), None]),
            s(2000, &[Some(7), Some(5)]),
            s(3500, &[Some(7), Some(6)]),
        ];
        assert_eq!(
            recovery(&samples, Duration::from_millis(1000), 2),
            Some(Duration::from_millis(2500))
        );
        // An OSN that never grows again: no recovery.
        assert_eq!(recovery(&samples, Duration::from_millis(3000), 2), None);
    }

    #[test]
    fn the_chain_check_report_is_read_strictly() {
        let good = json!({
            "acked": 3000, "delivered": 3001, "duplicates": 0, "lost": 0,
            "identical": true, "heights": [],
        });
        assert_eq!(
            ChainCheckCounts::parse(&good),
            Ok(ChainCheckCounts {
                acked: 3000,
                delivered: 3001,
                duplicates: 0,
                lost: 0,
                identical: true,
            })
        );
        for name in ["acked", "delivered", "duplicates", "lost", "identical"] {
            let mut missing = good.clone();
            missing.as_object_mut().unwrap().remove(name);
            let err = ChainCheckCounts::parse(&missing).unwrap_err();
            assert!(err.contains(&format!("no `{name}` field")), "{err}");
            // chain-check writes `lost: null` when it had no acknowledged ids.
            let mut wrong = good.clone();
            wrong[name] = Value::Null;
            let err = ChainCheckCounts::parse(&wrong).unwrap_err();
            assert!(err.contains(&format!("`{name}` is null")), "{err}");
        }
        let mut text = good.clone();
        text["acked"] = json!("3000");
        let err = ChainCheckCounts::parse(&text).unwrap_err();
        assert!(err.contains("`acked` is \"3000\", not a count"), "{err}");
    }
}
