//! Fabric's block cutter: which envelopes go into which batch.
//!
//! Pure and synchronous. The batch timer (`BatchTimeout`) is the consenter's: start it
//! when [`Ordered::pending`] becomes true, stop it when it becomes false, and call
//! [`BlockCutter::cut`] when it fires.

use std::sync::Arc;
use std::time::Instant;

use crate::envelope::RawEnvelope;
use crate::metrics;

/// `Orderer.BatchSize`: the limits of one batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSize {
    /// A batch is cut as soon as it holds this many envelopes.
    pub max_message_count: u32,
    /// No envelope larger than this is accepted at all (enforced at ingress).
    pub absolute_max_bytes: u32,
    /// A batch is cut before it would grow past this many bytes; a larger envelope
    /// travels alone in its own batch.
    pub preferred_max_bytes: u32,
}

/// A `BatchSize` constraint that does not hold, naming the field at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSizeError {
    /// `MaxMessageCount`, `AbsoluteMaxBytes` or `PreferredMaxBytes`.
    pub field: &'static str,
    pub reason: String,
}

impl std::fmt::Display for BatchSizeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BatchSize.{} {}", self.field, self.reason)
    }
}

impl BatchSize {
    /// Fabric's constraints: every limit positive, and preferred <= absolute.
    pub fn validate(&self) -> Result<(), BatchSizeError> {
        let err = |field, reason: &str| {
            Err(BatchSizeError {
                field,
                reason: reason.to_owned(),
            })
        };
        if self.max_message_count == 0 {
            return err("MaxMessageCount", "must be greater than 0");
        }
        if self.absolute_max_bytes == 0 {
            return err("AbsoluteMaxBytes", "must be greater than 0");
        }
        if self.preferred_max_bytes == 0 {
            return err("PreferredMaxBytes", "must be greater than 0");
        }
        if self.preferred_max_bytes > self.absolute_max_bytes {
            return err(
                "PreferredMaxBytes",
                &format!(
                    "({}) must not exceed BatchSize.AbsoluteMaxBytes ({})",
                    self.preferred_max_bytes, self.absolute_max_bytes
                ),
            );
        }
        Ok(())
    }
}

impl Default for BatchSize {
    /// Fabric's sample `configtx.yaml` values: 500 messages, 10 MB absolute, 2 MB preferred.
    fn default() -> Self {
        BatchSize {
            max_message_count: 500,
            absolute_max_bytes: 10 * 1024 * 1024,
            preferred_max_bytes: 2 * 1024 * 1024,
        }
    }
}

/// What [`BlockCutter::ordered`] decided for one envelope.
///
/// Every possible outcome, with `n = batches.len()`:
///
/// | n | pending | meaning |
/// |---|---------|---------|
/// | 0 | true    | the envelope joined the pending batch, which is still under every limit |
/// | 1 | false   | the envelope joined the pending batch and filled `MaxMessageCount`; it was cut |
/// | 1 | true    | the envelope would overflow `PreferredMaxBytes`: the pending batch was cut and the envelope starts a new one |
/// | 2 | false   | as above, and the envelope alone then filled `MaxMessageCount` (a count of 1) |
/// | 1 | false   | the envelope is larger than `PreferredMaxBytes`, nothing was pending: it is a batch of its own |
/// | 2 | false   | the envelope is larger than `PreferredMaxBytes`: the pending batch was cut, then the envelope alone |
///
/// Impossible: `n = 0` with `pending = false` (an envelope is never dropped) and
/// `n = 2` with `pending = true`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ordered {
    /// Batches to turn into blocks, in order.
    pub batches: Vec<Vec<RawEnvelope>>,
    /// Whether envelopes wait in the pending batch after this call.
    pub pending: bool,
}

/// Accumulates envelopes into batches by Fabric's rules. One per chain.
///
/// Like Fabric's cutter it records `blockcutter_block_fill_duration` for each batch:
/// the time from its first envelope to its cut (zero for an envelope cut alone).
#[derive(Debug)]
pub struct BlockCutter {
    limits: BatchSize,
    pending: Vec<RawEnvelope>,
    pending_bytes: usize,
    pending_since: Option<Instant>,
    channel: Arc<str>,
}

