//! Reading one config group: which keys it may hold, and its values decoded with
//! errors that name their path.

use bytes::Bytes;
use prost::Message;

use super::error::ConfigError;
use crate::proto::common::ConfigGroup;

/// A config group and its path (`/Channel/Orderer/SampleOrg`).
#[derive(Clone, Debug)]
pub(crate) struct Group<'a> {
    pub(crate) path: String,
    pub(crate) group: &'a ConfigGroup,
}

impl<'a> Group<'a> {
    pub(crate) fn new(path: impl Into<String>, group: &'a ConfigGroup) -> Self {
        Group {
            path: path.into(),
            group,
        }
    }

    /// The sub-group `name` with its path, if present.
    pub(crate) fn sub_group(&self, name: &str) -> Option<Group<'a>> {
        self.group
            .groups
            .get(name)
            .map(|g| Group::new(self.child_path(name), g))
    }

    /// The path of a child (value or group) of this group.
    pub(crate) fn child_path(&self, key: &str) -> String {
        format!("{}/{key}", self.path)
    }

    /// Refuses every value whose key is not in `allowed`, as Fabric does for the
    /// groups whose values it deserializes: an unknown key there is an error, not
    /// something to pass along.
    pub(crate) fn allow_values(&self, allowed: &[&str]) -> Result<(), ConfigError> {
        self.allow(
            self.group.values.keys(),
            allowed,
            "value not allowed here: this group holds only",
        )
    }

    /// Refuses every sub-group whose name is not in `allowed`.
    pub(crate) fn allow_groups(&self, allowed: &[&str]) -> Result<(), ConfigError> {
        self.allow(
            self.group.groups.keys(),
            allowed,
            "group not allowed here: this group may hold only",
        )
    }

    fn allow<'k>(
        &self,
        mut keys: impl Iterator<Item = &'k String>,
        allowed: &[&str],
        reason: &str,
    ) -> Result<(), ConfigError> {
        match keys.find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) => Err(ConfigError::structure(
                self.child_path(key),
                format!("{reason} {}", allowed.join(", ")),
            )),
        }
    }

    /// Refuses any sub-group: `what` says which kind of group this is.
    pub(crate) fn no_groups(&self, what: &str) -> Result<(), ConfigError> {
        match self.group.groups.keys().next() {
            None => Ok(()),
            Some(key) => Err(ConfigError::structure(
                self.child_path(key),
                format!("{what} holds no sub-groups"),
            )),
        }
    }

    /// The value's bytes exactly as they are in the config, shared, not copied.
    pub(crate) fn raw(&self, key: &str) -> Option<Bytes> {
        self.group.values.get(key).map(|v| v.value.clone())
    }

    /// The value decoded as `M`, or `None` when the group does not hold it.
    pub(crate) fn decode<M: Message + Default>(&self, key: &str) -> Result<Option<M>, ConfigError> {
        let Some(bytes) = self.raw(key) else {
            return Ok(None);
        };
        M::decode(bytes).map(Some).map_err(|e| {
            ConfigError::malformed(
                self.child_path(key),
                format!("not a valid {}: {e}", short_type_name::<M>()),
            )
        })
    }

    /// The value decoded as `M`; its absence is an error that says why it is needed.
    pub(crate) fn require<M: Message + Default>(
        &self,
        key: &str,
        why: &str,
    ) -> Result<M, ConfigError> {
        self.decode(key)?
            .ok_or_else(|| ConfigError::structure(self.child_path(key), format!("missing: {why}")))
    }

    /// Each sub-group with its name, in key order.
    pub(crate) fn children(&self) -> impl Iterator<Item = (&'a str, Group<'a>)> + '_ {
        self.group
            .groups
            .iter()
            .map(|(name, g)| (name.as_str(), Group::new(self.child_path(name), g)))
    }
}

/// `BatchSize` for `orderer_api::proto::orderer::BatchSize`: the message name users
/// know from Fabric's protos.
fn short_type_name<M>() -> &'static str {
    let full = std::any::type_name::<M>();
    full.rsplit("::").next().unwrap_or(full)
}
