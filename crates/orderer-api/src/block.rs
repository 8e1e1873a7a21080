//! Block assembly and Fabric's hashing rules, so that Fabric tools verify our chains.
//!
//! * `data_hash` = SHA-256 over the concatenation of `data.data[i]`.
//! * header hash = SHA-256 over the DER encoding of
//!   `SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash }`.
//! * block N+1's `previous_hash` is block N's header hash.
//! * `metadata.metadata` has one slot per `BlockMetadataIndex` (5).

use bytes::Bytes;
use prost::Message;
use sha2::{Digest, Sha256};

use crate::envelope::RawEnvelope;
use crate::error::SupportError;
use crate::proto::common::{
    Block, BlockData, BlockHeader, BlockMetadata, BlockMetadataIndex, LastConfig, Metadata,
    MetadataSignature, OrdererBlockMetadata,
};

/// Number of metadata slots in a block (`BlockMetadataIndex` has five values).
pub const METADATA_SLOTS: usize = 5;

/// SHA-256 over the concatenated envelopes, Fabric's `BlockData` hash.
pub fn block_data_hash(data: &[Bytes]) -> [u8; 32] {
    let mut h = Sha256::new();
    for d in data {
        h.update(d);
    }
    h.finalize().into()
}

/// SHA-256 over the DER encoding of the header, Fabric's block header hash.
pub fn block_header_hash(header: &BlockHeader) -> [u8; 32] {
    Sha256::digest(header_der(header)).into()
}

/// `SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash }` in DER.
pub fn header_der(header: &BlockHeader) -> Vec<u8> {
    let mut body = Vec::with_capacity(80);
    der_tlv(&mut body, 0x02, &der_uint(header.number));
    der_tlv(&mut body, 0x04, &header.previous_hash);
    der_tlv(&mut body, 0x04, &header.data_hash);
    let mut out = Vec::with_capacity(body.len() + 4);
    der_tlv(&mut out, 0x30, &body);
    out
}

/// Minimal two's-complement big-endian content of a non-negative INTEGER.
fn der_uint(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let first = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len() - 1);
    let mut out = Vec::with_capacity(9);
    if bytes[first] & 0x80 != 0 {
        // The high bit would read as negative: a leading zero keeps it positive.
        out.push(0);
    }
    out.extend_from_slice(&bytes[first..]);
    out
}

fn der_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let len_bytes = (len as u64).to_be_bytes();
        let first = len_bytes.iter().position(|&b| b != 0).unwrap_or(7);
        out.push(0x80 | (8 - first) as u8);
        out.extend_from_slice(&len_bytes[first..]);
    }
    out.extend_from_slice(content);
}

/// A block with the given number, previous hash and data, its data hash computed and
/// its five metadata slots empty.
pub fn new_block(number: u64, previous_hash: Bytes, data: Vec<Bytes>) -> Block {
    let data_hash = Bytes::copy_from_slice(&block_data_hash(&data));
    Block {
        header: Some(BlockHeader {
            number,
            previous_hash,
            data_hash,
        }),
        data: Some(BlockData { data }),
        metadata: Some(BlockMetadata {
            metadata: vec![Bytes::new(); METADATA_SLOTS],
        }),
    }
}

/// Writes the orderer's metadata the way Fabric 2.x does: `SIGNATURES` holds
/// `Metadata{value: OrdererBlockMetadata{last_config, consenter_metadata:
/// Metadata{value: consenter_metadata}}}` and the (deprecated, still read by older
/// tools) `LAST_CONFIG` slot holds `Metadata{value: LastConfig}`. The consenter's
/// bytes are wrapped in a `Metadata` message as Fabric's block writer wraps them, so
/// that a Fabric OSN reads the offsets we write (and [`consenter_metadata`] reads
/// both). Signatures are added by the signing stage, not here.
pub fn set_orderer_metadata(block: &mut Block, last_config: u64, consenter_metadata: Bytes) {
    let orderer = OrdererBlockMetadata {
        last_config: Some(LastConfig { index: last_config }),
        consenter_metadata: wrap_consenter_metadata(consenter_metadata),
    };
    let signatures = Metadata {
        value: orderer.encode_to_vec().into(),
        signatures: Vec::new(),
    };
    let last_config = Metadata {
        value: LastConfig { index: last_config }.encode_to_vec().into(),
        signatures: Vec::new(),
    };
    let slots = &mut block.metadata.get_or_insert_with(Default::default).metadata;
    if slots.len() < METADATA_SLOTS {
        slots.resize(METADATA_SLOTS, Bytes::new());
    }
    slots[BlockMetadataIndex::Signatures as usize] = signatures.encode_to_vec().into();
    slots[BlockMetadataIndex::LastConfig as usize] = last_config.encode_to_vec().into();
}

