//! Test support shared by the crates' integration tests.
//!
//! Kafka in the tests is Apache Kafka itself ([`KafkaCluster`], KRaft JVM brokers from
//! the jars `scripts/kafka-install` resolves from Maven Central); [`Broker`] is its
//! one-node form. `./scripts/test` installs the jars; `KAFKA_LIBS` may point at another
//! directory of them.

// Unit tests (cfg(test)) are exempt from the length limit; production code is not:
// the non-test build of this crate is linted too.
#![cfg_attr(test, allow(clippy::too_many_lines))]

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

pub mod chaos;
pub mod fabric;
mod forwarder;
pub mod kafka;
mod sockets;
pub use kafka::{BrokerTls, ClientSecurity, ClusterSpec, KafkaCluster, kafka_version};
pub use sockets::accepted_nodelay;

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

/// One Apache Kafka node (broker and controller, replication factor 1) behind a
/// stable loopback address. Killed when dropped.
///
/// Clients use [`Broker::bootstrap`], served by a TCP forwarder in this process that
/// the broker advertises, so that every Kafka connection passes through it and
/// [`Broker::cut_client`] can partition one client, and so that the address outlives
/// a restart.
#[derive(Debug)]
pub struct Broker {
    cluster: KafkaCluster,
}

/// The single node's id.
const NODE: u32 = 1;

impl Broker {
    /// Starts a broker and waits until it serves clients.
    pub fn start() -> Broker {
        Broker::start_spec(ClusterSpec::single())
    }

    /// A one-node cluster of `spec` (its node count is ignored), started.
    pub fn start_spec(mut spec: ClusterSpec) -> Broker {
        spec.nodes = 1;
        spec.controllers = 1;
        Broker {
            cluster: KafkaCluster::start(spec),
        }
    }

    /// A broker address with no broker behind it yet: connections are refused until
    /// [`Broker::spawn`].
    pub fn reserved() -> Broker {
        Broker {
            cluster: KafkaCluster::reserved(ClusterSpec::single()),
        }
    }

    /// A broker whose client listener speaks TLS (with `client_ca_pem`, mutual TLS),
    /// served by Apache Kafka itself.
    pub fn start_tls(tls: &BrokerTls) -> Broker {
        Broker::start_spec(ClusterSpec::single().client(ClientSecurity::Ssl(tls.clone())))
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.cluster.bootstrap()
    }

    /// Starts the broker process (again), with the same data, behind the same
    /// address, and waits until it serves clients.
    pub fn spawn(&mut self) {
        self.cluster.restart(NODE);
    }

    /// Kills the broker (SIGKILL) and cuts every connection to it.
    pub fn kill(&mut self) {
        self.cluster.kill(NODE);
    }

    /// Cuts the Kafka client `client_id` (librdkafka's `client.id`, `Kafka.ClientId`
    /// of an OSN) off the broker: its connections, open and new, are held open in
    /// both directions with nothing passing, as in a network partition.
    pub fn cut_client(&self, client_id: &str) {
        self.cluster.cut_client(client_id);
    }

    /// Ends [`Broker::cut_client`]: what was held passes, new connections pass.
    pub fn heal_client(&self, client_id: &str) {
        self.cluster.heal_client(client_id);
    }

    /// The broker's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.cluster.pid(NODE)
    }

    /// The broker's log so far.
    pub fn log(&self) -> String {
        self.cluster.log(NODE)
    }

    /// The cluster behind: settings, files, node operations.
    pub fn cluster(&self) -> &KafkaCluster {
        &self.cluster
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

/// `POST /participation/v1/channels` on the Admin listener at `addr`, with `block`
/// as `osnadmin channel join` sends it (multipart, part `config-block`): the status
/// and body. Panics when the exchange fails.
pub fn participation_join(addr: &str, block: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let boundary = "3f2a9c1e5b7d4680";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"config-block\"; filename=\"config.block\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(block);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let exchange = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect(addr)?;
        let head = format!(
            "POST /participation/v1/channels HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(&body)?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response)
    };
    let response = exchange().unwrap_or_else(|e| panic!("participation join on {addr}: {e}"));
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("participation join on {addr}: no HTTP status in {head:?}"));
    (status, body.to_owned())
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
