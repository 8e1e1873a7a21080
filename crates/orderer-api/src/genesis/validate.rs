//! Checks a [`Profile`] before anything is encoded, with Fabric's rules, so that a
//! bad input is a clear error here rather than a block Fabric nodes refuse.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;

use crate::channelconfig::CapabilityLevel;
use crate::configtx::ComputeUpdateError;
use crate::policies::{CompileError, Definition, PolicyError};
use crate::proto::common::Policy;
use crate::proto::msp::{FabricCryptoConfig, FabricMspConfig, MspConfig};

use super::policy::{ADMINS, BLOCK_VALIDATION, Policies, READERS, WRITERS};
use super::profile::{Consensus, OrgKind, OrgMsp, Organization, Profile};

/// Why a profile cannot become a channel configuration. `path` names the config
/// element at fault, e.g. `/Channel/Application/Org1`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenesisError {
    #[error("channel id {channel_id:?}: {reason}")]
    ChannelId { channel_id: String, reason: String },
    #[error("/Channel/{group} needs at least one organization")]
    NoOrganizations { group: String },
    #[error(
        "the profile has neither an Application group (an application channel) nor a Consortiums group (a system channel)"
    )]
    NoApplicationOrConsortiums,
    #[error("{path}: name {name:?}: {reason}")]
    Name {
        path: String,
        name: String,
        reason: String,
    },
    #[error("/Channel/{group} lists two organizations named {name:?}")]
    DuplicateOrgName { group: String, name: String },
    #[error(
        "/Channel/{group}: organizations {first:?} and {second:?} have the same MSP ID {msp_id:?}"
    )]
    DuplicateMspId {
        group: String,
        msp_id: String,
        first: String,
        second: String,
    },
    #[error(
        "MSP {msp_id:?} differs between {first} and {second}: one MSP ID names one MSP in a channel"
    )]
    ConflictingMsp {
        msp_id: String,
        first: String,
        second: String,
    },
    #[error("{path}: MSP: {reason}")]
    Msp { path: String, reason: String },
    #[error("{path}: address {address:?}: {reason}")]
    Address {
        path: String,
        address: String,
        reason: String,
    },
    #[error("{0}")]
    Endpoints(String),
    #[error("/Channel/Orderer: a kafka channel needs at least one Kafka broker")]
    NoKafkaBrokers,
    #[error("/Channel/Orderer/BatchSize: {0}")]
    BatchSize(String),
    #[error("/Channel/Orderer/BatchTimeout must be positive")]
    BatchTimeout,
    #[error("{path} has no {name} policy, which Fabric requires")]
    MissingPolicy { path: String, name: &'static str },
    #[error("{path}: policy {name:?}: {reason}")]
    Policy {
        path: String,
        name: String,
        #[source]
        reason: PolicyCheckError,
    },
    #[error(
        "{path}/Capabilities: {name:?} is not a capability this orderer supports at this level; expected one of {valid}"
    )]
    Capability {
        path: String,
        name: String,
        valid: String,
    },
    #[error("/Channel/Application/ACLs: {resource:?}: {reason}")]
    Acl { resource: String, reason: String },
}

/// Why a policy of a profile cannot go in a channel config.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyCheckError {
    /// The definition does not compile (bad bytes, a rule nothing can satisfy).
    #[error(transparent)]
    Invalid(CompileError),
    #[error("type {0}: only SIGNATURE (1) and IMPLICIT_META (3) policies go in a channel config")]
    UnsupportedType(i32),
    #[error("sub-policy {0:?} is not a valid policy name")]
    SubPolicyName(String),
    #[error(transparent)]
    Policy(PolicyError),
    /// The channel creation update came out empty: the Application group's
    /// policies do not differ from the template's.
    #[error(transparent)]
    ApplicationUpdate(#[from] ComputeUpdateError),
}

