//! Fabric's message processor: the checks an envelope passes before it is ordered,
//! by kind, and again when a config block overtook it between validation and
//! ordering (the chain then calls `revalidate_*`).
//!
//! * Normal envelopes: not in maintenance mode (SERVICE_UNAVAILABLE), at most
//!   `AbsoluteMaxBytes` (BAD_REQUEST), `/Channel/Writers` satisfied (FORBIDDEN).
//! * CONFIG_UPDATE for an existing channel: the same size and Writers checks (in
//!   maintenance mode `/Channel/Orderer/Writers`), then the update is applied to
//!   the configuration in force (read set, write set, each changed element's
//!   mod_policy), wrapped in a CONFIG envelope signed by this orderer, and that
//!   envelope passes the size and Writers checks again.
//! * CONFIG_UPDATE for a channel that does not exist, on a node with a system
//!   channel: a channel creation, checked against the consortium and
//!   `ChannelRestrictions.MaxCount`, and wrapped twice: the new channel's CONFIG
//!   envelope inside an ORDERER_TRANSACTION for the system channel.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use orderer_api::EnvelopeError;
use orderer_api::RawEnvelope;
use orderer_api::configtx::{self, UpdateError, UpdateErrorClass};
use orderer_api::envelope::{ParsedPayload, parse_payload};
use orderer_api::proto::common::{
    ChannelHeader, ConfigEnvelope, Envelope, Header, HeaderType, Payload, SignatureHeader,
};
use orderer_msp::SigningIdentity;
use prost::Message;

use crate::bundle::{Bundle, ORDERER_WRITERS, WRITERS};
use crate::ingress::IngressError;
use crate::security::Security;

/// Fabric's `ProcessNormalMsg` under the configuration `bundle` (one snapshot of
/// the channel's): the config sequence the envelope is valid at. If a config block
/// lands meanwhile, the chain checks the envelope again when it orders it.
pub fn process_normal(
    bundle: &Bundle,
    security: &Security,
    raw: &RawEnvelope,
    env: &Envelope,
    payload: &ParsedPayload,
) -> Result<u64, IngressError> {
    if bundle.values.is_maintenance() {
        return Err(IngressError::Maintenance);
    }
    filters(bundle, security, raw.size(), env, payload)?;
    Ok(bundle.values.sequence())
}

/// The size and signature filters every message passes (Fabric's standard channel
/// filters); in maintenance mode only the orderer organizations' writers pass.
fn filters(
    bundle: &Bundle,
    security: &Security,
    size: usize,
    env: &Envelope,
    payload: &ParsedPayload,
) -> Result<(), IngressError> {
    let max = bundle.values.orderer().batch_size().absolute_max_bytes;
    if size > max as usize {
        return Err(IngressError::TooLarge { size, max });
    }
    let writers = if bundle.values.is_maintenance() {
        ORDERER_WRITERS
    } else {
        WRITERS
    };
    security.check_policy(bundle, writers, env, payload)?;
    Ok(())
}

/// The Broadcast error of a refused update (its message already says which channel).
fn update_error(e: UpdateError) -> IngressError {
    match e.class() {
        UpdateErrorClass::Forbidden => IngressError::Forbidden(e.to_string()),
        UpdateErrorClass::Maintenance => IngressError::MaintenanceUpdate(e.to_string()),
        UpdateErrorClass::BadRequest => IngressError::ConfigUpdate(e.to_string()),
    }
}

/// Fabric's `ProcessConfigUpdateMsg` for an existing channel: the CONFIG envelope to
/// order, and the sequence it was made at.
pub fn process_config_update(
    bundle: &Bundle,
    security: &Security,
    env: &Envelope,
    payload: &ParsedPayload,
) -> Result<(RawEnvelope, u64), IngressError> {
    let channel = bundle.values.channel_id();
    filters(bundle, security, env.encoded_len(), env, payload)?;
    let config_env = configtx::Validator::new(&bundle.values, &bundle.policies)
        .and_then(|v| v.propose_config_update(env, bundle.config_msps.as_ref()))
        .map_err(update_error)?;
    let (raw, config) = signed_envelope(
        security.signer(),
        HeaderType::Config,
        channel,
        config_env.encode_to_vec().into(),
    )?;
    // Again: the CONFIG envelope may be larger than the update, and this node's own
    // signature must pass the Writers policy (a misconfigured orderer is found here,
    // not when its block is refused).
    let config_payload = parse_payload(&config)?;
    filters(bundle, security, raw.size(), &config, &config_payload)?;
    Ok((raw, bundle.values.sequence()))
}

