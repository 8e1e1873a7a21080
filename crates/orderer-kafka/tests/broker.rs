//! The Kafka consenter against Apache Kafka (one KRaft node of the test kit): the
//! conformance suite, several chains sharing one node's clients, the genesis agreement check, a
//! chain started before its broker, TLS with client certificates.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use orderer_api::testing::conformance::{
    Harness, blocks_holding, order_all, start_chain, wait_for_state,
};
use orderer_api::testing::{FakeSupport, test_envelope};
use orderer_api::{BatchSize, ChainState, ChannelConfig, Consenter, ConsenterKind};
use orderer_kafka::config::Tls;
use orderer_kafka::{KafkaConsenter, KafkaOptions, RetrySchedule};
use orderer_msp::generate::{Authority, Usage, Validity};
use orderer_testkit::{Broker, BrokerTls};

fn options(bootstrap: String) -> KafkaOptions {
    let mut o = KafkaOptions::new(vec![bootstrap]);
    o.config.topic.replication_factor = 1;
    o.set_retry_schedule(RetrySchedule {
        short_interval: Duration::from_millis(200),
        short_total: Duration::from_secs(60),
        long_interval: Duration::from_secs(1),
        long_total: Duration::from_secs(60),
    });
    o.config.retry.network_timeouts.read_timeout.0 = Duration::from_secs(3);
    o.config.verbose = std::env::var_os("KAFKA_VERBOSE").is_some();
    o
}

fn channel(name: &str, count: u32, timeout: Duration) -> ChannelConfig {
    ChannelConfig {
        channel_id: name.to_owned(),
        consensus_type: ConsenterKind::Kafka,
        batch_size: BatchSize {
            max_message_count: count,
            absolute_max_bytes: 1 << 20,
            preferred_max_bytes: 1 << 20,
        },
        batch_timeout: timeout,
    }
}

struct ApacheKafka(Broker);

#[async_trait]
impl Harness for ApacheKafka {
    async fn consenter(&self) -> Arc<dyn Consenter> {
        Arc::new(KafkaConsenter::new(options(self.0.bootstrap())).unwrap())
    }

    fn channel(&self, test: &str, batch_size: BatchSize, batch_timeout: Duration) -> ChannelConfig {
        ChannelConfig {
            channel_id: format!("kafka-{test}"),
            consensus_type: ConsenterKind::Kafka,
            batch_size,
            batch_timeout,
        }
    }
}

/// A broker for one test; logs go to the test output when RUST_LOG is set.
fn apache_kafka() -> ApacheKafka {
    init_logs();
    ApacheKafka(Broker::start())
}

fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

