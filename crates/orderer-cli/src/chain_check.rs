//! `orderer-cli chain-check`: are several orderers' chains of a channel the same, and
//! does every acknowledged envelope appear in them exactly once?

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Context;
use orderer_api::block::{block_header_hash, consenter_metadata, orderer_metadata, verify_block};
use orderer_api::proto::common::{Block, Envelope, Status};
use orderer_api::proto::orderer::KafkaMetadata;
use prost::Message;
use serde_json::json;

use crate::client::{self, Tls};
use crate::deliver::{DeliverRequest, deliver};
use crate::envelopes::{Position, Signer};

/// How many tx ids a report names per kind (duplicates, lost).
const NAMED: usize = 20;

/// One block of a chain, as chain-check compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSummary {
    pub number: u64,
    /// Lower-case hex of the header hash.
    pub hash: String,
    /// The Kafka offset of the block's last record, when its metadata holds one.
    pub kafka_offset: Option<i64>,
    /// The LAST_CONFIG index its orderer metadata records, when it holds one.
    pub last_config: Option<u64>,
}

impl BlockSummary {
    /// The header hash, with the metadata when the block holds any.
    fn describe(&self) -> String {
        let mut out = self.hash.clone();
        if let Some(o) = self.kafka_offset {
            out.push_str(&format!(" kafka offset {o}"));
        }
        if let Some(l) = self.last_config {
            out.push_str(&format!(" last config {l}"));
        }
        out
    }
}

/// One orderer's chain: its blocks and the tx ids they hold.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    pub server: String,
    pub blocks: Vec<BlockSummary>,
    /// Every envelope's tx id (empty ones skipped) with the number of its block.
    pub tx_ids: Vec<(String, u64)>,
}

impl Chain {
    /// Adds `block`, checking that it extends the chain (number and previous hash).
    pub fn push(&mut self, block: &Block) -> anyhow::Result<()> {
        let header = block.header.clone().unwrap_or_default();
        let number = header.number;
        anyhow::ensure!(
            number == self.blocks.len() as u64,
            "{}: block {number} delivered where block {} was expected",
            self.server,
            self.blocks.len()
        );
        verify_block(block, None).map_err(|e| anyhow::anyhow!("{}: {e}", self.server))?;
        if let Some(prev) = self.blocks.last() {
            let got = crate::hex(&header.previous_hash);
            anyhow::ensure!(
                got == prev.hash,
                "{}: block {number}'s previous hash {got} is not block {}'s header hash {}",
                self.server,
                prev.number,
                prev.hash
            );
        }
        let meta = orderer_metadata(block).ok();
        let kafka_offset = meta
            .as_ref()
            .and_then(|m| KafkaMetadata::decode(consenter_metadata(m)).ok())
            .map(|k| k.last_offset_persisted)
            .filter(|_| number > 0);
        let last_config = meta.and_then(|m| m.last_config).map(|l| l.index);
        self.blocks.push(BlockSummary {
            number,
            hash: crate::hex(&block_header_hash(&header)),
            kafka_offset,
            last_config,
        });
        for raw in block
            .data
            .as_ref()
            .map(|d| d.data.as_slice())
            .unwrap_or(&[])
        {
            let Ok(env) = Envelope::decode(raw.clone()) else {
                continue;
            };
            let Ok(p) = orderer_api::envelope::parse_payload(&env) else {
                continue;
            };
            if !p.channel_header.tx_id.is_empty() {
                self.tx_ids.push((p.channel_header.tx_id, number));
            }
        }
        Ok(())
    }
}

/// Reads `server`'s whole chain of `channel` (oldest to newest as of the request).
pub async fn read_chain(
    server: &str,
    tls: Option<&Tls>,
    signer: &Signer,
    channel: &str,
) -> anyhow::Result<Chain> {
    let mut client = client::connect_with(server, tls).await?;
    let mut chain = Chain {
        server: server.to_owned(),
        ..Default::default()
    };
    let req = DeliverRequest {
        channel: channel.to_owned(),
        start: Position::Oldest,
        stop: Position::Newest,
        fail_if_not_ready: false,
    };
    let outcome = deliver(&mut client, signer, &req, |block| chain.push(&block))
        .await
        .with_context(|| format!("reading the chain of {channel} from {server}"))?;
    if outcome.status != Some(Status::Success) {
        anyhow::bail!(
            "{server}: Deliver of {channel} ended with {:?}{}",
            outcome.status,
            outcome.reason.map(|r| format!(": {r}")).unwrap_or_default()
        );
    }
    Ok(chain)
}

/// The first block where two chains differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub block: u64,
    /// Per server: the header hash there, or None where the chain is shorter.
    pub hashes: Vec<(String, Option<String>)>,
}

