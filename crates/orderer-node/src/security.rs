//! Who may broadcast and deliver, and the orderer's own signing identity.
//!
//! Every request envelope passes, in order: the ChannelHeader timestamp against
//! `General.Authentication.TimeWindow` (BAD_REQUEST); with mutual TLS, the
//! `tls_cert_hash` binding (BAD_REQUEST, as Fabric's Deliver); then the channel's
//! `/Channel/Writers` or `/Channel/Readers` policy over the envelope's signature, as
//! Fabric's signature filters evaluate it: the creator must be a valid identity of an
//! MSP of the channel config, its signature must verify, and the policy must be
//! satisfied (FORBIDDEN, with the policy's explanation).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use orderer_api::envelope::ParsedPayload;
use orderer_api::policies::SignedData;
use orderer_api::proto::common::{ChannelHeader, Envelope};
use orderer_msp::SigningIdentity;
use tracing::{info, warn};

use crate::bundle::{BLOCK_VALIDATION, Bundle};
use crate::config::Config;
use crate::ingress::IngressError;

/// What the TLS layer knows of the client.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientTls {
    /// SHA-256 of the client's TLS certificate, when it presented one.
    pub cert_hash: Option<[u8; 32]>,
}

/// The checks and the signing identity of this node.
#[derive(Debug)]
pub struct Security {
    /// `General.Authentication.SkipSignatureChecks`.
    skip_checks: bool,
    signer: Arc<SigningIdentity>,
    time_window: Duration,
    mutual_tls: bool,
}

impl Security {
    /// Loads the local identity; a broken file stops the start with its path and
    /// the problem.
    pub fn load(config: &Config) -> anyhow::Result<Security> {
        let g = &config.general;
        let signer = SigningIdentity::load(g.local_msp_dir.as_ref(), &g.local_msp_id)
            .with_context(|| {
                format!(
                    "General.LocalMSPDir {}: cannot load this orderer's identity",
                    g.local_msp_dir
                )
            })?;
        let skip_checks = g.authentication.skip_signature_checks;
        if skip_checks {
            warn!(
                "General.Authentication.SkipSignatureChecks is true: envelopes are accepted WITHOUT checking \
                 signatures, certificates or Writers/Readers; anyone who reaches this orderer can broadcast and deliver"
            );
        }
        info!(
            identity = %g.local_msp_id,
            signature_checks = !skip_checks,
            time_window = %orderer_api::duration::format(g.authentication.time_window.0),
            "security loaded"
        );
        Ok(Security {
            skip_checks,
            signer: Arc::new(signer),
            time_window: g.authentication.time_window.0,
            mutual_tls: g.tls.enabled && g.tls.client_auth_required,
        })
    }

    /// The identity that signs blocks.
    pub fn signer(&self) -> &Arc<SigningIdentity> {
        &self.signer
    }

    /// Whether checks cost signature verifications (worth running off the read loop).
    pub fn verifies(&self) -> bool {
        !self.skip_checks
    }

    /// The ChannelHeader timestamp must be within the time window of now.
    pub fn check_timestamp(&self, header: &ChannelHeader) -> Result<(), IngressError> {
        let Some(ts) = header.timestamp.as_ref() else {
            return Err(IngressError::Timestamp(
                "the channel header has no timestamp".into(),
            ));
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let then = Duration::new(
            ts.seconds.max(0) as u64,
            ts.nanos.clamp(0, 999_999_999) as u32,
        );
        let apart = now.abs_diff(then);
        if ts.seconds < 0 || apart > self.time_window {
            let direction = if then < now { "behind" } else { "ahead of" };
            return Err(IngressError::Timestamp(format!(
                "the channel header timestamp ({}s since the epoch) is {}s {direction} the orderer's clock, more than General.Authentication.TimeWindow ({})",
                ts.seconds,
                apart.as_secs(),
                orderer_api::duration::format(self.time_window)
            )));
        }
        Ok(())
    }

    /// Fabric's TLS binding. With mutual TLS, `required` requests (Deliver) must carry
    /// the hash of the client's TLS certificate; any request that claims a hash must
    /// carry the right one.
    pub fn check_binding(
        &self,
        header: &ChannelHeader,
        client: ClientTls,
        required: bool,
    ) -> Result<(), IngressError> {
        if !self.mutual_tls || (!required && header.tls_cert_hash.is_empty()) {
            return Ok(());
        }
        if header.tls_cert_hash.is_empty() {
            return Err(IngressError::TlsBinding(
                "the client did not include its TLS certificate hash (channel header tls_cert_hash), which mutual TLS requires".into(),
            ));
        }
        let Some(actual) = client.cert_hash else {
            return Err(IngressError::TlsBinding(
                "the client sent no TLS certificate".into(),
            ));
        };
        if header.tls_cert_hash.as_ref() != actual {
            return Err(IngressError::TlsBinding(
                "the channel header's tls_cert_hash is not the hash of the client's TLS certificate".into(),
            ));
        }
        Ok(())
    }

    /// Whether `env`'s signature satisfies the policy at `path` of the channel
    /// configuration `bundle`. Returns the signed data (to check again during a long
    /// stream), or `None` when signature checks are skipped.
    pub fn check_policy(
        &self,
        bundle: &Bundle,
        path: &str,
        env: &Envelope,
        payload: &ParsedPayload,
    ) -> Result<Option<SignedData>, IngressError> {
        if self.skip_checks {
            return Ok(None);
        }
        let signed = SignedData {
            data: env.payload.clone(),
            identity: payload.signature_header.creator.clone(),
            signature: env.signature.clone(),
        };
        bundle
            .evaluate(path, std::slice::from_ref(&signed))
            .map_err(|e| IngressError::Forbidden(e.to_string()))?;
        Ok(Some(signed))
    }

    /// Checks that this orderer's identity satisfies the channel's
    /// `/Channel/Orderer/BlockValidation` policy, which peers apply to every block it
    /// signs.
    pub fn check_block_signer(&self, bundle: &Bundle) -> Result<(), String> {
        let probe = b"orderer block validation self-check";
        let signature = self.signer.sign(probe).map_err(|e| e.to_string())?;
        let signed = SignedData {
            data: bytes::Bytes::from_static(probe),
            identity: self.signer.serialized().clone(),
            signature: signature.into(),
        };
        bundle
            .evaluate(BLOCK_VALIDATION, &[signed])
            .map_err(|e| e.to_string())
    }
}