/// What an orderer signs for a block, Fabric's rule: the `SIGNATURES` metadata value,
/// then the signature header, then the DER block header.
pub fn signature_message(value: &[u8], signature_header: &[u8], header: &BlockHeader) -> Vec<u8> {
    let der = header_der(header);
    let mut msg = Vec::with_capacity(value.len() + signature_header.len() + der.len());
    msg.extend_from_slice(value);
    msg.extend_from_slice(signature_header);
    msg.extend_from_slice(&der);
    msg
}

/// The `SIGNATURES` metadata of a block: its value and signatures.
pub fn signatures_metadata(block: &Block) -> Result<Metadata, prost::DecodeError> {
    let slot = block
        .metadata
        .as_ref()
        .and_then(|m| m.metadata.get(BlockMetadataIndex::Signatures as usize))
        .cloned()
        .unwrap_or_default();
    Metadata::decode(slot)
}

/// Adds a signature to the block's `SIGNATURES` metadata.
pub fn add_signature(
    block: &mut Block,
    signature: MetadataSignature,
) -> Result<(), prost::DecodeError> {
    let mut meta = signatures_metadata(block)?;
    meta.signatures.push(signature);
    let slots = &mut block.metadata.get_or_insert_with(Default::default).metadata;
    if slots.len() < METADATA_SLOTS {
        slots.resize(METADATA_SLOTS, Bytes::new());
    }
    slots[BlockMetadataIndex::Signatures as usize] = meta.encode_to_vec().into();
    Ok(())
}

/// Reads the `OrdererBlockMetadata` from a block's `SIGNATURES` slot. A block without
/// one (e.g. a genesis block made by other tools) yields the default.
pub fn orderer_metadata(block: &Block) -> Result<OrdererBlockMetadata, prost::DecodeError> {
    let Some(slot) = block
        .metadata
        .as_ref()
        .and_then(|m| m.metadata.get(BlockMetadataIndex::Signatures as usize))
    else {
        return Ok(OrdererBlockMetadata::default());
    };
    let meta = Metadata::decode(slot.clone())?;
    OrdererBlockMetadata::decode(meta.value)
}

/// `Metadata{value: bytes}` encoded, as Fabric's block writer stores consenter
/// metadata; empty stays empty (an empty `Metadata` encodes to nothing).
fn wrap_consenter_metadata(bytes: Bytes) -> Bytes {
    Metadata {
        value: bytes,
        signatures: Vec::new(),
    }
    .encode_to_vec()
    .into()
}

/// The consenter's own bytes in `OrdererBlockMetadata.consenter_metadata`, what
/// Fabric's `GetConsenterMetadataFromBlock` hands its consenter.
///
/// Two forms exist: Fabric 2.x (and this orderer now) wraps them in a `Metadata`
/// message; earlier versions of this orderer stored them bare. A bare consenter
/// message does not decode as `Metadata` (Kafka's offsets are varint fields 1-3,
/// where `Metadata` has a length-delimited field 1 and a message field 2), so
/// whatever does not is returned as it is.
pub fn consenter_metadata(orderer: &OrdererBlockMetadata) -> Bytes {
    match Metadata::decode(orderer.consenter_metadata.clone()) {
        Ok(m) if m.signatures.is_empty() => m.value,
        _ => orderer.consenter_metadata.clone(),
    }
}

/// Why a block's header does not hold what [`verify_block`] checks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block has no header")]
    MissingHeader,
    #[error("block {number}: data_hash does not match its data")]
    DataHash { number: u64 },
    #[error("block {number} follows block {previous}: numbers are not consecutive")]
    NotConsecutive { number: u64, previous: u64 },
    #[error("block {number}: previous_hash is not the header hash of block {previous}")]
    PreviousHash { number: u64, previous: u64 },
}