/// An org whose MSP has been checked and normalized.
#[derive(Clone, Debug)]
pub(crate) struct CheckedOrg<'a> {
    pub(crate) org: &'a Organization,
    pub(crate) msp: MspConfig,
    pub(crate) policies: Policies,
}

/// A profile that passed every check, with its orgs ready to encode.
#[derive(Clone, Debug)]
pub(crate) struct Checked<'a> {
    pub(crate) orderer_orgs: Vec<CheckedOrg<'a>>,
    /// Empty when the profile has no Application group.
    pub(crate) application_orgs: Vec<CheckedOrg<'a>>,
    /// Each consortium's orgs, by consortium name.
    pub(crate) consortium_orgs: BTreeMap<&'a str, Vec<CheckedOrg<'a>>>,
}

/// The channel capabilities from which orderer orgs list their own `Endpoints`;
/// below them, Fabric refuses org endpoints and requires `OrdererAddresses`.
const ORG_ENDPOINT_CAPABILITIES: &[&str] = &["V1_4_2", "V1_4_3", "V2_0", "V3_0"];

/// Fabric's longest channel or config ID.
const MAX_ID_LEN: usize = 249;

pub(crate) fn check(p: &Profile) -> Result<Checked<'_>, GenesisError> {
    check_channel_id(&p.channel_id)?;
    check_policies("/Channel", &p.policies, &[])?;
    check_capabilities("/Channel", &p.capabilities, CapabilityLevel::Channel)?;
    if let Some(name) = &p.consortium {
        check_config_id("/Channel/Consortium", name)?;
    }

    let o = &p.orderer;
    o.batch_size
        .validate()
        .map_err(|e| GenesisError::BatchSize(e.to_string()))?;
    if o.batch_timeout.is_zero() {
        return Err(GenesisError::BatchTimeout);
    }
    check_addresses("/Channel/OrdererAddresses", &o.addresses, true)?;
    if let Consensus::Kafka { brokers } = &o.consensus {
        if brokers.is_empty() {
            return Err(GenesisError::NoKafkaBrokers);
        }
        // Fabric's broker check splits at ':' and so takes no IPv6 literal.
        check_addresses("/Channel/Orderer/KafkaBrokers", brokers, false)?;
    }
    check_policies("/Channel/Orderer", &o.policies, &[BLOCK_VALIDATION])?;
    check_capabilities(
        "/Channel/Orderer",
        &o.capabilities,
        CapabilityLevel::Orderer,
    )?;

    if p.application.is_none() && p.consortiums.is_none() {
        return Err(GenesisError::NoApplicationOrConsortiums);
    }
    let orderer_orgs = check_orgs(&o.organizations, OrgKind::Orderer)?;
    let application_orgs = match &p.application {
        Some(a) => {
            check_application(&a.policies, &a.capabilities, &a.acls)?;
            check_orgs(&a.organizations, OrgKind::Application)?
        }
        None => Vec::new(),
    };
    let mut consortium_orgs = BTreeMap::new();
    for (name, consortium) in p.consortiums.iter().flatten() {
        let path = format!("/Channel/Consortiums/{name}");
        check_config_id("/Channel/Consortiums", name)?;
        check_policy(
            &path,
            "ChannelCreationPolicy",
            &consortium.channel_creation_policy,
        )
        .map_err(|reason| GenesisError::Policy {
            path: path.clone(),
            name: "ChannelCreationPolicy".into(),
            reason,
        })?;
        let orgs = check_orgs(&consortium.organizations, OrgKind::Consortium(name))?;
        consortium_orgs.insert(name.as_str(), orgs);
    }

    let checked = Checked {
        orderer_orgs,
        application_orgs,
        consortium_orgs,
    };
    check_msps_agree(&checked)?;
    check_endpoints(p)?;
    Ok(checked)
}

