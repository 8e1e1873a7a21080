//! `1/s mod n` for P-256's group order n, in variable time: the one inversion a
//! key-table verification still needs.
//!
//! Why not `p256::Scalar::invert_vartime`: it takes one divstep per loop
//! iteration and costs 5-7 µs here, about a sixth of a whole verification. This
//! is Bernstein and Yang's safegcd in the variable-time form Pieter Wuille
//! describes for libsecp256k1 (`doc/safegcd_implementation.md` there): 62
//! divsteps are computed on the low 64 bits of f and g alone, skipping runs of
//! zeros and cancelling several low bits of g at once, and the resulting 2x2
//! matrix is then applied to the full numbers (62-bit signed limbs) and to the
//! Bézout coefficients d and e, kept modulo n. Everything is public here (a
//! signature's s), so variable time is fine.

use crate::p256_point;

/// Bits per limb: five limbs hold a 256-bit number with room for the sign.
const BITS: u32 = 62;
const M62: u64 = u64::MAX >> 2;

/// A signed number `Σ limb[i]·2^(62·i)`; limbs 0..4 in 0..2^62 after each
/// update, the top one signed.
type Signed62 = [i64; 5];

/// n in 62-bit limbs.
const N: Signed62 = limbs62(&p256_point::N);

/// n⁻¹ mod 2^62 (Newton's iteration doubles the correct low bits each step).
const N_INV62: u64 = {
    let n0 = N[0] as u64;
    let mut inv = n0; // Correct to 3 bits for any odd n0.
    let mut i = 0;
    while i < 5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(inv)));
        i += 1;
    }
    inv & M62
};

/// Little-endian 64-bit limbs (below 2^256) as 62-bit limbs.
const fn limbs62(x: &[u64; 4]) -> Signed62 {
    [
        (x[0] & M62) as i64,
        ((x[0] >> 62 | x[1] << 2) & M62) as i64,
        ((x[1] >> 60 | x[2] << 4) & M62) as i64,
        ((x[2] >> 58 | x[3] << 6) & M62) as i64,
        (x[3] >> 56) as i64,
    ]
}

/// 62-bit limbs of a number in 0..2^256 back to little-endian 64-bit limbs.
fn limbs64(x: &Signed62) -> [u64; 4] {
    let l = x.map(|limb| limb as u64);
    [
        l[0] | l[1] << 62,
        l[1] >> 2 | l[2] << 60,
        l[2] >> 4 | l[3] << 58,
        l[3] >> 6 | l[4] << 56,
    ]
}

/// The transition matrix of 62 divsteps, scaled by 2^62:
/// `[f', g'] = [[u, v], [q, r]]·[f, g] / 2^62`.
struct Matrix {
    u: i64,
    v: i64,
    q: i64,
    r: i64,
}

/// 62 divsteps on the low bits of f (odd) and g; returns the new eta (= -delta).
fn divsteps_62(mut eta: i64, f0: u64, g0: u64) -> (i64, Matrix) {
    let (mut u, mut v, mut q, mut r) = (1u64, 0u64, 0u64, 1u64);
    let (mut f, mut g) = (f0, g0);
    let mut left = BITS;
    loop {
        // Every zero bit at the bottom of g is one divstep that halves g; the
        // sentinel bit stops the count at the steps left.
        let zeros = (g | u64::MAX << left).trailing_zeros();
        g >>= zeros;
        u <<= zeros;
        v <<= zeros;
        eta -= i64::from(zeros);
        left -= zeros;
        if left == 0 {
            break;
        }
        // g is odd now. At most `limit` steps can be taken before eta changes
        // sign or the steps run out.
        let limit = u32::try_from(eta.unsigned_abs().saturating_add(1))
            .unwrap_or(u32::MAX)
            .min(left);
        let w = if eta < 0 {
            // Swap so that the larger-eta value is f: (f, g) becomes (g, -f).
            eta = -eta;
            (f, g) = (g, f.wrapping_neg());
            (u, q) = (q, u.wrapping_neg());
            (v, r) = (r, v.wrapping_neg());
            let mask = (u64::MAX >> (64 - limit)) & 63;
            // -g/f mod 2^6, from f·(f²-2) = -1/f mod 2^6 for odd f.
            f.wrapping_mul(g)
                .wrapping_mul(f.wrapping_mul(f).wrapping_sub(2))
                & mask
        } else {
            let mask = (u64::MAX >> (64 - limit)) & 15;
            // f + ((f+1)&4)<<1 is 1/f mod 2^4 for odd f.
            let inv = f.wrapping_add((f.wrapping_add(1) & 4) << 1);
            inv.wrapping_neg().wrapping_mul(g) & mask
        };
        // Adding w·f clears as many low bits of g as the mask allows.
        g = g.wrapping_add(f.wrapping_mul(w));
        q = q.wrapping_add(u.wrapping_mul(w));
        r = r.wrapping_add(v.wrapping_mul(w));
    }
    // Each entry is in -2^62..=2^62, so the casts keep their signed values.
    let m = Matrix {
        u: u as i64,
        v: v as i64,
        q: q as i64,
        r: r as i64,
    };
    (eta, m)
}

