//! `manifesto sweep`.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::exit::{self, Exit};
use crate::cli::network::NetworkArgs;
use crate::register::lifecycle;
use crate::register::registry::{self, SIGNATORIES_DIR};
use crate::register::sweep::{self, SweepConfig, SweepError};

/// `manifesto sweep`.
#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    /// Directory of signatory files.
    #[arg(long, value_name = "DIR", default_value = SIGNATORIES_DIR)]
    pub registry: PathBuf,
    /// Results directory: latest reports, history/, status.json.
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub results: PathBuf,
    /// Checks running at the same time (one per domain).
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub jobs: u16,
    /// Days a previously verified domain may fail before it lapses.
    #[arg(long, value_name = "DAYS", default_value_t = lifecycle::DEFAULT_GRACE_DAYS)]
    pub grace_days: u32,
    /// Minimum spacing between two connections to the same IP address, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10)]
    pub connect_interval: u64,
    /// Seconds to wait before checking an inconclusive domain once more (0: no second check).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub retry_after: f64,
    /// Check only these domains of the register (repeatable).
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub domains: Vec<String>,
    #[command(flatten)]
    pub network: NetworkArgs,
}

/// Exits 0 when the sweep completed, whatever the domains' verdicts (they are data, in the
/// results); 1 on an invalid register or when the results cannot be written (the previous files
/// stay intact); 2 on a usage error.
pub async fn run(args: SweepArgs) -> anyhow::Result<Exit> {
    if !(args.retry_after.is_finite() && args.retry_after >= 0.0) {
        eprintln!("error: --retry-after must be a number of seconds");
        return Ok(Exit::Usage);
    }
    let summary = match sweep_register(&args).await {
        Ok(summary) => summary,
        Err(e) => {
            if let SweepError::InvalidRegister { errors, .. } = &e {
                for problem in errors {
                    eprintln!("{}", problem.to_human());
                }
            }
            eprintln!("error: {e}");
            return Ok(exit::for_sweep_error(&e));
        }
    };
    if let Some(note) = &summary.dnssec_note {
        eprintln!("{}", crate::text::neutralize(note));
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(sweep::render_summary(&summary).as_bytes())
        .and_then(|()| stdout.flush())
    {
        eprintln!("error: writing the summary: {e}");
        return Ok(Exit::Fail);
    }
    Ok(Exit::Pass)
}

async fn sweep_register(args: &SweepArgs) -> Result<sweep::SweepSummary, SweepError> {
    let registry = sweep::load_register(&args.registry, registry::today_utc())?;
    let domains = sweep::domains_to_check(&registry, &args.domains)?;
    let config = SweepConfig {
        results: args.results.clone(),
        jobs: usize::from(args.jobs),
        grace_days: args.grace_days,
        connect_interval: Duration::from_millis(args.connect_interval),
        retry_after: Duration::from_secs_f64(args.retry_after),
        check: args.network.check_options().map_err(SweepError::Checker)?,
    };
    sweep::sweep(&config, &registry, domains).await
}
