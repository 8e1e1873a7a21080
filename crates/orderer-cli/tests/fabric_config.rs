//! Fabric's own configuration with the real `orderer` binary: Fabric v2.5's sample
//! `orderer.yaml` (from `FABRIC_BIN`'s release, see ../shared/fabric) checks with one
//! warning and, booted without a genesis file, serves `mychannel` for Fabric's own
//! sample organization; a misspelt variable stops the start naming the key.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Orderer, orderer_bin, stderr};

/// Fabric's `config/` directory beside `FABRIC_BIN`, or `None` (said once) without it;
/// under CI a missing `FABRIC_BIN` fails.
fn fabric_config() -> Option<PathBuf> {
    let bin = orderer_testkit::fabric::fabric_bin(&[], &["orderer.yaml", "msp"])?;
    Some(bin.join("../config"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `orderer ARGS` with only `env` for configuration (no inherited ORDERER_*).
fn orderer(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(orderer_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("ORDERER_") || k == "FABRIC_CFG_PATH" {
            cmd.env_remove(k);
        }
    }
    cmd.args(args).envs(env.iter().copied()).output().unwrap()
}

#[test]
fn fabric_v2_5_sample_configuration_checks_and_serves() {
    let Some(fabric) = fabric_config() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::copy(fabric.join("orderer.yaml"), cfg.join("orderer.yaml")).unwrap();
    copy_dir(&fabric.join("msp"), &cfg.join("msp"));
    let cfg_path = cfg.to_str().unwrap();

    let out = orderer(&["--check-config"], &[("FABRIC_CFG_PATH", cfg_path)]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("orderer: warning: Fabric settings not used by this orderer: Consensus, General.BCCSP, General.Cluster"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("General.Keepalive.ServerInterval = \"2h\"    # file "),
        "{text}"
    );

    // Fabric's sample boots from the genesis block file beside it, which this copy
    // lacks: the start stops naming the key and the file.
    let out = orderer(&[], &[("FABRIC_CFG_PATH", cfg_path)]);
    assert!(!out.status.success());
    let expected = format!(
        "General.BootstrapFile {}: cannot read",
        cfg.join("genesisblock").display()
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));

    // Without the file it makes mychannel for Fabric's own sample organization, whose
    // members' envelopes it orders.
    let node = Orderer::start(
        dir.path(),
        &[
            ("FABRIC_CFG_PATH", cfg_path),
            ("ORDERER_GENERAL_BOOTSTRAPMETHOD", "none"),
        ],
    );
    let msp = cfg.join("msp");
    let out = node.cli(&[
        "broadcast",
        "--count",
        "100",
        "--msp-dir",
        msp.to_str().unwrap(),
        "--mspid",
        "SampleOrg",
    ]);
    let text = common::ok(out);
    assert!(text.contains("acked 100 of 100 envelopes"), "{text}");
    assert!(
        node.log_text()
            .contains("Fabric settings not used by this orderer"),
        "{}",
        node.log_text()
    );
}

#[test]
fn a_misspelt_variable_names_the_key_and_an_unknown_one_is_ignored() {
    let out = orderer(
        &["--check-config"],
        &[("ORDERER_GENERAL_LISTENPROT", "7055")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "environment variable ORDERER_GENERAL_LISTENPROT: no configuration key matches; did you mean ORDERER_GENERAL_LISTENPORT (General.ListenPort)?"
        ),
        "{}",
        stderr(&out)
    );
    let out = orderer(
        &["--check-config"],
        &[("ORDERER_CA", "/etc/ca.pem"), ("ORDERER_ADDR", "x")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        "orderer: warning: environment variables that name no configuration key, ignored: ORDERER_ADDR, ORDERER_CA"
    );
}
