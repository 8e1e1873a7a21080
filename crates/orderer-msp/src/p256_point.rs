//! The inner loop of [`crate::p256_table`]: P-256 points in Jacobian coordinates
//! over fiat-crypto's field arithmetic (generated from a machine-checked proof,
//! safe Rust), except multiplication and squaring, which use the prime's shape
//! ([`crate::p256_mont`], tested against fiat's).
//!
//! Why not RustCrypto's `ProjectivePoint` here: its complete formulas cost 13
//! multiplications and about 19 additions per point added, on a field whose
//! multiplication is ~25% slower than fiat's and addition 3x slower (measured on
//! this machine). A Jacobian mixed addition costs 7 multiplications and 4
//! squarings; its exceptional cases (adding a point to itself, to its negation,
//! or to the identity) are tested for and handled by branches, which is fine
//! because everything in a verification is public.
//!
//! Only verification uses this; tables are built with `p256` and converted.

use fiat_crypto::p256_64::{
    fiat_p256_add, fiat_p256_from_bytes, fiat_p256_montgomery_domain_field_element as Mont,
    fiat_p256_non_montgomery_domain_field_element as Plain, fiat_p256_nonzero, fiat_p256_opp,
    fiat_p256_sub, fiat_p256_to_montgomery,
};

/// An element of P-256's base field, in Montgomery form, always below p (fiat's
/// functions promise reduced outputs, so equal elements have equal limbs).
#[derive(Clone, Copy)]
pub(crate) struct Fe(Mont);

impl Fe {
    const ZERO: Fe = Fe(Mont([0; 4]));
    /// 1 in Montgomery form: 2^256 mod p.
    const ONE: Fe = Fe(Mont([
        0x0000_0000_0000_0001,
        0xffff_ffff_0000_0000,
        0xffff_ffff_ffff_ffff,
        0x0000_0000_ffff_fffe,
    ]));

    /// A big-endian integer below p; `None` at or above p.
    pub(crate) fn from_be_bytes(be: &[u8; 32]) -> Option<Fe> {
        let limbs = be_limbs(be);
        if !below(&limbs, &P) {
            return None;
        }
        let mut le = *be;
        le.reverse();
        let mut plain = [0u64; 4];
        fiat_p256_from_bytes(&mut plain, &le);
        let mut out = Mont([0; 4]);
        fiat_p256_to_montgomery(&mut out, &Plain(plain));
        Some(Fe(out))
    }

    #[inline]
    fn mul(&self, rhs: &Fe) -> Fe {
        Fe(Mont(crate::p256_mont::mul(&self.0.0, &rhs.0.0)))
    }

    #[inline]
    fn square(&self) -> Fe {
        Fe(Mont(crate::p256_mont::square(&self.0.0)))
    }

    #[inline]
    fn add(&self, rhs: &Fe) -> Fe {
        let mut out = Mont([0; 4]);
        fiat_p256_add(&mut out, &self.0, &rhs.0);
        Fe(out)
    }

    #[inline]
    fn sub(&self, rhs: &Fe) -> Fe {
        let mut out = Mont([0; 4]);
        fiat_p256_sub(&mut out, &self.0, &rhs.0);
        Fe(out)
    }

    #[inline]
    fn double(&self) -> Fe {
        self.add(self)
    }

    #[inline]
    fn neg(&self) -> Fe {
        let mut out = Mont([0; 4]);
        fiat_p256_opp(&mut out, &self.0);
        Fe(out)
    }

    #[inline]
    fn is_zero(&self) -> bool {
        let mut any = 0u64;
        fiat_p256_nonzero(&mut any, &self.0.0);
        any == 0
    }

    #[inline]
    fn equals(&self, rhs: &Fe) -> bool {
        self.0.0 == rhs.0.0
    }
}

/// p, little-endian limbs (also p256_mont's).
pub(crate) const P: [u64; 4] = [
    0xffff_ffff_ffff_ffff,
    0x0000_0000_ffff_ffff,
    0x0000_0000_0000_0000,
    0xffff_ffff_0000_0001,
];
/// n, the group order, little-endian limbs (also scalar_inverse's).
pub(crate) const N: [u64; 4] = [
    0xf3b9_cac2_fc63_2551,
    0xbce6_faad_a717_9e84,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_0000_0000,
];

/// A big-endian 256-bit integer as little-endian limbs.
pub(crate) fn be_limbs(be: &[u8; 32]) -> [u64; 4] {
    let mut limbs = [0u64; 4];
    for (limb, chunk) in limbs.iter_mut().zip(be.rchunks_exact(8)) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        *limb = u64::from_be_bytes(word);
    }
    limbs
}

