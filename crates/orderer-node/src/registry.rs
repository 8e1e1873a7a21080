//! The channels this node serves, and the one place they are opened, created and
//! removed (Fabric's registrar).
//!
//! Channels come from the bootstrap plans at start, from the ledger directory (those
//! created or joined at run time, so they survive a restart), from a system channel's
//! ORDERER_TRANSACTION blocks (`peer channel create`), and from the channel
//! participation API (join, remove).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};

use anyhow::{Context, bail};
use bytes::Bytes;
use orderer_api::channelconfig::ChannelValues;
use orderer_api::proto::common::Block;
use orderer_api::{Chain, ConsenterKind, GenesisOrigin};
use prost::Message;
use tracing::{info, warn};

use crate::bootstrap::ChannelPlan;
use crate::bundle::Bundle;
use crate::config::Config;
use crate::consenters::Consenters;
use crate::ledger::Ledger;
use crate::security::Security;
use crate::support::{ChannelHost, ChannelSupport};

/// A channel: its ledger (through its support) and its chain.
#[derive(Debug)]
pub struct Channel {
    pub id: String,
    /// The id, shared cheaply as a metric label.
    pub label: Arc<str>,
    pub support: Arc<ChannelSupport>,
    pub chain: Arc<dyn Chain>,
}

impl Channel {
    /// The configuration in force: its MSPs and policies. Replaced whole when a config
    /// block is written, so a request sees one configuration or the next, never a mix.
    pub fn bundle(&self) -> Arc<Bundle> {
        self.support.bundle()
    }

    pub fn ledger(&self) -> &Ledger {
        self.support.ledger()
    }
}

/// Why a channel could not be created, joined or removed; each maps to a
/// participation API status.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The request is wrong (not a config block, a channel this node cannot serve).
    #[error("{0}")]
    BadRequest(String),
    #[error("channel {0} does not exist on this orderer")]
    NotFound(String),
    #[error("channel {0} already exists on this orderer")]
    Exists(String),
    #[error("channel {0} is being removed")]
    PendingRemoval(String),
    /// Not allowed in this node's mode (e.g. join while a system channel exists).
    #[error("{0}")]
    NotAllowed(String),
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

/// What opening a channel needs, fixed at start.
#[derive(Debug)]
struct Opener {
    config: Arc<Config>,
    consenters: std::sync::Mutex<Consenters>,
    security: Arc<Security>,
    ledger_root: PathBuf,
}

/// Channel id to channel.
#[derive(Debug)]
pub struct Registry {
    channels: RwLock<BTreeMap<String, Arc<Channel>>>,
    /// The system channel's id, when the node was bootstrapped with one.
    system_channel: RwLock<Option<String>>,
    opener: Opener,
    /// Creations and removals one at a time: two requests for one channel must not
    /// open its ledger twice. Never held while a chain halts (a chain may be
    /// creating a channel, which takes it).
    changes: tokio::sync::Mutex<()>,
    /// Channels out of the map whose chain is halting and whose ledger is about to
    /// be deleted: not created again until that is done.
    removing: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Handed to supports (as their [`ChannelHost`]), which hand it the channels
    /// their ORDERER_TRANSACTION blocks create.
    this: Weak<Registry>,
}

impl Registry {
    /// A registry with no channel yet.
    pub fn new(config: Arc<Config>, consenters: Consenters, security: Arc<Security>) -> Arc<Self> {
        let ledger_root = PathBuf::from(&config.file_ledger.location);
        Arc::new_cyclic(|this| Registry {
            channels: RwLock::default(),
            system_channel: RwLock::default(),
            opener: Opener {
                config,
                consenters: std::sync::Mutex::new(consenters),
                security,
                ledger_root,
            },
            changes: tokio::sync::Mutex::new(()),
            removing: std::sync::Mutex::default(),
            this: this.clone(),
        })
    }

    pub fn get(&self, id: &str) -> Option<Arc<Channel>> {
        self.read().get(id).cloned()
    }

    /// Every channel, by id.
    pub fn channels(&self) -> Vec<Arc<Channel>> {
        self.read().values().cloned().collect()
    }

