//! ECDSA signatures in DER, and Fabric's low-S rule: of the two valid S values of a
//! signature, only the one at most half the curve order is accepted, so that a
//! signature cannot be altered into another valid one.

use ring::signature::{ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA256_ASN1, UnparsedPublicKey};

use crate::der::{self, DerError};
use crate::p256_table::KeyTable;

/// The curves whose keys an identity may have (Fabric's default BCCSP also knows
/// P-521, which ring cannot verify).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcCurve {
    /// NIST P-256 (secp256r1), Fabric's default.
    P256,
    /// NIST P-384 (secp384r1).
    P384,
}

/// Why bytes are not an ECDSA signature this crate accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureFormatError {
    #[error("not DER: {0}")]
    NotDer(#[source] DerError),
    #[error("not a DER SEQUENCE of two integers")]
    NotSequence,
    #[error("expected an INTEGER")]
    ExpectedInteger,
    #[error("negative INTEGER")]
    NegativeInteger,
    #[error("INTEGER not minimally encoded")]
    IntegerNotMinimal,
    #[error("zero INTEGER")]
    ZeroInteger,
    #[error("INTEGER too large for an ECDSA signature")]
    IntegerTooLarge,
    #[error("trailing bytes after the two integers")]
    TrailingInSequence,
    #[error("trailing bytes after the signature")]
    TrailingAfterSignature,
    #[error("S is not below the curve order")]
    SNotBelowOrder,
}

/// The order of the P-256 group.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// The order of the P-384 group.
const P384_N: [u8; 48] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
];

impl EcCurve {
    fn order(self) -> &'static [u8] {
        match self {
            EcCurve::P256 => &P256_N,
            EcCurve::P384 => &P384_N,
        }
    }

    /// `value` (unsigned big-endian, no leading zeros) left-padded to the order's
    /// width; `None` when it is wider.
    fn widen(self, value: &[u8]) -> Option<Vec<u8>> {
        let width = self.order().len();
        let skip = value.iter().take_while(|b| **b == 0).count();
        let value = &value[skip..];
        if value.len() > width {
            return None;
        }
        let mut out = vec![0u8; width - value.len()];
        out.extend_from_slice(value);
        Some(out)
    }

    fn half_order(self) -> Vec<u8> {
        let mut carry = 0u8;
        self.order()
            .iter()
            .map(|b| {
                let h = (b >> 1) | carry;
                carry = (b & 1) << 7;
                h
            })
            .collect()
    }

    /// Whether `s` is at most half the order (Fabric's `IsLowS`).
    pub(crate) fn is_low_s(self, s: &[u8]) -> bool {
        self.widen(s).is_some_and(|s| s <= self.half_order())
    }

    /// `n - s`, the other valid S of a signature; `s` must be below the order.
    fn negate(self, s: &[u8]) -> Result<Vec<u8>, SignatureFormatError> {
        let s = self
            .widen(s)
            .filter(|s| s.as_slice() < self.order())
            .ok_or(SignatureFormatError::SNotBelowOrder)?;
        let n = self.order();
        let mut out = vec![0u8; n.len()];
        let mut borrow = 0i16;
        for i in (0..n.len()).rev() {
            let d = i16::from(n[i]) - i16::from(s[i]) - borrow;
            borrow = i16::from(d < 0);
            out[i] = (d + 256 * borrow) as u8;
        }
        Ok(trim(&out).to_vec())
    }
}

/// The two integers of an ECDSA signature, unsigned big-endian without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawSignature {
    pub(crate) r: Vec<u8>,
    pub(crate) s: Vec<u8>,
}

fn trim(v: &[u8]) -> &[u8] {
    let skip = v.iter().take_while(|b| **b == 0).count();
    &v[skip..]
}

/// `SEQUENCE { INTEGER r, INTEGER s }` at the start of `der`, and what follows it.
/// Fabric unmarshals signatures with Go's `asn1.Unmarshal`, which ignores bytes after
/// the sequence and, inside it, after the two integers (Go allows a SEQUENCE to grow
/// at its end); the integers must be positive and minimally encoded.
pub(crate) fn parse_prefix(der: &[u8]) -> Result<(RawSignature, &[u8]), SignatureFormatError> {
    let (sig, _, rest) = parse_sequence(der)?;
    Ok((sig, rest))
}

