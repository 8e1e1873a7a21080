//! Loading, layering and checking the whole configuration.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use orderer_api::{BatchSize, ConsenterKind};

use super::*;

mod compat;
use std::io::Write;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sample(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load_with_env(ConfigSource::Sample, &env(pairs)).map(|l| l.config)
}

fn file(yaml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orderer.yaml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    (dir, path)
}

/// Loads `yaml` as a file. Unless it configures General or Organizations itself,
/// security checks are skipped: these tests are about other keys.
fn from_file(
    yaml: &str,
    pairs: &[(&str, &str)],
) -> (tempfile::TempDir, Result<Config, ConfigError>) {
    let yaml = if yaml.contains("Organizations") || yaml.contains("General:") {
        yaml.to_owned()
    } else {
        format!("General:\n  Authentication:\n    SkipSignatureChecks: true\n{yaml}")
    };
    let (dir, path) = file(&yaml);
    let r = load_with_env(ConfigSource::File(path), &env(pairs)).map(|l| l.config);
    (dir, r)
}

/// The one problem reported, which must mention every needle.
fn assert_problem(r: Result<Config, ConfigError>, needles: &[&str]) {
    let err = r.expect_err("configuration should be refused");
    let text = err.to_string();
    for n in needles {
        assert!(text.contains(n), "{n:?} missing from:\n{text}");
    }
}

#[test]
fn sample_is_a_secure_solo_orderer_for_mychannel() {
    let c = sample(&[]).unwrap();
    assert_eq!(c.grpc_address(), "127.0.0.1:7050");
    assert_eq!(c.orderer.orderer_type, ConsenterKind::Solo);
    assert_eq!(c.channels.len(), 1);
    assert_eq!(c.channels[0].name, "mychannel");
    let sample_dir = PathBuf::from(SAMPLE_DIR);
    assert_eq!(c.file_ledger.location, sample_dir.join("../data/ledger"));
    assert_eq!(
        PathBuf::from(&c.general.local_msp_dir),
        sample_dir.join("msp")
    );
    assert_eq!(c.general.local_msp_id, "SampleOrg");
    assert!(!c.general.authentication.skip_signature_checks);
    assert_eq!(c.organizations.len(), 1);
    assert_eq!(
        PathBuf::from(&c.organizations[0].msp_dir),
        sample_dir.join("msp")
    );
    assert_eq!(c.msp_ids(None), ["SampleOrg"]);
    assert_eq!(
        PathBuf::from(&c.general.tls.certificate),
        sample_dir.join("tls/server.crt")
    );
    let ch = c.channel_config(&c.channels[0]).unwrap();
    assert_eq!(ch.batch_size, BatchSize::default());
    assert_eq!(ch.batch_timeout, Duration::from_secs(2));
    // Every other key of the sample file is the built-in default.
    let expected = Config {
        channels: c.channels.clone(),
        organizations: c.organizations.clone(),
        file_ledger: c.file_ledger.clone(),
        general: General {
            local_msp_dir: c.general.local_msp_dir.clone(),
            tls: c.general.tls.clone(),
            ..Config::default().general
        },
        operations: Operations {
            tls: c.operations.tls.clone(),
            ..Config::default().operations
        },
        ..Config::default()
    };
    assert_eq!(c, expected);
}

