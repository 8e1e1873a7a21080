//! Fabric's files and environment, typos, the documented keys and `--check-config`.

use std::path::{Path, PathBuf};

use super::*;

#[test]
fn every_key_of_every_section_is_documented() {
    let schema = layers::schema_for_tests();
    let mut in_schema = layers::node_paths_for_tests(&schema);
    in_schema.sort();
    let mut documented: Vec<String> = Config::keys().iter().map(|k| k.key.to_owned()).collect();
    documented.sort();
    assert_eq!(in_schema, documented);
}

/// The README's configuration table is generated from the key docs and defaults;
/// `UPDATE_README=1 cargo test -p orderer-node --lib readme` rewrites it.
#[test]
fn readme_configuration_table_is_generated_from_the_key_docs() {
    const START: &str = "<!-- configuration table: generated from the sections' key docs -->\n";
    const END: &str = "<!-- end of configuration table -->";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let a = readme
        .find(START)
        .expect("README lacks the table's start marker")
        + START.len();
    let b = readme[a..]
        .find(END)
        .expect("README lacks the table's end marker")
        + a;
    let table = reference_table();
    if readme[a..b] != table {
        if std::env::var_os("UPDATE_README").is_some() {
            std::fs::write(&path, format!("{}{table}{}", &readme[..a], &readme[b..])).unwrap();
        } else {
            panic!(
                "README's configuration table is out of date; run UPDATE_README=1 cargo test -p orderer-node --lib readme\n{table}"
            );
        }
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn fabric_sample_files_load_with_one_warning() {
    for (name, expect_unused) in [
        (
            "fabric-v2.5-orderer.yaml",
            &[
                "Consensus",
                "General.BCCSP",
                "General.Cluster",
                "Metrics.Statsd",
            ][..],
        ),
        (
            "fabric-v1.4-orderer.yaml",
            &[
                "General.LedgerType",
                "General.GenesisProfile",
                "FileLedger.Prefix",
                "RAMLedger",
                "Consensus",
            ][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orderer.yaml");
        std::fs::copy(fixture(name), &path).unwrap();
        let loaded = load_with_env(ConfigSource::File(path), &[]).unwrap();
        assert_eq!(loaded.warnings.len(), 1, "{name}: {:?}", loaded.warnings);
        let w = &loaded.warnings[0];
        assert!(
            w.starts_with("Fabric settings not used by this orderer: "),
            "{w}"
        );
        for key in expect_unused {
            assert!(w.contains(key), "{name}: {key} missing from {w}");
        }
        // Served now: the participation API and its listener.
        assert!(!w.contains("ChannelParticipation"), "{name}: {w}");
        // Honoured with Fabric's meaning.
        let c = loaded.config;
        assert_eq!(c.general.keepalive.server_interval, GoDuration::secs(7200));
        assert_eq!(c.kafka.retry.long_total, GoDuration::secs(12 * 3600));
        assert_eq!(c.metrics.provider, MetricsProvider::Disabled);
        assert_eq!(
            c.file_ledger.location,
            "/var/hyperledger/production/orderer"
        );
        assert_eq!(
            PathBuf::from(&c.general.local_msp_dir),
            dir.path().join("msp")
        );
        // No Organizations: the node's own organization.
        assert_eq!(c.msp_ids(None), ["SampleOrg"]);
        assert_eq!(c.channels, [ChannelEntry::named("mychannel")]);
    }
    // v2.5 boots from a genesis block file; v1.4's `provisional` is a generated one.
    let v25 = load_with_env(ConfigSource::File(fixture("fabric-v2.5-orderer.yaml")), &[]).unwrap();
    // Fabric's default file, beside the configuration file.
    assert_eq!(
        v25.config.general.bootstrap(),
        Bootstrap::File(fixture("genesisblock").display().to_string())
    );
    let v14 = load_with_env(ConfigSource::File(fixture("fabric-v1.4-orderer.yaml")), &[]).unwrap();
    assert_eq!(v14.config.general.bootstrap(), Bootstrap::Generate);
}

#[test]
fn fabric_environment_loads_and_unknown_variables_are_gentle() {
    let loaded = load_with_env(
        ConfigSource::Sample,
        &env(&[
            ("ORDERER_GENERAL_BOOTSTRAPMETHOD", "none"),
            ("ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE", "/x/client.crt"),
            ("ORDERER_GENERAL_CLUSTER_ROOTCAS", "[/x/ca.crt]"),
            ("ORDERER_CHANNELPARTICIPATION_ENABLED", "true"),
            ("ORDERER_ADMIN_LISTENADDRESS", "0.0.0.0:7053"),
            ("ORDERER_ADMIN_TLS_ENABLED", "false"),
            ("ORDERER_GENERAL_KEEPALIVE_SERVERINTERVAL", "30s"),
            ("ORDERER_GENERAL_KEEPALIVE_SERVERTIMEOUT", "5s"),
            ("ORDERER_DEBUG_BROADCASTTRACEDIR", "/tmp/trace"),
            ("ORDERER_CONSENSUS_WALDIR", "/var/wal"),
            ("ORDERER_CONSENSUS_SNAPDIR", "/var/snap"),
            ("ORDERER_GENERAL_LOCALMSPID", "SampleOrg"),
            ("ORDERER_METRICS_STATSD_ADDRESS", "127.0.0.1:8125"),
            // Not keys: exported by Fabric's scripts, or by cargo run.
            ("ORDERER_CA", "/x/ca.crt"),
            ("ORDERER_ADDR", "127.0.0.1:7050"),
            ("ORDERER_COMMIT", "abc"),
        ]),
    )
    .unwrap();
    let c = &loaded.config;
    assert_eq!(c.general.keepalive.server_interval, GoDuration::secs(30));
    assert_eq!(c.general.keepalive.server_timeout, GoDuration::secs(5));
    assert_eq!(c.debug.broadcast_trace_dir, "/tmp/trace");
    assert!(c.channel_participation.enabled);
    assert_eq!(c.admin.listen_address, "0.0.0.0:7053");
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
    assert_eq!(
        loaded.warnings[0],
        "Fabric settings not used by this orderer: Consensus, General.Cluster, Metrics.Statsd (see the README's Configuration section)"
    );
    assert_eq!(
        loaded.warnings[1],
        "environment variables that name no configuration key, ignored: ORDERER_ADDR, ORDERER_CA, ORDERER_COMMIT"
    );
}

#[test]
fn typos_are_errors_with_the_closest_key() {
    assert_problem(
        sample(&[("ORDERER_GENERAL_LISTENPROT", "7055")]),
        &[
            "ORDERER_GENERAL_LISTENPROT",
            "did you mean ORDERER_GENERAL_LISTENPORT (General.ListenPort)?",
        ],
    );
    assert_problem(
        sample(&[("ORDERER_KAFKA_RETRY_SHORTINTERVL", "1s")]),
        &["did you mean ORDERER_KAFKA_RETRY_SHORTINTERVAL"],
    );
    let (_d, r) = from_file("General:\n  ListenPrt: 7055\n", &[]);
    assert_problem(
        r,
        &[
            "unknown key General.ListenPrt",
            "orderer.yaml",
            "did you mean General.ListenPort?",
        ],
    );
    let (_d, r) = from_file("Channels:\n  - Name: a\n    BatchTimout: 1s\n", &[]);
    assert_problem(
        r,
        &[
            "unknown key Channels.BatchTimout",
            "did you mean Channels.BatchTimeout?",
        ],
    );
    let (_d, r) = from_file("Nonsense:\n  Whatever: 1\n", &[]);
    assert_problem(
        r,
        &[
            "unknown key Nonsense",
            "valid keys here: Admin, ChannelParticipation",
        ],
    );
}

#[test]
fn check_config_shows_sources_and_redacts_secrets() {
    let loaded = load_with_env(
        ConfigSource::Sample,
        &env(&[
            ("ORDERER_KAFKA_SASLPLAIN_PASSWORD", "hunter2"),
            ("ORDERER_GENERAL_LISTENPORT", "7055"),
        ]),
    )
    .unwrap();
    let text = loaded.describe();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("Kafka.SASLPlain.Password = <redacted>    # environment variable ORDERER_KAFKA_SASLPLAIN_PASSWORD"), "{text}");
    assert!(
        text.contains(
            "General.ListenPort = 7055    # environment variable ORDERER_GENERAL_LISTENPORT"
        ),
        "{text}"
    );
    assert!(
        text.contains("General.LocalMSPID = \"SampleOrg\"    # built-in default"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "FileLedger.Location = \"{}\"    # embedded sample configuration",
            PathBuf::from(SAMPLE_DIR).join("../data/ledger").display()
        )),
        "{text}"
    );
    assert_eq!(text.lines().count(), Config::keys().len());
}

/// Adding a key is one field with its default in the owning crate: the sample files
/// write only what differs from the defaults (paths excepted: in a file they are
/// relative to the file, as defaults are not).
#[test]
fn sample_files_restate_no_default() {
    fn leaves(d: &figment::value::Dict, prefix: &str, out: &mut Vec<(String, String)>) {
        for (k, v) in d {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                figment::value::Value::Dict(_, sub) => leaves(sub, &path, out),
                other => out.push((path, super::super::report::show_value(other))),
            }
        }
    }
    let paths: Vec<&str> = Config::keys()
        .iter()
        .filter(|k| k.path)
        .map(|k| k.key)
        .collect();
    for (name, text) in [
        ("orderer.yaml", SAMPLE_CONFIG),
        (
            "orderer-kafka.yaml",
            include_str!("../../../../../sampleconfig/orderer-kafka.yaml"),
        ),
    ] {
        let (file, defaults) = layers::file_and_defaults_for_tests(text);
        let (mut written, mut default_values) = (Vec::new(), Vec::new());
        leaves(&file, "", &mut written);
        leaves(&defaults, "", &mut default_values);
        for (key, value) in written {
            if paths.contains(&key.as_str()) {
                continue;
            }
            let default = default_values.iter().find(|(k, _)| *k == key);
            assert!(
                default.is_none_or(|(_, d)| *d != value),
                "sampleconfig/{name}: {key} = {value} restates the built-in default"
            );
        }
    }
}
