//! P-256 ECDSA verification with precomputed multiples of the public key.
//!
//! A verification computes `u1·G + u2·Q` and compares its x coordinate with `r`.
//! Libraries keep a table of multiples of the generator `G`, but compute `u2·Q`
//! from scratch each time (about 256 doublings). The orderer sees the same few
//! creators sign thousands of envelopes, so for a creator seen often it keeps a
//! table of `d·2^(W·i)·Q` as well (signed W-bit digits, `d` in 1..=2^(W-1)): the
//! sum is then about 55 additions and no doubling, and x is compared without an
//! inversion.
//!
//! Safe Rust: tables are built with RustCrypto's `p256`, the sum is taken with
//! [`crate::p256_point`] (Jacobian coordinates on fiat-crypto's field). Variable
//! time is fine: everything here is public (key, message, signature). Tested
//! against ring and Wycheproof's vectors (tests below and `signature_tests.rs`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::elliptic_curve::{BatchNormalize, PrimeField};
use p256::{FieldBytes, ProjectivePoint, PublicKey, Scalar};

use crate::p256_point::{Affine, Jacobian};

/// Window widths (bench/README.md): a key's table of W bits holds
/// 2^(W-1)·⌈257/W⌉ affine points of 64 bytes (W 10: 832 KiB, 26 additions; W 8
/// would be 264 KiB and 33 additions); the generator's, built once per process,
/// is 2.8 MiB.
const KEY_W: usize = 10;
const GENERATOR_W: usize = 12;

/// Key tables alive at most (13 MiB together); past this, keys verify without one.
pub(crate) const MAX_TABLES: usize = 16;
static TABLES: AtomicUsize = AtomicUsize::new(0);

/// `d·2^(W·i)·P` for every window `i` and `d` in 1..=2^(W-1), affine.
struct FixedBase<const W: usize> {
    points: Vec<Affine>,
}

impl<const W: usize> FixedBase<W> {
    const HALF: usize = 1 << (W - 1);
    /// Windows over a 256-bit scalar, plus the carry of the last signed digit.
    const WINDOWS: usize = 257usize.div_ceil(W);

    /// `None` only if a multiple were the identity, which a point of prime order
    /// n cannot give (every multiplier is below n times a power of two).
    fn new(p: ProjectivePoint) -> Option<Self> {
        let mut multiples = Vec::with_capacity(Self::WINDOWS * Self::HALF);
        let mut base = p;
        for _ in 0..Self::WINDOWS {
            let mut acc = base;
            for _ in 0..Self::HALF {
                multiples.push(acc);
                acc += &base;
            }
            for _ in 0..W {
                base = base.double();
            }
        }
        // One field inversion for the whole table instead of one per point.
        let affine = <ProjectivePoint as BatchNormalize<[ProjectivePoint]>>::batch_normalize(
            multiples.as_slice(),
        );
        let points = affine
            .iter()
            .map(|point| {
                let encoded = point.to_sec1_point(false);
                let (x, y) = encoded.as_bytes().get(1..)?.split_at_checked(32)?;
                Affine::new(x.try_into().ok()?, y.try_into().ok()?)
            })
            .collect::<Option<Vec<_>>>()?;
        Some(FixedBase { points })
    }

    /// Appends the entries whose sum is `k·P` to `terms` (negated for negative
    /// digits).
    fn terms(&self, k: &Scalar, terms: &mut Vec<Affine>) {
        for (i, d) in signed_digits::<W>(k)
            .into_iter()
            .take(Self::WINDOWS)
            .enumerate()
        {
            let row = &self.points[i * Self::HALF..(i + 1) * Self::HALF];
            match d {
                0 => {}
                d if d > 0 => terms.push(row[d.unsigned_abs() as usize - 1]),
                d => terms.push(row[d.unsigned_abs() as usize - 1].neg()),
            }
        }
    }
}

/// Digits of the narrowest window used (8 bits); wider windows use fewer.
const MAX_WINDOWS: usize = 257usize.div_ceil(8);