#[test]
fn writers_readers_and_tls_are_checked() {
    let c = sample(&[]).unwrap();
    assert_eq!(c.msp_ids(Some(&vec!["SampleOrg".into()])), ["SampleOrg"]);
    assert_problem(
        sample(&[
            ("ORDERER_GENERAL_TLS_ENABLED", "true"),
            ("ORDERER_GENERAL_TLS_CERTIFICATE", "/nonexistent.pem"),
        ]),
        &[
            "General.TLS.Certificate",
            "/nonexistent.pem",
            "General.TLS.Enabled is true",
            "readable PEM file",
        ],
    );
    assert!(
        sample(&[("ORDERER_GENERAL_TLS_ENABLED", "true")]).is_ok(),
        "the sample's TLS files exist"
    );
    assert_problem(
        sample(&[
            ("ORDERER_OPERATIONS_TLS_ENABLED", "true"),
            ("ORDERER_OPERATIONS_TLS_CLIENTAUTHREQUIRED", "true"),
            ("ORDERER_OPERATIONS_TLS_CLIENTROOTCAS", "[]"),
        ]),
        &["Operations.TLS.ClientRootCAs", "ClientAuthRequired is true"],
    );
    let (_d, r) = from_file(
        "Organizations:\n  - {Name: A, ID: AMSP, MSPDir: a}\nChannels:\n  - {Name: c, Writers: [A, B]}\n",
        &[],
    );
    assert_problem(
        r,
        &[
            "Channels[0].Writers",
            "Channels[0].Writers = \"B\"",
            "expected an organization Name",
            "Organizations has: A",
        ],
    );
    // No organizations: the node's own one (LocalMSPID, LocalMSPDir) uses the channels.
    let (_d, r) = from_file("Organizations: []\nChannels: [c]\n", &[]);
    let c = r.unwrap();
    assert_eq!(c.msp_ids(None), ["SampleOrg"]);
    assert_eq!(c.organizations()[0].msp_dir, c.general.local_msp_dir);
    assert_problem(
        sample(&[("ORDERER_GENERAL_AUTHENTICATION_TIMEWINDOW", "0s")]),
        &["General.Authentication.TimeWindow"],
    );
}

#[test]
fn environment_overrides_every_kind_of_key() {
    let c = sample(&[
        ("ORDERER_GENERAL_LISTENPORT", "7051"),
        ("ORDERER_FILELEDGER_LOCATION", "/tmp/x"),
        ("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "10"),
        ("ORDERER_ORDERER_BATCHTIMEOUT", "200ms"),
        ("ORDERER_ORDERER_ORDERERTYPE", "solo"),
        ("ORDERER_ORDERER_BATCHSIZE_PREFERREDMAXBYTES", "512 KB"),
        ("ORDERER_GENERAL_LOGLEVEL", "info,orderer_node=debug"),
        ("ORDERER_CHANNELS", "[mychannel,other]"),
        ("UNRELATED", "ignored"),
    ])
    .unwrap();
    assert_eq!(c.general.listen_port, 7051);
    assert_eq!(c.file_ledger.location, PathBuf::from("/tmp/x"));
    assert_eq!(c.orderer.batch_size.max_message_count, 10);
    assert_eq!(
        c.orderer.batch_timeout,
        GoDuration(Duration::from_millis(200))
    );
    assert_eq!(
        c.orderer.batch_size.preferred_max_bytes,
        ByteSize(512 * 1024)
    );
    assert_eq!(c.general.log_level, "info,orderer_node=debug");
    let names: Vec<_> = c.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["mychannel", "other"]);
}

#[test]
fn single_channel_from_environment_and_kafka_brokers_list() {
    let c = sample(&[
        ("ORDERER_CHANNELS", "solo-only"),
        ("ORDERER_ORDERER_ORDERERTYPE", "kafka"),
        (
            "ORDERER_ORDERER_KAFKA_BROKERS",
            "[127.0.0.1:9092,127.0.0.1:9093]",
        ),
    ])
    .unwrap();
    assert_eq!(c.channels[0].name, "solo-only");
    assert_eq!(
        c.orderer.kafka.brokers,
        ["127.0.0.1:9092", "127.0.0.1:9093"]
    );
}

#[test]
fn file_then_environment_and_case_insensitive_keys() {
    let (dir, r) = from_file(
        "general:\n  listenport: 7060\n  LISTENADDRESS: 0.0.0.0\n  authentication: {skipsignaturechecks: true}\nfileledger:\n  location: ledger\nchannels: [a, b]\n",
        &[("ORDERER_GENERAL_LISTENPORT", "7061")],
    );
    let c = r.unwrap();
    assert_eq!(
        c.general.listen_port, 7061,
        "environment wins over the file"
    );
    assert_eq!(c.general.listen_address, "0.0.0.0");
    assert_eq!(
        c.file_ledger.location,
        dir.path().join("ledger"),
        "relative to the file"
    );
    // Keys the file does not set keep their built-in defaults.
    assert_eq!(c.orderer.batch_size.max_message_count, 500);
}

