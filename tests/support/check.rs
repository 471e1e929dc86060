//! Runs `manifesto check` and reads its JSON report. Most tests go through
//! [`super::scenario::Scenario::check`], which supplies the resolver and the CA.

use std::ffi::OsString;

use serde_json::Value;

use super::cli::manifesto;

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

/// `manifesto check DOMAIN --format json ARGS...` (e.g. [`super::scenario::Scenario::network_args`]
/// and the test's own options).
pub async fn check(domain: &str, args: &[OsString]) -> CheckRun {
    let mut cmd = manifesto();
    cmd.args(["check", domain, "--format", "json"]);
    // Real servers on a loaded 2-core test machine answer probes in tens of milliseconds, but
    // not always: a generous minimum wait keeps `verified` results deterministic.
    if !args.iter().any(|a| a == "--probe-wait-min") {
        cmd.args(["--probe-wait-min", "2", "--probe-wait", "4"]);
    }
    cmd.args(args);
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
