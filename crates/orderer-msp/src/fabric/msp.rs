//! A Fabric X.509 MSP of a channel and the validation of its identities.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use orderer_api::proto::msp::SerializedIdentity;
use prost::Message;
use ring::digest;

use super::chain::{Pools, unique_chain};
use super::crl::{Crl, check_not_revoked};
use super::error::{DeserializeError, ValidationError};
use super::identity::FabricIdentity;
use super::ous::{NodeOus, NodeRole, OuIdentifier, check_ou_identifiers};
use crate::cert::{Cert, first_pem_cert};
use crate::sanitize::sanitized;

/// One organization's MSP as a channel configuration defines it. Built with
/// [`FabricMsp::from_config`]; shared (`Arc`) by the identities it validates.
pub struct FabricMsp {
    pub(super) name: String,
    /// Root and intermediate CAs, in Fabric's canonical (low-S) form, without repeats.
    pub(super) roots: Vec<Cert>,
    pub(super) intermediates: Vec<Cert>,
    /// CAs that issued one of the intermediates: they may not issue identities.
    pub(super) internal_nodes: HashSet<Vec<u8>>,
    /// Admin certificates, canonical form.
    pub(super) admins: Vec<Cert>,
    pub(super) crls: Vec<Crl>,
    pub(super) ou_identifiers: Vec<OuIdentifier>,
    pub(super) node_ous: NodeOus,
    pub(super) tls_roots: Vec<Bytes>,
    pub(super) tls_intermediates: Vec<Bytes>,
    /// Fabric's `IdentityIdentifierHashFunction`: certifiers identifiers.
    pub(super) id_hash: &'static digest::Algorithm,
}

impl std::fmt::Debug for FabricMsp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FabricMsp")
            .field("name", &self.name)
            .field("roots", &self.roots.len())
            .field("intermediates", &self.intermediates.len())
            .field("admins", &self.admins.len())
            .field("crls", &self.crls.len())
            .field("ou_identifiers", &self.ou_identifiers.len())
            .field("node_ous", &self.node_ous.enforced)
            .finish_non_exhaustive()
    }
}

/// What validating a certificate established.
pub(super) struct Validated {
    /// The certificate in canonical (low-S) form.
    pub(super) cert: Cert,
    pub(super) ous: Vec<OuIdentifier>,
}

impl FabricMsp {
    /// The MSP ID.
    pub fn id(&self) -> &str {
        &self.name
    }

    /// The TLS root CA certificates, PEM, as configured.
    pub fn tls_root_certs(&self) -> &[Bytes] {
        &self.tls_roots
    }

    /// The TLS intermediate CA certificates, PEM, as configured.
    pub fn tls_intermediate_certs(&self) -> &[Bytes] {
        &self.tls_intermediates
    }

    /// Whether NodeOUs classify this MSP's identities.
    pub fn node_ous_enabled(&self) -> bool {
        self.node_ous.enforced
    }

    /// The OU of a NodeOU role, when configured.
    pub fn node_ou(&self, role: NodeRole) -> Option<&str> {
        self.node_ous.role_ou(role)
    }

    /// The OU identifiers identities must carry one of (none: no requirement).
    pub fn organizational_unit_identifiers(&self) -> &[OuIdentifier] {
        &self.ou_identifiers
    }

