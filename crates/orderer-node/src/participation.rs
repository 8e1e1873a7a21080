//! The channel participation API over the node's channels: the registry behind the
//! Admin listener (see [`crate::admin`]).
//!
//! Fabric's rules: while a system channel exists, channels come from it (join and
//! removal of other channels are refused, the system channel itself may be
//! removed); a system channel may only be joined by a node with no channel. What
//! differs: Fabric joins only etcdraft/BFT channels; here a solo or Kafka channel is
//! joined with its genesis block, and a Kafka channel's OSN then replays the
//! channel's topic from the start, which is how an OSN is added to a running Kafka
//! channel. A block other than block 0 is refused: the ledger starts at block 0.

use std::sync::Arc;

use async_trait::async_trait;

use crate::admin::{
    ChannelInfo, ChannelInfoShort, ChannelList, JoinBlock, Participation, ParticipationError,
};
use crate::registry::{Registry, RegistryError};

/// [`Participation`] over a [`Registry`].
#[derive(Debug)]
pub struct NodeParticipation {
    registry: Arc<Registry>,
}

impl NodeParticipation {
    pub fn new(registry: Arc<Registry>) -> Self {
        NodeParticipation { registry }
    }
}

fn short(name: &str) -> ChannelInfoShort {
    ChannelInfoShort {
        name: name.to_owned(),
        url: String::new(),
    }
}

#[async_trait]
impl Participation for NodeParticipation {
    fn list(&self) -> ChannelList {
        let system = self.registry.system_channel().map(|c| c.id.clone());
        ChannelList {
            system_channel: system.as_deref().map(short),
            channels: self
                .registry
                .channels()
                .iter()
                .filter(|c| Some(&c.id) != system.as_ref())
                .map(|c| short(&c.id))
                .collect(),
        }
    }

    fn info(&self, channel: &str) -> Result<ChannelInfo, ParticipationError> {
        let c = self
            .registry
            .get(channel)
            .ok_or(ParticipationError::NotFound)?;
        Ok(ChannelInfo::active(&c.id, c.ledger().height()))
    }

    async fn join(&self, block: JoinBlock) -> Result<ChannelInfo, ParticipationError> {
        if self.registry.system_channel().is_some() {
            return Err(ParticipationError::SystemChannelExists);
        }
        if self.registry.get(&block.channel_id).is_some() {
            return Err(ParticipationError::AlreadyExists);
        }
        if block.values.is_system_channel() && !self.registry.channels().is_empty() {
            return Err(ParticipationError::AppChannelsExist);
        }
        if block.number() != 0 {
            return Err(ParticipationError::BadRequest(format!(
                "block {} is not the channel's genesis block: this orderer (solo, Kafka) joins a channel with its block 0 and replays the channel from there",
                block.number()
            )));
        }
        let channel = self
            .registry
            .create(block.bytes)
            .await
            .map_err(|e| match e {
                RegistryError::Exists(_) => ParticipationError::AlreadyExists,
                RegistryError::PendingRemoval(_) => ParticipationError::PendingRemoval,
                RegistryError::BadRequest(m) | RegistryError::NotAllowed(m) => {
                    ParticipationError::BadRequest(m)
                }
                RegistryError::NotFound(_) => ParticipationError::NotFound,
                // Opening fails mostly for what the block says (e.g. this node's identity
                // cannot sign the channel's blocks): the client's to fix, as Fabric's 400.
                RegistryError::Internal(e) => ParticipationError::BadRequest(format!("{e:#}")),
            })?;
        Ok(ChannelInfo::active(&channel.id, channel.ledger().height()))
    }

    async fn remove(&self, channel: &str) -> Result<(), ParticipationError> {
        if let Some(system) = self.registry.system_channel()
            && system.id != channel
        {
            return Err(ParticipationError::SystemChannelExists);
        }
        self.registry.remove(channel).await.map_err(|e| match e {
            RegistryError::NotFound(_) => ParticipationError::NotFound,
            other => ParticipationError::Internal(other.to_string()),
        })
    }
}
