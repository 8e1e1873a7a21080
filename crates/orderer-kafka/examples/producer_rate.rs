//! The raw librdkafka producer rate on a broker, with the orderer's own producer
//! settings (acks=all, idempotent, linger 2 ms): the reference the Kafka consenter's
//! throughput is compared with (bench/README.md).
//!
//! cargo run --release -p orderer-kafka --example producer_rate -- BROKERS [COUNT] [SIZE] [KEY=VALUE...]
//!
//! KEY=VALUE pairs override librdkafka producer properties, to try settings.
//! Prints a line for people, then one JSON object.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use orderer_kafka::KafkaOptions;
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
            .producer()?
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

    let mut config = options.producer()?;
    for kv in args {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("expected KEY=VALUE, got {kv:?}"))?;
        config.set(k, v);
    }
    let producer: FutureProducer = config.create().map_err(|e| format!("producer: {e}"))?;
    let value = vec![b'.'; size];
    let mut pending = FuturesUnordered::new();
    let mut failed = 0usize;
    let start = Instant::now();
    for _ in 0..count {
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
    let delivered = count - failed;
    let rate = delivered as f64 / secs;
    println!(
        "{delivered} of {count} messages of {size} bytes acknowledged in {secs:.3} s: {rate:.0} msg/s, {:.1} MB/s",
        rate * size as f64 / 1e6
    );
    println!(
        "{{\"count\":{count},\"size\":{size},\"delivered\":{delivered},\"seconds\":{secs:.3},\"produced_per_s\":{rate:.0}}}"
    );
    Ok(())
}
