//! Setting up a [`FabricMsp`] from its configuration, in Fabric's order (MSP 1.4.3):
//! crypto config, CAs, CRLs, the CAs' own validity, TLS CAs, OU identifiers, NodeOUs,
//! admins.

use std::collections::HashSet;

use orderer_api::proto::msp::{FabricCryptoConfig, FabricMspConfig, MspConfig};
use prost::Message;
use ring::digest;

use super::chain::{Pools, dedup, unique_chain};
use super::crl::{Crl, check_not_revoked};
use super::error::SetupError;
use super::msp::FabricMsp;
use super::ous::{NodeOus, NodeRole, OuIdentifier};
use crate::cert::{Cert, first_pem_cert};

/// `MSPConfig.type` of an X.509 MSP.
const FABRIC: i32 = 0;
/// `MSPConfig.type` of an Idemix MSP.
const IDEMIX: i32 = 1;

impl FabricMsp {
    /// An MSP from a channel configuration's `MSPConfig`: type 0 (X.509) only.
    pub fn from_msp_config(config: &MspConfig) -> Result<FabricMsp, SetupError> {
        match config.r#type {
            FABRIC => {
                let fabric = FabricMspConfig::decode(config.config.clone())
                    .map_err(SetupError::NotFabricMspConfig)?;
                FabricMsp::from_config(&fabric)
            }
            IDEMIX => Err(SetupError::Idemix),
            other => Err(SetupError::UnknownType(other)),
        }
    }

    /// An MSP from its `FabricMSPConfig`. Every error names the MSP and what is wrong.
    /// A signing identity in the configuration is ignored: channel MSPs only verify.
    pub fn from_config(config: &FabricMspConfig) -> Result<FabricMsp, SetupError> {
        if config.name.is_empty() {
            return Err(SetupError::NoName);
        }
        setup(config).map_err(|e| SetupError::Msp {
            msp: config.name.clone(),
            source: Box::new(e),
        })
    }
}

fn setup(config: &FabricMspConfig) -> Result<FabricMsp, SetupError> {
    let id_hash = crypto(config.crypto_config.as_ref())?;
    let (roots, intermediates) = cas(config)?;
    let crls = config
        .revocation_list
        .iter()
        .enumerate()
        .map(|(index, c)| Crl::parse(c).map_err(|source| SetupError::Crl { index, source }))
        .collect::<Result<Vec<_>, _>>()?;
    let mut msp = FabricMsp {
        name: config.name.clone(),
        roots,
        intermediates,
        internal_nodes: HashSet::new(),
        admins: Vec::new(),
        crls,
        ou_identifiers: Vec::new(),
        node_ous: NodeOus::default(),
        tls_roots: config.tls_root_certs.clone(),
        tls_intermediates: config.tls_intermediate_certs.clone(),
        id_hash,
    };
    finalize_cas(&mut msp)?;
    tls_cas(config, &msp.crls)?;
    for (index, ou) in config.organizational_unit_identifiers.iter().enumerate() {
        let certifiers = msp
            .certifiers_identifier(&ou.certificate)
            .map_err(|source| SetupError::OuIdentifier {
                index,
                ou: ou.organizational_unit_identifier.clone(),
                source: Box::new(source),
            })?;
        let id = OuIdentifier {
            organizational_unit: ou.organizational_unit_identifier.clone(),
            certifiers_identifier: certifiers,
        };
        if !msp.ou_identifiers.contains(&id) {
            msp.ou_identifiers.push(id);
        }
    }
    msp.node_ous = NodeOus::setup(config.fabric_node_ous.as_ref(), |pem| {
        msp.certifiers_identifier(pem)
    })?;
    admins(&mut msp, config).map_err(|e| SetupError::Admins(Box::new(e)))?;
    Ok(msp)
}

/// The identity identifier hash; the signature hash family must be SHA2 (the only one
/// this MSP implements, and Fabric's default).
fn crypto(config: Option<&FabricCryptoConfig>) -> Result<&'static digest::Algorithm, SetupError> {
    let (family, id_hash) = config.map_or(("", ""), |c| {
        (
            c.signature_hash_family.as_str(),
            c.identity_identifier_hash_function.as_str(),
        )
    });
    if !matches!(family, "" | "SHA2") {
        return Err(SetupError::UnsupportedHashFamily(family.to_owned()));
    }
    match id_hash {
        "" | "SHA256" => Ok(&digest::SHA256),
        "SHA384" => Ok(&digest::SHA384),
        other => Err(SetupError::UnsupportedIdentifierHash(other.to_owned())),
    }
}

fn parse_each(what: &'static str, pems: &[bytes::Bytes]) -> Result<Vec<Cert>, SetupError> {
    pems.iter()
        .enumerate()
        .map(|(index, pem)| {
            first_pem_cert(pem)
                .and_then(|der| Cert::parse(&der))
                .map_err(|e| SetupError::Certificate {
                    what,
                    index,
                    source: Box::new(e.into()),
                })
        })
        .collect()
}

