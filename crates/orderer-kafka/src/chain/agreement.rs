//! One chain per channel, ever: an OSN serves a channel only if its block 0 is the
//! channel's.
//!
//! Block 0 is shared state that Kafka does not carry: every OSN has its own, from a
//! genesis file, a join, or (`General.BootstrapMethod: none`) generated from its own
//! `orderer.yaml`. Two OSNs that generate different blocks 0 (a different
//! `Orderer.Addresses` is enough) cut the same records into blocks with different
//! hashes: a fork that neither would notice. So the first CONNECT an OSN of ours
//! posts on a channel carries its block 0 (Fabric's OSNs ignore the payload, and
//! post an empty one), and an OSN whose ledger holds only block 0 reads the
//! partition's first record before it serves the channel:
//!
//! * a CONNECT with a block 0: served if it is this node's block 0, else refused,
//!   naming each setting that differs ([`diff_configs`]);
//! * a CONNECT with a CONFIG envelope (posted by earlier versions of this orderer,
//!   which carried the genesis configuration's batch parameters): the batch
//!   parameters are compared, as those versions did;
//! * an empty CONNECT (a Fabric OSN created the topic), or a first record that is
//!   not a CONNECT: nothing to compare with. A block 0 given to the node (genesis
//!   file, join, system channel) is the channel's by construction and is served; a
//!   generated one is refused, with the advice to boot from the channel's genesis
//!   file.

use bytes::Bytes;
use orderer_api::block::{block_data_hash, block_header_hash};
use orderer_api::channelconfig::{ChannelValues, diff_configs, read_config_block};
use orderer_api::proto::common::{Block, Envelope};
use orderer_api::{ChannelConfig, GenesisOrigin};
use prost::Message;

use crate::errors::Fault;

/// What the partition's first CONNECT carries.
#[derive(Debug)]
pub(super) enum ConnectPayload {
    /// Nothing: a Fabric OSN's CONNECT (or one posted after the first).
    Empty,
    /// The creating OSN's block 0.
    Block(Box<Block>),
    /// The genesis configuration's ordering parameters, as earlier versions of this
    /// orderer posted them (a config of only the Channel and Orderer groups, which
    /// is not a whole configuration: only its parameters are read).
    LegacyConfig(Box<ChannelConfig>),
}

impl ConnectPayload {
    /// Reads a CONNECT payload: a block 0 (header number 0, data matching its data
    /// hash), else a CONFIG envelope. The two cannot be mistaken for one another:
    /// an envelope's first field (a `Payload` message) does not decode as a block
    /// header's first field (a number).
    pub(super) fn parse(payload: &Bytes) -> Result<Self, Fault> {
        if payload.is_empty() {
            return Ok(ConnectPayload::Empty);
        }
        if let Ok(block) = Block::decode(payload.clone())
            && is_block_zero(&block)
        {
            return Ok(ConnectPayload::Block(Box::new(block)));
        }
        let env = Envelope::decode(payload.clone()).map_err(|e| {
            Fault::GenesisUnreadable(format!("neither a block 0 nor an envelope: {e}"))
        })?;
        let config = ChannelConfig::from_envelope(&env).map_err(|e| {
            Fault::GenesisUnreadable(format!("not a block 0, nor a CONFIG envelope: {e}"))
        })?;
        Ok(ConnectPayload::LegacyConfig(Box::new(config)))
    }
}

fn is_block_zero(block: &Block) -> bool {
    let data = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or(&[]);
    block.header.as_ref().is_some_and(|h| {
        h.number == 0
            && !data.is_empty()
            && h.data_hash.as_ref() == block_data_hash(data).as_slice()
    })
}

/// What this node brings to the check: its block 0 and where it came from.
#[derive(Debug, Clone)]
pub(super) struct OwnGenesis {
    pub block: Block,
    pub origin: GenesisOrigin,
}

/// The partition's first record, as far as the check cares.
pub(super) enum FirstRecord<'a> {
    Connect(&'a Bytes),
    /// Anything else (a regular or time-to-cut record, or one that does not decode).
    Other,
}

/// Why the node serves the channel (for the log).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Agreement {
    /// The first CONNECT holds this node's block 0, byte for byte.
    SameBlock,
    /// An earlier version's CONNECT: its batch parameters are this node's.
    SameBatchParameters,
    /// Nothing to compare with, and this node's block 0 was given to it.
    Unchecked(&'static str),
}

