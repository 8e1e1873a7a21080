//! Signature policies (Fabric's cauthdsl): a tree of `n_out_of` gates over
//! `signed_by` leaves, each leaf naming one principal of the envelope.
//!
//! Evaluation follows Fabric exactly, because every orderer of a channel must reach
//! the same verdict on the same signatures:
//!
//! * identities are tried in order, and a leaf takes the first identity not yet used
//!   in this evaluation that satisfies its principal, marking it used: one signer
//!   satisfies at most one leaf;
//! * a gate tries all its rules in order (no short-circuit, so a satisfied rule
//!   consumes identities even once the threshold is reached), each on a copy of the
//!   used marks; a satisfied rule's marks are kept, a failed rule's are discarded.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;

use super::error::CompileError;
use super::{Identity, MAX_RULE_DEPTH};
use crate::proto::common::msp_principal::Classification;
use crate::proto::common::msp_role::MspRoleType;
use crate::proto::common::signature_policy::Type;
use crate::proto::common::{MspPrincipal, MspRole, SignaturePolicy, SignaturePolicyEnvelope};

/// Rendering of a policy in messages stops near this many bytes, so a policy
/// listing hundreds of organizations does not make a huge error.
const MAX_RENDERED_LEN: usize = 512;

/// A compiled signature policy: its rule tree with indices checked, and its
/// principals.
#[derive(Debug, Clone)]
pub(crate) struct CompiledSignaturePolicy {
    rule: Rule,
    principals: Vec<MspPrincipal>,
}

#[derive(Debug, Clone)]
enum Rule {
    /// Index into `principals`, checked at compile time.
    SignedBy(usize),
    /// Needs `n` (at most `rules.len()`) satisfied rules.
    NOutOf { n: usize, rules: Vec<Rule> },
}

impl CompiledSignaturePolicy {
    /// Decodes a marshalled `SignaturePolicyEnvelope` and compiles it.
    pub(crate) fn decode(value: Bytes) -> Result<Self, CompileError> {
        let envelope =
            SignaturePolicyEnvelope::decode(value).map_err(|e| CompileError::Decode {
                message: "SignaturePolicyEnvelope",
                reason: e.to_string(),
            })?;
        Self::compile(&envelope)
    }

    /// Checks `envelope` (version 0, a rule everywhere, `signed_by` indices within
    /// the identities, `0 <= n <= rules`, depth at most [`MAX_RULE_DEPTH`]) and
    /// compiles it.
    pub(crate) fn compile(envelope: &SignaturePolicyEnvelope) -> Result<Self, CompileError> {
        if envelope.version != 0 {
            return Err(CompileError::UnsupportedVersion(envelope.version));
        }
        let mut at = Vec::new();
        let rule = compile_rule(envelope.rule.as_ref(), envelope.identities.len(), &mut at)?;
        Ok(CompiledSignaturePolicy {
            rule,
            principals: envelope.identities.clone(),
        })
    }

    /// Whether `identities` satisfy the policy. Each identity is one signer: the
    /// caller dedupes identities first (two copies of one signer would count twice).
    pub(crate) fn is_satisfied_by(&self, identities: &[Arc<dyn Identity>]) -> bool {
        let mut used = vec![false; identities.len()];
        self.evaluate(&self.rule, identities, &mut used)
    }

    fn evaluate(&self, rule: &Rule, identities: &[Arc<dyn Identity>], used: &mut [bool]) -> bool {
        match rule {
            Rule::SignedBy(index) => {
                // Compile checked the index; a miss would be a bug, and refusing is safe.
                let Some(principal) = self.principals.get(*index) else {
                    return false;
                };
                for (identity, used) in identities.iter().zip(used.iter_mut()) {
                    if !*used && identity.satisfies_principal(principal).is_ok() {
                        *used = true;
                        return true;
                    }
                }
                false
            }
            Rule::NOutOf { n, rules } => {
                let mut satisfied = 0;
                let mut scratch = vec![false; used.len()];
                for rule in rules {
                    scratch.copy_from_slice(used);
                    if self.evaluate(rule, identities, &mut scratch) {
                        satisfied += 1;
                        used.copy_from_slice(&scratch);
                    }
                }
                satisfied >= *n
            }
        }
    }

