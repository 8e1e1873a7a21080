//! A validated identity of a [`FabricMsp`]: its principals and its signatures.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use orderer_api::policies::{Identity, MspRefusal};
use orderer_api::proto::common::MspPrincipal;
use ring::digest;

use super::error::ValidityPeriodError;
use super::msp::{FabricMsp, Validated};
use super::ous::OuIdentifier;
use crate::cert::Cert;
use crate::ecdsa::{self, EcCurve, Refusal, SignatureFormatError};
use crate::p256_table::KeyTable;

/// Verifications by one identity after which its key gets a table
/// ([`KeyTable`]): a creator that signs this often likely signs thousands more.
const TABLE_AFTER: u32 = 32;

/// Why a signature of a [`FabricIdentity`] is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the identity's key is not an ECDSA key")]
    NotEcdsaKey,
    #[error("the signature is empty")]
    Empty,
    #[error("the signature is not a DER ECDSA signature: {0}")]
    Malformed(#[source] SignatureFormatError),
    #[error("the signature has a high S value; Fabric accepts only low-S ECDSA signatures")]
    HighS,
    #[error("the signature does not verify with the key of {subject:?} (MSP {msp})")]
    DoesNotVerify { subject: String, msp: String },
}

/// An identity that passed its MSP's validation (chain, revocation, OUs). Its validity
/// period is checked where it is used ([`FabricIdentity::check_time`]), as Fabric
/// validates certificates at their issuance time.
pub struct FabricIdentity {
    msp: Arc<FabricMsp>,
    /// The certificate in Fabric's canonical (low-S) form.
    cert: Cert,
    ous: Vec<OuIdentifier>,
    unique_id: Vec<u8>,
    /// Signatures verified without a table since the last attempt to build one.
    verifications: AtomicU32,
    table: OnceLock<KeyTable>,
}

impl std::fmt::Debug for FabricIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FabricIdentity")
            .field("msp", &self.msp.id())
            .field("subject", &self.cert.subject_text)
            .finish_non_exhaustive()
    }
}

impl FabricIdentity {
    pub(super) fn new(msp: Arc<FabricMsp>, validated: Validated) -> Self {
        // Fabric tells identities apart by MSP ID and the hash of the canonical
        // certificate, so two encodings of one certificate are one identity.
        let hash = digest::digest(&digest::SHA256, &validated.cert.der);
        let mut unique_id = msp.id().as_bytes().to_vec();
        unique_id.push(0);
        unique_id.extend_from_slice(hash.as_ref());
        FabricIdentity {
            msp,
            cert: validated.cert,
            ous: validated.ous,
            unique_id,
            verifications: AtomicU32::new(0),
            table: OnceLock::new(),
        }
    }

    /// The MSP that validated the identity.
    pub fn msp(&self) -> &Arc<FabricMsp> {
        &self.msp
    }

    /// The certificate, DER, in Fabric's canonical form (low-S signature).
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert.der
    }

    /// The certificate's subject, for messages.
    pub fn subject(&self) -> &str {
        &self.cert.subject_text
    }

    /// The subject's OUs, each with the certifiers identifier of the identity's chain.
    pub fn organizational_units(&self) -> &[OuIdentifier] {
        &self.ous
    }

    /// Start of the certificate's validity (seconds since the epoch).
    pub fn not_before(&self) -> i64 {
        self.cert.not_before
    }

    /// End of the certificate's validity (seconds since the epoch): Fabric's
    /// `ExpiresAt`.
    pub fn not_after(&self) -> i64 {
        self.cert.not_after
    }

    /// Whether the certificate is valid at `now` (seconds since the epoch).
    pub fn check_time(&self, now: i64) -> Result<(), ValidityPeriodError> {
        if now < self.cert.not_before {
            return Err(ValidityPeriodError::NotYetValid {
                subject: self.cert.subject_text.clone(),
                msp: self.msp.id().to_owned(),
                not_before: self.cert.not_before_text.clone(),
            });
        }
        if now > self.cert.not_after {
            return Err(ValidityPeriodError::Expired {
                subject: self.cert.subject_text.clone(),
                msp: self.msp.id().to_owned(),
                not_after: self.cert.not_after_text.clone(),
            });
        }
        Ok(())
    }

    pub(super) fn cert(&self) -> &Cert {
        &self.cert
    }
}

impl Identity for FabricIdentity {
    fn msp_id(&self) -> &str {
        self.msp.id()
    }

    fn unique_id(&self) -> &[u8] {
        &self.unique_id
    }

    fn satisfies_principal(&self, principal: &MspPrincipal) -> Result<(), MspRefusal> {
        Ok(super::principal::satisfies(self, principal)?)
    }

    /// Fabric's default BCCSP: the message hashed with SHA-256 (the SHA2 family, for
    /// P-256 and P-384 keys alike), a DER ECDSA signature with a low S.
    fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), MspRefusal> {
        Ok(self.verify_signature(data, signature)?)
    }
}

impl FabricIdentity {
    /// [`Identity::verify`] with its typed error.
    pub fn verify_signature(&self, data: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
        let Some((curve, point)) = self.cert.key.ec() else {
            return Err(VerifyError::NotEcdsaKey);
        };
        if signature.is_empty() {
            return Err(VerifyError::Empty);
        }
        // Like Go's asn1.Unmarshal, bytes after the two integers are ignored.
        let (sig, _) = ecdsa::parse_prefix(signature).map_err(VerifyError::Malformed)?;
        let table = self.table(curve, point);
        ecdsa::check(curve, point, table, data, &sig).map_err(|e| match e {
            Refusal::HighS => VerifyError::HighS,
            Refusal::DoesNotVerify => VerifyError::DoesNotVerify {
                subject: self.cert.subject_text.clone(),
                msp: self.msp.id().to_owned(),
            },
        })?;
        if table.is_none() && curve == EcCurve::P256 {
            // Only valid signatures count: garbage does not earn a table.
            self.verifications.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Whether the key has its table (tests).
    #[cfg(test)]
    pub(crate) fn has_table(&self) -> bool {
        self.table.get().is_some()
    }

    /// The key's table of multiples, once the identity has signed often enough to
    /// repay building it (a few milliseconds, 300 KB); `None` before, and for keys
    /// that are not P-256.
    fn table(&self, curve: EcCurve, point: &[u8]) -> Option<&KeyTable> {
        if let Some(table) = self.table.get() {
            return Some(table);
        }
        if curve != EcCurve::P256 || self.verifications.load(Ordering::Relaxed) < TABLE_AFTER {
            return None;
        }
        // Another TABLE_AFTER valid signatures before the next attempt, if this one
        // finds every table place taken.
        self.verifications.store(0, Ordering::Relaxed);
        if let Some(table) = KeyTable::new(point) {
            // Two threads may both build one; the loser's is dropped.
            let _ = self.table.set(table);
        }
        self.table.get()
    }
}
