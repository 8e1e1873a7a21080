//! Fabric's maintenance filter: what a config update may do to
//! `ConsensusType.State` (`STATE_NORMAL`, `STATE_MAINTENANCE`).
//!
//! Fabric uses maintenance mode to migrate a channel from Kafka to etcdraft. This
//! orderer runs solo and Kafka only, so it migrates nothing: a change of consensus
//! type is always refused. Entering and leaving maintenance mode are checked by
//! Fabric's rules, so that a channel shared with Fabric OSNs reaches the same
//! verdicts.

use super::error::UpdateError;
use crate::channelconfig::{ChannelValues, ConsensusState, ORDERER_GROUP, OrdererValues, keys};
use crate::proto::common::{ConfigGroup, ConfigUpdate};

/// Checks the step from `current` to `next`, made by `update`, against Fabric's
/// maintenance-mode rules:
///
/// * without orderer capability `V1_4_2` or `V2_0` (consensus-type migration), the
///   next state must be `STATE_NORMAL` and the type must not change;
/// * a change of state must be the only change of the update: its write set holds
///   just the `Orderer` group, with just the `ConsensusType` value (Fabric's
///   "ensureConsensusTypeChangeOnly"), and neither the type nor the metadata changes;
/// * the consensus type never changes (no migration in this orderer).
///
/// Every message is Fabric's, except for the type change, which says this orderer
/// does not migrate.
pub fn check_maintenance(
    current: &ChannelValues,
    next: &ChannelValues,
    update: &ConfigUpdate,
) -> Result<(), UpdateError> {
    let (ours, theirs) = (current.orderer(), next.orderer());
    let (our_type, their_type) = (ours.consenter_kind(), theirs.consenter_kind());
    let (our_state, their_state) = (state(ours), state(theirs));

    if !ours.capabilities().consensus_type_migration() {
        if theirs.consensus_type().state != ConsensusState::Normal {
            return Err(UpdateError::bad_request(format!(
                "next config attempted to change ConsensusType.State to {their_state}, but capability is disabled"
            )));
        }
        if our_type != their_type {
            return Err(UpdateError::bad_request(format!(
                "next config attempted to change ConsensusType.Type from {our_type} to {their_type}, but capability is disabled"
            )));
        }
        return Ok(());
    }

    if our_state != their_state {
        ensure_consensus_type_change_only(update)?;
        if our_type != their_type {
            return Err(UpdateError::bad_request(format!(
                "attempted to change ConsensusType.Type from {our_type} to {their_type}, but ConsensusType.State is changing from {our_state} to {their_state}"
            )));
        }
        if ours.consensus_type().metadata != theirs.consensus_type().metadata {
            return Err(UpdateError::bad_request(format!(
                "attempted to change ConsensusType.Metadata, but ConsensusType.State is changing from {our_state} to {their_state}"
            )));
        }
    }

    if our_type != their_type {
        if ours.consensus_type().state == ConsensusState::Normal {
            return Err(UpdateError::bad_request(format!(
                "attempted to change consensus type from {our_type} to {their_type}, but current config ConsensusType.State is not in maintenance mode"
            )));
        }
        if theirs.consensus_type().state == ConsensusState::Normal {
            return Err(UpdateError::bad_request(format!(
                "attempted to change consensus type from {our_type} to {their_type}, but next config ConsensusType.State is not in maintenance mode"
            )));
        }
        return Err(UpdateError::bad_request(format!(
            "attempted to change consensus type from {our_type} to {their_type}, transition not supported: \
             this orderer runs solo and kafka and performs no consensus-type migration"
        )));
    }
    Ok(())
}

/// Fabric's name of the state.
fn state(orderer: &OrdererValues) -> &'static str {
    match orderer.consensus_type().state {
        ConsensusState::Normal => "STATE_NORMAL",
        ConsensusState::Maintenance => "STATE_MAINTENANCE",
    }
}

/// A change of state comes alone: the write set touches only
/// `/Channel/Orderer/ConsensusType`.
fn ensure_consensus_type_change_only(update: &ConfigUpdate) -> Result<(), UpdateError> {
    let empty = ConfigGroup::default();
    let write_set = update.write_set.as_ref().unwrap_or(&empty);
    if write_set.groups.is_empty() {
        return Err(UpdateError::bad_request(
            "config update contains no changes",
        ));
    }
    if !write_set.values.is_empty() {
        return Err(UpdateError::bad_request(
            "config update contains changes to values in group Channel",
        ));
    }
    if write_set.groups.len() > 1 {
        return Err(UpdateError::bad_request(
            "config update contains changes to more than one group",
        ));
    }
    let Some(orderer) = write_set.groups.get(ORDERER_GROUP) else {
        return Err(UpdateError::bad_request(format!(
            "update does not contain the {ORDERER_GROUP} group"
        )));
    };
    if !orderer.groups.is_empty() {
        return Err(UpdateError::bad_request(format!(
            "config update contains changes to groups within the {ORDERER_GROUP} group"
        )));
    }
    if !orderer.values.contains_key(keys::CONSENSUS_TYPE) {
        return Err(UpdateError::bad_request(format!(
            "config update does not contain the {} value",
            keys::CONSENSUS_TYPE
        )));
    }
    if orderer.values.len() > 1 {
        return Err(UpdateError::bad_request(format!(
            "config update contain more then just the {} value in the {ORDERER_GROUP} group",
            keys::CONSENSUS_TYPE
        )));
    }
    Ok(())
}
