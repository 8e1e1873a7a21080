//! Policy descriptions and their protobufs: `ImplicitMetaPolicy` and
//! `SignaturePolicyEnvelope`, encoded exactly as configtxgen encodes its profiles.
//!
//! Only the messages are built here; evaluating them is [`crate::policies`]' job.

use std::collections::BTreeMap;
use std::fmt;

use prost::Message;

use crate::proto::common::{
    ImplicitMetaPolicy, MspPrincipal, MspRole, Policy, SignaturePolicy, SignaturePolicyEnvelope,
    implicit_meta_policy, msp_principal::Classification, msp_role::MspRoleType, policy::PolicyType,
    signature_policy,
};

/// Names of the policies every group carries (Fabric requires all three).
pub const READERS: &str = "Readers";
/// See [`READERS`].
pub const WRITERS: &str = "Writers";
/// See [`READERS`]; also the `mod_policy` of nearly every config element.
pub const ADMINS: &str = "Admins";
/// The application orgs' endorsement policy, referenced by the Application group.
pub const ENDORSEMENT: &str = "Endorsement";
/// The Application group's policy for chaincode definitions.
pub const LIFECYCLE_ENDORSEMENT: &str = "LifecycleEndorsement";
/// The Orderer group's policy that block signatures must satisfy.
pub const BLOCK_VALIDATION: &str = "BlockValidation";

/// A group's policies by name. Sorted, so encoding does not depend on insertion order.
pub type Policies = BTreeMap<String, PolicySpec>;

/// How an implicit meta policy combines the same-named policies of the sub-groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetaRule {
    /// At least one sub-group's policy is satisfied.
    Any,
    /// Every sub-group's policy is satisfied.
    All,
    /// More than half of the sub-groups' policies are satisfied.
    Majority,
}

impl MetaRule {
    /// The name Fabric uses in rules such as `MAJORITY Admins`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetaRule::Any => "ANY",
            MetaRule::All => "ALL",
            MetaRule::Majority => "MAJORITY",
        }
    }

    fn to_proto(self) -> implicit_meta_policy::Rule {
        match self {
            MetaRule::Any => implicit_meta_policy::Rule::Any,
            MetaRule::All => implicit_meta_policy::Rule::All,
            MetaRule::Majority => implicit_meta_policy::Rule::Majority,
        }
    }
}

/// The role an identity must have in its MSP to satisfy a [`Principal`]. `Client`,
/// `Peer` and `Orderer` need the MSP's NodeOUs enabled; `Member` and `Admin` do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Member,
    Admin,
    Client,
    Peer,
    Orderer,
}

impl Role {
    /// Every role, as the policy language spells it.
    pub const ALL: [Role; 5] = [
        Role::Member,
        Role::Admin,
        Role::Client,
        Role::Peer,
        Role::Orderer,
    ];

    /// The spelling of the policy language (`'Org1MSP.peer'`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Client => "client",
            Role::Peer => "peer",
            Role::Orderer => "orderer",
        }
    }

    fn to_proto(self) -> MspRoleType {
        match self {
            Role::Member => MspRoleType::Member,
            Role::Admin => MspRoleType::Admin,
            Role::Client => MspRoleType::Client,
            Role::Peer => MspRoleType::Peer,
            Role::Orderer => MspRoleType::Orderer,
        }
    }
}

/// Who may sign: any identity of `msp_id` that has `role`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal {
    pub msp_id: String,
    pub role: Role,
}

impl Principal {
    /// `'msp_id.role'`.
    pub fn new(msp_id: impl Into<String>, role: Role) -> Self {
        Principal {
            msp_id: msp_id.into(),
            role,
        }
    }

    fn to_proto(&self) -> MspPrincipal {
        MspPrincipal {
            principal_classification: Classification::Role as i32,
            principal: MspRole {
                msp_identifier: self.msp_id.clone(),
                role: self.role.to_proto() as i32,
            }
            .encode_to_vec()
            .into(),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}.{}'", self.msp_id, self.role.as_str())
    }
}

/// A signature rule: one principal, or `n` of several rules. `OR(a, b)` is
/// `OutOf(1, a, b)` and `AND(a, b)` is `OutOf(2, a, b)`, as in Fabric's policy language.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SignatureRule {
    SignedBy(Principal),
    OutOf(u32, Vec<SignatureRule>),
}

