//! A channel's configuration in force, and what a config block does to it.
//!
//! [`ChannelState`] owns the swappable [`Bundle`] (which carries the config
//! sequence): requests read one snapshot, so they see one configuration or the
//! next, never a mix. [`ChannelState::read_config_block`] decodes a config block
//! once and says what writing it changes; the support applies a reconfiguration,
//! and hands a channel creation to the registry.

use std::sync::Arc;

use bytes::Bytes;
use orderer_api::SupportError;
use orderer_api::envelope::parse_payload;
use orderer_api::proto::common::{Block, ConfigEnvelope, Envelope, HeaderType};
use prost::Message;
use tokio::sync::watch;

use crate::bundle::Bundle;

/// The configuration in force of one channel.
#[derive(Debug)]
pub struct ChannelState {
    /// Replaced whole when a config block is written; receivers see each change.
    bundle: watch::Sender<Arc<Bundle>>,
}

/// What writing a config block changes.
#[derive(Debug)]
pub enum ConfigChange {
    /// A CONFIG block: the configuration that takes over once it is written.
    Reconfigures(Box<Bundle>),
    /// A system channel's ORDERER_TRANSACTION: the CONFIG envelope of the channel it
    /// creates, which must exist before the block that records it is written (as in
    /// Fabric: a crash in between creates it again from the same record, and an
    /// existing channel is kept as it is).
    CreatesChannel(Bytes),
}

impl ChannelState {
    pub fn new(bundle: Bundle) -> Self {
        ChannelState {
            bundle: watch::Sender::new(Arc::new(bundle)),
        }
    }

    /// The configuration in force: its values (and sequence), MSPs and policies.
    pub fn bundle(&self) -> Arc<Bundle> {
        self.bundle.borrow().clone()
    }

    /// The config sequence in force.
    pub fn sequence(&self) -> u64 {
        self.bundle.borrow().values.sequence()
    }

    /// The configuration in force, and each one that replaces it.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Bundle>> {
        self.bundle.subscribe()
    }

    /// Makes `next` the configuration in force.
    pub fn replace(&self, next: Bundle) {
        self.bundle.send_replace(Arc::new(next));
    }

    /// Reads config block `number` (decoded once) and checks it against the
    /// configuration in force: what writing it changes.
    pub fn read_config_block(
        &self,
        block: &Block,
        number: u64,
    ) -> Result<ConfigChange, SupportError> {
        let bad = |reason: String| SupportError::BadConfig { number, reason };
        let data = block
            .data
            .as_ref()
            .map(|d| d.data.as_slice())
            .unwrap_or_default();
        let [env] = data else {
            return Err(bad(format!(
                "a config block holds exactly one envelope, not {}",
                data.len()
            )));
        };
        let env = Envelope::decode(env.clone()).map_err(|e| bad(e.to_string()))?;
        let payload = parse_payload(&env).map_err(|e| bad(e.to_string()))?;
        let current = self.bundle();
        match payload.header_type() {
            Some(HeaderType::Config) => {
                let config_env = ConfigEnvelope::decode(payload.data.clone())
                    .map_err(|e| bad(format!("not a ConfigEnvelope: {e}")))?;
                let next = current.next(config_env).map_err(|e| bad(e.to_string()))?;
                Ok(ConfigChange::Reconfigures(Box::new(next)))
            }
            Some(HeaderType::OrdererTransaction) if current.values.is_system_channel() => {
                Ok(ConfigChange::CreatesChannel(payload.data.clone()))
            }
            Some(HeaderType::OrdererTransaction) => Err(bad(
                "an ORDERER_TRANSACTION is only valid on a system channel".into(),
            )),
            other => Err(bad(format!(
                "a config block holds a CONFIG or ORDERER_TRANSACTION envelope, not {}",
                other.map_or("an unknown type", |h| h.as_str_name())
            ))),
        }
    }
}
