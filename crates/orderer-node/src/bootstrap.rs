//! Where each channel's genesis block comes from: a configtxgen block
//! (`General.BootstrapMethod: file`), or a Fabric channel configuration this node
//! generates from its `orderer.yaml` (`Orderer`, `Organizations`, `Channels`), the same
//! on every node given the same configuration.

use std::path::Path;

use anyhow::{Context, bail};
use bytes::Bytes;
use orderer_api::ConsenterKind;
use orderer_api::channelconfig::ChannelValues;
use orderer_api::genesis::{Consensus, Organization, Profile, READERS, WRITERS};
use orderer_api::policies::dsl::{role_principal, signature_policy, signed_by_any};
use orderer_api::proto::common::Block;
use orderer_api::proto::common::msp_role::MspRoleType;
use prost::Message;

use crate::config::{Bootstrap, ChannelEntry, Config};

/// One channel to open: its block 0 and the configuration that block records.
#[derive(Debug, Clone)]
pub struct ChannelPlan {
    pub id: String,
    /// Block 0 as stored; a configtxgen block byte for byte.
    pub genesis: Bytes,
    pub values: ChannelValues,
    /// Made from orderer.yaml (not read from a file): a restart with different
    /// settings must be refused rather than silently ignored.
    pub generated: bool,
}

impl ChannelPlan {
    pub fn kind(&self) -> ConsenterKind {
        self.values.orderer().consenter_kind()
    }
}

/// The channels this node serves.
pub fn plans(config: &Config) -> anyhow::Result<Vec<ChannelPlan>> {
    match config.general.bootstrap() {
        Bootstrap::File(path) => Ok(vec![from_file(Path::new(&path))?]),
        Bootstrap::Generate => config
            .channels
            .iter()
            .map(|entry| generate(config, entry))
            .collect(),
    }
}

/// A configtxgen genesis block: an application channel's, or a system channel's
/// (with a Consortiums group), served as block 0 exactly as read.
fn from_file(path: &Path) -> anyhow::Result<ChannelPlan> {
    let what = || format!("General.BootstrapFile {}", path.display());
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", what()))?;
    let block = Block::decode(bytes.as_slice())
        .map_err(|e| anyhow::anyhow!("{}: not a Fabric block: {e}", what()))?;
    let number = block.header.as_ref().map_or(0, |h| h.number);
    if number != 0 {
        bail!("{}: block {number} is not a genesis block", what());
    }
    let values =
        ChannelValues::from_block(&block).map_err(|e| anyhow::anyhow!("{}: {e}", what()))?;
    Ok(ChannelPlan {
        id: values.channel_id().to_owned(),
        genesis: Bytes::from(bytes),
        values,
        generated: false,
    })
}

/// The genesis block of a channel listed in `Channels`, as configtxgen would make it
/// for a profile with this node's organizations.
fn generate(config: &Config, entry: &ChannelEntry) -> anyhow::Result<ChannelPlan> {
    let orgs = config.organizations();
    let mut application = Vec::new();
    for (i, org) in orgs.iter().enumerate() {
        let msp = orderer_msp::msp_config_from_dir(Path::new(&org.msp_dir), &org.id)
            .with_context(|| format!("Organizations[{i}] ({}): reading its MSP", org.name))?;
        application.push(Organization::new(&org.name, &org.id, msp.into()));
    }
    // The ordering organization is this node's own: its members sign the blocks.
    let g = &config.general;
    let orderer_org = match application.iter().find(|o| o.msp_id == g.local_msp_id) {
        Some(org) => org.clone(),
        None => {
            let msp =
                orderer_msp::msp_config_from_dir(Path::new(&g.local_msp_dir), &g.local_msp_id)
                    .with_context(|| {
                        format!("General.LocalMSPDir {}: reading its MSP", g.local_msp_dir)
                    })?;
            Organization::new(&g.local_msp_id, &g.local_msp_id, msp.into())
        }
    };
    let channel = config.channel_config(entry).map_err(anyhow::Error::msg)?;
    let consensus = match channel.consensus_type {
        ConsenterKind::Solo => Consensus::Solo,
        ConsenterKind::Kafka => Consensus::Kafka {
            brokers: config.orderer.kafka.brokers.clone(),
        },
    };
    let mut profile = Profile::new(&entry.name, consensus, vec![orderer_org], application);
    profile.orderer.batch_size = channel.batch_size;
    profile.orderer.batch_timeout = channel.batch_timeout;
    profile.orderer.addresses = config.orderer_addresses();
    // Channels[i].Writers / Readers: only these organizations' members.
    for (policy, names) in [(WRITERS, &entry.writers), (READERS, &entry.readers)] {
        if let Some(names) = names {
            let members = orgs
                .iter()
                .filter(|o| names.contains(&o.name))
                .map(|o| role_principal(&o.id, MspRoleType::Member))
                .collect();
            // Profile::new always makes an Application group.
            if let Some(app) = profile.application_mut() {
                app.policies
                    .insert(policy.to_owned(), signature_policy(&signed_by_any(members)));
            }
        }
    }
    let genesis = profile
        .generate()
        .map_err(|e| anyhow::anyhow!("channel {}: {e}", entry.name))?;
    let values = ChannelValues::from_block(&genesis.block)
        .map_err(|e| anyhow::anyhow!("channel {}: the generated configuration: {e}", entry.name))?;
    Ok(ChannelPlan {
        id: entry.name.clone(),
        genesis: Bytes::from(genesis.block.encode_to_vec()),
        values,
        generated: true,
    })
}
