//! Properties every consenter must have. Each `pub async fn` states its preconditions
//! and checks one property against a [`Harness`]; [`conformance_tests!`] expands them
//! into one named test each.
//!
//! [`conformance_tests!`]: crate::conformance_tests

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{EVENT_TIMEOUT, FakeSupport, WrittenBlock, test_envelope};
use crate::blockcutter::BatchSize;
use crate::channel::ChannelConfig;
use crate::consensus::{Chain, ChainState, Consenter};
use crate::envelope::RawEnvelope;
use crate::error::ChainError;
use crate::{ConsenterSupport, Receipt};

/// What a consenter crate provides to run the suite.
#[async_trait]
pub trait Harness: Send + Sync {
    /// A consenter. Called once per chain incarnation (a restart calls it again).
    async fn consenter(&self) -> Arc<dyn Consenter>;

    /// The configuration of a new channel used by the property `test` alone, with
    /// the given batch parameters (Kafka: a fresh topic, the broker list).
    fn channel(&self, test: &str, batch_size: BatchSize, batch_timeout: Duration) -> ChannelConfig;
}

/// Long enough that no batch timer fires while a property runs.
const NEVER: Duration = Duration::from_secs(3600);
/// Short enough to keep timeout properties quick.
const SHORT: Duration = Duration::from_millis(300);
/// The cutter size of the envelopes the properties send.
const ENV_SIZE: usize = 200;

fn batch(count: u32, preferred: u32) -> BatchSize {
    BatchSize {
        max_message_count: count,
        absolute_max_bytes: 10 * 1024 * 1024,
        preferred_max_bytes: preferred,
    }
}

fn envelopes(channel: &ChannelConfig, range: std::ops::Range<u64>) -> Vec<RawEnvelope> {
    range
        .map(|i| test_envelope(&channel.channel_id, i, ENV_SIZE))
        .collect()
}

fn tx(i: u64) -> String {
    format!("tx{i:012}")
}

fn txs(range: std::ops::Range<u64>) -> Vec<String> {
    range.map(tx).collect()
}

/// Creates and starts a chain on `support` and waits until it is ready.
pub async fn start_chain(h: &dyn Harness, support: Arc<FakeSupport>) -> Arc<dyn Chain> {
    let metadata = support.last_consenter_metadata();
    let chain = h
        .consenter()
        .await
        .handle_chain(support, metadata)
        .unwrap_or_else(|e| panic!("handle_chain failed: {e}"));
    chain.start();
    wait_for_state(chain.as_ref(), "Ready", ChainState::is_ready).await;
    chain
}

/// Waits until the chain's state satisfies `pred`.
pub async fn wait_for_state(chain: &dyn Chain, what: &str, pred: impl Fn(&ChainState) -> bool) {
    let mut rx = chain.state();
    let waited = tokio::time::timeout(EVENT_TIMEOUT, rx.wait_for(|s| pred(s))).await;
    match waited {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => panic!("chain dropped its state channel before becoming {what}"),
        Err(_) => panic!(
            "chain did not become {what} within {EVENT_TIMEOUT:?}; state: {:?}",
            *chain.state().borrow()
        ),
    }
}

/// Orders every envelope in turn, then waits for every receipt.
pub async fn order_all(chain: &dyn Chain, envs: Vec<RawEnvelope>) {
    let mut receipts: Vec<Receipt> = Vec::with_capacity(envs.len());
    for env in envs {
        receipts.push(
            chain
                .order(env, 0)
                .await
                .unwrap_or_else(|e| panic!("order failed: {e}")),
        );
    }
    for r in receipts {
        r.await
            .unwrap_or_else(|e| panic!("envelope not accepted: {e}"));
    }
}

/// The next block written, or a failure after [`EVENT_TIMEOUT`].
pub async fn next_block(rx: &mut mpsc::UnboundedReceiver<WrittenBlock>) -> WrittenBlock {
    match tokio::time::timeout(EVENT_TIMEOUT, rx.recv()).await {
        Ok(Some(b)) => b,
        Ok(None) => panic!("the support was dropped while waiting for a block"),
        Err(_) => panic!("no block was written within {EVENT_TIMEOUT:?}"),
    }
}

