//! Building blocks of `orderer.yaml` sections, shared by every crate that owns one.
//!
//! Each crate keeps its section as a serde type beside the code that reads it, with
//! its defaults ([`Default`]), its key documentation ([`Section::KEYS`]) and its
//! validation ([`Section::validate`]). The node only layers the sources (defaults,
//! file, environment), composes the sections and reports problems with where each
//! value came from. Values are parsed here once: Go durations ([`GoDuration`]) and
//! byte sizes ([`ByteSize`]).

mod orderer;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::duration;

pub use orderer::{BatchSizeSection, OrdererKafkaSection, OrdererSection};

/// One documented key of a section: its full path in `orderer.yaml`
/// (`General.ListenPort`) and what it means. Defaults come from the section's
/// [`Default`], so they are written once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDoc {
    pub key: &'static str,
    pub doc: &'static str,
    /// Shown as `<redacted>` by `orderer --check-config`.
    pub secret: bool,
    /// Read as a file or directory path: relative paths are resolved against the
    /// directory of the file that set them.
    pub path: bool,
}

impl KeyDoc {
    pub const fn new(key: &'static str, doc: &'static str) -> KeyDoc {
        KeyDoc {
            key,
            doc,
            secret: false,
            path: false,
        }
    }

    /// A key whose value is a path (or a list of paths).
    pub const fn path(key: &'static str, doc: &'static str) -> KeyDoc {
        KeyDoc {
            path: true,
            ..KeyDoc::new(key, doc)
        }
    }

    /// A key whose value must not be printed.
    pub const fn secret(key: &'static str, doc: &'static str) -> KeyDoc {
        KeyDoc {
            secret: true,
            ..KeyDoc::new(key, doc)
        }
    }
}

/// A section of `orderer.yaml` owned by one crate.
pub trait Section: Serialize + Default {
    /// Every key of the section, documented. A test checks that this list and the
    /// serde type name the same keys, and the README's table is checked against it.
    const KEYS: &'static [KeyDoc];

    /// Checks what serde cannot: ranges and relations between keys. Only called when
    /// the section is used (e.g. `Kafka` only when a channel orders through Kafka).
    fn validate(&self, problems: &mut Problems);

    /// Hands every path-valued key to `visit` (with its full key), so the node can
    /// resolve relative paths against the file that set them.
    fn visit_paths(&mut self, _visit: &mut dyn FnMut(&'static str, &mut String)) {}
}

/// One thing wrong with a configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The full key path, `Kafka.Retry.ShortTotal` or `Channels[1].BatchTimeout`.
    pub key: String,
    /// The value as shown to the user, if one is worth showing.
    pub value: Option<String>,
    /// What was expected, as a sentence fragment: "expected a positive duration".
    pub expected: String,
}

/// A PEM file a section needs, checked by the node (this crate does no I/O).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemCheck {
    pub key: String,
    pub path: String,
    /// Why the file is needed: "Kafka.TLS.Enabled is true".
    pub because: String,
}

/// Problems found by validation; the node adds where each value came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems {
    pub problems: Vec<Problem>,
    /// Files to check for readable PEM content.
    pub pem_files: Vec<PemCheck>,
}

impl Problems {
    /// `path` (the value of `key`) must be a readable PEM file, `because` ...
    pub fn pem_file(&mut self, key: &str, path: &str, because: &str) {
        self.pem_files.push(PemCheck {
            key: key.to_owned(),
            path: path.to_owned(),
            because: because.to_owned(),
        });
    }

    /// `key` has `value`, and `expected` says what it should be.
    pub fn bad(
        &mut self,
        key: impl Into<String>,
        value: impl fmt::Display,
        expected: impl Into<String>,
    ) {
        self.problems.push(Problem {
            key: key.into(),
            value: Some(value.to_string()),
            expected: expected.into(),
        });
    }

    /// A problem with `key` where no single value explains it.
    pub fn about(&mut self, key: impl Into<String>, expected: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            value: None,
            expected: expected.into(),
        });
    }

    /// A duration key that must be positive.
    pub fn positive(&mut self, key: &str, d: GoDuration) {
        if d.0.is_zero() {
            self.bad(key, d, "expected a positive duration like 500ms or 2s");
        }
    }

    /// A string key that must not be empty.
    pub fn non_empty(&mut self, key: &str, s: &str, expected: &str) {
        if s.trim().is_empty() {
            self.bad(key, "\"\"", expected);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.problems.is_empty() && self.pem_files.is_empty()
    }
}

/// Why a text is not `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostPortError {
    #[error("expected host:port, like 127.0.0.1:9092 (the port is missing)")]
    MissingPort,
    #[error("expected host:port with a host name or IP address")]
    MissingHost,
    #[error("expected host:port with a port 1-65535, got port {port:?}")]
    BadPort { port: String },
}

/// `host:port` syntax: a non-empty host and a port 1-65535.
pub fn check_host_port(s: &str) -> Result<(), HostPortError> {
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(HostPortError::MissingPort);
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() && !s.starts_with(':') {
        return Err(HostPortError::MissingHost);
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(HostPortError::BadPort {
            port: port.to_owned(),
        }),
    }
}

