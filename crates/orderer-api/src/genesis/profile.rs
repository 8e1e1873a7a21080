//! What a channel's genesis configuration is made from: a profile, as configtxgen
//! calls it, with the defaults of Fabric's sample profiles.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::blockcutter::BatchSize;
use crate::channel::ChannelConfig;
use crate::consensus::ConsenterKind;
use crate::policies::dsl::implicit_meta_policy;
use crate::proto::common::Policy;
use crate::proto::common::implicit_meta_policy::Rule;
use crate::proto::msp::{FabricMspConfig, MspConfig};

use super::policy::{
    ADMINS, Policies, application_group_policies, application_org_policies, orderer_group_policies,
    orderer_org_policies, standard_meta_policies,
};

/// The capability every level gets by default: Fabric 2.x's `V2_0`. (Fabric 2.5's
/// sample sets the Application level to `V2_5`, which requires peers of 2.5 or later.)
pub const DEFAULT_CAPABILITY: &str = "V2_0";

/// A channel to create: everything its genesis block records.
///
/// Organizations are config groups keyed by name, so the order in which they are
/// listed does not change the block. Lists of addresses (orderer addresses, Kafka
/// brokers, org endpoints, anchor peers) are kept in the given order, as configtxgen
/// keeps them: every OSN must be given them in the same order to build the same block.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// Fabric's rule: lowercase ASCII letters, digits, dots and dashes, starting with
    /// a letter, at most 249 characters.
    pub channel_id: String,
    pub orderer: OrdererProfile,
    /// The `Application` group: an application channel has one (a Fabric peer
    /// refuses a genesis block without it); a system channel has none.
    pub application: Option<ApplicationProfile>,
    /// The `Consortiums` group, by consortium name: present only on a system
    /// channel, whose consortiums may create channels. At least one of
    /// `application` and `consortiums` must be set.
    pub consortiums: Option<BTreeMap<String, ConsortiumProfile>>,
    /// The `Consortium` value, for channels created in a system channel's consortium.
    /// `None` (the default) writes no value, as for channels joined through the
    /// channel participation API.
    pub consortium: Option<String>,
    /// `/Channel/Capabilities`; empty writes no value.
    pub capabilities: BTreeSet<String>,
    /// `/Channel` policies; must include `Readers`, `Writers` and `Admins`.
    pub policies: Policies,
}

/// How blocks are ordered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Consensus {
    Solo,
    /// Through Kafka; `brokers` are the `host:port` seed brokers recorded in the
    /// Orderer group's `KafkaBrokers` value.
    Kafka {
        brokers: Vec<String>,
    },
}

impl Consensus {
    /// The consenter that orders the channel.
    pub fn kind(&self) -> ConsenterKind {
        match self {
            Consensus::Solo => ConsenterKind::Solo,
            Consensus::Kafka { .. } => ConsenterKind::Kafka,
        }
    }
}

/// The `Orderer` group.
#[derive(Clone, Debug, PartialEq)]
pub struct OrdererProfile {
    pub consensus: Consensus,
    pub batch_size: BatchSize,
    /// Must be positive.
    pub batch_timeout: Duration,
    /// `host:port` of the ordering nodes, written to `/Channel/OrdererAddresses`
    /// (omitted when empty). Fabric 2.x clients prefer the orgs' `Endpoints`.
    pub addresses: Vec<String>,
    /// The `ChannelRestrictions` value; 0 means no limit (Fabric's default).
    pub max_channels: u64,
    /// At least one: the ordering service's signatures on blocks are checked
    /// against these orgs' `Writers` (the `BlockValidation` policy).
    pub organizations: Vec<Organization>,
    /// `/Channel/Orderer/Capabilities`; empty writes no value.
    pub capabilities: BTreeSet<String>,
    /// Must include `Readers`, `Writers`, `Admins` and `BlockValidation`.
    pub policies: Policies,
}

/// The `Application` group.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplicationProfile {
    /// At least one: the peers' orgs.
    pub organizations: Vec<Organization>,
    /// `/Channel/Application/Capabilities`; empty writes no value.
    pub capabilities: BTreeSet<String>,
    /// Must include `Readers`, `Writers` and `Admins`.
    pub policies: Policies,
    /// Peer resource name to policy path (the `ACLs` value); empty writes no value.
    pub acls: BTreeMap<String, String>,
}

