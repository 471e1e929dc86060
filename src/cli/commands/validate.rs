//! `manifesto validate`.

pub use crate::register::registry::ValidateArgs;

#[allow(unused_imports)]
use crate::cli::exit::{Exit, exit_of};

pub async fn run(args: ValidateArgs) -> anyhow::Result<Exit> {
    exit_of(crate::register::registry::run_validate(&args)?)
}
