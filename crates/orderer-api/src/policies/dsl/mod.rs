//! Building policy definitions: Fabric's `policydsl` builders and the policy strings
//! of `configtx.yaml` (`OR('Org1MSP.member', 'Org2MSP.admin')`, `MAJORITY Admins`).
//!
//! Everything here produces protobuf messages ready to put in a config; nothing is
//! compiled. The encoding matches Fabric's tools, so a config generated here has the
//! same bytes as configtxgen's for the same input.

mod parser;

use bytes::Bytes;
use prost::Message;
use thiserror::Error;

use crate::policies::MAX_RULE_DEPTH;
use crate::proto::common::implicit_meta_policy::Rule;
use crate::proto::common::msp_principal::Classification;
use crate::proto::common::msp_role::MspRoleType;
use crate::proto::common::policy::PolicyType;
use crate::proto::common::signature_policy::{NOutOf, Type};
use crate::proto::common::{
    ImplicitMetaPolicy, MspPrincipal, MspRole, Policy, SignaturePolicy, SignaturePolicyEnvelope,
};

pub use parser::parse_signature_policy;

/// Why a policy string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid policy {input:?}: {reason}")]
pub struct DslError {
    /// The policy string as given.
    pub input: String,
    /// What is wrong, and where when it is about one place.
    #[source]
    pub reason: DslReason,
}

impl DslError {
    fn new(input: &str, reason: DslReason) -> Self {
        DslError {
            input: input.to_owned(),
            reason,
        }
    }
}

/// What is wrong with a policy string. Every `offset` is a byte offset into it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DslReason {
    #[error("expected '{expected}' at offset {offset}, found '{found}'")]
    Expected {
        expected: char,
        offset: usize,
        found: char,
    },
    #[error("expected '{0}' at the end")]
    ExpectedAtEnd(char),
    #[error("rules nested deeper than {MAX_RULE_DEPTH} levels at offset {offset}")]
    TooDeep { offset: usize },
    #[error("expected AND, OR or OutOf at offset {offset}, found '{found}'")]
    ExpectedGate { offset: usize, found: char },
    #[error("expected AND, OR or OutOf, found nothing")]
    ExpectedGateAtEnd,
    #[error("unknown gate '{name}' at offset {offset}, expected AND, OR or OutOf")]
    UnknownGate { name: String, offset: usize },
    #[error("unrecognized token '{token}' at offset {offset}")]
    UnrecognizedToken { token: String, offset: usize },
    #[error("expected ',' or ')' at offset {offset}, found '{found}'")]
    ExpectedCommaOrClose { offset: usize, found: char },
    /// `offset` is the gate's; Fabric's bound is 0 to `rules + 1` (`max`).
    #[error(
        "OutOf at offset {offset} needs {n} of {rules} rules: the count must be between 0 and {max}"
    )]
    CountOutOfRange {
        offset: usize,
        n: i64,
        rules: usize,
        max: usize,
    },
    #[error("expected the count of OutOf at offset {offset}, found '{found}'")]
    BadCount { offset: usize, found: String },
    #[error("expected a quoted string at the end")]
    ExpectedStringAtEnd,
    #[error("unterminated string at offset {offset}")]
    UnterminatedString { offset: usize },
    #[error(
        "invalid principal '{principal}' at offset {offset}, expected 'MSPID.role' with role member, admin, client, peer or orderer"
    )]
    InvalidPrincipal { principal: String, offset: usize },
    #[error("unexpected text after the policy at offset {offset}")]
    TrailingText { offset: usize },
    /// An implicit meta rule that is not two tokens.
    #[error("expected a rule and a sub-policy separated by one space, got {tokens} tokens")]
    TokenCount { tokens: usize },
    #[error("unknown rule {rule:?}, expected ANY, ALL or MAJORITY")]
    UnknownRule { rule: String },
    #[error("the sub-policy name is empty")]
    EmptySubPolicy,
    #[error("unknown policy type {kind:?}, expected ImplicitMeta or Signature")]
    UnknownPolicyType { kind: String },
}

/// A rule satisfied by a signature of the principal at `index` of the envelope.
pub fn signed_by(index: i32) -> SignaturePolicy {
    SignaturePolicy {
        r#type: Some(Type::SignedBy(index)),
    }
}

/// A rule satisfied when `n` of `rules` are.
pub fn n_out_of(n: i32, rules: Vec<SignaturePolicy>) -> SignaturePolicy {
    SignaturePolicy {
        r#type: Some(Type::NOutOf(NOutOf { n, rules })),
    }
}

/// A rule satisfied when any one of `rules` is (`n_out_of(1, rules)`).
pub fn or(rules: Vec<SignaturePolicy>) -> SignaturePolicy {
    n_out_of(1, rules)
}

