//! Reading the configuration: layers, key spelling, provenance and problem reports.
//!
//! Layers, later wins: built-in defaults, then the YAML file (or the embedded sample
//! configuration when no file is given), then `ORDERER_*` environment variables. An
//! environment variable's name is `ORDERER_` plus the key path upper-cased with `.`
//! replaced by `_`; keys match case-insensitively, as with Fabric's viper.
//!
//! A key in the file that neither Fabric nor this orderer knows is an error naming the
//! closest known key. Environment variables are gentler, as in Fabric: one that looks
//! like a typo of a key is an error, any other unknown one is named in a warning and
//! ignored (shells set up for Fabric export `ORDERER_CA` and the like).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Yaml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::fabric;
use super::report::{from_figment, report};
use super::{ChannelEntry, Config, Organization};

/// The sample configuration, used when no file is given.
pub const SAMPLE_CONFIG: &str = include_str!("../../../../sampleconfig/orderer.yaml");

/// Where the built-in sample configuration came from: its relative paths (the
/// development MSP, the ledger) are relative to this directory, as a file's are to
/// the file's directory.
pub const SAMPLE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sampleconfig");

const ENV_PREFIX: &str = "ORDERER_";
const ENV_SOURCE: &str = "environment";
const SAMPLE_SOURCE: &str = "embedded sample configuration";
pub(super) const DEFAULT_SOURCE: &str = "built-in default";

/// Everything wrong with a configuration, one problem per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration")?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// The embedded `sampleconfig/orderer.yaml`.
    Sample,
    /// A YAML file.
    File(PathBuf),
}

/// A loaded, validated configuration.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub source: ConfigSource,
    /// To log once at start: Fabric settings not used, environment variables ignored.
    pub warnings: Vec<String>,
    /// Where each key's value came from (`built-in default`, `file ...`,
    /// `environment variable ORDERER_...`).
    pub sources: BTreeMap<String, String>,
}

/// The file named by `--config`, else `$FABRIC_CFG_PATH/orderer.yaml` (a directory,
/// as in Fabric), else the embedded sample.
pub fn source_from(arg: Option<&Path>, fabric_cfg_path: Option<&Path>) -> ConfigSource {
    match (arg, fabric_cfg_path) {
        (Some(p), _) => ConfigSource::File(p.to_path_buf()),
        (None, Some(dir)) => ConfigSource::File(dir.join("orderer.yaml")),
        (None, None) => ConfigSource::Sample,
    }
}

/// Loads the configuration from `source` and the process environment.
pub fn load(source: ConfigSource) -> Result<Loaded, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    load_with_env(source, &env)
}

