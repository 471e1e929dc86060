//! The commit status of the review (`POST /repos/{owner}/{repo}/statuses/{sha}`), set on the
//! head commit that was reviewed, so that branch protection can require it and a later push
//! (a new head, no status yet) can never inherit it.

use http::Method;
use serde_json::json;

use super::GithubError;
use super::client::Client;
use super::helpers::RepoName;

impl Client {
    /// Sets the status `context` of commit `sha` to `state`.
    pub async fn set_status(
        &self,
        repo: &RepoName,
        sha: &str,
        state: &str,
        context: &str,
        description: &str,
    ) -> Result<(), GithubError> {
        let path = format!("/repos/{}/{}/statuses/{sha}", repo.owner, repo.name);
        let body = json!({ "state": state, "context": context, "description": description });
        self.send(Method::POST, &path, Some(&body), true).await?;
        Ok(())
    }
}
