//! `--format markdown`: for GitHub (PR comments, job summaries). Everything that came from a
//! server or a PR is escaped: no HTML, no links, no @mentions, no table breaks.
//!
//! The escaping helpers ([`escape`], [`status_badge`], [`verdict_badge`]) are public: the
//! review bot (`crate::bot::review`) writes its comment with them, so a PR comment and a
//! `check --format markdown` report escape alike.

use std::fmt::Write;

use super::{Formatter, serde_plain};
use crate::report::{Endpoint, PostureOutcome, PostureProbe, Report, Status, Verdict};

/// The Markdown formatter: one section per report, titles at heading level 2.
pub struct Markdown;

impl Formatter for Markdown {
    fn render(&self, reports: &[Report]) -> String {
        let mut out = String::new();
        for r in reports {
            render_report(r, 2, &mut out);
        }
        out
    }
}

/// Escapes outside text (from a server, a PR, a signatory file) for inline Markdown on
/// GitHub: punctuation that could start markup is backslash-escaped, `@` cannot mention, `<`
/// cannot open HTML, and newlines become spaces, so the result stays inside one table cell
/// or list item.
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
            // Controls, bidi overrides, zero-width and other invisible characters: one rule
            // for every output (crate::text).
            c if crate::text::forbidden_char(c).is_some() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A requirement's status with its emoji, e.g. "✅ pass" (our own text, safe as is).
pub fn status_badge(status: Status) -> &'static str {
    match status {
        Status::Pass => "✅ pass",
        Status::Warn => "⚠️ warn",
        Status::Fail => "❌ fail",
        Status::Inconclusive => "❔ inconclusive",
        Status::NotApplicable => "➖ not applicable",
    }
}

/// A verdict with its emoji, e.g. "❌ fail" (our own text, safe as is).
pub fn verdict_badge(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✅ pass",
        Verdict::Fail => "❌ fail",
        Verdict::Inconclusive => "❔ inconclusive",
        Verdict::NoService => "⛔ serves no XMPP",
    }
}

/// Our own text (fixes), which may use code spans; only kept from breaking the table. The only
/// outside data in it is the normalised A-label domain (letters, digits, dots, hyphens).
fn trusted_cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\r', '\n'], " ")
}

/// Renders one report; `heading` is the Markdown heading level of its title.
pub fn render_report(r: &Report, heading: usize, out: &mut String) {
    title(r, heading, out);
    requirements_table(r, out);
    advisories_list(r, out);
    evidence_section(r, out);
    endpoints_section(r, out);
    posture_section(r, out);
}

/// The heading with the verdict, and when, by what, how long.
fn title(r: &Report, heading: usize, out: &mut String) {
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
    if let Some(c) = &r.coverage {
        let _ = writeln!(out, "Coverage: {}.\n", escape(&c.summary));
    }
}

fn requirements_table(r: &Report, out: &mut String) {
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
}

fn advisories_list(r: &Report, out: &mut String) {
    if r.advisories.is_empty() {
        return;
    }
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

/// The evidence of every requirement, folded.
fn evidence_section(r: &Report, out: &mut String) {
    let _ = writeln!(out, "<details><summary>Evidence</summary>\n");
    for (id, req) in &r.requirements {
        for line in &req.evidence {
            let _ = writeln!(out, "- `{}` {}", id.as_str(), escape(line));
        }
    }
    let _ = writeln!(out, "\n</details>\n");
}

/// One row per endpoint, folded.
fn endpoints_section(r: &Report, out: &mut String) {
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
        endpoint_row(ep, out);
    }
    let _ = writeln!(out, "\n</details>\n");
}

fn endpoint_row(ep: &Endpoint, out: &mut String) {
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
        .map(|p| {
            let via = if p.responder.is_some() {
                " (responder)"
            } else {
                ""
            };
            format!("{}: {}{via}", serde_plain(&p.kind), serde_plain(&p.outcome))
        })
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
                    .map(posture_cell)
                    .unwrap_or_default()
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", escape(&ep.label()), cells.join(" | "));
    }
    let _ = writeln!(out, "\n</details>\n");
}

/// The outcome of one offer; what is still accepted in bold, with the suite the server chose.
fn posture_cell(p: &PostureProbe) -> String {
    let outcome = serde_plain(&p.outcome);
    match (&p.outcome, &p.selected_suite) {
        (PostureOutcome::Accepted, Some(s)) => format!("**{outcome}** {}", escape(s)),
        (PostureOutcome::Accepted, None) => format!("**{outcome}**"),
        _ => outcome,
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

    #[test]
    fn invisible_and_bidi_characters_are_replaced() {
        let e = escape("evil\u{202e}gpj.exe zero\u{200b}width \u{1b}[31m");
        for c in ['\u{202e}', '\u{200b}', '\u{1b}'] {
            assert!(!e.contains(c), "{e:?}");
        }
    }
}
