//! A config tree flattened into Fabric's config map: one entry per group, value
//! and policy, keyed `[Group]  /Channel/Orderer`, `[Value]  /Channel/Orderer/BatchSize`,
//! `[Policy] /Channel/Admins` (the prefixes are padded to one width, as Fabric's).
//!
//! Config updates are compared, authorized and applied element by element over
//! these maps; [`rebuild`] turns a map back into a tree.

use std::collections::BTreeMap;

use crate::policies::MAX_GROUP_DEPTH;
use crate::proto::common::{ConfigGroup, ConfigPolicy, ConfigValue};

pub(crate) const GROUP_PREFIX: &str = "[Group]  ";
pub(crate) const VALUE_PREFIX: &str = "[Value]  ";
pub(crate) const POLICY_PREFIX: &str = "[Policy] ";

/// Fabric's rule for config keys and mod_policy path elements.
const MAX_ID_LEN: usize = 249;

/// Fabric's upgrade of configs written before v1.1 (which left mod_policies
/// empty): once the orderer has capabilities, every empty mod_policy of the
/// resulting config reads `Admins`. The key is Fabric's, with the root `Channel`.
const ORDERER_CAPABILITIES_KEY: &str = "[Value]  /Channel/Orderer/Capabilities";
const UPGRADED_MOD_POLICY: &str = "Admins";

/// One element of a config tree.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Item<'a> {
    Group(&'a ConfigGroup),
    Value(&'a ConfigValue),
    Policy(&'a ConfigPolicy),
}

/// An element and where it is: `parent` is the path of its group from the root
/// (`["Channel", "Orderer"]`; empty for the root group itself).
#[derive(Clone, Debug)]
pub(crate) struct Element<'a> {
    pub(crate) item: Item<'a>,
    pub(crate) parent: Vec<&'a str>,
    pub(crate) key: &'a str,
}

impl Element<'_> {
    pub(crate) fn version(&self) -> u64 {
        match self.item {
            Item::Group(g) => g.version,
            Item::Value(v) => v.version,
            Item::Policy(p) => p.version,
        }
    }

    pub(crate) fn mod_policy(&self) -> &str {
        match self.item {
            Item::Group(g) => &g.mod_policy,
            Item::Value(v) => &v.mod_policy,
            Item::Policy(p) => &p.mod_policy,
        }
    }

    pub(crate) fn is_group(&self) -> bool {
        matches!(self.item, Item::Group(_))
    }
}

/// Config map key to element.
pub(crate) type ConfigMap<'a> = BTreeMap<String, Element<'a>>;

/// Why a key or mod_policy path element breaks Fabric's config ID rule. Worded as
/// Fabric's `validateConfigID`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ConfigIdError {
    #[error("config ID illegal, cannot be empty")]
    Empty,
    #[error("config ID illegal, cannot be longer than {MAX_ID_LEN}")]
    TooLong,
    #[error("name '{0}' for config ID is not allowed")]
    Dots(String),
    #[error("config ID '{0}' contains illegal characters")]
    IllegalCharacters(String),
}

/// Why a mod_policy is not a valid policy path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ModPolicyError {
    #[error("mod_policy not set")]
    NotSet,
    /// `index` counts the path's elements from 0, after a leading `/`.
    #[error("path element at {index} is invalid: {source}")]
    Element {
        index: usize,
        #[source]
        source: ConfigIdError,
    },
}

/// Why a config tree does not flatten into a config map.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MapError {
    /// `path` is the group's path without the leading `/`.
    #[error("group /{path} is nested too deep (more than {MAX_GROUP_DEPTH} levels)")]
    TooDeep { path: String },
    #[error("empty group path")]
    EmptyPath,
    /// `key` is the element's full config map key.
    #[error("illegal characters in key: {key}: {source}")]
    IllegalKey {
        key: String,
        #[source]
        source: ConfigIdError,
    },
}

/// Why a config map does not give back a tree: an element a group lists is absent
/// or of another kind. Each variant holds the config map key looked up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RebuildError {
    #[error("empty group path")]
    EmptyPath,
    #[error("ConfigGroup not found at group path: {0}")]
    NotAGroup(String),
    #[error("missing group at path: {0}")]
    MissingGroup(String),
    #[error("ConfigValue not found at value path: {0}")]
    NotAValue(String),
    #[error("missing value at path: {0}")]
    MissingValue(String),
    #[error("ConfigPolicy not found at policy path: {0}")]
    NotAPolicy(String),
    #[error("missing policy at path: {0}")]
    MissingPolicy(String),
}

