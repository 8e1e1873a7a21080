//! The duplicate window: an envelope whose bytes were already ordered in the last
//! `window` blocks (or are pending in the cutter) is dropped when read again.
//!
//! Duplicates reach the log two ways, and a producer setting can only stop the first:
//! a produce request whose answer was lost is sent again (librdkafka without
//! idempotence), and a client resends an envelope that was answered
//! SERVICE_UNAVAILABLE although it had reached the log (Fabric's SDKs resend on any
//! non-SUCCESS). The rule depends only on the log and the chain, which every OSN
//! shares, so their chains stay identical; at start the window is rebuilt from the
//! ledger's last `window` blocks, so a restarted OSN applies it as the others do.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// The first 128 bits of an envelope's SHA-256: collisions among honest envelopes
/// are out of reach, and finding one would only let a client drop its own envelope.
pub(crate) type EnvelopeHash = [u8; 16];

pub(crate) fn envelope_hash(bytes: &[u8]) -> EnvelopeHash {
    let full = Sha256::digest(bytes);
    let mut h = [0u8; 16];
    h.copy_from_slice(&full[..16]);
    h
}

/// Hashes of the envelopes of the last `window` blocks and of those pending.
#[derive(Debug)]
pub(crate) struct DedupeWindow {
    window: u64,
    /// Oldest first: a block's number and its envelopes' hashes.
    blocks: VecDeque<(u64, Vec<EnvelopeHash>)>,
    /// Pending envelopes, in the order the cutter holds them (a cut takes a prefix).
    pending: VecDeque<EnvelopeHash>,
    /// How many times each hash occurs in `blocks` and `pending`.
    counts: HashMap<EnvelopeHash, u32>,
}

impl DedupeWindow {
    /// `window` 0 switches the rule off (every record is ordered, as Fabric does).
    pub(crate) fn new(window: u64) -> Self {
        DedupeWindow {
            window,
            blocks: VecDeque::new(),
            pending: VecDeque::new(),
            counts: HashMap::new(),
        }
    }

    pub(crate) fn window(&self) -> u64 {
        self.window
    }

    pub(crate) fn enabled(&self) -> bool {
        self.window > 0
    }

    /// Whether an envelope with these bytes is in the window; `None` when the rule is
    /// off, else its hash, to hand to [`Self::ordered`] if it is ordered.
    pub(crate) fn check(&self, envelope: &[u8]) -> Check {
        if !self.enabled() {
            return Check::Off;
        }
        let h = envelope_hash(envelope);
        if self.counts.contains_key(&h) {
            Check::Duplicate
        } else {
            Check::New(h)
        }
    }

    /// An envelope went into the cutter.
    pub(crate) fn ordered(&mut self, h: EnvelopeHash) {
        if self.enabled() {
            self.pending.push_back(h);
            *self.counts.entry(h).or_default() += 1;
        }
    }

    /// Block `number` was written with the first `from_pending` pending envelopes
    /// and `others` (a config envelope, which never waits in the cutter).
    pub(crate) fn written(&mut self, number: u64, from_pending: usize, others: &[Bytes]) {
        if !self.enabled() {
            return;
        }
        let take = from_pending.min(self.pending.len());
        let mut hashes: Vec<EnvelopeHash> = self.pending.drain(..take).collect();
        for env in others {
            let h = envelope_hash(env);
            *self.counts.entry(h).or_default() += 1;
            hashes.push(h);
        }
        self.blocks.push_back((number, hashes));
        self.evict(number);
    }

    /// At start: block `number`'s envelopes as stored in the ledger (oldest first).
    pub(crate) fn load(&mut self, number: u64, envelopes: &[Bytes]) {
        self.written(number, 0, envelopes);
    }

    /// Number of the oldest block the window should reload at start, for a chain
    /// whose last block is `last`.
    pub(crate) fn first_to_load(&self, last: u64) -> u64 {
        // Block 0 holds the genesis config, never an envelope worth comparing.
        last.saturating_sub(self.window.saturating_sub(1)).max(1)
    }

