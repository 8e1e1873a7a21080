//! The policies of a channel config, addressed by path.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::error::PolicyError;
use super::implicit_meta::{CompiledImplicitMeta, SubPolicy};
use super::{IdentityDeserializer, MAX_GROUP_DEPTH, Policy, SignedData};
use crate::proto::common::implicit_meta_policy::Rule;
use crate::proto::common::policy::PolicyType;
use crate::proto::common::{self, ConfigGroup};

/// Every policy of a config group tree, compiled, addressed by path.
///
/// Paths are Fabric's: the root group's policies are `/Channel/Readers`..., a child
/// group's `/Channel/Orderer/BlockValidation`. A manager is positioned at one group
/// ([`PolicyManager::sub_manager`]); relative names resolve from there.
///
/// Cloning is two `Arc` clones: a node keeps a manager in its channel bundle and
/// replaces the whole bundle at a config block, while evaluations in flight keep
/// the manager they started with.
#[derive(Debug, Clone)]
pub struct PolicyManager {
    root: Arc<Group>,
    current: Arc<Group>,
}

#[derive(Debug)]
struct Group {
    /// Absolute path of the group, e.g. `/Channel/Orderer`.
    path: String,
    policies: BTreeMap<String, Arc<Policy>>,
    groups: BTreeMap<String, Arc<Group>>,
}

impl PolicyManager {
    /// Compiles every policy of `group` (named `name`, Fabric's root is "Channel")
    /// and of its descendants.
    ///
    /// Policies of type SIGNATURE and IMPLICIT_META are supported; any other type,
    /// a malformed policy, or a group or policy name that is empty or contains '/'
    /// is an error naming the offending path. An implicit meta policy resolves its
    /// sub-policies in the child groups here, once.
    pub fn from_config_group(name: &str, group: &ConfigGroup) -> Result<Self, PolicyError> {
        check_name("", name)?;
        let root = Arc::new(build_group(format!("/{name}"), group, 0)?);
        Ok(PolicyManager {
            current: Arc::clone(&root),
            root,
        })
    }

    /// Absolute path of the group this manager is positioned at, e.g. `/Channel`.
    pub fn path(&self) -> &str {
        &self.current.path
    }

    /// The manager positioned at the descendant group `path` (e.g. `["Orderer"]`,
    /// or `[]` for this group), or `None` if there is no such group.
    pub fn sub_manager<S: AsRef<str>>(&self, path: &[S]) -> Option<PolicyManager> {
        let mut group = &self.current;
        for name in path {
            group = group.groups.get(name.as_ref())?;
        }
        Some(PolicyManager {
            root: Arc::clone(&self.root),
            current: Arc::clone(group),
        })
    }

    /// The policy named `name`: either absolute (`/Channel/Orderer/Writers`, from
    /// the root whatever group this manager is positioned at) or relative to this
    /// manager's group (`Writers`, `Orderer/Writers`).
    ///
    /// Fabric's sub-managers refuse absolute paths outside their own subtree; here an
    /// absolute path means the same policy from any manager of the tree.
    pub fn get_policy(&self, name: &str) -> Result<Arc<Policy>, PolicyError> {
        let (group, relative) = match name.strip_prefix('/') {
            Some(_) => (&self.root, strip_group_path(&self.root, name)),
            None => (&self.current, Some(name)),
        };
        relative
            .and_then(|relative| group.resolve(relative))
            .ok_or_else(|| PolicyError::NotFound {
                path: absolute_name(&self.current, name),
            })
    }

    /// Evaluates the policy `name` (see [`PolicyManager::get_policy`]) over signed
    /// data (see [`Policy::evaluate_signed_data`]).
    pub fn evaluate_signed_data(
        &self,
        name: &str,
        signed: &[SignedData],
        deserializer: &dyn IdentityDeserializer,
    ) -> Result<(), PolicyError> {
        self.get_policy(name)?
            .evaluate_signed_data(signed, deserializer)
    }
}

impl Group {
    /// The policy at `relative` (`Writers` or `Orderer/Writers`) below this group.
    fn resolve(&self, relative: &str) -> Option<Arc<Policy>> {
        let (groups, policy) = match relative.rsplit_once('/') {
            Some((groups, policy)) => (Some(groups), policy),
            None => (None, relative),
        };
        let mut group = self;
        for name in groups.into_iter().flat_map(|g| g.split('/')) {
            group = group.groups.get(name)?;
        }
        group.policies.get(policy).cloned()
    }