/// The inverse of [`be_limbs`].
pub(crate) fn to_be_bytes(limbs: &[u64; 4]) -> [u8; 32] {
    let mut be = [0u8; 32];
    for (chunk, limb) in be.rchunks_exact_mut(8).zip(limbs) {
        chunk.copy_from_slice(&limb.to_be_bytes());
    }
    be
}

/// `a < b`, little-endian limbs.
pub(crate) fn below(a: &[u64; 4], b: &[u64; 4]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// A point in affine coordinates, never the identity (table entries). Aligned so
/// that a table entry is one cache line: a verification reads 55 entries at
/// random from megabytes of tables.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Affine {
    x: Fe,
    y: Fe,
}

impl Affine {
    /// From big-endian coordinates of a point on the curve (the caller's promise:
    /// they come from `p256`'s own points).
    pub(crate) fn new(x: &[u8; 32], y: &[u8; 32]) -> Option<Affine> {
        Some(Affine {
            x: Fe::from_be_bytes(x)?,
            y: Fe::from_be_bytes(y)?,
        })
    }

    pub(crate) fn neg(&self) -> Affine {
        Affine {
            x: self.x,
            y: self.y.neg(),
        }
    }
}

/// `(X : Y : Z)` stands for `(X/Z², Y/Z³)`; `Z = 0` is the identity.
#[derive(Clone, Copy)]
pub(crate) struct Jacobian {
    x: Fe,
    y: Fe,
    z: Fe,
}

impl Jacobian {
    pub(crate) const IDENTITY: Jacobian = Jacobian {
        x: Fe::ONE,
        y: Fe::ONE,
        z: Fe::ZERO,
    };

    fn is_identity(&self) -> bool {
        self.z.is_zero()
    }

    /// `self + q` (madd-2007-bl from the Explicit-Formulas Database: 7M + 4S),
    /// with the cases the formula does not cover handled first.
    pub(crate) fn add_affine(&self, q: &Affine) -> Jacobian {
        if self.is_identity() {
            return Jacobian {
                x: q.x,
                y: q.y,
                z: Fe::ONE,
            };
        }
        let z1z1 = self.z.square();
        let u2 = q.x.mul(&z1z1);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        let r = s2.sub(&self.y).double();
        if h.is_zero() {
            // Same x: q is self (double) or its negation (the sum is the identity).
            return if r.is_zero() {
                self.double()
            } else {
                Jacobian::IDENTITY
            };
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h.mul(&i);
        let v = self.x.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&self.y.mul(&j).double());
        let z3 = self.z.add(&h).square().sub(&z1z1).sub(&hh);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// `2·self` (dbl-2001-b, for a = -3). Only reached when a sum meets a table
    /// point equal to itself, so its cost does not matter.
    fn double(&self) -> Jacobian {
        if self.is_identity() || self.y.is_zero() {
            return Jacobian::IDENTITY;
        }
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x.mul(&gamma);
        let t = self.x.sub(&delta).mul(&self.x.add(&delta));
        let alpha = t.double().add(&t);
        let beta4 = beta.double().double();
        let x3 = alpha.square().sub(&beta4.double());
        let z3 = self.y.add(&self.z).square().sub(&gamma).sub(&delta);
        let gamma2_8 = gamma.square().double().double().double();
        let y3 = alpha.mul(&beta4.sub(&x3)).sub(&gamma2_8);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// Whether this point's affine x, reduced mod n, is `r` (a big-endian
    /// integer in 1..n): x is `r` or `r + n` (x < p < 2n). Compared as
    /// `X = x·Z²`, so no inversion. The identity matches nothing.
    pub(crate) fn x_matches(&self, r: &[u8; 32]) -> bool {
        if self.is_identity() {
            return false;
        }
        let zz = self.z.square();
        let Some(r_fe) = Fe::from_be_bytes(r) else {
            return false;
        };
        if self.x.equals(&r_fe.mul(&zz)) {
            return true;
        }
        let (sum, carry) = add_limbs(&be_limbs(r), &N);
        if carry || !below(&sum, &P) {
            return false;
        }
        Fe::from_be_bytes(&to_be_bytes(&sum)).is_some_and(|rn| self.x.equals(&rn.mul(&zz)))
    }

    /// The affine coordinates, big-endian (tests).
    #[cfg(test)]
    pub(crate) fn to_affine_bytes(self) -> Option<([u8; 32], [u8; 32])> {
        use fiat_crypto::p256_64::{fiat_p256_from_montgomery, fiat_p256_to_bytes};
        if self.is_identity() {
            return None;
        }
        // z^-1 by Fermat, z^(p-2): slow, tests only.
        let mut exp = P;
        exp[0] -= 2;
        let mut inv = Fe::ONE;
        for limb in exp.iter().rev() {
            for bit in (0..64).rev() {
                inv = inv.square();
                if limb >> bit & 1 == 1 {
                    inv = inv.mul(&self.z);
                }
            }
        }
        let inv2 = inv.square();
        let plain = |fe: Fe| {
            let mut limbs = Plain([0; 4]);
            fiat_p256_from_montgomery(&mut limbs, &fe.0);
            let mut le = [0u8; 32];
            fiat_p256_to_bytes(&mut le, &limbs.0);
            le.reverse();
            le
        };
        Some((plain(self.x.mul(&inv2)), plain(self.y.mul(&inv2).mul(&inv))))
    }
}

/// `a + b` over little-endian limbs, with the carry out.
fn add_limbs(a: &[u64; 4], b: &[u64; 4]) -> ([u64; 4], bool) {
    let mut out = [0u64; 4];
    let mut carry = false;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        let (s1, c1) = x.overflowing_add(*y);
        let (s2, c2) = s1.overflowing_add(u64::from(carry));
        *o = s2;
        carry = c1 || c2;
    }
    (out, carry)
}

#[cfg(test)]
mod tests {
    use p256::elliptic_curve::group::Group;
    use p256::elliptic_curve::sec1::ToSec1Point;
    use p256::{ProjectivePoint, Scalar};

