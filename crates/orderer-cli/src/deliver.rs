//! Delivering blocks and checking the chain they form.

use anyhow::Context;
use orderer_api::block::{block_header_hash, signature_message, signatures_metadata, verify_block};
use orderer_api::proto::common::{Block, BlockHeader, SignatureHeader, Status};
use orderer_api::proto::orderer::deliver_response;
use orderer_msp::{Msp, Verifier};
use prost::Message;
use tonic::transport::Channel;

use crate::client::describe_status;
use crate::envelopes::{Position, Signer};
use crate::proto_client::atomic_broadcast_client::AtomicBroadcastClient;

/// What one Deliver request asks for.
#[derive(Debug, Clone)]
pub struct DeliverRequest {
    pub channel: String,
    pub start: Position,
    pub stop: Position,
    pub fail_if_not_ready: bool,
}

/// How a Deliver request ended.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverOutcome {
    /// The status the orderer sent after the blocks (None if the stream just ended).
    pub status: Option<Status>,
    /// The reason the orderer gave for a non-SUCCESS status, if any.
    pub reason: Option<String>,
    pub blocks: u64,
}

/// Checks each delivered block against the one before it.
#[derive(Debug, Default)]
pub struct ChainChecker {
    previous: Option<BlockHeader>,
}

impl ChainChecker {
    /// Verifies the block's data hash and, when it follows the previous block
    /// delivered, its previous hash. A gap or a repeat is an error.
    pub fn check(&mut self, block: &Block) -> Result<(), String> {
        let header = block.header.as_ref().ok_or("block without header")?;
        let previous = match &self.previous {
            Some(p) if header.number != p.number + 1 => {
                return Err(format!(
                    "block {} delivered after block {}: the chain has a gap or a repeat",
                    header.number, p.number
                ));
            }
            other => other.as_ref(),
        };
        verify_block(block, previous).map_err(|e| e.to_string())?;
        self.previous = Some(header.clone());
        Ok(())
    }
}

/// Checks the orderer's signatures on blocks, Fabric's rule: each signature in the
/// `SIGNATURES` metadata is over the metadata value, its signature header and the
/// block header, by an identity of the orderer's MSP.
#[derive(Debug)]
pub struct SignatureChecker {
    verifier: Verifier,
}

impl SignatureChecker {
    /// Accepts signatures by identities of `msp` (the orderer organization).
    pub fn new(msp: Msp) -> Self {
        SignatureChecker {
            verifier: Verifier::new([msp]),
        }
    }

    /// Checks every signature of `block`; at least one is required, except on a
    /// genesis block (which nobody signs, so that every node's is identical).
    /// Returns how many signatures verified.
    pub fn check(&self, block: &Block) -> Result<usize, String> {
        let header = block.header.as_ref().ok_or("block without header")?;
        let n = header.number;
        let meta = signatures_metadata(block)
            .map_err(|e| format!("block {n}: SIGNATURES metadata is not a common.Metadata: {e}"))?;
        if meta.signatures.is_empty() {
            return if n == 0 {
                Ok(0)
            } else {
                Err(format!("block {n} carries no orderer signature"))
            };
        }
        for (i, sig) in meta.signatures.iter().enumerate() {
            let sh = SignatureHeader::decode(sig.signature_header.clone())
                .map_err(|e| format!("block {n} signature {i}: bad signature header: {e}"))?;
            let signer = self
                .verifier
                .identify(&sh.creator, orderer_msp::now())
                .map_err(|e| format!("block {n} signature {i}: signer refused: {e}"))?;
            let message = signature_message(&meta.value, &sig.signature_header, header);
            signer
                .verify(&message, &sig.signature)
                .map_err(|e| format!("block {n} signature {i} by {}: {e}", signer.msp_id()))?;
        }
        Ok(meta.signatures.len())
    }
}

