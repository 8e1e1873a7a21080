//! What is wrong with a channel configuration, and where.

use thiserror::Error;

use crate::error::EnvelopeError;

/// The class of a [`ConfigError`]: a wrong config and a config this orderer cannot
/// serve are told apart, because the operator's fix differs (edit the config, or run
/// another orderer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConfigErrorKind {
    /// Bytes that do not decode as the message the key stands for.
    Malformed,
    /// A value or group that Fabric does not allow in this place, or a required one
    /// that is absent.
    Structure,
    /// A value that decodes but breaks one of Fabric's rules (a zero batch size, a
    /// broker without a port, two different MSPs under one ID).
    Invalid,
    /// A valid Fabric config that this orderer cannot serve: etcdraft or BFT consensus,
    /// a capability such as `V3_0`, a hashing algorithm other than SHA256.
    Unsupported,
}

/// A channel configuration that breaks a rule, named by its config path
/// (`/Channel/Orderer/BatchSize`) and the problem.
///
/// Displays as `"{path}: {reason}"`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{path}: {reason}")]
pub struct ConfigError {
    /// Where: a group (`/Channel/Orderer/SampleOrg`) or a value
    /// (`/Channel/Orderer/BatchSize`), the value's path even when it is missing.
    pub path: String,
    /// What kind of problem.
    pub kind: ConfigErrorKind,
    /// The problem, in words, with the offending value when it helps.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(
        path: impl Into<String>,
        kind: ConfigErrorKind,
        reason: impl Into<String>,
    ) -> Self {
        ConfigError {
            path: path.into(),
            kind,
            reason: reason.into(),
        }
    }

    pub(crate) fn malformed(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(path, ConfigErrorKind::Malformed, reason)
    }

    pub(crate) fn structure(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(path, ConfigErrorKind::Structure, reason)
    }

    pub(crate) fn invalid(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(path, ConfigErrorKind::Invalid, reason)
    }

    pub(crate) fn unsupported(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(path, ConfigErrorKind::Unsupported, reason)
    }
}

/// Why a block or envelope does not carry a readable channel configuration.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConfigBlockError {
    /// The block has no header, so it has no number.
    #[error("config block has no header")]
    MissingHeader,
    /// A config block holds its CONFIG envelope and nothing else.
    #[error("config block {number} holds {count} envelopes, a config block holds exactly one")]
    EnvelopeCount { number: u64, count: usize },
    /// The envelope, its payload or its headers do not decode.
    #[error("config envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    /// The envelope is of another type than CONFIG.
    #[error("envelope has header type {found}, a config envelope has type CONFIG (1)")]
    NotConfig { found: i32 },
    /// The payload data is not a `common.ConfigEnvelope`.
    #[error("payload data is not a valid common.ConfigEnvelope: {0}")]
    MalformedConfigEnvelope(String),
    /// The `ConfigEnvelope` has no `config`.
    #[error("ConfigEnvelope has no config")]
    MissingConfig,
    /// The `Config` has no `channel_group`.
    #[error("Config has no channel group")]
    MissingChannelGroup,
    /// The configuration was read but breaks a rule.
    #[error("channel {channel}: {error}")]
    Values { channel: String, error: ConfigError },
}