    /// What the node's consenters warn about (e.g. Kafka broker settings that break
    /// the cluster rules), each with its consenter's kind.
    pub fn consenter_warnings(&self) -> Vec<(ConsenterKind, String)> {
        let consenters = self
            .opener
            .consenters
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        consenters
            .all()
            .flat_map(|c| {
                let kind = c.kind();
                c.warnings().into_iter().map(move |w| (kind, w))
            })
            .collect()
    }

    /// The system channel, when there is one.
    pub fn system_channel(&self) -> Option<Arc<Channel>> {
        let id = self
            .system_channel
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        self.get(&id)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<Channel>>> {
        // Writers only insert or remove whole entries.
        self.channels.read().unwrap_or_else(|e| e.into_inner())
    }

    fn insert(&self, channel: Channel) -> Arc<Channel> {
        let channel = Arc::new(channel);
        if channel.bundle().values.is_system_channel() {
            *self
                .system_channel
                .write()
                .unwrap_or_else(|e| e.into_inner()) = Some(channel.id.clone());
        }
        self.channels
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(channel.id.clone(), Arc::clone(&channel));
        channel
    }

    /// Opens the planned channels, then every other channel the ledger directory
    /// holds (created or joined at run time).
    pub async fn open_all(&self, plans: Vec<ChannelPlan>) -> anyhow::Result<()> {
        let _changes = self.changes.lock().await;
        let planned: Vec<String> = plans.iter().map(|p| p.id.clone()).collect();
        for plan in plans {
            let channel = self.open_planned(plan).await?;
            self.insert(channel);
        }
        for id in ledger_channels(&self.opener.ledger_root)? {
            if planned.contains(&id) {
                continue;
            }
            let (ledger, _) = Ledger::open(&self.opener.ledger_root, &id).await?;
            if ledger.height() == 0 {
                // A crash between creating the directory and writing block 0 (a join,
                // or a channel creation the system channel replays): nothing to keep.
                ledger.close().await;
                drop(ledger);
                let dir = self.opener.ledger_root.join("chains").join(&id);
                warn!(channel = %id, dir = %dir.display(), "removing a channel ledger that holds no block");
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("removing the empty ledger {}", dir.display()))?;
                continue;
            }
            ledger.close().await;
            drop(ledger);
            let channel = self
                .open(&id, None)
                .await
                .with_context(|| format!("channel {id} (created at run time)"))?;
            self.insert(channel);
        }
        Ok(())
    }

    async fn open_planned(&self, plan: ChannelPlan) -> anyhow::Result<Channel> {
        let id = plan.id.clone();
        // The ledger's block 0 is the plan's, or (a restart) one check_unchanged
        // finds equivalent to it: counted as coming from where the plan's does. A
        // generated plan over a ledger first booted from a file is then counted as
        // generated, which only makes the Kafka check stricter.
        let origin = if plan.generated {
            GenesisOrigin::Generated
        } else {
            GenesisOrigin::Given
        };
        let (support, existing) = self
            .open_support(&id, Some(plan.genesis.clone()), origin)
            .await?;
        if existing {
            check_unchanged(&self.opener.config, &plan, &support).await?;
        }
        self.start_chain(support, true).await
    }

    /// Opens a channel whose ledger exists, or writes `genesis` as its block 0: a
    /// channel created or joined at run time, whose block 0 was given to the node.
    async fn open(&self, id: &str, genesis: Option<Bytes>) -> anyhow::Result<Channel> {
        let (support, _) = self.open_support(id, genesis, GenesisOrigin::Given).await?;
        self.start_chain(support, false).await
    }

    async fn open_support(
        &self,
        id: &str,
        genesis: Option<Bytes>,
        origin: GenesisOrigin,
    ) -> anyhow::Result<(Arc<ChannelSupport>, bool)> {
        let (ledger, recovery) = Ledger::open(&self.opener.ledger_root, id)
            .await
            .with_context(|| format!("channel {id}: opening the ledger"))?;
        if recovery.truncated_bytes > 0 {
            warn!(channel = %id, bytes = recovery.truncated_bytes, "recovered from a torn write");
        }
        let existing = ledger.height() > 0;
        if !existing && genesis.is_none() {
            bail!("channel {id}: the ledger directory holds no block");
        }
        let support = ChannelSupport::open(
            ledger,
            genesis.unwrap_or_default(),
            origin,
            Arc::clone(&self.opener.security),
            self.this.clone() as Weak<dyn ChannelHost>,
        )
        .await
        .with_context(|| format!("channel {id}: reading the ledger"))?;
        Ok((Arc::new(support), existing))
    }