impl SignatureRule {
    /// `OR(...)`: one of the principals signs.
    pub fn any_of(principals: impl IntoIterator<Item = Principal>) -> Self {
        SignatureRule::OutOf(1, principals.into_iter().map(Self::SignedBy).collect())
    }

    /// `AND(...)`: every principal signs.
    pub fn all_of(principals: impl IntoIterator<Item = Principal>) -> Self {
        let rules: Vec<_> = principals.into_iter().map(Self::SignedBy).collect();
        SignatureRule::OutOf(u32::try_from(rules.len()).unwrap_or(u32::MAX), rules)
    }

    /// The first problem of the rule: an `n` larger than its rules, or an empty MSP ID.
    pub(crate) fn check(&self) -> Result<(), String> {
        match self {
            SignatureRule::SignedBy(p) if p.msp_id.is_empty() => {
                Err("a principal has an empty MSP ID".into())
            }
            SignatureRule::SignedBy(_) => Ok(()),
            SignatureRule::OutOf(n, rules) => {
                if *n as usize > rules.len() {
                    return Err(format!(
                        "OutOf({n}, ...) has only {} rules: it can never be satisfied",
                        rules.len()
                    ));
                }
                if i32::try_from(*n).is_err() {
                    return Err(format!("OutOf({n}, ...): n is too large"));
                }
                rules.iter().try_for_each(SignatureRule::check)
            }
        }
    }

    /// The `SignaturePolicyEnvelope` of this rule. Principals are numbered as
    /// Fabric's policy parser numbers them (a gate's nested gates first, then its own
    /// principals, left to right) and are not deduplicated, so that a rule parsed from
    /// the same text encodes to the same bytes as configtxgen's.
    pub fn to_envelope(&self) -> SignaturePolicyEnvelope {
        let mut identities = Vec::new();
        let rule = number(self, &mut identities);
        SignaturePolicyEnvelope {
            version: 0,
            rule: Some(rule),
            identities,
        }
    }
}

fn signed_by(identities: &mut Vec<MspPrincipal>, p: &Principal) -> SignaturePolicy {
    // Saturates instead of failing: `check` bounds n, and 2^31 principals cannot
    // be held in memory anyway.
    let index = i32::try_from(identities.len()).unwrap_or(i32::MAX);
    identities.push(p.to_proto());
    SignaturePolicy {
        r#type: Some(signature_policy::Type::SignedBy(index)),
    }
}

fn number(rule: &SignatureRule, identities: &mut Vec<MspPrincipal>) -> SignaturePolicy {
    let (n, rules) = match rule {
        SignatureRule::SignedBy(p) => return signed_by(identities, p),
        SignatureRule::OutOf(n, rules) => (n, rules),
    };
    let mut out: Vec<Option<SignaturePolicy>> = vec![None; rules.len()];
    for (slot, rule) in out.iter_mut().zip(rules) {
        if let SignatureRule::OutOf(..) = rule {
            *slot = Some(number(rule, identities));
        }
    }
    for (slot, rule) in out.iter_mut().zip(rules) {
        if let SignatureRule::SignedBy(p) = rule {
            *slot = Some(signed_by(identities, p));
        }
    }
    SignaturePolicy {
        r#type: Some(signature_policy::Type::NOutOf(signature_policy::NOutOf {
            n: i32::try_from(*n).unwrap_or(i32::MAX),
            rules: out.into_iter().flatten().collect(),
        })),
    }
}

impl fmt::Display for SignatureRule {
    /// The policy language: `OR('A.member', AND('B.peer', 'C.admin'))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureRule::SignedBy(p) => write!(f, "{p}"),
            SignatureRule::OutOf(n, rules) => {
                let mut sep = "";
                if *n == 1 {
                    f.write_str("OR(")?;
                } else if *n > 1 && *n as usize == rules.len() {
                    f.write_str("AND(")?;
                } else {
                    write!(f, "OutOf({n}")?;
                    sep = ", ";
                }
                for r in rules {
                    write!(f, "{sep}{r}")?;
                    sep = ", ";
                }
                f.write_str(")")
            }
        }
    }
}

/// One policy of a config group.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicySpec {
    /// `rule` over the policies named `sub_policy` of the group's sub-groups.
    ImplicitMeta { rule: MetaRule, sub_policy: String },
    /// A rule over signatures of principals.
    Signature(SignatureRule),
    /// A policy encoded by the caller, written as given.
    Encoded(Policy),
}

