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
use prost::Message;

use super::crl::hex;
use super::identity::FabricIdentity;
use super::ous::NodeRole;
use crate::cert::{Cert, first_pem_cert};

/// Combined principals nested deeper than this are refused (Fabric has no limit; the
/// recursion must not be driven by input alone).
const MAX_NESTING: usize = 32;

/// `Ok` when `id` satisfies `principal`; a combined principal needs all of its parts.
pub(super) fn satisfies(id: &FabricIdentity, principal: &MspPrincipal) -> Result<(), String> {
    let mut parts = Vec::new();
    collect(principal, 0, &mut parts)?;
    let combined =
        parts.len() > 1 || principal.principal_classification == Classification::Combined as i32;
    for (i, part) in parts.iter().enumerate() {
        satisfies_one(id, part).map_err(|e| {
            if combined {
                format!("part {i} of the combined principal is not satisfied: {e}")
            } else {
                e
            }
        })?;
    }
    Ok(())
}

/// The principals of a (possibly nested) combined principal, in order.
fn collect(p: &MspPrincipal, depth: usize, out: &mut Vec<MspPrincipal>) -> Result<(), String> {
    if p.principal_classification != Classification::Combined as i32 {
        out.push(p.clone());
        return Ok(());
    }
    if depth >= MAX_NESTING {
        return Err(format!(
            "combined principals are nested more than {MAX_NESTING} levels deep"
        ));
    }
    let combined = CombinedPrincipal::decode(p.principal.clone())
        .map_err(|e| format!("not a valid CombinedPrincipal: {e}"))?;
    if combined.principals.is_empty() {
        return Err("the combined principal has no principals".into());
    }
    for inner in &combined.principals {
        collect(inner, depth + 1, out)?;
    }
    Ok(())
}

fn satisfies_one(id: &FabricIdentity, p: &MspPrincipal) -> Result<(), String> {
    match Classification::try_from(p.principal_classification) {
        Ok(Classification::Role) => role(id, p),
        Ok(Classification::OrganizationUnit) => organization_unit(id, p),
        Ok(Classification::Identity) => identity(id, p),
        Ok(Classification::Anonymity) => anonymity(p),
        Ok(Classification::Combined) | Err(_) => Err(format!(
            "invalid principal classification {}",
            p.principal_classification
        )),
    }
}

fn same_msp(id: &FabricIdentity, principal_msp: &str) -> Result<(), String> {
    if principal_msp == id.msp().id() {
        return Ok(());
    }
    Err(format!(
        "the identity is a member of {}, the principal is about MSP {principal_msp:?}",
        id.msp().id()
    ))
}

fn role(id: &FabricIdentity, p: &MspPrincipal) -> Result<(), String> {
    let role = MspRole::decode(p.principal.clone())
        .map_err(|e| format!("not a valid MSPRole principal: {e}"))?;
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
            return node_ous.has_role(name, ous, NodeRole::Admin).map_err(|e| {
                format!("identity is not an admin of {name}: not in admincerts, and {e}")
            });
        }
        Ok(MspRoleType::Client) => NodeRole::Client,
        Ok(MspRoleType::Peer) => NodeRole::Peer,
        Ok(MspRoleType::Orderer) => NodeRole::Orderer,
        Err(_) => return Err(format!("invalid MSP role type {}", role.role)),
    };
    node_ous.has_role(name, ous, node_role).map_err(|e| {
        format!(
            "identity is not a{} {} of {name}: {e}",
            if node_role == NodeRole::Orderer {
                "n"
            } else {
                ""
            },
            node_role.name().to_ascii_lowercase()
        )
    })
}

fn organization_unit(id: &FabricIdentity, p: &MspPrincipal) -> Result<(), String> {
    let wanted = OrganizationUnit::decode(p.principal.clone())
        .map_err(|e| format!("not a valid OrganizationUnit principal: {e}"))?;
    same_msp(id, &wanted.msp_identifier)?;
    let found = id.organizational_units().iter().any(|o| {
        o.organizational_unit == wanted.organizational_unit_identifier
            && o.certifiers_identifier == wanted.certifiers_identifier
    });
    if found {
        return Ok(());
    }
    let prefix = &wanted.certifiers_identifier[..wanted.certifiers_identifier.len().min(8)];
    Err(format!(
        "the identity does not carry the OU {:?} certified by {}… in {} (its OUs: {:?})",
        wanted.organizational_unit_identifier,
        hex(prefix),
        id.msp().id(),
        id.organizational_units()
            .iter()
            .map(|o| o.organizational_unit.as_str())
            .collect::<Vec<_>>()
    ))
}

fn identity(id: &FabricIdentity, p: &MspPrincipal) -> Result<(), String> {
    let named = SerializedIdentity::decode(p.principal.clone())
        .map_err(|e| format!("the identity principal is not an msp.SerializedIdentity: {e}"))?;
    if named.mspid != id.msp().id() {
        return Err(format!(
            "the principal names an identity of MSP {:?}, the identity is a member of {}",
            named.mspid,
            id.msp().id()
        ));
    }
    // Compared in canonical form, as Fabric does, so either encoding of the
    // certificate's signature names the same identity.
    let named = first_pem_cert(&named.id_bytes)
        .and_then(|der| Cert::parse(&der))
        .and_then(|c| id.msp().canonical(&c))
        .map_err(|e| format!("the identity principal is not a certificate of the MSP: {e}"))?;
    if named.der == id.certificate_der() {
        return Ok(());
    }
    Err(format!(
        "the identity {:?} is not the one the principal names ({:?})",
        id.subject(),
        named.subject_text
    ))
}

fn anonymity(p: &MspPrincipal) -> Result<(), String> {
    let a = MspIdentityAnonymity::decode(p.principal.clone())
        .map_err(|e| format!("not a valid MSPIdentityAnonymity principal: {e}"))?;
    match MspIdentityAnonymityType::try_from(a.anonymity_type) {
        Ok(MspIdentityAnonymityType::Nominal) => Ok(()),
        Ok(MspIdentityAnonymityType::Anonymous) => {
            Err("the principal requires an anonymous identity; X.509 identities are nominal".into())
        }
        Err(_) => Err(format!("unknown anonymity type {}", a.anonymity_type)),
    }
}
