//! `chaos`: the chaos run of `bench/run chaos` (see `orderer_testkit::chaos`).
//!
//! chaos --orderer PATH --cli PATH [--short] [--envelopes N] [--partition SECS]
//!       [--clients N] [--dir DIR]
//!
//! Prints progress on stderr, then the report as a table and one JSON line; exits 1
//! when something was lost, duplicated, differs, panicked or did not recover.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use orderer_testkit::chaos::{ChaosConfig, run};

fn main() -> ExitCode {
    match parse(std::env::args().skip(1).collect()) {
        Ok(config) => match run(&config, &mut |line| eprintln!("chaos: {line}")) {
            Ok(report) => {
                print!("{}", report.table());
                println!("{}", report.json());
                if report.ok() {
                    ExitCode::SUCCESS
                } else {
                    eprintln!("chaos: FAILED; files kept in {}", report.dir.display());
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("chaos: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("chaos: {e}");
            ExitCode::from(2)
        }
    }
}

fn parse(args: Vec<String>) -> Result<ChaosConfig, String> {
    let mut orderer = None;
    let mut cli = None;
    let mut short = false;
    let mut rest: Vec<(String, String)> = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "--short" {
            short = true;
            continue;
        }
        let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--orderer" => orderer = Some(PathBuf::from(v)),
            "--cli" => cli = Some(PathBuf::from(v)),
            "--envelopes" | "--partition" | "--clients" | "--dir" => rest.push((a, v)),
            _ => return Err(format!("unknown option {a}")),
        }
    }
    let orderer = orderer.ok_or("--orderer PATH (the orderer binary) is required")?;
    let cli = cli.ok_or("--cli PATH (the orderer-cli binary) is required")?;
    let mut c = if short {
        ChaosConfig::short(orderer, cli)
    } else {
        ChaosConfig::long(orderer, cli)
    };
    for (k, v) in rest {
        let n = || {
            v.parse::<u64>()
                .map_err(|e| format!("{k} {v:?}: expected a number: {e}"))
        };
        match k.as_str() {
            "--envelopes" => c.envelopes = n()?,
            "--partition" => c.partition = Duration::from_secs(n()?),
            "--clients" => c.clients = usize::try_from(n()?).map_err(|e| e.to_string())?.max(1),
            _ => c.dir = Some(PathBuf::from(v)),
        }
    }
    Ok(c)
}