mod conformance_on_apache_kafka {
    use super::*;
    orderer_api::conformance_tests!(|| async { apache_kafka() });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_channels_share_one_consenter_and_stay_apart() {
    let broker = Broker::start();
    let consenter = ApacheKafka(broker);
    let mut chains = Vec::new();
    let mut receivers = Vec::new();
    for i in 0..8 {
        let ch = channel(&format!("shared{i}"), 5, Duration::from_millis(200));
        let (support, rx) = FakeSupport::new(ch.clone());
        let chain = start_chain(&consenter, Arc::new(support)).await;
        chains.push((ch, chain));
        receivers.push(rx);
    }
    for (i, (ch, chain)) in chains.iter().enumerate() {
        let n = 5 + i as u64;
        let envs = (0..n)
            .map(|k| test_envelope(&ch.channel_id, k, 150))
            .collect();
        order_all(chain.as_ref(), envs).await;
    }
    for (i, rx) in receivers.iter_mut().enumerate() {
        let blocks = blocks_holding(rx, 5 + i).await;
        let ids: Vec<String> = blocks.iter().flat_map(|b| b.tx_ids()).collect();
        let want: Vec<String> = (0..5 + i as u64).map(|k| format!("tx{k:012}")).collect();
        assert_eq!(ids, want, "channel {i} holds exactly its own envelopes");
    }
    for (_, chain) in chains {
        chain.halt().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_osn_whose_channel_config_differs_refuses_the_channel_naming_the_keys() {
    let harness = ApacheKafka(Broker::start());
    let first = channel("agree", 10, Duration::from_millis(200));
    let (support, _rx) = FakeSupport::new(first.clone());
    let chain = start_chain(&harness, Arc::new(support)).await;

    // A second OSN creates its ledger for the same channel with other parameters.
    let mut other = first.clone();
    other.batch_size.max_message_count = 20;
    other.batch_timeout = Duration::from_secs(1);
    let (support, _rx2) = FakeSupport::new(other);
    let consenter = harness.consenter().await;
    let second = consenter
        .handle_chain(Arc::new(support), bytes::Bytes::new())
        .unwrap();
    second.start();
    wait_for_state(second.as_ref(), "Halted", |s| {
        matches!(s, ChainState::Halted { .. })
    })
    .await;
    let reason = match &*second.state().borrow() {
        ChainState::Halted { reason } => reason.clone(),
        s => panic!("{s:?}"),
    };
    assert!(
        reason.contains("Orderer.BatchSize.MaxMessageCount is 20 here but 10 on the channel"),
        "{reason}"
    );
    assert!(
        reason.contains("Orderer.BatchTimeout is 1s here but 200ms on the channel"),
        "{reason}"
    );
    // The first OSN is unaffected.
    assert!(chain.state().borrow().is_ready());
    chain.halt().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_started_before_its_broker_retries_and_serves_once_it_appears() {
    let mut broker = Broker::reserved();
    let consenter = KafkaConsenter::new(options(broker.bootstrap())).unwrap();
    let ch = channel("late-broker", 3, Duration::from_millis(200));
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = consenter
        .handle_chain(Arc::new(support), bytes::Bytes::new())
        .unwrap();
    chain.start();
    // Not ready: Broadcast would get SERVICE_UNAVAILABLE with this reason.
    wait_for_state(
        chain.as_ref(),
        "retrying",
        |s| matches!(s, ChainState::Starting { reason } if reason.contains("attempt")),
    )
    .await;
    let err = chain
        .order(test_envelope(&ch.channel_id, 0, 100), 0)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not ready"), "{err}");

    broker.spawn();
    wait_for_state(chain.as_ref(), "Ready", ChainState::is_ready).await;
    order_all(
        chain.as_ref(),
        (0..3)
            .map(|i| test_envelope(&ch.channel_id, i, 100))
            .collect(),
    )
    .await;
    let blocks = blocks_holding(&mut rx, 3).await;
    assert_eq!(blocks[0].tx_ids().len(), 3);
    chain.halt().await;
}

/// TLS material for a broker front and its clients: a CA, the broker's certificate,
/// a client certificate, and a CA nobody uses.
struct Pki {
    dir: tempfile::TempDir,
    front: BrokerTls,
}

impl Pki {
    fn new(client_auth: bool) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let days = Validity::days(1);
        let ca = Authority::root("kafka-ca", "Kafka", days).unwrap();
        let other = Authority::root("other-ca", "Other", days).unwrap();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let (broker_cert, broker_key) = ca
            .issue("broker", "Kafka", days, Usage::Tls(names.clone()))
            .unwrap();
        let (client_cert, client_key) = ca
            .issue("orderer", "Kafka", days, Usage::Tls(names))
            .unwrap();
        for (name, pem) in [
            ("ca.pem", ca.cert_pem()),
            ("other-ca.pem", other.cert_pem()),
            ("client.pem", client_cert.as_str()),
            ("client.key", client_key.as_str()),
        ] {
            std::fs::write(dir.path().join(name), pem).unwrap();
        }
        let front = BrokerTls {
            cert_pem: broker_cert,
            key_pem: broker_key,
            client_ca_pem: client_auth.then(|| ca.cert_pem().to_owned()),
        };
        Pki { dir, front }
    }

    fn files(&self, ca: &str) -> Tls {
        let path = |name: &str| self.dir.path().join(name).display().to_string();
        Tls {
            enabled: true,
            private_key: path("client.key"),
            certificate: path("client.pem"),
            root_cas: vec![path(ca)],
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_client_certificates_to_the_brokers() {
    init_logs();
    let pki = Pki::new(true);
    let broker = Broker::start_tls(&pki.front);
    let ch = channel("tls", 2, Duration::from_millis(200));

    // A node that trusts another CA cannot reach the brokers: it retries with the reason.
    let mut wrong = options(broker.bootstrap());
    wrong.config.tls = pki.files("other-ca.pem");
    let (support, _rx) = FakeSupport::new(ch.clone());
    let refused = KafkaConsenter::new(wrong)
        .unwrap()
        .handle_chain(Arc::new(support), bytes::Bytes::new())
        .unwrap();
    refused.start();
    wait_for_state(
        refused.as_ref(),
        "retrying, naming the untrusted broker certificate",
        |s| matches!(s, ChainState::Starting { reason } if reason.contains("attempt") && reason.contains("certificate verify failed")),
    )
    .await;
    refused.halt().await;

    let mut o = options(broker.bootstrap());
    o.config.tls = pki.files("ca.pem");
    let consenter = KafkaConsenter::new(o).unwrap();
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = consenter
        .handle_chain(Arc::new(support), bytes::Bytes::new())
        .unwrap();
    chain.start();
    wait_for_state(chain.as_ref(), "Ready", ChainState::is_ready).await;
    order_all(
        chain.as_ref(),
        (0..2)
            .map(|i| test_envelope(&ch.channel_id, i, 100))
            .collect(),
    )
    .await;
    let blocks = blocks_holding(&mut rx, 2).await;
    assert_eq!(blocks[0].tx_ids().len(), 2);
    chain.halt().await;
}

/// Users of the brokers' SASL/PLAIN listener.
fn sasl_users() -> Vec<(String, String)> {
    vec![("orderer".to_owned(), "orderer-secret".to_owned())]
}

/// A chain on `options` starts and orders; or, with `refused`, keeps retrying with a
/// reason containing `refused` and never becomes ready.
async fn starts_or_refuses(o: KafkaOptions, name: &str, refused: Option<&str>) {
    let ch = channel(name, 2, Duration::from_millis(200));
    let (support, mut rx) = FakeSupport::new(ch.clone());
    let chain = KafkaConsenter::new(o)
        .unwrap()
        .handle_chain(Arc::new(support), bytes::Bytes::new())
        .unwrap();
    chain.start();
    match refused {
        Some(why) => {
            wait_for_state(
                chain.as_ref(),
                why,
                |s| matches!(s, ChainState::Starting { reason } if reason.contains(why)),
            )
            .await;
        }
        None => {
            wait_for_state(chain.as_ref(), "Ready", ChainState::is_ready).await;
            order_all(
                chain.as_ref(),
                (0..2)
                    .map(|i| test_envelope(&ch.channel_id, i, 100))
                    .collect(),
            )
            .await;
            assert_eq!(blocks_holding(&mut rx, 2).await[0].tx_ids().len(), 2);
        }
    }
    chain.halt().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_plain_served_by_the_broker_with_the_right_and_a_wrong_password() {
    init_logs();
    let broker = Broker::start_spec(
        orderer_testkit::ClusterSpec::single()
            .client(orderer_testkit::ClientSecurity::SaslPlaintext(sasl_users())),
    );
    let with = |password: &str| {
        let mut o = options(broker.bootstrap());
        let sasl = &mut o.config.sasl_plain;
        sasl.enabled = true;
        sasl.user = "orderer".into();
        sasl.password = password.into();
        o
    };
    starts_or_refuses(
        with("wrong"),
        "saslwrong",
        Some("Authentication failed: Invalid username or password"),
    )
    .await;
    starts_or_refuses(with("orderer-secret"), "saslok", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_served_by_the_broker() {
    init_logs();
    let pki = Pki::new(false);
    let broker = Broker::start_spec(orderer_testkit::ClusterSpec::single().client(
        orderer_testkit::ClientSecurity::SaslSsl(sasl_users(), pki.front.clone()),
    ));
    let mut o = options(broker.bootstrap());
    o.config.tls = pki.files("ca.pem");
    let sasl = &mut o.config.sasl_plain;
    sasl.enabled = true;
    sasl.user = "orderer".into();
    sasl.password = "orderer-secret".into();
    starts_or_refuses(o, "saslssl", None).await;
}
