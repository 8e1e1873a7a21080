//! Building the envelopes a client sends.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use orderer_msp::SigningIdentity;

use bytes::Bytes;
use orderer_api::proto::common::{
    ChannelHeader, ConfigSignature, ConfigUpdate, ConfigUpdateEnvelope, Envelope, Header,
    HeaderType, Payload, SignatureHeader,
};
use orderer_api::proto::orderer::seek_info::SeekBehavior;
use orderer_api::proto::orderer::{
    SeekInfo, SeekNewest, SeekOldest, SeekPosition, SeekSpecified, seek_position,
};
use prost::Message;
use sha2::{Digest, Sha256};

/// A position in a channel's chain, as `--seek`/`--stop` take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Oldest,
    Newest,
    Number(u64),
}

impl std::str::FromStr for Position {
    type Err = String;

    /// `oldest` or -2, `newest` or -1 (as the original Kafka orderer's client), a
    /// block number, or `max` (u64::MAX: stream forever).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "oldest" | "-2" => Ok(Position::Oldest),
            "newest" | "-1" => Ok(Position::Newest),
            "max" | "forever" => Ok(Position::Number(u64::MAX)),
            n => n.parse().map(Position::Number).map_err(|_| {
                format!("expected oldest (-2), newest (-1), max or a block number, got {s:?}")
            }),
        }
    }
}

