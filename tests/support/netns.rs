//! Tests that need a network of their own run inside a fresh network namespace that has only
//! loopback (`unshare -n`, then `ip link set lo up`). There, every address outside 127.0.0.0/8
//! and ::1 fails locally with "network unreachable": a wrong connect can never reach a real
//! network, and a checker in it has no IPv4 or IPv6 route at all beyond loopback.
//!
//! How: the test calls [`enter`] first. The outer run re-executes this very test binary under
//! `unshare -n`, filtered to this one test, and asserts that exactly that test passed inside;
//! the inner run (marked by an environment variable) brings loopback up and runs the body. The
//! namespace ends with the inner process: nothing to clean up.

use std::process::Command;

use super::require_binary;

const INNER: &str = "MANIFESTO_TEST_IN_NETNS";

/// Whether the body should run now (true in the inner run). `test` is the test's path inside
/// its binary, e.g. `policy::nat64_of_loopback_is_refused`.
pub fn enter(test: &str) -> bool {
    if std::env::var_os(INNER).is_some() {
        let ip = require_binary("ip", "iproute2");
        let status = Command::new(ip)
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("run ip link set lo up");
        assert!(
            status.success(),
            "ip link set lo up failed in the namespace"
        );
        return true;
    }
    let unshare = require_binary("unshare", "util-linux");
    require_binary("ip", "iproute2");
    let exe = std::env::current_exe().expect("current test binary");
    let out = Command::new(unshare)
        .args(["--net", "--"])
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INNER, "1")
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} inside a loopback-only network namespace (needs root: unshare --net):\n\
         status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    false
}

/// Whether this process is the inner run, inside the namespace: helpers that change the
/// network (`super::nft`) refuse to run anywhere else.
pub fn inside() -> bool {
    std::env::var_os(INNER).is_some()
}

/// The test's path inside its binary, for [`enter`]: `netns_test_name!("name")`.
#[macro_export]
macro_rules! netns_test_name {
    ($name:literal) => {{
        let path = module_path!();
        let inner = path.split_once("::").map_or("", |(_, rest)| rest);
        if inner.is_empty() {
            $name.to_owned()
        } else {
            format!("{inner}::{}", $name)
        }
    }};
}
