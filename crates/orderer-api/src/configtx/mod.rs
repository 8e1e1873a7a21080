//! Fabric's config updates (`common/configtx` and the orderer's message
//! processors): how a CONFIG_UPDATE envelope becomes a channel's next config.
//!
//! * [`Validator`]: an existing channel's update, validated against its current
//!   config and policies (read set versions, write set versions, mod_policies) and
//!   applied; [`Validator::validate`] re-checks a proposed config.
//! * [`new_channel_config`]: a new channel's genesis config from a creation
//!   request, through the system channel's template ([`channel_template`]).
//! * [`check_maintenance`]: Fabric's maintenance-mode rules for the step from one
//!   config to the next.
//! * [`config_update_channel_id`]: which channel an update is for, to route it.
//! * [`UpdateError`]: a refusal, classified (FORBIDDEN when signatures are
//!   missing, BAD_REQUEST otherwise) with Fabric's wording.
//!
//! Elements are addressed by Fabric's config map keys: `[Group]  /Channel/Application`,
//! `[Value]  /Channel/Orderer/BatchSize`, `[Policy] /Channel/Admins`.
//!
//! Pure: no I/O, no clock, no randomness; the same inputs give the same config on
//! every orderer, which is what lets OSNs (ours and Fabric's) agree on blocks.

mod compute;
mod configmap;
mod creation;
mod error;
mod maintenance;
mod validator;

#[cfg(test)]
mod tests;

pub use compute::{ComputeUpdateError, compute_update};
pub use creation::{channel_template, new_channel_config};
pub use error::{UpdateError, UpdateErrorClass};
pub use maintenance::check_maintenance;
pub use validator::{Validator, config_update_channel_id};