/// Fabric's system channel `ProcessConfigUpdateMsg` for a channel that does not
/// exist: the ORDERER_TRANSACTION to order on the system channel.
pub fn process_channel_creation(
    bundle: &Bundle,
    security: &Security,
    env: &Envelope,
    payload: &ParsedPayload,
    existing_channels: usize,
) -> Result<(RawEnvelope, u64), IngressError> {
    let system_channel = bundle.values.channel_id();
    let new_channel = payload.channel_header.channel_id.clone();
    // Only the size: the creator is an organization admin of the consortium, not a
    // writer of the system channel (whose Writers are the orderer organizations').
    // The new channel's creation policy, evaluated over the update's signatures, is
    // what authorizes it (as in Fabric).
    let max = bundle.values.orderer().batch_size().absolute_max_bytes;
    let size = env.encoded_len();
    if size > max as usize {
        return Err(IngressError::TooLarge { size, max });
    }
    let config_env = configtx::new_channel_config(
        bundle.values.config(),
        system_channel,
        env,
        bundle.config_msps.as_ref(),
        existing_channels,
    )
    .map_err(update_error)?;
    let signer = security.signer();
    let (inner, _) = signed_envelope(
        signer,
        HeaderType::Config,
        &new_channel,
        config_env.encode_to_vec().into(),
    )?;
    let (raw, wrapped) = signed_envelope(
        signer,
        HeaderType::OrdererTransaction,
        system_channel,
        inner.into_bytes(),
    )?;
    let wrapped_payload = parse_payload(&wrapped)?;
    filters(bundle, security, raw.size(), &wrapped, &wrapped_payload)?;
    Ok((raw, bundle.values.sequence()))
}

/// Checks a normal envelope again under the configuration now in force.
pub fn revalidate_normal(
    bundle: &Bundle,
    security: &Security,
    raw: &RawEnvelope,
) -> Result<u64, IngressError> {
    let (_, env) = RawEnvelope::parse(raw.bytes().clone())?;
    let payload = parse_payload(&env)?;
    process_normal(bundle, security, raw, &env, &payload)
}

/// Applies the update inside an ordered CONFIG (or ORDERER_TRANSACTION) envelope
/// again, to the configuration now in force (Fabric's `ProcessConfigMsg`); a
/// channel creation is checked against `channels`, the number of channels now.
pub fn revalidate_config(
    bundle: &Bundle,
    security: &Security,
    raw: &RawEnvelope,
    channels: usize,
) -> Result<(RawEnvelope, u64), IngressError> {
    let (_, env) = RawEnvelope::parse(raw.bytes().clone())?;
    let payload = parse_payload(&env)?;
    match payload.header_type() {
        Some(HeaderType::Config) => {
            let update = last_update(&payload.data)?;
            let update_payload = parse_payload(&update)?;
            process_config_update(bundle, security, &update, &update_payload)
        }
        Some(HeaderType::OrdererTransaction) => {
            let inner = Envelope::decode(payload.data.clone()).map_err(|e| {
                IngressError::ConfigUpdate(format!(
                    "ORDERER_TRANSACTION does not carry an envelope: {e}"
                ))
            })?;
            let inner_payload = parse_payload(&inner)?;
            let update = last_update(&inner_payload.data)?;
            let update_payload = parse_payload(&update)?;
            process_channel_creation(bundle, security, &update, &update_payload, channels)
        }
        other => Err(IngressError::ConfigUpdate(format!(
            "expected a CONFIG or ORDERER_TRANSACTION envelope, got {}",
            other.map_or("an unknown type", |h| h.as_str_name())
        ))),
    }
}

/// The CONFIG_UPDATE envelope a ConfigEnvelope was made from.
fn last_update(config_envelope: &Bytes) -> Result<Envelope, IngressError> {
    ConfigEnvelope::decode(config_envelope.clone())
        .map_err(|e| IngressError::ConfigUpdate(format!("not a ConfigEnvelope: {e}")))?
        .last_update
        .ok_or_else(|| {
            IngressError::ConfigUpdate(
                "the ConfigEnvelope has no last_update to apply again".into(),
            )
        })
}

/// An envelope of type `kind` made and signed by this orderer (Fabric's
/// `CreateSignedEnvelope`: message version 0, epoch 0, no tx id, a fresh nonce).
pub fn signed_envelope(
    signer: &SigningIdentity,
    kind: HeaderType,
    channel_id: &str,
    data: Bytes,
) -> Result<(RawEnvelope, Envelope), IngressError> {
    let internal = |e: &dyn std::fmt::Display| {
        IngressError::Internal(format!("signing a {}: {e}", kind.as_str_name()))
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let channel_header = ChannelHeader {
        r#type: kind as i32,
        version: 0,
        timestamp: Some(prost_types::Timestamp {
            seconds: now.as_secs() as i64,
            nanos: now.subsec_nanos() as i32,
        }),
        channel_id: channel_id.to_owned(),
        tx_id: String::new(),
        epoch: 0,
        extension: Bytes::new(),
        tls_cert_hash: Bytes::new(),
    };
    let signature_header = SignatureHeader {
        creator: signer.serialized().clone(),
        nonce: Bytes::copy_from_slice(&signer.nonce().map_err(|e| internal(&e))?),
    };
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header.encode_to_vec().into(),
            signature_header: signature_header.encode_to_vec().into(),
        }),
        data,
    }
    .encode_to_vec();
    let signature = signer.sign(&payload).map_err(|e| internal(&e))?;
    let env = Envelope {
        payload: payload.into(),
        signature: signature.into(),
    };
    let raw = RawEnvelope::parse(env.encode_to_vec().into())
        .map_err(|e: EnvelopeError| internal(&e))?
        .0;
    Ok((raw, env))
}
