//! The sticky comment: find the bot's one review comment on a pull request, update it, or
//! create it; and the PR's head commit, checked before writing.

use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::Client;
use super::helpers::RepoName;
use super::{GithubError, REVIEW_MARKER};

#[derive(Debug, Deserialize)]
struct ApiUser {
    login: String,
}

/// An issue comment as the API lists it.
#[derive(Debug, Deserialize)]
pub struct ApiComment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    user: Option<ApiUser>,
}

impl ApiComment {
    /// Login of the comment's author (`None` for a deleted account).
    pub fn login(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.login.as_str())
    }
}

#[derive(Debug, Deserialize)]
struct ApiPull {
    head: ApiHead,
}

#[derive(Debug, Deserialize)]
struct ApiHead {
    sha: String,
}

/// What [`Client::upsert_comment`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Created(u64),
    Updated(u64),
}

/// Reading: the comments and the PR's head.
impl Client {
    /// Every comment of issue or PR `number`, all pages.
    pub async fn list_comments(
        &self,
        repo: &RepoName,
        number: u64,
    ) -> Result<Vec<ApiComment>, GithubError> {
        self.get_all_pages(format!(
            "/repos/{}/{}/issues/{number}/comments?per_page=100",
            repo.owner, repo.name
        ))
        .await
    }

    /// The bot's review comment among `comments`: marker and author both match; the oldest wins.
    pub fn find_bot_comment<'a>(
        comments: &'a [ApiComment],
        bot_login: &str,
    ) -> Option<&'a ApiComment> {
        comments
            .iter()
            .filter(|c| is_bot_comment(c, bot_login))
            .min_by_key(|c| c.id)
    }

    /// The SHA of the PR's current head commit.
    pub async fn pull_head_sha(&self, repo: &RepoName, number: u64) -> Result<String, GithubError> {
        let path = format!("/repos/{}/{}/pulls/{number}", repo.owner, repo.name);
        let answer = self.send(Method::GET, &path, None, true).await?;
        let pull: ApiPull = self.parse(&Method::GET, &path, &answer)?;
        Ok(pull.head.sha)
    }
}

/// Writing: the sticky comment.
impl Client {
    /// Create the bot's comment, or update the one it already has.
    pub async fn upsert_comment(
        &self,
        repo: &RepoName,
        number: u64,
        bot_login: &str,
        body: &str,
    ) -> Result<Upsert, GithubError> {
        let payload = json!({ "body": body });
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let comments = self.list_comments(repo, number).await?;
            let mine = comments
                .iter()
                .filter(|c| is_bot_comment(c, bot_login))
                .count();
            if mine > 1 {
                eprintln!(
                    "manifesto comment: {mine} comments of {bot_login} carry the marker; updating \
                     the oldest"
                );
            }
            if let Some(existing) = Self::find_bot_comment(&comments, bot_login) {
                self.update_comment(repo, existing.id, &payload).await?;
                return Ok(Upsert::Updated(existing.id));
            }
            // Creating is not idempotent: after a failure, look again before retrying, so that
            // a comment that was created after all is updated instead of duplicated.
            match self.create_comment(repo, number, &payload).await {
                Ok(id) => return Ok(Upsert::Created(id)),
                Err(e) if e.is_transient() && attempt < self.retry.max_attempts => {
                    let wait = self.backoff(attempt);
                    eprintln!(
                        "manifesto comment: {e}; looking again in {} ms",
                        wait.as_millis()
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn update_comment(
        &self,
        repo: &RepoName,
        id: u64,
        payload: &serde_json::Value,
    ) -> Result<(), GithubError> {
        let path = format!("/repos/{}/{}/issues/comments/{id}", repo.owner, repo.name);
        self.send(Method::PATCH, &path, Some(payload), true).await?;
        Ok(())
    }

    /// One attempt at creating the comment (never retried here: see `upsert_comment`); its id.
    async fn create_comment(
        &self,
        repo: &RepoName,
        number: u64,
        payload: &serde_json::Value,
    ) -> Result<u64, GithubError> {
        #[derive(Deserialize)]
        struct Created {
            id: u64,
        }
        let path = format!(
            "/repos/{}/{}/issues/{number}/comments",
            repo.owner, repo.name
        );
        let answer = self.send(Method::POST, &path, Some(payload), false).await?;
        let created: Created = self.parse(&Method::POST, &path, &answer)?;
        Ok(created.id)
    }
}

/// The bot's own review comment: by the bot, with the marker (a human quoting it does not count).
fn is_bot_comment(comment: &ApiComment, bot_login: &str) -> bool {
    comment
        .login()
        .is_some_and(|l| l.eq_ignore_ascii_case(bot_login))
        && comment
            .body
            .as_deref()
            .is_some_and(|b| b.contains(REVIEW_MARKER))
}