/// The two integers, the bytes inside the sequence after them, and the bytes after it.
fn parse_sequence(der: &[u8]) -> Result<(RawSignature, &[u8], &[u8]), SignatureFormatError> {
    let (seq, rest) = der::element(der).map_err(SignatureFormatError::NotDer)?;
    if seq.tag != 0x30 {
        return Err(SignatureFormatError::NotSequence);
    }
    let (r, inner) = integer(seq.contents)?;
    let (s, inner) = integer(inner)?;
    Ok((RawSignature { r, s }, inner, rest))
}

/// A DER signature with nothing but its two integers.
pub(crate) fn parse_exact(der: &[u8]) -> Result<RawSignature, SignatureFormatError> {
    let (sig, inner, rest) = parse_sequence(der)?;
    if !inner.is_empty() {
        return Err(SignatureFormatError::TrailingInSequence);
    }
    if !rest.is_empty() {
        return Err(SignatureFormatError::TrailingAfterSignature);
    }
    Ok(sig)
}

/// One positive, minimally encoded DER INTEGER of at most 66 bytes, and what follows.
fn integer(der: &[u8]) -> Result<(Vec<u8>, &[u8]), SignatureFormatError> {
    let (e, rest) = der::element(der).map_err(SignatureFormatError::NotDer)?;
    let v = e.contents;
    if e.tag != 0x02 || v.is_empty() {
        return Err(SignatureFormatError::ExpectedInteger);
    }
    if v[0] & 0x80 != 0 {
        return Err(SignatureFormatError::NegativeInteger);
    }
    if v.len() > 1 && v[0] == 0 && v[1] & 0x80 == 0 {
        return Err(SignatureFormatError::IntegerNotMinimal);
    }
    let value = trim(v);
    if value.is_empty() {
        return Err(SignatureFormatError::ZeroInteger);
    }
    if value.len() > 66 {
        return Err(SignatureFormatError::IntegerTooLarge);
    }
    Ok((value.to_vec(), rest))
}

/// DER of `SEQUENCE { INTEGER r, INTEGER s }` (Go's `MarshalECDSASignature`).
pub(crate) fn encode(sig: &RawSignature) -> Vec<u8> {
    fn int(v: &[u8], out: &mut Vec<u8>) {
        let v = trim(v);
        let mut contents = Vec::with_capacity(v.len() + 1);
        if v.first().is_none_or(|b| b & 0x80 != 0) {
            contents.push(0);
        }
        contents.extend_from_slice(v);
        der::push_element(0x02, &contents, out);
    }
    let mut body = Vec::with_capacity(2 * 50);
    int(&sig.r, &mut body);
    int(&sig.s, &mut body);
    let mut out = Vec::with_capacity(body.len() + 3);
    der::push_element(0x30, &body, &mut out);
    out
}

/// The same signature with a low S, canonically encoded (Fabric's `SignatureToLowS`).
pub(crate) fn to_low_s_on(curve: EcCurve, der: &[u8]) -> Result<Vec<u8>, SignatureFormatError> {
    let (mut sig, _) = parse_prefix(der)?;
    if !curve.is_low_s(&sig.s) {
        sig.s = curve.negate(&sig.s)?;
    }
    Ok(encode(&sig))
}

/// A P-256 DER signature with S replaced by `n - S` when S is high (same validity).
pub(crate) fn to_low_s(der: &[u8]) -> Result<Vec<u8>, SignatureFormatError> {
    to_low_s_on(EcCurve::P256, der)
}

/// The other valid signature of the same message: S replaced by `n - S`. (A high-S
/// signature from a low-S one, to test that high S is refused.) P-256.
pub fn flip_s(der: &[u8]) -> Result<Vec<u8>, SignatureFormatError> {
    flip_s_on(EcCurve::P256, der)
}

/// [`flip_s`] on any supported curve.
pub fn flip_s_on(curve: EcCurve, der: &[u8]) -> Result<Vec<u8>, SignatureFormatError> {
    let mut sig = parse_exact(der)?;
    sig.s = curve.negate(&sig.s)?;
    Ok(encode(&sig))
}

/// Why [`check`] refuses a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// S above half the order: valid ECDSA, refused by Fabric's rule.
    HighS,
    DoesNotVerify,
}