impl PolicySpec {
    /// `ImplicitMeta` with `rule` over `sub_policy`.
    pub fn implicit_meta(rule: MetaRule, sub_policy: impl Into<String>) -> Self {
        PolicySpec::ImplicitMeta {
            rule,
            sub_policy: sub_policy.into(),
        }
    }

    /// `Signature` policy `OR(principals...)`.
    pub fn any_of(principals: impl IntoIterator<Item = Principal>) -> Self {
        PolicySpec::Signature(SignatureRule::any_of(principals))
    }

    /// The `common.Policy` to put in a `ConfigPolicy`.
    pub fn to_proto(&self) -> Policy {
        match self {
            PolicySpec::ImplicitMeta { rule, sub_policy } => Policy {
                r#type: PolicyType::ImplicitMeta as i32,
                value: ImplicitMetaPolicy {
                    sub_policy: sub_policy.clone(),
                    rule: rule.to_proto() as i32,
                }
                .encode_to_vec()
                .into(),
            },
            PolicySpec::Signature(rule) => Policy {
                r#type: PolicyType::Signature as i32,
                value: rule.to_envelope().encode_to_vec().into(),
            },
            PolicySpec::Encoded(policy) => policy.clone(),
        }
    }
}

/// `Readers` and `Writers` ANY, `Admins` MAJORITY: the channel's and every group's
/// standard policies in configtxgen's sample profiles.
pub fn standard_meta_policies() -> Policies {
    BTreeMap::from([
        (
            READERS.into(),
            PolicySpec::implicit_meta(MetaRule::Any, READERS),
        ),
        (
            WRITERS.into(),
            PolicySpec::implicit_meta(MetaRule::Any, WRITERS),
        ),
        (
            ADMINS.into(),
            PolicySpec::implicit_meta(MetaRule::Majority, ADMINS),
        ),
    ])
}

/// The standard policies plus `BlockValidation` (ANY `Writers`): the sample Orderer group.
pub fn orderer_group_policies() -> Policies {
    let mut p = standard_meta_policies();
    p.insert(
        BLOCK_VALIDATION.into(),
        PolicySpec::implicit_meta(MetaRule::Any, WRITERS),
    );
    p
}

/// The standard policies plus `Endorsement` and `LifecycleEndorsement` (MAJORITY
/// `Endorsement`): the sample Application group.
pub fn application_group_policies() -> Policies {
    let mut p = standard_meta_policies();
    for name in [ENDORSEMENT, LIFECYCLE_ENDORSEMENT] {
        p.insert(
            name.into(),
            PolicySpec::implicit_meta(MetaRule::Majority, ENDORSEMENT),
        );
    }
    p
}

/// Fabric's `SampleOrg` policies for an orderer org: `Readers` and `Writers`
/// `OR('<msp>.member')`, `Admins` `OR('<msp>.admin')`. They need no NodeOUs.
pub fn orderer_org_policies(msp_id: &str) -> Policies {
    let one = |role| PolicySpec::any_of([Principal::new(msp_id, role)]);
    BTreeMap::from([
        (READERS.into(), one(Role::Member)),
        (WRITERS.into(), one(Role::Member)),
        (ADMINS.into(), one(Role::Admin)),
    ])
}

/// Fabric's `SampleOrg` policies for an application org: the orderer org's, plus
/// `Endorsement` `OR('<msp>.member')`. They need no NodeOUs.
pub fn application_org_policies(msp_id: &str) -> Policies {
    let mut p = orderer_org_policies(msp_id);
    p.insert(
        ENDORSEMENT.into(),
        PolicySpec::any_of([Principal::new(msp_id, Role::Member)]),
    );
    p
}

/// The NodeOUs flavour of [`application_org_policies`], as in fabric-samples'
/// test network: `Readers` admin|peer|client, `Writers` admin|client, `Admins`
/// admin, `Endorsement` peer. Only for MSPs with NodeOUs enabled: without them no
/// identity is a peer or a client.
pub fn application_org_node_ou_policies(msp_id: &str) -> Policies {
    let any = |roles: &[Role]| PolicySpec::any_of(roles.iter().map(|r| Principal::new(msp_id, *r)));
    BTreeMap::from([
        (
            READERS.into(),
            any(&[Role::Admin, Role::Peer, Role::Client]),
        ),
        (WRITERS.into(), any(&[Role::Admin, Role::Client])),
        (ADMINS.into(), any(&[Role::Admin])),
        (ENDORSEMENT.into(), any(&[Role::Peer])),
    ])
}
