//! Starting the real `orderer` binary on free ports with a temporary ledger, and
//! running the real `orderer-cli`.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

pub mod fabric;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Bound on waiting for a process event; only a broken build hits it.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(120);

/// The `orderer` binary next to this package's `orderer-cli` (both are built by
/// `cargo build --workspace` and by `cargo test --workspace`).
pub fn orderer_bin() -> PathBuf {
    let cli = PathBuf::from(env!("CARGO_BIN_EXE_orderer-cli"));
    let bin = cli.with_file_name("orderer");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build --workspace` (the README's test command does)",
        bin.display()
    );
    // `cargo test -p orderer-cli` does not rebuild another package's binary: refuse
    // to test an `orderer` older than its sources.
    let built = std::fs::metadata(&bin).and_then(|m| m.modified()).unwrap();
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut inputs = vec![crates.join("../proto")];
    for krate in [
        "orderer-api",
        "orderer-solo",
        "orderer-kafka",
        "orderer-node",
    ] {
        inputs.push(crates.join(krate).join("src"));
        inputs.push(crates.join(krate).join("build.rs"));
    }
    for input in inputs {
        if let Some(newer) = newer_than(&input, built) {
            panic!(
                "{} is older than {}: rebuild it with `cargo build --workspace`",
                bin.display(),
                newer.display()
            );
        }
    }
    bin
}

/// `path`, or a file under it, modified after `time`, if any.
fn newer_than(path: &Path, time: std::time::SystemTime) -> Option<PathBuf> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if path.is_file() {
        return modified(path)
            .filter(|m| *m > time)
            .map(|_| path.to_path_buf());
    }
    for entry in std::fs::read_dir(path).ok()?.flatten() {
        let p = entry.path();
        let newer = if p.is_dir() {
            newer_than(&p, time)
        } else {
            modified(&p).filter(|m| *m > time).map(|_| p.clone())
        };
        if newer.is_some() {
            return newer;
        }
    }
    None
}

pub fn cli_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_orderer-cli"))
}

pub use orderer_testkit::free_port;

/// A running `orderer` process.
pub struct Orderer {
    child: Option<Child>,
    pub port: u16,
    pub ops_port: u16,
    pub dir: PathBuf,
    pub log: PathBuf,
    env: Vec<(String, String)>,
    /// The tests' own defaults (ledger in `dir`, a short batch timeout) under `env`.
    test_defaults: bool,
}

/// The port of `key=host:port` in a log line.
fn logged_port(line: &str, key: &str) -> u16 {
    line.split_whitespace()
        .find_map(|field| field.strip_prefix(key))
        .and_then(|addr| addr.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("no {key}host:port in {line:?}"))
}

impl Orderer {
    /// Starts an orderer with its ledger in `dir` and the given `ORDERER_*` overrides,
    /// and waits until it serves.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Orderer {
        Orderer::launch(dir, env, true)
    }

    /// Starts an orderer configured by `env` alone (plus a free gRPC port, since
    /// tests share the machine): no test defaults for the ledger or batch timeout, so
    /// that a deployment's own settings are what runs.
    pub fn start_as_configured(dir: &Path, env: &[(&str, &str)]) -> Orderer {
        Orderer::launch(dir, env, false)
    }

    fn launch(dir: &Path, env: &[(&str, &str)], test_defaults: bool) -> Orderer {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut o = Orderer {
            child: None,
            // The operations port is left to the orderer (0, read from its log); the
            // gRPC port names the node in traces, so it is chosen here (see spawn).
            port: free_port(),
            ops_port: 0,
            dir: dir.to_path_buf(),
            log: dir.join("orderer.log"),
            env,
            test_defaults,
        };
        // Another process may take the probed port before the orderer binds it: then
        // try another one.
        for _ in 0..5 {
            match o.try_spawn() {
                Ok(()) => return o,
                Err(log) if log.contains("Address already in use") => {
                    let _ = std::fs::remove_file(&o.log);
                    o.port = free_port();
                }
                Err(log) => panic!("orderer did not start; log:\n{log}"),
            }
        }
        panic!(
            "orderer did not start: every probed port was taken; log:\n{}",
            o.log_text()
        )
    }

    /// Starts the process again, on the same ports, ledger and settings.
    pub fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "stop the orderer before restarting it"
        );
        self.spawn();
    }

    fn spawn(&mut self) {
        if let Err(log) = self.try_spawn() {
            panic!("orderer did not start; log:\n{log}");
        }
    }

    /// Starts the process and waits until it serves; the log if it does not.
    fn try_spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(orderer_bin());
        for (k, _) in std::env::vars() {
            if k.starts_with("ORDERER_") || k == "FABRIC_CFG_PATH" {
                cmd.env_remove(k);
            }
        }
        cmd.env("ORDERER_GENERAL_LISTENPORT", self.port.to_string())
            .env(
                "ORDERER_OPERATIONS_LISTENADDRESS",
                format!("127.0.0.1:{}", self.ops_port),
            );
        if self.test_defaults {
            cmd.env("ORDERER_FILELEDGER_LOCATION", self.dir.join("ledger"))
                .env("ORDERER_ORDERER_BATCHTIMEOUT", "200ms");
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        let log_path = self.log.clone();
        std::thread::spawn(move || {
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path)
                .unwrap();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "{line}");
                if line.contains("orderer serving AtomicBroadcast") {
                    let _ = ready_tx.send(line);
                }
            }
        });
        let Ok(ready) = ready_rx.recv_timeout(EVENT_TIMEOUT) else {
            let _ = child.kill();
            let status = child.wait().ok();
            return Err(format!("exit {status:?}\n{}", self.log_text()));
        };
        self.port = logged_port(&ready, "address=");
        self.ops_port = logged_port(&ready, "operations=");
        self.child = Some(child);
        Ok(())
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The operations server's address.
    pub fn ops(&self) -> String {
        format!("127.0.0.1:{}", self.ops_port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `needle` at least `times` times (counting every
    /// run of this orderer in the same directory).
    pub fn wait_for_log(&self, needle: &str, times: usize) {
        let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
        while self.log_text().matches(needle).count() < times {
            assert!(
                std::time::Instant::now() < deadline,
                "orderer log never showed {needle:?} {times} times:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then wait for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        child.wait().unwrap()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// The running process's id.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .expect("the orderer is running")
    }

    /// Runs `orderer-cli` against this orderer: `args` then `--server`.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        let addr = self.addr();
        all.extend(["--server", &addr]);
        cli(&all)
    }
}

impl Drop for Orderer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            eprintln!(
                "--- last lines of the log of the orderer on port {} ---\n{}",
                self.port,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // A panic inside the orderer is a bug whatever the test checked: a task may
        // have died while every answer the test looked at was right.
        let log = self.log_text();
        if !std::thread::panicking()
            && let Some(at) = log.find("panicked at")
        {
            let from = log[..at].rfind('\n').map_or(0, |i| i + 1);
            let excerpt: String = log[from..].lines().take(20).collect::<Vec<_>>().join("\n");
            panic!(
                "the orderer on port {} panicked (log {}):\n{excerpt}",
                self.port,
                self.log.display()
            );
        }
    }
}

/// Runs `orderer-cli` with `args`.
pub fn cli(args: &[&str]) -> Output {
    Command::new(cli_bin()).args(args).output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "orderer-cli failed ({}):\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// The number of envelopes a `block N: K envelopes, hash H` line of `orderer-cli
/// deliver` names.
pub fn envelopes_in(block_line: &str) -> usize {
    block_line
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no envelope count in {block_line:?}"))
}

/// Polls `check` until it gives a value; after EVENT_TIMEOUT fails with `what` and the
/// last state `check` described.
pub fn wait_for<T>(what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        match check() {
            Ok(value) => return value,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(last) => panic!("gave up waiting for {what}; last: {last}"),
        }
    }
}