/// `k` as ⌈257/W⌉ signed digits in -2^(W-1)..=2^(W-1), least significant first:
/// `k = Σ dᵢ·2^(W·i)`; the rest of the array is zero. On the stack: this runs
/// twice per verification.
fn signed_digits<const W: usize>(k: &Scalar) -> [i32; MAX_WINDOWS] {
    const { assert!(W >= 8, "at most MAX_WINDOWS digits") };
    let half = 1i32 << (W - 1);
    let [l0, l1, l2, l3] = crate::p256_point::be_limbs(&k.to_repr().into());
    // Five limbs: the fifth (zero) is read by the last window.
    let limbs = [l0, l1, l2, l3, 0];
    let mask = (1u64 << W) - 1;
    let mut digits = [0i32; MAX_WINDOWS];
    let mut carry = 0i32;
    for (i, digit) in digits.iter_mut().take(257usize.div_ceil(W)).enumerate() {
        let (limb, offset) = (i * W / 64, i * W % 64);
        let mut bits = limbs[limb] >> offset;
        if offset + W > 64 && limb + 1 < limbs.len() {
            bits |= limbs[limb + 1] << (64 - offset);
        }
        let mut d = (bits & mask) as i32 + carry;
        carry = 0;
        if d > half {
            d -= 1 << W;
            carry = 1;
        }
        *digit = d;
    }
    digits
}

fn generator() -> Option<&'static FixedBase<GENERATOR_W>> {
    static G: OnceLock<Option<FixedBase<GENERATOR_W>>> = OnceLock::new();
    G.get_or_init(|| FixedBase::new(ProjectivePoint::GENERATOR))
        .as_ref()
}

/// A P-256 public key with its table of multiples.
pub(crate) struct KeyTable {
    q: FixedBase<KEY_W>,
    /// Whether it counts against [`MAX_TABLES`].
    counted: bool,
}

impl std::fmt::Debug for KeyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyTable")
    }
}