/// Blocks written until `count` envelopes have arrived in total.
pub async fn blocks_holding(
    rx: &mut mpsc::UnboundedReceiver<WrittenBlock>,
    count: usize,
) -> Vec<WrittenBlock> {
    let mut out = Vec::new();
    let mut seen = 0;
    while seen < count {
        let b = next_block(rx).await;
        seen += b.data().len();
        out.push(b);
    }
    assert_eq!(seen, count, "more envelopes arrived than were ordered");
    out
}

fn new_channel(h: &dyn Harness, test: &str, bs: BatchSize, timeout: Duration) -> ChannelConfig {
    h.channel(test, bs, timeout)
}

fn all_tx_ids(blocks: &[WrittenBlock]) -> Vec<String> {
    blocks.iter().flat_map(WrittenBlock::tx_ids).collect()
}

/// A started chain becomes `Ready`, and its first block is block 1 extending the
/// genesis block (the support checks the link).
pub async fn starts_and_extends_genesis(h: &dyn Harness) {
    let ch = new_channel(h, "starts", batch(1, 1 << 20), NEVER);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let support = Arc::new(support);
    let chain = start_chain(h, support.clone()).await;
    order_all(chain.as_ref(), envelopes(&ch, 0..1)).await;
    let b = next_block(&mut rx).await;
    assert_eq!(b.number(), 1);
    assert_eq!(support.height(), 2);
    chain.halt().await;
}

/// Envelopes ordered one after another come out in that order, each exactly once,
/// in consecutive blocks of at most MaxMessageCount.
pub async fn orders_in_submission_order(h: &dyn Harness) {
    let ch = new_channel(h, "order", batch(10, 1 << 20), SHORT);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = start_chain(h, Arc::new(support)).await;
    order_all(chain.as_ref(), envelopes(&ch, 0..95)).await;
    let blocks = blocks_holding(&mut rx, 95).await;
    assert_eq!(all_tx_ids(&blocks), txs(0..95));
    for (i, b) in blocks.iter().enumerate() {
        assert_eq!(b.number(), i as u64 + 1, "block numbers are consecutive");
        assert!(
            b.data().len() <= 10,
            "block {} exceeds MaxMessageCount",
            b.number()
        );
    }
    chain.halt().await;
}

/// With MaxMessageCount = 3 and no timer, 6 envelopes give two full blocks.
pub async fn cuts_on_message_count(h: &dyn Harness) {
    let ch = new_channel(h, "count", batch(3, 1 << 20), NEVER);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = start_chain(h, Arc::new(support)).await;
    order_all(chain.as_ref(), envelopes(&ch, 0..6)).await;
    assert_eq!(next_block(&mut rx).await.tx_ids(), txs(0..3));
    assert_eq!(next_block(&mut rx).await.tx_ids(), txs(3..6));
    chain.halt().await;
}

/// With PreferredMaxBytes of 2.5 envelopes, blocks hold two envelopes each: the third
/// would overflow, so the pending two are cut first.
pub async fn cuts_on_preferred_bytes(h: &dyn Harness) {
    let size = test_envelope("x", 0, ENV_SIZE).size() as u32;
    let ch = new_channel(h, "bytes", batch(100, size * 5 / 2), NEVER);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = start_chain(h, Arc::new(support)).await;
    order_all(chain.as_ref(), envelopes(&ch, 0..5)).await;
    assert_eq!(next_block(&mut rx).await.tx_ids(), txs(0..2));
    assert_eq!(next_block(&mut rx).await.tx_ids(), txs(2..4));
    chain.halt().await;
}

/// An envelope larger than PreferredMaxBytes cuts what is pending, then travels alone.
pub async fn isolates_oversized_message(h: &dyn Harness) {
    let size = test_envelope("x", 0, ENV_SIZE).size() as u32;
    let ch = new_channel(h, "oversized", batch(100, size * 5 / 2), NEVER);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = start_chain(h, Arc::new(support)).await;
    let mut envs = envelopes(&ch, 0..2);
    envs.push(test_envelope(&ch.channel_id, 2, ENV_SIZE * 4));
    envs.extend(envelopes(&ch, 3..6));
    order_all(chain.as_ref(), envs).await;
    assert_eq!(next_block(&mut rx).await.tx_ids(), txs(0..2));
    assert_eq!(next_block(&mut rx).await.tx_ids(), txs(2..3));
    assert_eq!(next_block(&mut rx).await.tx_ids(), txs(3..5));
    chain.halt().await;
}