/// Flattens the tree under `root` (named `root_key`, Fabric's `Channel`); an absent
/// root is an empty map. Every key must satisfy Fabric's config ID rule.
pub(crate) fn map_config<'a>(
    root: Option<&'a ConfigGroup>,
    root_key: &'a str,
) -> Result<ConfigMap<'a>, MapError> {
    let mut map = ConfigMap::new();
    if let Some(root) = root {
        let mut path = vec![root_key];
        add_group(&mut map, &mut path, root)?;
    }
    Ok(map)
}

/// Adds the group at `path` (its last element is the group's key) and everything
/// below it.
fn add_group<'a>(
    map: &mut ConfigMap<'a>,
    path: &mut Vec<&'a str>,
    group: &'a ConfigGroup,
) -> Result<(), MapError> {
    // Legitimate configs nest 4 deep; this bounds recursion on hostile input.
    if path.len() > MAX_GROUP_DEPTH {
        return Err(MapError::TooDeep {
            path: path.join("/"),
        });
    }
    let (key, parent) = path.split_last().ok_or(MapError::EmptyPath)?;
    insert(map, GROUP_PREFIX, parent, key, Item::Group(group))?;
    for (name, child) in &group.groups {
        path.push(name);
        add_group(map, path, child)?;
        path.pop();
    }
    for (name, value) in &group.values {
        insert(map, VALUE_PREFIX, path, name, Item::Value(value))?;
    }
    for (name, policy) in &group.policies {
        insert(map, POLICY_PREFIX, path, name, Item::Policy(policy))?;
    }
    Ok(())
}

fn insert<'a>(
    map: &mut ConfigMap<'a>,
    prefix: &str,
    parent: &[&'a str],
    key: &'a str,
    item: Item<'a>,
) -> Result<(), MapError> {
    let full = element_key(prefix, parent, key);
    if let Err(source) = validate_config_id(key) {
        return Err(MapError::IllegalKey { key: full, source });
    }
    map.insert(
        full,
        Element {
            item,
            parent: parent.to_vec(),
            key,
        },
    );
    Ok(())
}

/// `[Value]  /Channel/Orderer/BatchSize`.
pub(crate) fn element_key(prefix: &str, parent: &[&str], key: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + key.len() + 16 * (parent.len() + 1));
    out.push_str(prefix);
    for group in parent {
        out.push('/');
        out.push_str(group);
    }
    out.push('/');
    out.push_str(key);
    out
}

/// Fabric's rule for a config key: 1 to 249 characters of `[A-Za-z0-9.-]`, and
/// neither `.` nor `..`.
pub(crate) fn validate_config_id(id: &str) -> Result<(), ConfigIdError> {
    if id.is_empty() {
        return Err(ConfigIdError::Empty);
    }
    if id.len() > MAX_ID_LEN {
        return Err(ConfigIdError::TooLong);
    }
    if id == "." || id == ".." {
        return Err(ConfigIdError::Dots(id.to_owned()));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(ConfigIdError::IllegalCharacters(id.to_owned()));
    }
    Ok(())
}

/// Fabric's check of a mod_policy's syntax: set, and each element of the path
/// (after an optional leading `/`) a valid config ID.
pub(crate) fn validate_mod_policy(mod_policy: &str) -> Result<(), ModPolicyError> {
    if mod_policy.is_empty() {
        return Err(ModPolicyError::NotSet);
    }
    let trimmed = mod_policy.strip_prefix('/').unwrap_or(mod_policy);
    for (index, element) in trimmed.split('/').enumerate() {
        validate_config_id(element).map_err(|source| ModPolicyError::Element { index, source })?;
    }
    Ok(())
}

/// The tree a map describes, from the group `[Group]  /root_key` down: each group
/// takes its version and mod_policy from its own entry, and its children are the
/// map's entries for the child names that entry lists. So a group replaced by an
/// update brings its list of children (which is how elements are removed), while
/// the children themselves may come from either side.
pub(crate) fn rebuild<'a>(
    map: &ConfigMap<'a>,
    root_key: &'a str,
) -> Result<ConfigGroup, RebuildError> {
    let upgrade = map.contains_key(ORDERER_CAPABILITIES_KEY);
    let mut path = vec![root_key];
    rebuild_group(map, &mut path, upgrade)
}

