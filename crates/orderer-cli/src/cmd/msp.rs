//! `orderer-cli msp`: create and check MSP directories.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, clap::Args)]
pub(crate) struct MspArgs {
    #[command(subcommand)]
    command: MspCommand,
}

#[derive(Debug, Subcommand)]
enum MspCommand {
    /// Create an organization like cryptogen: a CA, a TLS CA, the organization's MSP
    /// and, for each identity, a local MSP (signcerts, keystore) and a TLS key pair.
    New {
        /// Directory to create it in.
        #[arg(long)]
        out: PathBuf,
        /// MSP ID of the organization.
        #[arg(long)]
        mspid: String,
        /// Names of the identities to issue, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "orderer,client")]
        identities: Vec<String>,
        /// Validity of every certificate, in days.
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
    /// Load an MSP directory and, if it holds one, its signing identity; print what
    /// was found, or what is wrong.
    Show {
        /// The MSP directory.
        #[arg(long)]
        dir: PathBuf,
        /// The MSP ID to load it as.
        #[arg(long)]
        mspid: String,
    },
}

pub(crate) fn run(args: MspArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        MspCommand::New {
            out,
            mspid,
            identities,
            days,
        } => new_org(&out, &mspid, &identities, days),
        MspCommand::Show { dir, mspid } => show(&dir, &mspid),
    }
}

fn new_org(out: &Path, mspid: &str, identities: &[String], days: u32) -> anyhow::Result<ExitCode> {
    orderer_msp::generate::new_org(out, mspid, identities, days).map_err(anyhow::Error::msg)?;
    println!(
        "created organization {mspid} in {}: MSP in msp/, identities {}; keep ca/ and tlsca/ private",
        out.display(),
        identities.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

fn show(dir: &Path, mspid: &str) -> anyhow::Result<ExitCode> {
    let msp = orderer_msp::Msp::load(dir, mspid)?;
    println!(
        "MSP {mspid}: {} root CA(s), {} TLS CA(s)",
        msp.root_ders().len(),
        msp.tls_roots().len()
    );
    if dir.join("signcerts").is_dir() {
        let id = orderer_msp::SigningIdentity::load(dir, mspid)?;
        let verifier = orderer_msp::Verifier::new([msp]);
        let who = verifier.identify(id.serialized(), orderer_msp::now())?;
        let sig = id.sign(b"msp show").map_err(anyhow::Error::msg)?;
        who.verify(b"msp show", &sig)?;
        println!("signing identity: valid, chains to the MSP's CA, signs and verifies");
    }
    Ok(ExitCode::SUCCESS)
}
