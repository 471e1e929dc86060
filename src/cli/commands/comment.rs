//! `manifesto comment`.

use std::path::PathBuf;

use clap::Args;

use crate::bot::github::{
    CommentJob, CommentOptions, DEFAULT_BOT_LOGIN, GithubConfig, GithubError, Upsert, parse_verdict,
};
use crate::cli::exit::Exit;
use crate::report::Verdict;

/// Arguments of `manifesto comment`.
#[derive(Debug, Clone, Args)]
pub struct CommentArgs {
    /// Repository of the pull request, OWNER/NAME.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: String,
    /// Pull request number.
    #[arg(long, value_name = "N")]
    pub pr: u64,
    /// Markdown body of the comment (at most 65,536 characters).
    #[arg(long, value_name = "FILE")]
    pub body_file: PathBuf,
    /// Also set the verdict label (`manifesto: verified` or `manifesto: needs work`) and remove
    /// the other one.
    #[arg(long)]
    pub labels: bool,
    /// Verdict for the label; combined with the body's `<!-- xmpp-manifesto:verdict=... -->`
    /// marker: only pass + pass gives "verified".
    #[arg(long, value_name = "pass|fail|inconclusive", value_parser = parse_verdict)]
    pub verdict: Option<Verdict>,
    /// Login of the bot whose comment is updated; comments by anyone else are never edited.
    #[arg(long, value_name = "LOGIN", default_value = DEFAULT_BOT_LOGIN)]
    pub bot_login: String,
    /// Write nothing unless the PR's head is still this commit (40 hex digits).
    #[arg(long, value_name = "SHA")]
    pub head_sha: Option<String>,
    /// Timeout of each HTTP request, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
    /// Also set a commit status with this context on --head-sha (success only for pass), so
    /// that branch protection can require it.
    #[arg(long, value_name = "CONTEXT")]
    pub status: Option<String>,
}

impl CommentArgs {
    fn options(&self) -> CommentOptions {
        CommentOptions {
            repo: self.repo.clone(),
            pr: self.pr,
            body_file: self.body_file.clone(),
            labels: self.labels,
            verdict: self.verdict,
            bot_login: self.bot_login.clone(),
            head_sha: self.head_sha.clone(),
            timeout: self.timeout,
            status: self.status.clone(),
        }
    }
}

/// Token and API base from the environment, then the steps of the comment, each reported.
pub async fn run(args: CommentArgs) -> anyhow::Result<Exit> {
    match comment(&args).await {
        Ok(()) => Ok(Exit::Pass),
        Err(e) => {
            let exit = Exit::from(&e);
            eprintln!("error: {:#}", anyhow::Error::new(e));
            Ok(exit)
        }
    }
}

async fn comment(args: &CommentArgs) -> Result<(), GithubError> {
    let config = GithubConfig::from_env()?;
    let job = CommentJob::new(&args.options(), &config)?;
    if let (Some(expected), Some(current)) = (&args.head_sha, job.moved_on().await?) {
        eprintln!(
            "manifesto comment: PR #{} moved on from {expected} to {current}; not commenting \
             (the review of the new head will)",
            args.pr
        );
        return Ok(());
    }
    match job.upsert().await? {
        Upsert::Created(id) => println!("created comment {id} on {}#{}", args.repo, args.pr),
        Upsert::Updated(id) => println!("updated comment {id} on {}#{}", args.repo, args.pr),
    }
    if let Some(add) = job.label().await? {
        println!("labelled {}#{} {add:?}", args.repo, args.pr);
    }
    if let Some(state) = job.status().await? {
        println!(
            "set status {state} on {}",
            args.head_sha.as_deref().unwrap_or_default()
        );
    }
    Ok(())
}
