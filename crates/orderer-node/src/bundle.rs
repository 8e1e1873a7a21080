//! A channel's configuration as the node enforces it: the typed values, the
//! organizations' MSPs and the policies, all built from one config block. A config
//! block replaces the whole bundle at once (see [`crate::registry::Channel::bundle`]).

use std::sync::Arc;

use orderer_api::channel::CommittedConfig;
use orderer_api::channelconfig::ChannelValues;
use orderer_api::policies::{PolicyManager, SignedData};
use orderer_api::proto::common::Config;
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
    /// Builds the bundle of `config` (a committed config of channel `channel_id`);
    /// the error says which part of the configuration is unusable.
    pub fn new(channel_id: &str, config: &CommittedConfig) -> Result<Bundle, String> {
        let values = ChannelValues::new(
            channel_id,
            Config {
                sequence: config.sequence,
                channel_group: Some(config.channel_group.clone()),
            },
        )
        .map_err(|e| e.to_string())?;
        let msps = MspManager::from_msp_configs(values.msps().values().map(|m| m.config()))
            .map_err(|e| e.to_string())?;
        let config_msps = MspManager::from_msp_configs(values.msps().values().map(|m| m.config()))
            .map_err(|e| e.to_string())?
            .check_validity_period(false);
        let policies = PolicyManager::from_config_group("Channel", &config.channel_group)
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