/// A consortium of a system channel: the organizations that may create channels
/// together, and who must sign such a creation.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsortiumProfile {
    /// May be empty (Fabric's insecure sample profiles have none). Their groups
    /// carry the MSP and policies only: anchor peers and endpoints are ignored, as
    /// configtxgen ignores them there.
    pub organizations: Vec<Organization>,
    /// The `ChannelCreationPolicy` value, evaluated as the new channel's
    /// `/Channel/Application/ChannelCreationPolicy`; configtxgen always writes
    /// `ImplicitMeta ANY Admins` (an admin of any member org).
    pub channel_creation_policy: Policy,
}

impl ConsortiumProfile {
    /// A consortium of `organizations` with configtxgen's creation policy.
    pub fn new(organizations: Vec<Organization>) -> Self {
        ConsortiumProfile {
            organizations,
            channel_creation_policy: implicit_meta_policy(Rule::Any, ADMINS),
        }
    }
}

impl ApplicationProfile {
    /// The sample profiles' Application group for `organizations`: `V2_0`, the
    /// sample policies and ACLs.
    pub fn new(organizations: Vec<Organization>) -> Self {
        ApplicationProfile {
            organizations,
            capabilities: default_capabilities(),
            policies: application_group_policies(),
            acls: sample_acls(),
        }
    }
}

/// An organization of the Orderer or the Application group, or of a consortium.
#[derive(Clone, Debug, PartialEq)]
pub struct Organization {
    /// The name of its config group (e.g. `OrdererOrg`); Fabric's config ID rule.
    pub name: String,
    /// Its MSP ID (e.g. `OrdererMSP`), which policies name.
    pub msp_id: String,
    /// The MSP the caller read from the org's MSP directory.
    pub msp: OrgMsp,
    /// `None` gives the defaults of Fabric's `SampleOrg` for the org's group
    /// ([`orderer_org_policies`] or [`application_org_policies`]); a map replaces
    /// them all and must include `Readers`, `Writers` and `Admins`.
    pub policies: Option<Policies>,
    /// Application orgs only: the `AnchorPeers` value (omitted when empty). An
    /// orderer org ignores it, as configtxgen does, so one org value can serve both
    /// groups.
    pub anchor_peers: Vec<AnchorPeer>,
    /// Orderer orgs only: the org's `host:port` ordering endpoints, the `Endpoints`
    /// value (omitted when empty). An application org ignores it.
    pub orderer_endpoints: Vec<String>,
}

impl Organization {
    /// An org with default policies and no endpoints or anchor peers.
    pub fn new(name: impl Into<String>, msp_id: impl Into<String>, msp: OrgMsp) -> Self {
        Organization {
            name: name.into(),
            msp_id: msp_id.into(),
            msp,
            policies: None,
            anchor_peers: Vec::new(),
            orderer_endpoints: Vec::new(),
        }
    }
}

/// An organization's MSP as the caller has it.
#[derive(Clone, Debug, PartialEq)]
pub enum OrgMsp {
    /// An X.509 MSP. Written as configtxgen writes a verifying MSP: the name set to
    /// the org's MSP ID when empty, Fabric's default crypto config (SHA2, SHA256)
    /// when absent, and the signing identity, if any, left out (no private key
    /// ever goes into a channel config).
    Fabric(Box<FabricMspConfig>),
    /// An `MSPConfig` already encoded (type 0, FabricMSPConfig), written unchanged.
    /// It must name the org's MSP ID and carry no signing identity.
    Encoded(MspConfig),
}

impl From<FabricMspConfig> for OrgMsp {
    fn from(config: FabricMspConfig) -> Self {
        OrgMsp::Fabric(Box::new(config))
    }
}

impl From<MspConfig> for OrgMsp {
    fn from(config: MspConfig) -> Self {
        OrgMsp::Encoded(config)
    }
}

/// A peer other organizations' peers gossip with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorPeer {
    pub host: String,
    /// Nonzero.
    pub port: u16,
}