/// Fewer envelopes than MaxMessageCount are cut when BatchTimeout expires.
pub async fn cuts_on_batch_timeout(h: &dyn Harness) {
    let ch = new_channel(h, "timeout", batch(100, 1 << 20), SHORT);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = start_chain(h, Arc::new(support)).await;
    order_all(chain.as_ref(), envelopes(&ch, 0..3)).await;
    assert_eq!(next_block(&mut rx).await.tx_ids(), txs(0..3));
    // The timer restarts with the next batch.
    order_all(chain.as_ref(), envelopes(&ch, 3..4)).await;
    assert_eq!(next_block(&mut rx).await.tx_ids(), txs(3..4));
    chain.halt().await;
}

/// `halt` twice resolves twice, and the chain ends `Halted`.
pub async fn halt_is_idempotent(h: &dyn Harness) {
    let ch = new_channel(h, "halt", batch(10, 1 << 20), NEVER);
    let (support, _rx) = FakeSupport::new(ch);
    let chain = start_chain(h, Arc::new(support)).await;
    chain.halt().await;
    chain.halt().await;
    assert!(matches!(*chain.state().borrow(), ChainState::Halted { .. }));
}

/// After `halt`, `order`, `configure` and `wait_ready` fail with `Halted`.
pub async fn order_after_halt_errors(h: &dyn Harness) {
    let ch = new_channel(h, "after-halt", batch(10, 1 << 20), NEVER);
    let (support, _rx) = FakeSupport::new(ch.clone());
    let chain = start_chain(h, Arc::new(support)).await;
    chain.halt().await;
    let env = test_envelope(&ch.channel_id, 0, ENV_SIZE);
    assert!(matches!(
        chain.order(env.clone(), 0).await,
        Err(ChainError::Halted { .. })
    ));
    assert!(matches!(
        chain.configure(env, 0).await,
        Err(ChainError::Halted { .. })
    ));
    assert!(matches!(
        chain.wait_ready().await,
        Err(ChainError::Halted { .. })
    ));
}

/// A chain restarted on the same ledger (a new consenter, the last block's consenter
/// metadata) continues the chain: every envelope accepted before or after the restart
/// is in exactly one block, in order.
pub async fn restart_resumes_from_metadata(h: &dyn Harness) {
    let ch = new_channel(h, "restart", batch(5, 1 << 20), SHORT);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let support = Arc::new(support);
    let chain = start_chain(h, support.clone()).await;
    order_all(chain.as_ref(), envelopes(&ch, 0..7)).await;
    assert_eq!(next_block(&mut rx).await.tx_ids(), txs(0..5));
    chain.halt().await;
    let mut before: Vec<String> = Vec::new();
    while let Ok(b) = rx.try_recv() {
        before.extend(b.tx_ids());
    }

    let (reopened, mut rx2) = support.reopen();
    let reopened = Arc::new(reopened);
    let height = reopened.height();
    let chain = start_chain(h, reopened.clone()).await;
    order_all(chain.as_ref(), envelopes(&ch, 7..10)).await;
    let after = blocks_holding(&mut rx2, 10 - 5 - before.len()).await;
    assert_eq!(
        after[0].number(),
        height,
        "the restarted chain continues the height"
    );
    let mut all = txs(0..5);
    all.extend(before);
    all.extend(all_tx_ids(&after));
    assert_eq!(
        all,
        txs(0..10),
        "no envelope lost or duplicated across the restart"
    );
    chain.halt().await;
}

