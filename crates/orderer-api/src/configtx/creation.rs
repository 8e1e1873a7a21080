//! Channel creation through an ordering system channel: Fabric's `DefaultTemplator`,
//! the system channel's `ProcessConfigUpdateMsg` for an unknown channel, and the
//! system channel filter.
//!
//! The new channel's genesis config is the creation request applied to a template
//! built from the system channel. Every OSN of the system channel builds it on its
//! own, Fabric OSNs included, so the template is built exactly as Fabric v2.5 builds
//! it, element for element.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;

use super::error::UpdateError;
use super::validator::{Validator, decode_config_update};
use crate::channelconfig::{
    APPLICATION_GROUP, CHANNEL_GROUP, CONSORTIUMS_GROUP, ChannelValues, ORDERER_GROUP, keys,
};
use crate::policies::{Identity, IdentityDeserializer, MspRefusal, PolicyManager};
use crate::proto::common::{
    Config, ConfigEnvelope, ConfigGroup, ConfigPolicy, ConfigValue, Consortium, Envelope,
};

/// The `Admins` policy name.
const ADMINS: &str = "Admins";

/// The genesis config of the channel that the CONFIG_UPDATE `update_env` creates
/// (as `peer channel create` sends it, usually made by `configtxgen
/// -outputCreateChannelTx`), on an orderer whose system channel is
/// `system_channel_id` with config `system_config`.
///
/// * `identities`: the system channel's MSPs. The request's signatures are
///   evaluated against the template's MSPs only (the orderer organizations and the
///   consortium members the request names), as Fabric does; an identity of another
///   MSP of the system channel is refused.
/// * `existing_channels`: how many channels the orderer has, the system channel
///   included (Fabric's `ChannelsCount`): creation is refused once it exceeds
///   `ChannelRestrictions.MaxCount`, when that is not 0.
///
/// The steps are Fabric's: build the template ([`channel_template`]), propose the
/// update against it with the template's policies, then the system channel filter
/// (channel count, maintenance mode, the new config valid and a valid successor of
/// the template). The result is the new channel's config at sequence 1 with
/// `update_env` as `last_update`; the caller wraps it in the CONFIG envelope and
/// the system channel's ORDERER_TRANSACTION, which it signs.
pub fn new_channel_config(
    system_config: &Config,
    system_channel_id: &str,
    update_env: &Envelope,
    identities: &dyn IdentityDeserializer,
    existing_channels: usize,
) -> Result<ConfigEnvelope, UpdateError> {
    let system = ChannelValues::new(system_channel_id, system_config.clone()).map_err(|e| {
        UpdateError::bad_request(format!(
            "the config of system channel '{system_channel_id}' is invalid: {e}"
        ))
    })?;
    let (channel_id, template) = channel_template(&system, update_env)?;
    if channel_id == system_channel_id {
        return Err(UpdateError::bad_request(format!(
            "channel '{channel_id}' is the system channel: its updates are validated against its own config, not created"
        )));
    }

    let template_group = template.channel_group.clone().unwrap_or_default();
    let policies = PolicyManager::from_config_group(CHANNEL_GROUP, &template_group)
        .map_err(|e| UpdateError::bad_request(format!("initializing channelconfig failed: {e}")))?;
    let template = ChannelValues::new(&channel_id, template).map_err(|e| {
        UpdateError::bad_request(format!(
            "the current config of channel '{channel_id}' is invalid: {e}"
        ))
    })?;
    let validator = Validator::new(&template, &policies)?;
    let template_msps = TemplateMsps {
        inner: identities,
        channel_id: &channel_id,
        msp_ids: validator.values().msps().keys().cloned().collect(),
    };
    let (config_env, _) = validator.propose(update_env, &template_msps).map_err(|e| {
        e.context(format!(
            "error validating channel creation transaction for new channel '{channel_id}', \
             could not successfully apply update to template configuration"
        ))
    })?;

    // The system channel filter.
    let max = system.orderer().max_channels();
    if max > 0 && existing_channels as u64 > max {
        return Err(UpdateError::bad_request(format!(
            "channel creation would exceed maximum number of channels: {max}"
        )));
    }
    if system.is_maintenance() {
        return Err(UpdateError::maintenance(
            "channel creation is not permitted: maintenance mode",
        ));
    }
    validator
        .check_next(config_env.config.as_ref())
        .map_err(|e| e.context("config does not validly parse"))?;
    Ok(config_env)
}

