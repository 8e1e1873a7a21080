//! A compiled policy at its path, and its evaluation over signed data.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use bytes::Bytes;

use super::error::{PolicyError, Unsatisfied};
use super::implicit_meta::{CompiledImplicitMeta, SubPolicy};
use super::signature::CompiledSignaturePolicy;
use super::signature_set::SignatureSet;
use super::{Identity, IdentityDeserializer, SignedData};
use crate::proto::common::SignaturePolicyEnvelope;

/// An explanation stops growing near this many bytes: nested implicit policies over
/// many organizations would otherwise make an unbounded message.
const MAX_REASON_LEN: usize = 2048;

/// Failed sub-policies listed per implicit policy in an explanation.
const MAX_LISTED_SUB_POLICIES: usize = 8;

/// A compiled policy, named by its absolute path (e.g. `/Channel/Orderer/Writers`).
///
/// Immutable and `Send + Sync`: share it behind an `Arc`. Evaluation is pure apart
/// from the calls to the identities and the deserializer it is given.
#[derive(Debug, Clone)]
pub struct Policy {
    path: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Signature(CompiledSignaturePolicy),
    ImplicitMeta(CompiledImplicitMeta),
}

impl Policy {
    /// Compiles a signature policy to be known as `path`. Refuses a malformed
    /// envelope (see [`CompileError`](super::CompileError)) with an error naming
    /// `path`.
    pub fn from_signature_envelope(
        path: impl Into<String>,
        envelope: &SignaturePolicyEnvelope,
    ) -> Result<Self, PolicyError> {
        let path = path.into();
        match CompiledSignaturePolicy::compile(envelope) {
            Ok(compiled) => Ok(Policy {
                path,
                kind: Kind::Signature(compiled),
            }),
            Err(source) => Err(PolicyError::Invalid { path, source }),
        }
    }

    /// Decodes and compiles the value of a SIGNATURE-type `common.Policy`.
    pub(crate) fn signature_from_bytes(path: String, value: Bytes) -> Result<Self, PolicyError> {
        match CompiledSignaturePolicy::decode(value) {
            Ok(compiled) => Ok(Policy {
                path,
                kind: Kind::Signature(compiled),
            }),
            Err(source) => Err(PolicyError::Invalid { path, source }),
        }
    }

    pub(crate) fn implicit_meta(path: String, compiled: CompiledImplicitMeta) -> Self {
        Policy {
            path,
            kind: Kind::ImplicitMeta(compiled),
        }
    }

    /// The policy's absolute path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Evaluates the policy over signatures, as Fabric 2.x does: each signature's
    /// creator is deserialized by `deserializer` (refused ones are left out), a
    /// signer counts once (its first valid signature), invalid signatures are left
    /// out, and the policy is evaluated over the remaining identities.
    ///
    /// A left-out signature is not an error in itself; it only matters if the
    /// policy then fails, and the [`PolicyError::NotSatisfied`] returned then says
    /// why each one was left out.
    pub fn evaluate_signed_data(
        &self,
        signed: &[SignedData],
        deserializer: &dyn IdentityDeserializer,
    ) -> Result<(), PolicyError> {
        self.evaluate_set(SignatureSet::from_signed_data(signed, deserializer))
    }

    /// Evaluates the policy over identities whose signatures were already checked.
    /// Repeats of one identity ([`Identity::unique_id`]) count once.
    pub fn evaluate_identities(&self, identities: &[Arc<dyn Identity>]) -> Result<(), PolicyError> {
        self.evaluate_set(SignatureSet::from_identities(identities))
    }

    fn evaluate_set(&self, set: SignatureSet) -> Result<(), PolicyError> {
        if self.is_satisfied_by(&set.identities) {
            return Ok(());
        }
        // The fast path above builds no message; only a failure pays for one.
        let mut reason = String::new();
        self.explain(&set.identities, &mut reason);
        Err(PolicyError::NotSatisfied(Box::new(Unsatisfied {
            path: self.path.clone(),
            reason,
            signers: set
                .identities
                .iter()
                .map(|id| id.msp_id().to_owned())
                .collect(),
            rejected: set.rejected,
        })))
    }

    /// Whether distinct, verified `identities` satisfy the policy.
    pub(crate) fn is_satisfied_by(&self, identities: &[Arc<dyn Identity>]) -> bool {
        match &self.kind {
            Kind::Signature(policy) => policy.is_satisfied_by(identities),
            Kind::ImplicitMeta(policy) => {
                if policy.threshold == 0 {
                    return true;
                }
                let mut satisfied = 0;
                for sub in &policy.subs {
                    if let SubPolicy::Found(sub) = sub {
                        if sub.is_satisfied_by(identities) {
                            satisfied += 1;
                            if satisfied >= policy.threshold {
                                return true;
                            }
                        }
                    }
                }
                false
            }
        }
    }

    /// Appends why `identities` do not satisfy the policy to `out`.
    fn explain(&self, identities: &[Arc<dyn Identity>], out: &mut String) {
        // Writing to a String cannot fail: results of write! are ignored below.
        match &self.kind {
            Kind::Signature(policy) => {
                let _ = write!(out, "signature policy {policy} not satisfied");
            }
            Kind::ImplicitMeta(policy) => {
                let failed: Vec<&SubPolicy> = policy
                    .subs
                    .iter()
                    .filter(|sub| match sub {
                        SubPolicy::Found(sub) => !sub.is_satisfied_by(identities),
                        SubPolicy::Missing { .. } => true,
                    })
                    .collect();
                let _ = write!(
                    out,
                    "implicit policy {} {} needs {} of {} sub-policies, {} satisfied",
                    policy.rule.as_str_name(),
                    policy.sub_policy,
                    policy.threshold,
                    policy.subs.len(),
                    policy.subs.len() - failed.len(),
                );
                if failed.is_empty() {
                    return;
                }
                out.push_str(" [");
                for (i, sub) in failed.iter().take(MAX_LISTED_SUB_POLICIES).enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if out.len() > MAX_REASON_LEN {
                        out.push_str("...");
                        break;
                    }
                    let _ = write!(out, "{}: ", sub.path());
                    match sub {
                        SubPolicy::Found(sub) => sub.explain(identities, out),
                        SubPolicy::Missing { .. } => out.push_str("no such policy"),
                    }
                }
                if failed.len() > MAX_LISTED_SUB_POLICIES {
                    let _ = write!(out, ", {} more", failed.len() - MAX_LISTED_SUB_POLICIES);
                }
                out.push(']');
            }
        }
    }
}

impl Policy {
    /// The rule alone, as [`Display`](fmt::Display) shows it after the path:
    /// `ANY Writers`, `OR('Org1MSP.member')`.
    pub fn rule_text(&self) -> String {
        match &self.kind {
            Kind::Signature(policy) => policy.to_string(),
            Kind::ImplicitMeta(policy) => {
                format!("{} {}", policy.rule.as_str_name(), policy.sub_policy)
            }
        }
    }
}

/// `path: rule`, e.g. `/Channel/Writers: ANY Writers` or
/// `/Channel/Orderer/Org1/Writers: OR('Org1MSP.member')`.
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Signature(_) | Kind::ImplicitMeta(_) => {
                write!(f, "{}: {}", self.path, self.rule_text())
            }
        }
    }
}
