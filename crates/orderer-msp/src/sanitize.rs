//! Fabric's canonical form of a certificate. An ECDSA signature has two valid S values;
//! Fabric rewrites every certificate it loads so that its signature has the low one,
//! and from then on compares and hashes the rewritten bytes (admin certificates,
//! identity principals, certifiers identifiers). Doing the same keeps those
//! comparisons and hashes equal to Fabric's.

use crate::cert::{Cert, CertError};
use crate::{der, ecdsa};

/// `cert` with its ECDSA signature in low-S canonical DER, checked against the key of
/// `issuer`; other certificates are returned as they are.
pub(crate) fn sanitized(cert: &Cert, issuer: &Cert) -> Result<Cert, CertError> {
    if !cert.is_ecdsa_signed() {
        return Ok(cert.clone());
    }
    let Some((curve, _)) = issuer.key.ec() else {
        return Err(CertError::IssuerKeyNotEcdsa {
            subject: cert.subject_text.clone(),
            issuer_key: format!("{:?}", issuer.key),
        });
    };
    let low = ecdsa::to_low_s_on(curve, &cert.signature).map_err(|source| {
        CertError::MalformedSignature {
            subject: cert.subject_text.clone(),
            source,
        }
    })?;
    if low == cert.signature {
        return Ok(cert.clone());
    }
    let rebuilt = with_signature(&cert.der, &low).map_err(|source| CertError::Rewrite {
        subject: cert.subject_text.clone(),
        source,
    })?;
    Cert::parse(&rebuilt)
}

/// The certificate `der` with another signature value.
fn with_signature(cert_der: &[u8], signature: &[u8]) -> Result<Vec<u8>, der::DerError> {
    let (outer, _) = der::element(cert_der)?;
    let (tbs, rest) = der::element(outer.contents)?;
    let (alg, _) = der::element(rest)?;
    let mut bits = Vec::with_capacity(signature.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(signature);
    let mut body = Vec::with_capacity(tbs.whole.len() + alg.whole.len() + bits.len() + 8);
    body.extend_from_slice(tbs.whole);
    body.extend_from_slice(alg.whole);
    der::push_element(0x03, &bits, &mut body);
    let mut out = Vec::with_capacity(body.len() + 4);
    der::push_element(0x30, &body, &mut out);
    Ok(out)
}