    async fn start_chain(
        &self,
        support: Arc<ChannelSupport>,
        at_start: bool,
    ) -> anyhow::Result<Channel> {
        let id = support.channel_id_owned();
        let bundle = support.bundle();
        self.opener
            .security
            .check_block_signer(&bundle)
            .map_err(|e| {
                anyhow::anyhow!(
                    "channel {id}: this orderer's identity (General.LocalMSPID {}) does not satisfy the channel's /Channel/Orderer/BlockValidation policy, so peers would refuse its blocks: {e}",
                    self.opener.config.general.local_msp_id
                )
            })?;
        let kind = bundle.values.orderer().consenter_kind();
        let consenter = {
            let mut consenters = self
                .opener
                .consenters
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // The consenters the start planned are given; a channel created at run
            // time may be the node's first of its kind.
            if at_start {
                consenters.get(kind)
            } else {
                consenters.get_or_create(kind, &self.opener.config, &bundle.values)
            }?
        };
        let chain = consenter
            .handle_chain(support.clone(), support.last_consenter_metadata())
            .with_context(|| format!("channel {id}: creating the chain"))?;
        chain.start();
        info!(
            channel = %id,
            height = support.ledger().height(),
            orderer_type = %kind,
            sequence = bundle.values.sequence(),
            organizations = %bundle.values.msps().keys().cloned().collect::<Vec<_>>().join(","),
            "channel opened"
        );
        Ok(Channel {
            label: id.as_str().into(),
            id,
            support,
            chain,
        })
    }

    /// Creates a channel from its genesis block (encoded): the participation API's
    /// join, and a system channel's ORDERER_TRANSACTION. If the channel's ledger
    /// exists already (a block being written again after a crash), it is opened
    /// as it is.
    pub async fn create(&self, genesis: Bytes) -> Result<Arc<Channel>, RegistryError> {
        let block = Block::decode(genesis.clone())
            .map_err(|e| RegistryError::BadRequest(format!("not a Fabric block: {e}")))?;
        let number = block.header.as_ref().map_or(0, |h| h.number);
        if number != 0 {
            return Err(RegistryError::BadRequest(format!(
                "block {number} is not a genesis block: this orderer joins a channel from its block 0 (it replays the channel from there)"
            )));
        }
        let values = ChannelValues::from_block(&block)
            .map_err(|e| RegistryError::BadRequest(format!("not a usable config block: {e}")))?;
        let id = values.channel_id().to_owned();
        let _changes = self.changes.lock().await;
        if self.get(&id).is_some() {
            return Err(RegistryError::Exists(id));
        }
        if self.lock_removing().contains(&id) {
            return Err(RegistryError::PendingRemoval(id));
        }
        let dir = self.opener.ledger_root.join("chains").join(&id);
        let fresh = !dir.exists();
        match self.open(&id, Some(genesis)).await {
            Ok(channel) => Ok(self.insert(channel)),
            Err(e) => {
                // Leave nothing behind: the next start would open a half-made channel.
                if fresh && let Err(rm) = std::fs::remove_dir_all(&dir) {
                    warn!(channel = %id, error = %rm, "could not delete the ledger of a channel that failed to open");
                }
                Err(RegistryError::Internal(e))
            }
        }
    }

