//! What the channel participation API says and the seam to the node behind it.
//!
//! JSON names and values are those of Fabric's `orderer/common/types`, so that
//! `osnadmin` and scripts written for Fabric read our answers unchanged.

use async_trait::async_trait;
use bytes::Bytes;
use orderer_api::channelconfig::ChannelValues;
use orderer_api::proto::common::Block;
use serde::{Deserialize, Serialize};

/// `GET /participation/v1/channels`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelList {
    /// The system channel, `null` when there is none.
    #[serde(rename = "systemChannel")]
    pub system_channel: Option<ChannelInfoShort>,
    /// The application channels. Written `null` when there are none, as Fabric
    /// writes them (`osnadmin` prints the body as it comes).
    #[serde(
        serialize_with = "null_when_empty",
        deserialize_with = "empty_when_null"
    )]
    pub channels: Vec<ChannelInfoShort>,
}

fn null_when_empty<S: serde::Serializer>(v: &[ChannelInfoShort], s: S) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        s.collect_seq(v)
    }
}

fn empty_when_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<ChannelInfoShort>, D::Error> {
    Ok(Option::<Vec<ChannelInfoShort>>::deserialize(d)?.unwrap_or_default())
}

/// A channel in a [`ChannelList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfoShort {
    pub name: String,
    /// The channel's path on this API, e.g. `/participation/v1/channels/mychannel`;
    /// filled in by the server, so implementations leave it empty.
    pub url: String,
}

/// `GET /participation/v1/channels/{name}` and the answer to a join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    pub name: String,
    /// Filled in by the server, as in [`ChannelInfoShort::url`].
    pub url: String,
    #[serde(rename = "consensusRelation")]
    pub consensus_relation: ConsensusRelation,
    pub status: Status,
    /// Number of blocks in the ledger (last block number + 1).
    pub height: u64,
}

impl ChannelInfo {
    /// A solo or Kafka channel that this node serves: relation `other`, status
    /// `active`, as Fabric reports its non-cluster consensus types.
    pub fn active(name: impl Into<String>, height: u64) -> Self {
        ChannelInfo {
            name: name.into(),
            url: String::new(),
            consensus_relation: ConsensusRelation::Other,
            status: Status::Active,
            height,
        }
    }
}

/// How this node takes part in the channel's consensus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsensusRelation {
    /// In the consenter set of a cluster protocol (etcdraft, BFT).
    Consenter,
    /// Pulling blocks from a cluster it is not a consenter of.
    Follower,
    /// Watching the channel's config for being added to it.
    ConfigTracker,
    /// A non-cluster consensus type: solo or Kafka. What this orderer reports.
    Other,
}

/// How far along this node is on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Catching up: height still at or below the join block's number.
    #[serde(rename = "onboarding")]
    OnBoarding,
    Active,
    /// Storing no blocks for the channel.
    Inactive,
    /// The last operation on the channel failed.
    Failed,
}

/// Whether a join block makes an application channel or a system channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// The config has an `Application` group.
    Application,
    /// The config has a `Consortiums` group (Fabric's ordering system channel).
    System,
}

/// A join request the server has checked as Fabric does before it asks the node:
/// a well-formed block whose one envelope is a CONFIG transaction with a valid
/// channel configuration naming an application or a system channel.
#[derive(Debug, Clone)]
pub struct JoinBlock {
    pub channel_id: String,
    pub kind: ChannelKind,
    /// The block as it came (the node stores these bytes when the block is its
    /// genesis block, so that its hash is the sender's).
    pub bytes: Bytes,
    pub block: Block,
    /// The configuration read from the block.
    pub values: ChannelValues,
}

impl JoinBlock {
    /// The block's number: 0 for a genesis block; higher when joining a running channel.
    pub fn number(&self) -> u64 {
        self.block.header.as_ref().map_or(0, |h| h.number)
    }
}

/// Why the node refused a join, a removal or an info request. Each maps to the HTTP
/// status Fabric answers with (see [`ParticipationError::status`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParticipationError {
    /// No such channel here (404).
    #[error("channel does not exist")]
    NotFound,
    /// The channel is being removed (409).
    #[error("channel pending removal")]
    PendingRemoval,
    /// Join of a channel this node already has (405, `Allow: GET, DELETE`).
    #[error("channel already exists")]
    AlreadyExists,
    /// Join or removal of an application channel while a system channel exists
    /// (405, `Allow: GET`).
    #[error("system channel exists")]
    SystemChannelExists,
    /// Join of a system channel while application channels exist (403).
    #[error("application channels already exist")]
    AppChannelsExist,
    /// A recorded removal failed (500).
    #[error("channel removal failure")]
    RemovalFailure,
    /// The node refuses this request, e.g. a consensus type it does not serve (400).
    #[error("{0}")]
    BadRequest(String),
    /// The node failed while acting on a valid request (500). Fabric answers 400 for
    /// any unclassified error; a failure of ours is not the client's fault.
    #[error("{0}")]
    Internal(String),
}

impl ParticipationError {
    /// The HTTP status Fabric's channel participation API answers with.
    pub fn status(&self) -> hyper::StatusCode {
        use hyper::StatusCode as S;
        match self {
            ParticipationError::NotFound => S::NOT_FOUND,
            ParticipationError::PendingRemoval => S::CONFLICT,
            ParticipationError::AlreadyExists | ParticipationError::SystemChannelExists => {
                S::METHOD_NOT_ALLOWED
            }
            ParticipationError::AppChannelsExist => S::FORBIDDEN,
            ParticipationError::RemovalFailure | ParticipationError::Internal(_) => {
                S::INTERNAL_SERVER_ERROR
            }
            ParticipationError::BadRequest(_) => S::BAD_REQUEST,
        }
    }

    /// The methods still allowed on the resource, for a 405's `Allow` header.
    pub fn allow(&self) -> Option<&'static str> {
        match self {
            ParticipationError::AlreadyExists => Some("GET, DELETE"),
            ParticipationError::SystemChannelExists => Some("GET"),
            _ => None,
        }
    }
}

/// The node's channels as the channel participation API sees them. The node's
/// channel registry implements it; the route tests use an in-memory one
/// (`admin/fake.rs`).
///
/// Contracts:
/// * Names are channel IDs as Fabric accepts them; URLs are left empty (the server
///   fills them in).
/// * `list` and `info` agree: every channel `list` names has an `info`, and a
///   channel being removed may be in neither or answer `PendingRemoval`.
/// * `join` returns once the channel is created and its ledger holds the join
///   block (or fails and leaves nothing behind); the returned info is what `info`
///   would answer right after. A channel that exists gives `AlreadyExists`, never a
///   second ledger.
/// * `remove` returns once the channel no longer serves Broadcast or Deliver and its
///   ledger is gone or scheduled to go (then `info` may answer `PendingRemoval`).
#[async_trait]
pub trait Participation: Send + Sync + 'static {
    fn list(&self) -> ChannelList;
    fn info(&self, channel: &str) -> Result<ChannelInfo, ParticipationError>;
    async fn join(&self, block: JoinBlock) -> Result<ChannelInfo, ParticipationError>;
    async fn remove(&self, channel: &str) -> Result<(), ParticipationError>;
}

// The server holds the node as `Arc<dyn Participation>`: the trait must stay
// object-safe.
const _: fn() = || {
    let _: Option<&dyn Participation> = None;
};
