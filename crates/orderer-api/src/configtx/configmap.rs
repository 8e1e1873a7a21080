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

/// Flattens the tree under `root` (named `root_key`, Fabric's `Channel`); an absent
/// root is an empty map. Every key must satisfy Fabric's config ID rule.
pub(crate) fn map_config<'a>(
    root: Option<&'a ConfigGroup>,
    root_key: &'a str,
) -> Result<ConfigMap<'a>, String> {
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
) -> Result<(), String> {
    // Legitimate configs nest 4 deep; this bounds recursion on hostile input.
    if path.len() > MAX_GROUP_DEPTH {
        return Err(format!(
            "group /{} is nested too deep (more than {MAX_GROUP_DEPTH} levels)",
            path.join("/")
        ));
    }
    let (key, parent) = path.split_last().ok_or("empty group path")?;
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
) -> Result<(), String> {
    let full = element_key(prefix, parent, key);
    validate_config_id(key).map_err(|e| format!("illegal characters in key: {full}: {e}"))?;
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
pub(crate) fn validate_config_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("config ID illegal, cannot be empty".into());
    }
    if id.len() > MAX_ID_LEN {
        return Err(format!(
            "config ID illegal, cannot be longer than {MAX_ID_LEN}"
        ));
    }
    if id == "." || id == ".." {
        return Err(format!("name '{id}' for config ID is not allowed"));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return Err(format!("config ID '{id}' contains illegal characters"));
    }
    Ok(())
}

/// Fabric's check of a mod_policy's syntax: set, and each element of the path
/// (after an optional leading `/`) a valid config ID.
pub(crate) fn validate_mod_policy(mod_policy: &str) -> Result<(), String> {
    if mod_policy.is_empty() {
        return Err("mod_policy not set".into());
    }
    let trimmed = mod_policy.strip_prefix('/').unwrap_or(mod_policy);
    for (i, element) in trimmed.split('/').enumerate() {
        validate_config_id(element).map_err(|e| format!("path element at {i} is invalid: {e}"))?;
    }
    Ok(())
}

/// The tree a map describes, from the group `[Group]  /root_key` down: each group
/// takes its version and mod_policy from its own entry, and its children are the
/// map's entries for the child names that entry lists. So a group replaced by an
/// update brings its list of children (which is how elements are removed), while
/// the children themselves may come from either side.
pub(crate) fn rebuild<'a>(map: &ConfigMap<'a>, root_key: &'a str) -> Result<ConfigGroup, String> {
    let upgrade = map.contains_key(ORDERER_CAPABILITIES_KEY);
    let mut path = vec![root_key];
    rebuild_group(map, &mut path, upgrade)
}

fn rebuild_group<'a>(
    map: &ConfigMap<'a>,
    path: &mut Vec<&'a str>,
    upgrade: bool,
) -> Result<ConfigGroup, String> {
    let (key, parent) = path.split_last().ok_or("empty group path")?;
    let group_key = element_key(GROUP_PREFIX, parent, key);
    let group = match map.get(&group_key) {
        Some(Element {
            item: Item::Group(group),
            ..
        }) => *group,
        Some(_) => return Err(format!("ConfigGroup not found at group path: {group_key}")),
        None => return Err(format!("missing group at path: {group_key}")),
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
            Some(_) => return Err(format!("ConfigValue not found at value path: {value_key}")),
            None => return Err(format!("missing value at path: {value_key}")),
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
            Some(_) => {
                return Err(format!(
                    "ConfigPolicy not found at policy path: {policy_key}"
                ));
            }
            None => return Err(format!("missing policy at path: {policy_key}")),
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
