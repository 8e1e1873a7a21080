//! Who may broadcast and deliver, and the orderer's own signing identity.
//!
//! Every request envelope passes, in order: the ChannelHeader timestamp against
//! `General.Authentication.TimeWindow` (BAD_REQUEST); with mutual TLS, the
//! `tls_cert_hash` binding (BAD_REQUEST, as Fabric's Deliver); the creator: an
//! `msp.SerializedIdentity` whose certificate chains to its MSP's CA and is within its
//! validity period (FORBIDDEN); the channel's Writers or Readers (FORBIDDEN); the
//! ECDSA P-256 signature over the payload, DER, low-S (FORBIDDEN). Each refusal says
//! which check failed.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use orderer_api::envelope::ParsedPayload;
use orderer_api::proto::common::{ChannelHeader, Envelope};
use orderer_msp::{Creator, Msp, SigningIdentity, Verifier};
use tracing::{info, warn};

use crate::config::Config;
use crate::ingress::IngressError;

/// The MSP IDs allowed to do something on a channel (its Writers or its Readers).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    name: &'static str,
    msp_ids: BTreeSet<String>,
}

impl Policy {
    pub fn new(name: &'static str, msp_ids: impl IntoIterator<Item = String>) -> Self {
        Policy {
            name,
            msp_ids: msp_ids.into_iter().collect(),
        }
    }
}

/// What the TLS layer knows of the client.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientTls {
    /// SHA-256 of the client's TLS certificate, when it presented one.
    pub cert_hash: Option<[u8; 32]>,
}

/// The checks and the signing identity of this node.
#[derive(Debug)]
pub struct Security {
    /// `None` when signature checks are skipped.
    verifier: Option<Verifier>,
    signer: Arc<SigningIdentity>,
    time_window: Duration,
    mutual_tls: bool,
}

impl Security {
    /// Loads the local identity and every organization's MSP; a broken file stops the
    /// start with its path and the problem.
    pub fn load(config: &Config) -> anyhow::Result<Security> {
        let g = &config.general;
        let signer = SigningIdentity::load(g.local_msp_dir.as_ref(), &g.local_msp_id)
            .with_context(|| {
                format!(
                    "General.LocalMSPDir {}: cannot load this orderer's identity",
                    g.local_msp_dir
                )
            })?;
        let verifier = if g.authentication.skip_signature_checks {
            warn!(
                "General.Authentication.SkipSignatureChecks is true: envelopes are accepted WITHOUT checking \\
                 signatures, certificates or Writers/Readers; anyone who reaches this orderer can broadcast and deliver"
            );
            None
        } else {
            let mut msps = Vec::new();
            for (i, org) in config.organizations().iter().enumerate() {
                let msp = Msp::load(org.msp_dir.as_ref(), &org.id).with_context(|| {
                    format!(
                        "Organizations[{i}] ({}): cannot load the MSP in {}",
                        org.name, org.msp_dir
                    )
                })?;
                msps.push(msp);
            }
            Some(Verifier::new(msps))
        };
        let orgs: Vec<String> = config.organizations().into_iter().map(|o| o.id).collect();
        info!(
            identity = %g.local_msp_id,
            organizations = %orgs.join(","),
            signature_checks = verifier.is_some(),
            time_window = %orderer_api::duration::format(g.authentication.time_window.0),
            "security loaded"
        );
        Ok(Security {
            verifier,
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
        self.verifier.is_some()
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

    /// Who signed `env`, whether they may (`policy`), and whether the signature holds.
    /// `None` when signature checks are skipped.
    pub fn check_creator(
        &self,
        policy: &Policy,
        channel: &str,
        env: &Envelope,
        payload: &ParsedPayload,
    ) -> Result<Option<Arc<Creator>>, IngressError> {
        let Some(verifier) = &self.verifier else {
            return Ok(None);
        };
        let creator = verifier
            .identify(&payload.signature_header.creator, orderer_msp::now())
            .map_err(|e| IngressError::Forbidden(format!("creator refused: {e}")))?;
        if !policy.msp_ids.contains(creator.msp_id()) {
            return Err(IngressError::Forbidden(format!(
                "MSP {} is not among the {} of channel {channel} ({})",
                creator.msp_id(),
                policy.name,
                policy
                    .msp_ids
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        creator
            .verify(&env.payload, &env.signature)
            .map_err(|e| IngressError::Forbidden(format!("signature refused: {e}")))?;
        Ok(Some(creator))
    }
}
