//! The `Consortiums` group of a system channel: who may create application channels.

use std::collections::BTreeMap;

use super::error::ConfigError;
use super::group::Group;
use super::keys;
use super::organization::Organization;
use crate::proto::common::Policy;

/// One consortium: the organizations that may create channels together, and the
/// policy a channel creation request is checked against.
#[derive(Clone, Debug, PartialEq)]
pub struct Consortium {
    orgs: BTreeMap<String, Organization>,
    channel_creation_policy: Option<Policy>,
}

impl Consortium {
    /// The member organizations by group name.
    pub fn organizations(&self) -> &BTreeMap<String, Organization> {
        &self.orgs
    }

    /// The MSP IDs of the members, sorted by group name.
    pub fn msp_ids(&self) -> impl Iterator<Item = &str> {
        self.orgs.values().map(Organization::msp_id)
    }

    /// `ChannelCreationPolicy`, as configured. Absent, Fabric evaluates an empty
    /// policy, which nothing satisfies.
    pub fn channel_creation_policy(&self) -> Option<&Policy> {
        self.channel_creation_policy.as_ref()
    }
}

/// The consortiums of `/Channel/Consortiums`, by name.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsortiumsValues {
    consortiums: BTreeMap<String, Consortium>,
}

impl ConsortiumsValues {
    /// The `Consortiums` group's own values are not read: Fabric neither reads nor
    /// refuses them, so they pass through as they are.
    pub(crate) fn parse(group: &Group<'_>) -> Result<Self, ConfigError> {
        let mut consortiums = BTreeMap::new();
        for (name, consortium) in group.children() {
            consortium.allow_values(&[keys::CHANNEL_CREATION_POLICY])?;
            let channel_creation_policy =
                consortium.decode::<Policy>(keys::CHANNEL_CREATION_POLICY)?;
            let mut orgs = BTreeMap::new();
            for (org_name, org_group) in consortium.children() {
                let org =
                    Organization::parse(org_name, &org_group, &[], "a consortium organization")?;
                orgs.insert(org_name.to_owned(), org);
            }
            consortiums.insert(
                name.to_owned(),
                Consortium {
                    orgs,
                    channel_creation_policy,
                },
            );
        }
        Ok(ConsortiumsValues { consortiums })
    }

    /// The consortiums by name.
    pub fn consortiums(&self) -> &BTreeMap<String, Consortium> {
        &self.consortiums
    }

    /// One consortium.
    pub fn get(&self, name: &str) -> Option<&Consortium> {
        self.consortiums.get(name)
    }
}
