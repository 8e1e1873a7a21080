//! The node's own work per envelope and per block, on one core: validating a
//! Broadcast envelope (with and without the signature check) and the file ledger
//! (appending a block durably, reading blocks back).
//!
//! cargo bench -p orderer-node --bench ingress

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use orderer_api::envelope::parse_payload;
use orderer_api::proto::common::Block;
use orderer_api::{BlockAssembler, RawEnvelope};
use orderer_cli::envelopes::Signer;
use orderer_node::bundle::{Bundle, WRITERS};
use orderer_node::config::{self, ConfigSource};
use orderer_node::ledger::Ledger;
use orderer_node::security::{ClientTls, Security};
use prost::Message;

const SIZE: usize = 1024;

/// The node's checks and the sample channel's configuration (MSPs and policies).
fn security(skip_signature_checks: bool) -> (Security, Bundle) {
    let env = [(
        "ORDERER_GENERAL_AUTHENTICATION_SKIPSIGNATURECHECKS".to_owned(),
        skip_signature_checks.to_string(),
    )];
    let loaded = config::load_with_env(ConfigSource::Sample, &env).expect("sample config");
    let plan = orderer_node::bootstrap::plans(&loaded.config)
        .expect("sample channel")
        .remove(0);
    let bundle = Bundle::new(plan.values).expect("bundle");
    (Security::load(&loaded.config).expect("sample MSP"), bundle)
}

/// Parse, then every check Broadcast makes (timestamp, TLS binding, the
/// `/Channel/Writers` policy over the signature), as `broadcast::validate` orders them.
fn validation(c: &mut Criterion) {
    let signer = Signer::sample().expect("sample identity");
    let bytes = Bytes::from(
        signer
            .transaction("mychannel", 1, SIZE)
            .expect("signed")
            .encode_to_vec(),
    );
    let mut g = c.benchmark_group("validate");
    g.throughput(Throughput::Elements(1));
    for (name, skip) in [
        ("signature_checked_1k", false),
        ("signature_skipped_1k", true),
    ] {
        let (security, bundle) = security(skip);
        g.bench_function(name, |b| {
            b.iter(|| {
                let (_raw, env) = RawEnvelope::parse(bytes.clone()).expect("envelope");
                let payload = parse_payload(&env).expect("payload");
                security
                    .check_timestamp(&payload.channel_header)
                    .expect("fresh");
                security
                    .check_binding(&payload.channel_header, ClientTls::default(), false)
                    .expect("unbound");
                security
                    .check_policy(&bundle, WRITERS, &env, &payload)
                    .expect("valid")
            })
        });
    }
    g.finish();
}

/// The envelopes of a block: 500 of 1 KB.
fn batch() -> Vec<RawEnvelope> {
    (0..500)
        .map(|i| orderer_api::testing::test_envelope("bench", i, SIZE))
        .collect()
}

/// The next block of the chain `assembler` builds, marshalled.
fn next_block(assembler: &mut BlockAssembler, batch: &[RawEnvelope]) -> (u64, Bytes) {
    let block = assembler.next_block(batch.to_vec());
    let header = block.header.clone().unwrap_or_default();
    assembler.advance(&header);
    (header.number, Bytes::from(block.encode_to_vec()))
}

fn ledger(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (ledger, _) = rt
        .block_on(Ledger::open(dir.path(), "bench"))
        .expect("ledger");
    let batch = batch();
    let mut assembler = BlockAssembler::empty();
    let block_len = next_block(&mut BlockAssembler::empty(), &batch).1.len();

    let mut g = c.benchmark_group("ledger");
    g.throughput(Throughput::Bytes(block_len as u64));
    // One block written and made durable (fdatasync) before the next: the slowest
    // case, a chain that cuts a block only after the previous one is on disk.
    g.bench_function("append_durable_500x1k", |b| {
        b.iter_batched(
            || next_block(&mut assembler, &batch),
            |(n, bytes)| {
                rt.block_on(ledger.append_durable(n, bytes))
                    .expect("append")
            },
            BatchSize::PerIteration,
        )
    });
    let height = ledger.height();
    rt.block_on(ledger.close());
    drop(ledger);

    // Reopened, so that reads come from the files (the page cache), not the cache of
    // recent blocks.
    let (ledger, _) = rt
        .block_on(Ledger::open(dir.path(), "bench"))
        .expect("reopen");
    let mut at = 0;
    g.bench_function("read_block_500x1k", |b| {
        b.iter(|| {
            let block = rt.block_on(ledger.block_bytes(at)).expect("read");
            at = (at + 1) % height;
            block
        })
    });
    g.finish();
    let last = rt.block_on(ledger.block_bytes(height - 1)).expect("read");
    let decoded = Block::decode(last).expect("block");
    assert_eq!(decoded.data.map(|d| d.data.len()), Some(500));
}

criterion_group!(ingress, validation, ledger);
criterion_main!(ingress);
