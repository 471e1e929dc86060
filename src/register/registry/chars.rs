//! Where a refused character is written in the source of a TOML string.
//!
//! The span of a string value covers its source, delimiters and escapes included, so the n-th
//! character of the value is not the n-th character of the span. [`forbidden_in_source`] walks
//! the source as TOML decodes it, so that a refused character is reported at the character
//! itself, or at the escape (`\u200B`) that stands for it: the author is shown the very place
//! of a character they may not be able to see.

use std::iter::Peekable;

use crate::text::forbidden_char;

/// The offset, in `raw` (the source of one TOML string, delimiters included), of the first
/// character of the value that [`forbidden_char`] refuses, written as itself or escaped.
/// None when there is none, or when `raw` is not a string TOML would accept.
pub(super) fn forbidden_in_source(raw: &str) -> Option<usize> {
    let (delimiter, literal) = if raw.starts_with("\"\"\"") {
        (3, false)
    } else if raw.starts_with("'''") {
        (3, true)
    } else if raw.starts_with('"') {
        (1, false)
    } else if raw.starts_with('\'') {
        (1, true)
    } else {
        return None;
    };
    let body = raw.get(delimiter..raw.len().checked_sub(delimiter)?)?;
    // A newline right after the opening of a multi-line string is not part of the value.
    let skip = match delimiter {
        3 if body.starts_with("\r\n") => 2,
        3 if body.starts_with('\n') => 1,
        _ => 0,
    };
    let mut chars = body
        .get(skip..)?
        .char_indices()
        .map(|(i, c)| (delimiter + skip + i, c))
        .peekable();
    while let Some((at, c)) = chars.next() {
        let decoded = if c == '\\' && !literal {
            match escape(&mut chars)? {
                Some(decoded) => decoded,
                None => continue,
            }
        } else {
            c
        };
        if forbidden_char(decoded).is_some() {
            return Some(at);
        }
    }
    None
}

/// The character an escape stands for (the backslash read), or `Some(None)` for a
/// line-ending backslash (it stands for nothing); None when it is not a TOML escape.
fn escape(chars: &mut Peekable<impl Iterator<Item = (usize, char)>>) -> Option<Option<char>> {
    let (_, c) = chars.next()?;
    let digits = match c {
        'b' => return Some(Some('\u{8}')),
        't' => return Some(Some('\t')),
        'n' => return Some(Some('\n')),
        'f' => return Some(Some('\u{c}')),
        'r' => return Some(Some('\r')),
        'e' => return Some(Some('\u{1b}')),
        '"' | '\\' => return Some(Some(c)),
        'x' => 2,
        'u' => 4,
        'U' => 8,
        ' ' | '\t' | '\r' | '\n' => {
            // In a multi-line string: the whitespace and newlines that follow are trimmed.
            while chars
                .next_if(|&(_, c)| matches!(c, ' ' | '\t' | '\r' | '\n'))
                .is_some()
            {}
            return Some(None);
        }
        _ => return None,
    };
    let mut code = 0u32;
    for _ in 0..digits {
        let (_, d) = chars.next()?;
        code = code.checked_mul(16)?.checked_add(d.to_digit(16)?)?;
    }
    char::from_u32(code).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_character_or_its_escape() {
        assert_eq!(forbidden_in_source("\"plain\""), None);
        assert_eq!(forbidden_in_source("\"ab\u{200b}c\""), Some(3));
        assert_eq!(forbidden_in_source("'ab\u{200b}c'"), Some(3));
        assert_eq!(forbidden_in_source("\"a\\\"b\\u200Bc\""), Some(5));
        assert_eq!(
            forbidden_in_source("\"a\\\\u200B\""),
            None,
            "an escaped backslash"
        );
        assert_eq!(forbidden_in_source("\"é\\U000E0041\""), Some(3));
        assert_eq!(forbidden_in_source("\"a\\tb\""), Some(2));
        // A literal string has no escapes.
        assert_eq!(forbidden_in_source("'a\\tb'"), None);
        // Multi-line: the first newline is trimmed, a line-ending backslash stands for nothing.
        assert_eq!(forbidden_in_source("\"\"\"\nab\"\"\""), None);
        assert_eq!(forbidden_in_source("\"\"\"\na \\\n  b\"\"\""), None);
        assert_eq!(forbidden_in_source("\"\"\"\na\nb\"\"\""), Some(5));
        assert_eq!(forbidden_in_source("'''\r\na\u{2028}'''"), Some(6));
        assert_eq!(forbidden_in_source("1"), None);
    }
}