/// The Application group's own settings: policies, capabilities, ACLs.
pub(crate) fn check_application(
    policies: &Policies,
    capabilities: &BTreeSet<String>,
    acls: &BTreeMap<String, String>,
) -> Result<(), GenesisError> {
    check_policies("/Channel/Application", policies, &[])?;
    check_capabilities(
        "/Channel/Application",
        capabilities,
        CapabilityLevel::Application,
    )?;
    for (resource, policy) in acls {
        let reason = if resource.is_empty() {
            "the resource name is empty"
        } else if policy.trim().is_empty() {
            "the policy reference is empty"
        } else {
            continue;
        };
        return Err(GenesisError::Acl {
            resource: resource.clone(),
            reason: reason.into(),
        });
    }
    Ok(())
}

fn check_endpoints(p: &Profile) -> Result<(), GenesisError> {
    let org_endpoints = p
        .capabilities
        .iter()
        .any(|c| ORG_ENDPOINT_CAPABILITIES.contains(&c.as_str()));
    if org_endpoints {
        return Ok(());
    }
    let mut orgs = p.orderer.organizations.iter();
    if let Some(org) = orgs.find(|o| !o.orderer_endpoints.is_empty()) {
        return Err(GenesisError::Endpoints(format!(
            "/Channel/Orderer/{}/Endpoints needs the channel capability V1_4_2 or later",
            org.name
        )));
    }
    if p.orderer.addresses.is_empty() {
        return Err(GenesisError::Endpoints(
            "/Channel/OrdererAddresses must list the orderers: without the channel capability \
             V1_4_2 or later, clients find them nowhere else"
                .into(),
        ));
    }
    Ok(())
}

/// Fabric's channel ID rule: `[a-z][a-z0-9.-]*`, at most 249 characters.
pub(crate) fn check_channel_id(id: &str) -> Result<(), GenesisError> {
    let reason = if id.is_empty() {
        "must not be empty"
    } else if id.len() > MAX_ID_LEN {
        "must not be longer than 249 characters"
    } else if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        "must start with a lowercase letter"
    } else if !id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
    {
        "may contain only lowercase letters, digits, dots and dashes"
    } else {
        return Ok(());
    };
    Err(GenesisError::ChannelId {
        channel_id: id.to_owned(),
        reason: reason.to_owned(),
    })
}

/// Fabric's rule for config group, value and policy names: `[a-zA-Z0-9.-]+`, at most
/// 249 characters, neither `.` nor `..`.
pub(crate) fn check_config_id(path: &str, name: &str) -> Result<(), GenesisError> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if name.len() > MAX_ID_LEN {
        "must not be longer than 249 characters"
    } else if name == "." || name == ".." {
        "must not be '.' or '..'"
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        "may contain only ASCII letters, digits, dots and dashes"
    } else {
        return Ok(());
    };
    Err(GenesisError::Name {
        path: path.to_owned(),
        name: name.to_owned(),
        reason: reason.to_owned(),
    })
}

/// `host:port` with a nonzero port; the host a DNS name, an IPv4 address or (when
/// `ipv6`) a bracketed IPv6 literal. No address may be listed twice.
fn check_addresses(path: &str, addresses: &[String], ipv6: bool) -> Result<(), GenesisError> {
    let mut seen = BTreeSet::new();
    for address in addresses {
        let err = |reason: &str| GenesisError::Address {
            path: path.to_owned(),
            address: address.clone(),
            reason: reason.to_owned(),
        };
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| err("expected host:port"))?;
        match port.parse::<u16>() {
            Ok(0) | Err(_) => return Err(err("the port must be a number from 1 to 65535")),
            Ok(_) => {}
        }
        let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(literal) => {
                ipv6 && !literal.is_empty()
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            }
            None => {
                !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                    && !host.starts_with(['.', '-'])
                    && !host.ends_with(['.', '-'])
            }
        };
        if !host_ok {
            return Err(err(if ipv6 {
                "the host must be a DNS name, an IPv4 address or a bracketed IPv6 address"
            } else {
                "the host must be a DNS name or an IPv4 address"
            }));
        }
        if !seen.insert(address.as_str()) {
            return Err(err("listed twice"));
        }
    }
    Ok(())
}