/// Checks what a block's header claims: its data hash, and (when known) that it
/// follows `previous` directly.
pub fn verify_block(block: &Block, previous: Option<&BlockHeader>) -> Result<(), BlockError> {
    let header = block.header.as_ref().ok_or(BlockError::MissingHeader)?;
    let data = block
        .data
        .as_ref()
        .map(|d| d.data.as_slice())
        .unwrap_or(&[]);
    if header.data_hash.as_ref() != block_data_hash(data) {
        return Err(BlockError::DataHash {
            number: header.number,
        });
    }
    if let Some(prev) = previous {
        if header.number != prev.number + 1 {
            return Err(BlockError::NotConsecutive {
                number: header.number,
                previous: prev.number,
            });
        }
        if header.previous_hash.as_ref() != block_header_hash(prev) {
            return Err(BlockError::PreviousHash {
                number: header.number,
                previous: prev.number,
            });
        }
    }
    Ok(())
}

/// Where the next block goes: its number and the previous header hash.
///
/// `ConsenterSupport` implementations keep one; it advances only when a block is
/// written, so a block created but never written leaves the chain as it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockAssembler {
    next_number: u64,
    previous_hash: Bytes,
}

impl BlockAssembler {
    /// For an empty chain: the next block is block 0 with an empty previous hash.
    pub fn empty() -> Self {
        BlockAssembler {
            next_number: 0,
            previous_hash: Bytes::new(),
        }
    }

    /// For a chain whose last block has `last` as header.
    pub fn after(last: &BlockHeader) -> Self {
        BlockAssembler {
            next_number: last.number + 1,
            previous_hash: Bytes::copy_from_slice(&block_header_hash(last)),
        }
    }

    /// The number the next block gets: the chain's height.
    pub fn next_number(&self) -> u64 {
        self.next_number
    }

    /// Builds the next block from a batch; does not advance.
    pub fn next_block(&self, batch: Vec<RawEnvelope>) -> Block {
        let data = batch.into_iter().map(RawEnvelope::into_bytes).collect();
        new_block(self.next_number, self.previous_hash.clone(), data)
    }

    /// Checks that `header` is the next block of this chain.
    pub fn check_next(&self, header: &BlockHeader) -> Result<(), SupportError> {
        if header.number != self.next_number {
            return Err(SupportError::OutOfSequence {
                expected: self.next_number,
                got: header.number,
            });
        }
        if header.previous_hash != self.previous_hash {
            return Err(SupportError::BrokenChain {
                number: header.number,
            });
        }
        Ok(())
    }

