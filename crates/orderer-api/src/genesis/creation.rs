//! The request that asks a system channel for a new channel: the `ConfigUpdate`
//! `configtxgen -outputCreateChannelTx` writes for a channel profile (a
//! `Consortium` and an `Application` section), without a system channel at hand.
//!
//! configtxgen diffs the profile's channel group against a template that is the
//! same group with the Application group's values and policies removed. So the
//! update names, at version 0, the Application group and its member orgs (read
//! set), and writes the Application group at version 1 with its policies, `ACLs`
//! and `Capabilities` (write set), plus the `Consortium` value in both. Nothing
//! else of the profile survives the diff: the orgs' MSPs come from the system
//! channel's consortium, the rest of the config from the system channel itself.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;

use crate::configtx::compute_update;
use crate::proto::common::{Config, ConfigGroup, ConfigUpdate, ConfigValue, Consortium};

use super::encode::{APPLICATION_GROUP, application_settings, empty_group};
use super::policy::{Policies, application_group_policies};
use super::profile::{DEFAULT_CAPABILITY, sample_acls};
use super::validate::{GenesisError, check_application, check_channel_id, check_config_id};

const CONSORTIUM_KEY: &str = "Consortium";

/// A channel to create through a system channel, in one of its consortiums.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelCreation {
    /// Fabric's channel ID rule (see [`super::Profile::channel_id`]).
    pub channel_id: String,
    /// The consortium (a group of the system channel's `Consortiums`) whose
    /// `ChannelCreationPolicy` the request must satisfy.
    pub consortium: String,
    /// The config group names (e.g. `Org1`, not the MSP IDs) of the consortium's
    /// orgs that become the channel's application orgs; at least one.
    pub organizations: BTreeSet<String>,
    /// `/Channel/Application/Capabilities`; empty writes no value.
    pub capabilities: BTreeSet<String>,
    /// The Application group's policies; must include `Readers`, `Writers`, `Admins`.
    pub policies: Policies,
    /// The `ACLs` value; empty writes none.
    pub acls: BTreeMap<String, String>,
}

impl ChannelCreation {
    /// The sample profiles' Application section (`V2_0`, the sample policies and
    /// ACLs) for `organizations` of `consortium`.
    pub fn new(
        channel_id: impl Into<String>,
        consortium: impl Into<String>,
        organizations: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        ChannelCreation {
            channel_id: channel_id.into(),
            consortium: consortium.into(),
            organizations: organizations.into_iter().map(Into::into).collect(),
            capabilities: BTreeSet::from([DEFAULT_CAPABILITY.to_owned()]),
            policies: application_group_policies(),
            acls: sample_acls(),
        }
    }

    /// The CONFIG_UPDATE for the new channel, exactly as configtxgen builds it for
    /// the equivalent profile (unsigned: the caller wraps and signs it).
    pub fn config_update(&self) -> Result<ConfigUpdate, GenesisError> {
        check_channel_id(&self.channel_id)?;
        check_config_id("/Channel/Consortium", &self.consortium)?;
        if self.organizations.is_empty() {
            return Err(GenesisError::NoOrganizations {
                group: APPLICATION_GROUP.into(),
            });
        }
        for name in &self.organizations {
            check_config_id("/Channel/Application", name)?;
        }
        check_application(&self.policies, &self.capabilities, &self.acls)?;

        // Both sides carry the orgs unchanged, so their content does not matter:
        // the diff names them by key and version only.
        let mut template = empty_group();
        for name in &self.organizations {
            template.groups.insert(name.clone(), empty_group());
        }
        let mut application = application_settings(&self.policies, &self.capabilities, &self.acls);
        application.groups = template.groups.clone();
        let channel = |app: ConfigGroup| Config {
            sequence: 0,
            channel_group: Some(ConfigGroup {
                groups: BTreeMap::from([(APPLICATION_GROUP.to_owned(), app)]),
                ..empty_group()
            }),
        };
        let mut update =
            compute_update(&self.channel_id, &channel(template), &channel(application))
                // Only a profile without any Application policy could diff to
                // nothing, and check_application requires three.
                .map_err(|reason| GenesisError::Policy {
                    path: "/Channel/Application".into(),
                    name: "Admins".into(),
                    reason: reason.into(),
                })?;
        // The consortium is named in both sets at version 0, with no mod_policy:
        // the system channel checks it against its Consortiums group.
        if let Some(read) = update.read_set.as_mut() {
            read.values
                .insert(CONSORTIUM_KEY.into(), ConfigValue::default());
        }
        if let Some(write) = update.write_set.as_mut() {
            write.values.insert(
                CONSORTIUM_KEY.into(),
                ConfigValue {
                    version: 0,
                    value: Consortium {
                        name: self.consortium.clone(),
                    }
                    .encode_to_vec()
                    .into(),
                    mod_policy: String::new(),
                },
            );
        }
        Ok(update)
    }
}

/// The CONFIG_UPDATE that creates `channel_id` in `consortium` with the
/// consortium's `organizations` (by group name) and the sample Application
/// settings: [`ChannelCreation::new`] then [`ChannelCreation::config_update`].
pub fn channel_creation_update(
    channel_id: &str,
    consortium: &str,
    organizations: &[&str],
) -> Result<ConfigUpdate, GenesisError> {
    ChannelCreation::new(channel_id, consortium, organizations.iter().copied()).config_update()
}