/// Every group needs `Readers`, `Writers` and `Admins` (plus `extra`), and every
/// policy must be well formed.
fn check_policies(
    path: &str,
    policies: &Policies,
    extra: &[&'static str],
) -> Result<(), GenesisError> {
    for name in [READERS, WRITERS, ADMINS].iter().chain(extra) {
        if !policies.contains_key(*name) {
            return Err(GenesisError::MissingPolicy {
                path: path.to_owned(),
                name,
            });
        }
    }
    for (name, policy) in policies {
        check_config_id(path, name)?;
        check_policy(path, name, policy).map_err(|reason| GenesisError::Policy {
            path: path.to_owned(),
            name: name.clone(),
            reason,
        })?;
    }
    Ok(())
}

/// Refuses what the node's policy engine would refuse when it loads the config
/// (stricter than Fabric: e.g. an `OutOf` nothing can satisfy), and an implicit
/// meta policy over a sub-policy name no group can have.
fn check_policy(path: &str, name: &str, policy: &Policy) -> Result<(), PolicyCheckError> {
    match Definition::decode(format!("{path}/{name}"), policy) {
        Ok(Definition::Signature(_)) => Ok(()),
        Ok(Definition::ImplicitMeta { sub_policy, .. }) => check_config_id(path, &sub_policy)
            .map_err(|_| PolicyCheckError::SubPolicyName(sub_policy)),
        Err(PolicyError::Invalid { source, .. }) => Err(PolicyCheckError::Invalid(source)),
        Err(PolicyError::UnsupportedType { policy_type, .. }) => {
            Err(PolicyCheckError::UnsupportedType(policy_type))
        }
        Err(other) => Err(PolicyCheckError::Policy(other)),
    }
}

/// Only the capabilities the node knows: it refuses a channel requiring another.
fn check_capabilities(
    path: &str,
    names: &BTreeSet<String>,
    level: CapabilityLevel,
) -> Result<(), GenesisError> {
    let valid = level.known();
    match names.iter().find(|n| !valid.contains(&n.as_str())) {
        None => Ok(()),
        Some(name) => Err(GenesisError::Capability {
            path: path.to_owned(),
            name: name.clone(),
            valid: valid.join(", "),
        }),
    }
}

fn check_orgs<'a>(
    orgs: &'a [Organization],
    kind: OrgKind<'_>,
) -> Result<Vec<CheckedOrg<'a>>, GenesisError> {
    let group = kind.group();
    // A consortium may be empty; the Orderer and Application groups may not.
    if orgs.is_empty() && !matches!(kind, OrgKind::Consortium(_)) {
        return Err(GenesisError::NoOrganizations { group });
    }
    let mut names = BTreeSet::new();
    let mut msp_ids: BTreeMap<&str, &str> = BTreeMap::new();
    let mut out = Vec::with_capacity(orgs.len());
    for org in orgs {
        let group_path = format!("/Channel/{group}");
        check_config_id(&group_path, &org.name)?;
        if !names.insert(org.name.as_str()) {
            return Err(GenesisError::DuplicateOrgName {
                group: group.clone(),
                name: org.name.clone(),
            });
        }
        if let Some(first) = msp_ids.insert(&org.msp_id, &org.name) {
            return Err(GenesisError::DuplicateMspId {
                group: group.clone(),
                msp_id: org.msp_id.clone(),
                first: first.to_owned(),
                second: org.name.clone(),
            });
        }
        let path = format!("{group_path}/{}", org.name);
        let msp = check_msp(&path, org)?;
        let policies = org
            .policies
            .clone()
            .unwrap_or_else(|| kind.default_policies(&org.msp_id));
        check_policies(&path, &policies, &[])?;
        match kind {
            OrgKind::Orderer => {
                check_addresses(&format!("{path}/Endpoints"), &org.orderer_endpoints, true)?
            }
            OrgKind::Application | OrgKind::Consortium(_) => {
                let anchors: Vec<_> = (org.anchor_peers.iter())
                    .map(|peer| format!("{}:{}", peer.host, peer.port))
                    .collect();
                check_addresses(&format!("{path}/AnchorPeers"), &anchors, true)?;
            }
        }
        out.push(CheckedOrg { org, msp, policies });
    }
    Ok(out)
}