/// Loads the configuration from `source` and the given environment (for tests).
pub fn load_with_env(
    source: ConfigSource,
    env: &[(String, String)],
) -> Result<Loaded, ConfigError> {
    let schema = schema();
    let mut problems = Vec::new();
    let mut unused = BTreeSet::new();

    let (name, parsed) = match &source {
        ConfigSource::Sample => (SAMPLE_SOURCE.to_owned(), Yaml::string(SAMPLE_CONFIG).data()),
        ConfigSource::File(path) => {
            if !path.is_file() {
                return Err(ConfigError {
                    problems: vec![format!(
                        "config file {}: does not exist or is not a file",
                        path.display()
                    )],
                });
            }
            (
                format!("file {}", path.display()),
                Yaml::file_exact(path).data(),
            )
        }
    };
    let file = parsed
        .map_err(|e| ConfigError {
            problems: vec![format!("{name}: {e}")],
        })?
        .remove(&Profile::Default)
        .unwrap_or_default();
    let file = sort_keys(
        canonicalize(file, &schema),
        &schema,
        "",
        &name,
        &mut unused,
        &mut problems,
    );
    let (env_dict, ignored) = env_layer(&schema, env, &mut unused, &mut problems);
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }

    let figment = Figment::from(Named::new(
        Serialized::defaults(Config::default()),
        DEFAULT_SOURCE,
    ))
    .merge(Named::new(Serialized::defaults(file), &name))
    .merge(Named::new(Serialized::defaults(env_dict), ENV_SOURCE));
    let mut config: Config = figment.extract().map_err(|e| from_figment(e, &figment))?;
    let sources: BTreeMap<String, String> = node_paths(&schema, "")
        .into_iter()
        .map(|k| {
            let s = source_of(&k, &figment);
            (k, s)
        })
        .collect();
    resolve_paths(&mut config, &figment, &source);
    let found = config.validate();
    let problems = report(found, &sources);
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }

    for (key, src) in &sources {
        if src != DEFAULT_SOURCE {
            if let Some(k) = fabric::not_acted_on(key) {
                unused.insert(k.to_owned());
            }
        }
    }
    let mut warnings = Vec::new();
    if !unused.is_empty() {
        warnings.push(format!(
            "Fabric settings not used by this orderer: {} (see the README's Configuration section)",
            unused.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if !ignored.is_empty() {
        warnings.push(format!(
            "environment variables that name no configuration key, ignored: {}",
            ignored.join(", ")
        ));
    }
    Ok(Loaded {
        config,
        source,
        warnings,
        sources,
    })
}

/// The known keys, as a tree: the defaults, plus one entry with every key under
/// `Organizations` and `Channels`, so that their entries' keys are known too.
fn schema() -> Dict {
    let example = Config {
        channels: vec![ChannelEntry::schema_example()],
        organizations: vec![Organization {
            name: String::new(),
            id: String::new(),
            msp_dir: String::new(),
        }],
        ..Config::default()
    };
    to_dict(&example)
}

/// A value's serialized form as a tree of keys.
pub(super) fn to_dict(value: &impl serde::Serialize) -> Dict {
    Serialized::defaults(value)
        .data()
        .ok()
        .and_then(|mut m| m.remove(&Profile::Default))
        .unwrap_or_default()
}

/// Every key path of `schema` under `prefix`: sections and leaves (list items not
/// included).
fn node_paths(schema: &Dict, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in schema {
        let path = join(prefix, k);
        if let Value::Dict(_, d) = v {
            out.extend(node_paths(d, &path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Every path a user may write: sections, leaves, and the keys of list entries
/// (`Channels.BatchTimeout`), for suggestions.
fn all_paths(schema: &Dict, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in schema {
        let path = join(prefix, k);
        out.push(path.clone());
        match v {
            Value::Dict(_, d) => all_paths(d, &path, out),
            Value::Array(_, items) => {
                if let Some(Value::Dict(_, d)) = items.first() {
                    all_paths(d, &path, out);
                }
            }
            _ => {}
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Renames keys to their canonical spelling (`listenport` -> `ListenPort`) wherever
/// the schema knows them; other keys stay as written.
fn canonicalize(dict: Dict, schema: &Dict) -> Dict {
    dict.into_iter()
        .map(|(key, value)| {
            let Some((canon, sub)) = schema.iter().find(|(k, _)| k.eq_ignore_ascii_case(&key))
            else {
                return (key, value);
            };
            let value = match (value, sub) {
                (Value::Dict(tag, d), Value::Dict(_, sd)) => Value::Dict(tag, canonicalize(d, sd)),
                (Value::Array(tag, items), Value::Array(_, schema_items)) => {
                    let items = match schema_items.first() {
                        Some(Value::Dict(_, sd)) => items
                            .into_iter()
                            .map(|item| match item {
                                Value::Dict(t, d) => Value::Dict(t, canonicalize(d, sd)),
                                other => other,
                            })
                            .collect(),
                        _ => items,
                    };
                    Value::Array(tag, items)
                }
                (v, _) => v,
            };
            (canon.clone(), value)
        })
        .collect()
}

/// Drops Fabric-only keys (recording them in `unused`) and reports unknown ones.
fn sort_keys(
    dict: Dict,
    schema: &Dict,
    prefix: &str,
    source: &str,
    unused: &mut BTreeSet<String>,
    problems: &mut Vec<String>,
) -> Dict {
    let mut kept = Dict::new();
    for (key, value) in dict {
        let path = join(prefix, &key);
        match (schema.get(&key), value) {
            (Some(Value::Dict(_, sd)), Value::Dict(tag, d)) => {
                let d = sort_keys(d, sd, &path, source, unused, problems);
                kept.insert(key, Value::Dict(tag, d));
            }
            (Some(Value::Array(_, si)), Value::Array(tag, items)) => {
                let items = match si.first() {
                    Some(Value::Dict(_, sd)) => items
                        .into_iter()
                        .map(|item| match item {
                            Value::Dict(t, d) => {
                                Value::Dict(t, sort_keys(d, sd, &path, source, unused, problems))
                            }
                            other => other,
                        })
                        .collect(),
                    _ => items,
                };
                kept.insert(key, Value::Array(tag, items));
            }
            (Some(_), value) => {
                kept.insert(key, value);
            }
            (None, _) => {
                if let Some(k) = fabric::fabric_only(&path) {
                    unused.insert(k.to_owned());
                } else {
                    problems.push(unknown_key(&path, source));
                }
            }
        }
    }
    kept
}

fn unknown_key(path: &str, source: &str) -> String {
    let schema = schema();
    let mut known = Vec::new();
    all_paths(&schema, "", &mut known);
    match fabric::closest(path, known.iter().map(String::as_str)) {
        Some((best, d)) if d <= 3.max(path.len() / 5) => {
            format!("unknown key {path} ({source}); did you mean {best}?")
        }
        _ => {
            let parent = path.rsplit_once('.').map_or("", |(p, _)| p);
            let siblings: Vec<&str> = known
                .iter()
                .filter(|k| k.rsplit_once('.').map_or("", |(p, _)| p) == parent)
                .map(|k| k.rsplit('.').next().unwrap_or(k))
                .collect();
            format!(
                "unknown key {path} ({source}); valid keys here: {}",
                siblings.join(", ")
            )
        }
    }
}

/// `ORDERER_*` variables as a layer, plus the names of ignored ones.
fn env_layer(
    schema: &Dict,
    env: &[(String, String)],
    unused: &mut BTreeSet<String>,
    problems: &mut Vec<String>,
) -> (Dict, Vec<String>) {
    let mut dict = Dict::new();
    let mut ignored = Vec::new();
    let leaves = node_paths(schema, "");
    // Each key's variable name, for suggestions.
    let forms: Vec<String> = leaves.iter().map(|k| env_name(k)).collect();
    for (name, raw) in env {
        let Some(suffix) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let Some(path) = env_key_path(schema, suffix) else {
            if let Some(k) = fabric::fabric_only_env(suffix) {
                unused.insert(k.to_owned());
                continue;
            }
            match fabric::closest(name, forms.iter().map(String::as_str)) {
                Some((best, d)) if fabric::is_typo(suffix, d) => problems.push(format!(
                    "environment variable {name}: no configuration key matches; did you mean {best} ({})?",
                    leaves[forms.iter().position(|f| f == best).unwrap_or(0)]
                )),
                _ => ignored.push(name.clone()),
            }
            continue;
        };
        let segments: Vec<&str> = path.split('.').collect();
        let value = match leaf(schema, &segments) {
            // A string key takes the text as it is: ORDERER_OPERATIONS_LISTENADDRESS=8443
            // is the string "8443" (which validation then refuses with a reason).
            Some(Value::String(..)) => Value::from(raw.clone()),
            Some(Value::Array(..)) => match raw.parse::<Value>() {
                Ok(v @ Value::Array(..)) => v,
                // `ORDERER_CHANNELS=mychannel` means a list of one.
                Ok(v) => Value::from(vec![v]),
            },
            // Numbers and booleans parse as such; anything else stays a string and
            // extraction names the expected type.
            _ => {
                let Ok(v) = raw.parse::<Value>();
                v
            }
        };
        insert_path(&mut dict, &segments, value);
    }
    ignored.sort();
    (dict, ignored)
}

/// The canonical key path for an environment variable's suffix
/// (`GENERAL_LISTENPORT` -> `General.ListenPort`), or `None` for an unknown key.
fn env_key_path(schema: &Dict, suffix: &str) -> Option<String> {
    let mut level = schema;
    let mut path: Vec<String> = Vec::new();
    let mut segments = suffix.split('_').peekable();
    while let Some(seg) = segments.next() {
        let (canon, value) = level.iter().find(|(k, _)| k.eq_ignore_ascii_case(seg))?;
        path.push(canon.clone());
        match value {
            Value::Dict(_, d) if segments.peek().is_some() => level = d,
            // A section set whole, or a leaf with more after it: not a key.
            Value::Dict(..) => return None,
            _ if segments.peek().is_some() => return None,
            _ => {}
        }
    }
    (!path.is_empty()).then(|| path.join("."))
}

/// The schema's value at `path`, if the path names a key.
pub(super) fn leaf<'a>(schema: &'a Dict, path: &[&str]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut level = schema;
    for seg in parents {
        match level.get(*seg) {
            Some(Value::Dict(_, d)) => level = d,
            _ => return None,
        }
    }
    level.get(*last)
}

fn insert_path(dict: &mut Dict, path: &[&str], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        dict.insert((*first).to_owned(), value);
        return;
    }
    let entry = dict
        .entry((*first).to_owned())
        .or_insert_with(|| Value::from(Dict::new()));
    if !matches!(entry, Value::Dict(..)) {
        *entry = Value::from(Dict::new());
    }
    if let Value::Dict(_, d) = entry {
        insert_path(d, rest, value);
    }
}

/// A provider under a name of our choosing, for error messages.
struct Named<P> {
    inner: P,
    name: String,
}

impl<P> Named<P> {
    fn new(inner: P, name: &str) -> Self {
        Named {
            inner,
            name: name.to_owned(),
        }
    }
}

impl<P: Provider> Provider for Named<P> {
    fn metadata(&self) -> Metadata {
        let mut m = self.inner.metadata();
        m.name = self.name.clone().into();
        m
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        self.inner.data()
    }
}

/// The environment variable that sets `key`.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Where the value of `key` came from.
fn source_of(key: &str, figment: &Figment) -> String {
    describe(figment.find_metadata(key), key)
}

pub(super) fn describe(meta: Option<&Metadata>, key: &str) -> String {
    match meta {
        Some(m) if m.name == ENV_SOURCE => format!("environment variable {}", env_name(key)),
        Some(m) => m.name.to_string(),
        None => DEFAULT_SOURCE.into(),
    }
}

/// Makes relative paths absolute: relative to the file that set them, to the sample
/// configuration's directory, or (environment, defaults) to the working directory.
fn resolve_paths(config: &mut Config, figment: &Figment, source: &ConfigSource) {
    let base = |key: &str| -> Option<PathBuf> {
        let name = figment.find_metadata(key)?.name.to_string();
        match source {
            ConfigSource::File(path) if name.starts_with("file ") => {
                path.parent().map(Path::to_path_buf)
            }
            ConfigSource::Sample if name == SAMPLE_SOURCE => Some(PathBuf::from(SAMPLE_DIR)),
            _ => None,
        }
    };
    // Fabric's default genesis file sits beside the configuration file.
    let g = &mut config.general;
    if g.bootstrap_file.is_empty()
        && g.genesis_file.is_empty()
        && matches!(g.bootstrap(), super::Bootstrap::File(_))
    {
        let dir = match source {
            ConfigSource::File(path) => path.parent().map(Path::to_path_buf),
            ConfigSource::Sample => Some(PathBuf::from(SAMPLE_DIR)),
        };
        g.bootstrap_file = dir
            .unwrap_or_default()
            .join("genesisblock")
            .display()
            .to_string();
    }
    config.visit_paths(&mut |key, s| {
        if !s.is_empty() && Path::new(s.as_str()).is_relative() {
            if let Some(b) = base(key) {
                *s = b.join(&*s).display().to_string();
            }
        }
    });
}

#[cfg(test)]
pub(crate) fn schema_for_tests() -> Dict {
    schema()
}

/// A YAML text's keys in their canonical spelling, and the defaults, as trees.
#[cfg(test)]
pub(crate) fn file_and_defaults_for_tests(yaml: &str) -> (Dict, Dict) {
    let file = Yaml::string(yaml)
        .data()
        .ok()
        .and_then(|mut m| m.remove(&Profile::Default))
        .unwrap_or_default();
    (canonicalize(file, &schema()), to_dict(&Config::default()))
}

#[cfg(test)]
pub(crate) fn node_paths_for_tests(schema: &Dict) -> Vec<String> {
    node_paths(schema, "")
}
