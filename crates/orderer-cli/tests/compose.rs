//! deploy/compose/kafka.yaml without containers: the test reads the compose file, runs
//! its `init` service's script and its three OSN services as processes of this build,
//! on an Apache Kafka cluster of the brokers' shape and settings, and orders through
//! each OSN over mutual TLS until every chain is the same. A compose file whose OSN or
//! broker settings drift from what works fails here.
//!
//! What is taken from the compose file as it is: each OSN's environment (under the
//! `ENV` of deploy/Dockerfile's runtime stage, as in the image), every file it mounts
//! (config/orderer.yaml), the init service's entrypoint script and environment, the
//! volumes and their subpaths, the brokers' settings. The only rewrites, from the
//! containers to this machine:
//!
//! - Paths. A container path under a mount's target goes to the mount's local side: a
//!   named volume is the directory `<tmp>/volumes/<name>` (its `subpath` below it),
//!   shared by the services as Docker shares it; a bind-mounted directory is the
//!   repository's; a bind-mounted file is copied to `<tmp>/<service>/root/<target>`
//!   (YAML files localized like the environment). Any other absolute path is under
//!   that root: the container's own file system (`$FABRIC_CFG_PATH` is such a path).
//! - Listeners. `0.0.0.0` becomes `127.0.0.1`, `0.0.0.0:PORT` becomes `127.0.0.1:0`
//!   (a free port, read back from the log), and `ORDERER_GENERAL_LISTENPORT` is left
//!   to the test helper, which picks a free port: three OSNs share this machine.
//! - Brokers. The Kafka services (image `apache/kafka`) become the nodes of an Apache
//!   Kafka KRaft cluster of the test kit, node id for node id, with the same
//!   controllers and every `KAFKA_*` setting that is not a node's own place (id, roles,
//!   listeners, log dirs), converted as the image converts them; `host:port` of each
//!   service becomes its node's loopback address. The orderer's check of the cluster
//!   it is given must find seed 003's rules kept.
//! - Binaries. `orderer` and `orderer-cli` are this build's.
//!
//! Docker-level facts the processes cannot show are checked statically: the broker
//! settings of seed 003 against `AbsoluteMaxBytes`, every OSN with the same
//! environment and orderer.yaml (they must make the same block 0), every OSN named in
//! `Orderer.Addresses` on its listen port, every volume subpath present after init,
//! and Prometheus's targets on the OSNs' operations ports.

#![allow(clippy::unwrap_used)]
// Test scenarios read top to bottom; the length limit is for production code.
#![allow(clippy::too_many_lines)]

mod common;
#[path = "common/kafka.rs"]
mod kafka;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{EVENT_TIMEOUT, Orderer, block_lines, cli_bin, orderer_bin, stdout};
use orderer_testkit::{ClusterSpec, KafkaCluster, http};
use serde_yaml::Value;

/// Services running this image are built from it.
const ORDERER_DOCKERFILE: &str = "deploy/Dockerfile";
/// Services running this image are Kafka brokers.
const BROKER_IMAGE: &str = "apache/kafka";
/// The margin seed 003 asks for above `AbsoluteMaxBytes` (record overhead).
const BROKER_SIZE_MARGIN: u64 = 1024 * 1024;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn compose_dir() -> PathBuf {
    repo().join("deploy/compose")
}

fn kafka_yaml() -> String {
    std::fs::read_to_string(compose_dir().join("kafka.yaml")).unwrap()
}

// ---------------------------------------------------------------------------------
// The compose file, as far as this test needs it.

#[derive(Debug, Clone)]
enum Source {
    /// A host path, relative to the compose file's directory.
    Bind(PathBuf),
    Volume {
        name: String,
        subpath: Option<String>,
    },
}

#[derive(Debug, Clone)]
struct Mount {
    source: Source,
    target: String,
}

#[derive(Debug, Clone)]
struct Service {
    name: String,
    image: String,
    /// Built from deploy/Dockerfile.
    orderer_image: bool,
    entrypoint: Vec<String>,
    environment: BTreeMap<String, String>,
    volumes: Vec<Mount>,
    /// Service name to condition.
    depends_on: BTreeMap<String, String>,
}

impl Service {
    /// A one-shot job of the orderer image (it replaces the image's entrypoint).
    fn is_init(&self) -> bool {
        self.orderer_image && !self.entrypoint.is_empty()
    }

    /// An OSN: the orderer image running its own command, `orderer`.
    fn is_osn(&self) -> bool {
        self.orderer_image && self.entrypoint.is_empty()
    }