/// The one ECDSA signature check: Fabric's low-S rule, then `sig` over SHA-256 of
/// `message` with the key `point` (SEC1) on `curve`, through the key's precomputed
/// `table` when it has one (P-256), else through ring. (For P-384 this is "P-384
/// with SHA-256", as Fabric verifies: a digest shorter than the order.)
pub(crate) fn check(
    curve: EcCurve,
    point: &[u8],
    table: Option<&KeyTable>,
    message: &[u8],
    sig: &RawSignature,
) -> Result<(), Refusal> {
    if !curve.is_low_s(&sig.s) {
        return Err(Refusal::HighS);
    }
    let valid = match (curve, table) {
        (EcCurve::P256, Some(table)) => table.verify(message, &sig.r, &sig.s),
        _ => verify_with_ring(curve, point, message, sig),
    };
    if valid {
        Ok(())
    } else {
        Err(Refusal::DoesNotVerify)
    }
}

/// ring's verification of `sig` (any S) over SHA-256 of `message`.
pub(crate) fn verify_with_ring(
    curve: EcCurve,
    point: &[u8],
    message: &[u8],
    sig: &RawSignature,
) -> bool {
    let alg = match curve {
        EcCurve::P256 => &ECDSA_P256_SHA256_ASN1,
        EcCurve::P384 => &ECDSA_P384_SHA256_ASN1,
    };
    UnparsedPublicKey::new(alg, point)
        .verify(message, &encode(sig))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(r: &[u8], s: &[u8]) -> Vec<u8> {
        encode(&RawSignature {
            r: r.to_vec(),
            s: s.to_vec(),
        })
    }

    #[test]
    fn high_s_is_flipped_and_low_s_kept() {
        for curve in [EcCurve::P256, EcCurve::P384] {
            let mut high = curve.order().to_vec();
            *high.last_mut().unwrap() -= 1; // n - 1: high
            let der = sig(&[7; 32], &high);
            assert!(!curve.is_low_s(&parse_exact(&der).unwrap().s));
            let low = to_low_s_on(curve, &der).unwrap();
            let parsed = parse_exact(&low).unwrap();
            assert_eq!(parsed.r, vec![7; 32]);
            assert_eq!(parsed.s, vec![1], "n - (n - 1) = 1");
            assert_eq!(to_low_s_on(curve, &low).unwrap(), low);
            assert_eq!(flip_s_on(curve, &low).unwrap(), der);
        }
    }

    #[test]
    fn half_order_is_the_boundary() {
        for curve in [EcCurve::P256, EcCurve::P384] {
            let half = curve.half_order();
            assert!(curve.is_low_s(&half));
            let mut above = half.clone();
            *above.last_mut().unwrap() += 1;
            assert!(!curve.is_low_s(&above));
            let mut wider = vec![1u8];
            wider.extend_from_slice(&half);
            assert!(!curve.is_low_s(&wider));
        }
    }

    #[test]
    fn encoding_is_canonical() {
        // A high first bit needs a zero byte; leading zeros are dropped.
        assert_eq!(
            sig(&[0x80], &[0, 0, 1]),
            [0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x01]
        );
    }

    #[test]
    fn malformed_signatures_are_refused() {
        for bad in [
            &[][..],
            &[0x30, 0x00],
            &[0x30, 0x03, 0x02, 0x01],
            &[0x31, 0x00],
            // A negative INTEGER.
            &[0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01],
            // A zero INTEGER.
            &[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01],
            // Not minimal: 00 01.
            &[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01],
            // A third INTEGER.
            &[
                0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01,
            ],
        ] {
            assert!(parse_exact(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bytes_after_the_sequence_are_ignored_like_go_but_not_by_parse_exact() {
        let mut der = sig(&[1], &[2]);
        der.extend_from_slice(b"junk");
        let (parsed, rest) = parse_prefix(&der).unwrap();
        assert_eq!((parsed.r, parsed.s), (vec![1], vec![2]));
        assert_eq!(rest, b"junk");
        assert!(parse_exact(&der).is_err());
    }

    #[test]
    fn a_third_integer_in_the_sequence_is_ignored_like_go_but_not_by_parse_exact() {
        let der = [
            0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x02, 0x01, 0x64,
        ];
        let (parsed, rest) = parse_prefix(&der).unwrap();
        assert_eq!((parsed.r, parsed.s), (vec![1], vec![2]));
        assert!(rest.is_empty());
        assert!(parse_exact(&der).is_err());
    }
}
