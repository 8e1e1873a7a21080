//! Capabilities: the feature levels a channel requires of every node that serves it.
//!
//! A capability is required by its presence in a group's `Capabilities` value. A node
//! that does not know one must refuse the channel rather than process it by older
//! rules and fork from the nodes that do. The names this orderer knows are Fabric
//! v2.5's, except that nothing of Fabric 3 is known: Fabric 3 removed Kafka, and its
//! `V3_0` channel capability promises behaviour (BFT, no system channel rules) that
//! this orderer does not have.

use std::collections::BTreeSet;
use std::fmt;

use super::error::ConfigError;
use crate::proto::common::Capabilities as CapabilitiesProto;

/// Where a `Capabilities` value sits: each level has its own names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CapabilityLevel {
    /// `/Channel/Capabilities`.
    Channel,
    /// `/Channel/Orderer/Capabilities`.
    Orderer,
    /// `/Channel/Application/Capabilities`.
    Application,
}

impl CapabilityLevel {
    /// The capability names of this level that this orderer knows: Fabric v2.5's.
    pub fn known(self) -> &'static [&'static str] {
        match self {
            CapabilityLevel::Channel => &["V1_1", "V1_3", "V1_4_2", "V1_4_3", "V2_0"],
            CapabilityLevel::Orderer => &["V1_1", "V1_4_2", "V2_0"],
            // Fabric v2.5 also knows the two experimental v1.1 names; a config made for
            // v1.1 peers may carry them.
            CapabilityLevel::Application => &[
                "V1_1",
                "V1_2",
                "V1_3",
                "V1_4_2",
                "V2_0",
                "V2_5",
                "V1_1_PVTDATA_EXPERIMENTAL",
                "V1_1_RESOURCETREE_EXPERIMENTAL",
            ],
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            CapabilityLevel::Channel => "channel",
            CapabilityLevel::Orderer => "orderer",
            CapabilityLevel::Application => "application",
        }
    }
}

impl fmt::Display for CapabilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The capabilities one group requires, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    level: CapabilityLevel,
    names: BTreeSet<String>,
}

impl Capabilities {
    /// The capabilities of `level` named in `proto` (none when the value is absent).
    pub fn new(level: CapabilityLevel, proto: Option<&CapabilitiesProto>) -> Self {
        Capabilities {
            level,
            names: proto
                .map(|p| p.capabilities.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }

    /// Which level these capabilities are of.
    pub fn level(&self) -> CapabilityLevel {
        self.level
    }

    /// Every required capability, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Whether the group requires `name`.
    pub fn has(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Whether the group requires any of `names`: a feature is on from the version
    /// that introduced it, so callers list that version and every later one.
    fn any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.has(n))
    }

    /// The required capabilities this orderer does not know, sorted.
    pub fn unsupported(&self) -> Vec<&str> {
        let known = self.level.known();
        self.names().filter(|n| !known.contains(n)).collect()
    }

    /// Refuses these capabilities if any is unknown, naming each one.
    pub fn check_supported(&self, path: &str) -> Result<(), ConfigError> {
        let missing = self.unsupported();
        if missing.is_empty() {
            return Ok(());
        }
        let noun = if missing.len() == 1 {
            "capability"
        } else {
            "capabilities"
        };
        Err(ConfigError::unsupported(
            path,
            format!(
                "{} requires {noun} {} which this orderer does not support (it supports {})",
                self.level,
                missing.join(", "),
                self.level.known().join(", ")
            ),
        ))
    }
}

/// The MSP rules a channel asks for, set by its channel capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MspVersion {
    /// No channel capability: Fabric v1.0's MSP.
    V1_0,
    /// `V1_1`.
    V1_1,
    /// `V1_3` or `V1_4_2`.
    V1_3,
    /// `V1_4_3` or `V2_0`: NodeOUs with admin and orderer OUs.
    V1_4_3,
}

/// `/Channel/Capabilities` and what they switch on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelCapabilities(Capabilities);

impl ChannelCapabilities {
    pub(crate) fn new(proto: Option<&CapabilitiesProto>) -> Self {
        ChannelCapabilities(Capabilities::new(CapabilityLevel::Channel, proto))
    }

    /// The names, and the check against what this orderer supports.
    pub fn all(&self) -> &Capabilities {
        &self.0
    }

    /// Orderer organizations may carry their own `Endpoints`, and the channel's
    /// `OrdererAddresses` become optional (`V1_4_2` and later).
    pub fn org_specific_orderer_endpoints(&self) -> bool {
        self.0.any(&["V1_4_2", "V1_4_3", "V2_0"])
    }

    /// The consensus type may change through maintenance mode (`V1_4_2` and later).
    pub fn consensus_type_migration(&self) -> bool {
        self.0.any(&["V1_4_2", "V1_4_3", "V2_0"])
    }

