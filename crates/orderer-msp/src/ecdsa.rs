//! ECDSA signatures in DER, and Fabric's low-S rule: of the two valid S values of a
//! signature, only the one at most half the curve order is accepted, so that a
//! signature cannot be altered into another valid one.

/// The order of the P-256 group.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `(r, s)` of a DER `SEQUENCE { INTEGER r, INTEGER s }`, as 32-byte big-endian values.
pub(crate) fn parse(der: &[u8]) -> Result<([u8; 32], [u8; 32]), String> {
    let body = match der {
        [0x30, len, rest @ ..] if usize::from(*len) == rest.len() && *len < 0x80 => rest,
        _ => return Err("not a DER SEQUENCE of two integers".into()),
    };
    let (r, rest) = integer(body)?;
    let (s, rest) = integer(rest)?;
    if !rest.is_empty() {
        return Err("trailing bytes after the two integers".into());
    }
    Ok((r, s))
}

/// One DER INTEGER that fits 256 bits, and what follows it.
fn integer(der: &[u8]) -> Result<([u8; 32], &[u8]), String> {
    let (len, rest) = match der {
        [0x02, len, rest @ ..] if usize::from(*len) <= rest.len() && *len > 0 => {
            (usize::from(*len), rest)
        }
        _ => return Err("expected an INTEGER".into()),
    };
    let (value, rest) = rest.split_at(len);
    if value[0] & 0x80 != 0 {
        return Err("negative INTEGER".into());
    }
    let value = match value {
        [0, tail @ ..] if !tail.is_empty() => tail,
        v => v,
    };
    if value.len() > 32 {
        return Err("INTEGER larger than 256 bits".into());
    }
    let mut out = [0u8; 32];
    out[32 - value.len()..].copy_from_slice(value);
    Ok((out, rest))
}

fn half_order() -> [u8; 32] {
    let mut half = [0u8; 32];
    let mut carry = 0u8;
    for (i, b) in P256_N.iter().enumerate() {
        half[i] = (b >> 1) | carry;
        carry = (b & 1) << 7;
    }
    half
}

/// Whether `s` is at most half the P-256 order.
pub(crate) fn is_low_s(s: &[u8; 32]) -> bool {
    *s <= half_order()
}

/// A DER signature with S replaced by `n - S` when S is high (same validity).
pub(crate) fn to_low_s(der: &[u8]) -> Result<Vec<u8>, String> {
    let (_, s) = parse(der)?;
    if is_low_s(&s) {
        return Ok(der.to_vec());
    }
    flip_s(der)
}

/// The other valid signature of the same message: S replaced by `n - S`. (A high-S
/// signature from a low-S one, to test that high S is refused.)
pub fn flip_s(der: &[u8]) -> Result<Vec<u8>, String> {
    let (r, s) = parse(der)?;
    let mut low = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(P256_N[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        low[i] = (d + 256 * borrow) as u8;
    }
    Ok(encode(&r, &low))
}

/// DER of `SEQUENCE { INTEGER r, INTEGER s }`.
pub(crate) fn encode(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
    fn int(v: &[u8; 32], out: &mut Vec<u8>) {
        let first = v.iter().position(|b| *b != 0).unwrap_or(31);
        let digits = &v[first..];
        let pad = digits[0] & 0x80 != 0;
        out.push(0x02);
        out.push((digits.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(digits);
    }
    let mut body = Vec::with_capacity(72);
    int(r, &mut body);
    int(s, &mut body);
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_s_is_flipped_and_low_s_kept() {
        let r = [7u8; 32];
        let mut high = P256_N;
        high[31] -= 1; // n - 1: high
        let der = encode(&r, &high);
        let (_, s) = parse(&der).unwrap();
        assert!(!is_low_s(&s));
        let low = to_low_s(&der).unwrap();
        let (r2, s2) = parse(&low).unwrap();
        assert_eq!(r2, r);
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(s2, one, "n - (n - 1) = 1");
        assert_eq!(to_low_s(&low).unwrap(), low);
    }

    #[test]
    fn half_order_is_the_boundary() {
        let half = half_order();
        assert!(is_low_s(&half));
        let mut above = half;
        above[31] += 1;
        assert!(!is_low_s(&above));
    }

    #[test]
    fn malformed_signatures_are_refused() {
        for bad in [
            &[][..],
            &[0x30, 0x00],
            &[0x30, 0x03, 0x02, 0x01],
            &[0x31, 0x00],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        // A negative INTEGER.
        assert!(parse(&[0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01]).is_err());
    }
}