/// The root and intermediate CAs in canonical form. Fabric rewrites each against the
/// CAs as configured, then uses the rewritten ones.
fn cas(config: &FabricMspConfig) -> Result<(Vec<Cert>, Vec<Cert>), SetupError> {
    let roots = parse_each("root CA certificate", &config.root_certs)?;
    if roots.is_empty() {
        return Err(SetupError::NoRootCa);
    }
    let intermediates = parse_each("intermediate CA certificate", &config.intermediate_certs)?;
    // A provisional MSP holding the certificates as given, to rewrite them against.
    let raw = FabricMsp {
        name: config.name.clone(),
        roots: dedup(roots.clone()),
        intermediates: dedup(intermediates.clone()),
        internal_nodes: HashSet::new(),
        admins: Vec::new(),
        crls: Vec::new(),
        ou_identifiers: Vec::new(),
        node_ous: NodeOus::default(),
        tls_roots: Vec::new(),
        tls_intermediates: Vec::new(),
        id_hash: &digest::SHA256,
    };
    let canonical = |what: &'static str, certs: &[Cert]| -> Result<Vec<Cert>, SetupError> {
        certs
            .iter()
            .enumerate()
            .map(|(index, c)| {
                raw.canonical(c).map_err(|source| SetupError::Certificate {
                    what,
                    index,
                    source: Box::new(source),
                })
            })
            .collect()
    };
    Ok((
        dedup(canonical("root CA certificate", &roots)?),
        dedup(canonical("intermediate CA certificate", &intermediates)?),
    ))
}

/// Every CA must be a CA with a subject key identifier, have a single chain, and not
/// be revoked; the CAs that issued intermediates are marked as internal nodes.
fn finalize_cas(msp: &mut FabricMsp) -> Result<(), SetupError> {
    let mut internal = HashSet::new();
    for (what, list) in [
        ("root CA certificate", &msp.roots),
        ("intermediate CA certificate", &msp.intermediates),
    ] {
        for c in list {
            check_ca(c, msp.pools(), &msp.crls).map_err(|e| SetupError::Ca {
                what,
                source: Box::new(e),
            })?;
            if what.starts_with("intermediate") {
                let chain = unique_chain(c, msp.pools())?;
                internal.extend(chain[1..].iter().map(|p| p.der.clone()));
            }
        }
    }
    msp.internal_nodes = internal;
    Ok(())
}

fn check_ca(c: &Cert, pools: Pools<'_>, crls: &[Crl]) -> Result<(), SetupError> {
    if c.is_ca != Some(true) {
        return Err(SetupError::NotCa {
            subject: c.subject_text.clone(),
        });
    }
    if c.subject_key_id.is_none() {
        return Err(SetupError::NoSubjectKeyId {
            subject: c.subject_text.clone(),
        });
    }
    let chain = unique_chain(c, pools)?;
    if let Some(issuer) = chain.get(1) {
        check_not_revoked(c, issuer, crls)?;
    }
    Ok(())
}

/// TLS CAs are kept as configured, after the same checks as the other CAs (against
/// each other; Fabric does not rewrite them).
fn tls_cas(config: &FabricMspConfig, crls: &[Crl]) -> Result<(), SetupError> {
    let roots = dedup(parse_each(
        "TLS root CA certificate",
        &config.tls_root_certs,
    )?);
    let intermediates = dedup(parse_each(
        "TLS intermediate CA certificate",
        &config.tls_intermediate_certs,
    )?);
    let pools = Pools {
        roots: &roots,
        intermediates: &intermediates,
    };
    for c in roots.iter().chain(&intermediates) {
        check_ca(c, pools, crls).map_err(|e| SetupError::Ca {
            what: "TLS CA certificate",
            source: Box::new(e),
        })?;
    }
    Ok(())
}

/// Admins are certificates of the MSP; without admin certificates NodeOUs must define
/// an admin OU. Without NodeOUs every admin must be a valid identity; with them, a
/// client or an admin.
fn admins(msp: &mut FabricMsp, config: &FabricMspConfig) -> Result<(), SetupError> {
    let certs = parse_each("admin certificate", &config.admins)?;
    let mut admins = Vec::with_capacity(certs.len());
    for (index, c) in certs.iter().enumerate() {
        admins.push(msp.canonical(c).map_err(|source| SetupError::Certificate {
            what: "admin certificate",
            index,
            source: Box::new(source),
        })?);
    }
    if admins.is_empty()
        && (!msp.node_ous.enforced || msp.node_ous.role_ou(NodeRole::Admin).is_none())
    {
        return Err(SetupError::NoAdmins);
    }
    for (index, admin) in admins.iter().enumerate() {
        if !msp.node_ous.enforced {
            msp.validate(admin)
                .map_err(|source| SetupError::AdminInvalid {
                    index,
                    source: Box::new(source),
                })?;
            continue;
        }
        // Fabric reads the OUs without the OU checks; an invalid chain means no OUs.
        let ous = ous_of(msp, admin);
        let client = msp.node_ous.has_role(&msp.name, &ous, NodeRole::Client);
        let admin_ou = msp.node_ous.has_role(&msp.name, &ous, NodeRole::Admin);
        if let (Err(client), Err(admin)) = (client, admin_ou) {
            return Err(SetupError::AdminWithoutRole {
                index,
                client: Box::new(client),
                admin: Box::new(admin),
            });
        }
    }
    msp.admins = admins;
    Ok(())
}

/// The OUs of a certificate with their certifiers identifier, or none when it has no
/// valid chain (Fabric's `GetOrganizationalUnits`).
fn ous_of(msp: &FabricMsp, cert: &Cert) -> Vec<OuIdentifier> {
    let Ok(chain) = unique_chain(cert, msp.pools()) else {
        return Vec::new();
    };
    if chain.len() < 2 || cert.is_ca == Some(true) || msp.internal_nodes.contains(&chain[1].der) {
        return Vec::new();
    }
    let certifiers = msp.chain_id(chain[1..].iter().copied());
    cert.ous
        .iter()
        .map(|ou| OuIdentifier {
            organizational_unit: ou.clone(),
            certifiers_identifier: certifiers.clone(),
        })
        .collect()
}
