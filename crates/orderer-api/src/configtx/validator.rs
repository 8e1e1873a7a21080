//! Fabric's config update validation (`common/configtx`): read set, delta set,
//! versions and mod_policies, over one channel's current config.

use std::borrow::Cow;

use prost::{DecodeError, Message};

use super::configmap::{self, ConfigMap, Element};
use super::error::UpdateError;
use super::maintenance::check_maintenance;
use crate::channelconfig::{CHANNEL_GROUP, ChannelValues};
use crate::envelope::{header_type_name, parse_payload};
use crate::error::EnvelopeError;
use crate::policies::{IdentityDeserializer, PolicyError, PolicyManager, SignedData};
use crate::proto::common::{
    Config, ConfigEnvelope, ConfigGroup, ConfigUpdate, ConfigUpdateEnvelope, Envelope, HeaderType,
};

/// A CONFIG_UPDATE envelope, decoded.
#[derive(Debug)]
pub(crate) struct DecodedUpdate {
    /// The channel the envelope's channel header names.
    pub(crate) header_channel_id: String,
    pub(crate) envelope: ConfigUpdateEnvelope,
    pub(crate) update: ConfigUpdate,
}

/// Why an envelope is not a readable CONFIG_UPDATE.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeUpdateError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// `found` is the header type's name (or number when unknown).
    #[error("envelope has header type {found}, expected CONFIG_UPDATE")]
    NotConfigUpdate { found: String },
    #[error("payload data is not a valid common.ConfigUpdateEnvelope: {0}")]
    ConfigUpdateEnvelope(#[source] DecodeError),
    #[error("config_update is not a valid common.ConfigUpdate: {0}")]
    ConfigUpdate(#[source] DecodeError),
}

/// Decodes a CONFIG_UPDATE envelope: payload, headers, `ConfigUpdateEnvelope` and
/// its `ConfigUpdate`. Fabric's `EnvelopeToConfigUpdate` plus the update itself.
pub(crate) fn decode_config_update(env: &Envelope) -> Result<DecodedUpdate, DecodeUpdateError> {
    let parsed = parse_payload(env)?;
    if parsed.channel_header.r#type != HeaderType::ConfigUpdate as i32 {
        return Err(DecodeUpdateError::NotConfigUpdate {
            found: header_type_name(parsed.channel_header.r#type),
        });
    }
    let envelope = ConfigUpdateEnvelope::decode(parsed.data)
        .map_err(DecodeUpdateError::ConfigUpdateEnvelope)?;
    let update = ConfigUpdate::decode(envelope.config_update.clone())
        .map_err(DecodeUpdateError::ConfigUpdate)?;
    Ok(DecodedUpdate {
        header_channel_id: parsed.channel_header.channel_id,
        envelope,
        update,
    })
}

/// The channel a CONFIG_UPDATE envelope is for, from its channel header.
///
/// Fabric's registrar routes by it: an existing channel validates the update with
/// its [`Validator`]; an unknown channel, on an orderer with a system channel, is a
/// channel creation ([`new_channel_config`](super::new_channel_config)); otherwise
/// the channel is not found.
pub fn config_update_channel_id(env: &Envelope) -> Result<String, UpdateError> {
    decode_config_update(env)
        .map(|d| d.header_channel_id)
        .map_err(|e| UpdateError::bad_request(format!("bad config update envelope: {e}")))
}

/// Validates config updates against one configuration of one channel, as Fabric's
/// `configtx.ValidatorImpl` does, and proposes the configuration they lead to.
///
/// The rules, element by element of Fabric's config map:
/// * every element of the read set exists at the version it names;
/// * the delta set (write set elements not in the read set at the same version)
///   is not empty;
/// * a changed existing element is at its current version + 1 and the update's
///   signatures satisfy its *current* mod_policy, resolved as Fabric resolves it
///   (an absolute path from `/Channel`; a relative one from the element's group,
///   or, for a group, from the group itself);
/// * a new element is at version 0 (its parent group's change is what is authorized);
/// * every mod_policy in the delta set is syntactically valid.
///
/// The result is the current config with the delta applied, at sequence + 1, and
/// must be a valid configuration that may follow the current one.
///
/// Pure and deterministic: where Fabric iterates maps in random order, this checks
/// elements in key order, so the error reported for an update with several
/// problems is always the same one.
///
/// It borrows the configuration in force and its policies (a channel's bundle
/// holds both), so validating an update copies neither.
#[derive(Debug, Clone, Copy)]
pub struct Validator<'a> {
    values: &'a ChannelValues,
    policies: &'a PolicyManager,
}

