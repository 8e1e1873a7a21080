//! The config update that turns one config into another: what `configtxlator
//! compute_update` makes, so that this project's own client can change a channel's
//! configuration the way Fabric's tools do.
//!
//! The read set names (at their current versions) the elements the change depends
//! on; the write set holds the changed elements at version + 1 and new ones at 0. A
//! group is in the write set with a bumped version when its membership or
//! mod_policy changes; otherwise only its changed members are.

use std::collections::BTreeMap;

use crate::proto::common::{Config, ConfigGroup, ConfigPolicy, ConfigUpdate, ConfigValue};

/// A leaf of a group (value or policy): its version, content and mod_policy.
trait Leaf: Clone {
    fn version(&self) -> u64;
    fn mod_policy(&self) -> &str;
    fn same_content(&self, other: &Self) -> bool;
    /// The element at `version` with this one's content, or (`None`) only a version.
    fn at(&self, version: u64, content: bool) -> Self;
}

impl Leaf for ConfigValue {
    fn version(&self) -> u64 {
        self.version
    }
    fn mod_policy(&self) -> &str {
        &self.mod_policy
    }
    fn same_content(&self, other: &Self) -> bool {
        self.value == other.value
    }
    fn at(&self, version: u64, content: bool) -> Self {
        if content {
            ConfigValue {
                version,
                ..self.clone()
            }
        } else {
            ConfigValue {
                version,
                ..Default::default()
            }
        }
    }
}

impl Leaf for ConfigPolicy {
    fn version(&self) -> u64 {
        self.version
    }
    fn mod_policy(&self) -> &str {
        &self.mod_policy
    }
    fn same_content(&self, other: &Self) -> bool {
        self.policy == other.policy
    }
    fn at(&self, version: u64, content: bool) -> Self {
        if content {
            ConfigPolicy {
                version,
                ..self.clone()
            }
        } else {
            ConfigPolicy {
                version,
                ..Default::default()
            }
        }
    }
}

/// How one map of a group changed.
struct MapDelta<T> {
    read: BTreeMap<String, T>,
    write: BTreeMap<String, T>,
    /// Unchanged members, read and written at their version if the group's
    /// membership changes (the new group must list them).
    same: BTreeMap<String, T>,
    /// Members added or removed.
    membership_changed: bool,
}

impl<T> MapDelta<T> {
    fn is_empty(&self) -> bool {
        self.read.is_empty() && self.write.is_empty()
    }
}

fn leaf_delta<T: Leaf>(
    original: &BTreeMap<String, T>,
    updated: &BTreeMap<String, T>,
) -> MapDelta<T> {
    let mut d = MapDelta {
        read: BTreeMap::new(),
        write: BTreeMap::new(),
        same: BTreeMap::new(),
        membership_changed: false,
    };
    for (name, old) in original {
        match updated.get(name) {
            None => d.membership_changed = true,
            Some(new) if new.mod_policy() == old.mod_policy() && new.same_content(old) => {
                d.same.insert(name.clone(), old.at(old.version(), false));
            }
            Some(new) => {
                d.write
                    .insert(name.clone(), new.at(old.version() + 1, true));
            }
        }
    }
    for (name, new) in updated {
        if !original.contains_key(name) {
            d.membership_changed = true;
            d.write.insert(name.clone(), new.at(0, true));
        }
    }
    d
}

fn groups_delta(
    original: &BTreeMap<String, ConfigGroup>,
    updated: &BTreeMap<String, ConfigGroup>,
) -> MapDelta<ConfigGroup> {
    let mut d = MapDelta {
        read: BTreeMap::new(),
        write: BTreeMap::new(),
        same: BTreeMap::new(),
        membership_changed: false,
    };
    for (name, old) in original {
        let Some(new) = updated.get(name) else {
            d.membership_changed = true;
            continue;
        };
        match group_delta(old, new) {
            None => {
                d.same.insert(name.clone(), version_only(old.version));
            }
            Some((read, write)) => {
                d.read.insert(name.clone(), read);
                d.write.insert(name.clone(), write);
            }
        }
    }
    for (name, new) in updated {
        if original.contains_key(name) {
            continue;
        }
        d.membership_changed = true;
        // A new group is written whole, every member at version 0.
        let (_, whole) = group_delta(&ConfigGroup::default(), new).unwrap_or_default();
        d.write.insert(
            name.clone(),
            ConfigGroup {
                version: 0,
                mod_policy: new.mod_policy.clone(),
                ..whole
            },
        );
    }
    d
}

fn version_only(version: u64) -> ConfigGroup {
    ConfigGroup {
        version,
        ..Default::default()
    }
}

/// The read and write sets of a group, or `None` when nothing in it changed.
fn group_delta(
    original: &ConfigGroup,
    updated: &ConfigGroup,
) -> Option<(ConfigGroup, ConfigGroup)> {
    let mut policies = leaf_delta(&original.policies, &updated.policies);
    let mut values = leaf_delta(&original.values, &updated.values);
    let mut groups = groups_delta(&original.groups, &updated.groups);
    let reshaped = policies.membership_changed
        || values.membership_changed
        || groups.membership_changed
        || original.mod_policy != updated.mod_policy;
    if !reshaped {
        if policies.is_empty() && values.is_empty() && groups.is_empty() {
            return None;
        }
        // Only members changed: the group itself keeps its version.
        let read = ConfigGroup {
            version: original.version,
            policies: policies.read,
            values: values.read,
            groups: groups.read,
            mod_policy: String::new(),
        };
        let write = ConfigGroup {
            version: original.version,
            policies: policies.write,
            values: values.write,
            groups: groups.write,
            mod_policy: String::new(),
        };
        return Some((read, write));
    }
    // The group changes: it lists every member it keeps, so the unchanged ones are
    // read and written at their versions.
    for (k, v) in std::mem::take(&mut policies.same) {
        policies.read.insert(k.clone(), v.clone());
        policies.write.insert(k, v);
    }
    for (k, v) in std::mem::take(&mut values.same) {
        values.read.insert(k.clone(), v.clone());
        values.write.insert(k, v);
    }
    for (k, v) in std::mem::take(&mut groups.same) {
        groups.read.insert(k.clone(), v.clone());
        groups.write.insert(k, v);
    }
    Some((
        ConfigGroup {
            version: original.version,
            policies: policies.read,
            values: values.read,
            groups: groups.read,
            mod_policy: String::new(),
        },
        ConfigGroup {
            version: original.version + 1,
            policies: policies.write,
            values: values.write,
            groups: groups.write,
            mod_policy: updated.mod_policy.clone(),
        },
    ))
}

/// Why [`compute_update`] has no update to give.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ComputeUpdateError {
    #[error("both configs need a channel group")]
    MissingChannelGroup,
    #[error("no differences detected between original and updated config")]
    NoDifferences,
}

/// The update of channel `channel_id` from `original` to `updated` (both the
/// channel's `Config`); an error when they do not differ.
pub fn compute_update(
    channel_id: &str,
    original: &Config,
    updated: &Config,
) -> Result<ConfigUpdate, ComputeUpdateError> {
    let (Some(old), Some(new)) = (&original.channel_group, &updated.channel_group) else {
        return Err(ComputeUpdateError::MissingChannelGroup);
    };
    let (read_set, write_set) = group_delta(old, new).ok_or(ComputeUpdateError::NoDifferences)?;
    Ok(ConfigUpdate {
        channel_id: channel_id.to_owned(),
        read_set: Some(read_set),
        write_set: Some(write_set),
        ..Default::default()
    })
}
