//! Apache Kafka itself, the reference broker of the tests: a KRaft cluster of JVM
//! processes on free loopback ports, from the jars `scripts/kafka-install` resolves
//! from Maven Central (the version pinned in `deploy/kafka/VERSION`).
//!
//! Every listener of every node (client, inter-broker, controller) sits behind a
//! [`Forwarder`] that the node advertises, so that a node keeps its address across
//! restarts and can be cut off the network: [`KafkaCluster::cut_node`] holds every
//! connection to the node's listeners and every connection the node opens to the
//! others (recognised by its process, through `/proc`), both ways, as a partition
//! does. Nodes are started, SIGKILLed and restarted one by one. A cluster whose test
//! panics keeps its directory (configuration, data, one log per node) and says where.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::forwarder::{Forwarder, SourceNamer};

/// How long a node may take from spawn to "Kafka Server started".
pub const NODE_START_TIMEOUT: Duration = Duration::from_secs(180);

/// The pinned Apache Kafka version (`deploy/kafka/VERSION`).
pub fn kafka_version() -> &'static str {
    include_str!("../../../deploy/kafka/VERSION").trim()
}

/// The directory of Apache Kafka's jars: `$KAFKA_LIBS`, else where
/// `scripts/kafka-install` puts them. Panics, naming the install command, when absent.
pub fn kafka_libs() -> PathBuf {
    let dir = std::env::var_os("KAFKA_LIBS")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(
                cache
                    .join("orderer")
                    .join(format!("apache-kafka-{}", kafka_version()))
                    .join("libs"),
            )
        })
        .unwrap_or_else(|| panic!("neither KAFKA_LIBS nor HOME is set"));
    if !dir.join(".complete").is_file() {
        panic!(
            "Apache Kafka {} is not installed at {}: run scripts/kafka-install (it resolves the \
             broker from Maven Central; ./scripts/test runs it)",
            kafka_version(),
            dir.display()
        );
    }
    dir
}

/// The `java` to run: `$JAVA_HOME/bin/java`, else `java` on the PATH.
fn java() -> PathBuf {
    std::env::var_os("JAVA_HOME")
        .map(|h| PathBuf::from(h).join("bin").join("java"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("java"))
}

/// PEM material of a broker's TLS listener.
#[derive(Debug, Clone)]
pub struct BrokerTls {
    /// The broker's certificate (chain), PEM.
    pub cert_pem: String,
    /// Its private key, PKCS#8 PEM, unencrypted.
    pub key_pem: String,
    /// When set, clients must present a certificate issued by this CA (mutual TLS).
    pub client_ca_pem: Option<String>,
}

/// How clients (OSNs) authenticate on the client listener. Brokers and controllers
/// talk among themselves in plaintext on listeners of their own.
#[derive(Debug, Clone, Default)]
pub enum ClientSecurity {
    /// PLAINTEXT.
    #[default]
    Plaintext,
    /// SSL, optionally with client certificates.
    Ssl(BrokerTls),
    /// SASL_PLAINTEXT with the PLAIN mechanism and these users and passwords.
    SaslPlaintext(Vec<(String, String)>),
    /// SASL_SSL: PLAIN over TLS.
    SaslSsl(Vec<(String, String)>, BrokerTls),
}

impl ClientSecurity {
    fn protocol(&self) -> &'static str {
        match self {
            ClientSecurity::Plaintext => "PLAINTEXT",
            ClientSecurity::Ssl(_) => "SSL",
            ClientSecurity::SaslPlaintext(_) => "SASL_PLAINTEXT",
            ClientSecurity::SaslSsl(..) => "SASL_SSL",
        }
    }

    fn tls(&self) -> Option<&BrokerTls> {
        match self {
            ClientSecurity::Ssl(t) | ClientSecurity::SaslSsl(_, t) => Some(t),
            _ => None,
        }
    }

    fn users(&self) -> Option<&[(String, String)]> {
        match self {
            ClientSecurity::SaslPlaintext(u) | ClientSecurity::SaslSsl(u, _) => Some(u),
            _ => None,
        }
    }
}