/// A key written without a value (`User:`), as Fabric's sample leaves many, is the
/// type's empty value.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A duration written the Go way (`500ms`, `2s`, `1m30s`), as in Fabric's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    pub const fn secs(s: u64) -> GoDuration {
        GoDuration(Duration::from_secs(s))
    }

    pub const fn millis(ms: u64) -> GoDuration {
        GoDuration(Duration::from_millis(ms))
    }
}

impl fmt::Display for GoDuration {
    /// Go's notation without its zero tails: `2h`, `1m30s`, `500ms` (Go writes `2h0m0s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = duration::format(self.0);
        if s.ends_with("m0s") {
            s.truncate(s.len() - 2);
        }
        if s.ends_with("h0m") {
            s.truncate(s.len() - 2);
        }
        f.write_str(&s)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like 500ms, 2s, 1m30s or 1h")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<GoDuration, E> {
                duration::parse(v).map(GoDuration).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<GoDuration, E> {
                if v == 0 {
                    return Ok(GoDuration(Duration::ZERO));
                }
                Err(E::custom(format!(
                    "expected a duration with a unit like 500ms, 2s, 1m30s or 1h, got the bare number {v}"
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<GoDuration, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!(
                        "expected a non-negative duration like 500ms or 2s, got {v}"
                    ))),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A byte count: a number, or a number with a unit (`512 KB`, `10 MB`, `1 GiB`).
/// Units are powers of 1024, as in Fabric's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

/// Why a text is not a byte count: a bad number or unit, or more than 2^64-1 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a size like 1048576, 512 KB, 10 MB or 1 GB, got {text:?}")]
pub struct ByteSizeError {
    /// The text as given.
    pub text: String,
}

impl ByteSize {
    pub fn parse(text: &str) -> Result<ByteSize, ByteSizeError> {
        let expected = || ByteSizeError {
            text: text.to_owned(),
        };
        let s = text.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num.parse().map_err(|_| expected())?;
        let scale: u64 = match unit.trim().to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "K" | "KB" | "KIB" => 1 << 10,
            "M" | "MB" | "MIB" => 1 << 20,
            "G" | "GB" | "GIB" => 1 << 30,
            _ => return Err(expected()),
        };
        n.checked_mul(scale).map(ByteSize).ok_or_else(expected)
    }

    /// The size as a 32-bit field of a channel config, or a problem naming `key`.
    pub fn to_u32(self, key: &str) -> Result<u32, Problem> {
        u32::try_from(self.0).map_err(|_| Problem {
            key: key.to_owned(),
            value: Some(self.to_string()),
            expected: "expected at most 4 GB (it is a 32-bit field of the channel config)".into(),
        })
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, scale) in [("GB", 1u64 << 30), ("MB", 1 << 20), ("KB", 1 << 10)] {
            if n >= scale && n % scale == 0 {
                return write!(f, "{} {unit}", n / scale);
            }
        }
        write!(f, "{n}")
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size like 1048576, 512 KB, 10 MB or 1 GB")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("expected a non-negative size, got {v}")))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_parse_and_print() {
        assert_eq!(ByteSize::parse("1048576"), Ok(ByteSize(1 << 20)));
        assert_eq!(ByteSize::parse("512 KB"), Ok(ByteSize(512 << 10)));
        assert_eq!(ByteSize::parse("10MB"), Ok(ByteSize(10 << 20)));
        assert_eq!(ByteSize::parse("1 GiB"), Ok(ByteSize(1 << 30)));
        assert_eq!(
            ByteSize::parse("10 XB").unwrap_err().to_string(),
            "expected a size like 1048576, 512 KB, 10 MB or 1 GB, got \"10 XB\""
        );
        assert!(ByteSize::parse("").is_err());
        assert!(ByteSize::parse("99999999999999999999 GB").is_err());
        assert_eq!(ByteSize(10 << 20).to_string(), "10 MB");
        assert_eq!(ByteSize(1000).to_string(), "1000");
        assert!(
            ByteSize(5 << 30)
                .to_u32("X")
                .unwrap_err()
                .expected
                .contains("4 GB")
        );
    }

    #[test]
    fn durations_print_without_zero_tails() {
        for (secs, text) in [
            (7200, "2h"),
            (60, "1m"),
            (90, "1m30s"),
            (3660, "1h1m"),
            (2, "2s"),
        ] {
            assert_eq!(GoDuration::secs(secs).to_string(), text);
            assert_eq!(duration::parse(text), Ok(Duration::from_secs(secs)));
        }
        assert_eq!(GoDuration::millis(250).to_string(), "250ms");
    }

    #[test]
    fn host_port_syntax() {
        assert!(check_host_port("kafka0:9092").is_ok());
        assert!(check_host_port("[::1]:9092").is_ok());
        assert_eq!(
            check_host_port("kafka0").unwrap_err().to_string(),
            "expected host:port, like 127.0.0.1:9092 (the port is missing)"
        );
        assert_eq!(
            check_host_port("kafka0:0").unwrap_err().to_string(),
            "expected host:port with a port 1-65535, got port \"0\""
        );
        assert!(check_host_port(":9092").is_ok());
    }
}
