//! `manifesto sweep`.

pub use crate::register::sweep::SweepArgs;

#[allow(unused_imports)]
use crate::cli::exit::{Exit, exit_of};

pub async fn run(args: SweepArgs) -> anyhow::Result<Exit> {
    crate::register::sweep::run_sweep(&args).await
}
