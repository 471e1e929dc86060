//! Domain names: the one rule for normalising an XMPP domain (RFC 6120 §2.2, RFC 5890 IDNA
//! A-labels) and for judging whether it can be a public service.
//!
//! Every name arrives from outside (a command line, a PR's file, a DNS answer), so it is
//! normalised before it is used as a key, compared, looked up or shown:
//! - [`normalize`]: the lower-case A-label form of any syntactically valid host name; an IP
//!   literal is refused. This is what `check` and `sweep` accept (a test may check
//!   `example.test` on loopback).
//! - [`normalize_public`]: [`normalize`] plus the register's rules: no trailing dot (the file
//!   holds the canonical form), at least two labels, no numeric top-level label, no special-use
//!   name (RFC 6761, RFC 6762, RFC 7686, RFC 8375...). What `validate`, `review` and `site`
//!   accept.

/// The longest domain name in its presentation form (RFC 1035 §2.3.4).
pub const MAX_DOMAIN: usize = 253;

/// Special-use and non-public names, as suffixes.
const SPECIAL_USE: [&str; 12] = [
    "localhost",
    "local",
    "invalid",
    "test",
    "example",
    "onion",
    "internal",
    "arpa",
    "lan",
    "example.com",
    "example.net",
    "example.org",
];

/// Why a name was refused, in words for the person who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DomainError(pub String);

fn bad(why: impl Into<String>) -> DomainError {
    DomainError(why.into())
}

/// The lower-case A-label form of a host name (one trailing dot allowed); no IP literals.
pub fn normalize(input: &str) -> Result<String, DomainError> {
    let trimmed = input.trim();
    syntax(trimmed.strip_suffix('.').unwrap_or(trimmed))
}

/// [`normalize`] with the register's rules: a name that can be a public XMPP service, written
/// in its canonical form (no trailing dot).
pub fn normalize_public(input: &str) -> Result<String, DomainError> {
    let trimmed = input.trim();
    if trimmed.ends_with('.') && !trimmed.ends_with("..") {
        return Err(bad("remove the trailing dot"));
    }
    let ascii = syntax(trimmed)?;
    judge_public(&ascii)?;
    Ok(ascii)
}

fn syntax(trimmed: &str) -> Result<String, DomainError> {
    if trimmed.is_empty() {
        return Err(bad("empty"));
    }
    if trimmed.contains("://") || trimmed.contains('/') || trimmed.contains('@') {
        return Err(bad("write the domain alone, without scheme, user or path"));
    }
    let bare = trimmed.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() || trimmed.starts_with('[') {
        return Err(bad("an IP address is not a domain"));
    }
    let ascii = idna::domain_to_ascii_strict(trimmed)
        .map_err(|_| bad("not a valid internationalised domain name"))?
        .to_ascii_lowercase();
    if ascii.len() > MAX_DOMAIN {
        return Err(bad(format!("longer than {MAX_DOMAIN} characters")));
    }
    for label in ascii.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("each label holds 1 to 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(bad(format!(
                "label {label:?} is not a valid host name label"
            )));
        }
    }
    Ok(ascii)
}

/// Whether a normalised name can be a public service: two labels or more, a non-numeric
/// top-level label, not special-use.
pub fn judge_public(ascii: &str) -> Result<(), DomainError> {
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("a single label is not a public domain"));
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("the top-level label is numeric (an IP address?)"));
    }
    for special in SPECIAL_USE {
        if ascii == special || ascii.ends_with(&format!(".{special}")) {
            return Err(bad(format!(
                "`.{special}` names are special-use, not public"
            )));
        }
    }
    Ok(())
}

/// The Unicode form of an A-label domain, whatever it looks like (the A-label itself when not
/// IDNA). For showing a name to people use [`display`].
pub fn to_unicode(domain: &str) -> String {
    let (unicode, result) = idna::domain_to_unicode(domain);
    if result.is_ok() {
        unicode
    } else {
        domain.to_owned()
    }
}

/// How a domain is shown to people: its Unicode form only when every label passes a UTS #39
/// style check ([`label_is_safe`]), else the A-label (`xn--…`) form, so that a look-alike such
/// as `xn--jbber-4ve.org` (with a Cyrillic а) is never shown as "jаbber.org".
pub fn display(domain: &str) -> String {
    let unicode = to_unicode(domain);
    if unicode.split('.').all(label_is_safe) {
        unicode
    } else {
        domain.to_owned()
    }
}

/// A label that can be shown in Unicode: ASCII, or single-script at UTS #39's "highly
/// restrictive" level with only identifier characters, and not confusable with an ASCII label
/// (its confusable skeleton is not all ASCII: `раураl` in Cyrillic is not shown as such).
pub fn label_is_safe(label: &str) -> bool {
    use unicode_security::confusable_detection::skeleton;
    use unicode_security::{RestrictionLevel, RestrictionLevelDetection as _};
    if label.is_ascii() {
        return true;
    }
    label.check_restriction_level(RestrictionLevel::HighlyRestrictive)
        && !skeleton(label).all(|c| c.is_ascii())
}

/// The labels of a normalised domain whose Unicode form mixes scripts (UTS #39 mixed-script
/// detection), for `validate` to flag.
pub fn mixed_script_labels(domain: &str) -> Vec<String> {
    use unicode_security::MixedScript as _;
    to_unicode(domain)
        .split('.')
        .filter(|l| !l.is_ascii() && !l.is_single_script())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_for_checks() {
        assert_eq!(normalize("Example.ORG.").unwrap(), "example.org");
        assert_eq!(
            normalize("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(normalize("localhost").unwrap(), "localhost");
        for bad in [
            "1.2.3.4",
            "[::1]",
            "",
            "a..b",
            "exa mple.org",
            "-a.org",
            "a/b.org",
        ] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn judges_public_names() {
        assert_eq!(normalize_public("Jabber.ORG").as_deref(), Ok("jabber.org"));
        assert_eq!(
            normalize_public("bücher.de").as_deref(),
            Ok("xn--bcher-kva.de")
        );
        for bad in [
            "jabber.org.",
            "localhost",
            "example.com",
            "xmpp.test",
            "x.onion",
            "1.2.3.4",
            "single",
            "a.123",
        ] {
            assert!(normalize_public(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shows_unicode_only_when_it_cannot_deceive() {
        assert_eq!(display("xn--bcher-kva.de"), "bücher.de");
        assert_eq!(display("jabber.org"), "jabber.org");
        // Cyrillic а inside a Latin label: mixed script.
        let lookalike = normalize_public("jаbber.org").unwrap();
        assert_eq!(lookalike, "xn--jbber-4ve.org");
        assert_eq!(display(&lookalike), "xn--jbber-4ve.org");
        assert_eq!(mixed_script_labels(&lookalike), vec!["jаbber".to_owned()]);
        // Whole-script Cyrillic that reads as Latin "paypal".
        let whole = normalize_public("раураl.com").unwrap_or_default();
        if !whole.is_empty() {
            assert_eq!(display(&whole), whole);
        }
        let cyr = normalize_public("раура.рф").unwrap();
        assert_eq!(
            display(&cyr),
            cyr,
            "all-Cyrillic look-alike of ASCII 'paypa'"
        );
        // Genuine single-script names are shown.
        let ru = normalize_public("пример.рф").unwrap();
        assert_eq!(display(&ru), "пример.рф");
        let ja = normalize_public("日本語.jp").unwrap();
        assert_eq!(display(&ja), "日本語.jp");
        assert!(mixed_script_labels(&ru).is_empty());
    }
}