/// `[f, g] = t·[f, g] / 2^62` (exact: the low 62 bits of both products are zero).
fn update_fg(f: &mut Signed62, g: &mut Signed62, t: &Matrix) {
    let mut cf = i128::from(t.u) * i128::from(f[0]) + i128::from(t.v) * i128::from(g[0]);
    let mut cg = i128::from(t.q) * i128::from(f[0]) + i128::from(t.r) * i128::from(g[0]);
    cf >>= BITS;
    cg >>= BITS;
    for i in 1..5 {
        cf += i128::from(t.u) * i128::from(f[i]) + i128::from(t.v) * i128::from(g[i]);
        cg += i128::from(t.q) * i128::from(f[i]) + i128::from(t.r) * i128::from(g[i]);
        f[i - 1] = (cf as u64 & M62) as i64;
        g[i - 1] = (cg as u64 & M62) as i64;
        cf >>= BITS;
        cg >>= BITS;
    }
    f[4] = cf as i64;
    g[4] = cg as i64;
}

/// `[d, e] = t·[d, e] / 2^62 mod n`, keeping both in -2n..n: a multiple of n is
/// added first so that the division by 2^62 is exact.
fn update_de(d: &mut Signed62, e: &mut Signed62, t: &Matrix) {
    let (sd, se) = (d[4] >> 63, e[4] >> 63);
    // Start from n·[u, q] if d < 0 and n·[v, r] if e < 0: this keeps the
    // result above -2n.
    let mut md = (t.u & sd) + (t.v & se);
    let mut me = (t.q & sd) + (t.r & se);
    let mut cd = i128::from(t.u) * i128::from(d[0]) + i128::from(t.v) * i128::from(e[0]);
    let mut ce = i128::from(t.q) * i128::from(d[0]) + i128::from(t.r) * i128::from(e[0]);
    // Choose md, me so that the low 62 bits of cd + n·md and ce + n·me vanish.
    md -= (N_INV62.wrapping_mul(cd as u64).wrapping_add(md as u64) & M62) as i64;
    me -= (N_INV62.wrapping_mul(ce as u64).wrapping_add(me as u64) & M62) as i64;
    cd += i128::from(N[0]) * i128::from(md);
    ce += i128::from(N[0]) * i128::from(me);
    cd >>= BITS;
    ce >>= BITS;
    for i in 1..5 {
        cd += i128::from(t.u) * i128::from(d[i])
            + i128::from(t.v) * i128::from(e[i])
            + i128::from(N[i]) * i128::from(md);
        ce += i128::from(t.q) * i128::from(d[i])
            + i128::from(t.r) * i128::from(e[i])
            + i128::from(N[i]) * i128::from(me);
        d[i - 1] = (cd as u64 & M62) as i64;
        e[i - 1] = (ce as u64 & M62) as i64;
        cd >>= BITS;
        ce >>= BITS;
    }
    d[4] = cd as i64;
    e[4] = ce as i64;
}

/// Carries every limb but the top one into 0..2^62.
fn propagate(x: &mut Signed62) {
    for i in 0..4 {
        x[i + 1] += x[i] >> BITS;
        x[i] &= M62 as i64;
    }
}

fn add_n(x: &mut Signed62) {
    for (limb, n) in x.iter_mut().zip(N) {
        *limb += n;
    }
    propagate(x);
}

