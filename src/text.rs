//! Text from outside (PR files, DNS answers, server bytes) shown to people: what may be in it,
//! and how it is made inert for a terminal or a one-line log.
//!
//! Threat model: a signatory file is written by whoever opens a pull request. Its strings are
//! printed by `validate` in a maintainer's terminal and in GitHub annotations, rendered on the
//! page and in the bot's comment. Control characters (ESC sequences retitle a terminal or
//! forge output lines), line and paragraph separators, and invisible format characters (zero
//! width spaces, soft hyphens, byte-order marks, bidi controls, tag characters) let a name
//! look like something it is not. Text fields refuse them ([`forbidden_char`]); everything
//! printed is passed through [`neutralize`] first.

use std::borrow::Cow;
use std::fmt::Write as _;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a character may not appear in a text field, or None when it may.
pub fn forbidden_char(c: char) -> Option<&'static str> {
    if c == ' ' {
        return None;
    }
    match c.general_category() {
        GeneralCategory::Control => Some("a control character"),
        GeneralCategory::Format => Some("an invisible format character"),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
            Some("a line or paragraph separator")
        }
        GeneralCategory::SpaceSeparator => Some("a space other than U+0020"),
        GeneralCategory::PrivateUse => Some("a private-use character"),
        GeneralCategory::Surrogate | GeneralCategory::Unassigned => {
            Some("an unassigned code point")
        }
        _ => None,
    }
}

/// The first character of `s` that may not appear in a text field: (byte offset, char, why).
pub fn first_forbidden(s: &str) -> Option<(usize, char, &'static str)> {
    s.char_indices()
        .find_map(|(i, c)| forbidden_char(c).map(|why| (i, c, why)))
}

/// `s` with every character that [`forbidden_char`] refuses written as a visible `\u{…}`
/// escape (a backslash is doubled so that an escape cannot be forged), one line, inert in a
/// terminal. Borrowed when there is nothing to change.
pub fn neutralize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || forbidden_char(c).is_some()) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if forbidden_char(c).is_some() {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_controls_invisibles_and_separators() {
        for c in [
            '\u{1b}',
            '\n',
            '\r',
            '\t',
            '\u{7f}',
            '\u{85}',
            '\u{2028}',
            '\u{2029}',
            '\u{200b}',
            '\u{00ad}',
            '\u{feff}',
            '\u{e0041}',
            '\u{202e}',
            '\u{2066}',
            '\u{00a0}',
            '\u{3000}',
            '\u{e000}',
        ] {
            assert!(forbidden_char(c).is_some(), "{:04x}", u32::from(c));
        }
        for c in ['a', 'é', 'Ж', '中', ' ', '-', '\'', '&', '<'] {
            assert_eq!(forbidden_char(c), None, "{c}");
        }
    }

    #[test]
    fn neutralizes_for_terminals() {
        assert_eq!(neutralize("plain"), "plain");
        assert_eq!(
            neutralize("a\u{1b}]0;pwned\u{7}b\nc"),
            "a\\u{001b}]0;pwned\\u{0007}b\\u{000a}c"
        );
        assert_eq!(neutralize("x\\u{001b}"), "x\\\\u{001b}");
        assert_eq!(neutralize("zero\u{200b}width"), "zero\\u{200b}width");
    }
}
