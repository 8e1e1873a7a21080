//! The per-envelope and per-block work of every chain, on one core: parsing an
//! envelope as it arrives, the block cutter, and the two hashes of a block.
//!
//! cargo bench -p orderer-api --features test-util --bench core

use bytes::Bytes;
use criterion::{BatchSize as Batching, Criterion, Throughput, criterion_group, criterion_main};
use orderer_api::block::{block_data_hash, block_header_hash};
use orderer_api::envelope::parse_payload;
use orderer_api::proto::common::BlockHeader;
use orderer_api::testing::test_envelope;
use orderer_api::{BatchSize, BlockCutter, RawEnvelope};

/// Fabric's default batch: 500 envelopes of 1 KB.
const BATCH: usize = 500;
const SIZE: usize = 1024;

fn envelopes(n: usize) -> Vec<RawEnvelope> {
    (0..n as u64)
        .map(|i| test_envelope("mychannel", i, SIZE))
        .collect()
}

fn parse(c: &mut Criterion) {
    let bytes = envelopes(1).remove(0).into_bytes();
    let mut g = c.benchmark_group("envelope");
    g.throughput(Throughput::Elements(1));
    // What Broadcast does with every envelope before any signature check.
    g.bench_function("parse_1k", |b| {
        b.iter(|| {
            let (_raw, env) = RawEnvelope::parse(bytes.clone()).expect("valid envelope");
            parse_payload(&env).expect("valid payload")
        })
    });
    g.finish();
}

fn cutter(c: &mut Criterion) {
    let batch = envelopes(BATCH);
    let limits = BatchSize {
        max_message_count: BATCH as u32,
        ..BatchSize::default()
    };
    let mut g = c.benchmark_group("blockcutter");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("order_500_cut_by_count", |b| {
        b.iter_batched(
            || (BlockCutter::new(limits, "mychannel"), batch.clone()),
            |(mut cutter, batch)| {
                let mut blocks = 0;
                for env in batch {
                    blocks += cutter.ordered(env).batches.len();
                }
                assert_eq!(blocks, 1);
            },
            Batching::SmallInput,
        )
    });
    g.finish();
}

fn hashing(c: &mut Criterion) {
    let data: Vec<Bytes> = envelopes(BATCH)
        .into_iter()
        .map(|e| e.into_bytes())
        .collect();
    let bytes: u64 = data.iter().map(|d| d.len() as u64).sum();
    let mut g = c.benchmark_group("hash");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("block_data_500x1k", |b| b.iter(|| block_data_hash(&data)));
    g.finish();
    let header = BlockHeader {
        number: 123_456,
        previous_hash: Bytes::from(vec![7u8; 32]),
        data_hash: Bytes::from(vec![9u8; 32]),
    };
    c.bench_function("hash/block_header_der", |b| {
        b.iter(|| block_header_hash(&header))
    });
}

criterion_group!(core, parse, cutter, hashing);
criterion_main!(core);
