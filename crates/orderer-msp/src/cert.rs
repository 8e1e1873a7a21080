//! X.509 certificates as the MSP needs them: names, key, validity, the extensions
//! that decide whether a certificate may issue or be used (as Go's `x509` reads them,
//! since Fabric validates with Go), and the check that an issuer signed them.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::AttributeTypeAndValue;

use crate::der::DerError;
use crate::ecdsa::{EcCurve, SignatureFormatError};

/// A parse error of x509-parser (certificates and CRLs).
pub type X509ParseError = x509_parser::nom::Err<x509_parser::error::X509Error>;

/// Why bytes are not a usable certificate, or a certificate's signature fails.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("not an X.509 certificate: {0}")]
    NotX509(#[source] X509ParseError),
    #[error("{0} bytes after the certificate")]
    TrailingBytes(usize),
    #[error("invalid certificate extensions: {0}")]
    BadExtensions(#[source] x509_parser::error::X509Error),
    #[error("the signature of {subject:?} by {issuer:?} does not verify: {source}")]
    NotSignedBy {
        subject: String,
        issuer: String,
        #[source]
        source: SignatureCheckError,
    },
    /// A PEM text that does not parse (the I/O error's text).
    #[error("not PEM: {0}")]
    NotPem(#[source] std::io::Error),
    /// The first PEM block does not parse (shown as Debug, as before).
    #[error("not PEM: {0:?}")]
    BadFirstPemBlock(#[source] std::io::Error),
    #[error("the first PEM block is not a CERTIFICATE")]
    FirstBlockNotCertificate,
    #[error("no PEM block (-----BEGIN CERTIFICATE-----) found")]
    NoPemBlock,
    #[error("no PEM certificate (-----BEGIN CERTIFICATE-----) found")]
    NoPemCertificate,
    /// An MSP given as PEM texts has no root CA.
    #[error("no root CA certificate in the PEM")]
    NoRootCertificate,
    /// Fabric's canonical form needs the issuer's ECDSA key.
    #[error("{subject:?} has an ECDSA signature but its issuer's key is {issuer_key}")]
    IssuerKeyNotEcdsa { subject: String, issuer_key: String },
    #[error("the signature of {subject:?}: {source}")]
    MalformedSignature {
        subject: String,
        #[source]
        source: SignatureFormatError,
    },
    #[error("rewriting {subject:?}: {source}")]
    Rewrite {
        subject: String,
        #[source]
        source: DerError,
    },
}

/// Why a signature by a certificate's key does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureCheckError {
    /// The key (described) cannot verify this X.509 signature algorithm (an OID).
    #[error("unsupported signature algorithm {algorithm} for a key {key}")]
    UnsupportedAlgorithm { algorithm: String, key: String },
    #[error("bad signature")]
    BadSignature,
}

const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";
pub(crate) const ECDSA_SHA1: &str = "1.2.840.10045.4.1";
pub(crate) const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
pub(crate) const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
pub(crate) const ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const RSA_SHA512: &str = "1.2.840.113549.1.1.13";

/// Extensions Go's x509 understands; any other one marked critical makes Go refuse
/// the certificate ("unhandled critical extension").
const HANDLED_EXTENSIONS: &[&str] = &[
    "2.5.29.14",         // subjectKeyIdentifier
    "2.5.29.15",         // keyUsage
    "2.5.29.17",         // subjectAltName
    "2.5.29.19",         // basicConstraints
    "2.5.29.30",         // nameConstraints
    "2.5.29.31",         // cRLDistributionPoints
    "2.5.29.32",         // certificatePolicies
    "2.5.29.33",         // policyMappings
    "2.5.29.35",         // authorityKeyIdentifier
    "2.5.29.36",         // policyConstraints
    "2.5.29.37",         // extKeyUsage
    "2.5.29.54",         // inhibitAnyPolicy
    "1.3.6.1.5.5.7.1.1", // authorityInfoAccess
];

/// Extended key usages Go accepts in place of serverAuth (server-gated crypto).
const SERVER_GATED_CRYPTO: &[&str] = &["2.16.840.1.113730.4.1", "1.3.6.1.4.1.311.10.3.3"];

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

impl PublicKey {
    /// The curve and point of an ECDSA key we can verify with.
    pub(crate) fn ec(&self) -> Option<(EcCurve, &[u8])> {
        match self {
            PublicKey::P256(k) => Some((EcCurve::P256, k)),
            PublicKey::P384(k) => Some((EcCurve::P384, k)),
            _ => None,
        }
    }
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
    pub(crate) sig_alg: String,
    pub(crate) signature: Vec<u8>,
    tbs: Vec<u8>,
    /// basicConstraints' cA flag; `None` without the extension.
    pub(crate) is_ca: Option<bool>,
    /// basicConstraints' pathLenConstraint.
    pub(crate) path_len: Option<u32>,
    /// X.509 version as encoded (2 is v3).
    pub(crate) version: u32,
    /// keyUsage's keyCertSign; `None` without the extension (or with no bit set, as Go).
    pub(crate) key_cert_sign: Option<bool>,
    /// The serial number's content octets, leading zeros dropped.
    pub(crate) serial: Vec<u8>,
    /// The subject's OU values, in order.
    pub(crate) ous: Vec<String>,
    pub(crate) subject_key_id: Option<Vec<u8>>,
    /// Whether Go's default key-usage check (serverAuth) passes: no extKeyUsage, or
    /// one that allows any usage or serverAuth.
    pub(crate) server_auth_usable: bool,
    /// The first critical extension Go would not handle.
    pub(crate) unhandled_critical: Option<String>,
    pub(crate) has_name_constraints: bool,
}

impl Cert {
    /// Parses a DER certificate.
    pub(crate) fn parse(der: &[u8]) -> Result<Cert, CertError> {
        let (rest, x) = X509Certificate::from_der(der).map_err(CertError::NotX509)?;
        if !rest.is_empty() {
            return Err(CertError::TrailingBytes(rest.len()));
        }
        // Go refuses duplicate extensions; x509-parser reports them here.
        x.extensions_map().map_err(CertError::BadExtensions)?;
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
        let bc = x
            .basic_constraints()
            .ok()
            .flatten()
            .map(|b| b.value.clone());
        let key_cert_sign = x
            .key_usage()
            .ok()
            .flatten()
            .filter(|k| k.value.flags != 0)
            .map(|k| k.value.key_cert_sign());
        let server_auth_usable = match x.extended_key_usage().ok().flatten() {
            None => true,
            Some(e) => {
                let e = e.value;
                e.any
                    || e.server_auth
                    || e.other
                        .iter()
                        .any(|o| SERVER_GATED_CRYPTO.contains(&o.to_id_string().as_str()))
            }
        };
        let mut subject_key_id = None;
        let mut has_name_constraints = false;
        let mut unhandled_critical = None;
        for ext in x.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => subject_key_id = Some(k.0.to_vec()),
                ParsedExtension::NameConstraints(_) => has_name_constraints = true,
                _ => {}
            }
            let oid = ext.oid.to_id_string();
            if ext.critical && unhandled_critical.is_none() && !HANDLED_EXTENSIONS.contains(&&*oid)
            {
                unhandled_critical = Some(oid);
            }
        }
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
            is_ca: bc.as_ref().map(|b| b.ca),
            path_len: bc.and_then(|b| b.path_len_constraint),
            version: x.version().0,
            key_cert_sign,
            serial: strip_zeros(x.raw_serial()).to_vec(),
            ous: x.subject().iter_organizational_unit().map(text).collect(),
            subject_key_id,
            server_auth_usable,
            unhandled_critical,
            has_name_constraints,
        })
    }

    /// Whether the signature is ECDSA (Fabric rewrites those to low S).
    pub(crate) fn is_ecdsa_signed(&self) -> bool {
        [ECDSA_SHA1, ECDSA_SHA256, ECDSA_SHA384, ECDSA_SHA512].contains(&self.sig_alg.as_str())
    }

    /// Checks that `issuer`'s key signed this certificate.
    pub(crate) fn verify_signed_by(&self, issuer: &Cert) -> Result<(), CertError> {
        verify_signature(&issuer.key, &self.sig_alg, &self.tbs, &self.signature).map_err(|source| {
            CertError::NotSignedBy {
                subject: self.subject_text.clone(),
                issuer: issuer.subject_text.clone(),
                source,
            }
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

/// An attribute's text, as Go decodes it (it also reads BMPString and T61String).
fn text(attr: &AttributeTypeAndValue<'_>) -> String {
    if let Ok(s) = attr.as_str() {
        return s.to_owned();
    }
    let raw = attr.as_slice();
    if attr.attr_value().tag() == Tag::BmpString {
        let units: Vec<u16> = raw
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(raw).into_owned()
}

/// `v` without leading zero bytes.
pub(crate) fn strip_zeros(v: &[u8]) -> &[u8] {
    let skip = v.iter().take_while(|b| **b == 0).count();
    &v[skip..]
}

/// Verifies `signature` over `data` by `key` with the X.509 signature algorithm `alg`
/// (an OID).
pub(crate) fn verify_signature(
    key: &PublicKey,
    alg: &str,
    data: &[u8],
    signature: &[u8],
) -> Result<(), SignatureCheckError> {
    let (alg, key): (&'static dyn VerificationAlgorithm, &[u8]) = match (key, alg) {
        (PublicKey::P256(k), ECDSA_SHA256) => (&signature::ECDSA_P256_SHA256_ASN1, k),
        (PublicKey::P256(k), ECDSA_SHA384) => (&signature::ECDSA_P256_SHA384_ASN1, k),
        (PublicKey::P384(k), ECDSA_SHA256) => (&signature::ECDSA_P384_SHA256_ASN1, k),
        (PublicKey::P384(k), ECDSA_SHA384) => (&signature::ECDSA_P384_SHA384_ASN1, k),
        (PublicKey::Rsa(k), RSA_SHA256) => (&signature::RSA_PKCS1_2048_8192_SHA256, k),
        (PublicKey::Rsa(k), RSA_SHA384) => (&signature::RSA_PKCS1_2048_8192_SHA384, k),
        (PublicKey::Rsa(k), RSA_SHA512) => (&signature::RSA_PKCS1_2048_8192_SHA512, k),
        (key, alg) => {
            return Err(SignatureCheckError::UnsupportedAlgorithm {
                algorithm: alg.to_owned(),
                key: format!("{key:?}"),
            });
        }
    };
    UnparsedPublicKey::new(alg, key)
        .verify(data, signature)
        .map_err(|_| SignatureCheckError::BadSignature)
}

/// Every certificate in a PEM text, as DER.
pub(crate) fn pem_certs(pem: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    let mut reader = pem;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut reader).collect();
    let certs = certs.map_err(CertError::NotPem)?;
    Ok(certs.into_iter().map(|c| c.as_ref().to_vec()).collect())
}

/// The first PEM block of `pem`, which must be a certificate, as DER. Fabric reads
/// only the first block of every certificate it is given.
pub(crate) fn first_pem_cert(pem: &[u8]) -> Result<Vec<u8>, CertError> {
    let mut reader = pem;
    match rustls_pemfile::read_one(&mut reader) {
        Ok(Some(rustls_pemfile::Item::X509Certificate(c))) => Ok(c.as_ref().to_vec()),
        Ok(Some(_)) => Err(CertError::FirstBlockNotCertificate),
        Ok(None) => Err(CertError::NoPemBlock),
        Err(e) => Err(CertError::BadFirstPemBlock(e)),
    }
}
