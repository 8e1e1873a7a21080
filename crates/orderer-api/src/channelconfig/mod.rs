//! The typed, validated values of a channel configuration (a `common.Config` tree).
//!
//! A channel is defined by its config blocks. [`ChannelValues`] reads one
//! configuration and checks it by the rules Fabric's `channelconfig` applies when it
//! builds a channel's bundle, so that this orderer accepts a configuration exactly
//! when a Fabric v2.5 orderer would, except where this orderer cannot serve it:
//!
//! * consensus types other than `solo` and `kafka` (etcdraft, BFT);
//! * capabilities Fabric v2.5 does not know (`V3_0` and later);
//! * hashing algorithms other than SHA256.
//!
//! Those are refused with [`ConfigErrorKind::Unsupported`], naming what is not
//! supported. Every error names the config path it is about.
//!
//! Where groups and values may appear, as in Fabric:
//!
//! | group | values | sub-groups |
//! |---|---|---|
//! | `/Channel` | HashingAlgorithm, BlockDataHashingStructure, OrdererAddresses, Consortium, Capabilities | Orderer (required here), Application, Consortiums |
//! | `Orderer` | ConsensusType, BatchSize, BatchTimeout, KafkaBrokers, ChannelRestrictions, Capabilities | organizations |
//! | orderer organization | MSP, Endpoints (channel capability `V1_4_2`+) | none |
//! | `Application` | ACLs (application capability `V1_2`+), Capabilities | organizations |
//! | application organization | MSP, AnchorPeers | none |
//! | `Consortiums` | anything (not read) | consortiums |
//! | consortium | ChannelCreationPolicy | organizations |
//! | consortium organization | MSP | none |
//!
//! A value under another key is refused, as Fabric refuses it; policies are not
//! read here (the policy manager reads them from [`ChannelValues::config`]).
//! Nothing is re-encoded: the whole `Config` is kept, and values the orderer does
//! not interpret (`ACLs`, `AnchorPeers`, `ConsensusType.metadata`, MSP definitions)
//! are the config's own bytes.
//!
//! MSPs are read only for their ID; certificates are the MSP crate's business.
//!
//! [`diff_configs`] names every setting on which two configurations differ (an
//! OSN comparing its block 0 with the one its channel was created with).

mod application;
mod block;
mod capabilities;
mod consortiums;
mod diff;
mod error;
mod group;
mod names;
mod orderer;
mod organization;
mod transition;

use std::collections::BTreeMap;

use bytes::Bytes;

pub use application::{ApplicationOrg, ApplicationValues};
pub use block::{ConfigTx, read_config_block, read_config_envelope};
pub use capabilities::{
    ApplicationCapabilities, Capabilities, CapabilityLevel, ChannelCapabilities, MspVersion,
    OrdererCapabilities,
};
pub use consortiums::{Consortium, ConsortiumsValues};
pub use diff::diff_configs;
pub use error::{ConfigBlockError, ConfigError, ConfigErrorKind};
pub use names::{ChannelIdError, MAX_NAME_LEN, check_channel_id};
pub use orderer::{
    BrokerError, ConsensusState, ConsensusType, OrdererOrg, OrdererValues, check_broker,
};
pub use organization::{MspKind, OrgMsp, Organization};

use self::group::Group;
use self::organization::MspRegistry;
use crate::channel::ChannelConfig;
use crate::proto::common::{
    Block, BlockDataHashingStructure, Capabilities as CapabilitiesProto, Config, ConfigGroup,
    Consortium as ConsortiumProto, Envelope, HashingAlgorithm, OrdererAddresses,
};

/// The root group's name, and the first element of every config path.
pub const CHANNEL_GROUP: &str = "Channel";
/// The ordering service's group.
pub const ORDERER_GROUP: &str = "Orderer";
/// The peers' group.
pub const APPLICATION_GROUP: &str = "Application";
/// The system channel's group of consortiums.
pub const CONSORTIUMS_GROUP: &str = "Consortiums";
/// The key of the `Capabilities` value, in the channel, orderer and application groups.
pub const CAPABILITIES_KEY: &str = "Capabilities";