    fn render_rule(&self, rule: &Rule, out: &mut String) -> fmt::Result {
        if out.len() > MAX_RENDERED_LEN {
            return Ok(());
        }
        match rule {
            Rule::SignedBy(index) => match self.principals.get(*index) {
                Some(principal) => render_principal(*index, principal, out),
                None => write!(out, "<principal {index}>"),
            },
            Rule::NOutOf { n, rules } => {
                if *n == 1 {
                    out.push_str("OR(");
                } else if *n == rules.len() {
                    out.push_str("AND(");
                } else {
                    write!(out, "OutOf({n}, ")?;
                }
                for (i, rule) in rules.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if out.len() > MAX_RENDERED_LEN {
                        out.push_str("...");
                        break;
                    }
                    self.render_rule(rule, out)?;
                }
                out.push(')');
                Ok(())
            }
        }
    }
}

/// Renders the rule in Fabric's policy language, e.g. `OR('Org1MSP.member',
/// 'Org2MSP.admin')`; principals other than roles show as `<IDENTITY principal 2>`.
impl fmt::Display for CompiledSignaturePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.render_rule(&self.rule, &mut out)?;
        f.write_str(&out)
    }
}

fn render_principal(index: usize, principal: &MspPrincipal, out: &mut String) -> fmt::Result {
    let classification = Classification::try_from(principal.principal_classification);
    if classification == Ok(Classification::Role) {
        if let Ok(role) = MspRole::decode(principal.principal.clone()) {
            let role_name = match MspRoleType::try_from(role.role) {
                Ok(t) => t.as_str_name().to_ascii_lowercase(),
                Err(_) => format!("role{}", role.role),
            };
            return write!(out, "'{}.{}'", role.msp_identifier, role_name);
        }
    }
    match classification {
        Ok(c) => write!(out, "<{} principal {index}>", c.as_str_name()),
        Err(_) => write!(
            out,
            "<principal {index} of classification {}>",
            principal.principal_classification
        ),
    }
}

fn compile_rule(
    rule: Option<&SignaturePolicy>,
    identities: usize,
    at: &mut Vec<usize>,
) -> Result<Rule, CompileError> {
    if at.len() >= MAX_RULE_DEPTH {
        return Err(CompileError::TooDeep {
            at: location(at),
            max: MAX_RULE_DEPTH,
        });
    }
    match rule.and_then(|r| r.r#type.as_ref()) {
        None => Err(CompileError::MissingRule { at: location(at) }),
        Some(Type::SignedBy(index)) => match usize::try_from(*index) {
            Ok(i) if i < identities => Ok(Rule::SignedBy(i)),
            _ => Err(CompileError::SignedByOutOfRange {
                at: location(at),
                index: *index,
                identities,
            }),
        },
        Some(Type::NOutOf(gate)) => {
            let n = match usize::try_from(gate.n) {
                Ok(n) if n <= gate.rules.len() => n,
                _ => {
                    return Err(CompileError::NOutOfRange {
                        at: location(at),
                        n: gate.n,
                        rules: gate.rules.len(),
                    });
                }
            };
            let mut rules = Vec::with_capacity(gate.rules.len());
            for (i, sub) in gate.rules.iter().enumerate() {
                at.push(i);
                rules.push(compile_rule(Some(sub), identities, at)?);
                at.pop();
            }
            Ok(Rule::NOutOf { n, rules })
        }
    }
}

/// Names a rule by its position, e.g. `rule.rules[1].rules[0]`.
fn location(at: &[usize]) -> String {
    let mut s = String::from("rule");
    for i in at {
        // Writing to a String cannot fail.
        let _ = write!(s, ".rules[{i}]");
    }
    s
}