/// configtxgen's sample `ACLs`: peer resources and the Application policy each
/// requires.
pub fn sample_acls() -> BTreeMap<String, String> {
    const WRITERS: &str = "/Channel/Application/Writers";
    const READERS: &str = "/Channel/Application/Readers";
    [
        ("_lifecycle/CheckCommitReadiness", WRITERS),
        ("_lifecycle/CommitChaincodeDefinition", WRITERS),
        ("_lifecycle/QueryChaincodeDefinition", WRITERS),
        ("_lifecycle/QueryChaincodeDefinitions", WRITERS),
        ("lscc/ChaincodeExists", READERS),
        ("lscc/GetDeploymentSpec", READERS),
        ("lscc/GetChaincodeData", READERS),
        ("lscc/GetInstantiatedChaincodes", READERS),
        ("qscc/GetChainInfo", READERS),
        ("qscc/GetBlockByNumber", READERS),
        ("qscc/GetBlockByHash", READERS),
        ("qscc/GetTransactionByID", READERS),
        ("qscc/GetBlockByTxID", READERS),
        ("cscc/GetConfigBlock", READERS),
        ("cscc/GetChannelConfig", READERS),
        ("peer/Propose", WRITERS),
        ("peer/ChaincodeToChaincode", WRITERS),
        ("event/Block", READERS),
        ("event/FilteredBlock", READERS),
    ]
    .into_iter()
    .map(|(resource, policy)| (resource.to_owned(), policy.to_owned()))
    .collect()
}

fn default_capabilities() -> BTreeSet<String> {
    BTreeSet::from([DEFAULT_CAPABILITY.to_owned()])
}

impl Profile {
    /// A profile with the defaults of Fabric's sample profiles: batch size 500
    /// messages / 10 MB / 2 MB, batch timeout 2s, `V2_0` capabilities at every level,
    /// the sample policies and ACLs, no orderer addresses and no consortium.
    pub fn new(
        channel_id: impl Into<String>,
        consensus: Consensus,
        orderer_orgs: Vec<Organization>,
        application_orgs: Vec<Organization>,
    ) -> Self {
        Profile {
            channel_id: channel_id.into(),
            orderer: OrdererProfile {
                consensus,
                batch_size: BatchSize::default(),
                batch_timeout: Duration::from_secs(2),
                addresses: Vec::new(),
                max_channels: 0,
                organizations: orderer_orgs,
                capabilities: default_capabilities(),
                policies: orderer_group_policies(),
            },
            application: Some(ApplicationProfile::new(application_orgs)),
            consortiums: None,
            consortium: None,
            capabilities: default_capabilities(),
            policies: standard_meta_policies(),
        }
    }

    /// A system channel's profile: [`Profile::new`]'s defaults, no Application
    /// group, and `consortiums` (possibly none) in a `Consortiums` group, laid out
    /// as configtxgen lays out such a profile.
    pub fn system(
        channel_id: impl Into<String>,
        consensus: Consensus,
        orderer_orgs: Vec<Organization>,
        consortiums: BTreeMap<String, ConsortiumProfile>,
    ) -> Self {
        Profile {
            application: None,
            consortiums: Some(consortiums),
            ..Profile::new(channel_id, consensus, orderer_orgs, Vec::new())
        }
    }

    /// The Application group, for callers that built an application channel.
    pub fn application_mut(&mut self) -> Option<&mut ApplicationProfile> {
        self.application.as_mut()
    }

    /// The ordering parameters the node's chains read ([`ChannelConfig`]).
    pub fn channel_config(&self) -> ChannelConfig {
        ChannelConfig {
            channel_id: self.channel_id.clone(),
            consensus_type: self.orderer.consensus.kind(),
            batch_size: self.orderer.batch_size,
            batch_timeout: self.orderer.batch_timeout,
        }
    }
}

/// Which group an organization belongs to; decides its default policies and which
/// endpoints it may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OrgKind<'a> {
    Orderer,
    Application,
    /// A member of the named consortium.
    Consortium(&'a str),
}

impl OrgKind<'_> {
    /// The config group the org is in, below `/Channel`.
    pub(crate) fn group(self) -> String {
        match self {
            OrgKind::Orderer => "Orderer".into(),
            OrgKind::Application => "Application".into(),
            OrgKind::Consortium(name) => format!("Consortiums/{name}"),
        }
    }

    /// Consortium members become application orgs of the channels they create,
    /// so they default to an application org's policies.
    pub(crate) fn default_policies(self, msp_id: &str) -> Policies {
        match self {
            OrgKind::Orderer => orderer_org_policies(msp_id),
            OrgKind::Application | OrgKind::Consortium(_) => application_org_policies(msp_id),
        }
    }
}