#[test]
fn channel_entries_may_override_batch_parameters() {
    let (_d, r) = from_file(
        "Channels:\n  - plain\n  - name: fast\n    batchtimeout: 200ms\n    BatchSize: {MaxMessageCount: 10, preferredmaxbytes: 1 MB}\n",
        &[],
    );
    let c = r.unwrap();
    let fast = c.channel_config(&c.channels[1]).unwrap();
    assert_eq!(fast.batch_timeout, Duration::from_millis(200));
    assert_eq!(fast.batch_size.max_message_count, 10);
    assert_eq!(fast.batch_size.preferred_max_bytes, 1 << 20);
    let plain = c.channel_config(&c.channels[0]).unwrap();
    assert_eq!(plain.batch_size, BatchSize::default());
}

#[test]
fn bad_duration_names_key_value_source_and_form() {
    let (_d, r) = from_file("Orderer:\n  BatchTimeout: 2x\nChannels: [a]\n", &[]);
    assert_problem(
        r,
        &[
            "Orderer.BatchTimeout",
            "\"2x\"",
            "orderer.yaml",
            "expected a duration",
        ],
    );
}

#[test]
fn bad_port_from_environment_names_the_variable() {
    assert_problem(
        sample(&[("ORDERER_GENERAL_LISTENPORT", "seventy")]),
        &[
            "General.ListenPort",
            "ORDERER_GENERAL_LISTENPORT",
            "\"seventy\"",
            "expected u16",
        ],
    );
    assert_problem(
        sample(&[("ORDERER_GENERAL_LISTENPORT", "70000")]),
        &["General.ListenPort", "70000"],
    );
}

#[test]
fn unknown_keys_are_errors() {
    let (_d, r) = from_file(
        "General:\n  ListenPot: 7050\n  Authentication: {SkipSignatureChecks: true}\nChannels: [a]\n",
        &[],
    );
    assert_problem(r, &["unknown key General.ListenPot", "ListenPort"]);
    assert_problem(
        sample(&[("ORDERER_GENERAL_LISTENPOT", "7050")]),
        &["ORDERER_GENERAL_LISTENPOT", "no configuration key"],
    );
    assert_problem(
        sample(&[("ORDERER_GENERAL_LISTENPORT_X", "7050")]),
        &["ORDERER_GENERAL_LISTENPORT_X"],
    );
}

#[test]
fn unknown_orderer_type_lists_the_valid_ones() {
    assert_problem(
        sample(&[("ORDERER_ORDERER_ORDERERTYPE", "etcdraft")]),
        &[
            "Orderer.OrdererType",
            "etcdraft",
            "expected one of solo, kafka",
        ],
    );
}

#[test]
fn batch_size_relations_are_checked() {
    assert_problem(
        sample(&[("ORDERER_ORDERER_BATCHSIZE_PREFERREDMAXBYTES", "20 MB")]),
        &[
            "Orderer.BatchSize.PreferredMaxBytes",
            "ORDERER_ORDERER_BATCHSIZE_PREFERREDMAXBYTES",
            "must not exceed",
            "AbsoluteMaxBytes",
        ],
    );
    assert_problem(
        sample(&[("ORDERER_ORDERER_BATCHSIZE_MAXMESSAGECOUNT", "0")]),
        &[
            "Orderer.BatchSize.MaxMessageCount",
            "must be greater than 0",
        ],
    );
    assert_problem(
        sample(&[("ORDERER_ORDERER_BATCHSIZE_ABSOLUTEMAXBYTES", "ten")]),
        &[
            "Orderer.BatchSize.AbsoluteMaxBytes",
            "\"ten\"",
            "expected a size",
        ],
    );
    assert_problem(
        sample(&[("ORDERER_ORDERER_BATCHTIMEOUT", "0s")]),
        &["Orderer.BatchTimeout", "positive"],
    );
    assert_problem(
        sample(&[("ORDERER_ORDERER_BATCHSIZE_ABSOLUTEMAXBYTES", "8 GB")]),
        &["AbsoluteMaxBytes", "at most 4 GB"],
    );
}

