//! `manifesto review`.

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;

use crate::bot::review::{ReviewOptions, annotations, run_review};
use crate::check::CheckError;
use crate::check::responder::ConfigError;
use crate::cli::exit::Exit;
use crate::cli::network::NetworkArgs;

/// `manifesto review --base REF [--head REF] [--author LOGIN] [--out DIR]`.
#[derive(Debug, Clone, Args)]
pub struct ReviewArgs {
    /// The PR's base commit (e.g. the base branch's SHA).
    #[arg(long, value_name = "REF")]
    pub base: String,
    /// The PR's head commit.
    #[arg(long, value_name = "REF", default_value = "HEAD")]
    pub head: String,
    /// GitHub login of the PR's author, as GitHub reports it (the workflow passes the event's
    /// `pull_request.user.login`). Only this login may add or change entries (by their
    /// `github`), and only its `github=LOGIN` TXT record proves domain control. Without it
    /// nothing can be verified: the review is at best inconclusive.
    #[arg(long, value_name = "LOGIN")]
    pub author: Option<String>,
    /// Directory for comment.md and review.json (created if missing).
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    /// The registry's git checkout.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    #[command(flatten)]
    pub network: NetworkArgs,
}

impl ReviewArgs {
    /// The options; a responder whose secret is missing (a pull request from a fork gets no
    /// secrets) is left out with a note, any other responder problem is an error.
    fn options(&self) -> Result<ReviewOptions, CheckError> {
        let (check, responder_unavailable) = match self.network.check_options() {
            Ok(check) => (check, None),
            Err(CheckError::Responder(
                e @ (ConfigError::NoSecret(_) | ConfigError::Secret(..)),
            )) => (
                self.network.options_without_responder(),
                Some(format!("no secret: {e}")),
            ),
            Err(e) => return Err(e),
        };
        Ok(ReviewOptions {
            repo: self.repo.clone(),
            base: self.base.clone(),
            head: self.head.clone(),
            author: self.author.clone(),
            out: self.out.clone(),
            // GitHub Actions' job summary: the comment is shown there too.
            step_summary: std::env::var_os("GITHUB_STEP_SUMMARY")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            check,
            responder_unavailable,
        })
    }
}

/// Writes the outputs, prints the annotations and a summary line; the exit code is the verdict's.
pub async fn run(args: ReviewArgs) -> anyhow::Result<Exit> {
    let options = match args.options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Usage);
        }
    };
    let output = match run_review(&options).await {
        Ok(output) => output,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::from(&e));
        }
    };
    let review = &output.review;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(annotations(review).as_bytes());
    let _ = writeln!(
        stdout,
        "manifesto review: {} ({} file{}, {} domain{}); wrote {} and {}",
        review.verdict,
        review.files.len(),
        plural(review.files.len()),
        review.domains.len(),
        plural(review.domains.len()),
        output.comment_path.display(),
        output.json_path.display()
    );
    Ok(Exit::for_verdicts([review.verdict]))
}
