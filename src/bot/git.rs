//! The registry checkout, read through `git`: which files a pull request changes, and their
//! contents at a revision.
//!
//! The checkout is untrusted (a PR may add huge blobs or odd file names): every git command has
//! a timeout ([`GIT_TIMEOUT`]) and a cap on what it may print, revisions that look like options
//! are refused, and paths are never interpreted by a shell.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::bot::model::{Change, ChangeKind};
use crate::register::registry::SIGNATORIES_DIR;

/// How long one git command may run.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(60);
/// Most bytes read from one git command (the register is small; a PR could add huge blobs).
pub(crate) const MAX_GIT_OUTPUT: u64 = 64 * 1024 * 1024;
/// Most bytes of a git command's stderr kept for the error message.
const MAX_GIT_STDERR: u64 = 64 * 1024;

/// What went wrong running git.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{0:?} is not a usable git revision")]
    BadRef(String),
    #[error("cannot run git {args}: {source}")]
    Spawn {
        args: String,
        source: std::io::Error,
    },
    #[error("git {args} failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("git {args} did not finish within {} s", GIT_TIMEOUT.as_secs())]
    Timeout { args: String },
    #[error("git {args} printed more than {MAX_GIT_OUTPUT} bytes")]
    OutputTooLarge { args: String },
    #[error("unexpected output from git {args}: {detail}")]
    Output { args: String, detail: String },
}

/// A git checkout.
pub(crate) struct Git {
    pub(crate) dir: PathBuf,
}

/// The subprocess: environment, pipes, timeout and caps.
impl Git {
    /// Runs `git -C DIR ARGS`, feeding `stdin` if given; its stdout, or an error.
    async fn run(&self, args: &[&str], stdin: Option<Vec<u8>>) -> Result<Vec<u8>, GitError> {
        let shown = args.join(" ");
        let mut cmd = tokio::process::Command::new("git");
        cmd.arg("-C")
            .arg(&self.dir)
            .args(["-c", "core.quotePath=off"])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|source| GitError::Spawn {
            args: shown.clone(),
            source,
        })?;
        let writer = match (stdin, child.stdin.take()) {
            (Some(input), Some(mut pipe)) => Some(tokio::spawn(async move {
                let _ = pipe.write_all(&input).await;
                drop(pipe);
            })),
            _ => None,
        };
        let result = tokio::time::timeout(GIT_TIMEOUT, collect(&mut child)).await;
        if let Some(w) = writer {
            w.abort();
        }
        let (status, out, err) = match result {
            Err(_) => return Err(GitError::Timeout { args: shown }),
            Ok(Err(source)) => {
                return Err(GitError::Spawn {
                    args: shown,
                    source,
                });
            }
            Ok(Ok(v)) => v,
        };
        if out.len() as u64 > MAX_GIT_OUTPUT {
            return Err(GitError::OutputTooLarge { args: shown });
        }
        if !status.success() {
            return Err(GitError::Failed {
                args: shown,
                stderr: String::from_utf8_lossy(&err).trim().to_owned(),
            });
        }
        Ok(out)
    }
}