/// The MSP value to write: an X.509 `FabricMSPConfig` named after the org's MSP ID,
/// with at least one root CA and no signing identity.
fn check_msp(path: &str, org: &Organization) -> Result<MspConfig, GenesisError> {
    let err = |reason: String| GenesisError::Msp {
        path: path.to_owned(),
        reason,
    };
    if org.msp_id.is_empty() {
        return Err(err("the MSP ID is empty".into()));
    }
    let (config, encoded) = match &org.msp {
        OrgMsp::Fabric(config) => {
            let mut config = FabricMspConfig::clone(config);
            if config.name.is_empty() {
                config.name = org.msp_id.clone();
            }
            // A local MSP may carry the node's key: never copy it into the channel.
            config.signing_identity = None;
            config
                .crypto_config
                .get_or_insert_with(|| FabricCryptoConfig {
                    signature_hash_family: "SHA2".into(),
                    identity_identifier_hash_function: "SHA256".into(),
                });
            let encoded = MspConfig {
                r#type: 0,
                config: config.encode_to_vec().into(),
            };
            (config, encoded)
        }
        OrgMsp::Encoded(encoded) => {
            if encoded.r#type != 0 {
                return Err(err(format!(
                    "type {}: only type 0 (X.509, FabricMSPConfig) is supported",
                    encoded.r#type
                )));
            }
            let config = FabricMspConfig::decode(encoded.config.clone())
                .map_err(|e| err(format!("not a FabricMSPConfig: {e}")))?;
            if config.signing_identity.is_some() {
                return Err(err(
                    "carries a signing identity: a channel config holds only verifying MSPs".into(),
                ));
            }
            (config, encoded.clone())
        }
    };
    if config.name != org.msp_id {
        return Err(err(format!(
            "names MSP {:?}, not the organization's MSP ID {:?}",
            config.name, org.msp_id
        )));
    }
    if config.root_certs.is_empty() {
        return Err(err("has no root CA certificate".into()));
    }
    Ok(encoded)
}

/// The same MSP ID in several groups (an org that orders and runs peers, or is in
/// several consortiums) must carry the same MSP: Fabric refuses two definitions
/// of one MSP.
fn check_msps_agree(checked: &Checked<'_>) -> Result<(), GenesisError> {
    let mut groups: Vec<(String, &[CheckedOrg<'_>])> = vec![
        ("/Channel/Orderer".into(), &checked.orderer_orgs),
        ("/Channel/Application".into(), &checked.application_orgs),
    ];
    for (name, orgs) in &checked.consortium_orgs {
        groups.push((format!("/Channel/Consortiums/{name}"), orgs));
    }
    let mut first: BTreeMap<&str, (String, &MspConfig)> = BTreeMap::new();
    for (path, orgs) in &groups {
        for org in orgs.iter() {
            let here = format!("{path}/{}", org.org.name);
            match first.get(org.org.msp_id.as_str()) {
                Some((there, msp)) if *msp != &org.msp => {
                    return Err(GenesisError::ConflictingMsp {
                        msp_id: org.org.msp_id.clone(),
                        first: there.clone(),
                        second: here,
                    });
                }
                Some(_) => {}
                None => {
                    first.insert(&org.org.msp_id, (here, &org.msp));
                }
            }
        }
    }
    Ok(())
}
