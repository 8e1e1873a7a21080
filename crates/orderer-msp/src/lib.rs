//! Fabric MSP identities, for the orderer and its clients.
//!
//! * [`Msp`]: an organization's CAs, read from Fabric's MSP directory layout, and
//!   the validation of identity certificates against them (the chain rules of
//!   [`FabricMsp`], with the whole chain checked at the current time).
//! * [`Verifier`]: who signed an envelope (creator certificate chain, validity, MSP)
//!   and whether the ECDSA P-256 signature holds (DER, SHA-256, low-S as Fabric
//!   requires), with validated creators cached.
//! * [`SigningIdentity`]: a certificate and key from a local MSP, signing like Fabric.
//! * [`FabricMsp`], [`MspManager`]: a channel's MSPs from its `FabricMSPConfig`s with
//!   Fabric v2's rules (intermediates, admins, CRLs, OU identifiers, NodeOUs), its
//!   identities' principals and signatures (P-256 and P-384), as orderer-api's
//!   `IdentityDeserializer`; [`msp_config_from_dir`] reads an MSP directory into one.
//! * `generate` (feature): new CAs and identities in the MSP layout.
//!
//! Fabric's own sample MSP and `cryptogen` output load as they are.

// Unit tests (cfg(test)) are exempt from the length limit; production code is not:
// the non-test build of this crate is linted too.
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod cert;
mod der;
mod ecdsa;
mod fabric;
#[cfg(feature = "generate")]
pub mod generate;
mod msp;
mod p256_mont;
mod p256_point;
mod p256_table;
mod sanitize;
mod scalar_inverse;
#[cfg(test)]
mod signature_tests;
mod signer;
mod verifier;

use std::path::{Path, PathBuf};

pub use cert::{CertError, SignatureCheckError, X509ParseError};
pub use der::DerError;
pub use ecdsa::{EcCurve, SignatureFormatError, flip_s, flip_s_on};
pub use fabric::{
    ChainError, CrlError, DeserializeError, FabricIdentity, FabricMsp, MspManager, NodeRole,
    OuError, OuIdentifier, PrincipalError, RevocationError, SetupError, ValidationError,
    ValidityPeriodError, VerifyError, msp_config, msp_config_from_dir,
    msp_config_from_dir_with_warnings,
};
pub use msp::{Msp, Validated};
pub use signer::{SignerError, SigningIdentity, pem_encode};
pub use verifier::{Creator, Verifier};

/// Why MSP material could not be loaded. Names the file or directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct MspError {
    pub path: PathBuf,
    pub reason: String,
}

impl MspError {
    pub(crate) fn file(path: &Path, reason: String) -> Self {
        MspError {
            path: path.to_path_buf(),
            reason,
        }
    }
}

/// Why a creator identity is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the envelope has no creator identity (unsigned)")]
    Missing,
    #[error("the creator is not a valid msp.SerializedIdentity: {0}")]
    Malformed(String),
    #[error("the creator's MSP {0:?} is not an organization known to this orderer")]
    UnknownMsp(String),
    #[error("the creator's certificate is not a valid PEM X.509 certificate: {0}")]
    BadCertificate(String),
    #[error("the creator's certificate does not chain to a CA of MSP {msp:?}: {reason}")]
    Untrusted { msp: String, reason: String },
    #[error("the creator's certificate expired at {0}")]
    Expired(String),
    #[error("the creator's certificate is not valid before {0}")]
    NotYetValid(String),
    #[error("the creator's key is not supported: {0}")]
    UnsupportedKey(String),
}

/// Why a signature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the envelope carries no signature")]
    Missing,
    #[error("the signature is not a DER ECDSA signature: {0}")]
    Malformed(#[source] SignatureFormatError),
    #[error(
        "the signature has a high S value; only low-S ECDSA signatures are accepted, as in Fabric"
    )]
    HighS,
    #[error("the signature does not verify against the creator's certificate")]
    Invalid,
}

/// The current time in seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The DER certificates of a PEM text, each checked to be X.509; an error says what
/// is wrong. A text without any certificate is an error too.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    let ders = cert::pem_certs(pem)?;
    if ders.is_empty() {
        return Err(CertError::NoPemCertificate);
    }
    for der in &ders {
        cert::Cert::parse(der)?;
    }
    Ok(ders)
}