    fn is_broker(&self) -> bool {
        self.image.starts_with(BROKER_IMAGE)
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn has_merge_key(v: &Value) -> bool {
    match v {
        Value::Mapping(m) => m.contains_key("<<") || m.values().any(has_merge_key),
        Value::Sequence(s) => s.iter().any(has_merge_key),
        _ => false,
    }
}

fn parse_compose(text: &str) -> Result<Vec<Service>, String> {
    let mut doc: Value = serde_yaml::from_str(text).map_err(|e| format!("kafka.yaml: {e}"))?;
    // serde_yaml merges one level per pass; a merged anchor may merge another.
    for _ in 0..8 {
        if !has_merge_key(&doc) {
            break;
        }
        doc.apply_merge()
            .map_err(|e| format!("kafka.yaml: merge keys: {e}"))?;
    }
    let services = doc
        .get("services")
        .and_then(Value::as_mapping)
        .ok_or("kafka.yaml: no services")?;
    let mut out = Vec::new();
    for (name, s) in services {
        let name = scalar(name).ok_or("kafka.yaml: a service name is not a string")?;
        let what = |field: &str| format!("kafka.yaml: services.{name}.{field}");
        let image = s.get("image").and_then(scalar).unwrap_or_default();
        let orderer_image = s
            .get("build")
            .and_then(|b| b.get("dockerfile"))
            .and_then(scalar)
            .is_some_and(|d| d == ORDERER_DOCKERFILE);
        let entrypoint = match s.get("entrypoint") {
            None => Vec::new(),
            Some(Value::Sequence(seq)) => seq.iter().filter_map(scalar).collect(),
            Some(v) => scalar(v)
                .ok_or_else(|| what("entrypoint"))?
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        };
        let mut environment = BTreeMap::new();
        match s.get("environment") {
            None => {}
            Some(Value::Mapping(m)) => {
                for (k, v) in m {
                    let k = scalar(k).ok_or_else(|| what("environment"))?;
                    let v = scalar(v).ok_or_else(|| format!("{}.{k}", what("environment")))?;
                    environment.insert(k, v);
                }
            }
            Some(Value::Sequence(seq)) => {
                for item in seq {
                    let item = scalar(item).ok_or_else(|| what("environment"))?;
                    let (k, v) = item.split_once('=').unwrap_or((&item, ""));
                    environment.insert(k.to_owned(), v.to_owned());
                }
            }
            Some(_) => return Err(what("environment")),
        }
        let mut volumes = Vec::new();
        for v in s
            .get("volumes")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            volumes.push(parse_mount(v).ok_or_else(|| format!("{}: {v:?}", what("volumes")))?);
        }
        let mut depends_on = BTreeMap::new();
        match s.get("depends_on") {
            Some(Value::Sequence(seq)) => {
                for d in seq.iter().filter_map(scalar) {
                    depends_on.insert(d, "service_started".to_owned());
                }
            }
            Some(Value::Mapping(m)) => {
                for (k, v) in m {
                    let cond = v
                        .get("condition")
                        .and_then(scalar)
                        .unwrap_or_else(|| "service_started".to_owned());
                    depends_on.insert(scalar(k).ok_or_else(|| what("depends_on"))?, cond);
                }
            }
            _ => {}
        }
        out.push(Service {
            name,
            image,
            orderer_image,
            entrypoint,
            environment,
            volumes,
            depends_on,
        });
    }
    Ok(out)
}

/// A volume entry, short (`src:target[:ro]`) or long (`{type, source, target, volume:
/// {subpath}}`).
fn parse_mount(v: &Value) -> Option<Mount> {
    let (source, target, subpath) = match v {
        Value::String(s) => {
            let mut parts = s.split(':');
            let source = parts.next()?.to_owned();
            let target = parts.next()?.to_owned();
            (source, target, None)
        }
        Value::Mapping(_) => (
            v.get("source").and_then(scalar)?,
            v.get("target").and_then(scalar)?,
            v.get("volume")
                .and_then(|o| o.get("subpath"))
                .and_then(scalar),
        ),
        _ => return None,
    };
    let source = if source.starts_with('.') || source.starts_with('/') {
        Source::Bind(PathBuf::from(source))
    } else {
        Source::Volume {
            name: source,
            subpath,
        }
    };
    Some(Mount { source, target })
}

/// The environment set by `ENV` in the last stage of a Dockerfile.
fn image_environment(dockerfile: &str) -> BTreeMap<String, String> {
    let joined = dockerfile.replace("\\\n", " ");
    let mut env = BTreeMap::new();
    for line in joined.lines().map(str::trim) {
        if line.starts_with("FROM ") {
            env.clear();
        } else if let Some(rest) = line.strip_prefix("ENV ") {
            for pair in rest.split_whitespace() {
                if let Some((k, v)) = pair.split_once('=') {
                    env.insert(k.to_owned(), v.trim_matches('"').to_owned());
                }
            }
        }
    }
    env
}

// ---------------------------------------------------------------------------------
// From the containers to this machine (the mapping of the module's doc).

struct Local<'a> {
    service: &'a Service,
    /// The container's own file system.
    root: PathBuf,
    /// Named volumes, one directory each.
    volumes: PathBuf,
    /// `host:port` of every Kafka service, to the Apache Kafka node's standing in
    /// for it.
    brokers: &'a BTreeMap<String, String>,
}