    /// Which MSP rules the channel's organizations are evaluated by.
    pub fn msp_version(&self) -> MspVersion {
        if self.0.any(&["V1_4_3", "V2_0"]) {
            MspVersion::V1_4_3
        } else if self.0.any(&["V1_3", "V1_4_2"]) {
            MspVersion::V1_3
        } else if self.0.has("V1_1") {
            MspVersion::V1_1
        } else {
            MspVersion::V1_0
        }
    }

    /// `V2_0` is required.
    pub fn v2_0(&self) -> bool {
        self.0.has("V2_0")
    }
}

/// `/Channel/Orderer/Capabilities` and what they switch on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrdererCapabilities(Capabilities);

impl OrdererCapabilities {
    pub(crate) fn new(proto: Option<&CapabilitiesProto>) -> Self {
        OrdererCapabilities(Capabilities::new(CapabilityLevel::Orderer, proto))
    }

    /// The names, and the check against what this orderer supports.
    pub fn all(&self) -> &Capabilities {
        &self.0
    }

    /// Fabric v1.1's fixes, kept by every later level: a new channel's `/Channel` group
    /// gets a proper mod_policy and fresh versions, messages revalidated after a config
    /// change are re-submitted, and identities are checked for expiry.
    pub fn v1_1_fixes(&self) -> bool {
        self.0.any(&["V1_1", "V1_4_2", "V2_0"])
    }

    /// Kafka to Raft migration through maintenance mode (`V1_4_2` and later).
    pub fn consensus_type_migration(&self) -> bool {
        self.0.any(&["V1_4_2", "V2_0"])
    }

    /// A new channel's `Admins` policy comes from the consortium's
    /// `ChannelCreationPolicy` (`V2_0`).
    pub fn use_channel_creation_policy_as_admins(&self) -> bool {
        self.0.has("V2_0")
    }

    /// `V2_0` is required.
    pub fn v2_0(&self) -> bool {
        self.0.has("V2_0")
    }
}

/// `/Channel/Application/Capabilities`: peers' business; the orderer only needs
/// to know whether `ACLs` may appear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationCapabilities(Capabilities);

impl ApplicationCapabilities {
    pub(crate) fn new(proto: Option<&CapabilitiesProto>) -> Self {
        ApplicationCapabilities(Capabilities::new(CapabilityLevel::Application, proto))
    }

    /// The names, and the check against Fabric v2.5's list.
    pub fn all(&self) -> &Capabilities {
        &self.0
    }

    /// The Application group may hold `ACLs` (`V1_2` and later).
    pub fn acls(&self) -> bool {
        self.0.any(&["V1_2", "V1_3", "V1_4_2", "V2_0", "V2_5"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::common::Capability;

    fn caps(names: &[&str]) -> CapabilitiesProto {
        CapabilitiesProto {
            capabilities: names
                .iter()
                .map(|n| (n.to_string(), Capability {}))
                .collect(),
        }
    }

    #[test]
    fn features_switch_on_from_their_version() {
        let c = ChannelCapabilities::new(Some(&caps(&["V1_3"])));
        assert!(!c.org_specific_orderer_endpoints());
        assert_eq!(c.msp_version(), MspVersion::V1_3);
        let c = ChannelCapabilities::new(Some(&caps(&["V1_4_2"])));
        assert!(c.org_specific_orderer_endpoints());
        assert!(c.consensus_type_migration());
        assert_eq!(
            ChannelCapabilities::new(None).msp_version(),
            MspVersion::V1_0
        );
        let c = ChannelCapabilities::new(Some(&caps(&["V2_0"])));
        assert_eq!(c.msp_version(), MspVersion::V1_4_3);
        assert!(c.v2_0());

        let o = OrdererCapabilities::new(Some(&caps(&["V1_1"])));
        assert!(o.v1_1_fixes() && !o.consensus_type_migration() && !o.v2_0());
        let o = OrdererCapabilities::new(Some(&caps(&["V2_0"])));
        assert!(o.v1_1_fixes() && o.use_channel_creation_policy_as_admins());

        assert!(!ApplicationCapabilities::new(Some(&caps(&["V1_1"]))).acls());
        assert!(ApplicationCapabilities::new(Some(&caps(&["V2_5"]))).acls());
    }

    #[test]
    fn every_unknown_name_is_named() {
        let c = Capabilities::new(
            CapabilityLevel::Orderer,
            Some(&caps(&["V1_1", "V3_0", "V9"])),
        );
        assert_eq!(c.unsupported(), ["V3_0", "V9"]);
        let err = c
            .check_supported("/Channel/Orderer/Capabilities")
            .unwrap_err();
        assert!(
            err.to_string().starts_with(
                "/Channel/Orderer/Capabilities: orderer requires capabilities V3_0, V9 which this orderer does not support"
            ),
            "{err}"
        );
        // Orderer V1_3 does not exist in Fabric, although channel V1_3 does.
        let c = Capabilities::new(CapabilityLevel::Orderer, Some(&caps(&["V1_3"])));
        assert_eq!(c.unsupported(), ["V1_3"]);
    }
}
