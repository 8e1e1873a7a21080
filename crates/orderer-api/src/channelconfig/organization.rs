//! Organizations: a group holding an `MSP` value, found under `Orderer`, `Application`
//! and each consortium.
//!
//! Here the MSP is read only as far as its ID: the certificates are the MSP crate's to
//! check. What is checked is what Fabric's config layer checks: the value decodes, the
//! MSP type is one Fabric knows, the ID is not empty, and one ID never names two
//! different MSPs in one channel.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use bytes::Bytes;
use prost::Message;

use super::error::ConfigError;
use super::group::Group;
use super::keys;
use crate::proto::msp::{FabricMspConfig, MspConfig};

/// `MSPConfig.type`: which MSP implementation the organization uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MspKind {
    /// X.509 certificates (`FABRIC`, 0): `config` is a `FabricMSPConfig`.
    Fabric,
    /// Idemix anonymous credentials (`IDEMIX`, 1): `config` is an `IdemixMSPConfig`.
    Idemix,
}

/// The part of Fabric's `IdemixMSPConfig` the orderer reads: its name (the MSP ID),
/// field 1 as in `FabricMSPConfig`. Decoding skips the other fields.
#[derive(Clone, PartialEq, Message)]
struct IdemixMspName {
    #[prost(string, tag = "1")]
    name: String,
}

/// An organization's MSP as the config defines it.
#[derive(Clone, Debug, PartialEq)]
pub struct OrgMsp {
    id: String,
    kind: MspKind,
    value: Bytes,
    config: MspConfig,
}

impl OrgMsp {
    /// Reads an `MSP` value: `path` names it in errors, `org` is the group's name.
    pub(crate) fn parse(path: &str, org: &str, value: Bytes) -> Result<Self, ConfigError> {
        let config = MspConfig::decode(value.clone())
            .map_err(|e| ConfigError::malformed(path, format!("not a valid MSPConfig: {e}")))?;
        let (kind, id) = match config.r#type {
            0 => {
                let fabric = FabricMspConfig::decode(config.config.clone()).map_err(|e| {
                    ConfigError::malformed(
                        path,
                        format!("config is not a valid FabricMSPConfig: {e}"),
                    )
                })?;
                (MspKind::Fabric, fabric.name)
            }
            1 => {
                let idemix = IdemixMspName::decode(config.config.clone()).map_err(|e| {
                    ConfigError::malformed(
                        path,
                        format!("config is not a valid IdemixMSPConfig: {e}"),
                    )
                })?;
                (MspKind::Idemix, idemix.name)
            }
            other => {
                return Err(ConfigError::unsupported(
                    path,
                    format!("MSP type {other} is not supported (FABRIC is 0, IDEMIX is 1)"),
                ));
            }
        };
        if id.is_empty() {
            return Err(ConfigError::invalid(
                path,
                format!("the MSP of organization {org} has an empty MSP ID"),
            ));
        }
        Ok(OrgMsp {
            id,
            kind,
            value,
            config,
        })
    }

    /// The MSP ID (`FabricMSPConfig.name`): how identities name their organization.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The MSP implementation.
    pub fn kind(&self) -> MspKind {
        self.kind
    }

    /// The `MSP` value exactly as the config holds it.
    pub fn value(&self) -> &Bytes {
        &self.value
    }

    /// The decoded `MSPConfig`; its `config` holds the type's own message.
    pub fn config(&self) -> &MspConfig {
        &self.config
    }
}

/// An organization group: its name in the config and its MSP.
#[derive(Clone, Debug, PartialEq)]
pub struct Organization {
    name: String,
    msp: OrgMsp,
}

impl Organization {
    /// Reads an organization group. `extra` lists the values this kind of
    /// organization may hold besides `MSP`; `what` names the kind in errors.
    pub(crate) fn parse(
        name: &str,
        group: &Group<'_>,
        extra: &[&str],
        what: &str,
    ) -> Result<Self, ConfigError> {
        group.no_groups(what)?;
        let mut allowed = vec![keys::MSP];
        allowed.extend_from_slice(extra);
        group.allow_values(&allowed)?;
        let value = group.raw(keys::MSP).ok_or_else(|| {
            ConfigError::structure(
                group.child_path(keys::MSP),
                "missing: every organization is defined by its MSP",
            )
        })?;
        let msp = OrgMsp::parse(&group.child_path(keys::MSP), name, value)?;
        Ok(Organization {
            name: name.to_owned(),
            msp,
        })
    }

    /// The organization's key in its parent group (`SampleOrg`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The MSP ID (`SampleOrg` in Fabric's samples, often different from the name).
    pub fn msp_id(&self) -> &str {
        self.msp.id()
    }

    /// The MSP definition.
    pub fn msp(&self) -> &OrgMsp {
        &self.msp
    }
}

/// Every MSP of a channel by ID, with the path where each was first defined.
///
/// One organization may appear in several groups (orderer, application, consortium):
/// that is one MSP as long as the definitions are equal, and a conflict otherwise,
/// since an identity must mean one thing per channel.
#[derive(Debug, Default)]
pub(crate) struct MspRegistry {
    by_id: BTreeMap<String, (String, OrgMsp)>,
}

impl MspRegistry {
    pub(crate) fn add(&mut self, path: &str, msp: &OrgMsp) -> Result<(), ConfigError> {
        match self.by_id.entry(msp.id.clone()) {
            Entry::Vacant(slot) => {
                slot.insert((path.to_owned(), msp.clone()));
                Ok(())
            }
            // Compared as decoded MSPConfig (type and config bytes), not as raw value
            // bytes, so two encodings of one definition agree.
            Entry::Occupied(seen) if seen.get().1.config == msp.config => Ok(()),
            Entry::Occupied(seen) => Err(ConfigError::invalid(
                path,
                format!(
                    "defines MSP {} differently from {}: one MSP ID must have one definition per channel",
                    msp.id,
                    seen.get().0
                ),
            )),
        }
    }

    pub(crate) fn into_map(self) -> BTreeMap<String, OrgMsp> {
        self.by_id
            .into_iter()
            .map(|(id, (_, msp))| (id, msp))
            .collect()
    }
}
