//! A channel's configuration as the node enforces it: the typed values, the
//! organizations' MSPs and the policies, all built from one config block. A config
//! block replaces the whole bundle at once (see [`crate::registry::Channel::bundle`]).

use std::sync::Arc;

use orderer_api::channelconfig::{CHANNEL_GROUP, ChannelValues};
use orderer_api::policies::{PolicyManager, SignedData};
use orderer_msp::MspManager;

/// Fabric's policy paths the orderer evaluates.
pub const WRITERS: &str = "/Channel/Writers";
pub const READERS: &str = "/Channel/Readers";
pub const BLOCK_VALIDATION: &str = "/Channel/Orderer/BlockValidation";
/// Who may broadcast in maintenance mode: the ordering organizations' writers.
pub const ORDERER_WRITERS: &str = "/Channel/Orderer/Writers";

/// The MSPs and policies of one channel configuration.
#[derive(Debug)]
pub struct Bundle {
    pub values: ChannelValues,
    pub policies: PolicyManager,
    /// The channel's MSPs for requests: a certificate must be valid now.
    pub msps: Arc<MspManager>,
    /// The same MSPs for config updates, which every OSN checks again when it writes
    /// the config block, possibly long after (a node replaying the channel): as in
    /// Fabric, certificate validity periods are not checked there, so the outcome
    /// does not depend on when a node checks. (Broadcast checks the submitter's
    /// certificate now.)
    pub config_msps: Arc<MspManager>,
}

impl Bundle {
    /// Builds the bundle of a committed configuration; the error says which part of
    /// the configuration is unusable.
    pub fn new(values: ChannelValues) -> Result<Bundle, String> {
        let msps = MspManager::from_msp_configs(values.msps().values().map(|m| m.config()))
            .map_err(|e| e.to_string())?;
        let config_msps = MspManager::from_msp_configs(values.msps().values().map(|m| m.config()))
            .map_err(|e| e.to_string())?
            .check_validity_period(false);
        // ChannelValues refuses a config without a channel group; checked anyway.
        let channel_group = values
            .channel_group()
            .ok_or("the configuration has no channel group")?;
        let policies = PolicyManager::from_config_group(CHANNEL_GROUP, channel_group)
            .map_err(|e| e.to_string())?;
        Ok(Bundle {
            values,
            policies,
            msps: Arc::new(msps),
            config_msps: Arc::new(config_msps),
        })
    }

    /// Evaluates the policy at `path` over `signed`; the error is the policy's
    /// explanation (what was needed, who signed, which signatures were refused).
    pub fn evaluate(&self, path: &str, signed: &[SignedData]) -> Result<(), String> {
        self.policies
            .evaluate_signed_data(path, signed, self.msps.as_ref())
            .map_err(|e| e.to_string())
    }
}