/// Fabric's `DefaultTemplator.NewChannelConfig`: the new channel's ID and the
/// template config (sequence 0) its creation request is applied to.
///
/// * `/Channel`: the system channel's values (a `Consortium` value set to the
///   requested consortium, mod_policy `Admins`) and policies, its `Orderer` group,
///   and an `Application` group holding the requested members' groups as the
///   consortium defines them and one policy: the consortium's
///   `ChannelCreationPolicy`, under that name, or as `Admins` when the orderer has
///   capability `V2_0` and the request's Application policies change an `Admins`
///   (present at a version other than 0, or absent from a non-empty set). That
///   policy's name is the Application group's mod_policy and its own.
/// * With orderer capability `V1_1` or later (Fabric's "predictable channel
///   template"), `/Channel` takes the system channel's mod_policy and every version
///   is 0; before, `/Channel`'s mod_policy is empty and copied elements keep their
///   versions.
///
/// The request must name the channel consistently, carry an `Application` group at
/// version 1 and a `Consortium` value naming a consortium of the system channel, and
/// include only (and, if the consortium has members, at least one of) its members.
pub fn channel_template(
    system: &ChannelValues,
    update_env: &Envelope,
) -> Result<(String, Config), UpdateError> {
    let bad = |what: &str, e: String| UpdateError::bad_request(format!("{what}: {e}"));
    let decoded = decode_config_update(update_env)
        .map_err(|e| bad("Failing initial channel config creation", e.to_string()))?;
    let update = &decoded.update;
    if update.channel_id != decoded.header_channel_id {
        return Err(UpdateError::bad_request(format!(
            "Failing initial channel config creation: mismatched channel IDs: '{}' != '{}'",
            update.channel_id, decoded.header_channel_id
        )));
    }
    let write_set = update
        .write_set
        .as_ref()
        .ok_or_else(|| UpdateError::bad_request("Config update has an empty writeset"))?;
    let requested_app = write_set
        .groups
        .get(APPLICATION_GROUP)
        .ok_or_else(|| UpdateError::bad_request("Config update has missing application group"))?;
    if requested_app.version != 1 {
        return Err(UpdateError::bad_request(format!(
            "Config update for channel creation does not set application group version to 1, was {}",
            requested_app.version
        )));
    }
    let consortium_value = write_set
        .values
        .get(keys::CONSORTIUM)
        .ok_or_else(|| UpdateError::bad_request("Consortium config value missing"))?;
    let consortium_name = Consortium::decode(consortium_value.value.clone())
        .map_err(|e| bad("Error reading unmarshalling consortium name", e.to_string()))?
        .name;

    let consortiums = system.consortiums().ok_or_else(|| {
        UpdateError::bad_request(
            "The ordering system channel does not appear to support creating channels",
        )
    })?;
    let consortium = consortiums.get(&consortium_name).ok_or_else(|| {
        UpdateError::bad_request(format!("Unknown consortium name: {consortium_name}"))
    })?;

    let orderer_capabilities = system.orderer().capabilities();
    let system_group = system.channel_group().ok_or_else(|| {
        UpdateError::bad_request("the system channel config has no channel group")
    })?;
    let application = application_template(
        system_group,
        &consortium_name,
        consortium.channel_creation_policy().cloned(),
        requested_app,
        orderer_capabilities.use_channel_creation_policy_as_admins(),
    )?;

    let orderer = system_group
        .groups
        .get(ORDERER_GROUP)
        .cloned()
        .ok_or_else(|| {
            UpdateError::bad_request("the system channel config has no Orderer group")
        })?;
    let mut channel = ConfigGroup {
        values: system_group.values.clone(),
        policies: system_group.policies.clone(),
        ..Default::default()
    };
    channel.groups.insert(ORDERER_GROUP.to_owned(), orderer);
    channel
        .groups
        .insert(APPLICATION_GROUP.to_owned(), application);
    channel.values.insert(
        keys::CONSORTIUM.to_owned(),
        ConfigValue {
            version: 0,
            value: Bytes::from(
                Consortium {
                    name: consortium_name,
                }
                .encode_to_vec(),
            ),
            mod_policy: ADMINS.to_owned(),
        },
    );
    if orderer_capabilities.v1_1_fixes() {
        channel.mod_policy = system_group.mod_policy.clone();
        zero_versions(&mut channel);
    }

    Ok((
        update.channel_id.clone(),
        Config {
            sequence: 0,
            channel_group: Some(channel),
        },
    ))
}