/// Value keys, as Fabric names them.
pub mod keys {
    /// `/Channel`: `common.HashingAlgorithm`.
    pub const HASHING_ALGORITHM: &str = "HashingAlgorithm";
    /// `/Channel`: `common.BlockDataHashingStructure`.
    pub const BLOCK_DATA_HASHING_STRUCTURE: &str = "BlockDataHashingStructure";
    /// `/Channel`: `common.OrdererAddresses`.
    pub const ORDERER_ADDRESSES: &str = "OrdererAddresses";
    /// `/Channel`: `common.Consortium`.
    pub const CONSORTIUM: &str = "Consortium";
    /// `/Channel/Orderer`: `orderer.ConsensusType`.
    pub const CONSENSUS_TYPE: &str = "ConsensusType";
    /// `/Channel/Orderer`: `orderer.BatchSize`.
    pub const BATCH_SIZE: &str = "BatchSize";
    /// `/Channel/Orderer`: `orderer.BatchTimeout`.
    pub const BATCH_TIMEOUT: &str = "BatchTimeout";
    /// `/Channel/Orderer`: `orderer.KafkaBrokers`.
    pub const KAFKA_BROKERS: &str = "KafkaBrokers";
    /// `/Channel/Orderer`: `orderer.ChannelRestrictions`.
    pub const CHANNEL_RESTRICTIONS: &str = "ChannelRestrictions";
    /// Orderer organization: `common.OrdererAddresses`.
    pub const ENDPOINTS: &str = "Endpoints";
    /// `/Channel/Application`: `peer.ACLs`.
    pub const ACLS: &str = "ACLs";
    /// Application organization: `peer.AnchorPeers`.
    pub const ANCHOR_PEERS: &str = "AnchorPeers";
    /// Every organization: `msp.MSPConfig`.
    pub const MSP: &str = "MSP";
    /// Consortium: `common.Policy`.
    pub const CHANNEL_CREATION_POLICY: &str = "ChannelCreationPolicy";
}

/// The only hashing algorithm this orderer's blocks use.
const SHA256: &str = "SHA256";

/// A channel's configuration, typed and validated: what a Fabric bundle knows
/// about the channel's values, without the MSPs and policies built from them.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelValues {
    channel_id: String,
    config: Config,
    orderer_addresses: Vec<String>,
    consortium: Option<String>,
    capabilities: ChannelCapabilities,
    orderer: OrdererValues,
    application: Option<ApplicationValues>,
    consortiums: Option<ConsortiumsValues>,
    msps: BTreeMap<String, OrgMsp>,
}

impl ChannelValues {
    /// Reads and validates `config` as the configuration of channel `channel_id`.
    pub fn new(channel_id: &str, config: Config) -> Result<Self, ConfigError> {
        check_channel_id(channel_id)
            .map_err(|why| ConfigError::invalid("ChannelHeader.channel_id", why.to_string()))?;
        let root_path = format!("/{CHANNEL_GROUP}");
        let root = config
            .channel_group
            .as_ref()
            .ok_or_else(|| ConfigError::structure(&root_path, "the config has no channel group"))?;
        let channel = Group::new(&root_path, root);
        names::check_keys(&root_path, root)?;

        // Capabilities first: a config made for a newer Fabric is best refused for the
        // capability it requires, not for some value that newer Fabric added.
        let capabilities = ChannelCapabilities::new(channel.decode(CAPABILITIES_KEY)?.as_ref());
        capabilities
            .all()
            .check_supported(&channel.child_path(CAPABILITIES_KEY))?;
        let orderer_group = channel.sub_group(ORDERER_GROUP).ok_or_else(|| {
            ConfigError::structure(
                channel.child_path(ORDERER_GROUP),
                "missing: an orderer serves only channels with an Orderer group",
            )
        })?;
        let orderer_caps: Option<CapabilitiesProto> = orderer_group.decode(CAPABILITIES_KEY)?;
        OrdererCapabilities::new(orderer_caps.as_ref())
            .all()
            .check_supported(&orderer_group.child_path(CAPABILITIES_KEY))?;
        check_capabilities_order(root, orderer_caps.is_some(), &root_path)?;

        channel.allow_values(&[
            keys::HASHING_ALGORITHM,
            keys::BLOCK_DATA_HASHING_STRUCTURE,
            keys::ORDERER_ADDRESSES,
            keys::CONSORTIUM,
            CAPABILITIES_KEY,
        ])?;
        channel.allow_groups(&[ORDERER_GROUP, APPLICATION_GROUP, CONSORTIUMS_GROUP])?;
        check_hashing(&channel)?;

        let orderer_addresses = channel
            .decode::<OrdererAddresses>(keys::ORDERER_ADDRESSES)?
            .map(|a| a.addresses)
            .unwrap_or_default();
        if orderer_addresses.is_empty() && !capabilities.org_specific_orderer_endpoints() {
            return Err(ConfigError::structure(
                channel.child_path(keys::ORDERER_ADDRESSES),
                "missing: without channel capability V1_4_2 or later, orderer organizations \
                 cannot carry Endpoints, so the channel must list its OrdererAddresses",
            ));
        }
        let consortium = channel
            .decode::<ConsortiumProto>(keys::CONSORTIUM)?
            .map(|c| c.name);

        let orderer = OrdererValues::parse(&orderer_group, &capabilities)?;
        let application = channel
            .sub_group(APPLICATION_GROUP)
            .map(|g| ApplicationValues::parse(&g))
            .transpose()?;
        let consortiums = channel
            .sub_group(CONSORTIUMS_GROUP)
            .map(|g| ConsortiumsValues::parse(&g))
            .transpose()?;
        let msps = collect_msps(&orderer, application.as_ref(), consortiums.as_ref())?;

        Ok(ChannelValues {
            channel_id: channel_id.to_owned(),
            config,
            orderer_addresses,
            consortium,
            capabilities,
            orderer,
            application,
            consortiums,
            msps,
        })
    }