/// The few questions the review asks the checkout.
impl Git {
    /// The commit a revision names (never an option: refs starting with `-` are refused).
    pub(crate) async fn commit(&self, rev: &str) -> Result<String, GitError> {
        if rev.is_empty() || rev.starts_with('-') || rev.chars().any(|c| c.is_control()) {
            return Err(GitError::BadRef(rev.to_owned()));
        }
        let spec = format!("{rev}^{{commit}}");
        let out = self
            .run(&["rev-parse", "--verify", "--quiet", &spec], None)
            .await
            .map_err(|e| match e {
                GitError::Failed { .. } => GitError::BadRef(rev.to_owned()),
                e => e,
            })?;
        let sha = String::from_utf8_lossy(&out).trim().to_owned();
        if sha.is_empty() || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(GitError::BadRef(rev.to_owned()));
        }
        Ok(sha)
    }

    /// `git diff --raw -M -z BASE...HEAD` (the PR's changes since it forked), with each file's
    /// mode at head: the review accepts regular files only, and a symbolic link or an
    /// executable looks like any other file to `--name-status` and `cat-file`.
    pub(crate) async fn changes(&self, base: &str, head: &str) -> Result<Vec<Change>, GitError> {
        let range = format!("{base}...{head}");
        let out = self
            .run(
                &[
                    "diff",
                    "--raw",
                    "-M",
                    "-z",
                    "--no-ext-diff",
                    "--no-textconv",
                    &range,
                    "--",
                ],
                None,
            )
            .await?;
        parse_raw_diff(&out).map_err(|detail| GitError::Output {
            args: "diff --raw".into(),
            detail,
        })
    }

    /// Paths of the files directly under `signatories/` at `rev`.
    pub(crate) async fn signatory_paths(&self, rev: &str) -> Result<Vec<String>, GitError> {
        let tree = format!("{rev}:{SIGNATORIES_DIR}");
        let out = match self
            .run(&["ls-tree", "-z", "--name-only", &tree], None)
            .await
        {
            Ok(out) => out,
            // No signatories/ at that revision: an empty register.
            Err(GitError::Failed { .. }) => return Ok(vec![]),
            Err(e) => return Err(e),
        };
        Ok(out
            .split(|b| *b == 0)
            .filter(|n| !n.is_empty())
            .map(|n| format!("{SIGNATORIES_DIR}/{}", String::from_utf8_lossy(n)))
            .filter(|p| is_signatory_path(p))
            .collect())
    }

    /// The contents of `paths` at `rev`, in one `git cat-file --batch`; missing ones are left out.
    pub(crate) async fn read_files(
        &self,
        rev: &str,
        paths: &[String],
    ) -> Result<BTreeMap<String, Vec<u8>>, GitError> {
        if paths.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut input = Vec::new();
        for p in paths {
            input.extend_from_slice(format!("{rev}:{p}\n").as_bytes());
        }
        let out = self.run(&["cat-file", "--batch"], Some(input)).await?;
        parse_cat_file_batch(&out, paths).map_err(|detail| GitError::Output {
            args: "cat-file --batch".into(),
            detail: detail.into(),
        })
    }
}

/// Reads the child's stdout and stderr (each up to its cap), then waits for it.
///
/// Each pipe is dropped as soon as its reader stops (at EOF or at the cap), so a git that writes
/// too much gets EPIPE and exits instead of blocking until the timeout.
async fn collect(
    child: &mut tokio::process::Child,
) -> Result<(ExitStatus, Vec<u8>, Vec<u8>), std::io::Error> {
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (out, err) = tokio::join!(
        read_capped(stdout, MAX_GIT_OUTPUT + 1),
        read_capped(stderr, MAX_GIT_STDERR)
    );
    let (out, err) = (out?, err?);
    let status = child.wait().await?;
    Ok((status, out, err))
}

/// At most `cap` bytes of `pipe` (nothing when there is no pipe); the pipe is dropped after.
async fn read_capped(
    pipe: Option<impl AsyncRead + Unpin>,
    cap: u64,
) -> Result<Vec<u8>, std::io::Error> {
    let mut buf = Vec::new();
    if let Some(p) = pipe {
        p.take(cap).read_to_end(&mut buf).await?;
    }
    Ok(buf)
}

/// Splits `git cat-file --batch` output for `paths` (asked in that order) into the blobs found.
fn parse_cat_file_batch(
    out: &[u8],
    paths: &[String],
) -> Result<BTreeMap<String, Vec<u8>>, &'static str> {
    let mut files = BTreeMap::new();
    let mut rest = out;
    for p in paths {
        let nl = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or("header line missing")?;
        let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
        rest = &rest[nl + 1..];
        let fields: Vec<&str> = header.split(' ').collect();
        if fields.last() == Some(&"missing") || fields.last() == Some(&"ambiguous") {
            continue;
        }
        let size: usize = fields
            .get(2)
            .and_then(|s| s.parse().ok())
            .ok_or("no size in header")?;
        if rest.len() < size + 1 {
            return Err("object cut short");
        }
        if fields.get(1) == Some(&"blob") {
            files.insert(p.clone(), rest[..size].to_vec());
        }
        rest = &rest[size + 1..];
    }
    Ok(files)
}