/// A rule satisfied when all of `rules` are (`n_out_of(rules.len(), rules)`).
pub fn and(rules: Vec<SignaturePolicy>) -> SignaturePolicy {
    let n = i32::try_from(rules.len()).unwrap_or(i32::MAX);
    n_out_of(n, rules)
}

/// The principal "has `role` in the MSP `msp_id`".
pub fn role_principal(msp_id: &str, role: MspRoleType) -> MspPrincipal {
    let role = MspRole {
        msp_identifier: msp_id.to_owned(),
        role: role as i32,
    };
    MspPrincipal {
        principal_classification: Classification::Role as i32,
        principal: Bytes::from(role.encode_to_vec()),
    }
}

/// A version 0 envelope of `rule` over `identities`.
pub fn envelope(rule: SignaturePolicy, identities: Vec<MspPrincipal>) -> SignaturePolicyEnvelope {
    SignaturePolicyEnvelope {
        version: 0,
        rule: Some(rule),
        identities,
    }
}

/// One signature of any of `identities`, numbered in order: the envelope the parser
/// makes of `OR('A.member', 'B.admin')`.
pub fn signed_by_any(identities: Vec<MspPrincipal>) -> SignaturePolicyEnvelope {
    let rules = (0..identities.len())
        .map(|index| signed_by(i32::try_from(index).unwrap_or(i32::MAX)))
        .collect();
    envelope(or(rules), identities)
}

/// One signature of an identity with `role` in `msp_id`, e.g. `Org1MSP.admin`
/// (Fabric's `SignedByMspAdmin` and siblings: 1 out of `[signed_by(0)]`).
pub fn signed_by_msp_role(msp_id: &str, role: MspRoleType) -> SignaturePolicyEnvelope {
    signed_by_any(vec![role_principal(msp_id, role)])
}

/// The policy every signature set satisfies (0 out of nothing), as configtxgen
/// writes for the orderer system channel's `Consortiums/Admins`.
pub fn accept_all() -> SignaturePolicyEnvelope {
    envelope(n_out_of(0, Vec::new()), Vec::new())
}

/// `envelope` as a config's `common.Policy` of type SIGNATURE.
pub fn signature_policy(envelope: &SignaturePolicyEnvelope) -> Policy {
    Policy {
        r#type: PolicyType::Signature as i32,
        value: Bytes::from(envelope.encode_to_vec()),
    }
}

/// An implicit meta policy (`rule` of the child groups' `sub_policy`) as a config's
/// `common.Policy` of type IMPLICIT_META.
pub fn implicit_meta_policy(rule: Rule, sub_policy: &str) -> Policy {
    meta_policy(&ImplicitMetaPolicy {
        sub_policy: sub_policy.to_owned(),
        rule: rule as i32,
    })
}

fn meta_policy(definition: &ImplicitMetaPolicy) -> Policy {
    Policy {
        r#type: PolicyType::ImplicitMeta as i32,
        value: Bytes::from(definition.encode_to_vec()),
    }
}

/// Parses an implicit meta rule as configtx.yaml writes it: `RULE SubPolicy`, the
/// rule one of `ANY`, `ALL`, `MAJORITY`, separated by one space (as Fabric's
/// `ImplicitMetaFromString`, case included); the sub-policy must not be empty
/// (Fabric's would take `"ANY "` for a rule over policies named "").
pub fn parse_implicit_meta(input: &str) -> Result<ImplicitMetaPolicy, DslError> {
    let tokens: Vec<&str> = input.split(' ').collect();
    let [rule, sub_policy] = tokens.as_slice() else {
        return Err(DslError::new(
            input,
            DslReason::TokenCount {
                tokens: tokens.len(),
            },
        ));
    };
    let rule = match *rule {
        "ANY" => Rule::Any,
        "ALL" => Rule::All,
        "MAJORITY" => Rule::Majority,
        other => {
            return Err(DslError::new(
                input,
                DslReason::UnknownRule {
                    rule: other.to_owned(),
                },
            ));
        }
    };
    if sub_policy.is_empty() {
        return Err(DslError::new(input, DslReason::EmptySubPolicy));
    }
    Ok(ImplicitMetaPolicy {
        sub_policy: (*sub_policy).to_owned(),
        rule: rule as i32,
    })
}

/// A policy of configtx.yaml (`Type` and `Rule`) as a config's `common.Policy`, as
/// configtxgen encodes it: `ImplicitMeta` rules parse with [`parse_implicit_meta`],
/// `Signature` rules with [`parse_signature_policy`].
pub fn policy_from_configtx(kind: &str, rule: &str) -> Result<Policy, DslError> {
    match kind {
        "ImplicitMeta" => Ok(meta_policy(&parse_implicit_meta(rule)?)),
        "Signature" => Ok(signature_policy(&parse_signature_policy(rule)?)),
        other => Err(DslError::new(
            rule,
            DslReason::UnknownPolicyType {
                kind: other.to_owned(),
            },
        )),
    }
}