impl<'a> Validator<'a> {
    /// The validator of `values`, a channel's current configuration, whose policies
    /// are `policies` (the manager of its `/Channel` group, at the root).
    ///
    /// The config's keys must be ones Fabric accepts.
    pub fn new(
        values: &'a ChannelValues,
        policies: &'a PolicyManager,
    ) -> Result<Validator<'a>, UpdateError> {
        configmap::map_config(values.channel_group(), CHANNEL_GROUP).map_err(|e| {
            UpdateError::bad_request(format!("error converting config to map: {e}"))
        })?;
        Ok(Validator { values, policies })
    }

    /// The channel's ID.
    pub fn channel_id(&self) -> &'a str {
        self.values.channel_id()
    }

    /// The current config's sequence.
    pub fn sequence(&self) -> u64 {
        self.values.sequence()
    }

    /// The current config.
    pub fn config(&self) -> &'a Config {
        self.values.config()
    }

    /// The current config, typed.
    pub fn values(&self) -> &'a ChannelValues {
        self.values
    }

    /// Validates the CONFIG_UPDATE envelope `update_env` (as `peer channel update`
    /// sends it) against the current config, with `identities` the channel's MSPs,
    /// and returns the new configuration: the updated config at sequence + 1, with
    /// `update_env` as its `last_update`.
    ///
    /// Besides the update rules (see [`Validator`]), the new config must be valid,
    /// may follow the current one ([`ChannelValues::check_successor`]) and must pass
    /// Fabric's maintenance-mode checks ([`check_maintenance`]).
    pub fn propose_config_update(
        &self,
        update_env: &Envelope,
        identities: &dyn IdentityDeserializer,
    ) -> Result<ConfigEnvelope, UpdateError> {
        let channel_context = || {
            format!(
                "error applying config update to existing channel '{}'",
                self.channel_id()
            )
        };
        let (config_env, update) = self
            .propose(update_env, identities)
            .map_err(|e| e.context(channel_context()))?;
        let next = self
            .check_next(config_env.config.as_ref())
            .map_err(|e| e.context(channel_context()))?;
        check_maintenance(self.values, &next, &update).map_err(|e| {
            e.context("config update for existing channel did not pass maintenance checks")
        })?;
        Ok(config_env)
    }

    /// Fabric's `Validate`: `config_env` is the configuration that follows the
    /// current one, i.e. its sequence is the current + 1 and proposing its
    /// `last_update` again yields exactly its config. How an orderer checks a
    /// config it did not propose itself.
    pub fn validate(
        &self,
        config_env: &ConfigEnvelope,
        identities: &dyn IdentityDeserializer,
    ) -> Result<(), UpdateError> {
        let config = config_env
            .config
            .as_ref()
            .ok_or_else(|| UpdateError::bad_request("config envelope has nil config"))?;
        if Some(config.sequence) != self.sequence().checked_add(1) {
            return Err(UpdateError::bad_request(format!(
                "config currently at sequence {}, cannot validate config at sequence {}",
                self.sequence(),
                config.sequence
            )));
        }
        let last_update = config_env.last_update.as_ref().ok_or_else(|| {
            UpdateError::bad_request("config envelope has no last_update (the config update)")
        })?;
        let proposed = self.propose_config_update(last_update, identities)?;
        if proposed.config.as_ref() != Some(config) {
            return Err(UpdateError::bad_request(
                "ConfigEnvelope LastUpdate did not produce the supplied config result",
            ));
        }
        Ok(())
    }

    /// Fabric's `proposeConfigUpdate`: the authorized update applied, unchecked as a
    /// configuration; also the decoded update.
    pub(crate) fn propose(
        &self,
        update_env: &Envelope,
        identities: &dyn IdentityDeserializer,
    ) -> Result<(ConfigEnvelope, ConfigUpdate), UpdateError> {
        let decoded = decode_config_update(update_env).map_err(|e| {
            UpdateError::bad_request(format!("error converting envelope to config update: {e}"))
        })?;
        if decoded.header_channel_id != self.channel_id() {
            return Err(UpdateError::bad_request(format!(
                "error converting envelope to config update: envelope for channel '{}' sent to channel '{}'",
                decoded.header_channel_id,
                self.channel_id()
            )));
        }
        let channel_group = self
            .authorize(&decoded, identities)
            .map_err(|e| e.context("error authorizing update"))?;
        let config = Config {
            sequence: self.sequence() + 1,
            channel_group: Some(channel_group),
        };
        Ok((
            ConfigEnvelope {
                config: Some(config),
                last_update: Some(update_env.clone()),
            },
            decoded.update,
        ))
    }

    /// The proposed config read as a channel configuration that may follow the
    /// current one.
    pub(crate) fn check_next(&self, config: Option<&Config>) -> Result<ChannelValues, UpdateError> {
        let config = config.cloned().unwrap_or_default();
        let next = ChannelValues::new(self.channel_id(), config).map_err(|e| {
            UpdateError::bad_request(format!("the updated config is not valid: {e}"))
        })?;
        self.values.check_successor(&next).map_err(|e| {
            UpdateError::bad_request(format!(
                "the updated config cannot follow the current one: {e}"
            ))
        })?;
        Ok(next)
    }

    /// Fabric's `authorizeUpdate`: the new `/Channel` group.
    fn authorize(
        &self,
        decoded: &DecodedUpdate,
        identities: &dyn IdentityDeserializer,
    ) -> Result<ConfigGroup, UpdateError> {
        let update = &decoded.update;
        if update.channel_id != self.channel_id() {
            return Err(UpdateError::bad_request(format!(
                "ConfigUpdate for channel '{}' but envelope for channel '{}'",
                update.channel_id,
                self.channel_id()
            )));
        }
        let current = configmap::map_config(self.values.channel_group(), CHANNEL_GROUP)
            .map_err(|e| UpdateError::bad_request(format!("error mapping current config: {e}")))?;

        let read_set = configmap::map_config(update.read_set.as_ref(), CHANNEL_GROUP)
            .map_err(|e| UpdateError::bad_request(format!("error mapping ReadSet: {e}")))?;
        verify_read_set(&current, &read_set)
            .map_err(|e| UpdateError::bad_request(format!("error validating ReadSet: {e}")))?;

        let write_set = configmap::map_config(update.write_set.as_ref(), CHANNEL_GROUP)
            .map_err(|e| UpdateError::bad_request(format!("error mapping WriteSet: {e}")))?;
        let delta = delta_set(&read_set, &write_set);
        let signed = SignedData::from_config_update_envelope(&decoded.envelope)
            .map_err(|e| UpdateError::bad_request(e.to_string()))?;
        self.verify_delta_set(&current, &delta, &signed, identities)
            .map_err(|e| e.context("error validating DeltaSet"))?;

        // Fabric's computeUpdateResult: the delta replaces or adds elements.
        let mut full = current;
        full.extend(delta);
        if let Some(key) = write_set.keys().find(|key| !full.contains_key(*key)) {
            return Err(UpdateError::bad_request(format!(
                "full config did not verify: writeset contained key {key} which did not appear in proposed config"
            )));
        }
        configmap::rebuild(&full, CHANNEL_GROUP).map_err(|e| {
            UpdateError::bad_request(format!(
                "could not turn configMap back to channelGroup: {e}"
            ))
        })
    }

    fn verify_delta_set(
        &self,
        current: &ConfigMap<'_>,
        delta: &ConfigMap<'_>,
        signed: &[SignedData],
        identities: &dyn IdentityDeserializer,
    ) -> Result<(), UpdateError> {
        if delta.is_empty() {
            return Err(UpdateError::bad_request(
                "delta set was empty -- update would have no effect",
            ));
        }
        for (key, element) in delta {
            configmap::validate_mod_policy(element.mod_policy()).map_err(|e| {
                UpdateError::bad_request(format!("invalid mod_policy for element {key}: {e}"))
            })?;
            let Some(existing) = current.get(key) else {
                if element.version() != 0 {
                    return Err(UpdateError::bad_request(format!(
                        "attempted to set key {key} to version {}, but key does not exist",
                        element.version()
                    )));
                }
                continue;
            };
            if Some(element.version()) != existing.version().checked_add(1) {
                return Err(UpdateError::bad_request(format!(
                    "attempt to set key {key} to version {}, but key is at version {}",
                    element.version(),
                    existing.version()
                )));
            }
            let manager = self.manager_for_item(existing).ok_or_else(|| {
                UpdateError::bad_request(format!(
                    "unexpected missing policy {} for item {key}",
                    existing.mod_policy()
                ))
            })?;
            let policy = manager.get_policy(existing.mod_policy()).map_err(|_| {
                UpdateError::bad_request(format!(
                    "unexpected missing policy {} for item {key}",
                    existing.mod_policy()
                ))
            })?;
            match policy.evaluate_signed_data(signed, identities) {
                Ok(()) => {}
                Err(e @ PolicyError::NotSatisfied(_)) => {
                    return Err(UpdateError::forbidden(format!(
                        "policy for {key} not satisfied: {e}"
                    )));
                }
                Err(e) => {
                    return Err(UpdateError::bad_request(format!(
                        "policy for {key} could not be evaluated: {e}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Fabric's `policyForItem`: where the element's mod_policy is looked up. An
    /// absolute mod_policy, or the root group's, from the root; a relative one
    /// from the element's group, or from the group itself for a group.
    fn manager_for_item(&self, item: &Element<'_>) -> Option<Cow<'a, PolicyManager>> {
        let mod_policy = item.mod_policy();
        if mod_policy.starts_with('/') || item.parent.is_empty() {
            return Some(Cow::Borrowed(self.policies));
        }
        let mut path: Vec<&str> = item.parent[1..].to_vec();
        if item.is_group() {
            path.push(item.key);
        }
        self.policies.sub_manager(&path).map(Cow::Owned)
    }
}

/// Why a read set does not match the current config. `key` is the config map key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
enum ReadSetError {
    #[error("existing config does not contain element for {key} but was in the read set")]
    Missing { key: String },
    #[error(
        "proposed update requires that key {key} be at version {read}, but it is currently at version {current}"
    )]
    Version {
        key: String,
        read: u64,
        current: u64,
    },
}

/// Every read set element exists at the version the read set names.
fn verify_read_set(current: &ConfigMap<'_>, read_set: &ConfigMap<'_>) -> Result<(), ReadSetError> {
    for (key, element) in read_set {
        let Some(existing) = current.get(key) else {
            return Err(ReadSetError::Missing { key: key.clone() });
        };
        if existing.version() != element.version() {
            return Err(ReadSetError::Version {
                key: key.clone(),
                read: element.version(),
                current: existing.version(),
            });
        }
    }
    Ok(())
}

/// The write set less what the read set holds at the same version.
fn delta_set<'a>(read_set: &ConfigMap<'_>, write_set: &ConfigMap<'a>) -> ConfigMap<'a> {
    write_set
        .iter()
        .filter(|(key, element)| {
            read_set
                .get(*key)
                .is_none_or(|read| read.version() != element.version())
        })
        .map(|(key, element)| (key.clone(), element.clone()))
        .collect()
}
