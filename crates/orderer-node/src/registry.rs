//! The channels this node serves.

use std::collections::BTreeMap;
use std::sync::Arc;

use orderer_api::Chain;

use crate::ledger::Ledger;
use crate::security::Policy;
use crate::support::ChannelSupport;

/// A channel: its ledger (through its support) and its chain.
#[derive(Debug)]
pub struct Channel {
    pub id: String,
    /// The id, shared cheaply as a metric label.
    pub label: Arc<str>,
    pub support: Arc<ChannelSupport>,
    pub chain: Arc<dyn Chain>,
    /// Who may broadcast.
    pub writers: Policy,
    /// Who may deliver.
    pub readers: Policy,
}

impl Channel {
    pub fn ledger(&self) -> &Ledger {
        self.support.ledger()
    }
}

/// Channel id to channel. Fixed once the node has started.
#[derive(Debug, Default)]
pub struct Registry {
    channels: BTreeMap<String, Arc<Channel>>,
}

impl Registry {
    pub fn insert(&mut self, channel: Channel) {
        self.channels.insert(channel.id.clone(), Arc::new(channel));
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Channel>> {
        self.channels.get(id)
    }

    pub fn channels(&self) -> impl Iterator<Item = &Arc<Channel>> {
        self.channels.values()
    }
}