/// The shape and settings of a cluster.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Nodes in all.
    pub nodes: usize,
    /// The first `controllers` nodes are brokers and controllers, the rest brokers only.
    pub controllers: usize,
    /// Broker settings (`server.properties` keys), applied in order after the kit's own.
    pub settings: Vec<(String, String)>,
    /// The client listener's security.
    pub client: ClientSecurity,
    /// Heap of each JVM, in MiB.
    pub heap_mb: u32,
    /// The JIT's optimising tier, for benchmarks: tests start faster and spend less
    /// CPU compiling with the first tier only.
    pub optimise: bool,
}

impl ClusterSpec {
    /// Seed 003's cluster, mirroring `deploy/compose`: four nodes (three brokers that
    /// are controllers too, one broker only), replication factor 3,
    /// min.insync.replicas 2, no unclean leader election, retention forever, record
    /// limits above 99 MB.
    pub fn seed003() -> ClusterSpec {
        ClusterSpec::replicated(4, 3, "3", "2")
    }

    /// `nodes` nodes, the first `controllers` of them controllers too, with Kafka's
    /// own defaults but for the kit's footprint: no rule of seed 003 unless added
    /// with [`ClusterSpec::with`] (to run a deployment's settings as they are).
    pub fn bare(nodes: usize, controllers: usize) -> ClusterSpec {
        ClusterSpec {
            nodes,
            controllers,
            settings: Vec::new(),
            client: ClientSecurity::Plaintext,
            heap_mb: 256,
            optimise: false,
        }
    }

    /// One node, broker and controller, replication factor 1.
    pub fn single() -> ClusterSpec {
        ClusterSpec::replicated(1, 1, "1", "1")
    }

    /// Seed 003's size-independent rules, and replication factor `rf` with
    /// min.insync.replicas `min_isr` for every topic, the internal ones included.
    fn replicated(nodes: usize, controllers: usize, rf: &str, min_isr: &str) -> ClusterSpec {
        let mut spec = ClusterSpec::bare(nodes, controllers);
        spec.settings = settings(SEED_RULES);
        spec.settings.extend(settings(&[
            ("default.replication.factor", rf),
            ("min.insync.replicas", min_isr),
            ("offsets.topic.replication.factor", rf),
            ("transaction.state.log.replication.factor", rf),
            ("transaction.state.log.min.isr", min_isr),
        ]));
        spec
    }

    /// One more broker setting (later ones win).
    pub fn with(mut self, key: &str, value: &str) -> ClusterSpec {
        self.settings.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The client listener's security.
    pub fn client(mut self, client: ClientSecurity) -> ClusterSpec {
        self.client = client;
        self
    }
}

/// `N` loopback ports nothing listens on, all different: each probe is held until
/// all are chosen.
fn distinct_free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<std::net::TcpListener> = (0..N)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
        })
        .collect();
    std::array::from_fn(|i| {
        held[i]
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("a probed port: {e}"))
    })
}

fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Seed 003's rules that do not depend on the cluster's size: part of every spec
/// the kit makes ([`ClusterSpec::bare`] leaves them out).
const SEED_RULES: &[(&str, &str)] = &[
    ("unclean.leader.election.enable", "false"),
    ("log.retention.ms", "-1"),
    // AbsoluteMaxBytes (Fabric's default 99 MB) plus the record's overhead.
    ("message.max.bytes", "103809024"),
    ("replica.fetch.max.bytes", "103809024"),
];

/// Settings of every node before the spec's: a small footprint for two shared
/// cores, and failures noticed sooner.
const BASE_SETTINGS: &[(&str, &str)] = &[
    ("socket.request.max.bytes", "209715200"),
    ("num.partitions", "1"),
    ("offsets.topic.num.partitions", "1"),
    ("group.initial.rebalance.delay.ms", "0"),
    ("num.network.threads", "2"),
    ("num.io.threads", "2"),
    ("num.replica.fetchers", "1"),
    ("background.threads", "2"),
    ("num.recovery.threads.per.data.dir", "1"),
    ("log.cleaner.threads", "1"),
    ("log.cleaner.dedupe.buffer.size", "4194304"),
    // Fences a SIGKILLed broker after 4 s instead of 9 (its partitions move sooner).
    ("broker.session.timeout.ms", "4000"),
    ("broker.heartbeat.interval.ms", "1000"),
    ("share.coordinator.state.topic.replication.factor", "1"),
    ("share.coordinator.state.topic.min.isr", "1"),
];

