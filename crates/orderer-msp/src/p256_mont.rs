//! Montgomery multiplication and squaring modulo P-256's prime, using its shape.
//!
//! Why not fiat-crypto's (used for everything else in [`crate::p256_point`]): its
//! reduction is the generic word-by-word algorithm, three multiplications by the
//! prime's limbs per word. Here the prime's shape does most of that work:
//! p = 2^256 - 2^224 + 2^192 + 2^96 - 1, so -p⁻¹ mod 2^64 is 1 (the quotient
//! digit is the low limb itself), `q·p0 + q` is `q·2^64`, `q·p1` is a shift, and
//! only `q·p3` needs a multiplication. Squaring computes each cross product once.
//! Measured on this machine against fiat's: 12% faster multiplication and 17%
//! faster squaring, which is most of a verification's time. The tests below hold
//! both to fiat's results.

use crate::p256_point::P;

/// `a + b + carry`, and the carry out.
#[inline(always)]
fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = u128::from(a) + u128::from(b) + u128::from(carry);
    (t as u64, (t >> 64) as u64)
}

/// `acc + b·c + carry` (cannot overflow 128 bits), and the high word.
#[inline(always)]
fn mac(acc: u64, b: u64, c: u64, carry: u64) -> (u64, u64) {
    let t = u128::from(acc) + u128::from(b) * u128::from(c) + u128::from(carry);
    (t as u64, (t >> 64) as u64)
}

/// `a - b - borrow`, and the borrow out.
#[inline(always)]
fn sbb(a: u64, b: u64, borrow: bool) -> (u64, bool) {
    let (x, b1) = a.overflowing_sub(b);
    let (x, b2) = x.overflowing_sub(u64::from(borrow));
    (x, b1 | b2)
}

/// `t·2^-256 mod p` for `t < p·2^256`, fully reduced.
#[inline(always)]
fn reduce(mut t: [u64; 8]) -> [u64; 4] {
    // Carries out of t[7]: the sum stays below 2^513, so this is 0 or 1.
    let mut top = 0u64;
    for i in 0..4 {
        // Add q·p·2^(64i) with q = t[i], which clears limb i. Its parts:
        // q·p0 + t[i] = q·2^64 and q·p1 = q·2^32 - q, so limbs i+1 and i+2
        // receive q·2^32 in all; limbs i+3 and i+4 receive q·p3; p2 is zero.
        let q = t[i];
        let mut c;
        (t[i + 1], c) = adc(t[i + 1], q << 32, 0);
        (t[i + 2], c) = adc(t[i + 2], q >> 32, c);
        let w = u128::from(q) * u128::from(P[3]);
        (t[i + 3], c) = adc(t[i + 3], w as u64, c);
        (t[i + 4], c) = adc(t[i + 4], (w >> 64) as u64, c);
        for limb in t.iter_mut().skip(i + 5) {
            (*limb, c) = adc(*limb, 0, c);
        }
        top += c;
    }
    // The result, below 2p, is (top, t[4..8]): subtract p once if it is >= p.
    let r = [t[4], t[5], t[6], t[7]];
    let mut diff = [0u64; 4];
    let mut borrow = false;
    for ((d, x), p) in diff.iter_mut().zip(r).zip(P) {
        (*d, borrow) = sbb(x, p, borrow);
    }
    if borrow && top == 0 { r } else { diff }
}

/// `a·b·2^-256 mod p` for `a, b < p`.
#[inline]
pub(crate) fn mul(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
    let mut t = [0u64; 8];
    for i in 0..4 {
        let mut carry = 0;
        for j in 0..4 {
            (t[i + j], carry) = mac(t[i + j], a[i], b[j], carry);
        }
        t[i + 4] = carry;
    }
    reduce(t)
}

/// `a²·2^-256 mod p` for `a < p`.
#[inline]
pub(crate) fn square(a: &[u64; 4]) -> [u64; 4] {
    // The six cross products a[i]·a[j] (i < j), once each.
    let (x1, c) = mac(0, a[0], a[1], 0);
    let (x2, c) = mac(0, a[0], a[2], c);
    let (x3, x4) = mac(0, a[0], a[3], c);
    let (x3, c) = mac(x3, a[1], a[2], 0);
    let (x4, x5) = mac(x4, a[1], a[3], c);
    let (x5, x6) = mac(x5, a[2], a[3], 0);
    // Doubled.
    let x7 = x6 >> 63;
    let x6 = (x6 << 1) | (x5 >> 63);
    let x5 = (x5 << 1) | (x4 >> 63);
    let x4 = (x4 << 1) | (x3 >> 63);
    let x3 = (x3 << 1) | (x2 >> 63);
    let x2 = (x2 << 1) | (x1 >> 63);
    let x1 = x1 << 1;
    // Plus the squares a[i]² on the diagonal.
    let (t0, c) = mac(0, a[0], a[0], 0);
    let (t1, c) = adc(x1, c, 0);
    let d1 = u128::from(a[1]) * u128::from(a[1]);
    let (t2, c) = adc(x2, d1 as u64, c);
    let (t3, c) = adc(x3, (d1 >> 64) as u64, c);
    let d2 = u128::from(a[2]) * u128::from(a[2]);
    let (t4, c) = adc(x4, d2 as u64, c);
    let (t5, c) = adc(x5, (d2 >> 64) as u64, c);
    let d3 = u128::from(a[3]) * u128::from(a[3]);
    let (t6, c) = adc(x6, d3 as u64, c);
    // The square is below 2^512: no carry out of the top limb.
    let (t7, _) = adc(x7, (d3 >> 64) as u64, c);
    reduce([t0, t1, t2, t3, t4, t5, t6, t7])
}

