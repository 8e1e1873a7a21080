//! A channel's configuration as the node enforces it: the committed configuration
//! ([`ChannelValues`], the one type that holds it), with the organizations' MSPs and
//! the policies built from it. A config block replaces the whole bundle at once
//! (see [`crate::channel_state::ChannelState`]).

use std::sync::Arc;

use orderer_api::channelconfig::{ChannelValues, ConfigError};
use orderer_api::configtx::{self, UpdateError};
use orderer_api::policies::{PolicyError, PolicyManager, SignedData};
use orderer_api::proto::common::ConfigEnvelope;
use orderer_msp::{MspManager, SetupError};

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

/// Which part of a configuration the node cannot enforce.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Values(#[from] ConfigError),
    #[error(transparent)]
    Msp(#[from] SetupError),
    #[error(transparent)]
    Policies(#[from] PolicyError),
    /// Not reachable through ChannelValues, which requires the group.
    #[error("the configuration has no /Channel group")]
    NoChannelGroup,
}

/// Why a config block may not follow the configuration in force.
#[derive(Debug, thiserror::Error)]
pub enum NextConfigError {
    /// The update does not yield the configuration the block carries.
    #[error(transparent)]
    Update(#[from] UpdateError),
    /// The block's configuration is unreadable or not a valid successor.
    #[error(transparent)]
    Successor(#[from] ConfigError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("the ConfigEnvelope carries no config")]
    NoConfig,
}

impl Bundle {
    /// Builds the bundle of a committed configuration.
    pub fn new(values: ChannelValues) -> Result<Bundle, BundleError> {
        let msp_configs = || values.msps().values().map(|m| m.config());
        let msps = MspManager::from_msp_configs(msp_configs())?;
        let config_msps = MspManager::from_msp_configs(msp_configs())?.check_validity_period(false);
        let group = values.channel_group().ok_or(BundleError::NoChannelGroup)?;
        let policies = PolicyManager::from_config_group("Channel", group)?;
        Ok(Bundle {
            values,
            policies,
            msps: Arc::new(msps),
            config_msps: Arc::new(config_msps),
        })
    }

    /// The bundle of the configuration a config block about to be written carries
    /// (Fabric's `Validate`): that configuration must be exactly what its update
    /// yields when applied to this one, and a valid successor of it.
    pub fn next(&self, config_env: ConfigEnvelope) -> Result<Bundle, NextConfigError> {
        configtx::Validator::new(&self.values, &self.policies)?
            .validate(&config_env, self.config_msps.as_ref())?;
        let config = config_env.config.ok_or(NextConfigError::NoConfig)?;
        let values =
            ChannelValues::new(self.values.channel_id(), config).map_err(BundleError::from)?;
        self.values.check_successor(&values)?;
        Ok(Bundle::new(values)?)
    }

    /// Evaluates the policy at `path` over `signed`; the error is the policy's
    /// explanation (what was needed, who signed, which signatures were refused).
    pub fn evaluate(&self, path: &str, signed: &[SignedData]) -> Result<(), PolicyError> {
        self.policies
            .evaluate_signed_data(path, signed, self.msps.as_ref())
    }
}
