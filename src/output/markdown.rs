//! `--format markdown`: for GitHub (PR comments, job summaries). Everything that came from a
//! server or a PR is escaped: no HTML, no links, no @mentions, no table breaks.

use std::fmt::Write;

use super::Formatter;
use super::text::serde_plain;
use crate::report::{Report, Status, Verdict};

pub struct Markdown;

/// Escapes text for inline Markdown on GitHub: punctuation that could start markup is
/// backslash-escaped, `@` cannot mention, `<` cannot open HTML, and newlines become spaces.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '~' | '>' | '"' | '\'' | '=' | ':' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            // A zero-width joiner after @ keeps GitHub from mentioning users or teams.
            '@' => out.push_str("@\u{200D}"),
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Our own text (fixes), which may use code spans; only kept from breaking the table. The only
/// outside data in it is the normalised A-label domain (letters, digits, dots, hyphens).
fn trusted_cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\r', '\n'], " ")
}

pub fn status_badge(status: Status) -> &'static str {
    match status {
        Status::Pass => "✅ pass",
        Status::Warn => "⚠️ warn",
        Status::Fail => "❌ fail",
        Status::Inconclusive => "❔ inconclusive",
        Status::NotApplicable => "➖ not applicable",
    }
}

pub fn verdict_badge(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✅ pass",
        Verdict::Fail => "❌ fail",
        Verdict::Inconclusive => "❔ inconclusive",
    }
}

/// Renders one report; `heading` is the Markdown heading level of its title.
pub fn render_report(r: &Report, heading: usize, out: &mut String) {
    let h = "#".repeat(heading.clamp(1, 5));
    let _ = writeln!(
        out,
        "{h} {}: {}\n",
        escape(&r.domain),
        verdict_badge(r.verdict)
    );
    let _ = writeln!(
        out,
        "Checked {} by xmpp-manifesto {} in {} ms{}.\n",
        r.checked_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        escape(&r.tool_version),
        r.duration_ms,
        r.software
            .map(|s| format!("; server software: {}", s.name()))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "| Requirement | Status | Finding | Fix |");
    let _ = writeln!(out, "|---|---|---|---|");
    for (id, req) in &r.requirements {
        let basis = req
            .basis
            .map(|b| format!(" ({})", serde_plain(&b)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| `{}` | {}{} | {} | {} |",
            id.as_str(),
            status_badge(req.status),
            basis,
            escape(&req.summary),
            req.fix.as_deref().map(trusted_cell).unwrap_or_default()
        );
    }
    let _ = writeln!(out);
    if !r.advisories.is_empty() {
        let _ = writeln!(out, "Advisories:\n");
        for a in &r.advisories {
            let _ = writeln!(
                out,
                "- **{}** ({}): {}{}",
                escape(&a.id),
                serde_plain(&a.level),
                escape(&a.summary),
                a.fix
                    .as_deref()
                    .map(|f| format!(" Fix: {}", escape(f)))
                    .unwrap_or_default()
            );
            for line in &a.evidence {
                let _ = writeln!(out, "  - {}", escape(line));
            }
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "<details><summary>Evidence</summary>\n");
    for (id, req) in &r.requirements {
        for line in &req.evidence {
            let _ = writeln!(out, "- `{}` {}", id.as_str(), escape(line));
        }
    }
    let _ = writeln!(out, "\n</details>\n");
    let _ = writeln!(
        out,
        "<details><summary>Endpoints ({})</summary>\n",
        r.endpoints.len()
    );
    let _ = writeln!(
        out,
        "| Service | Host | Address | TLS | Certificate | Probe | Time |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for ep in &r.endpoints {
        let tls = ep
            .tls
            .as_ref()
            .map(|t| format!("{} {}", t.version, t.cipher_suite))
            .or_else(|| ep.error.clone())
            .unwrap_or_default();
        let cert = ep
            .certificate
            .as_ref()
            .and_then(|c| c.chain.first())
            .map(|l| format!("{} (until {})", l.subject, l.not_after))
            .unwrap_or_default();
        let probe = ep
            .probes
            .iter()
            .map(|p| format!("{}: {}", serde_plain(&p.kind), serde_plain(&p.outcome)))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "| {} {} | {}:{} | {} | {} | {} | {} | {} ms |",
            ep.service,
            ep.mode,
            escape(&ep.host),
            ep.port,
            escape(&ep.address),
            escape(&tls),
            escape(&cert),
            escape(&probe),
            ep.duration_ms
        );
    }
    let _ = writeln!(out, "\n</details>\n");
    posture_section(r, out);
}

/// What each endpoint still accepts: one row per endpoint, one column per offer.
fn posture_section(r: &Report, out: &mut String) {
    let with: Vec<_> = r
        .endpoints
        .iter()
        .filter(|e| !e.posture.is_empty())
        .collect();
    let Some(first) = with.first() else {
        return;
    };
    let offers: Vec<&str> = first.posture.iter().map(|p| p.offer.as_str()).collect();
    let _ = writeln!(out, "<details><summary>TLS posture</summary>\n");
    let _ = writeln!(
        out,
        "| Endpoint | {} |",
        offers
            .iter()
            .map(|o| escape(o))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|---|{}", "---|".repeat(offers.len()));
    for ep in with {
        let cells: Vec<String> = offers
            .iter()
            .map(|o| {
                ep.posture
                    .iter()
                    .find(|p| p.offer == *o)
                    .map(|p| {
                        let outcome = serde_plain(&p.outcome);
                        match (&p.outcome, &p.selected_suite) {
                            (crate::report::PostureOutcome::Accepted, Some(s)) => {
                                format!("**{outcome}** {}", escape(s))
                            }
                            (crate::report::PostureOutcome::Accepted, None) => {
                                format!("**{outcome}**")
                            }
                            _ => outcome,
                        }
                    })
                    .unwrap_or_default()
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", escape(&ep.label()), cells.join(" | "));
    }
    let _ = writeln!(out, "\n</details>\n");
}

impl Formatter for Markdown {
    fn render(&self, reports: &[Report]) -> String {
        let mut out = String::new();
        for r in reports {
            render_report(r, 2, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        let e = escape("<img src=x onerror=alert(1)> ](javascript:alert(1)) @org/team `x` |");
        assert!(!e.contains('<'));
        assert!(!e.contains("](javascript"));
        assert!(!e.contains("@org"));
        assert!(e.contains("\\`x\\`"));
        assert!(e.contains("\\|"));
    }
}
