//! A complete Fabric channel configuration and its genesis block, built from a
//! [`Profile`] the way `configtxgen -outputBlock` builds them, but deterministically.
//!
//! The config tree has configtxgen's layout: `/Channel` with `HashingAlgorithm`,
//! `BlockDataHashingStructure`, `OrdererAddresses`, `Capabilities` and (optionally)
//! `Consortium`; `/Channel/Orderer` with the batch settings, `ConsensusType`,
//! `ChannelRestrictions`, `KafkaBrokers` (Kafka only) and one group per orderer org
//! (`MSP`, `Endpoints`); `/Channel/Application` with `ACLs`, `Capabilities` and one
//! group per application org (`MSP`, `AnchorPeers`). A system channel has instead
//! `/Channel/Consortiums`, one group per consortium (`ChannelCreationPolicy`, one
//! group per member org with its `MSP`), all under the orderer admins. Policies
//! default to those of Fabric's sample profiles; every `mod_policy` is `Admins`
//! except `OrdererAddresses`' and the Consortiums tree's (`/Channel/Orderer/Admins`);
//! every version is 0.
//!
//! [`channel_creation_update`] is the other half of a system channel: the
//! CONFIG_UPDATE that asks it for a new channel, as `configtxgen
//! -outputCreateChannelTx` makes it.
//!
//! The genesis block differs from configtxgen's only where configtxgen is random:
//! its CONFIG envelope has no timestamp and no nonce (configtxgen writes the time
//! and a random nonce), so OSNs given the same profile build byte-identical blocks.
//! Everything else is Fabric's genesis layout: block 0, no previous hash, one
//! unsigned envelope whose channel header is CONFIG version 1 with the tx id Fabric
//! derives from nonce and creator (both empty here), and the `SIGNATURES` and
//! `LAST_CONFIG` metadata slots pointing at block 0.
//!
//! No I/O: the caller reads MSP directories and passes their [`OrgMsp`].

mod creation;
pub(crate) mod encode;
mod policy;
mod profile;
mod validate;

/// Its profiles serve other modules' tests too.
#[cfg(test)]
pub(crate) mod tests;

use bytes::Bytes;
use prost::Message;
use sha2::{Digest, Sha256};

use crate::block::{new_block, set_orderer_metadata};
use crate::channel::ChannelConfig;
use crate::proto::common::{
    Block, ChannelHeader, Config, ConfigEnvelope, ConfigGroup, Envelope, Header, HeaderType,
    Payload, SignatureHeader,
};

pub use creation::{ChannelCreation, channel_creation_update};
pub use encode::{APPLICATION_GROUP, CONSORTIUMS_GROUP, ORDERER_GROUP};
pub use policy::{
    ADMINS, BLOCK_VALIDATION, ENDORSEMENT, LIFECYCLE_ENDORSEMENT, Policies, READERS, WRITERS,
    application_group_policies, application_org_node_ou_policies, application_org_policies,
    orderer_group_policies, orderer_org_policies, standard_meta_policies,
};
pub use profile::{
    AnchorPeer, ApplicationProfile, Consensus, ConsortiumProfile, DEFAULT_CAPABILITY,
    OrdererProfile, OrgMsp, Organization, Profile, sample_acls,
};
pub use validate::{GenesisError, PolicyCheckError};

/// The channel header version of Fabric's genesis blocks.
const GENESIS_HEADER_VERSION: i32 = 1;

/// A channel's genesis configuration: the ordering parameters, the config and block 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Genesis {
    /// What the chains read from the config.
    pub channel: ChannelConfig,
    /// The config at sequence 0.
    pub config: Config,
    /// Block 0, carrying `config` in its CONFIG envelope.
    pub block: Block,
}

impl Profile {
    /// Checks the profile and builds the `/Channel` config group.
    pub fn channel_group(&self) -> Result<ConfigGroup, GenesisError> {
        let checked = validate::check(self)?;
        Ok(encode::channel_group(self, &checked))
    }

    /// The channel's config at sequence 0.
    pub fn config(&self) -> Result<Config, GenesisError> {
        Ok(Config {
            sequence: 0,
            channel_group: Some(self.channel_group()?),
        })
    }

    /// The config, block 0 and ordering parameters of the channel.
    pub fn generate(&self) -> Result<Genesis, GenesisError> {
        let config = self.config()?;
        let block = genesis_block(&self.channel_id, &config);
        Ok(Genesis {
            channel: self.channel_config(),
            config,
            block,
        })
    }

    /// Block 0 of the channel (see [`Profile::generate`]).
    pub fn genesis_block(&self) -> Result<Block, GenesisError> {
        Ok(self.generate()?.block)
    }
}

/// Fabric's transaction id: hex SHA-256 over nonce then creator.
fn tx_id(nonce: &[u8], creator: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(nonce)
        .chain_update(creator)
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Block 0 carrying `config`, in Fabric's genesis layout minus timestamp and nonce.
pub fn genesis_block(channel_id: &str, config: &Config) -> Block {
    let envelope = config_envelope(channel_id, config);
    let mut block = new_block(0, Bytes::new(), vec![envelope.encode_to_vec().into()]);
    set_orderer_metadata(&mut block, 0, Bytes::new());
    block
}

/// The unsigned CONFIG envelope carrying `config`, as block 0 holds it: the
/// ordering service's signature goes on the block (metadata), not on the envelope.
pub fn config_envelope(channel_id: &str, config: &Config) -> Envelope {
    let signature_header = SignatureHeader::default();
    let channel_header = ChannelHeader {
        r#type: HeaderType::Config as i32,
        version: GENESIS_HEADER_VERSION,
        timestamp: None,
        channel_id: channel_id.to_owned(),
        // Fabric checks a tx id by recomputing it, so it is derived, not left empty.
        tx_id: tx_id(&signature_header.nonce, &signature_header.creator),
        epoch: 0,
        extension: Bytes::new(),
        tls_cert_hash: Bytes::new(),
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec().into(),
            signature_header: signature_header.encode_to_vec().into(),
        }),
        data: ConfigEnvelope {
            config: Some(config.clone()),
            last_update: None,
        }
        .encode_to_vec()
        .into(),
    };
    Envelope {
        payload: payload.encode_to_vec().into(),
        signature: Bytes::new(),
    }
}