    /// Records that the block with `header` was written.
    pub fn advance(&mut self, header: &BlockHeader) {
        *self = BlockAssembler::after(header);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn der_of_a_header_by_hand() {
        // Block 0 of a chain: empty previous hash, a 32-byte data hash of 0xab.
        let header = BlockHeader {
            number: 0,
            previous_hash: Bytes::new(),
            data_hash: Bytes::from(vec![0xab; 32]),
        };
        // 30 27                  SEQUENCE, 39 bytes
        //    02 01 00            INTEGER 0
        //    04 00               OCTET STRING, empty
        //    04 20 ab*32         OCTET STRING, 32 bytes
        let mut want = vec![0x30, 0x27, 0x02, 0x01, 0x00, 0x04, 0x00, 0x04, 0x20];
        want.extend([0xab; 32]);
        assert_eq!(header_der(&header), want);
        // sha256 of those 41 bytes, computed independently (Python hashlib).
        assert_eq!(
            hex(&block_header_hash(&header)),
            "ccf29ccd7b79eabf632695ab73a911dd0e86758806f36fcc4dc690225ab2a5a2"
        );
    }

    #[test]
    fn der_integer_keeps_the_sign_bit_clear() {
        assert_eq!(der_uint(0), vec![0x00]);
        assert_eq!(der_uint(127), vec![0x7f]);
        assert_eq!(der_uint(128), vec![0x00, 0x80]);
        assert_eq!(der_uint(256), vec![0x01, 0x00]);
        assert_eq!(
            der_uint(u64::MAX),
            vec![0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn der_long_form_length() {
        let mut out = Vec::new();
        der_tlv(&mut out, 0x04, &[0u8; 200]);
        assert_eq!(&out[..3], &[0x04, 0x81, 200]);
        let mut out = Vec::new();
        der_tlv(&mut out, 0x04, &[0u8; 300]);
        assert_eq!(&out[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn data_hash_is_sha256_of_concatenation() {
        let data = vec![Bytes::from_static(b"ab"), Bytes::from_static(b"c")];
        // sha256("abc")
        assert_eq!(
            hex(&block_data_hash(&data)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn assembler_chains_blocks_and_verify_accepts_them() {
        let mut asm = BlockAssembler::empty();
        let env = RawEnvelope::from_envelope(&crate::proto::common::Envelope {
            payload: Bytes::from_static(b"p"),
            signature: Bytes::new(),
        });
        let b0 = asm.next_block(vec![env.clone()]);
        let h0 = b0.header.clone().unwrap();
        assert_eq!(h0.number, 0);
        asm.check_next(&h0).unwrap();
        asm.advance(&h0);
        let b1 = asm.next_block(vec![env.clone(), env]);
        let h1 = b1.header.clone().unwrap();
        assert_eq!(h1.number, 1);
        assert_eq!(h1.previous_hash.as_ref(), block_header_hash(&h0));
        verify_block(&b0, None).unwrap();
        verify_block(&b1, Some(&h0)).unwrap();
        // b0 does not follow b1; b1 with altered data fails its data hash.
        assert_eq!(
            verify_block(&b0, Some(&h1)),
            Err(BlockError::NotConsecutive {
                number: 0,
                previous: 1
            })
        );
        let mut bad = b1.clone();
        bad.data.as_mut().unwrap().data.pop();
        assert_eq!(
            verify_block(&bad, Some(&h0)).unwrap_err().to_string(),
            "block 1: data_hash does not match its data"
        );
        let mut moved = b1.clone();
        moved.header.as_mut().unwrap().previous_hash = Bytes::from_static(b"elsewhere");
        assert_eq!(
            verify_block(&moved, Some(&h0)).unwrap_err().to_string(),
            "block 1: previous_hash is not the header hash of block 0"
        );
        // Writing b0 again is out of sequence once b0 is in.
        assert_eq!(
            asm.check_next(&h0),
            Err(SupportError::OutOfSequence {
                expected: 1,
                got: 0
            })
        );
    }

    #[test]
    fn orderer_metadata_round_trips() {
        let mut block = new_block(3, Bytes::new(), vec![]);
        assert_eq!(
            block.metadata.as_ref().unwrap().metadata.len(),
            METADATA_SLOTS
        );
        set_orderer_metadata(&mut block, 2, Bytes::from_static(b"kafka"));
        let meta = orderer_metadata(&block).unwrap();
        assert_eq!(meta.last_config, Some(LastConfig { index: 2 }));
        assert_eq!(consenter_metadata(&meta), Bytes::from_static(b"kafka"));
    }

    fn kafka_offsets() -> Bytes {
        crate::proto::orderer::KafkaMetadata {
            last_offset_persisted: 41,
            last_original_offset_processed: 7,
            last_resubmitted_config_offset: 5,
            dedupe_window: 0,
        }
        .encode_to_vec()
        .into()
    }

    #[test]
    fn consenter_metadata_is_written_wrapped_in_a_metadata_message_as_fabric_does() {
        let mut block = new_block(3, Bytes::new(), vec![]);
        set_orderer_metadata(&mut block, 0, kafka_offsets());
        let stored = orderer_metadata(&block).unwrap().consenter_metadata;
        // Fabric's blockwriter: ConsenterMetadata = Marshal(Metadata{Value: kafka}).
        let fabric = Metadata {
            value: kafka_offsets(),
            signatures: Vec::new(),
        }
        .encode_to_vec();
        assert_eq!(stored.as_ref(), fabric.as_slice());
    }

    #[test]
    fn consenter_metadata_reads_fabric_s_wrapped_form_and_this_orderer_s_earlier_bare_form() {
        let wrapped = OrdererBlockMetadata {
            last_config: None,
            consenter_metadata: wrap_consenter_metadata(kafka_offsets()),
        };
        assert_eq!(consenter_metadata(&wrapped), kafka_offsets());
        let bare = OrdererBlockMetadata {
            last_config: None,
            consenter_metadata: kafka_offsets(),
        };
        assert_eq!(consenter_metadata(&bare), kafka_offsets());
        // Solo's empty metadata stays empty either way.
        let mut block = new_block(1, Bytes::new(), vec![]);
        set_orderer_metadata(&mut block, 0, Bytes::new());
        let meta = orderer_metadata(&block).unwrap();
        assert!(meta.consenter_metadata.is_empty());
        assert!(consenter_metadata(&meta).is_empty());
    }
}
