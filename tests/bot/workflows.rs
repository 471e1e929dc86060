//! Invariants of the GitHub workflows and actions under .github/ that zizmor does not check
//! (zizmor itself runs from scripts/zizmor.sh).

use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

fn all() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github");
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

#[test]
fn every_third_party_action_is_pinned_by_sha_with_a_version_comment() {
    for (path, text) in all() {
        for line in text.lines() {
            let line = line.trim_start().trim_start_matches("- ");
            let Some(target) = line.strip_prefix("uses:") else {
                continue;
            };
            let target = target.trim();
            if target.starts_with("$/") {
                continue;
            }
            let (action, rest) = target
                .split_once('@')
                .unwrap_or_else(|| panic!("{}: unpinned {target}", path.display()));
            let (sha, comment) = rest.split_once(" # v").unwrap_or_else(|| {
                panic!("{}: {action} has no `# vX.Y.Z` comment", path.display())
            });
            assert!(
                sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "{}: {action} is not pinned by a full SHA",
                path.display()
            );
            assert!(
                comment.starts_with(|c: char| c.is_ascii_digit()),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn every_workflow_starts_with_no_permissions() {
    for (path, text) in all() {
        if path.to_string_lossy().contains("/workflows/") {
            assert!(
                text.lines().any(|l| l == "permissions: {}"),
                "{}: no top-level `permissions: {{}}`",
                path.display()
            );
        }
    }
}

#[test]
fn every_checkout_drops_its_credentials() {
    for (path, text) in all() {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.contains("uses: actions/checkout@") {
                let block: Vec<&str> = lines[i + 1..]
                    .iter()
                    .take_while(|l| !l.trim_start().starts_with("- "))
                    .copied()
                    .collect();
                assert!(
                    block
                        .iter()
                        .any(|l| l.trim() == "persist-credentials: false"),
                    "{}:{}: checkout without persist-credentials: false",
                    path.display(),
                    i + 1
                );
            }
        }
    }
}

fn workflow(name: &str) -> String {
    all()
        .into_iter()
        .find(|(p, _)| p.ends_with(format!("workflows/{name}")))
        .unwrap_or_else(|| panic!("no workflow {name}"))
        .1
}

#[test]
fn the_comment_workflow_never_runs_pr_code() {
    let text = workflow("comment.yml");
    // Nothing is checked out: the setup action is read at the default branch's commit.
    assert!(
        !text.contains("actions/checkout@"),
        "comment.yml checks out code"
    );
    assert!(text.contains("uses: $/.github/actions/setup-manifesto"));
    for forbidden in [
        "ref: ${{ github.event.workflow_run.head",
        "pull_request.head",
        "cargo ",
        "pull-requests: write\n    contents: write",
    ] {
        assert!(
            !text.contains(forbidden),
            "comment.yml contains {forbidden:?}"
        );
    }
    // The head branch names the concurrency group only (never a ref to check out).
    for line in text.lines().filter(|l| l.contains("head_branch")) {
        assert!(line.trim_start().starts_with("group: "), "{line}");
    }
    // Untrusted values reach scripts only through the environment.
    for line in text.lines() {
        if line.trim_start().starts_with("run:") {
            assert!(!line.contains("${{"), "{line}");
        }
    }
    assert!(text.contains("pull-requests: write"));
    assert!(text.contains("statuses: write"));
    assert!(text.contains("--head-sha \"$SHA\""));
    assert!(text.contains("--status manifesto/review"));
}

#[test]
fn the_comment_workflow_is_serialised_per_pr_head_not_globally() {
    let text = workflow("comment.yml");
    let group = text
        .lines()
        .find(|l| l.trim_start().starts_with("group:"))
        .expect("a concurrency group");
    assert!(group.contains("${{"), "one group for every PR: {group}");
    assert!(group.contains("head_repository") && group.contains("head_branch"));
}

#[test]
fn a_pr_touching_files_outside_signatories_never_speaks_with_the_bots_voice() {
    let text = workflow("comment.yml");
    // The file list comes from the API, is checked whatever the review's conclusion, and
    // replaces the artifact's comment by a fixed body with a fail verdict.
    let outside = text
        .find("grep -cv '^signatories/'")
        .expect("outside check");
    let pass = text.find("verdict=pass").expect("pass branch");
    assert!(
        outside < pass,
        "the outside check must come before any pass"
    );
    assert!(text.contains("a maintainer must review this pull request"));
    assert!(text.contains("<!-- xmpp-manifesto:verdict=fail -->"));
}

#[test]
fn every_push_takes_verified_away_without_running_pr_code() {
    let text = workflow("label.yml");
    assert!(text.contains("pull_request_target:"));
    assert!(text.contains("types: [opened, synchronize, reopened, edited]"));
    assert!(
        !text.contains("actions/checkout@"),
        "label.yml checks out code"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().trim_start_matches("- ").starts_with("uses:")),
        "label.yml runs an action"
    );
    assert!(text.contains("labels/manifesto:%20verified"));
    assert!(text.contains("state=pending -f context=manifesto/review"));
    for perm in ["contents: write", "actions: write", "secrets"] {
        assert!(!text.contains(perm), "label.yml has {perm}");
    }
}

#[test]
fn local_actions_use_the_self_repository_syntax() {
    for (path, text) in all() {
        for line in text.lines() {
            let line = line.trim_start().trim_start_matches("- ");
            if let Some(target) = line.strip_prefix("uses:") {
                assert!(
                    !target.trim().starts_with("./"),
                    "{}: {line}: a workspace-relative action runs whatever is checked out",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn no_run_script_interpolates_expressions() {
    for (path, text) in all() {
        let mut in_run = false;
        let mut run_indent = 0;
        for line in text.lines() {
            let indent = line.len() - line.trim_start().len();
            let trimmed = line.trim_start().trim_start_matches("- ");
            if in_run && !line.trim().is_empty() && indent <= run_indent {
                in_run = false;
            }
            if in_run {
                assert!(
                    !line.contains("${{"),
                    "{}: expression inside a run script: {line}",
                    path.display()
                );
            }
            if let Some(rest) = trimmed.strip_prefix("run:") {
                assert!(!rest.contains("${{"), "{}: {line}", path.display());
                in_run = rest.trim() == "|" || rest.trim() == ">";
                run_indent = indent;
            }
        }
    }
}
