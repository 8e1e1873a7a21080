//! A block as JSON, every field decoded as far as this orderer understands it.

use bytes::Bytes;
use orderer_api::ChannelConfig;
use orderer_api::block::{block_header_hash, consenter_metadata, orderer_metadata};
use orderer_api::channelconfig::{ChannelValues, read_config_envelope};
use orderer_api::envelope::{header_type_name, parse_payload};
use orderer_api::proto::common::{
    Block, BlockMetadataIndex, Envelope, HeaderType, LastConfig, Metadata,
};
use orderer_api::proto::msp::SerializedIdentity;
use orderer_api::proto::orderer::KafkaMetadata;
use prost::Message;
use serde_json::{Value, json};

use crate::hex;

/// The whole block as JSON.
pub fn block_json(block: &Block) -> Value {
    let header = block.header.clone().unwrap_or_default();
    let data = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or(&[]);
    json!({
        "header": {
            "number": header.number,
            "previous_hash": hex(&header.previous_hash),
            "data_hash": hex(&header.data_hash),
            "header_hash": hex(&block_header_hash(&header)),
        },
        "data": data.iter().map(envelope_json).collect::<Vec<_>>(),
        "metadata": metadata_json(block),
    })
}

fn envelope_json(raw: &Bytes) -> Value {
    let env = match Envelope::decode(raw.clone()) {
        Ok(e) => e,
        Err(e) => return json!({ "error": format!("not an envelope: {e}"), "bytes": raw.len() }),
    };
    let mut out = json!({
        "size": raw.len(),
        "signature": hex(&env.signature),
    });
    match parse_payload(&env) {
        Ok(p) => {
            let ch = &p.channel_header;
            out["channel_header"] = json!({
                "type": header_type_name(ch.r#type),
                "version": ch.version,
                "timestamp": ch.timestamp.as_ref().map(|t| format!("{}.{:09}", t.seconds, t.nanos)),
                "channel_id": ch.channel_id,
                "tx_id": ch.tx_id,
                "epoch": ch.epoch,
            });
            let creator = match SerializedIdentity::decode(p.signature_header.creator.clone()) {
                Ok(id) if !id.mspid.is_empty() => json!({
                    "mspid": id.mspid,
                    "id_bytes": String::from_utf8_lossy(&id.id_bytes),
                }),
                _ => json!(hex(&p.signature_header.creator)),
            };
            out["signature_header"] = json!({
                "creator": creator,
                "nonce": hex(&p.signature_header.nonce),
            });
            out["data_size"] = json!(p.data.len());
            if p.header_type() == Some(HeaderType::Config) {
                out["config"] = config_json(&env);
            }
        }
        Err(e) => out["payload_error"] = json!(e.to_string()),
    }
    out
}

fn metadata_json(block: &Block) -> Value {
    let slots = block
        .metadata
        .as_ref()
        .map(|m| m.metadata.as_slice())
        .unwrap_or(&[]);
    let slot = |i: BlockMetadataIndex| slots.get(i as usize).cloned().unwrap_or_default();
    let signatures = match orderer_metadata(block) {
        Ok(m) => {
            // Fabric 2.x wraps the consenter's bytes in a Metadata message; earlier
            // versions of this orderer did not: consenter_metadata reads both.
            let bytes = consenter_metadata(&m);
            let consenter = match KafkaMetadata::decode(bytes.clone()) {
                Ok(k) if !bytes.is_empty() => json!({
                    "kafka": {
                        "last_offset_persisted": k.last_offset_persisted,
                        "last_original_offset_processed": k.last_original_offset_processed,
                        "last_resubmitted_config_offset": k.last_resubmitted_config_offset,
                    }
                }),
                _ => json!(hex(&bytes)),
            };
            let sigs = Metadata::decode(slot(BlockMetadataIndex::Signatures))
                .map(|md| md.signatures.len())
                .unwrap_or(0);
            json!({
                "last_config": m.last_config.map(|c| c.index),
                "consenter_metadata": consenter,
                "signatures": sigs,
            })
        }
        Err(e) => json!({ "error": e.to_string() }),
    };
    let last_config = Metadata::decode(slot(BlockMetadataIndex::LastConfig))
        .ok()
        .and_then(|m| LastConfig::decode(m.value).ok())
        .map(|c| c.index);
    json!({
        "signatures": signatures,
        "last_config": last_config,
        "transactions_filter": hex(&slot(BlockMetadataIndex::TransactionsFilter)),
        "slots": slots.len(),
    })
}

/// A CONFIG envelope's sequence and ordering parameters. A configuration this
/// orderer would not serve (one written by an earlier version, without
/// organizations) still shows them, with the reason it is refused (`refused`);
/// `error` means nothing could be read.
fn config_json(env: &Envelope) -> Value {
    let (sequence, refused, params) = match ChannelValues::from_envelope(env) {
        Ok(values) => (Some(values.sequence()), None, values.channel_config()),
        Err(e) => match ChannelConfig::from_envelope(env) {
            Ok(params) => {
                let sequence = read_config_envelope(env).ok().map(|tx| tx.config.sequence);
                (sequence, Some(e.to_string()), params)
            }
            Err(_) => return json!({ "error": e.to_string() }),
        },
    };
    let mut out = json!({
        "orderer_type": params.consensus_type.to_string(),
        "batch_timeout": orderer_api::duration::format(params.batch_timeout),
        "batch_size": {
            "max_message_count": params.batch_size.max_message_count,
            "absolute_max_bytes": params.batch_size.absolute_max_bytes,
            "preferred_max_bytes": params.batch_size.preferred_max_bytes,
        },
    });
    if let Some(sequence) = sequence {
        out["sequence"] = json!(sequence);
    }
    if let Some(reason) = refused {
        out["refused"] = json!(reason);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderer_api::{BatchSize, ChannelConfig, ConsenterKind};
    use std::time::Duration;

    #[test]
    fn genesis_block_shows_its_config() {
        let block = orderer_api::testing::config::genesis(&ChannelConfig {
            channel_id: "mychannel".into(),
            consensus_type: ConsenterKind::Solo,
            batch_size: BatchSize::default(),
            batch_timeout: Duration::from_secs(2),
        })
        .block;
        let v = block_json(&block);
        assert_eq!(v["header"]["number"], 0);
        assert_eq!(v["data"][0]["channel_header"]["type"], "CONFIG");
        assert_eq!(v["data"][0]["channel_header"]["channel_id"], "mychannel");
        assert_eq!(
            v["data"][0]["config"]["batch_size"]["max_message_count"],
            500
        );
        assert_eq!(v["data"][0]["config"]["batch_timeout"], "2s");
        assert_eq!(v["metadata"]["signatures"]["last_config"], 0);
        assert_eq!(v["metadata"]["slots"], 5);
    }

    #[test]
    fn a_refused_config_still_shows_its_parameters_and_why_it_is_refused() {
        use orderer_api::proto::common::HashingAlgorithm;
        let genesis = orderer_api::testing::config::genesis(&ChannelConfig {
            channel_id: "old".into(),
            consensus_type: ConsenterKind::Solo,
            batch_size: BatchSize::default(),
            batch_timeout: Duration::from_secs(3),
        })
        .block;
        let mut config = ChannelValues::from_block(&genesis)
            .unwrap()
            .config()
            .clone();
        let group = config.channel_group.as_mut().unwrap();
        let algorithm = group.values.get_mut("HashingAlgorithm").unwrap();
        algorithm.value = HashingAlgorithm {
            name: "SHA3_256".into(),
        }
        .encode_to_vec()
        .into();
        let block = orderer_api::genesis::genesis_block("old", &config);
        let v = &block_json(&block)["data"][0]["config"];
        assert_eq!(v["batch_timeout"], "3s", "{v}");
        assert_eq!(v["sequence"], 0, "{v}");
        assert!(v["refused"].as_str().unwrap().contains("SHA3_256"), "{v}");
        assert!(v.get("error").is_none(), "{v}");
    }
}