/// The check of a wait for a chain of exactly `want` envelopes, the chain holding
/// `held` (of `blocks`): `Err` saying what is awaited while it holds fewer, `Ok` at
/// exactly `want`. More panics at once: envelopes never leave a chain, so waiting
/// longer cannot help, and an envelope more than the test sent is a bug (ordered
/// twice, or one the orderer should have refused).
pub fn exactly_envelopes(held: usize, want: usize, blocks: &[String]) -> Result<(), String> {
    match held.cmp(&want) {
        std::cmp::Ordering::Less => Err(format!(
            "{held} of {want} envelopes in {} blocks",
            blocks.len()
        )),
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => {
            panic!("{held} envelopes where {want} were expected: {blocks:#?}")
        }
    }
}

/// Waits until every OSN delivers the same blocks (same header hashes), read with
/// `orderer-cli deliver ARGS` (a channel, an identity...), and `done` accepts those
/// block lines (or says what it still waits for); returns them. An OSN still catching
/// up may answer SERVICE_UNAVAILABLE or NOT_FOUND meanwhile.
pub fn wait_for_identical_chains(
    osns: &[&Orderer],
    args: &[&str],
    done: impl FnMut(&[String]) -> Result<(), String>,
) -> Vec<String> {
    let addrs: Vec<String> = osns.iter().map(|o| o.addr()).collect();
    wait_for_identical_chains_at(&addrs, args, done)
}

/// [`wait_for_identical_chains`] for OSNs at these addresses (any orderer: Fabric's
/// too).
pub fn wait_for_identical_chains_at(
    addrs: &[String],
    args: &[&str],
    mut done: impl FnMut(&[String]) -> Result<(), String>,
) -> Vec<String> {
    let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
    let mut deliver = vec!["deliver", "--stop", "newest"];
    deliver.extend(args);
    loop {
        let outputs: Vec<_> = addrs
            .iter()
            .map(|addr| {
                let mut all = deliver.clone();
                all.extend(["--server", addr]);
                cli(&all)
            })
            .collect();
        let last = if outputs.iter().all(|o| o.status.success()) {
            let chains: Vec<Vec<String>> =
                outputs.iter().map(|o| block_lines(&stdout(o))).collect();
            match chains.iter().position(|c| *c != chains[0]) {
                None => match done(&chains[0]) {
                    Ok(()) => return chains[0].clone(),
                    Err(waiting) => waiting,
                },
                Some(i) => {
                    let at = (0..).find(|n| chains[0].get(*n) != chains[i].get(*n));
                    let at = at.unwrap_or_default();
                    format!(
                        "heights {:?}; at block {at} the OSN at {} has {:?}, the one at {} {:?}",
                        chains.iter().map(Vec::len).collect::<Vec<_>>(),
                        addrs[0],
                        chains[0].get(at),
                        addrs[i],
                        chains[i].get(at),
                    )
                }
            }
        } else {
            let said = |o: &Output| format!("{}{}", stdout(o), stderr(o));
            outputs.iter().map(said).collect::<Vec<_>>().join(" | ")
        };
        assert!(
            std::time::Instant::now() < deadline,
            "chains did not converge: {last}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The `block N: ...` lines of `orderer-cli deliver` output.
pub fn block_lines(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with("block "))
        .map(str::to_owned)
        .collect()
}
