//! `manifesto review`.

pub use crate::bot::review::ReviewArgs;

#[allow(unused_imports)]
use crate::cli::exit::{Exit, exit_of};

pub async fn run(args: ReviewArgs) -> anyhow::Result<Exit> {
    match crate::bot::review::run_review(&args).await {
        Ok(exit) => Ok(exit),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(if e.is_usage() {
                Exit::Usage
            } else {
                Exit::Fail
            })
        }
    }
}
