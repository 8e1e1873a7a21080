//! The Deliver replay: a range of blocks as fast as the orderer sends them.

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use indicatif::ProgressBar;
use orderer_api::proto::common::{Block, Status};
use prost::Message;
use serde_json::json;
use tonic::transport::Channel;

use crate::client::describe_status;
use crate::deliver::ChainChecker;
use crate::raw::{self, Frame};

use super::measure::{cpu_seconds, per_second};
use super::watcher::{status_name, trailer_reason};

/// The result of a Deliver replay.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverResult {
    pub blocks: u64,
    pub envelopes: Option<u64>,
    pub bytes: u64,
    pub time: Duration,
    pub client_cpu: Option<f64>,
    pub verified: bool,
}

impl DeliverResult {
    pub fn blocks_per_second(&self) -> f64 {
        per_second(self.blocks, self.time)
    }

    pub fn mb_per_second(&self) -> f64 {
        per_second(self.bytes, self.time) / 1e6
    }

    pub fn json(&self) -> serde_json::Value {
        json!({
            "blocks": self.blocks,
            "envelopes": self.envelopes,
            "bytes": self.bytes,
            "seconds": self.time.as_secs_f64(),
            "blocks_per_s": self.blocks_per_second().round(),
            "mb_per_s": (self.mb_per_second() * 10.0).round() / 10.0,
            "hash_chain_verified": self.verified,
            "client_cpu_seconds": self.client_cpu,
        })
    }

    pub fn lines(&self) -> Vec<String> {
        vec![
            format!(
                "delivered {} blocks, {:.1} MB in {:.3} s: {:.0} blocks/s, {:.1} MB/s",
                self.blocks,
                self.bytes as f64 / 1e6,
                self.time.as_secs_f64(),
                self.blocks_per_second(),
                self.mb_per_second()
            ),
            format!(
                "hash chain {}; client CPU {}",
                if self.verified {
                    "verified"
                } else {
                    "not checked (--verify checks it)"
                },
                self.client_cpu
                    .map(|c| format!("{c:.2} s"))
                    .unwrap_or_else(|| "unknown".into())
            ),
        ]
    }
}

/// Replays what the marshalled seek envelope `seek` asks for, as fast as the orderer
/// sends it. With `verify`, decodes every block and checks the hash chain.
pub async fn deliver(
    connection: Channel,
    seek: Bytes,
    verify: bool,
    progress: bool,
) -> anyhow::Result<DeliverResult> {
    let bar = if progress {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    let mut stream = raw::deliver(connection, seek).await?;
    let mut result = DeliverResult {
        blocks: 0,
        envelopes: verify.then_some(0),
        bytes: 0,
        time: Duration::ZERO,
        client_cpu: None,
        verified: verify,
    };
    let mut checker = ChainChecker::default();
    loop {
        let msg = stream
            .message()
            .await
            .map_err(|s| anyhow::anyhow!("Deliver failed: {}", describe_status(&s)))?
            .context("the orderer ended the Deliver stream without a status")?;
        match raw::frame(msg)? {
            Frame::Block(b) => {
                result.blocks += 1;
                result.bytes += b.len() as u64;
                if verify {
                    let block = Block::decode(b).context("a delivered block does not decode")?;
                    checker
                        .check(&block)
                        .map_err(|e| anyhow::anyhow!("chain verification failed: {e}"))?;
                    let n = block.data.map(|d| d.data.len() as u64).unwrap_or(0);
                    result.envelopes = result.envelopes.map(|e| e + n);
                }
                if result.blocks % 256 == 0 {
                    bar.set_message(format!(
                        "{} blocks, {:.0} MB",
                        result.blocks,
                        result.bytes as f64 / 1e6
                    ));
                    bar.tick();
                }
            }
            Frame::Status(s) if s == Status::Success as i32 => break,
            Frame::Status(s) => {
                let reason = trailer_reason(&mut stream).await;
                anyhow::bail!(
                    "Deliver ended with {} after {} blocks{reason}",
                    status_name(s),
                    result.blocks
                );
            }
        }
    }
    result.time = start.elapsed();
    bar.finish_and_clear();
    result.client_cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    Ok(result)
}