#[test]
fn channel_names_are_checked() {
    assert_problem(
        sample(&[("ORDERER_CHANNELS", "[My_Channel]")]),
        &["Channels[0]", "My_Channel", "lowercase"],
    );
    assert_problem(
        sample(&[("ORDERER_CHANNELS", "[a,a]")]),
        &["Channels[1]", "listed twice"],
    );
    assert_problem(
        sample(&[("ORDERER_CHANNELS", "[]")]),
        &["Channels", "at least one channel"],
    );
    let (_d, r) = from_file("Channels:\n  - Name: x\n    Bogus: 1\n", &[]);
    assert_problem(r, &["Bogus"]);
}

#[test]
fn other_values_are_checked() {
    assert_problem(
        sample(&[("ORDERER_GENERAL_LOGLEVEL", "info,[[[")]),
        &["General.LogLevel", "tracing filter"],
    );
    assert_problem(
        sample(&[("ORDERER_OPERATIONS_LISTENADDRESS", "8443")]),
        &["Operations.ListenAddress", "\"8443\"", "host:port"],
    );
    assert_problem(
        sample(&[("ORDERER_GENERAL_LISTENADDRESS", "127.0.0.1:7050")]),
        &["General.ListenAddress", "without a port"],
    );
    assert_problem(
        sample(&[
            ("ORDERER_ORDERER_ORDERERTYPE", "kafka"),
            ("ORDERER_ORDERER_KAFKA_BROKERS", "[kafka0]"),
        ]),
        &["Orderer.Kafka.Brokers", "kafka0", "port is missing"],
    );
}

#[test]
fn kafka_keys_from_the_environment() {
    let c = sample(&[
        ("ORDERER_ORDERER_ORDERERTYPE", "kafka"),
        ("ORDERER_ORDERER_KAFKA_BROKERS", "[127.0.0.1:9092]"),
        ("ORDERER_KAFKA_RETRY_SHORTINTERVAL", "1s"),
        ("ORDERER_KAFKA_RETRY_NETWORKTIMEOUTS_DIALTIMEOUT", "3s"),
        ("ORDERER_KAFKA_RETRY_PRODUCER_RETRYMAX", "7"),
        ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "1"),
        ("ORDERER_KAFKA_VERBOSE", "true"),
        ("ORDERER_KAFKA_VERSION", "2.8.1"),
    ])
    .unwrap();
    assert_eq!(
        c.kafka.retry.short_interval,
        GoDuration(Duration::from_secs(1))
    );
    assert_eq!(
        c.kafka.retry.network_timeouts.dial_timeout,
        GoDuration(Duration::from_secs(3))
    );
    assert_eq!(c.kafka.retry.producer.retry_max, 7);
    assert_eq!(c.kafka.topic.replication_factor, 1);
    assert!(c.kafka.verbose);
    assert_eq!(c.kafka.version, "2.8.1");
    assert_eq!(c.orderer.kafka.brokers, ["127.0.0.1:9092"]);
}

