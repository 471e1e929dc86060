//! `manifesto comment`.

pub use crate::bot::github::CommentArgs;

#[allow(unused_imports)]
use crate::cli::exit::{Exit, exit_of};

pub async fn run(args: CommentArgs) -> anyhow::Result<Exit> {
    match crate::bot::github::run_comment(&args).await {
        Ok(code) => exit_of(code),
        Err(e) => {
            let usage = e
                .downcast_ref::<crate::bot::github::GithubError>()
                .is_some_and(crate::bot::github::GithubError::is_usage);
            eprintln!("error: {e:#}");
            Ok(if usage { Exit::Usage } else { Exit::Fail })
        }
    }
}