/// A tx id present more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub tx_id: String,
    pub server: String,
    /// The blocks holding it, once per copy.
    pub blocks: Vec<u64>,
}

/// What chain-check found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub heights: Vec<(String, u64)>,
    /// Blocks of the first chain whose metadata records a Kafka offset.
    pub kafka_offsets: u64,
    pub difference: Option<Difference>,
    pub acked: Option<u64>,
    /// Distinct tx ids in the chains (the union).
    pub delivered: u64,
    /// Tx ids present more than once in some chain (counted once each).
    pub duplicates: u64,
    pub duplicate_examples: Vec<Duplicate>,
    /// Acknowledged tx ids absent from some chain.
    pub lost: u64,
    /// (tx id, servers whose chains miss it).
    pub lost_examples: Vec<(String, Vec<String>)>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.difference.is_none() && self.duplicates == 0 && self.lost == 0
    }

    pub fn json(&self) -> serde_json::Value {
        json!({
            "heights": self.heights.iter().map(|(s, h)| json!({"server": s, "height": h})).collect::<Vec<_>>(),
            "identical": self.difference.is_none(),
            "blocks_with_kafka_offset": self.kafka_offsets,
            "first_difference": self.difference.as_ref().map(|d| json!({
                "block": d.block,
                "hashes": d.hashes.iter().map(|(s, h)| json!({"server": s, "hash": h})).collect::<Vec<_>>(),
            })),
            "acked": self.acked,
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "duplicate_examples": self.duplicate_examples.iter().map(|d| json!({
                "tx_id": d.tx_id, "server": d.server, "blocks": d.blocks,
            })).collect::<Vec<_>>(),
            "lost": self.acked.map(|_| self.lost),
            "lost_examples": self.lost_examples.iter().map(|(id, s)| json!({"tx_id": id, "missing_on": s})).collect::<Vec<_>>(),
            "ok": self.ok(),
        })
    }

    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "heights: {}",
            self.heights
                .iter()
                .map(|(s, h)| format!("{s} {h}"))
                .collect::<Vec<_>>()
                .join(", ")
        )];
        match &self.difference {
            None => out.push(
                "chains identical header for header (Kafka offsets and LAST_CONFIG included)"
                    .into(),
            ),
            Some(d) => out.push(format!(
                "chains differ at block {}: {}",
                d.block,
                d.hashes
                    .iter()
                    .map(|(s, h)| format!("{s} {}", h.as_deref().unwrap_or("(none)")))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        out.push(format!(
            "acked {}, delivered {}, duplicates {}, lost {}",
            self.acked
                .map_or_else(|| "(not given)".into(), |a| a.to_string()),
            self.delivered,
            self.duplicates,
            self.acked
                .map_or_else(|| "(not checked)".into(), |_| self.lost.to_string())
        ));
        for d in &self.duplicate_examples {
            out.push(format!(
                "duplicate: {} on {} in blocks {:?}",
                d.tx_id, d.server, d.blocks
            ));
        }
        for (id, servers) in &self.lost_examples {
            out.push(format!(
                "lost: {id} (acknowledged) missing on {}",
                servers.join(", ")
            ));
        }
        out
    }
}

/// Compares `chains` header for header and counts duplicates and, given the
/// acknowledged tx ids, the lost ones.
pub fn check(chains: &[Chain], acked: Option<&[String]>) -> CheckReport {
    let mut report = CheckReport {
        heights: chains
            .iter()
            .map(|c| (c.server.clone(), c.blocks.len() as u64))
            .collect(),
        ..Default::default()
    };
    report.kafka_offsets = chains.first().map_or(0, |c| {
        c.blocks.iter().filter(|b| b.kafka_offset.is_some()).count() as u64
    });
    let longest = chains.iter().map(|c| c.blocks.len()).max().unwrap_or(0);
    // Header hashes, and the orderer metadata they do not cover: the Kafka offset
    // and LAST_CONFIG each block records.
    report.difference = (0..longest).find_map(|n| {
        let first = chains[0].blocks.get(n);
        chains
            .iter()
            .any(|c| c.blocks.get(n) != first)
            .then(|| Difference {
                block: n as u64,
                hashes: chains
                    .iter()
                    .map(|c| {
                        (
                            c.server.clone(),
                            c.blocks.get(n).map(BlockSummary::describe),
                        )
                    })
                    .collect(),
            })
    });
    let mut union: HashSet<&str> = HashSet::new();
    let mut duplicated: BTreeMap<&str, Duplicate> = BTreeMap::new();
    let mut present: Vec<HashSet<&str>> = Vec::with_capacity(chains.len());
    for c in chains {
        let mut where_: HashMap<&str, Vec<u64>> = HashMap::with_capacity(c.tx_ids.len());
        for (id, block) in &c.tx_ids {
            where_.entry(id.as_str()).or_default().push(*block);
        }
        for (id, blocks) in &where_ {
            union.insert(id);
            if blocks.len() > 1 {
                duplicated.entry(id).or_insert_with(|| Duplicate {
                    tx_id: (*id).to_owned(),
                    server: c.server.clone(),
                    blocks: blocks.clone(),
                });
            }
        }
        present.push(where_.into_keys().collect());
    }
    report.delivered = union.len() as u64;
    report.duplicates = duplicated.len() as u64;
    report.duplicate_examples = duplicated.into_values().take(NAMED).collect();
    if let Some(acked) = acked {
        let distinct: HashSet<&str> = acked.iter().map(String::as_str).collect();
        report.acked = Some(distinct.len() as u64);
        let mut lost: Vec<(String, Vec<String>)> = distinct
            .into_iter()
            .filter_map(|id| {
                let missing: Vec<String> = chains
                    .iter()
                    .zip(&present)
                    .filter(|(_, p)| !p.contains(id))
                    .map(|(c, _)| c.server.clone())
                    .collect();
                (!missing.is_empty()).then(|| (id.to_owned(), missing))
            })
            .collect();
        lost.sort();
        report.lost = lost.len() as u64;
        report.lost_examples = lost.into_iter().take(NAMED).collect();
    }
    report
}

/// Reads a file of acknowledged tx ids, one per line (blank lines skipped).
pub fn read_acked(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--acked {}: cannot read", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(server: &str, hashes: &[&str], ids: &[(&str, u64)]) -> Chain {
        Chain {
            server: server.into(),
            blocks: hashes
                .iter()
                .enumerate()
                .map(|(n, h)| BlockSummary {
                    number: n as u64,
                    hash: (*h).into(),
                    kafka_offset: None,
                    last_config: None,
                })
                .collect(),
            tx_ids: ids.iter().map(|(i, b)| ((*i).into(), *b)).collect(),
        }
    }

    #[test]
    fn identical_chains_with_every_acked_id_once_pass() {
        let ids = [("t1", 1), ("t2", 1), ("t3", 2)];
        let a = chain("a", &["h0", "h1", "h2"], &ids);
        let b = chain("b", &["h0", "h1", "h2"], &ids);
        let acked = vec!["t1".to_owned(), "t3".to_owned()];
        let r = check(&[a, b], Some(&acked));
        assert!(r.ok(), "{:?}", r.lines());
        assert_eq!(
            (r.acked, r.delivered, r.duplicates, r.lost),
            (Some(2), 3, 0, 0)
        );
    }

    #[test]
    fn the_first_differing_block_is_named_with_every_hash() {
        let a = chain("a", &["h0", "h1", "h2"], &[]);
        let b = chain("b", &["h0", "x1", "x2"], &[]);
        let c = chain("c", &["h0"], &[]);
        let r = check(&[a.clone(), b], None);
        let d = r.difference.clone().unwrap();
        assert_eq!(d.block, 1);
        assert_eq!(d.hashes[1], ("b".into(), Some("x1".into())));
        assert!(!r.ok());
        // A shorter chain differs where it ends.
        let r = check(&[a, c], None);
        assert_eq!(r.difference.unwrap().hashes[1], ("c".into(), None));
    }

    #[test]
    fn the_same_headers_with_other_kafka_offsets_or_last_config_differ() {
        let a = chain("a", &["h0", "h1"], &[]);
        let mut b = a.clone();
        b.server = "b".into();
        b.blocks[1].kafka_offset = Some(7);
        let d = check(&[a.clone(), b], None).difference.unwrap();
        assert_eq!(d.block, 1);
        assert_eq!(d.hashes[1], ("b".into(), Some("h1 kafka offset 7".into())));
        let mut c = a.clone();
        c.blocks[1].last_config = Some(1);
        assert!(check(&[a, c], None).difference.is_some());
    }

    #[test]
    fn an_id_twice_in_any_chain_is_a_duplicate_and_an_acked_id_missing_anywhere_is_lost() {
        let a = chain("a", &["h0", "h1", "h2"], &[("t1", 1), ("t1", 2), ("t2", 2)]);
        let b = chain("b", &["h0", "h1", "h2"], &[("t1", 1), ("t2", 2)]);
        let acked = vec!["t1".to_owned(), "t2".to_owned(), "t9".to_owned()];
        let r = check(&[a, b], Some(&acked));
        assert_eq!(r.duplicates, 1);
        assert_eq!(r.duplicate_examples[0].blocks, vec![1, 2]);
        assert_eq!(r.duplicate_examples[0].server, "a");
        assert_eq!(r.lost, 1);
        assert_eq!(
            r.lost_examples,
            vec![("t9".to_owned(), vec!["a".to_owned(), "b".to_owned()])]
        );
        assert_eq!(r.delivered, 2);
        assert!(!r.ok());
    }
}