#[test]
fn inconsistent_kafka_settings_name_the_key() {
    let kafka = ("ORDERER_ORDERER_ORDERERTYPE", "kafka");
    assert_problem(
        sample(&[kafka, ("ORDERER_KAFKA_TLS_ENABLED", "true")]),
        &[
            "Kafka.TLS.PrivateKey",
            "Kafka.TLS.Certificate",
            "Kafka.TLS.RootCAs",
            "Kafka.TLS.Enabled is true",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("key.txt");
    std::fs::write(&not_pem, "hello").unwrap();
    let path = not_pem.to_str().unwrap();
    assert_problem(
        sample(&[
            kafka,
            ("ORDERER_KAFKA_TLS_ENABLED", "true"),
            ("ORDERER_KAFKA_TLS_PRIVATEKEY", path),
        ]),
        &["Kafka.TLS.PrivateKey", "no -----BEGIN line"],
    );
    assert_problem(
        sample(&[
            kafka,
            ("ORDERER_KAFKA_SASLPLAIN_ENABLED", "true"),
            ("ORDERER_KAFKA_SASLPLAIN_PASSWORD", "pw"),
        ]),
        &["Kafka.SASLPlain.User", "expected a user name"],
    );
    assert_problem(
        sample(&[
            kafka,
            ("ORDERER_ORDERER_KAFKA_BROKERS", "[127.0.0.1:9092, kafka1]"),
        ]),
        &["Orderer.Kafka.Brokers", "\"kafka1\"", "port is missing"],
    );
    assert_problem(
        sample(&[kafka, ("ORDERER_KAFKA_TOPIC_REPLICATIONFACTOR", "0")]),
        &["Kafka.Topic.ReplicationFactor", "at least 1"],
    );
    assert_problem(
        sample(&[kafka, ("ORDERER_KAFKA_RETRY_SHORTTOTAL", "1s")]),
        &[
            "Kafka.Retry.ShortTotal",
            "at least Kafka.Retry.ShortInterval",
        ],
    );
    assert_problem(
        sample(&[kafka, ("ORDERER_KAFKA_VERSION", "latest")]),
        &["Kafka.Version", "\"latest\""],
    );
    // The same settings are not checked for a solo orderer, which ignores them.
    assert!(sample(&[("ORDERER_KAFKA_TLS_ENABLED", "true")]).is_ok());
}

#[test]
fn kafka_sample_configuration_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sampleconfig/orderer-kafka.yaml");
    let c = load_with_env(ConfigSource::File(path), &[]).unwrap().config;
    assert_eq!(c.orderer.orderer_type, ConsenterKind::Kafka);
    assert_eq!(c.kafka.topic.replication_factor, 1);
    assert_eq!(c.orderer.kafka.brokers, ["127.0.0.1:9092"]);
    // Keys it leaves out keep the defaults.
    assert_eq!(
        c.kafka.retry.long_total,
        GoDuration(Duration::from_secs(12 * 3600))
    );
}

#[test]
fn metrics_and_tracing_keys() {
    let c = sample(&[
        ("ORDERER_METRICS_PROVIDER", "disabled"),
        ("ORDERER_TRACING_ENDPOINT", "http://127.0.0.1:4317"),
        ("ORDERER_TRACING_SAMPLERATIO", "0.25"),
    ])
    .unwrap();
    assert_eq!(c.metrics.provider, MetricsProvider::Disabled);
    assert_eq!(c.tracing.endpoint, "http://127.0.0.1:4317");
    assert_eq!(c.tracing.sample_ratio, 0.25);
    assert_eq!(
        sample(&[]).unwrap().metrics.provider,
        MetricsProvider::Prometheus
    );
    assert_problem(
        sample(&[("ORDERER_METRICS_PROVIDER", "statsd")]),
        &[
            "Metrics.Provider",
            "statsd",
            "expected one of prometheus, disabled",
        ],
    );
    assert_problem(
        sample(&[("ORDERER_TRACING_SAMPLERATIO", "2")]),
        &["Tracing.SampleRatio", "between 0 and 1"],
    );
    assert_problem(
        sample(&[("ORDERER_TRACING_ENDPOINT", "collector:4317")]),
        &["Tracing.Endpoint", "http://"],
    );
}

#[test]
fn unreadable_files_are_reported() {
    let missing = load_with_env(ConfigSource::File("/nonexistent/orderer.yaml".into()), &[]);
    assert!(
        missing
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/orderer.yaml")
    );
    let (_d, r) = from_file("General: [unclosed\n", &[]);
    assert_problem(r, &["orderer.yaml"]);
}

#[test]
fn fabric_cfg_path_points_at_a_directory() {
    match source_from(None, Some(Path::new("/etc/hyperledger"))) {
        ConfigSource::File(p) => assert_eq!(p, PathBuf::from("/etc/hyperledger/orderer.yaml")),
        ConfigSource::Sample => panic!("expected a file"),
    }
    assert!(matches!(source_from(None, None), ConfigSource::Sample));
}