    fn evict(&mut self, newest: u64) {
        while let Some((n, _)) = self.blocks.front() {
            if newest - n < self.window {
                break;
            }
            if let Some((_, hashes)) = self.blocks.pop_front() {
                for h in hashes {
                    if let Some(c) = self.counts.get_mut(&h) {
                        *c -= 1;
                        if *c == 0 {
                            self.counts.remove(&h);
                        }
                    }
                }
            }
        }
    }

    /// Hashes held (blocks and pending), for tests and metrics.
    pub(crate) fn len(&self) -> usize {
        self.counts.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Off,
    Duplicate,
    New(EnvelopeHash),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(i: u8) -> Bytes {
        Bytes::from(vec![i; 64])
    }

    fn order(w: &mut DedupeWindow, i: u8) -> bool {
        match w.check(&env(i)) {
            Check::New(h) => {
                w.ordered(h);
                true
            }
            Check::Duplicate => false,
            Check::Off => true,
        }
    }

    #[test]
    fn a_pending_envelope_read_again_is_a_duplicate() {
        let mut w = DedupeWindow::new(3);
        assert!(order(&mut w, 1));
        assert!(!order(&mut w, 1));
        assert!(order(&mut w, 2));
    }

    #[test]
    fn an_envelope_stays_in_the_window_for_exactly_window_blocks() {
        let mut w = DedupeWindow::new(3);
        assert!(order(&mut w, 1));
        w.written(1, 1, &[]);
        w.written(2, 0, &[env(9)]);
        assert!(!order(&mut w, 1), "block 1 is one of the last 3 blocks");
        w.written(3, 0, &[env(8)]);
        assert!(!order(&mut w, 1), "blocks 1..=3 are the last 3");
        w.written(4, 0, &[env(7)]);
        assert!(order(&mut w, 1), "block 1 left the window at block 4");
        assert!(!order(&mut w, 9), "block 2 is still in it");
    }

    #[test]
    fn a_cut_takes_the_oldest_pending_envelopes() {
        let mut w = DedupeWindow::new(1);
        assert!(order(&mut w, 1));
        assert!(order(&mut w, 2));
        assert!(order(&mut w, 3));
        w.written(1, 2, &[]);
        w.written(2, 1, &[]);
        // Window of one block: 1 and 2 (block 1) are out, 3 (block 2) is in.
        assert!(order(&mut w, 1));
        assert!(!order(&mut w, 3));
    }

    #[test]
    fn reloading_from_the_ledger_gives_the_same_window_as_having_written_the_blocks() {
        let mut live = DedupeWindow::new(2);
        for i in 1..=5u8 {
            assert!(order(&mut live, i));
            live.written(u64::from(i), 1, &[]);
        }
        let mut restarted = DedupeWindow::new(2);
        for n in restarted.first_to_load(5)..=5 {
            restarted.load(n, &[env(n as u8)]);
        }
        assert_eq!(restarted.first_to_load(5), 4);
        for i in 1..=6u8 {
            assert_eq!(
                live.check(&env(i)),
                restarted.check(&env(i)),
                "envelope {i}"
            );
        }
        assert_eq!(live.len(), 2);
    }

    #[test]
    fn window_zero_orders_everything() {
        let mut w = DedupeWindow::new(0);
        assert!(order(&mut w, 1));
        assert!(order(&mut w, 1));
        w.written(1, 2, &[env(1)]);
        assert_eq!(w.len(), 0);
        assert_eq!(w.check(&env(1)), Check::Off);
    }

    #[test]
    fn first_block_to_load_never_is_the_genesis_block() {
        assert_eq!(DedupeWindow::new(1000).first_to_load(10), 1);
        assert_eq!(DedupeWindow::new(3).first_to_load(10), 8);
        assert_eq!(DedupeWindow::new(1).first_to_load(10), 10);
    }
}
