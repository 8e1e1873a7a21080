//! `orderer-cli channel update`: change a channel's ordering settings the way Fabric's
//! tools do (fetch the config, edit, `compute_update`, sign, `peer channel update`),
//! in one command. `orderer-cli channel create`: what `configtxgen
//! -outputCreateChannelTx` and `peer channel create` do together.

use std::time::{Duration, Instant};

use anyhow::Context;
use orderer_api::block::orderer_metadata;
use orderer_api::channelconfig::read_config_block;
use orderer_api::configtx::compute_update;
use orderer_api::genesis::ChannelCreation;
use orderer_api::proto::common::{Block, Config, ConfigGroup, Status};
use orderer_api::proto::orderer as ord;
use prost::Message;
use tonic::transport::Channel;

use crate::broadcast::broadcast_one;
use crate::deliver::{DeliverRequest, deliver, fetch_block};
use crate::envelopes::{Position, Signer};
use crate::proto_client::atomic_broadcast_client::AtomicBroadcastClient;

/// The `Orderer` group settings a command may change; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrdererEdits {
    pub max_message_count: Option<u32>,
    pub absolute_max_bytes: Option<u32>,
    pub preferred_max_bytes: Option<u32>,
    /// Go duration syntax, e.g. `500ms`.
    pub batch_timeout: Option<String>,
    /// `ConsensusType.State`: maintenance mode on or off.
    pub maintenance: Option<bool>,
}

impl OrdererEdits {
    fn is_empty(&self) -> bool {
        *self == OrdererEdits::default()
    }

    /// `config` with these edits applied.
    pub fn apply(&self, config: &Config) -> anyhow::Result<Config> {
        let mut next = config.clone();
        let orderer = next
            .channel_group
            .as_mut()
            .and_then(|g| g.groups.get_mut("Orderer"))
            .context("the channel config has no Orderer group")?;
        if self.max_message_count.is_some()
            || self.absolute_max_bytes.is_some()
            || self.preferred_max_bytes.is_some()
        {
            edit::<ord::BatchSize>(orderer, "BatchSize", |b| {
                if let Some(v) = self.max_message_count {
                    b.max_message_count = v;
                }
                if let Some(v) = self.absolute_max_bytes {
                    b.absolute_max_bytes = v;
                }
                if let Some(v) = self.preferred_max_bytes {
                    b.preferred_max_bytes = v;
                }
            })?;
        }
        if let Some(timeout) = &self.batch_timeout {
            orderer_api::duration::parse(timeout)
                .map_err(|e| anyhow::anyhow!("--batch-timeout {timeout:?}: {e}"))?;
            edit::<ord::BatchTimeout>(orderer, "BatchTimeout", |t| t.timeout = timeout.clone())?;
        }
        if let Some(on) = self.maintenance {
            let state = if on {
                ord::consensus_type::State::Maintenance
            } else {
                ord::consensus_type::State::Normal
            };
            edit::<ord::ConsensusType>(orderer, "ConsensusType", |c| c.state = state as i32)?;
        }
        Ok(next)
    }
}

/// Decodes the value `key` of `group` as `T`, edits it and encodes it back.
fn edit<T: Message + Default>(
    group: &mut ConfigGroup,
    key: &str,
    f: impl FnOnce(&mut T),
) -> anyhow::Result<()> {
    let value = group
        .values
        .get_mut(key)
        .with_context(|| format!("the Orderer group has no {key} value"))?;
    let mut decoded =
        T::decode(value.value.clone()).with_context(|| format!("Orderer/{key} does not decode"))?;
    f(&mut decoded);
    value.value = decoded.encode_to_vec().into();
    Ok(())
}

/// The configuration in force on `channel`: the block the newest block's LAST_CONFIG
/// names.
pub async fn current_config(
    client: &mut AtomicBroadcastClient<Channel>,
    signer: &Signer,
    channel: &str,
) -> anyhow::Result<Config> {
    let newest = fetch_block(client, signer, channel, Position::Newest).await?;
    let last_config = orderer_metadata(&newest)
        .context("the newest block's orderer metadata does not decode")?
        .last_config
        .map_or(0, |c| c.index);
    let block = fetch_block(client, signer, channel, Position::Number(last_config)).await?;
    Ok(read_config_block(&block)
        .with_context(|| format!("block {last_config} is not a config block"))?
        .config)
}

/// Applies `edits` to `channel`'s configuration with a CONFIG_UPDATE sent by
/// `submitter` and signed by `signers`: the orderer's status and info.
pub async fn update(
    client: &mut AtomicBroadcastClient<Channel>,
    submitter: &Signer,
    signers: &[&Signer],
    channel: &str,
    edits: &OrdererEdits,
) -> anyhow::Result<(Status, String)> {
    anyhow::ensure!(
        !edits.is_empty(),
        "nothing to change: give at least one setting"
    );
    let current = current_config(client, submitter, channel).await?;
    let next = edits.apply(&current)?;
    let update = compute_update(channel, &current, &next).map_err(anyhow::Error::msg)?;
    let env = submitter.config_update(&update, signers)?;
    broadcast_one(client, env).await
}

/// How long `channel create` waits for the new channel's block 0, as `peer
/// channel create` waits (it retries its fetch for a few seconds).
pub const CREATE_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Asks a system channel's orderer for a new channel: the CONFIG_UPDATE of
/// `creation` (as `configtxgen -outputCreateChannelTx` builds it), sent by
/// `submitter` and signed by `signers`, then the new channel's block 0, fetched
/// until it exists or `timeout` passes. The orderer's status and info when it
/// refuses the request.
pub async fn create(
    client: &mut AtomicBroadcastClient<Channel>,
    submitter: &Signer,
    signers: &[&Signer],
    creation: &ChannelCreation,
    timeout: Duration,
) -> anyhow::Result<Result<Block, (Status, String)>> {
    let update = creation
        .config_update()
        .with_context(|| format!("channel {}: the creation request", creation.channel_id))?;
    let env = submitter.config_update(&update, signers)?;
    let (status, info) = broadcast_one(client, env).await?;
    if status != Status::Success {
        return Ok(Err((status, info)));
    }
    wait_for_genesis(client, submitter, &creation.channel_id, timeout)
        .await
        .map(Ok)
}

/// Block 0 of `channel`, retrying while the orderer answers NOT_FOUND (the
/// channel is not created yet) or SERVICE_UNAVAILABLE (it is starting).
pub async fn wait_for_genesis(
    client: &mut AtomicBroadcastClient<Channel>,
    signer: &Signer,
    channel: &str,
    timeout: Duration,
) -> anyhow::Result<Block> {
    let deadline = Instant::now() + timeout;
    let req = DeliverRequest {
        channel: channel.to_owned(),
        start: Position::Number(0),
        stop: Position::Number(0),
        fail_if_not_ready: true,
    };
    loop {
        let mut found = None;
        let outcome = deliver(client, signer, &req, |b| {
            found = Some(b);
            Ok(())
        })
        .await?;
        if let Some(block) = found {
            return Ok(block);
        }
        let status = outcome.status.unwrap_or(Status::Unknown);
        let reason = outcome.reason.unwrap_or_default();
        let retry = matches!(status, Status::NotFound | Status::ServiceUnavailable);
        if !retry || Instant::now() >= deadline {
            anyhow::bail!(
                "block 0 of channel {channel}: {}{}{}",
                status.as_str_name(),
                if reason.is_empty() { "" } else { ": " },
                reason
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
