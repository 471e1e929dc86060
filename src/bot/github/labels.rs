//! The verdict label: [`LABEL_VERIFIED`] or [`LABEL_NEEDS_WORK`], never both.

use http::{Method, StatusCode};
use serde_json::json;

use super::client::Client;
use super::helpers::{RepoName, encode_path_segment};
use super::{GithubError, LABEL_NEEDS_WORK, LABEL_VERIFIED};
use crate::report::Verdict;

/// The label to add for `verdict`, and the one to remove: only a pass is "verified".
pub fn verdict_labels(verdict: Verdict) -> (&'static str, &'static str) {
    if verdict == Verdict::Pass {
        (LABEL_VERIFIED, LABEL_NEEDS_WORK)
    } else {
        (LABEL_NEEDS_WORK, LABEL_VERIFIED)
    }
}

impl Client {
    /// Add `add` to the PR's labels and remove `remove` (absent is fine).
    pub async fn swap_labels(
        &self,
        repo: &RepoName,
        number: u64,
        add: &str,
        remove: &str,
    ) -> Result<(), GithubError> {
        let path = format!("/repos/{}/{}/issues/{number}/labels", repo.owner, repo.name);
        self.send(Method::POST, &path, Some(&json!({ "labels": [add] })), true)
            .await?;
        let path = format!(
            "/repos/{}/{}/issues/{number}/labels/{}",
            repo.owner,
            repo.name,
            encode_path_segment(remove)
        );
        match self.send(Method::DELETE, &path, None, true).await {
            Ok(_) => Ok(()),
            Err(GithubError::Status { status, .. }) if status == StatusCode::NOT_FOUND => Ok(()),
            Err(e) => Err(e),
        }
    }
}
