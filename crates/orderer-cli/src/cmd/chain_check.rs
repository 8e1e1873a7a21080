//! `orderer-cli chain-check`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use orderer_cli::chain_check::{self, Chain};
use orderer_cli::client::Tls;
use orderer_cli::envelopes::Signer;

use super::common::{Targets, exit, print_report};

#[derive(Debug, clap::Args)]
pub(crate) struct ChainCheckArgs {
    #[command(flatten)]
    target: Targets,
    /// Acknowledged tx ids, one per line (`bench --acked-out`); repeat for more files.
    #[arg(long, value_name = "FILE")]
    acked: Vec<PathBuf>,
    /// Read the chains again until they are identical and hold every
    /// acknowledged envelope, for up to this many seconds (OSNs still catching
    /// up, envelopes acknowledged but not yet cut into a block).
    #[arg(long, default_value_t = 0)]
    wait: u64,
    /// Print one JSON object as the last line.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: ChainCheckArgs) -> anyhow::Result<ExitCode> {
    let (signer, tls) = args.target.credentials()?;
    let mut ids = None;
    for path in &args.acked {
        ids.get_or_insert_with(Vec::new)
            .extend(chain_check::read_acked(path)?);
    }
    let until = Instant::now() + Duration::from_secs(args.wait);
    let report = loop {
        let settled = match read_chains(&args.target, tls.as_ref(), &signer).await {
            Err(e) if Instant::now() >= until => return Err(e),
            Err(_) => None,
            Ok(chains) => {
                let r = chain_check::check(&chains, ids.as_deref());
                (r.difference.is_none() && r.lost == 0 || Instant::now() >= until).then_some(r)
            }
        };
        if let Some(r) = settled {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    print_report(&report.lines(), args.json.then(|| report.json()));
    Ok(exit(report.ok()))
}

/// Every orderer's chain, in --server order; the first failure ends the round.
async fn read_chains(
    target: &Targets,
    tls: Option<&Tls>,
    signer: &Signer,
) -> anyhow::Result<Vec<Chain>> {
    let mut chains = Vec::with_capacity(target.servers.len());
    for server in &target.servers {
        chains.push(chain_check::read_chain(server, tls, signer, &target.channel).await?);
    }
    Ok(chains)
}
