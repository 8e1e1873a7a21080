//! Fabric's policies, evaluated over signed data: the interface between the policy
//! engine (this module, pure) and the MSPs that know identities (orderer-msp, which
//! parses certificates and verifies signatures).
//!
//! A policy never sees a certificate: it asks an [`IdentityDeserializer`] (the
//! channel's MSPs) to turn the creator bytes of each signature into an [`Identity`],
//! which says whether it satisfies a principal and whether a signature of it holds.

use std::fmt::Debug;
use std::sync::Arc;

use bytes::Bytes;

use crate::proto::common::MspPrincipal;

/// One signature to evaluate: `identity` (a marshalled `msp.SerializedIdentity`)
/// signed `data` with `signature`. Fabric's `protoutil.SignedData`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedData {
    pub data: Bytes,
    pub identity: Bytes,
    pub signature: Bytes,
}

/// An identity of some MSP, validated when it was deserialized (chain to the MSP's
/// CAs, validity period, revocation, NodeOUs rules).
pub trait Identity: Send + Sync + Debug {
    /// The MSP the identity belongs to.
    fn msp_id(&self) -> &str;

    /// Bytes that tell identities apart (Fabric dedupes signatures by identity): the
    /// MSP ID and the certificate, e.g. the serialized identity.
    fn unique_id(&self) -> &[u8];

    /// `Ok` when the identity satisfies `principal` (ROLE, ORGANIZATION_UNIT,
    /// IDENTITY, ANONYMITY or COMBINED); the error says why not.
    fn satisfies_principal(&self, principal: &MspPrincipal) -> Result<(), String>;

    /// `Ok` when `signature` is this identity's valid signature over `data`.
    fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), String>;
}

/// The MSPs of a channel: turns serialized identities into validated identities.
pub trait IdentityDeserializer: Send + Sync + Debug {
    /// Parses a marshalled `msp.SerializedIdentity`, finds its MSP and validates it;
    /// the error says what is wrong (unknown MSP, untrusted, expired, revoked, ...).
    fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<dyn Identity>, String>;
}

// Channels hold their MSPs and identities behind `dyn`: the traits must stay
// object safe.
const _: Option<(&dyn Identity, &dyn IdentityDeserializer)> = None;
