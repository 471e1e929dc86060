//! `--format json`: one report object for one domain, an array for several (schema
//! `xmpp-manifesto/report-v1`).

use super::Formatter;
use crate::report::Report;

/// The JSON formatter.
pub struct Json;

impl Formatter for Json {
    fn render(&self, reports: &[Report]) -> String {
        let value = match reports {
            [one] => serde_json::to_string_pretty(one),
            many => serde_json::to_string_pretty(many),
        };
        // Serialising plain data structures cannot fail; keep a valid document regardless.
        value.unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string())) + "\n"
    }
}