/// `d` (in -2n..n), negated if `negate`, brought into 0..n.
fn normalize(mut d: Signed62, negate: bool) -> Signed62 {
    if d[4] < 0 {
        add_n(&mut d);
    }
    if negate {
        for limb in &mut d {
            *limb = -*limb;
        }
        propagate(&mut d);
    }
    if d[4] < 0 {
        add_n(&mut d);
    }
    d
}

/// Rounds of 62 divsteps at most: 12 suffice for 256-bit inputs (the bound
/// libsecp256k1 checks for this algorithm). More would be a bug, and is answered
/// with `None` (the signature is refused), never with a wrong inverse.
const MAX_ROUNDS: usize = 13;

/// `x⁻¹ mod n` for a big-endian `x` in 1..n; `None` for 0 and for n or above.
pub(crate) fn invert_mod_n(x: &[u8; 32]) -> Option<[u8; 32]> {
    let x64 = p256_point::be_limbs(x);
    if x64 == [0; 4] || !p256_point::below(&x64, &p256_point::N) {
        return None;
    }
    let (mut d, mut e) = ([0i64; 5], [1i64, 0, 0, 0, 0]);
    let (mut f, mut g) = (N, limbs62(&x64));
    let mut eta = -1i64;
    let mut rounds = 0;
    while g != [0; 5] {
        rounds += 1;
        if rounds > MAX_ROUNDS {
            return None;
        }
        let (next, t) = divsteps_62(eta, f[0] as u64, g[0] as u64);
        eta = next;
        update_de(&mut d, &mut e, &t);
        update_fg(&mut f, &mut g, &t);
    }
    // f is now ±gcd(n, x) = ±1, and d·x = f (mod n).
    let negative = f[4] < 0;
    let mut abs_f = f;
    if negative {
        for limb in &mut abs_f {
            *limb = -*limb;
        }
        propagate(&mut abs_f);
    }
    if abs_f != [1, 0, 0, 0, 0] {
        return None;
    }
    Some(p256_point::to_be_bytes(&limbs64(&normalize(d, negative))))
}

#[cfg(test)]
mod tests {
    use p256::Scalar;
    use p256::elliptic_curve::PrimeField;
    use proptest::prelude::*;

    use super::*;

    fn pow2(k: u32) -> Scalar {
        (0..k).fold(Scalar::ONE, |x, _| x + x)
    }

    fn check(x: &Scalar) {
        let inverse = invert_mod_n(&x.to_repr().into()).expect("nonzero");
        let inverse = Option::<Scalar>::from(Scalar::from_repr(inverse.into())).expect("below n");
        assert_eq!(inverse * x, Scalar::ONE, "x = {x:?}");
        assert_eq!(Option::<Scalar>::from(x.invert()), Some(inverse));
    }

    #[test]
    fn the_constants_are_n_and_its_inverse() {
        assert_eq!(limbs62(&limbs64(&N)), N);
        assert_eq!((N[0] as u64).wrapping_mul(N_INV62) & M62, 1);
    }

    #[test]
    fn edge_values_invert() {
        for x in [
            Scalar::ONE,
            Scalar::from(2u64),
            Scalar::from(3u64),
            -Scalar::ONE,
            -Scalar::from(2u64),
            Scalar::from(u64::MAX),
            Scalar::from(1u64 << 62),
            pow2(255),
            pow2(248),
        ] {
            check(&x);
        }
    }

    #[test]
    fn zero_and_n_or_above_are_refused() {
        assert_eq!(invert_mod_n(&[0; 32]), None);
        let mut be = p256_point::to_be_bytes(&limbs64(&N));
        assert_eq!(invert_mod_n(&be), None, "n");
        assert_eq!(invert_mod_n(&[0xff; 32]), None, "2^256 - 1");
        be[31] -= 1;
        assert!(invert_mod_n(&be).is_some(), "n - 1");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        #[test]
        fn random_scalars_invert_like_p256(bytes in any::<[u8; 32]>()) {
            let x = <Scalar as p256::elliptic_curve::ops::Reduce<p256::FieldBytes>>::reduce(&bytes.into());
            if x != Scalar::ZERO {
                check(&x);
            }
        }

        #[test]
        fn small_and_sparse_scalars_invert(k in 1u64.., shift in 0u32..200) {
            check(&(Scalar::from(k) * pow2(shift)));
        }
    }
}
