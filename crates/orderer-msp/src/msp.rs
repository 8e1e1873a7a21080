//! An MSP: the CAs that vouch for an organization's identities, read from Fabric's
//! directory layout (`cacerts/`, `intermediatecerts/`, `tlscacerts/`,
//! `tlsintermediatecerts/`; `signcerts/` and `keystore/` hold a local identity).

use std::path::{Path, PathBuf};

use crate::cert::{Cert, CertError, PublicKey, pem_certs};
use crate::fabric::{Pools, dedup, unique_chain_any_time};
use crate::{IdentityError, MspError};

/// An organization's certificate authorities.
#[derive(Debug, Clone)]
pub struct Msp {
    id: String,
    roots: Vec<Cert>,
    intermediates: Vec<Cert>,
    tls_roots: Vec<Vec<u8>>,
}

/// What validating an identity certificate established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    pub msp_id: String,
    /// The uncompressed P-256 point of the certificate's key.
    pub public_key: Vec<u8>,
    /// The period in which the whole chain is valid (seconds since the epoch).
    pub not_before: i64,
    pub not_after: i64,
    pub not_before_text: String,
    pub not_after_text: String,
}

/// The PEM certificates of every file in `dir` (a missing directory holds none).
pub(crate) fn read_cert_dir(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, MspError> {
    let mut out = Vec::new();
    for path in crate::fabric::list_files(dir)?.unwrap_or_default() {
        let text = std::fs::read(&path).map_err(|e| MspError::file(&path, e.to_string()))?;
        let certs = pem_certs(&text).map_err(|e| MspError::file(&path, e.to_string()))?;
        if certs.is_empty() {
            return Err(MspError::file(&path, "holds no PEM certificate".into()));
        }
        out.extend(certs.into_iter().map(|c| (path.clone(), c)));
    }
    Ok(out)
}

fn parse_all(files: Vec<(PathBuf, Vec<u8>)>) -> Result<Vec<Cert>, MspError> {
    files
        .into_iter()
        .map(|(path, der)| {
            let cert = Cert::parse(&der).map_err(|e| MspError::file(&path, e.to_string()))?;
            if cert.is_ca == Some(false) {
                return Err(MspError::file(
                    &path,
                    "is not a CA certificate (basicConstraints CA:false)".into(),
                ));
            }
            Ok(cert)
        })
        .collect()
}

impl Msp {
    /// Reads an MSP directory. `cacerts/` must hold at least one CA certificate.
    pub fn load(dir: &Path, id: &str) -> Result<Msp, MspError> {
        if !dir.is_dir() {
            return Err(MspError::file(dir, "is not a directory".into()));
        }
        let roots = parse_all(read_cert_dir(&dir.join("cacerts"))?)?;
        if roots.is_empty() {
            return Err(MspError::file(
                &dir.join("cacerts"),
                "holds no CA certificate: an MSP needs its root CA there".into(),
            ));
        }
        let intermediates = parse_all(read_cert_dir(&dir.join("intermediatecerts"))?)?;
        let mut tls_roots: Vec<Vec<u8>> = read_cert_dir(&dir.join("tlscacerts"))?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        tls_roots.extend(
            read_cert_dir(&dir.join("tlsintermediatecerts"))?
                .into_iter()
                .map(|(_, c)| c),
        );
        Ok(Msp {
            id: id.to_owned(),
            roots: dedup(roots),
            intermediates: dedup(intermediates),
            tls_roots,
        })
    }

    /// An MSP from PEM texts of its root CAs and intermediate CAs (no TLS CAs).
    pub fn from_pem(
        id: &str,
        roots_pem: &[u8],
        intermediates_pem: &[u8],
    ) -> Result<Msp, CertError> {
        let parse = |pem: &[u8]| -> Result<Vec<Cert>, CertError> {
            pem_certs(pem)?.iter().map(|der| Cert::parse(der)).collect()
        };
        let roots = parse(roots_pem)?;
        if roots.is_empty() {
            return Err(CertError::NoRootCertificate);
        }
        Ok(Msp {
            id: id.to_owned(),
            roots: dedup(roots),
            intermediates: dedup(parse(intermediates_pem)?),
            tls_roots: Vec::new(),
        })
    }

    /// The MSP ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The DER certificates of the MSP's TLS CAs.
    pub fn tls_roots(&self) -> &[Vec<u8>] {
        &self.tls_roots
    }

    /// The DER certificates of the MSP's root CAs.
    pub fn root_ders(&self) -> Vec<Vec<u8>> {
        self.roots.iter().map(|c| c.der.clone()).collect()
    }

    /// Checks that a DER certificate was issued, possibly through intermediates, by one
    /// of this MSP's root CAs (one chain, each link checked as Fabric's Go
    /// verification does), that its key is ECDSA P-256, and, given `now` (seconds since
    /// the epoch), that every certificate of the chain is valid then. Without `now`,
    /// the period in which the chain is valid is in the result.
    pub fn validate(&self, der: &[u8], now: Option<i64>) -> Result<Validated, IdentityError> {
        let check = |c: &Cert| now.map_or(Ok(()), |n| c.check_time(n));
        let leaf = Cert::parse(der).map_err(|e| IdentityError::BadCertificate(e.to_string()))?;
        let public_key = match &leaf.key {
            PublicKey::P256(k) => k.clone(),
            other => {
                return Err(IdentityError::UnsupportedKey(format!(
                    "expected an ECDSA P-256 key, found {other:?}"
                )));
            }
        };
        check(&leaf)?;
        let mut validated = Validated {
            msp_id: self.id.clone(),
            public_key,
            not_before: leaf.not_before,
            not_after: leaf.not_after,
            not_before_text: leaf.not_before_text.clone(),
            not_after_text: leaf.not_after_text.clone(),
        };
        let pools = Pools {
            roots: &self.roots,
            intermediates: &self.intermediates,
        };
        // This MSP checks the whole chain at `now` (below), so the chain is looked up
        // regardless of validity periods.
        let chain = unique_chain_any_time(&leaf, pools).map_err(|e| IdentityError::Untrusted {
            msp: self.id.clone(),
            reason: e.to_string(),
        })?;
        for ca in &chain[1..] {
            check(ca)?;
            narrow(&mut validated, ca);
        }
        Ok(validated)
    }
}

/// The chain is valid only while every certificate is.
fn narrow(v: &mut Validated, c: &Cert) {
    if c.not_before > v.not_before {
        v.not_before = c.not_before;
        v.not_before_text = c.not_before_text.clone();
    }
    if c.not_after < v.not_after {
        v.not_after = c.not_after;
        v.not_after_text = c.not_after_text.clone();
    }
}