/// One node: its process, its listeners' forwarders, its files.
#[derive(Debug)]
struct Node {
    id: u32,
    controller: bool,
    dir: PathBuf,
    child: Option<Child>,
    client: Forwarder,
    internal: Forwarder,
    control: Option<Forwarder>,
    /// Times "Kafka Server started" was logged, to await the next one.
    starts: usize,
    /// The log's length when the current process started.
    log_offset: usize,
}

impl Node {
    fn log_path(&self) -> PathBuf {
        self.dir.join("kafka.log")
    }

    fn forwarders(&self) -> impl Iterator<Item = &Forwarder> {
        [&self.client, &self.internal]
            .into_iter()
            .chain(self.control.as_ref())
    }
}

/// Process ids of the running nodes, by node id, for naming their connections.
type Pids = Arc<Mutex<HashMap<u32, u32>>>;

/// An Apache Kafka KRaft cluster of child processes. Killed when dropped.
#[derive(Debug)]
pub struct KafkaCluster {
    spec: ClusterSpec,
    cluster_id: String,
    dir: Option<tempfile::TempDir>,
    nodes: Vec<Node>,
    pids: Pids,
}

impl KafkaCluster {
    /// Starts every node and waits until each broker has started.
    pub fn start(spec: ClusterSpec) -> KafkaCluster {
        let mut cluster = KafkaCluster::reserved(spec);
        let ids: Vec<u32> = cluster.nodes.iter().map(|n| n.id).collect();
        for id in &ids {
            cluster.spawn(*id);
        }
        for id in ids {
            cluster.await_started(id);
        }
        cluster
    }