impl Position {
    fn seek(self) -> SeekPosition {
        let t = match self {
            Position::Oldest => seek_position::Type::Oldest(SeekOldest {}),
            Position::Newest => seek_position::Type::Newest(SeekNewest {}),
            Position::Number(n) => seek_position::Type::Specified(SeekSpecified { number: n }),
        };
        SeekPosition { r#type: Some(t) }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A nonce unique to this process and call: no two envelopes share a tx id.
fn nonce() -> Bytes {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(std::process::id().to_le_bytes());
    h.update(now.as_nanos().to_le_bytes());
    h.update(n.to_le_bytes());
    Bytes::copy_from_slice(&h.finalize()[..24])
}

fn timestamp() -> prost_types::Timestamp {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: now.as_secs() as i64,
        nanos: now.subsec_nanos() as i32,
    }
}

/// The identity envelopes are signed with, or none (`--unsigned`), and, with mutual
/// TLS, the hash of the client's TLS certificate that binds requests to the connection.
#[derive(Debug, Clone)]
pub struct Signer {
    identity: Option<Arc<SigningIdentity>>,
    tls_cert_hash: Bytes,
}

/// The development identity of `sampleconfig/msp` (MSP ID `SampleOrg`), built in so
/// that the CLI works against the sample configuration out of the box. Its private
/// key is public: for development only.
pub mod sample {
    pub const MSP_ID: &str = "SampleOrg";
    pub const CERT_PEM: &[u8] = include_bytes!("../../../sampleconfig/msp/signcerts/cert.pem");
    pub const KEY_PEM: &[u8] = include_bytes!("../../../sampleconfig/msp/keystore/priv_sk");
    pub const CA_PEM: &[u8] = include_bytes!("../../../sampleconfig/msp/cacerts/ca-cert-0.pem");
}

/// Length of a DER ECDSA P-256 signature with a 33-byte r and a 32-byte low s, the
/// most common length: signatures are redrawn until they have it, so that an
/// envelope's size is exactly what was asked.
const SIGNATURE_LEN: usize = 71;

impl Signer {
    /// Signs with the built-in development identity (see [`sample`]).
    pub fn sample() -> anyhow::Result<Signer> {
        let id = SigningIdentity::from_pem(sample::MSP_ID, sample::CERT_PEM, sample::KEY_PEM)
            .map_err(|e| anyhow::anyhow!("the built-in sample identity: {e}"))?;
        Ok(Signer::with(id))
    }

    /// Signs with the identity of a local MSP directory (`signcerts/`, `keystore/`).
    pub fn load(dir: &Path, msp_id: &str) -> anyhow::Result<Signer> {
        let id = SigningIdentity::load(dir, msp_id).with_context(|| {
            format!(
                "--msp-dir {}: cannot load a signing identity",
                dir.display()
            )
        })?;
        Ok(Signer::with(id))
    }

    pub fn with(identity: SigningIdentity) -> Signer {
        Signer {
            identity: Some(Arc::new(identity)),
            tls_cert_hash: Bytes::new(),
        }
    }

    /// Envelopes without creator or signature (for orderers that skip checks).
    pub fn unsigned() -> Signer {
        Signer {
            identity: None,
            tls_cert_hash: Bytes::new(),
        }
    }

    /// Binds requests to the client's TLS certificate (DER): Fabric's
    /// `tls_cert_hash`, which mutual TLS orderers require on Deliver.
    pub fn bind_tls_certificate(mut self, cert_der: &[u8]) -> Signer {
        self.tls_cert_hash = Bytes::copy_from_slice(&Sha256::digest(cert_der));
        self
    }

    pub fn identity(&self) -> Option<&SigningIdentity> {
        self.identity.as_deref()
    }

    fn creator(&self) -> Bytes {
        self.identity
            .as_ref()
            .map(|i| i.serialized().clone())
            .unwrap_or_default()
    }

    /// Payload headers the way Fabric clients build them: tx id = hex(SHA-256(nonce ‖
    /// creator)).
    fn header(&self, channel: &str, header_type: HeaderType) -> Header {
        let nonce = nonce();
        let creator = self.creator();
        let mut h = Sha256::new();
        h.update(&nonce);
        h.update(&creator);
        let channel_header = ChannelHeader {
            r#type: header_type as i32,
            version: 0,
            timestamp: Some(timestamp()),
            channel_id: channel.to_owned(),
            tx_id: crate::hex(&h.finalize()),
            epoch: 0,
            extension: Bytes::new(),
            tls_cert_hash: self.tls_cert_hash.clone(),
        };
        let signature_header = SignatureHeader { creator, nonce };
        Header {
            channel_header: channel_header.encode_to_vec().into(),
            signature_header: signature_header.encode_to_vec().into(),
        }
    }

    /// An envelope of `payload`, signed unless this signer is unsigned.
    pub fn envelope(&self, payload: &Payload) -> anyhow::Result<Envelope> {
        self.sign_bytes(Bytes::from(payload.encode_to_vec()))
    }

    /// An envelope of marshalled payload bytes, signed unless this signer is unsigned.
    pub fn sign_bytes(&self, payload: Bytes) -> anyhow::Result<Envelope> {
        let signature = match &self.identity {
            None => Bytes::new(),
            Some(id) => {
                let mut signature = Vec::new();
                // Redraw (ECDSA's nonce is random) for the usual length; give up after
                // a few tries, as the size is only a convenience.
                for _ in 0..16 {
                    signature = id.sign(&payload).map_err(anyhow::Error::msg)?;
                    if signature.len() == SIGNATURE_LEN {
                        break;
                    }
                }
                signature.into()
            }
        };
        Ok(Envelope { payload, signature })
    }

    /// An ENDORSER_TRANSACTION envelope for `channel` whose size as the block cutter
    /// counts it (payload plus signature) is `size` bytes, or as small as its headers
    /// allow. The data is `seq` followed by filler.
    pub fn transaction(&self, channel: &str, seq: u64, size: usize) -> anyhow::Result<Envelope> {
        let header = self.header(channel, HeaderType::EndorserTransaction);
        let signature_len = if self.identity.is_some() {
            SIGNATURE_LEN
        } else {
            0
        };
        let size = size.saturating_sub(signature_len);
        let bare = Payload {
            header: Some(header.clone()),
            data: Bytes::new(),
        }
        .encoded_len();
        // A non-empty data field costs a tag byte and a varint length besides the data.
        let field = |d: usize| 1 + prost::encoding::encoded_len_varint(d as u64) + d;
        let mut data_len = size.saturating_sub(bare);
        while data_len > 0 && bare + field(data_len) > size {
            data_len -= 1;
        }
        let mut data = seq.to_be_bytes().to_vec();
        data.resize(data_len.max(8), b'.');
        self.envelope(&Payload {
            header: Some(header),
            data: data.into(),
        })
    }

    /// A CONFIG_UPDATE envelope for `update`, as `peer channel update` sends it: the
    /// update signed by each of `signers` (each signs its signature header followed
    /// by the marshalled update: Fabric's ConfigSignature), in an envelope signed by
    /// this signer. `signers` may be empty (then only the envelope is signed).
    pub fn config_update(
        &self,
        update: &ConfigUpdate,
        signers: &[&Signer],
    ) -> anyhow::Result<Envelope> {
        let config_update = Bytes::from(update.encode_to_vec());
        let mut signatures = Vec::new();
        for signer in signers {
            let signature_header = Bytes::from(
                SignatureHeader {
                    creator: signer.creator(),
                    nonce: nonce(),
                }
                .encode_to_vec(),
            );
            let mut signed = signature_header.to_vec();
            signed.extend_from_slice(&config_update);
            let signature = match &signer.identity {
                Some(id) => id.sign(&signed).map_err(anyhow::Error::msg)?.into(),
                None => Bytes::new(),
            };
            signatures.push(ConfigSignature {
                signature_header,
                signature,
            });
        }
        let data = ConfigUpdateEnvelope {
            config_update,
            signatures,
        };
        self.envelope(&Payload {
            header: Some(self.header(&update.channel_id, HeaderType::ConfigUpdate)),
            data: data.encode_to_vec().into(),
        })
    }

    /// A DELIVER_SEEK_INFO envelope for `channel`.
    pub fn seek(
        &self,
        channel: &str,
        start: Position,
        stop: Position,
        fail_if_not_ready: bool,
    ) -> anyhow::Result<Envelope> {
        let info = SeekInfo {
            start: Some(start.seek()),
            stop: Some(stop.seek()),
            behavior: if fail_if_not_ready {
                SeekBehavior::FailIfNotReady as i32
            } else {
                SeekBehavior::BlockUntilReady as i32
            },
            error_response: 0,
            content_type: 0,
        };
        self.envelope(&Payload {
            header: Some(self.header(channel, HeaderType::DeliverSeekInfo)),
            data: info.encode_to_vec().into(),
        })
    }
}

/// The built-in sample signer, for tests and examples.
fn sample_signer() -> &'static Signer {
    static SAMPLE: LazyLock<Signer> = LazyLock::new(|| {
        // Built-in material, checked by a unit test: not input-dependent.
        Signer::sample().expect("the built-in sample identity loads")
    });
    &SAMPLE
}

/// [`Signer::transaction`] signed by the built-in sample identity.
pub fn transaction(channel: &str, seq: u64, size: usize) -> Envelope {
    sample_signer()
        .transaction(channel, seq, size)
        .expect("the sample identity signs")
}

/// [`Signer::seek`] signed by the built-in sample identity.
pub fn seek(channel: &str, start: Position, stop: Position, fail_if_not_ready: bool) -> Envelope {
    sample_signer()
        .seek(channel, start, stop, fail_if_not_ready)
        .expect("the sample identity signs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_like_the_original_client() {
        assert_eq!("-2".parse(), Ok(Position::Oldest));
        assert_eq!("oldest".parse(), Ok(Position::Oldest));
        assert_eq!("-1".parse(), Ok(Position::Newest));
        assert_eq!("Newest".parse(), Ok(Position::Newest));
        assert_eq!("17".parse(), Ok(Position::Number(17)));
        assert_eq!("max".parse(), Ok(Position::Number(u64::MAX)));
        assert!("-3".parse::<Position>().is_err());
    }

    #[test]
    fn transactions_have_the_requested_size_and_unique_tx_ids() {
        // A signed envelope carries the creator's certificate: about 840 bytes at least.
        for (signer, smallest) in [(Signer::sample().unwrap(), 1024), (Signer::unsigned(), 200)] {
            for size in [smallest, 4096, 70_000] {
                for seq in 0..20 {
                    let e = signer.transaction("mychannel", seq, size).unwrap();
                    assert_eq!(e.payload.len() + e.signature.len(), size, "size {size}");
                }
            }
        }
        let a = orderer_api::envelope::parse_payload(&transaction("c", 1, 200)).unwrap();
        let b = orderer_api::envelope::parse_payload(&transaction("c", 1, 200)).unwrap();
        assert_ne!(a.channel_header.tx_id, b.channel_header.tx_id);
        assert_eq!(a.header_type(), Some(HeaderType::EndorserTransaction));
    }

    #[test]
    fn the_sample_identity_signs_envelopes_its_ca_accepts() {
        let msp = orderer_msp::Msp::from_pem(sample::MSP_ID, sample::CA_PEM, b"").unwrap();
        let verifier = orderer_msp::Verifier::new([msp]);
        let env = transaction("mychannel", 7, 1024);
        let payload = orderer_api::envelope::parse_payload(&env).unwrap();
        let creator = verifier
            .identify(&payload.signature_header.creator, orderer_msp::now())
            .unwrap();
        assert_eq!(creator.msp_id(), "SampleOrg");
        creator.verify(&env.payload, &env.signature).unwrap();
        let unsigned = Signer::unsigned()
            .transaction("mychannel", 7, 1024)
            .unwrap();
        assert!(unsigned.signature.is_empty());
    }
}
