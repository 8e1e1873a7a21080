//! An in-memory [`Participation`] with the rules of Fabric's registrar, for tests of
//! the server and of clients.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;

use super::types::{
    ChannelInfo, ChannelInfoShort, ChannelKind, ChannelList, JoinBlock, Participation,
    ParticipationError, Status,
};

/// Channels in memory. Follows Fabric's registrar: with a system channel, application
/// channels can be neither joined nor removed; a system channel cannot join beside
/// application channels; a channel marked pending removal answers 409 to a join or
/// a removal, and `inactive` to info.
#[derive(Debug, Default)]
pub(crate) struct FakeParticipation {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    system_channel: Option<ChannelInfo>,
    channels: BTreeMap<String, ChannelInfo>,
    pending_removal: BTreeSet<String>,
    joined: Vec<(String, Bytes)>,
}

impl FakeParticipation {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds an application channel of `height` blocks, as if joined earlier.
    pub(crate) fn add_channel(&self, name: &str, height: u64) {
        self.state()
            .channels
            .insert(name.to_owned(), ChannelInfo::active(name, height));
    }

    /// Makes `name` the system channel, of `height` blocks.
    pub(crate) fn add_system_channel(&self, name: &str, height: u64) {
        self.state().system_channel = Some(ChannelInfo::active(name, height));
    }

    /// Marks a channel as being removed (it leaves the served channels).
    pub(crate) fn mark_pending_removal(&self, name: &str) {
        let mut s = self.state();
        s.channels.remove(name);
        s.pending_removal.insert(name.to_owned());
    }

    /// The channels joined through the API and the block bytes each came with.
    pub(crate) fn joined(&self) -> Vec<(String, Bytes)> {
        self.state().joined.clone()
    }
}

#[async_trait]
impl Participation for FakeParticipation {
    fn list(&self) -> ChannelList {
        let s = self.state();
        let short = |name: &String| ChannelInfoShort {
            name: name.clone(),
            url: String::new(),
        };
        ChannelList {
            system_channel: s.system_channel.as_ref().map(|c| short(&c.name)),
            channels: s
                .channels
                .keys()
                .chain(&s.pending_removal)
                .map(short)
                .collect(),
        }
    }

    fn info(&self, channel: &str) -> Result<ChannelInfo, ParticipationError> {
        let s = self.state();
        if let Some(system) = s.system_channel.as_ref().filter(|c| c.name == channel) {
            return Ok(system.clone());
        }
        if let Some(info) = s.channels.get(channel) {
            return Ok(info.clone());
        }
        if s.pending_removal.contains(channel) {
            return Ok(ChannelInfo {
                status: Status::Inactive,
                height: 0,
                ..ChannelInfo::active(channel, 0)
            });
        }
        Err(ParticipationError::NotFound)
    }

    async fn join(&self, block: JoinBlock) -> Result<ChannelInfo, ParticipationError> {
        let mut s = self.state();
        let name = block.channel_id.clone();
        if s.pending_removal.contains(&name) {
            return Err(ParticipationError::PendingRemoval);
        }
        let info = ChannelInfo::active(&name, block.number() + 1);
        match block.kind {
            ChannelKind::System => {
                if s.system_channel.is_some() {
                    return Err(ParticipationError::AlreadyExists);
                }
                if !s.channels.is_empty() {
                    return Err(ParticipationError::AppChannelsExist);
                }
                s.system_channel = Some(info.clone());
            }
            ChannelKind::Application => {
                if s.system_channel.is_some() {
                    return Err(ParticipationError::SystemChannelExists);
                }
                if s.channels.contains_key(&name) {
                    return Err(ParticipationError::AlreadyExists);
                }
                s.channels.insert(name.clone(), info.clone());
            }
        }
        s.joined.push((name, block.bytes));
        Ok(info)
    }

    async fn remove(&self, channel: &str) -> Result<(), ParticipationError> {
        let mut s = self.state();
        if s.system_channel.as_ref().is_some_and(|c| c.name == channel) {
            s.system_channel = None;
            return Ok(());
        }
        if s.system_channel.is_some() {
            return Err(ParticipationError::SystemChannelExists);
        }
        if s.pending_removal.contains(channel) {
            return Err(ParticipationError::PendingRemoval);
        }
        s.channels
            .remove(channel)
            .map(|_| ())
            .ok_or(ParticipationError::NotFound)
    }
}