/// A config envelope cuts what is pending, travels alone, and the envelopes after it
/// are cut under the new configuration.
pub async fn configure_isolates_config(h: &dyn Harness) {
    let ch = new_channel(h, "configure", batch(10, 1 << 20), SHORT);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let support = Arc::new(support);
    let chain = start_chain(h, support.clone()).await;
    order_all(chain.as_ref(), envelopes(&ch, 0..2)).await;

    let mut next = ch.clone();
    next.batch_size.max_message_count = 2;
    let update = super::config::reconfigure(&ch, &next);
    let receipt = chain
        .configure(RawEnvelope::from_envelope(&update), 0)
        .await
        .unwrap_or_else(|e| panic!("configure failed: {e}"));
    receipt
        .await
        .unwrap_or_else(|e| panic!("config not accepted: {e}"));
    order_all(chain.as_ref(), envelopes(&ch, 2..5)).await;

    assert_eq!(next_block(&mut rx).await.tx_ids(), txs(0..2));
    let config = next_block(&mut rx).await;
    assert!(
        config.is_config,
        "the config envelope is written as a config block"
    );
    assert_eq!(config.data().len(), 1);
    assert_eq!(support.sequence(), 1);
    assert_eq!(support.shared_config().batch_size.max_message_count, 2);
    assert_eq!(
        next_block(&mut rx).await.tx_ids(),
        txs(2..4),
        "new MaxMessageCount applies"
    );
    assert_eq!(next_block(&mut rx).await.tx_ids(), txs(4..5));
    chain.halt().await;
}

/// The trace context an envelope was ordered with reaches `create_next_block` with it,
/// so the node can link each block to the broadcasts that filled it.
pub async fn carries_trace_context_to_blocks(h: &dyn Harness) {
    let ch = new_channel(h, "trace", batch(3, 1 << 20), NEVER);
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = start_chain(h, Arc::new(support)).await;
    let traced = |i: u64| {
        let tp = format!("00-{:032x}-{:016x}-01", i + 1, i + 1);
        test_envelope(&ch.channel_id, i, ENV_SIZE).with_traceparent(Some(tp.into()))
    };
    let envs = vec![
        traced(0),
        test_envelope(&ch.channel_id, 1, ENV_SIZE),
        traced(2),
    ];
    order_all(chain.as_ref(), envs).await;
    let block = next_block(&mut rx).await;
    let want: Vec<Option<bytes::Bytes>> = vec![
        Some(format!("00-{:032x}-{:016x}-01", 1, 1).into()),
        None,
        Some(format!("00-{:032x}-{:016x}-01", 3, 3).into()),
    ];
    assert_eq!(block.traceparents, want);
    chain.halt().await;
}

/// A ledger that refuses a block halts the chain instead of skipping the block.
pub async fn write_failure_halts_chain(h: &dyn Harness) {
    let ch = new_channel(h, "write-failure", batch(1, 1 << 20), NEVER);
    let (support, _rx) = FakeSupport::new(ch.clone());
    let support = Arc::new(support);
    let chain = start_chain(h, support.clone()).await;
    support.fail_writes();
    // The envelope may or may not be accepted before the chain notices; either way
    // no block may appear and the chain must halt.
    if let Ok(receipt) = chain
        .order(test_envelope(&ch.channel_id, 0, ENV_SIZE), 0)
        .await
    {
        let _ = receipt.await;
    }
    wait_for_state(chain.as_ref(), "Halted", |s| {
        matches!(s, ChainState::Halted { .. })
    })
    .await;
    assert_eq!(support.height(), 1, "no block was written");
    chain.halt().await;
}

/// Expands into one `#[tokio::test]` per conformance property.
///
/// `$harness` is an async fn (or closure) returning the crate's [`Harness`].
#[macro_export]
macro_rules! conformance_tests {
    ($harness:expr) => {
        $crate::conformance_tests!(@each $harness;
            starts_and_extends_genesis,
            orders_in_submission_order,
            cuts_on_message_count,
            cuts_on_preferred_bytes,
            isolates_oversized_message,
            cuts_on_batch_timeout,
            halt_is_idempotent,
            order_after_halt_errors,
            restart_resumes_from_metadata,
            configure_isolates_config,
            carries_trace_context_to_blocks,
            write_failure_halts_chain
        );
    };
    (@each $harness:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let harness = ($harness)().await;
                $crate::testing::conformance::$name(&harness).await;
            }
        )*
    };
}
