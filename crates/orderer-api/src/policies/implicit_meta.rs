//! ImplicitMeta policies: "ANY Writers", "MAJORITY Admins". Satisfied when enough of
//! the child groups' policies of that name are.
//!
//! Fabric's rules, kept here because orderers must agree:
//!
//! * every child group counts, also one without a policy of that name (its share
//!   is never satisfied): `ALL Writers` over a group lacking `Writers` always fails;
//! * ANY needs 1, ALL needs every one, MAJORITY needs more than half;
//! * with no child group at all the threshold is 0: the policy is always satisfied.

use std::sync::Arc;

use bytes::Bytes;
use prost::Message;

use super::Policy;
use super::error::CompileError;
use crate::proto::common::ImplicitMetaPolicy;
use crate::proto::common::implicit_meta_policy::Rule;

/// One child group's share of an implicit meta policy.
#[derive(Debug, Clone)]
pub(crate) enum SubPolicy {
    Found(Arc<Policy>),
    /// The child group has no policy of that name: `path` is where it was looked for.
    Missing {
        path: String,
    },
}

impl SubPolicy {
    pub(crate) fn path(&self) -> &str {
        match self {
            SubPolicy::Found(policy) => policy.path(),
            SubPolicy::Missing { path } => path,
        }
    }
}

/// A compiled implicit meta policy: its rule, and one sub-policy per child group.
#[derive(Debug, Clone)]
pub(crate) struct CompiledImplicitMeta {
    pub(crate) rule: Rule,
    pub(crate) sub_policy: String,
    pub(crate) subs: Vec<SubPolicy>,
    pub(crate) threshold: usize,
}

impl CompiledImplicitMeta {
    /// Decodes a marshalled `ImplicitMetaPolicy`; refuses a rule outside the enum
    /// (Fabric would give it threshold 0, accepting anything).
    pub(crate) fn decode_definition(value: Bytes) -> Result<(Rule, String), CompileError> {
        let definition = ImplicitMetaPolicy::decode(value).map_err(|e| CompileError::Decode {
            message: "ImplicitMetaPolicy",
            reason: e.to_string(),
        })?;
        let rule = Rule::try_from(definition.rule)
            .map_err(|_| CompileError::UnknownImplicitMetaRule(definition.rule))?;
        Ok((rule, definition.sub_policy))
    }

    /// The policy over `subs`, one per child group.
    pub(crate) fn new(rule: Rule, sub_policy: String, subs: Vec<SubPolicy>) -> Self {
        let threshold = threshold(rule, subs.len());
        CompiledImplicitMeta {
            rule,
            sub_policy,
            subs,
            threshold,
        }
    }
}

/// How many of `count` sub-policies `rule` needs satisfied.
pub(crate) fn threshold(rule: Rule, count: usize) -> usize {
    if count == 0 {
        // Nothing to ask: Fabric treats the policy as satisfied.
        return 0;
    }
    match rule {
        Rule::Any => 1,
        Rule::All => count,
        Rule::Majority => count / 2 + 1,
    }
}
