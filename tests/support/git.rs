//! Temporary git repositories holding a registry, and `manifesto review` runs on them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A registry in a fresh git repository (branch `main`), deleted on drop.
pub struct Repo {
    pub dir: tempfile::TempDir,
    /// Where the review writes (outside the work tree).
    pub out: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("temp dir"),
            out: tempfile::tempdir().expect("temp dir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs git in the repository with a fixed identity; panics on failure; returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.path())
            .args(args)
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@invalid")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@invalid")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub fn write(&self, path: &str, text: &str) {
        let p = self.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    pub fn remove(&self, path: &str) {
        self.git(&["rm", "-q", path]);
    }

    pub fn rename(&self, from: &str, to: &str) {
        self.git(&["mv", from, to]);
    }

    /// Commits everything; returns the commit.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    pub fn branch(&self, name: &str) {
        self.git(&["checkout", "-q", "-b", name]);
    }

    /// Starts branch `pr` afresh at `base` (the work tree follows): one repository serves
    /// several pull requests in turn.
    pub fn new_pr(&self, base: &str) {
        self.git(&["checkout", "-q", "-B", "pr", base]);
    }

    /// A symbolic link at `path` whose target is `target`, as git stores it (mode 120000, the
    /// target text as the blob). The target may be any text, even a whole TOML file.
    pub fn symlink(&self, path: &str, target: &str) {
        let p = self.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        let _ = std::fs::remove_file(&p);
        std::os::unix::fs::symlink(target, p).expect("symlink");
    }

    /// Sets the executable bits of `path` (git records mode 100755).
    pub fn make_executable(&self, path: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        let p = self.path().join(path);
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

pub fn operator(name: &str, domains: &[&str], github: &str) -> String {
    let list = domains
        .iter()
        .map(|d| format!("{d:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "name = {name:?}\nrole = \"operator\"\ndomains = [{list}]\n\
         statement = \"We require TLS.\"\nsigned = 2024-05-01\ngithub = {github:?}\n"
    )
}

pub fn developer(name: &str, github: &str) -> String {
    format!(
        "name = {name:?}\nrole = \"developer\"\nstatement = \"I support it.\"\n\
         signed = 2024-05-01\ngithub = {github:?}\n"
    )
}

/// A developer signature imported from the 2014 manifesto: `source` and no `github`, as in
/// the real register (e.g. `signatories/adam-brault.toml`).
pub fn imported(name: &str) -> String {
    format!(
        "name = {name:?}\nrole = \"developer\"\nstatement = \"I support it.\"\n\
         signed = 2014-03-26\nsource = \"stpeter/manifesto manifesto.txt v0.5 (2014)\"\n"
    )
}

/// The outcome of one `manifesto review` run.
#[derive(Debug)]
pub struct ReviewRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub comment: String,
    pub json: Value,
    pub out: PathBuf,
}

impl ReviewRun {
    pub fn dump(&self) -> String {
        format!(
            "exit {}\nstdout:\n{}\nstderr:\n{}\ncomment:\n{}",
            self.code, self.stdout, self.stderr, self.comment
        )
    }

    /// The review of the changed file `path`.
    pub fn file(&self, path: &str) -> &Value {
        self.json["files"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["change"]["path"] == path))
            .unwrap_or_else(|| panic!("no file {path} in the review: {}", self.dump()))
    }

    pub fn domain(&self, domain: &str) -> &Value {
        self.json["domains"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["domain"] == domain))
            .unwrap_or_else(|| panic!("no domain {domain} in the review: {}", self.dump()))
    }

    pub fn requirement(&self, domain: &str, id: &str) -> &str {
        self.domain(domain)["report"]["requirements"][id]["status"]
            .as_str()
            .unwrap_or_else(|| panic!("no {id} for {domain}: {}", self.dump()))
    }
}

/// `manifesto review --repo REPO --base BASE --head HEAD --out OUT ARGS...` with `cmd` (the
/// binary with the GitHub environment scrubbed, [`super::cli::manifesto`]).
pub fn review(
    mut cmd: Command,
    repo: &Repo,
    base: &str,
    args: impl IntoIterator<Item = impl AsRef<OsStr>>,
) -> ReviewRun {
    let out = repo.out.path().join("out");
    let _ = std::fs::remove_dir_all(&out);
    cmd.arg("review")
        .arg("--repo")
        .arg(repo.path())
        .args(["--base", base, "--head", "HEAD", "--out"])
        .arg(&out)
        .args(args);
    let output = cmd.output().expect("run manifesto review");
    let comment = std::fs::read_to_string(out.join("comment.md")).unwrap_or_default();
    let json = std::fs::read_to_string(out.join("review.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    ReviewRun {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        comment,
        json,
        out,
    }
}