/// The new channel's `Application` group: the creation policy (named as
/// [`channel_template`] says) and the requested members' groups as the consortium
/// `consortium_name` of the system channel defines them.
fn application_template(
    system_group: &ConfigGroup,
    consortium_name: &str,
    creation_policy: Option<crate::proto::common::Policy>,
    requested_app: &ConfigGroup,
    creation_policy_as_admins: bool,
) -> Result<ConfigGroup, UpdateError> {
    let mut policy_key = keys::CHANNEL_CREATION_POLICY;
    if creation_policy_as_admins && !requested_app.policies.is_empty() {
        // An Admins policy the request changes must exist in the template.
        let changes_admins = requested_app
            .policies
            .get(ADMINS)
            .is_none_or(|admins| admins.version != 0);
        if changes_admins {
            policy_key = ADMINS;
        }
    }
    let mut application = ConfigGroup {
        mod_policy: policy_key.to_owned(),
        ..Default::default()
    };
    application.policies.insert(
        policy_key.to_owned(),
        ConfigPolicy {
            version: 0,
            policy: creation_policy,
            mod_policy: policy_key.to_owned(),
        },
    );

    let members = system_group
        .groups
        .get(CONSORTIUMS_GROUP)
        .and_then(|c| c.groups.get(consortium_name))
        .map(|c| &c.groups)
        .ok_or_else(|| {
            UpdateError::bad_request(format!("Unknown consortium name: {consortium_name}"))
        })?;
    if !members.is_empty() {
        if requested_app.groups.is_empty() {
            return Err(UpdateError::bad_request(
                "Proposed configuration has no application group members, but consortium contains members",
            ));
        }
        for org_name in requested_app.groups.keys() {
            let member = members.get(org_name).ok_or_else(|| {
                UpdateError::bad_request(format!(
                    "Attempted to include member {org_name} which is not in the consortium"
                ))
            })?;
            application.groups.insert(org_name.clone(), member.clone());
        }
    }
    Ok(application)
}

/// Every version in the tree to 0.
fn zero_versions(group: &mut ConfigGroup) {
    group.version = 0;
    for value in group.values.values_mut() {
        value.version = 0;
    }
    for policy in group.policies.values_mut() {
        policy.version = 0;
    }
    for child in group.groups.values_mut() {
        zero_versions(child);
    }
}

/// The system channel's MSPs restricted to the template's: the MSPs the new
/// channel starts with, which are the system channel's definitions of the same
/// organizations.
#[derive(Debug)]
struct TemplateMsps<'a> {
    inner: &'a dyn IdentityDeserializer,
    channel_id: &'a str,
    msp_ids: BTreeSet<String>,
}

/// A signer of a channel creation whose MSP the new channel does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MSP {msp} is not an organization of new channel '{channel_id}'")]
struct NotInNewChannel {
    msp: String,
    channel_id: String,
}

impl IdentityDeserializer for TemplateMsps<'_> {
    fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<dyn Identity>, MspRefusal> {
        let identity = self.inner.deserialize_identity(serialized)?;
        if !self.msp_ids.contains(identity.msp_id()) {
            return Err(NotInNewChannel {
                msp: identity.msp_id().to_owned(),
                channel_id: self.channel_id.to_owned(),
            }
            .into());
        }
        Ok(identity)
    }
}
