//! Whether an identity satisfies an MSP principal (Fabric MSP 1.4.3's
//! `SatisfiesPrincipal`). The identity was validated when it was deserialized, so the
//! "is it a valid member" part of each rule already holds.

use orderer_api::proto::common::msp_identity_anonymity::MspIdentityAnonymityType;
use orderer_api::proto::common::msp_principal::Classification;
use orderer_api::proto::common::msp_role::MspRoleType;
use orderer_api::proto::common::{
    CombinedPrincipal, MspIdentityAnonymity, MspPrincipal, MspRole, OrganizationUnit,
};
use orderer_api::proto::msp::SerializedIdentity;
use prost::{DecodeError, Message};

use super::crl::hex;
use super::error::ValidationError;
use super::identity::FabricIdentity;
use super::ous::{NodeRole, OuError};
use crate::cert::{Cert, first_pem_cert};

/// Why an identity does not satisfy a principal, or the principal is malformed.
#[derive(Debug, thiserror::Error)]
pub enum PrincipalError {
    #[error("part {index} of the combined principal is not satisfied: {source}")]
    Part {
        index: usize,
        #[source]
        source: Box<PrincipalError>,
    },
    #[error("combined principals are nested more than {max} levels deep")]
    TooDeep { max: usize },
    /// `message` is the proto message the principal bytes should be.
    #[error("not a valid {message} principal: {source}")]
    Decode {
        message: &'static str,
        #[source]
        source: DecodeError,
    },
    #[error("not a valid CombinedPrincipal: {0}")]
    NotCombinedPrincipal(#[source] DecodeError),
    #[error("the combined principal has no principals")]
    EmptyCombined,
    #[error("invalid principal classification {0}")]
    InvalidClassification(i32),
    #[error("the identity is a member of {member}, the principal is about MSP {principal_msp:?}")]
    OtherMsp {
        member: String,
        principal_msp: String,
    },
    #[error("identity is not an admin of {msp}: not in admincerts, and {source}")]
    NotAdmin {
        msp: String,
        #[source]
        source: OuError,
    },
    #[error(
        "identity is not a{} {} of {msp}: {source}",
        if *role == NodeRole::Orderer { "n" } else { "" },
        role.name().to_ascii_lowercase()
    )]
    NotInRole {
        role: NodeRole,
        msp: String,
        #[source]
        source: OuError,
    },
    #[error("invalid MSP role type {0}")]
    InvalidRole(i32),
    /// `certifiers` is the hex of the first bytes of the wanted certifiers identifier.
    #[error(
        "the identity does not carry the OU {ou:?} certified by {certifiers}… in {msp} (its OUs: {ous:?})"
    )]
    MissingOu {
        ou: String,
        certifiers: String,
        msp: String,
        ous: Vec<String>,
    },
    #[error("the identity principal is not an msp.SerializedIdentity: {0}")]
    NotSerializedIdentity(#[source] DecodeError),
    #[error(
        "the principal names an identity of MSP {principal_msp:?}, the identity is a member of {member}"
    )]
    IdentityOfOtherMsp {
        principal_msp: String,
        member: String,
    },
    #[error("the identity principal is not a certificate of the MSP: {0}")]
    NamedNotCertificate(#[source] ValidationError),
    #[error("the identity {subject:?} is not the one the principal names ({named:?})")]
    OtherIdentity { subject: String, named: String },
    #[error("the principal requires an anonymous identity; X.509 identities are nominal")]
    AnonymousRequired,
    #[error("unknown anonymity type {0}")]
    UnknownAnonymityType(i32),
}

/// Combined principals nested deeper than this are refused (Fabric has no limit; the
/// recursion must not be driven by input alone).
const MAX_NESTING: usize = 32;

/// `Ok` when `id` satisfies `principal`; a combined principal needs all of its parts.
pub(super) fn satisfies(
    id: &FabricIdentity,
    principal: &MspPrincipal,
) -> Result<(), PrincipalError> {
    let mut parts = Vec::new();
    collect(principal, 0, &mut parts)?;
    let combined =
        parts.len() > 1 || principal.principal_classification == Classification::Combined as i32;
    for (i, part) in parts.iter().enumerate() {
        satisfies_one(id, part).map_err(|e| {
            if combined {
                PrincipalError::Part {
                    index: i,
                    source: Box::new(e),
                }
            } else {
                e
            }
        })?;
    }
    Ok(())
}

/// The principals of a (possibly nested) combined principal, in order.
fn collect(
    p: &MspPrincipal,
    depth: usize,
    out: &mut Vec<MspPrincipal>,
) -> Result<(), PrincipalError> {
    if p.principal_classification != Classification::Combined as i32 {
        out.push(p.clone());
        return Ok(());
    }
    if depth >= MAX_NESTING {
        return Err(PrincipalError::TooDeep { max: MAX_NESTING });
    }
    let combined = CombinedPrincipal::decode(p.principal.clone())
        .map_err(PrincipalError::NotCombinedPrincipal)?;
    if combined.principals.is_empty() {
        return Err(PrincipalError::EmptyCombined);
    }
    for inner in &combined.principals {
        collect(inner, depth + 1, out)?;
    }
    Ok(())
}