    /// Creates the channel whose CONFIG envelope a system channel's
    /// ORDERER_TRANSACTION carries, as every OSN does when it writes that block:
    /// block 0 is that envelope alone, unsigned, with empty metadata (Fabric's
    /// registrar), so every OSN, Fabric's included, holds the same block 0.
    pub async fn create_from_transaction(&self, config_env: Bytes) -> Result<(), RegistryError> {
        let block = orderer_api::block::new_block(0, Bytes::new(), vec![config_env]);
        let values = ChannelValues::from_block(&block).map_err(|e| {
            RegistryError::BadRequest(format!("the new channel's configuration is unusable: {e}"))
        })?;
        let id = values.channel_id().to_owned();
        if self.get(&id).is_some() {
            info!(channel = %id, "channel exists already; not created again");
            return Ok(());
        }
        match self.create(Bytes::from(block.encode_to_vec())).await {
            Ok(channel) => {
                info!(channel = %channel.id, "channel created from the system channel");
                Ok(())
            }
            // Opened meanwhile from its ledger (a record replayed after a restart).
            Err(RegistryError::Exists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn lock_removing(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        self.removing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops a channel and deletes its ledger (the participation API's remove).
    pub async fn remove(&self, id: &str) -> Result<(), RegistryError> {
        let channel = {
            let _changes = self.changes.lock().await;
            let channel = self
                .get(id)
                .ok_or_else(|| RegistryError::NotFound(id.to_owned()))?;
            // Out of the map first: no new request reaches it, and no creation of
            // the same name starts until the ledger is gone.
            self.lock_removing().insert(id.to_owned());
            self.channels
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
            let mut system = self
                .system_channel
                .write()
                .unwrap_or_else(|e| e.into_inner());
            if system.as_deref() == Some(id) {
                *system = None;
            }
            channel
        };
        channel.chain.halt().await;
        channel.ledger().close().await;
        drop(channel);
        let dir = self.opener.ledger_root.join("chains").join(id);
        let deleted = std::fs::remove_dir_all(&dir);
        self.lock_removing().remove(id);
        deleted.map_err(|e| {
            RegistryError::Internal(anyhow::anyhow!(
                "channel {id} stopped, but its ledger {} could not be deleted: {e}",
                dir.display()
            ))
        })?;
        info!(channel = %id, "channel removed");
        Ok(())
    }
}

#[async_trait::async_trait]
impl ChannelHost for Registry {
    fn channel_count(&self) -> usize {
        self.read().len()
    }

    async fn create_channel(&self, config_envelope: Bytes) -> anyhow::Result<()> {
        Ok(self.create_from_transaction(config_envelope).await?)
    }
}

/// The channels whose ledgers exist under `root`, by name.
fn ledger_channels(root: &Path) -> anyhow::Result<Vec<String>> {
    let chains = root.join("chains");
    let entries = match std::fs::read_dir(&chains) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e).with_context(|| format!("reading {}", chains.display()));
        }
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", chains.display()))?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false)
            && let Some(name) = entry.file_name().to_str()
        {
            ids.push(name.to_owned());
        }
    }
    ids.sort();
    Ok(ids)
}

/// A restarted channel keeps the configuration in its ledger: a local setting that
/// would change it is refused, naming the key, instead of being ignored or written
/// as an unsigned config block. (Changes are config updates.)
async fn check_unchanged(
    config: &Config,
    plan: &ChannelPlan,
    support: &ChannelSupport,
) -> anyhow::Result<()> {
    let id = &plan.id;
    if !plan.generated {
        if support.ledger().block_bytes(0).await? != plan.genesis {
            bail!(
                "channel {id}: General.BootstrapFile {} is not the genesis block of the existing ledger in {}",
                config.general.bootstrap_file,
                config.file_ledger.location
            );
        }
        return Ok(());
    }
    // Compared with block 0: config updates since then are the channel's business.
    let genesis = support.ledger().block(0).await?;
    let ledger = ChannelValues::from_block(&genesis)
        .map_err(|e| anyhow::anyhow!("channel {id}: block 0 of the ledger: {e}"))?;
    let mut changes: Vec<String> = ledger
        .channel_config()
        .diff(&plan.values.channel_config())
        .iter()
        .map(|d| {
            format!(
                "{} is {} in the ledger but {} in the configuration",
                d.key, d.ours, d.theirs
            )
        })
        .collect();
    let ledger_orgs: Vec<&String> = ledger.msps().keys().collect();
    let configured: Vec<&String> = plan.values.msps().keys().collect();
    if ledger_orgs != configured {
        changes.push(format!(
            "Organizations has {configured:?} but the ledger's configuration has {ledger_orgs:?}"
        ));
    }
    if ledger.orderer().kafka_brokers() != plan.values.orderer().kafka_brokers() {
        changes.push(format!(
            "Orderer.Kafka.Brokers is {:?} in the ledger but {:?} in the configuration",
            ledger.orderer().kafka_brokers(),
            plan.values.orderer().kafka_brokers()
        ));
    }
    if !changes.is_empty() {
        bail!(
            "channel {id}: the configuration differs from the channel's configuration in the ledger, which only a config update may change: {}",
            changes.join("; ")
        );
    }
    Ok(())
}
