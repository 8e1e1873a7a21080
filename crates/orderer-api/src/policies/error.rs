//! Why a policy could not be built, found or satisfied.
//!
//! [`PolicyError::NotSatisfied`] is what the orderer turns into a FORBIDDEN status:
//! its message names the policy path, the rule that failed and what happened to
//! each signature, so that a client can tell a missing signer from a bad one.

use std::fmt;

use thiserror::Error;

/// At most this many rejected signatures are listed in a message; the rest are
/// counted, so a config update with thousands of signatures yields a short reason.
const MAX_LISTED_REJECTIONS: usize = 8;

/// Why a policy could not be built, resolved or satisfied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    /// A `ConfigPolicy` without its `policy` field.
    #[error("policy {path} is empty: its config entry carries no policy")]
    MissingPolicy { path: String },
    /// A policy type this engine does not evaluate: MSP (never implemented by
    /// Fabric either), UNKNOWN, or a number outside the enum.
    #[error("policy {path} has unsupported type {}", policy_type_name(*policy_type))]
    UnsupportedType { path: String, policy_type: i32 },
    /// The policy's definition is malformed.
    #[error("policy {path} is invalid: {source}")]
    Invalid {
        path: String,
        #[source]
        source: CompileError,
    },
    /// A group or policy name that would make paths ambiguous (empty, or with '/').
    #[error(
        "config group {parent} has an entry named {name:?}: names must be non-empty and contain no '/'"
    )]
    InvalidName { parent: String, name: String },
    /// Config groups nested deeper than [`MAX_GROUP_DEPTH`](super::MAX_GROUP_DEPTH).
    #[error("config group {path} is nested too deep (more than {max} levels)")]
    GroupsTooDeep { path: String, max: usize },
    /// No policy has this path.
    #[error("no such policy {path}")]
    NotFound { path: String },
    /// The signatures do not satisfy the policy.
    #[error("{0}")]
    NotSatisfied(Box<Unsatisfied>),
}

/// Why a policy definition was refused when it was compiled.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CompileError {
    /// The policy bytes are not the message its type announces.
    #[error("value is not a valid {message}: {reason}")]
    Decode {
        message: &'static str,
        reason: String,
    },
    /// Only version 0 of `SignaturePolicyEnvelope` exists.
    #[error("signature policy version {0} is not supported (only version 0 is)")]
    UnsupportedVersion(i32),
    /// A rule (`at`) is absent or has neither `signed_by` nor `n_out_of`.
    #[error("{at} is missing or has no type")]
    MissingRule { at: String },
    /// `signed_by` names an identity the envelope does not list.
    #[error("{at} is signed_by({index}) but the policy lists {identities} identities")]
    SignedByOutOfRange {
        at: String,
        index: i32,
        identities: usize,
    },
    /// `n_out_of` asks for a negative count (which would accept anything) or for
    /// more rules than it has (which nothing can satisfy).
    #[error("{at} needs {n} of {rules} rules: n must be between 0 and {rules}")]
    NOutOfRange { at: String, n: i32, rules: usize },
    /// Rules nested deeper than [`MAX_RULE_DEPTH`](super::MAX_RULE_DEPTH).
    #[error("{at} is nested too deep (more than {max} levels)")]
    TooDeep { at: String, max: usize },
    /// An implicit meta rule outside ANY, ALL, MAJORITY.
    #[error("implicit meta rule {0} is not ANY, ALL or MAJORITY")]
    UnknownImplicitMetaRule(i32),
}

/// A failed evaluation: which policy, why, and what became of the signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsatisfied {
    /// The policy's absolute path, e.g. `/Channel/Writers`.
    pub path: String,
    /// The rule that failed, with its failed sub-policies.
    pub reason: String,
    /// The MSP ID of each identity the policy was evaluated over, in order.
    pub signers: Vec<String>,
    /// The signatures left out before evaluation, and why.
    pub rejected: Vec<RejectedSignature>,
}

impl fmt::Display for Unsatisfied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy {} not satisfied: {}", self.path, self.reason)?;
        if self.signers.is_empty() {
            write!(f, "; no valid signer")?;
        } else {
            write!(f, "; valid signers: {}", self.signers.join(", "))?;
        }
        for rejected in self.rejected.iter().take(MAX_LISTED_REJECTIONS) {
            write!(f, "; {rejected}")?;
        }
        if self.rejected.len() > MAX_LISTED_REJECTIONS {
            let more = self.rejected.len() - MAX_LISTED_REJECTIONS;
            write!(f, "; {more} more signatures rejected")?;
        }
        Ok(())
    }
}

/// A signature that did not take part in an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedSignature {
    /// Position of the signature in the signed data (or of the identity in the
    /// identities) given to the evaluation.
    pub index: usize,
    pub reason: Rejection,
}

impl fmt::Display for RejectedSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signature {}: {}", self.index, self.reason)
    }
}

/// Why a signature did not take part in an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The MSPs refused the creator (unknown MSP, untrusted, expired, malformed...).
    CreatorRefused(String),
    /// The same identity as the earlier signature `of`, which already counts.
    Duplicate { of: usize },
    /// The signature does not verify under the creator's key.
    InvalidSignature(String),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::CreatorRefused(reason) => write!(f, "creator refused: {reason}"),
            Rejection::Duplicate { of } => {
                write!(f, "same identity as signature {of}, counted once")
            }
            Rejection::InvalidSignature(reason) => write!(f, "invalid signature: {reason}"),
        }
    }
}

fn policy_type_name(policy_type: i32) -> String {
    use crate::proto::common::policy::PolicyType;
    match PolicyType::try_from(policy_type) {
        Ok(t) => t.as_str_name().to_owned(),
        Err(_) => policy_type.to_string(),
    }
}
