//! Certificate revocation lists as Fabric's MSP uses them: a CRL applies to the
//! certificates of the CA whose subject key identifier is the CRL's authority key
//! identifier; a certificate is revoked when its serial number is listed there and that
//! CA's key signed the CRL. Revocation dates and `nextUpdate` are not used (revocation
//! takes effect when the configuration does).

use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::cert::X509ParseError;
use crate::cert::{Cert, strip_zeros, verify_signature};
use crate::ecdsa::{self, SignatureFormatError};

/// Why bytes are not a CRL.
#[derive(Debug, thiserror::Error)]
pub enum CrlError {
    #[error("not a PEM X509 CRL")]
    NotPemCrl,
    #[error("not an X.509 CRL: {0}")]
    NotX509(#[source] X509ParseError),
    #[error("{0} bytes after the CRL")]
    TrailingBytes(usize),
    #[error("the CRL's ECDSA signature: {0}")]
    Signature(#[source] SignatureFormatError),
}

/// Why revocation refuses a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    #[error("the issuing CA {issuer:?} has no subject key identifier to find its CRLs by")]
    IssuerWithoutKeyId { issuer: String },
    /// `crl_issuer` is the CRL's issuer name.
    #[error("the CRL of {crl_issuer:?} has no authority key identifier")]
    CrlWithoutAuthorityKeyId { crl_issuer: String },
    /// `serial` in hex.
    #[error(
        "the certificate {subject:?} has been revoked (serial {serial}) by a CRL of {issuer:?}"
    )]
    Revoked {
        subject: String,
        serial: String,
        issuer: String,
    },
}

/// A parsed CRL.
#[derive(Debug, Clone)]
pub(crate) struct Crl {
    /// The authority key identifier; `None` without the extension (Fabric then fails
    /// every validation against this MSP, see [`check_not_revoked`]).
    authority_key_id: Option<Vec<u8>>,
    has_aki_extension: bool,
    revoked: Vec<Vec<u8>>,
    sig_alg: String,
    signature: Vec<u8>,
    tbs: Vec<u8>,
    issuer_text: String,
}

impl Crl {
    /// Parses a CRL given in DER, or in PEM starting with `-----BEGIN X509 CRL` (Go's
    /// `x509.ParseCRL` accepts both).
    pub(crate) fn parse(bytes: &[u8]) -> Result<Crl, CrlError> {
        let owned;
        let der = if bytes.starts_with(b"-----BEGIN X509 CRL") {
            let mut reader = bytes;
            owned = match rustls_pemfile::read_one(&mut reader) {
                Ok(Some(rustls_pemfile::Item::Crl(c))) => c.as_ref().to_vec(),
                _ => return Err(CrlError::NotPemCrl),
            };
            &owned[..]
        } else {
            bytes
        };
        let (rest, crl) = CertificateRevocationList::from_der(der).map_err(CrlError::NotX509)?;
        if !rest.is_empty() {
            return Err(CrlError::TrailingBytes(rest.len()));
        }
        let mut authority_key_id = None;
        let mut has_aki_extension = false;
        for ext in crl.extensions() {
            if let ParsedExtension::AuthorityKeyIdentifier(aki) = ext.parsed_extension() {
                has_aki_extension = true;
                authority_key_id = aki.key_identifier.as_ref().map(|k| k.0.to_vec());
            }
        }
        let sig_alg = crl.signature_algorithm.algorithm.to_id_string();
        let mut signature = crl.signature_value.data.to_vec();
        if [
            crate::cert::ECDSA_SHA256,
            crate::cert::ECDSA_SHA384,
            crate::cert::ECDSA_SHA512,
            crate::cert::ECDSA_SHA1,
        ]
        .contains(&sig_alg.as_str())
        {
            // Fabric re-encodes ECDSA CRL signatures canonically when loading them.
            let (sig, _) = ecdsa::parse_prefix(&signature).map_err(CrlError::Signature)?;
            signature = ecdsa::encode(&sig);
        }
        Ok(Crl {
            authority_key_id,
            has_aki_extension,
            revoked: crl
                .iter_revoked_certificates()
                .map(|r| strip_zeros(r.raw_serial()).to_vec())
                .collect(),
            sig_alg,
            signature,
            tbs: crl.tbs_cert_list.as_ref().to_vec(),
            issuer_text: crl.issuer().to_string(),
        })
    }
}

/// Whether `cert`, issued by `issuer`, is revoked by one of `crls`.
pub(crate) fn check_not_revoked(
    cert: &Cert,
    issuer: &Cert,
    crls: &[Crl],
) -> Result<(), RevocationError> {
    if crls.is_empty() {
        return Ok(());
    }
    let ski =
        issuer
            .subject_key_id
            .as_deref()
            .ok_or_else(|| RevocationError::IssuerWithoutKeyId {
                issuer: issuer.subject_text.clone(),
            })?;
    for crl in crls {
        if !crl.has_aki_extension {
            // Fabric fails the validation here rather than skipping the CRL.
            return Err(RevocationError::CrlWithoutAuthorityKeyId {
                crl_issuer: crl.issuer_text.clone(),
            });
        }
        if crl.authority_key_id.as_deref() != Some(ski) {
            continue;
        }
        if !crl.revoked.contains(&cert.serial) {
            continue;
        }
        // A CRL claiming to be the CA's counts only if the CA signed it.
        if verify_signature(&issuer.key, &crl.sig_alg, &crl.tbs, &crl.signature).is_err() {
            continue;
        }
        return Err(RevocationError::Revoked {
            subject: cert.subject_text.clone(),
            serial: hex(&cert.serial),
            issuer: issuer.subject_text.clone(),
        });
    }
    Ok(())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
