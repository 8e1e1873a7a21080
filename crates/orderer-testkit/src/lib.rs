//! Test support shared by the crates' integration tests.
//!
//! [`Broker`] runs a real Kafka-protocol broker, [tansu](https://crates.io/crates/tansu),
//! as a child process on a free loopback port. `./scripts/test` installs tansu when
//! it is missing; `TANSU_BIN` may point at another build.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod chaos;
pub mod fabric;
mod forwarder;
mod tls_front;
use forwarder::Forwarder;
pub use tls_front::TlsFront;

/// How long a broker may take to accept connections before a test fails.
pub const BROKER_START_TIMEOUT: Duration = Duration::from_secs(60);

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Waits until something accepts TCP connections at `addr`, or the timeout passes.
pub fn wait_for_port(addr: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The tansu binary: `$TANSU_BIN`, else `tansu` on the PATH or in `~/.cargo/bin`.
pub fn tansu_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TANSU_BIN") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("tansu"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    on_path
        .into_iter()
        .chain(cargo_home.map(|h| h.join("bin").join("tansu")))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the tansu broker is not installed: run ./scripts/test (it installs it), or \
                 cargo install tansu --version 0.6.0 --locked --features dynostore,libsql"
            )
        })
}

/// Where a [`Broker`] keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// In memory: gone when the broker stops. Beware: tansu 0.6's memory engine
    /// returns wrong records for a fetch starting inside a record batch (a consumer
    /// resuming mid-batch); use it only where nothing resumes.
    Memory,
    /// A SQLite file in the broker's directory: survives a restart.
    Sqlite,
}

/// A tansu broker process behind a stable loopback address. Killed when dropped.
///
/// Clients use [`Broker::bootstrap`], served by a TCP forwarder in this process, which
/// is also the broker's advertised listener, so that every Kafka connection passes
/// through it and [`Broker::cut_client`] can partition one client. Each run of tansu binds a fresh port
/// behind it: tansu cannot rebind its old port while that port's closed connections
/// sit in TIME_WAIT, so a restart on the same port would fail.
#[derive(Debug)]
pub struct Broker {
    child: Option<Child>,
    storage: Storage,
    /// A TLS front, when clients must speak TLS: it is the advertised listener.
    tls: Option<tls_front::Front>,
    dir: tempfile::TempDir,
    forwarder: Forwarder,
}

impl Broker {
    /// Starts a broker and waits until it accepts connections.
    pub fn start(storage: Storage) -> Broker {
        let mut b = Broker::reserved(storage);
        b.spawn();
        b
    }

    /// A broker address with no broker behind it yet: connections are refused until
    /// [`Broker::spawn`].
    pub fn reserved(storage: Storage) -> Broker {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        Broker {
            child: None,
            storage,
            tls: None,
            dir,
            forwarder: Forwarder::start(),
        }
    }

    /// A broker that clients reach over TLS only (terminated in this process and
    /// piped to tansu in plaintext); with `client_ca_pem`, mutual TLS.
    pub fn start_tls(storage: Storage, tls: &TlsFront) -> Broker {
        let mut b = Broker::reserved(storage);
        b.tls = Some(tls_front::Front::start(tls, b.forwarder.port));
        b.spawn();
        b
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        let port = self.tls.as_ref().map_or(self.forwarder.port, |t| t.port);
        format!("127.0.0.1:{port}")
    }

    /// Starts the broker process (again), with the same storage, behind the same address.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "the broker is already running");
        let backend = free_port();
        let listen = format!("tcp://127.0.0.1:{backend}");
        let advertised = format!("tcp://{}", self.bootstrap());
        let engine = match self.storage {
            Storage::Memory => "memory://tansu/",
            // tansu reads the path relative to its working directory: its temp dir.
            Storage::Sqlite => "sqlite://tansu.db",
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("tansu.log"))
            .unwrap_or_else(|e| panic!("tansu log file: {e}"));
        let log2 = log
            .try_clone()
            .unwrap_or_else(|e| panic!("tansu log file: {e}"));
        let child = Command::new(tansu_bin())
            .args([
                "broker",
                "--listener-url",
                &listen,
                "--advertised-listener-url",
                &advertised,
            ])
            .args(["--storage-engine", engine])
            // The broker must not export traces to whatever the test environment sets.
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env("RUST_LOG", "warn")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("starting tansu: {e}"));
        self.child = Some(child);
        let backend_addr = format!("127.0.0.1:{backend}");
        if !wait_for_port(&backend_addr, BROKER_START_TIMEOUT) {
            panic!(
                "tansu did not listen on {backend_addr} in time:\n{}",
                self.log()
            );
        }
        self.forwarder.set_backend(Some(backend));
    }

    /// Kills the broker (SIGKILL) and cuts every connection to it.
    pub fn kill(&mut self) {
        self.forwarder.set_backend(None);
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Cuts the Kafka client `client_id` (librdkafka's `client.id`, `Kafka.ClientId`
    /// of an OSN) off the broker: its connections, open and new, are held open in
    /// both directions with nothing passing, as in a network partition.
    pub fn cut_client(&self, client_id: &str) {
        self.forwarder.cut(client_id);
    }

    /// Ends [`Broker::cut_client`]: what was held passes, new connections pass.
    pub fn heal_client(&self, client_id: &str) {
        self.forwarder.heal(client_id);
    }

    /// The broker's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tansu.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
        self.forwarder.stop();
    }
}

/// A minimal HTTP/1.1 exchange (`Connection: close`): returns the status code and body.
/// Panics when the exchange fails.
pub fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    try_http(addr, method, path, body, None)
        .unwrap_or_else(|e| panic!("HTTP {method} {path} on {addr}: {e}"))
}

/// [`http`] that reports a failure instead of panicking, waiting at most `timeout`
/// (if given) for each read.
pub fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout: Option<Duration>,
) -> std::io::Result<(u16, String)> {
    use std::io::{Error, Read, Write};
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(timeout)?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::other(format!("no HTTP status in {head:?}")))?;
    Ok((status, body.to_owned()))
}

/// The value of the sample `name{labels}` in Prometheus text, matching every given
/// label and no other.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut want: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    want.sort();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (n, mut got) = match series.split_once('{') {
                Some((n, rest)) => {
                    let inner = rest.strip_suffix('}')?;
                    let pairs: Vec<(String, String)> = inner
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .filter_map(|p| {
                            let (k, v) = p.split_once('=')?;
                            Some((k.to_owned(), v.trim_matches('"').to_owned()))
                        })
                        .collect();
                    (n, pairs)
                }
                None => (series, Vec::new()),
            };
            got.sort();
            (n == name && got == want)
                .then(|| value.parse().ok())
                .flatten()
        })
}