    pub(super) fn pools(&self) -> Pools<'_> {
        Pools {
            roots: &self.roots,
            intermediates: &self.intermediates,
        }
    }

    /// The hash of certificates, in order: Fabric's certifiers identifier.
    pub(super) fn chain_id<'a>(&self, certs: impl IntoIterator<Item = &'a Cert>) -> Vec<u8> {
        let mut ctx = digest::Context::new(self.id_hash);
        for c in certs {
            ctx.update(&c.der);
        }
        ctx.finish().as_ref().to_vec()
    }

    /// The certifiers identifier of one of the MSP's CA certificates (PEM): what an
    /// `OrganizationUnit` principal or an OU identifier names it by, the hash of the
    /// CA's chain from itself to its root.
    pub fn certifiers_identifier(&self, ca_pem: &[u8]) -> Result<Vec<u8>, ValidationError> {
        let der = first_pem_cert(ca_pem)?;
        let cert = self.canonical(&Cert::parse(&der)?)?;
        if self.roots.iter().any(|r| r.der == cert.der) {
            return Ok(self.chain_id([&cert]));
        }
        if !self.intermediates.iter().any(|r| r.der == cert.der) {
            return Err(ValidationError::NotMspCa {
                subject: cert.subject_text,
                msp: self.name.clone(),
            });
        }
        let chain = unique_chain(&cert, self.pools())?;
        if self.internal_nodes.contains(&cert.der) {
            return Err(ValidationError::NotLeafCa {
                subject: cert.subject_text.clone(),
                msp: self.name.clone(),
            });
        }
        Ok(self.chain_id(chain))
    }

    /// A certificate as Fabric holds it (Fabric's `sanitizeCert`): ECDSA-signed
    /// certificates get a low-S signature, checked against the issuer found by chain
    /// validation (a self-signed CA is its own issuer).
    pub(super) fn canonical(&self, cert: &Cert) -> Result<Cert, ValidationError> {
        if !cert.is_ecdsa_signed() {
            return Ok(cert.clone());
        }
        if cert.is_ca == Some(true) && super::chain::may_issue(cert, cert).is_ok() {
            let own = sanitized(cert, cert)?;
            let roots = std::slice::from_ref(&own);
            unique_chain(
                &own,
                Pools {
                    roots,
                    intermediates: &self.intermediates,
                },
            )?;
            return Ok(own);
        }
        let chain = unique_chain(cert, self.pools())?;
        let Some(issuer) = chain.get(1) else {
            return Err(ValidationError::NotSelfSignedRoot {
                subject: cert.subject_text.clone(),
            });
        };
        Ok(sanitized(cert, issuer)?)
    }

    /// Validates a certificate as an identity of this MSP (Fabric's `Validate`): its
    /// single chain to a root, issued by a CA at the bottom of the certification tree,
    /// not a CA itself, not revoked, with the OUs the MSP requires. The validity period
    /// is not checked here (see [`FabricIdentity::check_time`]).
    pub(super) fn validate(&self, cert: &Cert) -> Result<Validated, ValidationError> {
        if cert.is_ca == Some(true) {
            // Fabric first puts the certificate in canonical form, which finds a
            // self-signed root its own issuer; only then does it refuse CAs.
            self.canonical(cert)?;
            return Err(ValidationError::CaAsIdentity {
                subject: cert.subject_text.clone(),
            });
        }
        let chain = unique_chain(cert, self.pools())?;
        let Some(&issuer) = chain.get(1) else {
            return Err(ValidationError::NoIssuer {
                subject: cert.subject_text.clone(),
            });
        };
        if self.internal_nodes.contains(&issuer.der) {
            return Err(ValidationError::IssuedByInternalCa {
                subject: cert.subject_text.clone(),
                issuer: issuer.subject_text.clone(),
                msp: self.name.clone(),
            });
        }
        let canonical = sanitized(cert, issuer)?;
        check_not_revoked(&canonical, issuer, &self.crls)?;
        let certifiers = self.chain_id(chain[1..].iter().copied());
        let ous: Vec<OuIdentifier> = canonical
            .ous
            .iter()
            .map(|ou| OuIdentifier {
                organizational_unit: ou.clone(),
                certifiers_identifier: certifiers.clone(),
            })
            .collect();
        check_ou_identifiers(&self.ou_identifiers, &self.name, &ous)?;
        self.node_ous.check_identity(&self.name, &ous)?;
        Ok(Validated {
            cert: canonical,
            ous,
        })
    }

    /// Parses and validates a marshalled `msp.SerializedIdentity` of this MSP. The
    /// validity period is left to the caller ([`FabricIdentity::check_time`]).
    pub fn deserialize_identity(
        self: &Arc<Self>,
        serialized: &[u8],
    ) -> Result<FabricIdentity, DeserializeError> {
        let id = SerializedIdentity::decode(serialized).map_err(DeserializeError::Decode)?;
        if id.mspid != self.name {
            return Err(DeserializeError::OtherMsp {
                found: id.mspid,
                msp: self.name.clone(),
            });
        }
        self.identity_from_pem(&id.id_bytes)
    }

    /// Validates a PEM certificate as an identity of this MSP.
    pub fn identity_from_pem(
        self: &Arc<Self>,
        pem: &[u8],
    ) -> Result<FabricIdentity, DeserializeError> {
        let cert = first_pem_cert(pem)
            .and_then(|der| Cert::parse(&der))
            .map_err(DeserializeError::Certificate)?;
        if cert.key.ec().is_none() {
            return Err(DeserializeError::UnsupportedKey {
                key: format!("{:?}", cert.key),
            });
        }
        let validated = self
            .validate(&cert)
            .map_err(|source| DeserializeError::Invalid {
                msp: self.name.clone(),
                source: Box::new(source),
            })?;
        Ok(FabricIdentity::new(Arc::clone(self), validated))
    }

    /// Whether a canonical certificate is one of the admin certificates.
    pub(super) fn is_admin_cert(&self, cert: &Cert) -> bool {
        self.admins.iter().any(|a| a.der == cert.der)
    }
}
