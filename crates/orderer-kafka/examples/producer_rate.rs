//! The raw librdkafka producer rate on a broker, with the orderer's own producer
//! settings (acks=all, idempotent, linger 2 ms): the reference the Kafka consenter's
//! throughput is compared with (bench/README.md).
//!
//! cargo run --release -p orderer-kafka --example producer_rate -- BROKERS [COUNT] [SIZE] [KEY=VALUE...]
//!
//! KEY=VALUE pairs override librdkafka producer properties, to try settings;
//! `gate=on` sends through the orderer's [`TopicProducer`] (one batch handed to
//! librdkafka at a time) instead of straight to librdkafka.
//! Prints a line for people, then one JSON object with this process's CPU (user + sys).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use orderer_kafka::options::BATCH_BYTES;
use orderer_kafka::{KafkaOptions, TopicProducer};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let brokers = args
        .next()
        .ok_or("usage: producer_rate BROKERS [COUNT] [SIZE]")?;
    let number = |a: Option<String>, default: usize, what: &str| -> Result<usize, String> {
        a.map_or(Ok(default), |s| {
            s.parse()
                .map_err(|_| format!("{what}: expected a number, got {s:?}"))
        })
    };
    // "mock": an in-process librdkafka mock broker, to tell the client's costs from
    // the broker's.
    let mock = if brokers == "mock" {
        Some(rdkafka::mocking::MockCluster::new(1).map_err(|e| format!("mock cluster: {e}"))?)
    } else {
        None
    };
    let brokers = mock.as_ref().map_or(brokers, |m| m.bootstrap_servers());
    let count = number(args.next(), 100_000, "COUNT")?;
    let size = number(args.next(), 1024, "SIZE")?;
    let options = KafkaOptions::new(brokers.split(',').map(str::to_owned).collect());
    let topic = format!("producer-rate-{}", std::process::id());

    if let Some(m) = &mock {
        m.create_topic(&topic, 1, 1)
            .map_err(|e| format!("creating {topic}: {e}"))?;
    } else {
        let admin: AdminClient<DefaultClientContext> = options
            .producer()
            .map_err(|e| e.to_string())?
            .create()
            .map_err(|e| format!("admin client: {e}"))?;
        let new = NewTopic::new(&topic, 1, TopicReplication::Fixed(1));
        for r in admin
            .create_topics([&new], &AdminOptions::new())
            .await
            .map_err(|e| format!("creating {topic}: {e}"))?
        {
            r.map_err(|(t, e)| format!("creating {t}: {e}"))?;
        }
    }

    let mut config = options.producer().map_err(|e| e.to_string())?;
    let mut gate = false;
    for kv in args {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("expected KEY=VALUE, got {kv:?}"))?;
        if k == "gate" {
            gate = v == "on";
        } else {
            config.set(k, v);
        }
    }
    let producer: FutureProducer = config.create().map_err(|e| format!("producer: {e}"))?;
    let value = vec![b'.'; size];
    let mut pending = FuturesUnordered::new();
    let mut failed = 0usize;
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    if gate {
        let topic_producer =
            TopicProducer::new(producer.clone(), topic.clone(), Vec::new(), BATCH_BYTES);
        let mut receipts = FuturesUnordered::new();
        for _ in 0..count {
            let receipt = topic_producer
                .send(value.clone(), None)
                .await
                .map_err(|e| format!("producing: {e}"))?;
            receipts.push(receipt);
        }
        while let Some(r) = receipts.next().await {
            failed += usize::from(!matches!(r, Ok(Ok(_))));
        }
    }
    for _ in 0..count * usize::from(!gate) {
        let mut record = FutureRecord::<(), [u8]>::to(&topic)
            .partition(0)
            .payload(&value);
        loop {
            match producer.send_result(record) {
                Ok(delivery) => {
                    pending.push(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    // The local queue is full: wait for a delivery, then retry.
                    record = r;
                    if let Some(d) = pending.next().await {
                        failed += usize::from(!matches!(d, Ok(Ok(_))));
                    } else {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                Err((e, _)) => return Err(format!("producing: {e}")),
            }
        }
    }
    while let Some(d) = pending.next().await {
        failed += usize::from(!matches!(d, Ok(Ok(_))));
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let delivered = count - failed;
    let rate = delivered as f64 / secs;
    println!(
        "{delivered} of {count} messages of {size} bytes acknowledged in {secs:.3} s: {rate:.0} msg/s, {:.1} MB/s, {:.0} us of CPU per message",
        rate * size as f64 / 1e6,
        cpu * 1e6 / count as f64
    );
    println!(
        "{{\"count\":{count},\"size\":{size},\"delivered\":{delivered},\"seconds\":{secs:.3},\"produced_per_s\":{rate:.0},\"cpu_seconds\":{cpu:.3},\"gate\":{gate}}}"
    );
    Ok(())
}

/// This process's CPU time so far (user + sys, /proc/self/stat in USER_HZ = 100).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: f64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}