    /// Reads and validates the configuration a CONFIG transaction carries, for the
    /// channel its header names.
    pub fn from_config_tx(tx: ConfigTx) -> Result<Self, ConfigBlockError> {
        let channel = tx.channel_header.channel_id;
        ChannelValues::new(&channel, tx.config)
            .map_err(|error| ConfigBlockError::Values { channel, error })
    }

    /// Reads and validates the configuration of a config block.
    pub fn from_block(block: &Block) -> Result<Self, ConfigBlockError> {
        Self::from_config_tx(read_config_block(block)?)
    }

    /// Reads and validates the configuration of a CONFIG envelope.
    pub fn from_envelope(env: &Envelope) -> Result<Self, ConfigBlockError> {
        Self::from_config_tx(read_config_envelope(env)?)
    }

    /// The channel's ID.
    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    /// The configuration's sequence: 0 in the genesis block, one more per config
    /// change.
    pub fn sequence(&self) -> u64 {
        self.config.sequence
    }

    /// The configuration as read, untouched: policies, mod_policies and versions
    /// are there for the policy manager and for config updates.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The `/Channel` group as read.
    pub fn channel_group(&self) -> Option<&ConfigGroup> {
        self.config.channel_group.as_ref()
    }

    /// `HashingAlgorithm`: always SHA256 in a configuration this orderer accepts.
    pub fn hashing_algorithm(&self) -> &'static str {
        SHA256
    }

    /// `BlockDataHashingStructure.width`: always `u32::MAX` (one flat hash of the
    /// block's data) in a configuration Fabric accepts.
    pub fn block_data_hashing_width(&self) -> u32 {
        u32::MAX
    }

    /// `OrdererAddresses`: the channel-wide `host:port` list of OSNs; may be empty
    /// when orderer organizations carry `Endpoints`.
    pub fn orderer_addresses(&self) -> &[String] {
        &self.orderer_addresses
    }

    /// `Consortium`: the consortium an application channel was created in.
    pub fn consortium(&self) -> Option<&str> {
        self.consortium.as_deref()
    }

    /// `/Channel/Capabilities`.
    pub fn capabilities(&self) -> &ChannelCapabilities {
        &self.capabilities
    }

    /// `/Channel/Orderer`.
    pub fn orderer(&self) -> &OrdererValues {
        &self.orderer
    }

    /// `/Channel/Application`, if the channel has one.
    pub fn application(&self) -> Option<&ApplicationValues> {
        self.application.as_ref()
    }

    /// `/Channel/Consortiums`: present on a system channel only.
    pub fn consortiums(&self) -> Option<&ConsortiumsValues> {
        self.consortiums.as_ref()
    }

    /// Whether this is an ordering system channel (it defines consortiums).
    pub fn is_system_channel(&self) -> bool {
        self.consortiums.is_some()
    }

    /// Whether the channel is in maintenance mode.
    pub fn is_maintenance(&self) -> bool {
        self.orderer.is_maintenance()
    }

    /// Every MSP the channel defines, by MSP ID, each once.
    pub fn msps(&self) -> &BTreeMap<String, OrgMsp> {
        &self.msps
    }

    /// The ordering parameters as [`ChannelConfig`]: consenter, batch size and timeout.
    pub fn channel_config(&self) -> ChannelConfig {
        ChannelConfig {
            channel_id: self.channel_id.clone(),
            consensus_type: self.orderer.consenter_kind(),
            batch_size: self.orderer.batch_size(),
            batch_timeout: self.orderer.batch_timeout(),
        }
    }

    /// The raw bytes of the value at `path` below `/Channel` (`["Orderer",
    /// "BatchSize"]`: groups, then the value's key), as the config holds them.
    pub fn raw_value(&self, path: &[&str]) -> Option<&Bytes> {
        let (key, groups) = path.split_last()?;
        let mut group = self.config.channel_group.as_ref()?;
        for name in groups {
            group = group.groups.get(*name)?;
        }
        group.values.get(*key).map(|v| &v.value)
    }
}

