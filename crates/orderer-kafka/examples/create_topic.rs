//! Creates a channel's topic (one partition) before any OSN starts, as an operator
//! may: Fabric v2.5's Kafka OSN creates topics with a CreateTopics request version
//! that Apache Kafka 4.x no longer serves (KIP-896), so `bench/run`'s Fabric side
//! needs its topics made beforehand. An existing topic is fine.
//!
//! cargo run --release -p orderer-kafka --example create_topic -- BROKERS TOPIC REPLICATION_FACTOR

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [brokers, topic, rf] = args.as_slice() else {
        return Err("usage: create_topic BROKERS TOPIC REPLICATION_FACTOR".into());
    };
    let rf: i32 = rf
        .parse()
        .map_err(|_| format!("REPLICATION_FACTOR must be a number, got {rf:?}"))?;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(|e| format!("an admin client for {brokers}: {e}"))?;
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(rf));
    let results = admin
        .create_topics([&new], &AdminOptions::new())
        .await
        .map_err(|e| format!("creating {topic}: {e}"))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, code)) => return Err(format!("creating {t}: {code}")),
        }
    }
    Ok(())
}
