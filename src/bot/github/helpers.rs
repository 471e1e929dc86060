//! Pure helpers of the GitHub side, no I/O: verdict markers, comment bodies, repository names,
//! commit SHAs, `Link` headers and path segments.

use http::HeaderMap;

use super::{GithubError, MAX_BODY_CHARS, REVIEW_MARKER, VERDICT_MARKER_PREFIX};
use crate::report::Verdict;

/// The verdict marker for `verdict`, for renderers of the comment.
pub fn verdict_marker(verdict: Verdict) -> String {
    format!("{VERDICT_MARKER_PREFIX}{} -->", verdict.as_str())
}

/// `pass`, `fail` or `inconclusive` (the `--verdict` argument and the body's markers).
pub fn parse_verdict(s: &str) -> Result<Verdict, String> {
    match s {
        "pass" => Ok(Verdict::Pass),
        "fail" => Ok(Verdict::Fail),
        "inconclusive" => Ok(Verdict::Inconclusive),
        other => Err(format!(
            "unknown verdict {other:?}: expected pass, fail or inconclusive"
        )),
    }
}

/// Every verdict marker in `body`, in order.
pub fn body_verdicts(body: &str) -> Vec<Option<Verdict>> {
    body.match_indices(VERDICT_MARKER_PREFIX)
        .map(|(i, _)| {
            let rest = &body[i + VERDICT_MARKER_PREFIX.len()..];
            let value = rest.split("-->").next().unwrap_or("").trim();
            parse_verdict(value).ok()
        })
        .collect()
}

/// The label verdict: `explicit` and every marker in the body must agree on pass; an unknown
/// marker value counts as a failure. `None` when there is no verdict at all.
pub fn effective_verdict(explicit: Option<Verdict>, body: &str) -> Option<Verdict> {
    let mut all: Vec<Option<Verdict>> = body_verdicts(body);
    if let Some(v) = explicit {
        all.push(Some(v));
    }
    if all.is_empty() {
        return None;
    }
    if all.iter().all(|v| *v == Some(Verdict::Pass)) {
        Some(Verdict::Pass)
    } else if all.contains(&Some(Verdict::Inconclusive)) && !all.contains(&Some(Verdict::Fail)) {
        Some(Verdict::Inconclusive)
    } else {
        Some(Verdict::Fail)
    }
}

/// Check and complete a comment body: not empty, marker present, not too long.
pub fn prepare_body(raw: &str) -> Result<String, GithubError> {
    if raw.trim().is_empty() {
        return Err(GithubError::EmptyBody);
    }
    let body = if raw.contains(REVIEW_MARKER) {
        raw.to_string()
    } else {
        format!("{REVIEW_MARKER}\n{raw}")
    };
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(GithubError::BodyTooLong { chars });
    }
    Ok(body)
}

/// Is `s` a full hexadecimal commit SHA (SHA-1, 40 digits)?
pub fn is_commit_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `OWNER/NAME`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoName {
    pub owner: String,
    pub name: String,
}

impl std::str::FromStr for RepoName {
    type Err = GithubError;

    fn from_str(s: &str) -> Result<RepoName, GithubError> {
        let bad = || GithubError::InvalidRepo(s.to_string());
        let (owner, name) = s.split_once('/').ok_or_else(bad)?;
        let ok = |part: &str| {
            !part.is_empty()
                && part.len() <= 100
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        if !ok(owner) || !ok(name) {
            return Err(bad());
        }
        Ok(RepoName {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }
}

/// A header's value, trimmed, if it is text.
pub(super) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The `rel="next"` target of a `Link` header.
pub(super) fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = header_str(headers, "link")?;
    link.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let target = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        let url = target.strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_string())
    })
}

/// Is `url` on `origin` (scheme and authority), not merely starting with the same text?
pub(super) fn same_origin(url: &str, origin: &str) -> bool {
    url.strip_prefix(origin)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Percent-encodes a path segment (the one rule of the crate, `crate::check::http`).
pub(super) use crate::check::http::percent_encode as encode_path_segment;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names() {
        assert!("a/b".parse::<RepoName>().is_ok());
        assert!("a-b.c/d_e".parse::<RepoName>().is_ok());
        for bad in [
            "", "a", "/b", "a/", "a/b/c", "../b", "a/..", "a b/c", "a/b?x",
        ] {
            assert!(bad.parse::<RepoName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn verdicts() {
        let pass = verdict_marker(Verdict::Pass);
        let fail = verdict_marker(Verdict::Fail);
        assert_eq!(pass, "<!-- xmpp-manifesto:verdict=pass -->");
        assert_eq!(effective_verdict(None, "x"), None);
        assert_eq!(effective_verdict(None, &pass), Some(Verdict::Pass));
        assert_eq!(
            effective_verdict(Some(Verdict::Pass), &pass),
            Some(Verdict::Pass)
        );
        assert_eq!(
            effective_verdict(Some(Verdict::Fail), &pass),
            Some(Verdict::Fail)
        );
        assert_eq!(
            effective_verdict(Some(Verdict::Pass), &fail),
            Some(Verdict::Fail)
        );
        assert_eq!(
            effective_verdict(None, "<!-- xmpp-manifesto:verdict=yes -->"),
            Some(Verdict::Fail)
        );
        assert_eq!(
            effective_verdict(Some(Verdict::Inconclusive), &pass),
            Some(Verdict::Inconclusive)
        );
    }

    #[test]
    fn bodies() {
        assert!(matches!(prepare_body(" \n"), Err(GithubError::EmptyBody)));
        let b = prepare_body("hello").unwrap();
        assert!(b.starts_with(REVIEW_MARKER));
        let exact = format!(
            "{REVIEW_MARKER}{}",
            "é".repeat(MAX_BODY_CHARS - REVIEW_MARKER.len())
        );
        assert!(prepare_body(&exact).is_ok());
        let over = format!("{exact}x");
        assert!(matches!(
            prepare_body(&over),
            Err(GithubError::BodyTooLong { chars }) if chars == MAX_BODY_CHARS + 1
        ));
    }

    #[test]
    fn links() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            http::HeaderValue::from_static(
                "<https://api.github.com/x?page=2>; rel=\"next\", <https://api.github.com/x?page=5>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/x?page=2")
        );
        assert!(same_origin(
            "https://api.github.com/x?page=2",
            "https://api.github.com"
        ));
        assert!(!same_origin(
            "https://api.github.com.evil/x",
            "https://api.github.com"
        ));
        assert_eq!(
            encode_path_segment("manifesto: needs work"),
            "manifesto%3A%20needs%20work"
        );
        assert!(is_commit_sha(&"a".repeat(40)));
        assert!(!is_commit_sha(&"g".repeat(40)));
    }
}
