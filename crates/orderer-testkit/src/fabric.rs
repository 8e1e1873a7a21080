//! Fabric v2.5's release (`FABRIC_BIN`, its `bin/` with the sample `config/` beside
//! it) for the tests that run Fabric's own binaries next to ours.
//!
//! Without `FABRIC_BIN` such a test prints `skipped: ...` and passes, so that
//! `cargo test` works on a machine without Fabric. Under CI that would turn every
//! Fabric test into a pass that proved nothing, so there a missing release fails the
//! test instead. A `FABRIC_BIN` that is set but lacks what a test needs fails the test
//! anywhere: whoever set it meant the tests to run.

use std::ffi::OsString;
use std::path::PathBuf;

/// Where `FABRIC_BIN` comes from, for the messages.
const WHERE_FROM: &str = "set it with FABRIC_BIN=$(../shared/fabric/unpack), as .ci/run does";

/// Whether the tests run under CI: `CI` is `true` or `1` (any case), as CI services set
/// it. `false`, `0` or an unset `CI` mean a local run.
pub fn under_ci() -> bool {
    ci_value_is_true(std::env::var_os("CI"))
}

fn ci_value_is_true(value: Option<OsString>) -> bool {
    value.is_some_and(|v| {
        let v = v.to_string_lossy();
        let v = v.trim();
        v.eq_ignore_ascii_case("true") || v == "1"
    })
}

/// Fabric's `bin/` directory from `FABRIC_BIN`, checked to hold the binaries `tools`
/// and, in the `config/` directory beside it, the entries `config` (files or
/// directories).
///
/// Without `FABRIC_BIN` (unset or empty): `None` after printing one `skipped:` line,
/// or, under CI ([`under_ci`]), a panic that says so. With a `FABRIC_BIN` missing any
/// of `tools` or `config`: a panic naming what is missing, CI or not. The panic points
/// at the calling test.
#[track_caller]
pub fn fabric_bin(tools: &[&str], config: &[&str]) -> Option<PathBuf> {
    match resolve(std::env::var_os("FABRIC_BIN"), under_ci(), tools, config) {
        Ok(Some(bin)) => Some(bin),
        Ok(None) => {
            println!("skipped: FABRIC_BIN is not set ({WHERE_FROM})");
            None
        }
        Err(message) => panic!("{message}"),
    }
}

/// [`fabric_bin`] without its side effects: `Ok(None)` means skip, `Err` fail.
fn resolve(
    bin: Option<OsString>,
    ci: bool,
    tools: &[&str],
    config: &[&str],
) -> Result<Option<PathBuf>, String> {
    let Some(bin) = bin.filter(|b| !b.is_empty()) else {
        return if ci {
            Err(format!(
                "FABRIC_BIN is not set under CI: there the Fabric tests must run, not pass \
                 as skipped ({WHERE_FROM})"
            ))
        } else {
            Ok(None)
        };
    };
    let bin = PathBuf::from(bin);
    let config_dir = bin.join("../config");
    let missing: Vec<String> = tools
        .iter()
        .map(|t| bin.join(t))
        .filter(|p| !p.is_file())
        .chain(
            config
                .iter()
                .map(|c| config_dir.join(c))
                .filter(|p| !p.exists()),
        )
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        Ok(Some(bin))
    } else {
        Err(format!(
            "FABRIC_BIN={} is not a usable Fabric v2.5 release (bin/ with config/ beside \
             it): missing {} ({WHERE_FROM})",
            bin.display(),
            missing.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_is_true_for_true_and_1_only() {
        for yes in ["true", "TRUE", "True", "1", " true\n"] {
            assert!(ci_value_is_true(Some(yes.into())), "{yes:?}");
        }
        for no in ["false", "0", "", "yes"] {
            assert!(!ci_value_is_true(Some(no.into())), "{no:?}");
        }
        assert!(!ci_value_is_true(None));
    }

    #[test]
    fn without_fabric_bin_a_local_run_skips_and_ci_fails() {
        for unset in [None, Some(OsString::new())] {
            assert_eq!(resolve(unset.clone(), false, &["peer"], &[]), Ok(None));
            let err = resolve(unset, true, &["peer"], &[]).unwrap_err();
            assert!(err.contains("FABRIC_BIN is not set under CI"), "{err}");
        }
    }

    #[test]
    fn a_fabric_bin_missing_a_tool_or_config_fails_ci_or_not() {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(root.path().join("config/msp")).unwrap();
        std::fs::write(bin.join("peer"), "").unwrap();
        std::fs::write(root.path().join("config/core.yaml"), "").unwrap();
        let set = Some(bin.clone().into_os_string());

        for ci in [false, true] {
            assert_eq!(
                resolve(set.clone(), ci, &["peer"], &["core.yaml", "msp"]),
                Ok(Some(bin.clone()))
            );
            let err =
                resolve(set.clone(), ci, &["peer", "osnadmin"], &["orderer.yaml"]).unwrap_err();
            assert!(
                err.contains("osnadmin") && err.contains("orderer.yaml") && !err.contains("peer,"),
                "{err}"
            );
        }
    }
}