fn rebuild_group<'a>(
    map: &ConfigMap<'a>,
    path: &mut Vec<&'a str>,
    upgrade: bool,
) -> Result<ConfigGroup, RebuildError> {
    let (key, parent) = path.split_last().ok_or(RebuildError::EmptyPath)?;
    let group_key = element_key(GROUP_PREFIX, parent, key);
    let group = match map.get(&group_key) {
        Some(Element {
            item: Item::Group(group),
            ..
        }) => *group,
        Some(_) => return Err(RebuildError::NotAGroup(group_key)),
        None => return Err(RebuildError::MissingGroup(group_key)),
    };
    let mut out = ConfigGroup {
        version: group.version,
        mod_policy: group.mod_policy.clone(),
        ..Default::default()
    };
    for name in group.groups.keys() {
        path.push(name);
        let child = rebuild_group(map, path, upgrade)?;
        path.pop();
        out.groups.insert(name.clone(), child);
    }
    for name in group.values.keys() {
        let value_key = element_key(VALUE_PREFIX, path, name);
        let mut value = match map.get(&value_key) {
            Some(Element {
                item: Item::Value(value),
                ..
            }) => (*value).clone(),
            Some(_) => return Err(RebuildError::NotAValue(value_key)),
            None => return Err(RebuildError::MissingValue(value_key)),
        };
        if upgrade && value.mod_policy.is_empty() {
            value.mod_policy = UPGRADED_MOD_POLICY.to_owned();
        }
        out.values.insert(name.clone(), value);
    }
    for name in group.policies.keys() {
        let policy_key = element_key(POLICY_PREFIX, path, name);
        let mut policy = match map.get(&policy_key) {
            Some(Element {
                item: Item::Policy(policy),
                ..
            }) => (*policy).clone(),
            Some(_) => return Err(RebuildError::NotAPolicy(policy_key)),
            None => return Err(RebuildError::MissingPolicy(policy_key)),
        };
        if upgrade && policy.mod_policy.is_empty() {
            policy.mod_policy = UPGRADED_MOD_POLICY.to_owned();
        }
        out.policies.insert(name.clone(), policy);
    }
    if upgrade && out.mod_policy.is_empty() {
        out.mod_policy = UPGRADED_MOD_POLICY.to_owned();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_id_errors_keep_fabric_wording() {
        assert_eq!(
            validate_config_id("").unwrap_err().to_string(),
            "config ID illegal, cannot be empty"
        );
        assert_eq!(
            validate_config_id("..").unwrap_err().to_string(),
            "name '..' for config ID is not allowed"
        );
        assert_eq!(
            validate_config_id(&"k".repeat(250)),
            Err(ConfigIdError::TooLong)
        );
        assert_eq!(
            validate_mod_policy("/Channel/a b").unwrap_err().to_string(),
            "path element at 1 is invalid: config ID 'a b' contains illegal characters"
        );
        assert_eq!(validate_mod_policy(""), Err(ModPolicyError::NotSet));
    }

    #[test]
    fn map_errors_name_the_element_key() {
        let mut root = ConfigGroup::default();
        root.values.insert("bad key".into(), ConfigValue::default());
        let err = map_config(Some(&root), "Channel").unwrap_err();
        assert_eq!(
            err.to_string(),
            "illegal characters in key: [Value]  /Channel/bad key: config ID 'bad key' contains illegal characters"
        );
    }

    #[test]
    fn rebuild_names_the_missing_element() {
        let mut root = ConfigGroup::default();
        root.policies
            .insert("Admins".into(), ConfigPolicy::default());
        let map = map_config(Some(&root), "Channel").unwrap();
        let mut without = map.clone();
        without.remove("[Policy] /Channel/Admins");
        assert_eq!(
            rebuild(&without, "Channel"),
            Err(RebuildError::MissingPolicy(
                "[Policy] /Channel/Admins".into()
            ))
        );
        assert_eq!(
            rebuild(&map, "Other").unwrap_err().to_string(),
            "missing group at path: [Group]  /Other"
        );
    }
}
