//! Firewall rules for tests that need a server behind a rate limit: nftables rules in the
//! loopback-only network namespace of [`super::netns`], never on the machine's own ruleset
//! (every function panics outside the namespace). The namespace and its rules end with the
//! inner test process.

use std::net::IpAddr;
use std::process::Command;

use super::{netns, require_binary, run};

const TABLE: &str = "manifesto_test";

/// A rule that rejects new TCP connections to some ports of one address beyond a rate, with
/// a TCP reset (what the client sees as "connection refused"), as a server's firewall does
/// against floods (`ct state new limit rate over ... reject`).
pub struct RateLimit {
    nft: std::path::PathBuf,
}

impl RateLimit {
    /// Rejects new connections to `ip` on `ports` above `rate` (nftables syntax, e.g.
    /// `5/second burst 5 packets`).
    pub fn new_connections(ip: IpAddr, ports: &[u16], rate: &str) -> RateLimit {
        assert!(
            netns::inside(),
            "nftables rules are only ever added inside the test's network namespace (netns::enter)"
        );
        let nft = require_binary("nft", "nftables");
        let family = if ip.is_ipv4() { "ip" } else { "ip6" };
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        let ruleset = format!(
            "table inet {TABLE} {{\n\
             \tchain input {{\n\
             \t\ttype filter hook input priority 0; policy accept;\n\
             \t\t{family} daddr {ip} tcp dport {{ {} }} ct state new limit rate over {rate} counter reject with tcp reset\n\
             \t}}\n\
             }}\n",
            ports.join(", ")
        );
        let file = tempfile::NamedTempFile::new().expect("temp file for the ruleset");
        std::fs::write(file.path(), &ruleset).expect("write the ruleset");
        run(Command::new(&nft).arg("-f").arg(file.path()));
        RateLimit { nft }
    }

    /// How many new connections the rule has rejected so far.
    pub fn rejected(&self) -> u64 {
        let out = run(Command::new(&self.nft).args(["list", "table", "inet", TABLE]));
        let text = String::from_utf8_lossy(&out);
        let counter = text
            .split("counter packets ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no counter in the ruleset:\n{text}"));
        counter
            .parse()
            .unwrap_or_else(|_| panic!("a counter that is not a number: {counter:?}"))
    }
}

impl Drop for RateLimit {
    fn drop(&mut self) {
        let _ = Command::new(&self.nft)
            .args(["delete", "table", "inet", TABLE])
            .status();
    }
}
