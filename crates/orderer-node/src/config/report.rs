//! Reporting the configuration: problems with where each value came from, the
//! effective configuration of `--check-config`, and the README's key table.

use std::collections::BTreeMap;

use figment::Figment;
use figment::value::Value;
use orderer_api::config::Problems;

use super::Config;
use super::layers::{ConfigError, DEFAULT_SOURCE, Loaded, describe, env_name, leaf, to_dict};

/// Validation problems as lines naming each value's source; PEM files are read here.
pub(super) fn report(found: Problems, sources: &BTreeMap<String, String>) -> Vec<String> {
    let source = |key: &str| {
        // `Channels[1].BatchTimeout` came with `Channels`.
        let base = key.split(['[', ' ']).next().unwrap_or(key);
        sources
            .get(base)
            .cloned()
            .unwrap_or_else(|| DEFAULT_SOURCE.into())
    };
    let mut lines: Vec<String> = found
        .problems
        .into_iter()
        .map(|p| match p.value {
            Some(v) => format!("{} = {v} ({}): {}", p.key, source(&p.key), p.expected),
            None => format!("{} ({}): {}", p.key, source(&p.key), p.expected),
        })
        .collect();
    for f in found.pem_files {
        if let Err(e) = check_pem_file(&f.path) {
            lines.push(format!(
                "{} = {:?} ({}): {}, so expected {e}",
                f.key,
                f.path,
                source(&f.key),
                f.because
            ));
        }
    }
    lines
}

/// A readable file holding PEM data; the error says what is wrong with it.
fn check_pem_file(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the path of a PEM file".into());
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("a readable PEM file ({e})"))?;
    if !text.contains("-----BEGIN ") {
        return Err("a PEM file (no -----BEGIN line found)".into());
    }
    Ok(())
}

pub(super) fn from_figment(err: figment::Error, figment: &Figment) -> ConfigError {
    let problems = err
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = describe(e.metadata.as_ref(), &key);
            let what = match &e.kind {
                figment::error::Kind::InvalidType(actual, expected) => {
                    format!("found {actual}, expected {expected}")
                }
                figment::error::Kind::InvalidValue(actual, expected) => {
                    format!("invalid value {actual}, expected {expected}")
                }
                figment::error::Kind::MissingField(field) => {
                    return format!("{key}: missing key {field} ({source})");
                }
                other => other.to_string(),
            };
            let shown = figment
                .find_value(&key)
                .ok()
                .map(|v| format!(" = {}", show_value(&v)))
                .unwrap_or_default();
            format!("{key}{shown} ({source}): {what}")
        })
        .collect();
    ConfigError { problems }
}

/// A value as written in YAML flow style.
pub(crate) fn show_value(v: &Value) -> String {
    match v {
        Value::String(_, s) => format!("{s:?}"),
        Value::Num(_, n) => match (n.to_u128(), n.to_f64()) {
            (Some(u), _) => u.to_string(),
            (None, Some(f)) => f.to_string(),
            _ => format!("{n:?}"),
        },
        Value::Bool(_, b) => b.to_string(),
        Value::Array(_, items) => format!(
            "[{}]",
            items.iter().map(show_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Dict(_, d) => format!(
            "{{{}}}",
            d.iter()
                .map(|(k, v)| format!("{k}: {}", show_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => format!("{other:?}"),
    }
}

impl Loaded {
    /// The effective configuration, one key a line with its source; secrets redacted.
    pub fn describe(&self) -> String {
        let values = to_dict(&self.config);
        let mut out = String::new();
        for doc in Config::keys() {
            let segments: Vec<&str> = doc.key.split('.').collect();
            let value = leaf(&values, &segments)
                .map(|v| match v {
                    Value::String(_, s) if doc.secret && !s.is_empty() => "<redacted>".to_owned(),
                    v => show_value(v),
                })
                .unwrap_or_else(|| "(unset)".into());
            let source = self
                .sources
                .get(doc.key)
                .map_or(DEFAULT_SOURCE, String::as_str);
            out.push_str(&format!("{} = {value}    # {source}\n", doc.key));
        }
        out
    }
}

/// The README's configuration table, generated from the sections' key docs and
/// defaults.
pub fn reference_table() -> String {
    let defaults = to_dict(&Config::default());
    let mut out =
        String::from("| Key | Default | Environment variable | Meaning |\n|---|---|---|---|\n");
    for doc in Config::keys() {
        let segments: Vec<&str> = doc.key.split('.').collect();
        let default = match leaf(&defaults, &segments) {
            Some(Value::String(_, s)) if s.is_empty() => "(empty)".to_owned(),
            Some(Value::String(_, s)) => format!("`{s}`"),
            Some(Value::Array(_, items))
                if items.iter().all(|i| matches!(i, Value::String(..))) =>
            {
                let names: Vec<String> = items
                    .iter()
                    .map(|i| match i {
                        Value::String(_, s) => s.clone(),
                        other => show_value(other),
                    })
                    .collect();
                format!("`[{}]`", names.join(", "))
            }
            Some(v) => format!("`{}`", show_value(v)),
            None => "(none)".into(),
        };
        out.push_str(&format!(
            "| `{}` | {default} | `{}` | {} |\n",
            doc.key,
            env_name(doc.key),
            doc.doc
        ));
    }
    out
}
