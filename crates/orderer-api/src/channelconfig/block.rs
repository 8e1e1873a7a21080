//! Reading a config block: block → its one CONFIG envelope → payload →
//! `ConfigEnvelope` → `Config`, with the channel header on the way.

use prost::Message;

use super::error::ConfigBlockError;
use crate::envelope::parse_payload;
use crate::proto::common::{Block, ChannelHeader, Config, ConfigEnvelope, Envelope, HeaderType};

/// What a CONFIG envelope carries, structurally checked but not validated.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigTx {
    /// The envelope's channel header: channel ID, type (CONFIG), tx ID, timestamp.
    pub channel_header: ChannelHeader,
    /// The configuration; its `channel_group` is present.
    pub config: Config,
    /// The signed CONFIG_UPDATE that produced this configuration; absent in a
    /// genesis block.
    pub last_update: Option<Envelope>,
}

impl ConfigTx {
    /// The channel the configuration is for.
    pub fn channel_id(&self) -> &str {
        &self.channel_header.channel_id
    }

    /// The header type; always `CONFIG` for what [`read_config_envelope`] returns.
    pub fn header_type(&self) -> i32 {
        self.channel_header.r#type
    }
}

/// Reads the configuration a CONFIG envelope carries.
pub fn read_config_envelope(env: &Envelope) -> Result<ConfigTx, ConfigBlockError> {
    let payload = parse_payload(env)?;
    if payload.header_type() != Some(HeaderType::Config) {
        return Err(ConfigBlockError::NotConfig {
            found: payload.channel_header.r#type,
        });
    }
    let config_env = ConfigEnvelope::decode(payload.data)
        .map_err(|e| ConfigBlockError::MalformedConfigEnvelope(e.to_string()))?;
    let config = config_env.config.ok_or(ConfigBlockError::MissingConfig)?;
    if config.channel_group.is_none() {
        return Err(ConfigBlockError::MissingChannelGroup);
    }
    Ok(ConfigTx {
        channel_header: payload.channel_header,
        config,
        last_update: config_env.last_update,
    })
}

/// Reads the configuration of a config block: a block with a header whose data is
/// exactly one CONFIG envelope.
pub fn read_config_block(block: &Block) -> Result<ConfigTx, ConfigBlockError> {
    let number = block
        .header
        .as_ref()
        .ok_or(ConfigBlockError::MissingHeader)?
        .number;
    let data = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or(&[]);
    let [env] = data else {
        return Err(ConfigBlockError::EnvelopeCount {
            number,
            count: data.len(),
        });
    };
    let env = Envelope::decode(env.clone()).map_err(|e| {
        ConfigBlockError::Envelope(crate::error::EnvelopeError::Malformed(e.to_string()))
    })?;
    read_config_envelope(&env)
}
