//! A validated identity of a [`FabricMsp`]: its principals and its signatures.

use std::sync::Arc;

use orderer_api::policies::Identity;
use orderer_api::proto::common::MspPrincipal;
use ring::digest;
use ring::signature::{ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA256_ASN1, UnparsedPublicKey};

use super::msp::{FabricMsp, Validated};
use super::ous::OuIdentifier;
use crate::cert::Cert;
use crate::ecdsa::{self, EcCurve};

/// An identity that passed its MSP's validation (chain, revocation, OUs). Its validity
/// period is checked where it is used ([`FabricIdentity::check_time`]), as Fabric
/// validates certificates at their issuance time.
pub struct FabricIdentity {
    msp: Arc<FabricMsp>,
    /// The certificate in Fabric's canonical (low-S) form.
    cert: Cert,
    ous: Vec<OuIdentifier>,
    unique_id: Vec<u8>,
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
    pub fn check_time(&self, now: i64) -> Result<(), String> {
        if now < self.cert.not_before {
            return Err(format!(
                "the identity {:?} of MSP {} is not valid before {}",
                self.cert.subject_text,
                self.msp.id(),
                self.cert.not_before_text
            ));
        }
        if now > self.cert.not_after {
            return Err(format!(
                "the identity {:?} of MSP {} expired at {}",
                self.cert.subject_text,
                self.msp.id(),
                self.cert.not_after_text
            ));
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

    fn satisfies_principal(&self, principal: &MspPrincipal) -> Result<(), String> {
        super::principal::satisfies(self, principal)
    }

    /// Fabric's default BCCSP: the message hashed with SHA-256 (the SHA2 family, for
    /// P-256 and P-384 keys alike), a DER ECDSA signature with a low S.
    fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), String> {
        let Some((curve, point)) = self.cert.key.ec() else {
            return Err("the identity's key is not an ECDSA key".into());
        };
        if signature.is_empty() {
            return Err("the signature is empty".into());
        }
        // Like Go's asn1.Unmarshal, bytes after the two integers are ignored.
        let (sig, _) = ecdsa::parse_prefix(signature)
            .map_err(|e| format!("the signature is not a DER ECDSA signature: {e}"))?;
        if !curve.is_low_s(&sig.s) {
            return Err(
                "the signature has a high S value; Fabric accepts only low-S ECDSA signatures"
                    .into(),
            );
        }
        // ring hashes with SHA-256 itself; for P-384 this is the "P-384 with SHA-256"
        // verification, which is what Fabric does (digest shorter than the order).
        let alg = match curve {
            EcCurve::P256 => &ECDSA_P256_SHA256_ASN1,
            EcCurve::P384 => &ECDSA_P384_SHA256_ASN1,
        };
        UnparsedPublicKey::new(alg, point)
            .verify(data, &ecdsa::encode(&sig))
            .map_err(|_| {
                format!(
                    "the signature does not verify with the key of {:?} (MSP {})",
                    self.cert.subject_text,
                    self.msp.id()
                )
            })
    }
}
