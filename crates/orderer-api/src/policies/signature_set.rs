//! From signed data to the identities a policy is evaluated over, as Fabric 2.x's
//! `SignatureSetToValidIdentities` does, remembering why each left-out signature
//! was left out.

use std::collections::HashMap;
use std::sync::Arc;

use super::error::{RejectedSignature, Rejection};
use super::{Identity, IdentityDeserializer, SignedData};

/// The distinct, validly signing identities of a signature set, in order, and the
/// signatures left out.
#[derive(Debug, Default)]
pub(crate) struct SignatureSet {
    pub(crate) identities: Vec<Arc<dyn Identity>>,
    pub(crate) rejected: Vec<RejectedSignature>,
}

impl SignatureSet {
    /// For each signature in order: deserialize its creator (skip it if the MSPs
    /// refuse it), skip it if its identity already counts, verify it (skip it if
    /// invalid), and keep its identity.
    ///
    /// As in Fabric, an identity counts once it has one valid signature: the
    /// duplicate check comes before verification (so repeating one signature does
    /// not cost repeated verifications), but an identity is only recorded after a
    /// valid signature, so a bad first signature does not shadow a good later one.
    pub(crate) fn from_signed_data(
        signed: &[SignedData],
        deserializer: &dyn IdentityDeserializer,
    ) -> Self {
        let mut set = SignatureSet::default();
        let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
        for (index, sd) in signed.iter().enumerate() {
            let identity = match deserializer.deserialize_identity(&sd.identity) {
                Ok(identity) => identity,
                Err(reason) => {
                    set.reject(index, Rejection::CreatorRefused(reason.to_string()));
                    continue;
                }
            };
            if let Some(&of) = seen.get(identity.unique_id()) {
                set.reject(index, Rejection::Duplicate { of });
                continue;
            }
            if let Err(reason) = identity.verify(&sd.data, &sd.signature) {
                set.reject(index, Rejection::InvalidSignature(reason.to_string()));
                continue;
            }
            seen.insert(identity.unique_id().to_vec(), index);
            set.identities.push(identity);
        }
        set
    }

    /// `identities` without repeats of one identity (the first is kept).
    pub(crate) fn from_identities(identities: &[Arc<dyn Identity>]) -> Self {
        let mut set = SignatureSet::default();
        let mut seen: HashMap<&[u8], usize> = HashMap::new();
        for (index, identity) in identities.iter().enumerate() {
            if let Some(&of) = seen.get(identity.unique_id()) {
                set.reject(index, Rejection::Duplicate { of });
                continue;
            }
            seen.insert(identity.unique_id(), index);
            set.identities.push(Arc::clone(identity));
        }
        set
    }

    fn reject(&mut self, index: usize, reason: Rejection) {
        tracing::debug!(index, %reason, "signature left out of policy evaluation");
        self.rejected.push(RejectedSignature { index, reason });
    }
}