fn satisfies_one(id: &FabricIdentity, p: &MspPrincipal) -> Result<(), PrincipalError> {
    match Classification::try_from(p.principal_classification) {
        Ok(Classification::Role) => role(id, p),
        Ok(Classification::OrganizationUnit) => organization_unit(id, p),
        Ok(Classification::Identity) => identity(id, p),
        Ok(Classification::Anonymity) => anonymity(p),
        Ok(Classification::Combined) | Err(_) => Err(PrincipalError::InvalidClassification(
            p.principal_classification,
        )),
    }
}

fn same_msp(id: &FabricIdentity, principal_msp: &str) -> Result<(), PrincipalError> {
    if principal_msp == id.msp().id() {
        return Ok(());
    }
    Err(PrincipalError::OtherMsp {
        member: id.msp().id().to_owned(),
        principal_msp: principal_msp.to_owned(),
    })
}

fn role(id: &FabricIdentity, p: &MspPrincipal) -> Result<(), PrincipalError> {
    let role = MspRole::decode(p.principal.clone()).map_err(|source| PrincipalError::Decode {
        message: "MSPRole",
        source,
    })?;
    same_msp(id, &role.msp_identifier)?;
    let msp = id.msp();
    let node_ous = &msp.node_ous;
    let ous = id.organizational_units();
    let name = msp.id();
    let node_role = match MspRoleType::try_from(role.role) {
        Ok(MspRoleType::Member) => return Ok(()),
        Ok(MspRoleType::Admin) => {
            if msp.is_admin_cert(id.cert()) {
                return Ok(());
            }
            return node_ous
                .has_role(name, ous, NodeRole::Admin)
                .map_err(|source| PrincipalError::NotAdmin {
                    msp: name.to_owned(),
                    source,
                });
        }
        Ok(MspRoleType::Client) => NodeRole::Client,
        Ok(MspRoleType::Peer) => NodeRole::Peer,
        Ok(MspRoleType::Orderer) => NodeRole::Orderer,
        Err(_) => return Err(PrincipalError::InvalidRole(role.role)),
    };
    node_ous
        .has_role(name, ous, node_role)
        .map_err(|source| PrincipalError::NotInRole {
            role: node_role,
            msp: name.to_owned(),
            source,
        })
}

fn organization_unit(id: &FabricIdentity, p: &MspPrincipal) -> Result<(), PrincipalError> {
    let wanted =
        OrganizationUnit::decode(p.principal.clone()).map_err(|source| PrincipalError::Decode {
            message: "OrganizationUnit",
            source,
        })?;
    same_msp(id, &wanted.msp_identifier)?;
    let found = id.organizational_units().iter().any(|o| {
        o.organizational_unit == wanted.organizational_unit_identifier
            && o.certifiers_identifier == wanted.certifiers_identifier
    });
    if found {
        return Ok(());
    }
    let prefix = &wanted.certifiers_identifier[..wanted.certifiers_identifier.len().min(8)];
    Err(PrincipalError::MissingOu {
        ou: wanted.organizational_unit_identifier,
        certifiers: hex(prefix),
        msp: id.msp().id().to_owned(),
        ous: id
            .organizational_units()
            .iter()
            .map(|o| o.organizational_unit.clone())
            .collect(),
    })
}

fn identity(id: &FabricIdentity, p: &MspPrincipal) -> Result<(), PrincipalError> {
    let named = SerializedIdentity::decode(p.principal.clone())
        .map_err(PrincipalError::NotSerializedIdentity)?;
    if named.mspid != id.msp().id() {
        return Err(PrincipalError::IdentityOfOtherMsp {
            principal_msp: named.mspid,
            member: id.msp().id().to_owned(),
        });
    }
    // Compared in canonical form, as Fabric does, so either encoding of the
    // certificate's signature names the same identity.
    let named = first_pem_cert(&named.id_bytes)
        .and_then(|der| Cert::parse(&der))
        .map_err(ValidationError::from)
        .and_then(|c| id.msp().canonical(&c))
        .map_err(PrincipalError::NamedNotCertificate)?;
    if named.der == id.certificate_der() {
        return Ok(());
    }
    Err(PrincipalError::OtherIdentity {
        subject: id.subject().to_owned(),
        named: named.subject_text,
    })
}

fn anonymity(p: &MspPrincipal) -> Result<(), PrincipalError> {
    let a = MspIdentityAnonymity::decode(p.principal.clone()).map_err(|source| {
        PrincipalError::Decode {
            message: "MSPIdentityAnonymity",
            source,
        }
    })?;
    match MspIdentityAnonymityType::try_from(a.anonymity_type) {
        Ok(MspIdentityAnonymityType::Nominal) => Ok(()),
        Ok(MspIdentityAnonymityType::Anonymous) => Err(PrincipalError::AnonymousRequired),
        Err(_) => Err(PrincipalError::UnknownAnonymityType(a.anonymity_type)),
    }
}
