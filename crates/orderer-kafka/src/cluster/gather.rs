//! The I/O of the check: the cluster metadata (brokers, the topic's replicas) and
//! DescribeConfigs of every broker and of the channel's topic, through the node's
//! shared clients.

use std::collections::BTreeMap;
use std::sync::Arc;

use rdkafka::admin::{AdminOptions, ResourceSpecifier};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::Producer as _;

use super::rules::{ClusterFacts, Settings, TopicFacts, Unreadable};
use crate::clients::{Clients, PARTITION};

/// Why no facts could be gathered at all (a broker whose configuration cannot be
/// read is a fact: [`Unreadable`]).
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error("reading the cluster metadata: {0}")]
    Metadata(#[source] KafkaError),
    #[error("topic {0} (partition 0) is not in the cluster metadata")]
    TopicMissing(String),
    #[error("a blocking Kafka call did not complete: {0}")]
    Blocking(#[from] tokio::task::JoinError),
}

/// The brokers, their configurations, and with `topic` the channel topic's replicas
/// and configuration.
pub(crate) async fn gather(
    clients: &Arc<Clients>,
    topic: Option<&str>,
) -> Result<ClusterFacts, GatherError> {
    let (brokers, replicas, replica_ids) = metadata(clients, topic).await?;
    let down = clients.broker_ids_seen(&brokers, &replica_ids);
    let opts = || AdminOptions::new().request_timeout(Some(clients.options.read_timeout()));
    let mut broker_configs = BTreeMap::new();
    // One request per broker: a broker's own configuration is read from that broker,
    // and librdkafka takes one broker resource per request.
    for id in &brokers {
        let config = describe(clients, ResourceSpecifier::Broker(*id), &opts()).await;
        broker_configs.insert(*id, config);
    }
    let topic = match (topic, replicas) {
        (None, _) => None,
        (Some(name), None) => return Err(GatherError::TopicMissing(name.to_owned())),
        (Some(name), Some(replication_factor)) => {
            // Any broker describes a topic; one just seen in the metadata spares
            // librdkafka the wait for a controller (which the mock cluster never
            // names).
            let opts = opts().broker_id(brokers.first().copied());
            Some(TopicFacts {
                name: name.to_owned(),
                replication_factor,
                config: describe(clients, ResourceSpecifier::Topic(name), &opts).await,
            })
        }
    };
    Ok(ClusterFacts {
        brokers,
        down,
        broker_configs,
        topic,
    })
}

/// Broker ids, with `topic` the replicas of its partition 0, and the ids of every
/// replica of the topics in the answer. Without a topic the metadata of every topic
/// comes along (librdkafka asks for all or some); the node's check runs once.
async fn metadata(
    clients: &Arc<Clients>,
    topic: Option<&str>,
) -> Result<(Vec<i32>, Option<usize>, Vec<i32>), GatherError> {
    let this = Arc::clone(clients);
    let topic = topic.map(str::to_owned);
    let timeout = clients.options.read_timeout();
    tokio::task::spawn_blocking(move || {
        let md = this
            .producer
            .client()
            .fetch_metadata(topic.as_deref(), timeout)
            .map_err(GatherError::Metadata)?;
        let brokers = md.brokers().iter().map(|b| b.id()).collect();
        let replicas = topic.as_deref().and_then(|name| {
            md.topics()
                .iter()
                .find(|t| t.name() == name && t.error().is_none())
                .and_then(|t| t.partitions().iter().find(|p| p.id() == PARTITION))
                .map(|p| p.replicas().len())
        });
        let replica_ids = md
            .topics()
            .iter()
            .flat_map(|t| t.partitions())
            .flat_map(|p| p.replicas().iter().copied())
            .collect();
        Ok((brokers, replicas, replica_ids))
    })
    .await?
}

async fn describe(
    clients: &Clients,
    resource: ResourceSpecifier<'_>,
    opts: &AdminOptions,
) -> Result<Settings, Unreadable> {
    let results = clients
        .admin
        .describe_configs([&resource], opts)
        .await
        .map_err(|e| {
            let code = match &e {
                KafkaError::AdminOp(code) => Some(*code),
                other => other.rdkafka_error_code(),
            };
            unreadable(code, e.to_string())
        })?;
    match results.into_iter().next() {
        Some(Ok(config)) => Ok(config
            .entries
            .into_iter()
            .map(|e| (e.name, e.value))
            .collect()),
        Some(Err(code)) => Err(unreadable(Some(code), code.to_string())),
        None => Err(Unreadable {
            reason: "the brokers' answer holds no configuration".into(),
            transient: true,
        }),
    }
}

/// Refusals that another attempt will not change: the node's Kafka identity may
/// not describe configurations (ACLs), or the broker has no DescribeConfigs (a
/// Kafka-protocol broker that is not Apache Kafka, librdkafka's mock cluster).
fn unreadable(code: Option<RDKafkaErrorCode>, reason: String) -> Unreadable {
    use RDKafkaErrorCode as C;
    let permanent = matches!(
        code,
        Some(
            C::ClusterAuthorizationFailed
                | C::TopicAuthorizationFailed
                | C::UnsupportedVersion
                | C::UnsupportedFeature
                | C::InvalidRequest
                | C::SecurityDisabled
        )
    );
    Unreadable {
        reason,
        transient: !permanent,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, Instant};

    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::DefaultProducerContext;

    use super::*;
    use crate::options::KafkaOptions;

    /// librdkafka's mock cluster has no DescribeConfigs: the facts say so at once,
    /// as a refusal for good, and the metadata is still read.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_broker_without_describe_configs_is_unreadable_for_good() {
        let mock: MockCluster<'static, DefaultProducerContext> = MockCluster::new(3).unwrap();
        mock.create_topic("c", 1, 3).unwrap();
        let mut options = KafkaOptions::new(vec![mock.bootstrap_servers()]);
        options.config.retry.network_timeouts.read_timeout.0 = Duration::from_secs(5);
        let clients = Arc::new(Clients::new(options).unwrap());
        let started = Instant::now();
        let facts = gather(&clients, Some("c")).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        let mut brokers = facts.brokers.clone();
        brokers.sort_unstable();
        assert_eq!(brokers, [1, 2, 3]);
        let topic = facts.topic.unwrap();
        assert_eq!(topic.replication_factor, 3);
        for config in facts.broker_configs.values().chain([&topic.config]) {
            let u = config.as_ref().unwrap_err();
            assert!(!u.transient, "{u:?}");
        }
    }

    /// Brokers seen once, up or as replicas, are remembered as down when they
    /// leave the metadata.
    #[tokio::test]
    async fn brokers_seen_before_count_as_down() {
        let clients = Clients::new(KafkaOptions::new(vec!["127.0.0.1:1".into()])).unwrap();
        assert_eq!(
            clients.broker_ids_seen(&[1, 2, 3], &[1, 2]),
            Vec::<i32>::new()
        );
        assert_eq!(clients.broker_ids_seen(&[1, 2], &[1, 2, 4]), [3, 4]);
        assert_eq!(
            clients.broker_ids_seen(&[1, 2, 3, 4], &[]),
            Vec::<i32>::new()
        );
    }

    #[test]
    fn refusals_for_good_are_told_from_passing_failures() {
        for (code, transient) in [
            (RDKafkaErrorCode::ClusterAuthorizationFailed, false),
            (RDKafkaErrorCode::TopicAuthorizationFailed, false),
            (RDKafkaErrorCode::UnsupportedFeature, false),
            (RDKafkaErrorCode::RequestTimedOut, true),
            (RDKafkaErrorCode::BrokerTransportFailure, true),
        ] {
            let u = unreadable(Some(code), code.to_string());
            assert_eq!(u.transient, transient, "{code:?}");
        }
        assert!(unreadable(None, "x".into()).transient);
    }
}
