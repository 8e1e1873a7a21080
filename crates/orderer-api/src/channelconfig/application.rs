//! The `Application` group: the peers' organizations and settings.
//!
//! The orderer interprets little of it (organizations' MSP IDs for policies, the
//! capabilities), but it must refuse what Fabric refuses, or peers would reject a
//! block this orderer accepted. Values the orderer does not interpret (`ACLs`,
//! `AnchorPeers`) are checked to decode, as Fabric checks them, and kept as the exact
//! bytes of the config.

use std::collections::BTreeMap;

use bytes::Bytes;
use prost::Message;

use super::capabilities::ApplicationCapabilities;
use super::error::ConfigError;
use super::group::Group;
use super::organization::Organization;
use super::{CAPABILITIES_KEY, keys};

/// Fabric's `peer.ACLs`, declared here for the decode check only (the peer protos
/// are not part of this orderer).
#[derive(Clone, PartialEq, Message)]
struct Acls {
    #[prost(btree_map = "string, message", tag = "1")]
    acls: BTreeMap<String, ApiResource>,
}

/// Fabric's `peer.APIResource`.
#[derive(Clone, PartialEq, Message)]
struct ApiResource {
    #[prost(string, tag = "1")]
    policy_ref: String,
}

/// Fabric's `peer.AnchorPeers`.
#[derive(Clone, PartialEq, Message)]
struct AnchorPeers {
    #[prost(message, repeated, tag = "1")]
    anchor_peers: Vec<AnchorPeer>,
}

/// Fabric's `peer.AnchorPeer`.
#[derive(Clone, PartialEq, Message)]
struct AnchorPeer {
    #[prost(string, tag = "1")]
    host: String,
    #[prost(int32, tag = "2")]
    port: i32,
}

/// A peer organization: its MSP and, if set, its anchor peers.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplicationOrg {
    org: Organization,
    anchor_peers: Option<Bytes>,
}

impl ApplicationOrg {
    /// The name and MSP.
    pub fn org(&self) -> &Organization {
        &self.org
    }

    /// The `AnchorPeers` value (a `peer.AnchorPeers`), byte for byte.
    pub fn anchor_peers(&self) -> Option<&Bytes> {
        self.anchor_peers.as_ref()
    }
}

/// The typed values of `/Channel/Application`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplicationValues {
    capabilities: ApplicationCapabilities,
    acls: Option<Bytes>,
    orgs: BTreeMap<String, ApplicationOrg>,
}

impl ApplicationValues {
    pub(crate) fn parse(group: &Group<'_>) -> Result<Self, ConfigError> {
        group.allow_values(&[keys::ACLS, CAPABILITIES_KEY])?;
        let capabilities = ApplicationCapabilities::new(group.decode(CAPABILITIES_KEY)?.as_ref());
        let acls = group.raw(keys::ACLS);
        if acls.is_some() && !capabilities.acls() {
            return Err(ConfigError::structure(
                group.child_path(keys::ACLS),
                "ACLs may be set only from application capability V1_2 on",
            ));
        }
        group.decode::<Acls>(keys::ACLS)?;

        let mut orgs = BTreeMap::new();
        for (name, org_group) in group.children() {
            let org = Organization::parse(
                name,
                &org_group,
                &[keys::ANCHOR_PEERS],
                "an application organization",
            )?;
            org_group.decode::<AnchorPeers>(keys::ANCHOR_PEERS)?;
            let anchor_peers = org_group.raw(keys::ANCHOR_PEERS);
            orgs.insert(name.to_owned(), ApplicationOrg { org, anchor_peers });
        }
        Ok(ApplicationValues {
            capabilities,
            acls,
            orgs,
        })
    }

    /// `/Channel/Application/Capabilities`.
    pub fn capabilities(&self) -> &ApplicationCapabilities {
        &self.capabilities
    }

    /// The `ACLs` value (a `peer.ACLs`), byte for byte.
    pub fn acls(&self) -> Option<&Bytes> {
        self.acls.as_ref()
    }

    /// The peer organizations by group name.
    pub fn organizations(&self) -> &BTreeMap<String, ApplicationOrg> {
        &self.orgs
    }

    /// The MSP IDs of the peer organizations, sorted by group name.
    pub fn msp_ids(&self) -> impl Iterator<Item = &str> {
        self.orgs.values().map(|o| o.org.msp_id())
    }
}
