//! The real `manifesto` binary, as the tests run it.

use std::process::Command;

/// The path of the binary under test: cargo's build of it, or `MANIFESTO_BIN` when set (to run
/// the tests against another build, e.g. an older one for comparison, or a copy that builds
/// of other worktrees sharing the target directory cannot overwrite meanwhile).
pub fn manifesto_path() -> std::path::PathBuf {
    std::env::var_os("MANIFESTO_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_manifesto").into())
}

/// The binary under test, with the GitHub environment scrubbed (a test run inside GitHub
/// Actions must not pick up the job's `GITHUB_*` variables) and without colour.
pub fn manifesto() -> Command {
    let mut cmd = Command::new(manifesto_path());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GITHUB_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}
