//! Fabric's policies, evaluated over signed data: the interface between the policy
//! engine (this module, pure) and the MSPs that know identities (orderer-msp, which
//! parses certificates and verifies signatures).
//!
//! A policy never sees a certificate: it asks an [`IdentityDeserializer`] (the
//! channel's MSPs) to turn the creator bytes of each signature into an [`Identity`],
//! which says whether it satisfies a principal and whether a signature of it holds.
//!
//! * [`PolicyManager`]: every policy of a channel config, compiled, by path
//!   (`/Channel/Orderer/BlockValidation`); what the node asks for a verdict.
//! * [`Policy`]: one compiled policy (signature or implicit meta) and its
//!   evaluation over [`SignedData`], failing with a [`PolicyError::NotSatisfied`]
//!   that says which rule failed and what became of each signature.
//! * [`SignedData::from_envelope`], [`SignedData::from_config_update_envelope`]: the
//!   signatures of Fabric's signed messages.
//! * [`dsl`]: builders and configtx.yaml's policy strings, for config generators.
//!
//! Evaluation mirrors Fabric 2.x rule for rule (see `signature.rs` and
//! `implicit_meta.rs`): every orderer of a channel must reach the same verdict.
//! Where this engine is stricter, it refuses at compile time a definition Fabric
//! would accept but that cannot mean what its author wanted (a negative or
//! unreachable `n_out_of`, an unknown implicit rule, absurd nesting).

mod error;
mod implicit_meta;
mod manager;
mod policy;
mod signature;
mod signature_set;
mod signed_data;

pub mod dsl;

#[cfg(test)]
mod tests;

use std::fmt::Debug;
use std::sync::Arc;

use bytes::Bytes;

use crate::proto::common::MspPrincipal;

pub use error::{CompileError, PolicyError, RejectedSignature, Rejection, Unsatisfied};
pub(crate) use manager::Definition;
pub use manager::PolicyManager;
pub use policy::Policy;
pub use signed_data::SignedDataError;

/// Signature policy rules nest at most this deep (a realistic policy nests 2 or 3);
/// deeper ones are refused when compiled or parsed, which also bounds recursion.
pub const MAX_RULE_DEPTH: usize = 32;

/// Config groups nest at most this deep under the root (Fabric's nest 3 deep).
pub const MAX_GROUP_DEPTH: usize = 32;

/// One signature to evaluate: `identity` (a marshalled `msp.SerializedIdentity`)
/// signed `data` with `signature`. Fabric's `protoutil.SignedData`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedData {
    pub data: Bytes,
    pub identity: Bytes,
    pub signature: Bytes,
}

/// Why an MSP refused an identity, a principal or a signature: the MSP's own typed
/// error (orderer-msp's `DeserializeError`, `PrincipalError`, `VerifyError`), boxed so
/// that these traits stay object safe and free of any MSP implementation. Its
/// Display is the reason a policy reports; callers may downcast it.
pub type MspRefusal = Box<dyn std::error::Error + Send + Sync>;

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
    fn satisfies_principal(&self, principal: &MspPrincipal) -> Result<(), MspRefusal>;

    /// `Ok` when `signature` is this identity's valid signature over `data`.
    fn verify(&self, data: &[u8], signature: &[u8]) -> Result<(), MspRefusal>;
}

/// The MSPs of a channel: turns serialized identities into validated identities.
pub trait IdentityDeserializer: Send + Sync + Debug {
    /// Parses a marshalled `msp.SerializedIdentity`, finds its MSP and validates it;
    /// the error says what is wrong (unknown MSP, untrusted, expired, revoked, ...).
    fn deserialize_identity(&self, serialized: &[u8]) -> Result<Arc<dyn Identity>, MspRefusal>;
}

// Channels hold their MSPs and identities behind `dyn`: the traits must stay
// object safe.
const _: Option<(&dyn Identity, &dyn IdentityDeserializer)> = None;