impl BlockCutter {
    /// A cutter for `channel` (the label of its fill-duration metric).
    pub fn new(limits: BatchSize, channel: &str) -> Self {
        BlockCutter {
            limits,
            pending: Vec::new(),
            pending_bytes: 0,
            pending_since: None,
            channel: channel.into(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> BatchSize {
        self.limits
    }

    /// Applies new limits (after a config block) to envelopes from now on; the pending
    /// batch is kept as it is.
    pub fn set_limits(&mut self, limits: BatchSize) {
        self.limits = limits;
    }

    /// Adds one envelope. See [`Ordered`] for every possible outcome.
    pub fn ordered(&mut self, env: RawEnvelope) -> Ordered {
        let size = env.size();
        let preferred = self.limits.preferred_max_bytes as usize;
        let mut batches = Vec::new();

        if size > preferred {
            if !self.pending.is_empty() {
                batches.push(self.cut());
            }
            metrics::block_filled(&self.channel, std::time::Duration::ZERO);
            batches.push(vec![env]);
            return Ordered {
                batches,
                pending: false,
            };
        }

        if self.pending_bytes + size > preferred {
            batches.push(self.cut());
        }

        if self.pending.is_empty() {
            self.pending_since = Some(Instant::now());
        }
        self.pending.push(env);
        self.pending_bytes += size;

        if self.pending.len() >= self.limits.max_message_count as usize {
            batches.push(self.cut());
        }
        Ordered {
            batches,
            pending: !self.pending.is_empty(),
        }
    }

    /// Takes the pending batch (possibly empty) and resets the cutter.
    pub fn cut(&mut self) -> Vec<RawEnvelope> {
        self.pending_bytes = 0;
        if let Some(since) = self.pending_since.take() {
            metrics::block_filled(&self.channel, since.elapsed());
        }
        std::mem::take(&mut self.pending)
    }

    /// Envelopes waiting in the pending batch.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// Bytes (by Fabric's message size) waiting in the pending batch.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::common::Envelope;
    use bytes::Bytes;

    /// An envelope whose cutter size is exactly `size` (payload `size` bytes, no signature).
    fn env(size: usize, tag: u8) -> RawEnvelope {
        RawEnvelope::from_envelope(&Envelope {
            payload: Bytes::from(vec![tag; size]),
            signature: Bytes::new(),
        })
    }

    fn limits(count: u32, preferred: u32) -> BatchSize {
        BatchSize {
            max_message_count: count,
            absolute_max_bytes: 1000,
            preferred_max_bytes: preferred,
        }
    }

    /// Sizes of each batch, and the tags of envelopes in it, as a compact string.
    fn shape(o: &Ordered) -> (Vec<Vec<u8>>, bool) {
        let batches = o
            .batches
            .iter()
            .map(|b| {
                b.iter()
                    .map(|e| {
                        let (_, env) = RawEnvelope::parse(e.bytes().clone()).unwrap();
                        env.payload.first().copied().unwrap_or(0)
                    })
                    .collect()
            })
            .collect();
        (batches, o.pending)
    }

    #[test]
    fn every_outcome_of_ordered() {
        struct Case {
            name: &'static str,
            limits: BatchSize,
            before: Vec<(usize, u8)>,
            msg: (usize, u8),
            want: (Vec<Vec<u8>>, bool),
            want_pending: usize,
        }
        let cases = vec![
            Case {
                name: "joins pending, under every limit",
                limits: limits(3, 100),
                before: vec![(10, 1)],
                msg: (10, 2),
                want: (vec![], true),
                want_pending: 2,
            },
            Case {
                name: "fills max message count",
                limits: limits(3, 100),
                before: vec![(10, 1), (10, 2)],
                msg: (10, 3),
                want: (vec![vec![1, 2, 3]], false),
                want_pending: 0,
            },
            Case {
                name: "would overflow preferred bytes: cut pending, start new",
                limits: limits(10, 100),
                before: vec![(40, 1), (40, 2)],
                msg: (40, 3),
                want: (vec![vec![1, 2]], true),
                want_pending: 1,
            },
            Case {
                name: "exactly preferred bytes fits",
                limits: limits(10, 100),
                before: vec![(60, 1)],
                msg: (40, 2),
                want: (vec![], true),
                want_pending: 2,
            },
            Case {
                name: "alone fills a count of one",
                limits: limits(1, 100),
                before: vec![],
                msg: (40, 3),
                want: (vec![vec![3]], false),
                want_pending: 0,
            },
            Case {
                name: "oversized with nothing pending: alone",
                limits: limits(10, 100),
                before: vec![],
                msg: (101, 9),
                want: (vec![vec![9]], false),
                want_pending: 0,
            },
            Case {
                name: "oversized with pending: pending cut, then alone",
                limits: limits(10, 100),
                before: vec![(10, 1), (10, 2)],
                msg: (101, 9),
                want: (vec![vec![1, 2], vec![9]], false),
                want_pending: 0,
            },
        ];
        for case in cases {
            let mut cutter = BlockCutter::new(case.limits, "c");
            for (size, tag) in &case.before {
                let o = cutter.ordered(env(*size, *tag));
                assert!(o.batches.is_empty(), "{}: setup cut early", case.name);
            }
            let got = cutter.ordered(env(case.msg.0, case.msg.1));
            assert_eq!(shape(&got), case.want, "{}", case.name);
            assert_eq!(cutter.pending_count(), case.want_pending, "{}", case.name);
        }
    }

    #[test]
    fn overflow_then_fill_gives_two_batches() {
        // count 2: [a] pending; b (60) overflows 100 with a (50) -> cut [a]; b pending.
        // Then with count 1 set, the next message c alone fills it: [b] cut by overflow, [c] by count.
        let mut cutter = BlockCutter::new(limits(2, 100), "c");
        assert!(cutter.ordered(env(50, 1)).batches.is_empty());
        cutter.set_limits(limits(1, 100));
        let o = cutter.ordered(env(60, 2));
        assert_eq!(shape(&o), (vec![vec![1], vec![2]], false));
    }

    #[test]
    fn cut_returns_pending_and_resets() {
        let mut cutter = BlockCutter::new(limits(10, 100), "c");
        cutter.ordered(env(10, 1));
        cutter.ordered(env(10, 2));
        assert_eq!(cutter.pending_bytes(), 20);
        let batch = cutter.cut();
        assert_eq!(batch.len(), 2);
        assert_eq!(cutter.pending_count(), 0);
        assert_eq!(cutter.pending_bytes(), 0);
        assert!(cutter.cut().is_empty());
    }

    #[test]
    fn size_counts_payload_and_signature() {
        let e = RawEnvelope::from_envelope(&Envelope {
            payload: Bytes::from(vec![0; 30]),
            signature: Bytes::from(vec![0; 71]),
        });
        let mut cutter = BlockCutter::new(limits(10, 100), "c");
        // 101 > 100 preferred: isolated although the payload alone would fit.
        assert_eq!(cutter.ordered(e).batches.len(), 1);
    }

    #[test]
    fn validate_names_the_bad_field() {
        let ok = BatchSize::default();
        assert!(ok.validate().is_ok());
        let cases = [
            (
                BatchSize {
                    max_message_count: 0,
                    ..ok
                },
                "MaxMessageCount",
            ),
            (
                BatchSize {
                    absolute_max_bytes: 0,
                    ..ok
                },
                "AbsoluteMaxBytes",
            ),
            (
                BatchSize {
                    preferred_max_bytes: 0,
                    ..ok
                },
                "PreferredMaxBytes",
            ),
            (
                BatchSize {
                    preferred_max_bytes: 11,
                    absolute_max_bytes: 10,
                    ..ok
                },
                "must not exceed",
            ),
        ];
        for (bs, needle) in cases {
            let err = bs.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
