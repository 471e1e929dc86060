//! `--format text`: for a person at a terminal; colour only on a TTY.

use std::fmt::Write;

use super::{Formatter, serde_plain};
use crate::report::{Endpoint, Report, Status, Verdict};

/// The text formatter; `color` paints with ANSI escapes.
pub struct Text {
    pub color: bool,
}

impl Formatter for Text {
    fn render(&self, reports: &[Report]) -> String {
        let mut out = String::new();
        for r in reports {
            self.report(r, &mut out);
        }
        out
    }
}

/// The symbol before a requirement's status.
pub fn status_symbol(status: Status) -> &'static str {
    match status {
        Status::Pass => "✔",
        Status::Warn => "!",
        Status::Fail => "✘",
        Status::Inconclusive => "?",
        Status::NotApplicable => "-",
    }
}

/// The symbol before a domain's verdict.
pub fn verdict_symbol(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✔",
        Verdict::Fail => "✘",
        Verdict::Inconclusive => "?",
        Verdict::NoService => "∅",
    }
}

impl Text {
    fn paint(&self, s: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }

    fn status(&self, status: Status) -> String {
        let code = match status {
            Status::Pass => "32",
            Status::Warn => "33",
            Status::Fail => "31;1",
            Status::Inconclusive => "35",
            Status::NotApplicable => "2",
        };
        self.paint(
            &format!("{} {:<14}", status_symbol(status), status.as_str()),
            code,
        )
    }

    fn verdict(&self, verdict: Verdict) -> String {
        let code = match verdict {
            Verdict::Pass => "32;1",
            Verdict::Fail => "31;1",
            Verdict::Inconclusive => "35;1",
            Verdict::NoService => "31;1",
        };
        self.paint(
            &format!(
                "{} {}",
                verdict_symbol(verdict),
                verdict.as_str().to_uppercase()
            ),
            code,
        )
    }

    fn report(&self, r: &Report, out: &mut String) {
        let _ = writeln!(
            out,
            "{}  {}   ({} ms, {})",
            self.paint(&clean(&r.domain), "1"),
            self.verdict(r.verdict),
            r.duration_ms,
            r.checked_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        );
        if let Some(s) = r.software {
            let _ = writeln!(out, "  server software: {}", s.name());
        }
        if let Some(c) = &r.coverage {
            let _ = writeln!(out, "  coverage: {}", clean(&c.summary));
        }
        let _ = writeln!(out);
        for (id, req) in &r.requirements {
            let basis = req
                .basis
                .map(|b| format!(" [{}]", serde_plain(&b)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} {:<20} {}{}",
                self.status(req.status),
                id.as_str(),
                clean(&req.summary),
                basis
            );
            if let Some(fix) = &req.fix {
                let _ = writeln!(out, "      {} {}", self.paint("fix:", "1"), clean(fix));
            }
        }
        for adv in &r.advisories {
            let _ = writeln!(
                out,
                "  {} {} {}: {}",
                self.paint("advisory", "33"),
                serde_plain(&adv.level),
                clean(&adv.id),
                clean(&adv.summary)
            );
            if let Some(fix) = &adv.fix {
                let _ = writeln!(out, "      {} {}", self.paint("fix:", "1"), clean(fix));
            }
            for line in &adv.evidence {
                let _ = writeln!(out, "      - {}", clean(line));
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "  discovery:");
        for d in &r.discovery {
            let records = if d.records.is_empty() {
                String::new()
            } else {
                format!(" {}", clean(&d.records.join(", ")))
            };
            let _ = writeln!(
                out,
                "    {:<40} {}{}",
                clean(&d.name),
                serde_plain(&d.outcome),
                records
            );
        }
        let _ = writeln!(out, "  endpoints:");
        for ep in &r.endpoints {
            self.endpoint(ep, out);
        }
        let _ = writeln!(out);
    }

    fn endpoint(&self, ep: &Endpoint, out: &mut String) {
        let _ = writeln!(out, "    {} ({} ms)", clean(&ep.label()), ep.duration_ms);
        if let Some(f) = &ep.pre_tls_features {
            let _ = writeln!(
                out,
                "      before TLS: starttls={}{}{} mechanisms=[{}]",
                f.starttls,
                if f.starttls_required {
                    " (required)"
                } else {
                    ""
                },
                if f.dialback { " dialback" } else { "" },
                clean(&f.sasl_mechanisms.join(" "))
            );
        }
        for p in &ep.probes {
            let _ = writeln!(
                out,
                "      probe {}: {} ({})",
                serde_plain(&p.kind),
                serde_plain(&p.outcome),
                clean(&p.detail)
            );
            if let Some(r) = &p.responder {
                let _ = writeln!(out, "        responder: {}", clean(&r.words()));
            }
        }
        if let Some(t) = &ep.tls {
            let _ = writeln!(
                out,
                "      TLS: {} {} {}{}",
                clean(&t.version),
                clean(&t.cipher_suite),
                clean(t.key_exchange.as_deref().unwrap_or("")),
                t.alpn
                    .as_deref()
                    .map(|a| format!(" alpn={}", clean(a)))
                    .unwrap_or_default()
            );
        }
        if let Some(leaf) = ep.certificate.as_ref().and_then(|c| c.chain.first()) {
            let _ = writeln!(
                out,
                "      certificate: {} (issuer {}; until {}; {})",
                clean(&leaf.subject),
                clean(&leaf.issuer),
                clean(&leaf.not_after),
                clean(&leaf.key)
            );
        }
        if let Some(f) = &ep.post_tls_features {
            let _ = writeln!(
                out,
                "      after TLS: mechanisms=[{}]{}{}",
                clean(&f.sasl_mechanisms.join(" ")),
                if f.channel_binding.is_empty() {
                    String::new()
                } else {
                    format!(" channel-binding=[{}]", clean(&f.channel_binding.join(" ")))
                },
                if f.dialback { " dialback" } else { "" }
            );
        }
        for p in &ep.posture {
            let _ = writeln!(
                out,
                "      posture {:<21} {:<12} {}",
                clean(&p.offer),
                serde_plain(&p.outcome),
                clean(p.detail.as_deref().unwrap_or(""))
            );
        }
        if let Some(e) = &ep.post_tls_error {
            let _ = writeln!(out, "      after TLS: {}", clean(e));
        }
        if let Some(e) = &ep.error {
            let _ = writeln!(out, "      {} {}", self.paint("error:", "31"), clean(e));
        }
    }
}

/// Peer-controlled text must not drive the terminal or rearrange a line: escape sequences,
/// control, bidi and other invisible characters are shown as `\u{...}` ([`crate::text`]).
pub(crate) fn clean(s: &str) -> String {
    crate::text::neutralize(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn peer_text_cannot_drive_or_reorder_a_terminal_line() {
        let c = clean("a\u{1b}]0;x\u{7}b\u{202e}c\nd");
        for bad in ['\u{1b}', '\u{7}', '\u{202e}', '\n'] {
            assert!(!c.contains(bad), "{c:?}");
        }
        assert_eq!(clean("plain text"), "plain text");
    }
}
