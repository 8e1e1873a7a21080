//! The channels this node serves.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use orderer_api::Chain;

use crate::bundle::Bundle;
use crate::ledger::Ledger;
use crate::support::ChannelSupport;

/// A channel: its ledger (through its support) and its chain.
#[derive(Debug)]
pub struct Channel {
    pub id: String,
    /// The id, shared cheaply as a metric label.
    pub label: Arc<str>,
    pub support: Arc<ChannelSupport>,
    pub chain: Arc<dyn Chain>,
    /// The configuration in force: its MSPs and policies. Replaced whole when a config
    /// block is written, so a request sees one configuration or the next, never a mix.
    bundle: RwLock<Arc<Bundle>>,
}

impl Channel {
    pub fn new(
        id: String,
        support: Arc<ChannelSupport>,
        chain: Arc<dyn Chain>,
        bundle: Bundle,
    ) -> Channel {
        Channel {
            label: id.as_str().into(),
            id,
            support,
            chain,
            bundle: RwLock::new(Arc::new(bundle)),
        }
    }

    /// The configuration in force.
    pub fn bundle(&self) -> Arc<Bundle> {
        // A writer only swaps an Arc: a poisoned lock still holds a whole bundle.
        self.bundle
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts the configuration of a new config block in force.
    pub fn set_bundle(&self, bundle: Bundle) {
        *self.bundle.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(bundle);
    }

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