/// Parses `git diff --raw -z` output: for each file, `:SRCMODE DSTMODE SRCSHA DSTSHA STATUS`,
/// then its path (two paths, from and to, for renames and copies), each ended by NUL.
pub fn parse_raw_diff(out: &[u8]) -> Result<Vec<Change>, String> {
    let mut fields = out
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned());
    let mut changes = Vec::new();
    while let Some(header) = fields.next() {
        if header.is_empty() {
            continue;
        }
        let parts: Vec<&str> = header
            .strip_prefix(':')
            .ok_or_else(|| format!("not a raw diff line: {header:?}"))?
            .split(' ')
            .collect();
        let [_, dst_mode, _, _, status] = parts[..] else {
            return Err(format!("not a raw diff line: {header:?}"));
        };
        if dst_mode.len() != 6 || !dst_mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return Err(format!("bad mode in {header:?}"));
        }
        let mut path = || {
            fields
                .next()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| format!("no path after status {status:?}"))
        };
        let (kind, from, path) = match status.bytes().next() {
            Some(b'A') => (ChangeKind::Added, None, path()?),
            Some(b'M') => (ChangeKind::Modified, None, path()?),
            Some(b'D') => (ChangeKind::Deleted, None, path()?),
            Some(b @ (b'R' | b'C')) => {
                let from = path()?;
                let kind = if b == b'R' {
                    ChangeKind::Renamed
                } else {
                    ChangeKind::Other
                };
                (kind, Some(from), path()?)
            }
            // Type changes (T), unmerged (U)...
            _ => (ChangeKind::Other, None, path()?),
        };
        changes.push(Change {
            kind,
            path,
            from,
            // A deleted file has no mode at head ("000000").
            mode: (kind != ChangeKind::Deleted).then(|| dst_mode.to_owned()),
        });
    }
    Ok(changes)
}

/// `signatories/NAME.toml`, directly in the directory, not hidden, no control characters (a
/// file name with a line break is reported as another file, never fed to `git cat-file`).
pub fn is_signatory_path(path: &str) -> bool {
    path.strip_prefix(SIGNATORIES_DIR)
        .and_then(|r| r.strip_prefix('/'))
        .is_some_and(|name| {
            !name.contains('/')
                && !name.chars().any(char::is_control)
                && !name.starts_with('.')
                && name.len() > 5
                && name.ends_with(".toml")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_diff_parses() {
        let out = b":000000 100644 0000000 1111111 A\0signatories/a.org.toml\0\
:100644 100644 2222222 3333333 R087\0signatories/b.toml\0signatories/c.toml\0\
:100644 000000 4444444 0000000 D\0README.md\0\
:000000 120000 0000000 5555555 A\0signatories/link.toml\0\
:100644 120000 6666666 7777777 T\0signatories/d.toml\0";
        let c = parse_raw_diff(out).unwrap();
        assert_eq!(c.len(), 5);
        assert_eq!(c[0].kind, ChangeKind::Added);
        assert_eq!(c[0].mode.as_deref(), Some("100644"));
        assert_eq!(c[1].kind, ChangeKind::Renamed);
        assert_eq!(c[1].from.as_deref(), Some("signatories/b.toml"));
        assert_eq!(c[1].path, "signatories/c.toml");
        assert_eq!(c[2].kind, ChangeKind::Deleted);
        assert_eq!(c[2].mode, None);
        assert_eq!(c[3].mode.as_deref(), Some("120000"));
        assert_eq!(c[4].kind, ChangeKind::Other);
        assert!(parse_raw_diff(b"A\0x\0").is_err());
        assert!(parse_raw_diff(b":100644 10x644 1 2 M\0x\0").is_err());
        assert!(parse_raw_diff(b":100644 100644 1 2 M\0").is_err());
    }

    #[test]
    fn signatory_paths() {
        assert!(is_signatory_path("signatories/a.org.toml"));
        assert!(!is_signatory_path("signatories/sub/a.toml"));
        assert!(!is_signatory_path("signatories/.hidden.toml"));
        assert!(!is_signatory_path("signatories/README.md"));
        assert!(!is_signatory_path("README.md"));
        assert!(!is_signatory_path("signatoriesx/a.toml"));
        assert!(!is_signatory_path("signatories/a\nb.toml"));
    }

    #[test]
    fn cat_file_batch_parses() {
        let paths = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let out = b"1111 blob 3\nabc\nb missing\n2222 tree 2\nxy\n";
        let files = parse_cat_file_batch(out, &paths).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files["a"], b"abc");
        assert_eq!(
            parse_cat_file_batch(b"1111 blob 9\nabc\n", &paths),
            Err("object cut short")
        );
    }
}
