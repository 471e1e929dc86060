//! The real `manifesto` binary, as the tests run it.

use std::process::Command;

/// The binary under test, with the GitHub environment scrubbed (a test run inside GitHub
/// Actions must not pick up the job's `GITHUB_*` variables) and without colour.
pub fn manifesto() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_manifesto"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GITHUB_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}
