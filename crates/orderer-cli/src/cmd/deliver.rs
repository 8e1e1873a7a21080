//! `orderer-cli deliver`.

use std::path::PathBuf;
use std::process::ExitCode;

use orderer_api::proto::common::{Block, Status};
use orderer_cli::deliver::{
    ChainChecker, DeliverOutcome, DeliverRequest, SignatureChecker, block_line, deliver,
};
use orderer_cli::envelopes::{Position, sample};
use orderer_msp::Msp;

use super::common::{Target, exit};

#[derive(Debug, clap::Args)]
pub(crate) struct DeliverArgs {
    #[command(flatten)]
    target: Target,
    /// First block: oldest (-2), newest (-1) or a number.
    #[arg(long, default_value = "oldest", allow_hyphen_values = true)]
    seek: Position,
    /// Last block: oldest, newest (-1, as of the request) or a number.
    #[arg(
        long,
        default_value = "newest",
        allow_hyphen_values = true,
        conflicts_with = "follow"
    )]
    stop: Position,
    /// Keep streaming new blocks until interrupted.
    #[arg(long)]
    follow: bool,
    /// Fail with NOT_FOUND instead of waiting for blocks not yet written.
    #[arg(long)]
    fail_if_not_ready: bool,
    /// Print only the summary.
    #[arg(long)]
    quiet: bool,
    /// Check the orderer's signature on every block (except the unsigned genesis
    /// block) against the orderer organization's CA.
    #[arg(long)]
    verify_signatures: bool,
    /// The orderer organization's MSP directory (cacerts/, intermediatecerts/).
    /// Default: the built-in sample CA (SampleOrg).
    #[arg(long, value_name = "DIR", requires = "orderer_mspid")]
    orderer_msp: Option<PathBuf>,
    /// MSP ID of --orderer-msp.
    #[arg(long)]
    orderer_mspid: Option<String>,
}

/// What the blocks held: counted as they arrive, printed in the summary.
#[derive(Debug, Default)]
struct Tally {
    envelopes: u64,
    /// Blocks whose orderer signature was verified.
    signed: u64,
}

pub(crate) async fn run(args: DeliverArgs) -> anyhow::Result<ExitCode> {
    let signatures = signature_checker(&args)?;
    let (mut c, signer) = args.target.connect().await?;
    let req = DeliverRequest {
        channel: args.target.channel,
        start: args.seek,
        stop: if args.follow {
            Position::Number(u64::MAX)
        } else {
            args.stop
        },
        fail_if_not_ready: args.fail_if_not_ready,
    };
    let quiet = args.quiet;
    let mut checker = ChainChecker::default();
    let mut tally = Tally::default();
    let outcome = deliver(&mut c, &signer, &req, |block: Block| {
        checker
            .check(&block)
            .map_err(|e| anyhow::anyhow!("chain verification failed: {e}"))?;
        if let Some(s) = &signatures {
            if s.check(&block)
                .map_err(|e| anyhow::anyhow!("signature verification failed: {e}"))?
                > 0
            {
                tally.signed += 1;
            }
        }
        tally.envelopes += block
            .data
            .as_ref()
            .map(|d| d.data.len() as u64)
            .unwrap_or(0);
        if !quiet {
            println!("{}", block_line(&block));
        }
        Ok(())
    })
    .await?;
    print_summary(&outcome, &tally, signatures.is_some());
    Ok(exit(outcome.status == Some(Status::Success)))
}

/// With --verify-signatures, the checker of the orderer organization's signatures.
fn signature_checker(args: &DeliverArgs) -> anyhow::Result<Option<SignatureChecker>> {
    if !args.verify_signatures {
        return Ok(None);
    }
    let msp = match (&args.orderer_msp, &args.orderer_mspid) {
        (Some(dir), Some(id)) => Msp::load(dir, id)?,
        _ => Msp::from_pem(sample::MSP_ID, sample::CA_PEM, b"")
            .map_err(|e| anyhow::anyhow!("the built-in sample CA: {e}"))?,
    };
    Ok(Some(SignatureChecker::new(msp)))
}

fn print_summary(outcome: &DeliverOutcome, tally: &Tally, verified_signatures: bool) {
    let status = outcome.status.map(|s| s.as_str_name()).unwrap_or("none");
    let signature_note = if verified_signatures {
        format!("; orderer signatures verified on {} blocks", tally.signed)
    } else {
        String::new()
    };
    println!(
        "delivered {} blocks holding {} envelopes; hash chain verified{}; status {}{}",
        outcome.blocks,
        tally.envelopes,
        signature_note,
        status,
        outcome
            .reason
            .as_ref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    );
}
