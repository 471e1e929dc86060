//! `manifesto site`.

pub use crate::site::SiteArgs;

#[allow(unused_imports)]
use crate::cli::exit::{Exit, exit_of};

pub async fn run(args: SiteArgs) -> anyhow::Result<Exit> {
    exit_of(crate::site::run_site(&args)?)
}