impl KeyTable {
    /// The table of `point` (SEC1, as in a certificate); `None` if it is not an
    /// uncompressed P-256 point, or [`MAX_TABLES`] tables built this way exist
    /// already.
    pub(crate) fn new(point: &[u8]) -> Option<Self> {
        let key = uncompressed_key(point)?;
        if TABLES.fetch_add(1, Ordering::Relaxed) >= MAX_TABLES {
            TABLES.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let q = FixedBase::new(key.to_projective());
        if q.is_none() {
            TABLES.fetch_sub(1, Ordering::Relaxed);
        }
        Some(KeyTable {
            q: q?,
            counted: true,
        })
    }

    /// A table outside the count (tests, which build many).
    #[cfg(test)]
    pub(crate) fn uncounted(point: &[u8]) -> Option<Self> {
        let key = uncompressed_key(point)?;
        Some(KeyTable {
            q: FixedBase::new(key.to_projective())?,
            counted: false,
        })
    }

    /// Whether `(r, s)` (unsigned big-endian integers) is a signature by this key
    /// over SHA-256 of `message`. Any S below the order is accepted here; the low-S
    /// rule is the caller's.
    pub(crate) fn verify(&self, message: &[u8], r: &[u8], s: &[u8]) -> bool {
        let (Some(r), Some(s)) = (scalar(r), scalar(s)) else {
            return false;
        };
        let Some(s_inv) = crate::scalar_inverse::invert_mod_n(&s.to_repr().into())
            .and_then(|inverse| Option::<Scalar>::from(Scalar::from_repr(inverse.into())))
        else {
            return false;
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, message);
        let mut z = FieldBytes::default();
        z.copy_from_slice(digest.as_ref());
        let z = <Scalar as Reduce<FieldBytes>>::reduce(&z);
        let Some(generator) = generator() else {
            return false;
        };
        // Gathered first, then summed: the table reads (cache misses, mostly) do
        // not depend on each other, so the processor overlaps them instead of
        // waiting for each in turn between additions.
        let mut terms =
            Vec::with_capacity(FixedBase::<GENERATOR_W>::WINDOWS + FixedBase::<KEY_W>::WINDOWS);
        generator.terms(&(z * s_inv), &mut terms);
        self.q.terms(&(r * s_inv), &mut terms);
        let sum = terms
            .iter()
            .fold(Jacobian::IDENTITY, |sum, term| sum.add_affine(term));
        sum.x_matches(&r.to_repr().into())
    }
}

impl Drop for KeyTable {
    fn drop(&mut self) {
        if self.counted {
            TABLES.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The key of an uncompressed SEC1 point, the only form ring (and Go's x509)
/// accept: a table must never verify what ring refuses.
fn uncompressed_key(point: &[u8]) -> Option<PublicKey> {
    if point.len() != 65 || point[0] != 0x04 {
        return None;
    }
    PublicKey::from_sec1_bytes(point).ok()
}

/// A signature integer as a scalar in 1..n; `None` for 0, for n and above.
fn scalar(value: &[u8]) -> Option<Scalar> {
    let skip = value.iter().take_while(|b| **b == 0).count();
    let value = &value[skip..];
    if value.is_empty() || value.len() > 32 {
        return None;
    }
    let mut repr = FieldBytes::default();
    repr[32 - value.len()..].copy_from_slice(value);
    Option::from(Scalar::from_repr(repr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_digits_sum_to_the_scalar() {
        check_digits::<8>();
        check_digits::<10>();
        check_digits::<12>();
    }

    fn check_digits<const W: usize>() {
        let two_w = Scalar::from(1u64 << W);
        for k in [
            Scalar::ZERO,
            Scalar::ONE,
            -Scalar::ONE,
            Scalar::from(u64::MAX),
            Scalar::from(0x80u64),
            Scalar::from(0x81u64),
        ] {
            let digits = signed_digits::<W>(&k);
            let mut sum = Scalar::ZERO;
            for d in digits.iter().rev() {
                sum *= two_w;
                let m = Scalar::from(u64::from(d.unsigned_abs()));
                sum += if *d < 0 { -m } else { m };
            }
            assert_eq!(sum, k);
            assert!(digits.iter().all(|d| d.unsigned_abs() <= 1 << (W - 1)));
        }
    }

    #[test]
    fn signature_integers_outside_one_to_n_are_refused() {
        assert!(scalar(&[]).is_none());
        assert!(scalar(&[0, 0]).is_none());
        assert!(scalar(&[1]).is_some());
        assert!(scalar(&[0xff; 33]).is_none());
        // n itself.
        let n = hex32("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        assert!(scalar(&n).is_none());
        let mut below = n;
        below[31] -= 1;
        assert!(scalar(&below).is_some());
    }

    #[test]
    fn at_most_max_tables_are_counted_and_a_dropped_one_frees_its_place() {
        let key = ProjectivePoint::GENERATOR * Scalar::from(7u64);
        let point = PublicKey::from_affine(key.to_affine())
            .expect("a point")
            .to_sec1_point(false);
        let point = point.as_bytes();
        // Other tests in this process may hold counted tables too.
        let mut tables = Vec::new();
        while let Some(table) = KeyTable::new(point) {
            tables.push(table);
            assert!(tables.len() <= MAX_TABLES, "more than MAX_TABLES tables");
        }
        assert!(!tables.is_empty());
        assert_eq!(TABLES.load(Ordering::Relaxed), MAX_TABLES);
        assert!(
            KeyTable::uncounted(point).is_some(),
            "tests' tables do not count"
        );
        tables.pop();
        assert!(
            KeyTable::new(point).is_some(),
            "a dropped table frees its place"
        );
    }

    #[test]
    fn only_uncompressed_points_get_a_table() {
        let key = ProjectivePoint::GENERATOR * Scalar::from(11u64);
        let key = PublicKey::from_affine(key.to_affine()).expect("a point");
        let uncompressed = key.to_sec1_point(false);
        let compressed = key.to_sec1_point(true);
        assert!(KeyTable::uncounted(uncompressed.as_bytes()).is_some());
        assert!(KeyTable::uncounted(compressed.as_bytes()).is_none());
        // ring refuses the compressed form too: both paths answer alike.
        let sig = crate::ecdsa::RawSignature {
            r: vec![1],
            s: vec![1],
        };
        assert!(!crate::ecdsa::verify_with_ring(
            crate::ecdsa::EcCurve::P256,
            compressed.as_bytes(),
            b"m",
            &sig
        ));
    }

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }
}
