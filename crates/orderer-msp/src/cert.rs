//! X.509 certificates as the MSP needs them: subject, issuer, key, validity, and the
//! check that an issuer signed them.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::prelude::{FromDer, X509Certificate};

const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const RSA_SHA512: &str = "1.2.840.113549.1.1.13";

/// A certificate's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// An uncompressed P-256 point.
    P256(Vec<u8>),
    /// An uncompressed P-384 point.
    P384(Vec<u8>),
    /// A DER RSAPublicKey.
    Rsa(Vec<u8>),
    /// Anything else, described.
    Other(String),
}

/// A parsed certificate, owning its bytes.
#[derive(Debug, Clone)]
pub(crate) struct Cert {
    pub(crate) der: Vec<u8>,
    pub(crate) subject: Vec<u8>,
    pub(crate) issuer: Vec<u8>,
    pub(crate) subject_text: String,
    pub(crate) key: PublicKey,
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
    pub(crate) not_after_text: String,
    pub(crate) not_before_text: String,
    sig_alg: String,
    signature: Vec<u8>,
    tbs: Vec<u8>,
    /// `Some(false)` when basicConstraints says this is not a CA.
    pub(crate) is_ca: Option<bool>,
}

impl Cert {
    /// Parses a DER certificate.
    pub(crate) fn parse(der: &[u8]) -> Result<Cert, String> {
        let (rest, x) =
            X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
        if !rest.is_empty() {
            return Err(format!("{} bytes after the certificate", rest.len()));
        }
        let spki = x.public_key();
        let alg = spki.algorithm.algorithm.to_id_string();
        let point = spki.subject_public_key.data.to_vec();
        let key = match alg.as_str() {
            EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string())
                    .unwrap_or_default();
                match curve.as_str() {
                    P256 => PublicKey::P256(point),
                    P384 => PublicKey::P384(point),
                    other => PublicKey::Other(format!("EC key on curve {other}")),
                }
            }
            RSA_ENCRYPTION => PublicKey::Rsa(point),
            other => PublicKey::Other(format!("key algorithm {other}")),
        };
        let is_ca = x.basic_constraints().ok().flatten().map(|b| b.value.ca);
        let validity = x.validity();
        Ok(Cert {
            der: der.to_vec(),
            subject: x.subject().as_raw().to_vec(),
            issuer: x.issuer().as_raw().to_vec(),
            subject_text: x.subject().to_string(),
            key,
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            not_before_text: validity.not_before.to_string(),
            not_after_text: validity.not_after.to_string(),
            sig_alg: x.signature_algorithm.algorithm.to_id_string(),
            signature: x.signature_value.data.to_vec(),
            tbs: x.tbs_certificate.as_ref().to_vec(),
            is_ca,
        })
    }

    /// Checks that `issuer`'s key signed this certificate.
    pub(crate) fn verify_signed_by(&self, issuer: &Cert) -> Result<(), String> {
        let (alg, key): (&'static dyn VerificationAlgorithm, &[u8]) =
            match (&issuer.key, self.sig_alg.as_str()) {
                (PublicKey::P256(k), ECDSA_SHA256) => (&signature::ECDSA_P256_SHA256_ASN1, k),
                (PublicKey::P256(k), ECDSA_SHA384) => (&signature::ECDSA_P256_SHA384_ASN1, k),
                (PublicKey::P384(k), ECDSA_SHA256) => (&signature::ECDSA_P384_SHA256_ASN1, k),
                (PublicKey::P384(k), ECDSA_SHA384) => (&signature::ECDSA_P384_SHA384_ASN1, k),
                (PublicKey::Rsa(k), RSA_SHA256) => (&signature::RSA_PKCS1_2048_8192_SHA256, k),
                (PublicKey::Rsa(k), RSA_SHA384) => (&signature::RSA_PKCS1_2048_8192_SHA384, k),
                (PublicKey::Rsa(k), RSA_SHA512) => (&signature::RSA_PKCS1_2048_8192_SHA512, k),
                (key, alg) => {
                    return Err(format!(
                        "unsupported signature algorithm {alg} for an issuer key {key:?}"
                    ));
                }
            };
        UnparsedPublicKey::new(alg, key)
            .verify(&self.tbs, &self.signature)
            .map_err(|_| {
                format!(
                    "the signature of {:?} by {:?} does not verify",
                    self.subject_text, issuer.subject_text
                )
            })
    }

    /// Whether `now` (seconds since the epoch) is within the validity period.
    pub(crate) fn check_time(&self, now: i64) -> Result<(), crate::IdentityError> {
        if now < self.not_before {
            return Err(crate::IdentityError::NotYetValid(
                self.not_before_text.clone(),
            ));
        }
        if now > self.not_after {
            return Err(crate::IdentityError::Expired(self.not_after_text.clone()));
        }
        Ok(())
    }
}

/// Every certificate in a PEM text, as DER.
pub(crate) fn pem_certs(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut reader = pem;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut reader).collect();
    let certs = certs.map_err(|e| format!("not PEM: {e}"))?;
    Ok(certs.into_iter().map(|c| c.as_ref().to_vec()).collect())
}