    use super::*;

    fn coords(p: &ProjectivePoint) -> Option<([u8; 32], [u8; 32])> {
        let encoded = p.to_affine().to_sec1_point(false);
        let bytes = encoded.as_bytes();
        if bytes.len() != 65 {
            return None;
        }
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        x.copy_from_slice(&bytes[1..33]);
        y.copy_from_slice(&bytes[33..65]);
        Some((x, y))
    }

    fn affine(p: &ProjectivePoint) -> Affine {
        let (x, y) = coords(p).expect("not the identity");
        Affine::new(&x, &y).expect("coordinates below p")
    }

    #[test]
    fn one_is_montgomery_one() {
        let mut be = [0u8; 32];
        be[31] = 1;
        let one = Fe::from_be_bytes(&be).expect("1 < p");
        assert!(one.equals(&Fe::ONE));
        assert!(Fe::from_be_bytes(&to_be_bytes(&P)).is_none(), "p itself");
    }

    #[test]
    fn sums_match_p256_including_the_exceptional_cases() {
        let g = ProjectivePoint::GENERATOR;
        let points: Vec<ProjectivePoint> = [1u64, 2, 3, 7, 1 << 40, u64::MAX]
            .iter()
            .map(|k| g * Scalar::from(*k))
            .chain([g * -Scalar::ONE, g * -Scalar::from(5u64)])
            .collect();
        for a in &points {
            for b in &points {
                let acc = Jacobian::IDENTITY.add_affine(&affine(a));
                for (sum, expected) in [
                    (acc.add_affine(&affine(b)), *a + b),
                    (acc.add_affine(&affine(b).neg()), *a - b),
                    (acc.double(), a.double()),
                ] {
                    assert_eq!(sum.to_affine_bytes(), coords(&expected));
                }
            }
        }
        // P + P through the addition takes the doubling branch; P + (-P) is the identity.
        let p = affine(&(g * Scalar::from(9u64)));
        let once = Jacobian::IDENTITY.add_affine(&p);
        assert_eq!(
            once.add_affine(&p).to_affine_bytes(),
            coords(&(g * Scalar::from(18u64)))
        );
        assert!(once.add_affine(&p.neg()).is_identity());
        assert!(!once.add_affine(&p.neg()).x_matches(&[1; 32]));
    }

    #[test]
    fn x_matches_reads_x_mod_n() {
        let p = ProjectivePoint::GENERATOR * Scalar::from(12345u64);
        let (x, _) = coords(&p).expect("a point");
        // A Jacobian point with Z != 1: the same point after an addition round trip.
        let j = Jacobian::IDENTITY
            .add_affine(&affine(&(p - ProjectivePoint::GENERATOR)))
            .add_affine(&affine(&ProjectivePoint::GENERATOR));
        assert!(j.x_matches(&x));
        let mut other = x;
        other[31] ^= 1;
        assert!(!j.x_matches(&other));
    }
}
