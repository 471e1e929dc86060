//! The former entry point of `manifesto comment`, which the integration tests still call.
//! Delete this file once they use [`post_comment`]: it is the bot's only use of anyhow.

use std::process::ExitCode;

use super::GithubConfig;
use super::job::{CommentOptions, post_comment};

/// [`post_comment`], with the old signature: success is exit 0, a stale head included.
#[doc(hidden)]
pub async fn run_comment_with(
    opts: &CommentOptions,
    config: &GithubConfig,
) -> anyhow::Result<ExitCode> {
    post_comment(opts, config).await?;
    Ok(ExitCode::SUCCESS)
}
