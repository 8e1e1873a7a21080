//! The cluster check against Apache Kafka itself, on seed 003's four-node cluster as
//! the test kit starts it (RF 3, min.insync.replicas 2, unclean election off,
//! retention forever): it breaks no rule, so a strict chain starts with nothing to
//! warn about (every setting read from the brokers); a channel topic whose own
//! settings break a rule is refused by name until the operator fixes it, and then
//! the chain starts without a restart; with a broker down, a strict channel still
//! starts.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use orderer_api::testing::conformance::wait_for_state;
use orderer_api::testing::{FakeSupport, test_envelope};
use orderer_api::{
    BatchSize, Chain, ChainError, ChainState, ChannelConfig, Consenter, ConsenterKind,
};
use orderer_kafka::{KafkaConsenter, KafkaOptions, RetrySchedule};
use orderer_testkit::{ClusterSpec, KafkaCluster};
use rdkafka::ClientConfig;
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;

fn strict_options(bootstrap: String) -> KafkaOptions {
    let mut o = KafkaOptions::new(vec![bootstrap]);
    o.config.strict = true;
    o.config.topic.replication_factor = 3;
    o.set_retry_schedule(RetrySchedule {
        short_interval: Duration::from_millis(300),
        short_total: Duration::from_secs(120),
        long_interval: Duration::from_secs(1),
        long_total: Duration::from_secs(120),
    });
    o.config.retry.network_timeouts.read_timeout.0 = Duration::from_secs(5);
    o
}

fn channel(name: &str) -> ChannelConfig {
    ChannelConfig {
        channel_id: name.to_owned(),
        consensus_type: ConsenterKind::Kafka,
        batch_size: BatchSize {
            max_message_count: 10,
            absolute_max_bytes: 10 << 20,
            preferred_max_bytes: 1 << 20,
        },
        batch_timeout: Duration::from_millis(200),
    }
}

fn start(consenter: &KafkaConsenter, ch: ChannelConfig) -> Arc<dyn Chain> {
    let (support, _rx) = FakeSupport::new(ch);
    let support = Arc::new(support);
    let chain = consenter
        .handle_chain(support.clone(), support.last_consenter_metadata())
        .unwrap();
    chain.start();
    chain
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_003s_cluster_passes_and_a_topic_that_breaks_a_rule_waits_for_its_fix() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut cluster = tokio::task::spawn_blocking(|| KafkaCluster::start(ClusterSpec::seed003()))
        .await
        .unwrap();
    let consenter = KafkaConsenter::new(strict_options(cluster.bootstrap())).unwrap();

    // Seed 003's cluster: the strict check passes, and read every setting it needs.
    let clean = start(&consenter, channel("check-clean"));
    wait_for_state(clean.as_ref(), "Ready", ChainState::is_ready).await;
    assert_eq!(clean.warnings(), Vec::<String>::new());

    // A channel topic created (by someone else) with unclean leader election on.
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap())
        .create()
        .unwrap();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let topic = NewTopic::new("check-unclean", 1, TopicReplication::Fixed(3))
        .set("unclean.leader.election.enable", "true");
    for r in admin.create_topics([&topic], &opts).await.unwrap() {
        r.unwrap();
    }
    let unclean = start(&consenter, channel("check-unclean"));
    let named = "topic check-unclean: unclean.leader.election.enable = true breaks the Kafka cluster rule unclean_leader_election";
    wait_for_state(
        unclean.as_ref(),
        "refused by Kafka.Strict",
        |s| matches!(s, ChainState::Starting { reason } if reason.contains(named)),
    )
    .await;
    match unclean
        .order(test_envelope("check-unclean", 1, 100), 0)
        .await
    {
        Err(ChainError::NotReady { reason, .. }) => {
            assert!(reason.contains(named), "{reason}");
            // Only that rule: the rest of the cluster is as seed 003 asks.
            assert_eq!(
                reason.matches("breaks the Kafka cluster rule").count(),
                1,
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }

    // The operator fixes the topic; the next check lets the chain start.
    let fix = AlterConfig::new(ResourceSpecifier::Topic("check-unclean"))
        .set("unclean.leader.election.enable", "false");
    for r in admin.alter_configs([&fix], &opts).await.unwrap() {
        r.unwrap();
    }
    wait_for_state(unclean.as_ref(), "Ready", ChainState::is_ready).await;
    assert_eq!(unclean.warnings(), Vec::<String>::new());

    // One broker down: the cluster is degraded, not too small. A strict channel
    // started now (its topic created on the three left) starts, as seed 003
    // promises, with nothing to warn about.
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.kill(4);
        cluster
    })
    .await
    .unwrap();
    let degraded = start(&consenter, channel("check-degraded"));
    wait_for_state(degraded.as_ref(), "Ready", ChainState::is_ready).await;
    assert_eq!(degraded.warnings(), Vec::<String>::new());

    degraded.halt().await;
    unclean.halt().await;
    clean.halt().await;
    drop(cluster);
}
