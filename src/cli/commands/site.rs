//! `manifesto site`: validates the register (exit 1 with every problem if invalid), reads the
//! results if given, writes the site.

use std::path::PathBuf;

use crate::cli::exit::{Exit, site_exit};
use crate::register::registry;
use crate::site::{SiteError, SiteOptions, SiteSummary, build_site, load_results};

/// `manifesto site`: builds the public page.
#[derive(Debug, Clone, clap::Args)]
pub struct SiteArgs {
    /// Output directory (created; existing files are overwritten).
    #[arg(long, default_value = "site")]
    pub out: PathBuf,
    /// Directory of the latest check reports (report-v1 JSON, e.g. `DOMAIN.json`). Without it,
    /// every domain is shown as not verified yet.
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Directory of signatory files.
    #[arg(long, default_value = registry::SIGNATORIES_DIR)]
    pub registry: PathBuf,
    /// Absolute URL the site is published at (ending in /), for links in the feed and JSON.
    /// Without it, those links are relative.
    #[arg(long)]
    pub base_url: Option<String>,
}

pub async fn run(args: SiteArgs) -> anyhow::Result<Exit> {
    let validation =
        registry::validate_paths(std::slice::from_ref(&args.registry), registry::today_utc());
    if !validation.is_ok() {
        eprint!(
            "{}",
            registry::render_validation(&validation, registry::ValidateFormat::Human)
        );
        return Ok(Exit::Fail);
    }
    match build(&args, &validation.registry) {
        Ok(summary) => {
            println!(
                "site written to {}: {} signatories, {} domains, {} files",
                args.out.display(),
                summary.signatories,
                summary.domains,
                summary.files
            );
            Ok(Exit::Pass)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(site_exit(&e))
        }
    }
}

fn build(args: &SiteArgs, registry: &registry::Registry) -> Result<SiteSummary, SiteError> {
    let results = load_results(args.results.as_deref())?;
    for (path, why) in &results.skipped {
        eprintln!("warning: {}: skipped: {why}", path.display());
    }
    let options = SiteOptions::with_base_url(args.base_url.as_deref());
    build_site(registry, &results, &args.out, &options)
}
