//! Checks who signed an envelope: the creator's certificate against its MSP, then the
//! signature. Every envelope of a client carries the same creator, so the result of
//! validating a creator is cached; only the (cheap) validity period is rechecked.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use orderer_api::proto::msp::SerializedIdentity;
use prost::Message;

use crate::cert::pem_certs;
use crate::msp::{Msp, Validated};
use crate::{IdentityError, SignatureError, ecdsa};

/// Creators remembered; past this the cache starts over (bounds memory against
/// clients inventing identities).
const CACHE_ENTRIES: usize = 16_384;

/// A validated creator: who it is and the key its signatures must verify with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creator {
    validated: Validated,
}

impl Creator {
    pub fn msp_id(&self) -> &str {
        &self.validated.msp_id
    }

    /// Whether the whole chain is valid at `now` (seconds since the epoch).
    pub fn check_time(&self, now: i64) -> Result<(), IdentityError> {
        if now < self.validated.not_before {
            return Err(IdentityError::NotYetValid(
                self.validated.not_before_text.clone(),
            ));
        }
        if now > self.validated.not_after {
            return Err(IdentityError::Expired(
                self.validated.not_after_text.clone(),
            ));
        }
        Ok(())
    }

    /// Checks an ECDSA P-256 signature over SHA-256 of `message`: DER, low-S, valid.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        if signature.is_empty() {
            return Err(SignatureError::Missing);
        }
        let sig = ecdsa::parse_exact(signature).map_err(SignatureError::Malformed)?;
        ecdsa::check(
            ecdsa::EcCurve::P256,
            &self.validated.public_key,
            None,
            message,
            &sig,
        )
        .map_err(|e| match e {
            ecdsa::Refusal::HighS => SignatureError::HighS,
            ecdsa::Refusal::DoesNotVerify => SignatureError::Invalid,
        })
    }
}

/// The MSPs this orderer trusts, and the creators already validated against them.
#[derive(Debug, Default)]
pub struct Verifier {
    msps: HashMap<String, Msp>,
    cache: RwLock<HashMap<Bytes, Result<Arc<Creator>, IdentityError>>>,
}

impl Verifier {
    pub fn new(msps: impl IntoIterator<Item = Msp>) -> Self {
        Verifier {
            msps: msps.into_iter().map(|m| (m.id().to_owned(), m)).collect(),
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The MSP with this ID.
    pub fn msp(&self, id: &str) -> Option<&Msp> {
        self.msps.get(id)
    }

    /// Validates a marshalled `msp.SerializedIdentity` (cached) and checks it is valid
    /// at `now` (seconds since the epoch).
    pub fn identify(&self, creator: &Bytes, now: i64) -> Result<Arc<Creator>, IdentityError> {
        let cached = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(creator)
            .cloned();
        let result = match cached {
            Some(r) => r,
            None => {
                let r = self.validate(creator).map(Arc::new);
                let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
                if cache.len() >= CACHE_ENTRIES {
                    cache.clear();
                }
                cache.insert(creator.clone(), r.clone());
                r
            }
        };
        let creator = result?;
        creator.check_time(now)?;
        Ok(creator)
    }

    fn validate(&self, creator: &Bytes) -> Result<Creator, IdentityError> {
        if creator.is_empty() {
            return Err(IdentityError::Missing);
        }
        let id = SerializedIdentity::decode(creator.clone())
            .map_err(|e| IdentityError::Malformed(e.to_string()))?;
        let msp = self
            .msps
            .get(&id.mspid)
            .ok_or_else(|| IdentityError::UnknownMsp(id.mspid.clone()))?;
        let der = pem_certs(&id.id_bytes)
            .map_err(|e| IdentityError::BadCertificate(e.to_string()))?
            .into_iter()
            .next()
            .ok_or_else(|| {
                IdentityError::BadCertificate("no PEM certificate in id_bytes".into())
            })?;
        // The chain once; its validity period on every use (see `identify`).
        let validated = msp.validate(&der, None)?;
        Ok(Creator { validated })
    }
}
