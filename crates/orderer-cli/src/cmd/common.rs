//! Options and helpers shared by several subcommands: where the orderer is, the
//! credentials to reach it with, and how results are printed and exit.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use orderer_cli::client::{self, Tls, TlsFiles};
use orderer_cli::envelopes::Signer;
use orderer_cli::proto_client::atomic_broadcast_client::AtomicBroadcastClient;
use tonic::transport::Channel;

#[derive(Debug, clap::Args)]
pub(crate) struct Target {
    /// Orderer address, host:port.
    #[arg(long, default_value = "127.0.0.1:7050")]
    pub(crate) server: String,
    /// Channel id.
    #[arg(long, default_value = "mychannel")]
    pub(crate) channel: String,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    identity: IdentityArgs,
}

#[derive(Debug, clap::Args)]
struct TlsArgs {
    /// Connect with TLS, trusting this CA (PEM) for the orderer's certificate.
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<PathBuf>,
    /// Mutual TLS: this client's certificate (PEM); its hash binds Deliver requests.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Mutual TLS: this client's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct IdentityArgs {
    /// Sign with the identity of this local MSP directory (signcerts/, keystore/).
    /// Default: the built-in development identity of sampleconfig/msp (SampleOrg).
    #[arg(long, value_name = "DIR", requires = "mspid")]
    msp_dir: Option<PathBuf>,
    /// MSP ID of --msp-dir's identity.
    #[arg(long)]
    mspid: Option<String>,
    /// Send envelopes without creator or signature (orderers that skip checks).
    #[arg(long, conflicts_with = "msp_dir")]
    unsigned: bool,
}

/// Several orderers of one channel (`--server` repeated).
#[derive(Debug, clap::Args)]
pub(crate) struct Targets {
    /// Orderer address, host:port. Repeat for several orderers: streams take them in
    /// turn.
    #[arg(
        long = "server",
        value_name = "SERVER",
        default_value = "127.0.0.1:7050"
    )]
    pub(crate) servers: Vec<String>,
    /// Channel id.
    #[arg(long, default_value = "mychannel")]
    pub(crate) channel: String,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    identity: IdentityArgs,
}

impl Targets {
    pub(crate) fn credentials(&self) -> anyhow::Result<(Signer, Option<Tls>)> {
        credentials(&self.tls, &self.identity)
    }
}

/// The signer (bound to the client's TLS certificate when there is one) and the
/// checked TLS material.
fn credentials(tls: &TlsArgs, identity: &IdentityArgs) -> anyhow::Result<(Signer, Option<Tls>)> {
    let tls = TlsFiles {
        ca: tls.tls_ca.clone(),
        cert: tls.tls_cert.clone(),
        key: tls.tls_key.clone(),
    }
    .load()?;
    let mut signer = match (&identity.msp_dir, &identity.mspid) {
        _ if identity.unsigned => Signer::unsigned(),
        (Some(dir), Some(id)) => Signer::load(dir, id)?,
        _ => Signer::sample()?,
    };
    if let Some(der) = tls.as_ref().and_then(|t| t.cert_der.as_ref()) {
        signer = signer.bind_tls_certificate(der);
    }
    Ok((signer, tls))
}

impl Target {
    /// Connects (over TLS if asked) and builds the signer, bound to the client's TLS
    /// certificate when there is one.
    pub(crate) async fn connect(&self) -> anyhow::Result<(AtomicBroadcastClient<Channel>, Signer)> {
        let (signer, tls) = self.credentials()?;
        let client = client::connect_with(&self.server, tls.as_ref()).await?;
        Ok((client, signer))
    }

    /// The signer (bound to the client's TLS certificate when there is one) and the
    /// checked TLS material.
    pub(crate) fn credentials(&self) -> anyhow::Result<(Signer, Option<Tls>)> {
        credentials(&self.tls, &self.identity)
    }
}

/// Progress bars only for people watching a terminal.
pub(crate) fn progress() -> bool {
    std::io::stderr().is_terminal()
}

/// The report's lines, then (with --json) the JSON object as the last line.
pub(crate) fn print_report(lines: &[String], json: Option<serde_json::Value>) {
    for line in lines {
        println!("{line}");
    }
    if let Some(j) = json {
        println!("{j}");
    }
}

pub(crate) fn exit(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub(crate) fn positive_rate(rate: Option<f64>) -> anyhow::Result<()> {
    match rate {
        Some(r) if !(r.is_finite() && r > 0.0) => {
            anyhow::bail!("--rate must be a positive number of envelopes per second, got {r}")
        }
        _ => Ok(()),
    }
}
