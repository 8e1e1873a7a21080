//! A signing identity: a certificate and its ECDSA P-256 key, from an MSP directory's
//! `signcerts/` and `keystore/` (or PEM), signing the way Fabric does (DER, low-S).

use std::path::Path;

use bytes::Bytes;
use orderer_api::proto::msp::SerializedIdentity;
use prost::Message;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use rustls_pemfile::Item;

use crate::cert::{Cert, CertError, PublicKey, pem_certs};
use crate::ecdsa::SignatureFormatError;
use crate::msp::read_cert_dir;
use crate::{MspError, ecdsa};

/// Why a signing identity could not be built from PEM, or could not sign.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error(transparent)]
    Certificate(#[from] CertError),
    #[error("no certificate in the PEM")]
    NoCertificate,
    #[error("not an ECDSA P-256 key: {0}")]
    NotP256Key(ring::error::KeyRejected),
    #[error("the key does not match the certificate")]
    KeyMismatch,
    /// The key's PEM text does not parse.
    #[error("not PEM: {0}")]
    KeyNotPem(#[source] std::io::Error),
    #[error("no private key in the PEM")]
    NoPrivateKey,
    #[error("ECDSA signing failed")]
    SigningFailed,
    /// The signature ring made could not be put in low-S form.
    #[error(transparent)]
    Signature(#[from] SignatureFormatError),
    #[error("no randomness")]
    NoRandomness,
}

/// An identity that signs.
pub struct SigningIdentity {
    msp_id: String,
    cert_pem: Vec<u8>,
    serialized: Bytes,
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningIdentity")
            .field("msp_id", &self.msp_id)
            .finish_non_exhaustive()
    }
}

impl SigningIdentity {
    /// Reads the identity of a local MSP directory: the certificate in `signcerts/`
    /// and the key in `keystore/` that matches it (PKCS#8 or SEC1 PEM).
    pub fn load(dir: &Path, msp_id: &str) -> Result<Self, MspError> {
        let signcerts = dir.join("signcerts");
        let certs = read_cert_dir(&signcerts)?;
        let Some((cert_path, cert_der)) = certs.into_iter().next() else {
            return Err(MspError::file(
                &signcerts,
                "holds no certificate: a local MSP needs its identity there".into(),
            ));
        };
        let cert = Cert::parse(&cert_der).map_err(|e| MspError::file(&cert_path, e.to_string()))?;
        let keystore = dir.join("keystore");
        let paths = crate::fabric::list_files(&keystore)?
            .ok_or_else(|| MspError::file(&keystore, "does not exist".into()))?;
        for path in &paths {
            let pem = std::fs::read(path).map_err(|e| MspError::file(path, e.to_string()))?;
            let Ok(pkcs8) = pkcs8_from_pem(&pem) else {
                continue;
            };
            let rng = SystemRandom::new();
            let Ok(key) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng)
            else {
                continue;
            };
            if PublicKey::P256(key.public_key().as_ref().to_vec()) == cert.key {
                let cert_pem = pem_encode("CERTIFICATE", &cert_der);
                return Ok(Self::assemble(msp_id, cert_pem, key, rng));
            }
        }
        Err(MspError::file(
            &keystore,
            format!(
                "holds no ECDSA P-256 private key matching the certificate {} ({} files looked at)",
                cert_path.display(),
                paths.len()
            ),
        ))
    }

    /// An identity from PEM texts of a certificate and its key.
    pub fn from_pem(msp_id: &str, cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, SignerError> {
        let der = pem_certs(cert_pem)?
            .into_iter()
            .next()
            .ok_or(SignerError::NoCertificate)?;
        let cert = Cert::parse(&der)?;
        let pkcs8 = pkcs8_from_pem(key_pem)?;
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng)
            .map_err(SignerError::NotP256Key)?;
        if PublicKey::P256(key.public_key().as_ref().to_vec()) != cert.key {
            return Err(SignerError::KeyMismatch);
        }
        Ok(Self::assemble(
            msp_id,
            pem_encode("CERTIFICATE", &der),
            key,
            rng,
        ))
    }

    fn assemble(msp_id: &str, cert_pem: Vec<u8>, key: EcdsaKeyPair, rng: SystemRandom) -> Self {
        let serialized = SerializedIdentity {
            mspid: msp_id.to_owned(),
            id_bytes: Bytes::from(cert_pem.clone()),
        }
        .encode_to_vec()
        .into();
        SigningIdentity {
            msp_id: msp_id.to_owned(),
            cert_pem,
            serialized,
            key,
            rng,
        }
    }

    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// The certificate, PEM.
    pub fn certificate_pem(&self) -> &[u8] {
        &self.cert_pem
    }

    /// The marshalled `msp.SerializedIdentity`: a SignatureHeader's creator.
    pub fn serialized(&self) -> &Bytes {
        &self.serialized
    }

    /// ECDSA P-256 over SHA-256 of `message`, DER, low-S.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let sig = self
            .key
            .sign(&self.rng, message)
            .map_err(|_| SignerError::SigningFailed)?;
        Ok(ecdsa::to_low_s(sig.as_ref())?)
    }

    /// 24 random bytes, as Fabric's nonces.
    pub fn nonce(&self) -> Result<[u8; 24], SignerError> {
        let mut n = [0u8; 24];
        self.rng
            .fill(&mut n)
            .map_err(|_| SignerError::NoRandomness)?;
        Ok(n)
    }
}

/// A PKCS#8 document from a PEM private key, PKCS#8 or SEC1 ("EC PRIVATE KEY").
fn pkcs8_from_pem(pem: &[u8]) -> Result<Vec<u8>, SignerError> {
    let mut reader = pem;
    loop {
        match rustls_pemfile::read_one(&mut reader).map_err(SignerError::KeyNotPem)? {
            Some(Item::Pkcs8Key(k)) => return Ok(k.secret_pkcs8_der().to_vec()),
            Some(Item::Sec1Key(k)) => return Ok(sec1_to_pkcs8(k.secret_sec1_der())),
            Some(_) => continue,
            None => return Err(SignerError::NoPrivateKey),
        }
    }
}

/// Wraps a SEC1 `ECPrivateKey` (P-256) in PKCS#8.
fn sec1_to_pkcs8(sec1: &[u8]) -> Vec<u8> {
    // AlgorithmIdentifier { id-ecPublicKey, prime256v1 }
    const ALG: [u8; 21] = [
        0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
        0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    let mut octets = vec![0x04];
    crate::der::push_len(sec1.len(), &mut octets);
    octets.extend_from_slice(sec1);
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend_from_slice(&ALG);
    body.extend(octets);
    let mut out = vec![0x30];
    crate::der::push_len(body.len(), &mut out);
    out.extend(body);
    out
}

/// PEM text of one DER object.
pub fn pem_encode(label: &str, der: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = Vec::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]);
            } else {
                b64.push(b'=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n").into_bytes();
    for line in b64.chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(format!("-----END {label}-----\n").as_bytes());
    out
}