/// Fabric's rule that capabilities switch on orderer first: channel or application
/// capabilities without orderer capabilities would be enforced by peers before the
/// ordering service understands them.
fn check_capabilities_order(
    root: &ConfigGroup,
    orderer_has_capabilities: bool,
    root_path: &str,
) -> Result<(), ConfigError> {
    if orderer_has_capabilities {
        return Ok(());
    }
    if root.values.contains_key(CAPABILITIES_KEY) {
        return Err(ConfigError::structure(
            format!("{root_path}/{CAPABILITIES_KEY}"),
            "channel capabilities cannot be enabled before orderer capabilities",
        ));
    }
    let app_caps = root
        .groups
        .get(APPLICATION_GROUP)
        .is_some_and(|g| g.values.contains_key(CAPABILITIES_KEY));
    if app_caps {
        return Err(ConfigError::structure(
            format!("{root_path}/{APPLICATION_GROUP}/{CAPABILITIES_KEY}"),
            "application capabilities cannot be enabled before orderer capabilities",
        ));
    }
    Ok(())
}

/// `HashingAlgorithm` must be SHA256 (Fabric also knows SHA3_256, which this
/// orderer's block hashing does not implement) and `BlockDataHashingStructure.width`
/// must be `u32::MAX`, the only width Fabric implements.
fn check_hashing(channel: &Group<'_>) -> Result<(), ConfigError> {
    let path = channel.child_path(keys::HASHING_ALGORITHM);
    let algorithm: HashingAlgorithm =
        channel.require(keys::HASHING_ALGORITHM, "blocks are hashed with it")?;
    match algorithm.name.as_str() {
        SHA256 => {}
        "SHA3_256" => {
            return Err(ConfigError::unsupported(
                path,
                "hashing algorithm SHA3_256 is not supported by this orderer (it hashes with SHA256)",
            ));
        }
        other => {
            return Err(ConfigError::invalid(
                path,
                format!("unknown hashing algorithm {other:?} (must be SHA256)"),
            ));
        }
    }
    let path = channel.child_path(keys::BLOCK_DATA_HASHING_STRUCTURE);
    let structure: BlockDataHashingStructure = channel.require(
        keys::BLOCK_DATA_HASHING_STRUCTURE,
        "it says how block data is hashed",
    )?;
    if structure.width != u32::MAX {
        return Err(ConfigError::invalid(
            path,
            format!(
                "width {} is not supported: the only width is {} (4294967295)",
                structure.width,
                u32::MAX
            ),
        ));
    }
    Ok(())
}

/// Every organization's MSP, checked for one definition per MSP ID.
fn collect_msps(
    orderer: &OrdererValues,
    application: Option<&ApplicationValues>,
    consortiums: Option<&ConsortiumsValues>,
) -> Result<BTreeMap<String, OrgMsp>, ConfigError> {
    let mut registry = MspRegistry::default();
    let msp_path = |groups: &[&str]| format!("/{CHANNEL_GROUP}/{}/{}", groups.join("/"), keys::MSP);
    for (name, org) in orderer.organizations() {
        registry.add(&msp_path(&[ORDERER_GROUP, name]), org.org().msp())?;
    }
    for (name, org) in application
        .map(|a| a.organizations().iter())
        .into_iter()
        .flatten()
    {
        registry.add(&msp_path(&[APPLICATION_GROUP, name]), org.org().msp())?;
    }
    let consortiums = consortiums
        .map(|c| c.consortiums().iter())
        .into_iter()
        .flatten();
    for (consortium_name, consortium) in consortiums {
        for (name, org) in consortium.organizations() {
            registry.add(
                &msp_path(&[CONSORTIUMS_GROUP, consortium_name, name]),
                org.msp(),
            )?;
        }
    }
    Ok(registry.into_map())
}