impl<'a> Local<'a> {
    fn new(dir: &Path, service: &'a Service, brokers: &'a BTreeMap<String, String>) -> Local<'a> {
        Local {
            root: dir.join(&service.name).join("root"),
            volumes: dir.join("volumes"),
            service,
            brokers,
        }
    }

    /// Where a container path is on this machine.
    fn path(&self, p: &str) -> PathBuf {
        let mount = self
            .service
            .volumes
            .iter()
            .filter(|m| p == m.target || p.starts_with(&format!("{}/", m.target)))
            .max_by_key(|m| m.target.len());
        let Some(m) = mount else {
            return self.root.join(p.trim_start_matches('/'));
        };
        let rest = p[m.target.len()..].trim_start_matches('/');
        let base = match &m.source {
            Source::Volume { name, subpath } => {
                let v = self.volumes.join(name);
                subpath.as_ref().map_or(v.clone(), |s| v.join(s))
            }
            Source::Bind(src) if compose_dir().join(src).is_dir() => compose_dir().join(src),
            // A bind-mounted file: its (localized) copy in the container's root.
            Source::Bind(_) => self.root.join(m.target.trim_start_matches('/')),
        };
        if rest.is_empty() {
            base
        } else {
            base.join(rest)
        }
    }

    /// One value: a path, a listener, a broker address, or a list `[a,b]` of them.
    fn value(&self, v: &str) -> String {
        if let Some(inner) = v.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let items: Vec<String> = inner.split(',').map(|i| self.value(i.trim())).collect();
            return format!("[{}]", dedup(items).join(","));
        }
        if v.starts_with('/') {
            return self.path(v).display().to_string();
        }
        if v == "0.0.0.0" {
            return "127.0.0.1".to_owned();
        }
        if v.starts_with("0.0.0.0:") {
            return "127.0.0.1:0".to_owned();
        }
        if let Some(local) = self.brokers.get(v) {
            return local.clone();
        }
        v.to_owned()
    }

    /// A YAML document's string values, localized.
    fn yaml(&self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.value(s),
            Value::Sequence(seq) => {
                for item in seq.iter_mut() {
                    self.yaml(item);
                }
                let mut seen = Vec::new();
                seq.retain(|i| {
                    let new = !seen.contains(i);
                    seen.push(i.clone());
                    new
                });
            }
            Value::Mapping(m) => m.values_mut().for_each(|v| self.yaml(v)),
            _ => {}
        }
    }

    /// Bind-mounted files copied into the container's root, YAML localized.
    fn materialize_files(&self) -> Result<(), String> {
        for m in &self.service.volumes {
            let Source::Bind(src) = &m.source else {
                continue;
            };
            let src = compose_dir().join(src);
            if src.is_dir() {
                continue;
            }
            let text = std::fs::read_to_string(&src).map_err(|e| {
                format!(
                    "{}: mounted file {} at {}: {e}",
                    self.service.name,
                    src.display(),
                    m.target
                )
            })?;
            let text = if m.target.ends_with(".yaml") || m.target.ends_with(".yml") {
                let mut doc: Value = serde_yaml::from_str(&text)
                    .map_err(|e| format!("{}: {}: {e}", self.service.name, src.display()))?;
                self.yaml(&mut doc);
                serde_yaml::to_string(&doc).unwrap()
            } else {
                text
            };
            let dest = self.root.join(m.target.trim_start_matches('/'));
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::write(&dest, text).unwrap();
        }
        Ok(())
    }

    /// The process environment: the image's, then the service's, localized.
    fn environment(&self, image: &BTreeMap<String, String>) -> Vec<(String, String)> {
        let mut env = image.clone();
        env.extend(self.service.environment.clone());
        env.into_iter()
            // The helper gives each OSN a free port of this machine.
            .filter(|(k, _)| k != "ORDERER_GENERAL_LISTENPORT")
            .map(|(k, v)| {
                let v = self.value(&v);
                (k, v)
            })
            .collect()
    }
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Static checks: what only Docker would see.

/// A setting of an OSN as written: its environment, else the mounted orderer.yaml
/// (keys case-insensitive, as the orderer reads them).
fn setting(osn: &Service, yaml: &Value, key: &str) -> Option<String> {
    let env = format!("ORDERER_{}", key.replace('.', "_").to_ascii_uppercase());
    if let Some(v) = osn.environment.get(&env) {
        return Some(v.clone());
    }
    let mut v = yaml;
    for seg in key.split('.') {
        v = v
            .as_mapping()?
            .iter()
            .find(|(k, _)| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case(seg)))?
            .1;
    }
    match v {
        Value::Sequence(seq) => Some(format!(
            "[{}]",
            seq.iter().filter_map(scalar).collect::<Vec<_>>().join(",")
        )),
        other => scalar(other),
    }
}

fn list(v: &str) -> Vec<String> {
    v.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `10 MB`, `512 KB`, `1048576` (powers of 1024, as the orderer reads them).
fn bytes(v: &str) -> Option<u64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: u64 = n.parse().ok()?;
    let mult = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" => 1024,
        "MB" => 1024 * 1024,
        "GB" => 1024 * 1024 * 1024,
        _ => return None,
    };
    Some(n * mult)
}

/// The mounted orderer.yaml of an OSN (`$FABRIC_CFG_PATH/orderer.yaml`), as written.
fn orderer_yaml(osn: &Service, image: &BTreeMap<String, String>) -> Result<Value, String> {
    let cfg = osn
        .environment
        .get("FABRIC_CFG_PATH")
        .or_else(|| image.get("FABRIC_CFG_PATH"))
        .ok_or_else(|| format!("{}: FABRIC_CFG_PATH is not set", osn.name))?;
    let target = format!("{cfg}/orderer.yaml");
    let m = osn
        .volumes
        .iter()
        .find(|m| m.target == target)
        .ok_or_else(|| format!("{}: no orderer.yaml mounted at {target}", osn.name))?;
    let Source::Bind(src) = &m.source else {
        return Err(format!("{}: {target} is not a mounted file", osn.name));
    };
    let text = std::fs::read_to_string(compose_dir().join(src))
        .map_err(|e| format!("{}: {}: {e}", osn.name, src.display()))?;
    serde_yaml::from_str(&text).map_err(|e| format!("{}: {}: {e}", osn.name, src.display()))
}