    /// The cluster's addresses and formatted storage, with no node running yet.
    pub fn reserved(spec: ClusterSpec) -> KafkaCluster {
        assert!(
            spec.nodes >= 1 && (1..=spec.nodes).contains(&spec.controllers),
            "a cluster needs 1..=nodes controllers"
        );
        let dir = tempfile::Builder::new()
            .prefix("apache-kafka-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temp dir: {e}"));
        let pids: Pids = Arc::default();
        let namer: SourceNamer = {
            let pids = Arc::clone(&pids);
            Arc::new(move |peer: SocketAddr| {
                let running: Vec<(u32, u32)> = pids
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .map(|(id, pid)| (*id, *pid))
                    .collect();
                crate::sockets::socket_owner(peer, &running).map(node_name)
            })
        };
        let tls = spec.client.tls().is_some();
        let nodes = (0..spec.nodes)
            .map(|i| {
                let id = u32::try_from(i + 1).unwrap_or(u32::MAX);
                let controller = i < spec.controllers;
                let node_dir = dir.path().join(format!("node-{id}"));
                std::fs::create_dir_all(node_dir.join("data"))
                    .unwrap_or_else(|e| panic!("node dir: {e}"));
                Node {
                    id,
                    controller,
                    dir: node_dir,
                    child: None,
                    client: Forwarder::start_with(!tls, Some(Arc::clone(&namer))),
                    internal: Forwarder::start_with(true, Some(Arc::clone(&namer))),
                    control: controller
                        .then(|| Forwarder::start_with(true, Some(Arc::clone(&namer)))),
                    starts: 0,
                    log_offset: 0,
                }
            })
            .collect();
        let mut cluster = KafkaCluster {
            spec,
            cluster_id: random_cluster_id(),
            dir: Some(dir),
            nodes,
            pids,
        };
        cluster.write_common_files();
        cluster.format();
        cluster
    }

    fn root(&self) -> &Path {
        self.dir
            .as_ref()
            .map(tempfile::TempDir::path)
            .unwrap_or_else(|| Path::new("."))
    }

    fn node(&self, id: u32) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id} in the cluster"))
    }

    fn node_mut(&mut self, id: u32) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id} in the cluster"))
    }

    /// Node ids, 1..=nodes.
    pub fn ids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// Whether node `id` is a controller too.
    pub fn is_controller(&self, id: u32) -> bool {
        self.node(id).controller
    }

    /// `host:port,...` of every node's client listener, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.brokers().join(",")
    }

    /// Each node's client listener address, `host:port`.
    pub fn brokers(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.client.port))
            .collect()
    }

    /// Node `id`'s client listener address.
    pub fn broker(&self, id: u32) -> String {
        format!("127.0.0.1:{}", self.node(id).client.port)
    }

    /// The node whose client listener is `addr` (`host:port`), if any.
    pub fn node_at(&self, addr: &str) -> Option<u32> {
        self.nodes
            .iter()
            .find(|n| addr.ends_with(&format!(":{}", n.client.port)))
            .map(|n| n.id)
    }

    /// Where the cluster keeps its files.
    pub fn dir(&self) -> &Path {
        self.root()
    }

    /// The pinned version this cluster runs.
    pub fn version(&self) -> &'static str {
        kafka_version()
    }

    fn write_common_files(&self) {
        let log4j = include_str!("../../../deploy/kafka/log4j2.properties");
        write(&self.root().join("log4j2.properties"), log4j);
        if let Some(users) = self.spec.client.users() {
            // The JAAS entry of the client listener's PLAIN mechanism.
            let mut jaas =
                String::from("org.apache.kafka.common.security.plain.PlainLoginModule required");
            for (user, password) in users {
                let _ = write!(jaas, " user_{user}=\"{password}\"");
            }
            jaas.push(';');
            write(&self.root().join("client.jaas"), &jaas);
        }
        if let Some(tls) = self.spec.client.tls() {
            // Kafka reads PEM key stores: the key and its chain in one file.
            write(
                &self.root().join("keystore.pem"),
                &format!("{}\n{}", tls.key_pem.trim(), tls.cert_pem.trim()),
            );
            if let Some(ca) = &tls.client_ca_pem {
                write(&self.root().join("truststore.pem"), ca);
            }
        }
    }

    /// `server.properties` of node `id`, for backend ports `ports` (client,
    /// internal, controller).
    fn properties(&self, node: &Node, ports: (u16, u16, u16)) -> String {
        let voters: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|n| {
                n.control
                    .as_ref()
                    .map(|f| format!("{}@127.0.0.1:{}", n.id, f.port))
            })
            .collect();
        let client_protocol = self.spec.client.protocol();
        let mut listeners = vec![
            format!("CLIENT://127.0.0.1:{}", ports.0),
            format!("INTERNAL://127.0.0.1:{}", ports.1),
        ];
        if node.controller {
            listeners.push(format!("CONTROLLER://127.0.0.1:{}", ports.2));
        }
        let roles = if node.controller {
            "broker,controller"
        } else {
            "broker"
        };
        let mut p = vec![
            ("process.roles".to_owned(), roles.to_owned()),
            ("node.id".to_owned(), node.id.to_string()),
            ("controller.quorum.voters".to_owned(), voters.join(",")),
            ("listeners".to_owned(), listeners.join(",")),
            (
                "advertised.listeners".to_owned(),
                format!(
                    "CLIENT://127.0.0.1:{},INTERNAL://127.0.0.1:{}",
                    node.client.port, node.internal.port
                ),
            ),
            (
                "listener.security.protocol.map".to_owned(),
                format!("CLIENT:{client_protocol},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"),
            ),
            (
                "inter.broker.listener.name".to_owned(),
                "INTERNAL".to_owned(),
            ),
            (
                "controller.listener.names".to_owned(),
                "CONTROLLER".to_owned(),
            ),
            (
                "log.dirs".to_owned(),
                node.dir.join("data").display().to_string(),
            ),
        ];
        p.extend(
            BASE_SETTINGS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        if self.spec.client.users().is_some() {
            p.push(("sasl.enabled.mechanisms".into(), "PLAIN".into()));
            p.push((
                "listener.name.client.plain.sasl.jaas.config".into(),
                std::fs::read_to_string(self.root().join("client.jaas")).unwrap_or_default(),
            ));
        }
        if let Some(tls) = self.spec.client.tls() {
            let path = |name: &str| self.root().join(name).display().to_string();
            p.push((
                "listener.name.client.ssl.keystore.type".into(),
                "PEM".into(),
            ));
            p.push((
                "listener.name.client.ssl.keystore.location".into(),
                path("keystore.pem"),
            ));
            if tls.client_ca_pem.is_some() {
                p.push((
                    "listener.name.client.ssl.truststore.type".into(),
                    "PEM".into(),
                ));
                p.push((
                    "listener.name.client.ssl.truststore.location".into(),
                    path("truststore.pem"),
                ));
                p.push((
                    "listener.name.client.ssl.client.auth".into(),
                    "required".into(),
                ));
            }
        }
        p.extend(self.spec.settings.iter().cloned());
        // Later keys win, as the spec promises: keep the last of each.
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<String> = p
            .into_iter()
            .rev()
            .filter(|(k, _)| seen.insert(k.clone()))
            .map(|(k, v)| format!("{k}={}", v.replace('\\', "\\\\")))
            .collect();
        out.reverse();
        out.join("\n") + "\n"
    }

    fn java_command(&self, heap_mb: u32) -> Command {
        let libs = kafka_libs();
        let mut cmd = Command::new(java());
        cmd.arg(format!("-Xmx{heap_mb}m"))
            .arg(format!("-Xms{}m", heap_mb.min(64)))
            .args([
                "-XX:+UseSerialGC",
                "-XX:-UsePerfData",
                "-Djava.awt.headless=true",
            ])
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                self.root().join("log4j2.properties").display()
            ));
        if !self.spec.optimise {
            cmd.arg("-XX:TieredStopAtLevel=1");
        }
        cmd.arg("-cp").arg(format!("{}/*", libs.display()));
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Formats every node's storage (in parallel: each is a JVM start).
    fn format(&mut self) {
        let mut running = Vec::new();
        for node in &self.nodes {
            // Placeholder backend ports: formatting binds nothing.
            let props = self.properties(node, (1, 2, 3));
            let path = node.dir.join("server.properties");
            write(&path, &props);
            let out = std::fs::File::create(node.dir.join("format.log"))
                .unwrap_or_else(|e| panic!("format log: {e}"));
            let err = out
                .try_clone()
                .unwrap_or_else(|e| panic!("format log: {e}"));
            let child = self
                .java_command(128)
                .args([
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    &self.cluster_id,
                    "-c",
                ])
                .arg(&path)
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("starting {} (Java 17+ is required): {e}", java().display())
                });
            running.push((node.id, node.dir.clone(), child));
        }
        for (id, dir, mut child) in running {
            let ok = child.wait().map(|s| s.success()).unwrap_or(false);
            if !ok {
                panic!(
                    "formatting node {id}'s storage failed:\n{}",
                    std::fs::read_to_string(dir.join("format.log")).unwrap_or_default()
                );
            }
        }
    }

    /// Starts node `id` (again, with its data) without waiting for it.
    pub fn spawn(&mut self, id: u32) {
        let node = self.node(id);
        assert!(node.child.is_none(), "node {id} is already running");
        // Three distinct ports: probed one after another, the same port can come back
        // twice, and Kafka refuses two listeners on one port.
        let [a, b, c] = distinct_free_ports::<3>();
        let ports = (a, b, c);
        let props = self.properties(node, ports);
        let path = node.dir.join("server.properties");
        write(&path, &props);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.log_path())
            .unwrap_or_else(|e| panic!("node log: {e}"));
        let log2 = log.try_clone().unwrap_or_else(|e| panic!("node log: {e}"));
        let before = read(&node.log_path());
        let starts = count(&before, STARTED);
        let child = self
            .java_command(self.spec.heap_mb)
            .arg("kafka.Kafka")
            .arg(&path)
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("starting Kafka node {id}: {e}"));
        self.pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, child.id());
        let node = self.node_mut(id);
        node.child = Some(child);
        node.starts = starts;
        node.log_offset = before.len();
        node.client.set_backend(Some(ports.0));
        node.internal.set_backend(Some(ports.1));
        if let Some(c) = &node.control {
            c.set_backend(Some(ports.2));
        }
    }

    /// Waits until node `id`'s broker logs that it started (after [`KafkaCluster::spawn`]).
    pub fn await_started(&mut self, id: u32) {
        let deadline = Instant::now() + NODE_START_TIMEOUT;
        let mut port_retries = 3;
        loop {
            let node = self.node_mut(id);
            let log = read(&node.log_path());
            if count(&log, STARTED) > node.starts {
                return;
            }
            let exited = node
                .child
                .as_mut()
                .map(|c| matches!(c.try_wait(), Ok(Some(_))))
                .unwrap_or(true);
            // A free port can be taken by another test between our look and the
            // JVM's bind: start again on other ports.
            let lost_port = log
                .get(node.log_offset..)
                .is_some_and(|l| l.contains("Address already in use"));
            if exited && lost_port && port_retries > 0 {
                port_retries -= 1;
                self.kill(id);
                self.spawn(id);
                continue;
            }
            if exited || Instant::now() > deadline {
                let why = if exited {
                    "exited"
                } else {
                    "did not start in time"
                };
                panic!(
                    "Kafka node {id} {why}; its log ({}):\n{}",
                    node.log_path().display(),
                    tail(&log, 60)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts node `id` again and waits until it has started.
    pub fn restart(&mut self, id: u32) {
        self.spawn(id);
        self.await_started(id);
    }

    /// SIGKILLs node `id` and cuts every connection to it.
    pub fn kill(&mut self, id: u32) {
        self.pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        let node = self.node_mut(id);
        for f in node.forwarders() {
            f.set_backend(None);
        }
        if let Some(mut c) = node.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether node `id` runs.
    pub fn running(&self, id: u32) -> bool {
        self.node(id).child.is_some()
    }

    /// Node `id`'s process id, while it runs.
    pub fn pid(&self, id: u32) -> Option<u32> {
        self.node(id).child.as_ref().map(Child::id)
    }

    /// Cuts node `id` off the network: every connection to its listeners (clients,
    /// brokers, controllers) and every one it opens to the other nodes is held, open
    /// and future, both ways.
    pub fn cut_node(&self, id: u32) {
        for n in &self.nodes {
            if n.id == id {
                n.forwarders().for_each(|f| f.cut_all(true));
            } else {
                n.forwarders().for_each(|f| f.cut(&node_name(id)));
            }
        }
    }

    /// Ends [`KafkaCluster::cut_node`]: what was held passes.
    pub fn heal_node(&self, id: u32) {
        for n in &self.nodes {
            if n.id == id {
                n.forwarders().for_each(|f| f.cut_all(false));
            } else {
                n.forwarders().for_each(|f| f.heal(&node_name(id)));
            }
        }
    }

    /// Cuts the Kafka client `client_id` (an OSN's `Kafka.ClientId`) off every node:
    /// its connections, open and new, are held both ways. Not on a TLS client
    /// listener, where the client id is encrypted.
    pub fn cut_client(&self, client_id: &str) {
        assert!(
            self.spec.client.tls().is_none(),
            "a client cannot be recognised on a TLS listener"
        );
        self.nodes.iter().for_each(|n| n.client.cut(client_id));
    }

    /// Ends [`KafkaCluster::cut_client`].
    pub fn heal_client(&self, client_id: &str) {
        self.nodes.iter().for_each(|n| n.client.heal(client_id));
    }

    /// Node `id`'s log so far.
    pub fn log(&self, id: u32) -> String {
        read(&self.node(id).log_path())
    }

    /// SIGKILLs every node.
    pub fn kill_all(&mut self) {
        for id in self.ids() {
            self.kill(id);
        }
    }
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        self.kill_all();
        for n in &self.nodes {
            n.forwarders().for_each(Forwarder::stop);
        }
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!(
                    "Apache Kafka cluster kept for the failed test: {} (node-N/kafka.log)",
                    kept.display()
                );
            }
        }
    }
}

/// The line a broker logs once it serves clients.
const STARTED: &str = "Kafka Server started";

fn node_name(id: u32) -> String {
    format!("kafka-node-{id}")
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A cluster id as Kafka writes them: 16 random bytes, URL-safe base64 without
/// padding, not starting with `-` (command lines would read it as an option; Kafka's
/// own generator avoids that too).
fn random_cluster_id() -> String {
    loop {
        let id = random_base64_id();
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn random_base64_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = Vec::with_capacity(16);
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        bytes.extend_from_slice(&h.finish().to_be_bytes());
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(ALPHABET[((acc >> bits) & 63) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (6 - bits)) & 63) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_ids_are_22_url_safe_characters() {
        let id = random_cluster_id();
        assert_eq!(id.len(), 22, "{id}");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(id, random_cluster_id());
    }
}