impl OwnGenesis {
    /// The payload of the CONNECT this node posts when its ledger holds only
    /// block 0. Re-encoding the stored block gives the stored bytes (a `Block` is
    /// scalars and opaque bytes), and the other side compares decoded blocks anyway.
    pub(super) fn connect_payload(&self) -> Bytes {
        Bytes::from(self.block.encode_to_vec())
    }

    /// Whether this node may serve `channel`, given the partition's first record.
    pub(super) fn check(&self, channel: &str, first: FirstRecord<'_>) -> Result<Agreement, Fault> {
        let unchecked = |why: &'static str| match self.origin {
            GenesisOrigin::Given => Ok(Agreement::Unchecked(why)),
            GenesisOrigin::Generated => Err(Fault::GenesisUnverifiable {
                channel: channel.to_owned(),
                why,
            }),
        };
        let payload = match first {
            FirstRecord::Other => return unchecked(NOT_CONNECT),
            FirstRecord::Connect(p) => p,
        };
        match ConnectPayload::parse(payload)? {
            ConnectPayload::Empty => unchecked(EMPTY_CONNECT),
            ConnectPayload::Block(theirs) => self.compare_blocks(channel, &theirs),
            ConnectPayload::LegacyConfig(theirs) => {
                let ours = ChannelValues::from_block(&self.block)
                    .map_err(|e| Fault::OwnGenesisUnreadable(e.to_string()))?
                    .channel_config();
                let differences = batch_differences(&ours, &theirs);
                if differences.is_empty() {
                    Ok(Agreement::SameBatchParameters)
                } else {
                    Err(Fault::GenesisDiffers {
                        channel: channel.to_owned(),
                        differences: differences.join("; "),
                    })
                }
            }
        }
    }

    fn compare_blocks(&self, channel: &str, theirs: &Block) -> Result<Agreement, Fault> {
        if self.block == *theirs {
            return Ok(Agreement::SameBlock);
        }
        let ours = read_config_block(&self.block)
            .map_err(|e| Fault::OwnGenesisUnreadable(e.to_string()))?;
        let their_tx = read_config_block(theirs).map_err(|e| {
            Fault::GenesisUnreadable(format!("the block 0 it carries is not a config block: {e}"))
        })?;
        let mut differences: Vec<String> = Vec::new();
        if ours.channel_id() != their_tx.channel_id() {
            differences.push(format!(
                "the channel ID is {:?} here but {:?} on the channel",
                ours.channel_id(),
                their_tx.channel_id()
            ));
        }
        differences.extend(
            diff_configs(&ours.config, &their_tx.config)
                .into_iter()
                .map(|d| {
                    format!(
                        "{} is {} here but {} on the channel",
                        d.key, d.ours, d.theirs
                    )
                }),
        );
        if differences.is_empty() {
            // Same configuration, other block: the envelope around it (header,
            // signature, last update) or the block's metadata.
            let hash = |b: &Block| b.header.as_ref().map(|h| hex(&block_header_hash(h)));
            let (a, b) = (hash(&self.block), hash(theirs));
            differences.push(if a == b {
                format!(
                    "the channel configurations are the same and so is block 0's header (hash {}), but its metadata differs (e.g. a signature)",
                    a.unwrap_or_default()
                )
            } else {
                format!(
                    "the channel configurations are the same, but block 0 is not: its header hash is {} here but {} on the channel (the config envelope's header or signature differs)",
                    a.unwrap_or_default(),
                    b.unwrap_or_default()
                )
            });
        }
        Err(Fault::GenesisDiffers {
            channel: channel.to_owned(),
            differences: differences.join("; "),
        })
    }
}

const EMPTY_CONNECT: &str =
    "the first CONNECT record of its partition is empty, as a Fabric OSN posts it";
const NOT_CONNECT: &str = "its partition does not start with a CONNECT record";

/// The batch parameters on which an earlier version's CONNECT disagrees with ours.
fn batch_differences(ours: &ChannelConfig, theirs: &ChannelConfig) -> Vec<String> {
    ours.diff(theirs)
        .into_iter()
        .map(|d| {
            format!(
                "{} is {} here but {} on the channel",
                d.key, d.ours, d.theirs
            )
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