fn static_checks(
    services: &[Service],
    image: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> Result<(), String> {
    let osns: Vec<&Service> = services.iter().filter(|s| s.is_osn()).collect();
    let brokers: Vec<&Service> = services.iter().filter(|s| s.is_broker()).collect();
    let first = osns.first().ok_or("kafka.yaml: no OSN service")?;
    let yaml = orderer_yaml(first, image)?;

    // Every OSN makes block 0 from its own settings: they must be the same.
    for o in &osns[1..] {
        if o.environment != first.environment {
            let differ: Vec<&String> = first
                .environment
                .keys()
                .chain(o.environment.keys())
                .filter(|k| first.environment.get(*k) != o.environment.get(*k))
                .collect();
            problems.push(format!(
                "{} and {} have different environments ({differ:?}): OSNs of one channel must make the same block 0",
                first.name, o.name
            ));
        }
        if orderer_yaml(o, image)? != yaml {
            problems.push(format!(
                "{} and {} mount different orderer.yaml files",
                first.name, o.name
            ));
        }
    }

    // Every OSN is in Orderer.Addresses, on its listen port.
    let addresses = setting(first, &yaml, "Orderer.Addresses").unwrap_or_default();
    for o in &osns {
        let port = setting(o, &yaml, "General.ListenPort")
            .or_else(|| image.get("ORDERER_GENERAL_LISTENPORT").cloned())
            .unwrap_or_else(|| "7050".to_owned());
        let want = format!("{}:{port}", o.name);
        if !list(&addresses).contains(&want) {
            problems.push(format!(
                "Orderer.Addresses {addresses} does not list {want} (the OSN {} listens on {port})",
                o.name
            ));
        }
    }

    // The brokers recorded in block 0 are the Kafka services.
    let advertised: BTreeSet<String> = brokers
        .iter()
        .filter_map(|b| b.environment.get("KAFKA_ADVERTISED_LISTENERS"))
        .flat_map(|l| list(l))
        .filter_map(|l| l.split_once("://").map(|(_, a)| a.to_owned()))
        .collect();
    let configured: BTreeSet<String> =
        list(&setting(first, &yaml, "Orderer.Kafka.Brokers").unwrap_or_default())
            .into_iter()
            .collect();
    if configured != advertised {
        problems.push(format!(
            "Orderer.Kafka.Brokers {configured:?} is not the brokers' advertised listeners {advertised:?}"
        ));
    }

    // Seed 003's broker settings.
    let absolute = setting(first, &yaml, "Orderer.BatchSize.AbsoluteMaxBytes")
        .and_then(|v| bytes(&v))
        .unwrap_or(10 * 1024 * 1024);
    let topic_rf: u64 = setting(first, &yaml, "Kafka.Topic.ReplicationFactor")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for b in &brokers {
        let get = |k: &str| b.environment.get(k).map(String::as_str).unwrap_or("");
        let num = |k: &str| get(k).parse::<i64>().ok();
        if get("KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE") != "false" {
            problems.push(format!(
                "{}: unclean.leader.election.enable must be false",
                b.name
            ));
        }
        let rf = num("KAFKA_DEFAULT_REPLICATION_FACTOR");
        let isr = num("KAFKA_MIN_INSYNC_REPLICAS");
        match (rf, isr) {
            (Some(rf), Some(isr)) if 1 < isr && isr < rf && (rf as usize) < brokers.len() => {}
            _ => problems.push(format!(
                "{}: want 1 < min.insync.replicas ({isr:?}) < default.replication.factor ({rf:?}) < brokers ({})",
                b.name,
                brokers.len()
            )),
        }
        if rf != Some(topic_rf as i64) {
            problems.push(format!(
                "{}: default.replication.factor {rf:?} differs from the OSNs' Kafka.Topic.ReplicationFactor {topic_rf}",
                b.name
            ));
        }
        let min = absolute + BROKER_SIZE_MARGIN;
        let message = num("KAFKA_MESSAGE_MAX_BYTES");
        let fetch = num("KAFKA_REPLICA_FETCH_MAX_BYTES");
        for (key, v) in [
            ("message.max.bytes", message),
            ("replica.fetch.max.bytes", fetch),
        ] {
            if v.is_none_or(|v| v as u64 <= min) {
                problems.push(format!(
                    "{}: {key} {v:?} must be above AbsoluteMaxBytes {absolute} + 1 MiB = {min}",
                    b.name
                ));
            }
        }
        if fetch > message {
            problems.push(format!(
                "{}: replica.fetch.max.bytes {fetch:?} above message.max.bytes {message:?}",
                b.name
            ));
        }
        if get("KAFKA_LOG_RETENTION_MS") != "-1" {
            problems.push(format!(
                "{}: log.retention.ms must be -1 (the partition is the channel's history)",
                b.name
            ));
        }
    }

    // Start order: OSNs after the init jobs and the brokers.
    for o in &osns {
        for dep in services.iter().filter(|s| s.is_init()) {
            if o.depends_on.get(&dep.name).map(String::as_str)
                != Some("service_completed_successfully")
            {
                problems.push(format!(
                    "{} does not wait for {} to complete",
                    o.name, dep.name
                ));
            }
        }
        for b in &brokers {
            if o.depends_on.get(&b.name).map(String::as_str) != Some("service_healthy") {
                problems.push(format!(
                    "{} does not wait for {} to be healthy",
                    o.name, b.name
                ));
            }
        }
    }

    // Prometheus scrapes every OSN's operations port (deploy/prometheus.yml).
    let prometheus: Value = serde_yaml::from_str(
        &std::fs::read_to_string(repo().join("deploy/prometheus.yml")).unwrap(),
    )
    .unwrap();
    let targets: BTreeSet<String> = prometheus["scrape_configs"]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|job| {
            job["static_configs"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|c| c["targets"].as_sequence().cloned().unwrap_or_default())
        .filter_map(|t| scalar(&t))
        .collect();
    for o in &osns {
        let ops = setting(o, &yaml, "Operations.ListenAddress")
            .or_else(|| image.get("ORDERER_OPERATIONS_LISTENADDRESS").cloned())
            .unwrap_or_default();
        let port = ops.rsplit_once(':').map_or("", |(_, p)| p);
        let want = format!("{}:{port}", o.name);
        if !targets.contains(&want) {
            problems.push(format!(
                "deploy/prometheus.yml does not scrape {want} (Operations.ListenAddress {ops})"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// The Kafka services, as an Apache Kafka cluster of the test kit.

/// Broker settings that name a node's own place (its id, roles, listeners, files):
/// the test kit sets them for its loopback ports. Every other `KAFKA_*` variable is
/// a setting the cluster runs with.
const NODE_KEYS: &[&str] = &[
    "KAFKA_NODE_ID",
    "KAFKA_PROCESS_ROLES",
    "KAFKA_LISTENERS",
    "KAFKA_ADVERTISED_LISTENERS",
    "KAFKA_CONTROLLER_QUORUM_VOTERS",
    "KAFKA_CONTROLLER_LISTENER_NAMES",
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
    "KAFKA_INTER_BROKER_LISTENER_NAME",
    "KAFKA_LOG_DIRS",
];

fn node_id(b: &Service) -> Result<u32, String> {
    let v = b.environment.get("KAFKA_NODE_ID");
    v.and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{}: KAFKA_NODE_ID {v:?} is not a node id", b.name))
}

/// The `server.properties` key of a `KAFKA_*` variable, as the apache/kafka image
/// reads it: `_` is `.`, `__` is `_`, `___` is `-`.
fn property(var: &str) -> Option<String> {
    let rest = var.strip_prefix("KAFKA_")?.to_lowercase();
    Some(
        rest.replace("___", "-")
            .replace("__", "\u{0}")
            .replace('_', ".")
            .replace('\u{0}', "_"),
    )
}

/// The cluster the Kafka services make: as many nodes, the same controllers (the
/// kit makes nodes 1..=C the controllers, and the quorum voters must be those), and
/// every broker setting of the services, with Kafka's defaults for the rest (no rule
/// of seed 003 added by the kit: what runs is what the file says).
fn cluster_spec(services: &[Service]) -> Result<ClusterSpec, String> {
    let mut brokers: Vec<(u32, &Service)> = services
        .iter()
        .filter(|s| s.is_broker())
        .map(|b| node_id(b).map(|id| (id, b)))
        .collect::<Result<_, _>>()?;
    brokers.sort_by_key(|(id, _)| *id);
    let ids: Vec<u32> = brokers.iter().map(|(id, _)| *id).collect();
    let want: Vec<u32> = (1..=brokers.len() as u32).collect();
    if ids != want {
        return Err(format!(
            "broker node ids {ids:?}: the test kit runs {want:?}"
        ));
    }
    let roles = |b: &Service| b.environment.get("KAFKA_PROCESS_ROLES").cloned();
    let controllers: Vec<u32> = brokers
        .iter()
        .filter(|(_, b)| roles(b).is_some_and(|r| list(&r).iter().any(|r| r == "controller")))
        .map(|(id, _)| *id)
        .collect();
    for (id, b) in &brokers {
        let want = if controllers.contains(id) {
            "broker,controller"
        } else {
            "broker"
        };
        let have = roles(b);
        if have.as_deref() != Some(want) {
            return Err(format!(
                "{}: KAFKA_PROCESS_ROLES {have:?}, want {want}",
                b.name
            ));
        }
        let voters: Vec<u32> = b
            .environment
            .get("KAFKA_CONTROLLER_QUORUM_VOTERS")
            .map(|v| list(v))
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.split_once('@').and_then(|(id, _)| id.parse().ok()))
            .collect();
        if voters != controllers {
            return Err(format!(
                "{}: KAFKA_CONTROLLER_QUORUM_VOTERS names {voters:?}, the controllers are {controllers:?}",
                b.name
            ));
        }
    }
    if controllers != (1..=controllers.len() as u32).collect::<Vec<_>>() {
        return Err(format!(
            "controllers {controllers:?}: the test kit makes the first nodes the controllers"
        ));
    }
    let settings = |b: &Service| -> BTreeMap<String, String> {
        b.environment
            .iter()
            .filter(|(k, _)| !NODE_KEYS.contains(&k.as_str()))
            .filter_map(|(k, v)| property(k).map(|p| (p, v.clone())))
            .collect()
    };
    let (_, first) = brokers[0];
    let shared = settings(first);
    for (_, b) in &brokers[1..] {
        if settings(b) != shared {
            return Err(format!(
                "{} and {} have different broker settings",
                first.name, b.name
            ));
        }
    }
    let mut spec = ClusterSpec::bare(brokers.len(), controllers.len());
    for (k, v) in &shared {
        spec = spec.with(k, v);
    }
    Ok(spec)
}

// ---------------------------------------------------------------------------------
// Running it.

/// The network, made ready: init run, every OSN's configuration checked.
struct Prepared {
    dir: tempfile::TempDir,
    /// Each OSN's name and process environment.
    osns: Vec<(String, Vec<(String, String)>)>,
}

impl Prepared {
    fn volume(&self, name: &str) -> PathBuf {
        self.dir.path().join("volumes").join(name)
    }
}

/// Parses `compose`, checks it, runs its init jobs and `orderer --check-config` for
/// each OSN, with `broker(node id)` standing in for each Kafka service.
fn prepare(compose: &str, broker: &dyn Fn(u32) -> String) -> Result<Prepared, String> {
    let services = parse_compose(compose)?;
    let image =
        image_environment(&std::fs::read_to_string(repo().join(ORDERER_DOCKERFILE)).unwrap());
    let mut problems = Vec::new();
    static_checks(&services, &image, &mut problems)?;
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    let mut brokers = BTreeMap::new();
    for b in services.iter().filter(|s| s.is_broker()) {
        let id = node_id(b)?;
        let advertised = b
            .environment
            .get("KAFKA_ADVERTISED_LISTENERS")
            .map(|l| list(l))
            .unwrap_or_default();
        for l in advertised {
            if let Some((_, addr)) = l.split_once("://") {
                brokers.insert(addr.to_owned(), broker(id));
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let local = |s| Local::new(dir.path(), s, &brokers);
    // Named volumes exist before any service starts, as with Docker.
    for s in &services {
        for m in &s.volumes {
            if let Source::Volume { name, .. } = &m.source {
                std::fs::create_dir_all(dir.path().join("volumes").join(name)).unwrap();
            }
        }
    }
    // The image's binaries, first on the PATH.
    let bin_dir = cli_bin().parent().unwrap().to_path_buf();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();

    for init in services.iter().filter(|s| s.is_init()) {
        let l = local(init);
        l.materialize_files()?;
        // The program (`/bin/sh`) is the image's: this machine's. Its arguments are
        // container paths.
        let mut args = init.entrypoint.clone();
        for a in &mut args[1..] {
            *a = l.value(a);
        }
        let out = Command::new(&args[0])
            .args(&args[1..])
            .env_clear()
            .env("PATH", &path)
            .envs(l.environment(&image))
            .output()
            .map_err(|e| format!("{}: running {args:?}: {e}", init.name))?;
        if !out.status.success() {
            return Err(format!(
                "{}: {args:?} failed ({}):\n{}{}",
                init.name,
                out.status,
                stdout(&out),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }

    let mut osns = Vec::new();
    for osn in services.iter().filter(|s| s.is_osn()) {
        // Docker refuses to start a container whose volume subpath does not exist.
        for m in &osn.volumes {
            if let Source::Volume {
                name,
                subpath: Some(sub),
            } = &m.source
            {
                if !dir.path().join("volumes").join(name).join(sub).is_dir() {
                    return Err(format!(
                        "{}: volume {name} has no subpath {sub} after the init jobs",
                        osn.name
                    ));
                }
            }
        }
        let l = local(osn);
        l.materialize_files()?;
        let env = l.environment(&image);
        let out = Command::new(orderer_bin())
            .arg("--check-config")
            .env_clear()
            .envs(env.iter().cloned())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || err.contains("warning") {
            return Err(format!(
                "{}: orderer --check-config with the service's settings ({}):\n{err}",
                osn.name, out.status
            ));
        }
        osns.push((osn.name.clone(), env));
    }
    Ok(Prepared { dir, osns })
}

/// `orderer-cli` arguments for Org1's client over mutual TLS, from the crypto volume.
fn client_args(crypto: &Path) -> Vec<String> {
    let p = |s: &str| crypto.join(s).display().to_string();
    vec![
        "--tls-ca".into(),
        p("orgs/OrdererMSP/msp/tlscacerts/tlsca-cert.pem"),
        "--tls-cert".into(),
        p("Org1/client/tls/server.crt"),
        "--tls-key".into(),
        p("Org1/client/tls/server.key"),
        "--msp-dir".into(),
        p("Org1/client/msp"),
        "--mspid".into(),
        "Org1MSP".into(),
    ]
}

/// The envelope count of `orderer-cli deliver`'s summary.
fn delivered_envelopes(out: &str) -> Option<usize> {
    let summary = out.lines().find(|l| l.starts_with("delivered "))?;
    let (_, rest) = summary.split_once(" holding ")?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn the_compose_network_runs_as_processes_and_every_osn_holds_the_same_chain() {
    // The brokers as the file defines them: seed 003's four nodes, with its settings.
    let spec = parse_compose(&kafka_yaml())
        .and_then(|services| cluster_spec(&services))
        .unwrap_or_else(|e| panic!("deploy/compose/kafka.yaml's brokers: {e}"));
    assert_eq!((spec.nodes, spec.controllers), (4, 3), "{spec:?}");
    let cluster = KafkaCluster::start(spec);
    let net = prepare(&kafka_yaml(), &|id| cluster.broker(id))
        .unwrap_or_else(|e| panic!("deploy/compose/kafka.yaml does not work:\n{e}"));
    assert_eq!(net.osns.len(), 3, "three OSNs");
    let osns: Vec<Orderer> = net
        .osns
        .iter()
        .map(|(name, env)| {
            let dir = net.dir.path().join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let o = Orderer::start_as_configured(&dir, &env);
            o.wait_for_log("Kafka chain started", 1);
            o
        })
        .collect();
    let client = client_args(&net.volume("crypto"));
    let with_client = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|s| s.to_string())
            .chain(client.iter().cloned())
            .collect()
    };

    // Envelopes through every OSN, as Org1's client over mutual TLS.
    for o in &osns {
        let args = with_client(&["broadcast", "--count", "150", "--size", "512"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = o.cli(&args);
        assert!(
            out.status.success() && stdout(&out).contains("acked 150 of 150"),
            "broadcast through {}: {}{}",
            o.addr(),
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Every OSN delivers the same blocks (same header hashes), the genesis block and
    // the 450 envelopes, cut by the compose configuration's BatchTimeout.
    let deliver = with_client(&["deliver", "--stop", "newest"]);
    let deliver: Vec<&str> = deliver.iter().map(String::as_str).collect();
    let deadline = Instant::now() + EVENT_TIMEOUT;
    let chain = loop {
        let outs: Vec<String> = osns.iter().map(|o| stdout(&o.cli(&deliver))).collect();
        let chains: Vec<Vec<String>> = outs.iter().map(|o| block_lines(o)).collect();
        let counts: Vec<Option<usize>> = outs.iter().map(|o| delivered_envelopes(o)).collect();
        if counts.iter().all(|c| *c == Some(451)) && chains.iter().all(|c| *c == chains[0]) {
            break chains[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "the OSNs' chains did not become the same:\n{}",
            outs.join("\n---\n")
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(chain.len() >= 2, "{chain:?}");

    // What the image's HEALTHCHECK asks.
    for o in &osns {
        let (status, body) = http(&o.ops(), "GET", "/healthz", None);
        assert_eq!(status, 200, "{}: {body}", o.ops());
    }

    // The orderer read the cluster's own configuration and found seed 003's rules
    // kept; the channel's partition has three in-sync replicas.
    // A check that could not read the cluster yet (a JVM slow to answer on a loaded
    // machine) says "not checked" and is followed by a clean one; a broken rule is
    // never followed by "meets".
    for o in &osns {
        o.wait_for_log("the cluster meets the Kafka cluster rules", 1);
        let log = o.log_text();
        let warned: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("Kafka cluster check:"))
            .filter(|l| !l.contains("meets the") && !l.contains("not checked"))
            .filter(|l| !l.contains("could not be checked"))
            .collect();
        assert!(warned.is_empty(), "{}: {warned:#?}", o.addr());
    }
    let topic = kafka::partition(&cluster.bootstrap(), "mychannel");
    assert!(
        topic
            .as_ref()
            .is_some_and(|p| p.replicas.len() == 3 && p.isr.len() == 3),
        "mychannel's partition: {topic:?}"
    );

    // Mutual TLS is on: without a client certificate the OSN refuses the connection.
    let crypto = net.volume("crypto");
    let ca = crypto.join("orgs/OrdererMSP/msp/tlscacerts/tlsca-cert.pem");
    let out = osns[0].cli(&[
        "broadcast",
        "--count",
        "1",
        "--tls-ca",
        ca.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "an OSN accepted a client without a certificate: {}",
        stdout(&out)
    );
    drop(osns);
    drop(cluster);
}

// Drift: each edit below makes the compose file wrong in a way only a deployment
// would show; the harness must refuse it. No broker is needed to see these.

/// `kafka_yaml()` with `from` replaced by `to` (which must be found).
fn edited(from: &str, to: &str) -> String {
    let text = kafka_yaml();
    assert!(text.contains(from), "kafka.yaml no longer holds {from:?}");
    text.replacen(from, to, 1)
}

fn refused(compose: &str) -> String {
    match prepare(compose, &|_| "127.0.0.1:9".to_owned()) {
        Ok(_) => panic!("a drifted compose file was accepted"),
        Err(e) => e,
    }
}

#[test]
fn a_misspelt_osn_environment_key_is_refused() {
    let e = refused(&edited(
        "ORDERER_GENERAL_TLS_CLIENTAUTHREQUIRED:",
        "ORDERER_GENERAL_TLS_CLIENTAUTHREQUIERD:",
    ));
    assert!(e.contains("ORDERER_GENERAL_TLS_CLIENTAUTHREQUIERD"), "{e}");
}

#[test]
fn an_osn_environment_variable_naming_no_setting_is_refused() {
    let e = refused(&edited(
        "  ORDERER_GENERAL_LOGLEVEL: info\n",
        "  ORDERER_GENERAL_LOGLEVEL: info\n  ORDERER_KAFKA_TOPIC_REPLICAS: \"3\"\n",
    ));
    assert!(e.contains("ORDERER_KAFKA_TOPIC_REPLICAS"), "{e}");
}

#[test]
fn an_osn_environment_path_outside_its_mounts_is_refused() {
    let e = refused(&edited(
        "/var/hyperledger/orderer/tls/server.crt",
        "/var/hyperledger/tls/server.crt",
    ));
    assert!(e.contains("General.TLS.Certificate"), "{e}");
}

#[test]
fn an_osn_without_crypto_material_from_init_is_refused() {
    let e = refused(&edited(
        "ORDERERS: orderer0,orderer1,orderer2",
        "ORDERERS: orderer0,orderer1",
    ));
    assert!(e.contains("orderer2") && e.contains("subpath"), "{e}");
}

#[test]
fn osns_with_different_settings_are_refused() {
    let text = edited(
        "  orderer1:\n    <<: *orderer\n",
        "  orderer1:\n    <<: *orderer\n    environment:\n      <<: *orderer-environment\n      ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT: \"10\"\n",
    );
    let e = refused(&text);
    assert!(
        e.contains("different environments") && e.contains("MAXMESSAGECOUNT"),
        "{e}"
    );
}

#[test]
fn broker_message_size_not_above_absolute_max_bytes_plus_one_mib_is_refused() {
    let e = refused(&edited(
        "KAFKA_REPLICA_FETCH_MAX_BYTES: \"12582912\"",
        "KAFKA_REPLICA_FETCH_MAX_BYTES: \"11534336\"",
    ));
    assert!(e.contains("replica.fetch.max.bytes"), "{e}");
}

#[test]
fn brokers_that_may_elect_an_unclean_leader_are_refused() {
    let e = refused(&edited(
        "KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE: \"false\"",
        "KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE: \"true\"",
    ));
    assert!(e.contains("unclean.leader.election.enable"), "{e}");
}

#[test]
fn an_osn_missing_from_orderer_addresses_is_refused() {
    let e = refused(&edited(
        "  orderer2:\n    <<: *orderer\n    hostname: orderer2\n",
        "  orderer3:\n    <<: *orderer\n    hostname: orderer3\n",
    ));
    assert!(e.contains("orderer3:7050"), "{e}");
}

#[test]
fn the_image_environment_is_read_from_the_runtime_stage() {
    let env = image_environment(
        "FROM a AS build\nENV X=1\nFROM b\nENV FABRIC_CFG_PATH=/etc/f \\\n    Y=2\n",
    );
    let want: BTreeMap<String, String> = [("FABRIC_CFG_PATH", "/etc/f"), ("Y", "2")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(env, want);
}

#[test]
fn the_brokers_run_the_apache_kafka_version_the_tests_run() {
    let services = parse_compose(&kafka_yaml()).unwrap();
    let want = format!("{BROKER_IMAGE}:{}", orderer_testkit::kafka_version());
    let brokers: Vec<&Service> = services.iter().filter(|s| s.is_broker()).collect();
    assert_eq!(brokers.len(), 4, "seed 003's four brokers");
    for b in brokers {
        assert_eq!(
            b.image, want,
            "{}'s image is not the Apache Kafka version pinned in deploy/kafka/VERSION",
            b.name
        );
    }
}

#[test]
fn the_kafka_services_make_seed_003s_cluster_with_their_own_settings() {
    let spec = cluster_spec(&parse_compose(&kafka_yaml()).unwrap()).unwrap();
    assert_eq!((spec.nodes, spec.controllers), (4, 3));
    let has = |k: &str, v: &str| spec.settings.iter().any(|(a, b)| a == k && b == v);
    for (k, v) in [
        ("min.insync.replicas", "2"),
        ("default.replication.factor", "3"),
        ("unclean.leader.election.enable", "false"),
        ("log.retention.ms", "-1"),
        ("message.max.bytes", "12582912"),
        ("replica.fetch.max.bytes", "12582912"),
    ] {
        assert!(has(k, v), "{k}={v} not in {:?}", spec.settings);
    }
    assert!(
        !spec.settings.iter().any(|(k, _)| k.starts_with("node.")),
        "a node's own setting leaked: {:?}",
        spec.settings
    );
    assert_eq!(
        property("KAFKA_LISTENER_NAME_X__Y___Z").as_deref(),
        Some("listener.name.x_y-z")
    );
}

#[test]
fn quorum_voters_that_are_not_the_controllers_are_refused() {
    let text = kafka_yaml().replace(
        "KAFKA_CONTROLLER_QUORUM_VOTERS: 1@kafka0:9093,2@kafka1:9093,3@kafka2:9093",
        "KAFKA_CONTROLLER_QUORUM_VOTERS: 1@kafka0:9093,2@kafka1:9093",
    );
    let e = cluster_spec(&parse_compose(&text).unwrap()).unwrap_err();
    assert!(e.contains("KAFKA_CONTROLLER_QUORUM_VOTERS"), "{e}");
}
