//! `orderer-cli genesis`: a channel's genesis block from MSP directories and a few
//! settings, as configtxgen makes it from a profile, without Fabric's tools. With
//! `system`, a system channel (a consortium of the given orgs, no Application
//! group) to boot orderers from (`General.BootstrapMethod: file`), in which
//! `orderer-cli channel create` then creates channels.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use orderer_api::BatchSize;
use orderer_api::genesis::{Consensus, ConsortiumProfile, Organization, Profile};
use orderer_api::proto::common::Block;

/// An organization given as `NAME:MSPID:DIR` (its config group name, MSP ID and
/// MSP directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgSpec {
    pub name: String,
    pub msp_id: String,
    pub dir: PathBuf,
}

impl std::str::FromStr for OrgSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(name), Some(msp_id), Some(dir))
                if !name.is_empty() && !msp_id.is_empty() && !dir.is_empty() =>
            {
                Ok(OrgSpec {
                    name: name.to_owned(),
                    msp_id: msp_id.to_owned(),
                    dir: PathBuf::from(dir),
                })
            }
            _ => Err(format!("{s:?}: expected NAME:MSPID:DIR")),
        }
    }
}

impl OrgSpec {
    /// The org with its verifying MSP read from its directory.
    fn load(&self) -> anyhow::Result<Organization> {
        let msp = orderer_msp::msp_config_from_dir(&self.dir, &self.msp_id).with_context(|| {
            format!(
                "organization {} ({}): reading the MSP in {}",
                self.name,
                self.msp_id,
                self.dir.display()
            )
        })?;
        Ok(Organization::new(&self.name, &self.msp_id, msp.into()))
    }
}

/// What `orderer-cli genesis` reads.
#[derive(Clone, Debug)]
pub struct GenesisSpec {
    pub channel_id: String,
    /// A system channel: `orgs` form `consortium`. Otherwise an application
    /// channel whose application orgs are `orgs`.
    pub system: bool,
    pub consortium: String,
    pub orderer_orgs: Vec<OrgSpec>,
    pub orgs: Vec<OrgSpec>,
    /// Kafka seed brokers; empty means solo.
    pub kafka_brokers: Vec<String>,
    /// `/Channel/OrdererAddresses`.
    pub orderer_addresses: Vec<String>,
    pub batch_timeout: Option<Duration>,
    pub max_message_count: Option<u32>,
    /// `ChannelRestrictions.MaxCount` (0: no limit).
    pub max_channels: u64,
}

impl GenesisSpec {
    /// The profile, with its MSPs read from disk.
    pub fn profile(&self) -> anyhow::Result<Profile> {
        anyhow::ensure!(
            !self.orderer_orgs.is_empty(),
            "at least one --orderer-org is needed: its members sign the blocks"
        );
        let orderer_orgs = load_all(&self.orderer_orgs)?;
        let orgs = load_all(&self.orgs)?;
        let consensus = if self.kafka_brokers.is_empty() {
            Consensus::Solo
        } else {
            Consensus::Kafka {
                brokers: self.kafka_brokers.clone(),
            }
        };
        let mut profile = if self.system {
            let consortium = ConsortiumProfile::new(orgs);
            Profile::system(
                &self.channel_id,
                consensus,
                orderer_orgs,
                BTreeMap::from([(self.consortium.clone(), consortium)]),
            )
        } else {
            anyhow::ensure!(
                !orgs.is_empty(),
                "an application channel needs at least one --org"
            );
            Profile::new(&self.channel_id, consensus, orderer_orgs, orgs)
        };
        profile.orderer.addresses = self.orderer_addresses.clone();
        profile.orderer.max_channels = self.max_channels;
        if let Some(t) = self.batch_timeout {
            profile.orderer.batch_timeout = t;
        }
        if let Some(n) = self.max_message_count {
            profile.orderer.batch_size = BatchSize {
                max_message_count: n,
                ..profile.orderer.batch_size
            };
        }
        Ok(profile)
    }

    /// Block 0 of the channel.
    pub fn block(&self) -> anyhow::Result<Block> {
        let profile = self.profile()?;
        profile
            .genesis_block()
            .with_context(|| format!("channel {}", self.channel_id))
    }
}

fn load_all(specs: &[OrgSpec]) -> anyhow::Result<Vec<Organization>> {
    specs.iter().map(OrgSpec::load).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_specs_are_name_mspid_dir_and_the_dir_may_hold_colons() {
        let spec: OrgSpec = "Org1:Org1MSP:/tmp/a:b/msp".parse().unwrap();
        assert_eq!(
            spec,
            OrgSpec {
                name: "Org1".into(),
                msp_id: "Org1MSP".into(),
                dir: "/tmp/a:b/msp".into(),
            }
        );
        for bad in ["Org1", "Org1:Org1MSP", "Org1::dir", ":Org1MSP:dir"] {
            let err = bad.parse::<OrgSpec>().unwrap_err();
            assert!(err.contains("NAME:MSPID:DIR"), "{err}");
        }
    }
}