/// One line describing a block: number, envelope count and header hash prefix.
pub fn block_line(block: &Block) -> String {
    let header = block.header.clone().unwrap_or_default();
    let count = block.data.as_ref().map(|d| d.data.len()).unwrap_or(0);
    let hash = crate::hex(&block_header_hash(&header));
    format!(
        "block {}: {} envelopes, hash {}",
        header.number,
        count,
        &hash[..16]
    )
}

/// Runs one Deliver request, calling `on_block` for each block in order. Stops early
/// (with an error) if `on_block` fails.
pub async fn deliver(
    client: &mut AtomicBroadcastClient<Channel>,
    signer: &Signer,
    req: &DeliverRequest,
    mut on_block: impl FnMut(Block) -> anyhow::Result<()>,
) -> anyhow::Result<DeliverOutcome> {
    let env = signer.seek(&req.channel, req.start, req.stop, req.fail_if_not_ready)?;
    let mut stream = client
        .deliver(tokio_stream::iter(vec![env]))
        .await
        .map_err(|s| anyhow::anyhow!("Deliver refused: {}", describe_status(&s)))?
        .into_inner();
    let mut outcome = DeliverOutcome {
        status: None,
        reason: None,
        blocks: 0,
    };
    loop {
        let msg = stream
            .message()
            .await
            .map_err(|s| anyhow::anyhow!("Deliver failed: {}", describe_status(&s)))?;
        let Some(msg) = msg else { break };
        match msg.r#type {
            Some(deliver_response::Type::Block(block)) => {
                outcome.blocks += 1;
                on_block(block)?;
            }
            Some(deliver_response::Type::Status(s)) => {
                let status = Status::try_from(s).unwrap_or(Status::Unknown);
                outcome.status = Some(status);
                if status != Status::Success {
                    // The orderer gives its reason in the final gRPC status message.
                    if let Ok(Some(trailers)) = stream.trailers().await {
                        outcome.reason = trailers
                            .get("grpc-message")
                            .and_then(|v| v.to_str().ok())
                            .map(percent_decode);
                    }
                }
                break;
            }
            None => anyhow::bail!("the orderer sent an empty DeliverResponse"),
        }
    }
    Ok(outcome)
}

/// Fetches one block by number.
pub async fn fetch_block(
    client: &mut AtomicBroadcastClient<Channel>,
    signer: &Signer,
    channel: &str,
    number: Position,
) -> anyhow::Result<Block> {
    let req = DeliverRequest {
        channel: channel.to_owned(),
        start: number,
        stop: number,
        fail_if_not_ready: true,
    };
    let mut found = None;
    let outcome = deliver(client, signer, &req, |b| {
        found = Some(b);
        Ok(())
    })
    .await?;
    found.with_context(|| {
        format!(
            "no block {number:?} in channel {channel}: {:?}{}",
            outcome.status.unwrap_or(Status::Unknown),
            outcome
                .reason
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )
    })
}

/// Decodes the %XX escapes of a grpc-message.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderer_api::BlockAssembler;
    use orderer_api::testing::test_envelope;

    #[test]
    fn checker_accepts_a_chain_and_refuses_gaps_and_tampering() {
        let mut asm = BlockAssembler::empty();
        let mut blocks = Vec::new();
        for i in 0..3 {
            let b = asm.next_block(vec![test_envelope("c", i, 100)]);
            asm.advance(b.header.as_ref().unwrap());
            blocks.push(b);
        }
        let mut ok = ChainChecker::default();
        for b in &blocks {
            ok.check(b).unwrap();
        }
        let mut gap = ChainChecker::default();
        gap.check(&blocks[0]).unwrap();
        assert!(gap.check(&blocks[2]).unwrap_err().contains("gap"));
        let mut tampered = blocks[1].clone();
        tampered.header.as_mut().unwrap().previous_hash = bytes::Bytes::from_static(b"x");
        let mut c = ChainChecker::default();
        c.check(&blocks[0]).unwrap();
        assert!(c.check(&tampered).unwrap_err().contains("previous_hash"));
    }

    #[test]
    fn grpc_messages_are_percent_decoded() {
        assert_eq!(percent_decode("a%20b%25"), "a b%");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
    }
}