    /// The policy `name`, relative to this group or absolute within its subtree,
    /// as Fabric's managers resolve the sub-policy of an implicit meta policy.
    fn resolve_in_subtree(&self, name: &str) -> Option<Arc<Policy>> {
        if name.starts_with('/') {
            self.resolve(strip_group_path(self, name)?)
        } else {
            self.resolve(name)
        }
    }
}

/// `/Channel/Orderer/Writers` less the group's path `/Channel`: `Orderer/Writers`.
fn strip_group_path<'a>(group: &Group, absolute: &'a str) -> Option<&'a str> {
    absolute
        .strip_prefix(group.path.as_str())?
        .strip_prefix('/')
}

/// `name` as an absolute path, for messages.
fn absolute_name(group: &Group, name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("{}/{name}", group.path)
    }
}

fn check_name(parent: &str, name: &str) -> Result<(), PolicyError> {
    // Fabric's config validation allows only [A-Za-z0-9.-] in names; a '/' would
    // make a path name two things, so refuse it even where Fabric does not check.
    if name.is_empty() || name.contains('/') {
        return Err(PolicyError::InvalidName {
            parent: parent.to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// A config policy, decoded and checked as far as it can be without its group.
pub(crate) enum Definition {
    /// A compiled signature policy.
    Signature(Policy),
    /// An implicit meta policy, whose sub-policies resolve in the child groups.
    ImplicitMeta {
        path: String,
        rule: Rule,
        sub_policy: String,
    },
}

impl Definition {
    /// Decodes `policy`, to be known as `path`, as the manager does when it loads a
    /// config: only SIGNATURE and IMPLICIT_META policies, compiled or checked.
    pub(crate) fn decode(path: String, policy: &common::Policy) -> Result<Self, PolicyError> {
        match PolicyType::try_from(policy.r#type) {
            Ok(PolicyType::Signature) => {
                Policy::signature_from_bytes(path, policy.value.clone()).map(Definition::Signature)
            }
            Ok(PolicyType::ImplicitMeta) => {
                match CompiledImplicitMeta::decode_definition(policy.value.clone()) {
                    Ok((rule, sub_policy)) => Ok(Definition::ImplicitMeta {
                        path,
                        rule,
                        sub_policy,
                    }),
                    Err(source) => Err(PolicyError::Invalid { path, source }),
                }
            }
            Ok(PolicyType::Msp | PolicyType::Unknown) | Err(_) => {
                Err(PolicyError::UnsupportedType {
                    path,
                    policy_type: policy.r#type,
                })
            }
        }
    }
}

fn build_group(path: String, config: &ConfigGroup, depth: usize) -> Result<Group, PolicyError> {
    if depth >= MAX_GROUP_DEPTH {
        return Err(PolicyError::GroupsTooDeep {
            path,
            max: MAX_GROUP_DEPTH,
        });
    }
    // Children first: implicit meta policies of this group refer to theirs.
    let mut groups = BTreeMap::new();
    for (name, child) in &config.groups {
        check_name(&path, name)?;
        let child = build_group(format!("{path}/{name}"), child, depth + 1)?;
        groups.insert(name.clone(), Arc::new(child));
    }

    let mut policies = BTreeMap::new();
    for (name, config_policy) in &config.policies {
        check_name(&path, name)?;
        let policy_path = format!("{path}/{name}");
        let Some(policy) = &config_policy.policy else {
            return Err(PolicyError::MissingPolicy { path: policy_path });
        };
        let compiled = match Definition::decode(policy_path, policy)? {
            Definition::Signature(compiled) => compiled,
            Definition::ImplicitMeta {
                path,
                rule,
                sub_policy,
            } => {
                let subs = groups
                    .values()
                    .map(|child| match child.resolve_in_subtree(&sub_policy) {
                        Some(policy) => SubPolicy::Found(policy),
                        None => SubPolicy::Missing {
                            path: absolute_name(child, &sub_policy),
                        },
                    })
                    .collect();
                let compiled = CompiledImplicitMeta::new(rule, sub_policy, subs);
                Policy::implicit_meta(path, compiled)
            }
        };
        policies.insert(name.clone(), Arc::new(compiled));
    }

    Ok(Group {
        path,
        policies,
        groups,
    })
}