#[cfg(test)]
mod tests {
    use fiat_crypto::p256_64::{
        fiat_p256_montgomery_domain_field_element as Mont, fiat_p256_mul, fiat_p256_square,
    };
    use proptest::prelude::*;

    use super::*;

    fn fiat_mul(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
        let mut out = Mont([0; 4]);
        fiat_p256_mul(&mut out, &Mont(*a), &Mont(*b));
        out.0
    }

    fn fiat_square(a: &[u64; 4]) -> [u64; 4] {
        let mut out = Mont([0; 4]);
        fiat_p256_square(&mut out, &Mont(*a));
        out.0
    }

    /// Below p: the top limb is lowered when it would not be.
    fn below_p(mut x: [u64; 4]) -> [u64; 4] {
        if x[3] >= P[3] {
            x[3] = P[3] - 1;
        }
        x
    }

    /// Values where carries and the final subtraction are at their limits.
    fn edges() -> Vec<[u64; 4]> {
        let p_minus = |k: u64| [P[0] - k, P[1], P[2], P[3]];
        vec![
            [0; 4],
            [1, 0, 0, 0],
            [2, 0, 0, 0],
            p_minus(1),
            p_minus(2),
            p_minus(0x1_0000),
            [u64::MAX, u64::MAX, u64::MAX, P[3] - 1],
            [u64::MAX, 0, 0, 0],
            [0, u64::MAX, 0, 0],
            [0, 0, u64::MAX, 0],
            [0, 0, 0, P[3] - 1],
            [0, 0, 0, 1 << 63],
            // 2^256 mod p (Montgomery's one) and its neighbours.
            [1, 0xffff_ffff_0000_0000, u64::MAX, 0x0000_0000_ffff_fffe],
            [0, 0xffff_ffff_0000_0000, u64::MAX, 0x0000_0000_ffff_fffe],
            [2, 0xffff_ffff_0000_0000, u64::MAX, 0x0000_0000_ffff_fffe],
        ]
    }

    #[test]
    fn edge_values_match_fiat() {
        for a in edges() {
            assert_eq!(square(&a), fiat_square(&a), "square of {a:x?}");
            for b in edges() {
                assert_eq!(mul(&a, &b), fiat_mul(&a, &b), "{a:x?} · {b:x?}");
            }
        }
    }

    #[test]
    fn long_chains_match_fiat() {
        // Each output feeds the next input, as in a verification.
        let (mut ours, mut theirs) = ([3u64, 5, 7, 11], [3u64, 5, 7, 11]);
        let k = [0x1234_5678_9abc_def0, 0x0fed_cba9_8765_4321, 42, P[3] - 7];
        for i in 0..100_000 {
            ours = if i % 3 == 0 {
                square(&ours)
            } else {
                mul(&ours, &k)
            };
            theirs = if i % 3 == 0 {
                fiat_square(&theirs)
            } else {
                fiat_mul(&theirs, &k)
            };
            assert_eq!(ours, theirs, "step {i}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn random_values_match_fiat(a in any::<[u64; 4]>(), b in any::<[u64; 4]>()) {
            let (a, b) = (below_p(a), below_p(b));
            prop_assert_eq!(mul(&a, &b), fiat_mul(&a, &b));
            prop_assert_eq!(square(&a), fiat_square(&a));
        }

        #[test]
        fn sparse_values_match_fiat(
            limbs in proptest::collection::vec(prop_oneof![Just(0u64), Just(u64::MAX), Just(1u64), any::<u64>()], 8),
        ) {
            let a = below_p([limbs[0], limbs[1], limbs[2], limbs[3]]);
            let b = below_p([limbs[4], limbs[5], limbs[6], limbs[7]]);
            prop_assert_eq!(mul(&a, &b), fiat_mul(&a, &b));
            prop_assert_eq!(square(&b), fiat_square(&b));
        }
    }
}
