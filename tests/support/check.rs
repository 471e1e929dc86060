//! Runs the real `manifesto` binary and reads its JSON report.

use std::process::Command;

use serde_json::Value;

/// Result of one `manifesto check` run.
#[derive(Debug)]
pub struct CheckRun {
    pub code: i32,
    pub json: Value,
    pub stderr: String,
}

impl CheckRun {
    /// Status of requirement `id`.
    pub fn status(&self, id: &str) -> &str {
        self.json["requirements"][id]["status"]
            .as_str()
            .unwrap_or_else(|| panic!("no requirement {id} in {:#}", self.json))
    }

    pub fn basis(&self, id: &str) -> Option<&str> {
        self.json["requirements"][id]["basis"].as_str()
    }

    pub fn summary(&self, id: &str) -> &str {
        self.json["requirements"][id]["summary"]
            .as_str()
            .unwrap_or("")
    }

    pub fn verdict(&self) -> &str {
        self.json["verdict"].as_str().unwrap_or("")
    }

    pub fn endpoints(&self) -> &Vec<Value> {
        self.json["endpoints"].as_array().expect("endpoints array")
    }

    /// Whole report, for assertion messages.
    pub fn dump(&self) -> String {
        format!("{:#}\nstderr: {}", self.json, self.stderr)
    }
}

/// The binary under test, with the GitHub environment scrubbed.
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

/// `manifesto check DOMAIN --format json --allow-private --resolver DNS [--ca-file CA] EXTRA...`
pub async fn check(
    domain: &str,
    resolver: &str,
    ca_file: Option<&std::path::Path>,
    extra: &[&str],
) -> CheckRun {
    let mut cmd = manifesto();
    cmd.args([
        "check",
        domain,
        "--format",
        "json",
        "--allow-private",
        "--resolver",
        resolver,
    ]);
    // Real servers on a loaded 2-core test machine answer probes in tens of milliseconds, but
    // not always: a generous minimum wait keeps `verified` results deterministic.
    if !extra.contains(&"--probe-wait-min") {
        cmd.args(["--probe-wait-min", "2", "--probe-wait", "4"]);
    }
    if let Some(ca) = ca_file {
        cmd.arg("--ca-file").arg(ca);
    }
    cmd.args(extra);
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("run manifesto");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("manifesto printed no JSON ({e}): {stdout}\nstderr: {stderr}"));
    CheckRun {
        code: output.status.code().unwrap_or(-1),
        json,
        stderr,
    }
}
