//! Channel MSPs: Fabric's X.509 MSP built from a channel configuration's
//! `FabricMSPConfig`, with Fabric v2's semantics (MSP version 1.4.3: NodeOUs with
//! admin and orderer OUs), and the channel's MSPs as an
//! [`orderer_api::policies::IdentityDeserializer`].
//!
//! * [`FabricMsp`]: setup from the configuration (CAs, intermediates, admins, CRLs,
//!   OU identifiers, NodeOUs, TLS CAs, crypto config) and identity validation.
//! * [`FabricIdentity`]: a validated identity; principals and signatures.
//! * [`MspManager`]: the channel's MSPs by ID, with a cache of validated identities.
//! * [`msp_config_from_dir`]: an MSP directory in Fabric's layout as a
//!   `FabricMSPConfig`, as Fabric's configbuilder reads it.

mod chain;
mod crl;
mod dir;
mod error;
mod identity;
mod manager;
mod msp;
mod ous;
mod principal;
mod setup;

pub use chain::ChainError;
pub(crate) use chain::{Pools, dedup, unique_chain_any_time};
pub use crl::{CrlError, RevocationError};
pub(crate) use dir::list_files;
pub use dir::{msp_config, msp_config_from_dir, msp_config_from_dir_with_warnings};
pub use error::{DeserializeError, SetupError, ValidationError, ValidityPeriodError};
pub use identity::{FabricIdentity, VerifyError};
pub use manager::MspManager;
pub use msp::FabricMsp;
pub use ous::{NodeRole, OuError, OuIdentifier};
pub use principal::PrincipalError;
