//! The envelopes of one run, and how the watcher tells them from anyone else's.

use std::sync::Arc;

use bytes::Bytes;
use orderer_api::proto::common::{Envelope, Payload};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::envelopes::Signer;

/// The envelopes of one run, marshalled.
#[derive(Debug)]
pub struct Workload {
    pub(super) run_id: u32,
    pub(super) envelopes: Arc<Vec<Bytes>>,
    pub(super) bytes: u64,
    pub(super) signed: bool,
}

impl Workload {
    /// Builds `count` envelopes of `size` bytes for `channel`, signed by `signer`,
    /// on every core.
    pub fn prepare(
        signer: &Signer,
        channel: &str,
        count: u64,
        size: usize,
    ) -> anyhow::Result<Workload> {
        if count == 0 || count > u64::from(u32::MAX) {
            anyhow::bail!("--count must be between 1 and {}, got {count}", u32::MAX);
        }
        let run_id = run_id();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get() as u64)
            .unwrap_or(1)
            .min(count);
        let per_thread = count.div_ceil(threads);
        let parts: Vec<anyhow::Result<Vec<Bytes>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let range = t * per_thread..((t + 1) * per_thread).min(count);
                    s.spawn(move || {
                        range
                            .map(|i| {
                                let seq = (u64::from(run_id) << 32) | i;
                                let env = signer.transaction(channel, seq, size)?;
                                Ok(Bytes::from(env.encode_to_vec()))
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a signing thread panicked")))
                })
                .collect()
        });
        let mut envelopes = Vec::with_capacity(count as usize);
        for part in parts {
            envelopes.extend(part?);
        }
        let bytes = envelopes.iter().map(|e| e.len() as u64).sum();
        Ok(Workload {
            run_id,
            envelopes: Arc::new(envelopes),
            bytes,
            signed: signer.identity().is_some(),
        })
    }
}

impl Workload {
    /// The marshalled envelopes, in workload order.
    pub fn envelopes(&self) -> Arc<Vec<Bytes>> {
        Arc::clone(&self.envelopes)
    }
}

/// A number that tells this run's envelopes from other runs'.
fn run_id() -> u32 {
    let mut h = Sha256::new();
    h.update(std::process::id().to_le_bytes());
    h.update(format!("{:?}", std::time::SystemTime::now()).as_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// What the watcher needs of the workload.
#[derive(Debug)]
pub(super) struct WorkloadView {
    pub(super) run_id: u32,
    pub(super) count: usize,
}

impl WorkloadView {
    pub(super) fn index_of(&self, envelope: Bytes) -> Option<usize> {
        let env = Envelope::decode(envelope).ok()?;
        let payload = Payload::decode(env.payload).ok()?;
        let seq = u64::from_be_bytes(payload.data.get(..8)?.try_into().ok()?);
        if (seq >> 32) as u32 != self.run_id {
            return None;
        }
        let i = (seq & u64::from(u32::MAX)) as usize;
        (i < self.count).then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_are_recognised_in_blocks_and_others_are_not() {
        let signer = Signer::unsigned();
        let w = Workload::prepare(&signer, "mychannel", 10, 300).unwrap();
        assert_eq!(w.envelopes.len(), 10);
        assert!(w.envelopes.iter().all(|e| e.len() >= 300));
        let view = WorkloadView {
            run_id: w.run_id,
            count: 10,
        };
        for (i, e) in w.envelopes.iter().enumerate() {
            assert_eq!(view.index_of(e.clone()), Some(i));
        }
        let other = Workload::prepare(&signer, "mychannel", 1, 300).unwrap();
        if other.run_id != w.run_id {
            assert_eq!(view.index_of(other.envelopes[0].clone()), None);
        }
        assert_eq!(view.index_of(Bytes::from_static(b"junk")), None);
        assert!(Workload::prepare(&signer, "mychannel", 0, 300).is_err());
    }
}
