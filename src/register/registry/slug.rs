//! File names: the slug a signatory file must be named after. An operator's file is named after
//! its first domain, a developer's after the [`name_slug`] of the name (`-2`, `-3`... when two
//! people share a name), so that the file name is never a choice to review.

use super::MAX_SLUG;
use crate::domain::normalize_public;

/// `[a-z0-9]+(-[a-z0-9]+)*`, at most [`MAX_SLUG`] characters.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SLUG
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

pub(super) fn is_domain_slug(s: &str) -> bool {
    normalize_public(s).is_ok_and(|d| d == s)
}

pub(super) fn developer_slug_matches(expected: &str, found: &str) -> bool {
    if expected.is_empty() {
        // A name with no Latin letters: any valid slug.
        return is_slug(found);
    }
    if found == expected {
        return true;
    }
    // Two people of the same name: `jane-doe-2`, `jane-doe-3`...
    found
        .strip_prefix(expected)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n >= 2) && !n.starts_with('0'))
}

/// The slug of a person's or organisation's name: Latin letters folded to ASCII, lower case,
/// every other run of characters a single hyphen. "Valérian Saliou" gives `valerian-saliou`,
/// "Mike Taylor (bear)" `mike-taylor-bear`. Empty for names without Latin letters or digits.
pub fn name_slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_dash = false;
    for c in name.chars() {
        let folded = fold_latin(c);
        if folded.is_empty() {
            pending_dash = true;
            continue;
        }
        if pending_dash && !out.is_empty() {
            out.push('-');
        }
        pending_dash = false;
        out.push_str(folded);
    }
    out.truncate(MAX_SLUG);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// ASCII folding of Latin letters (lower case); "" for anything else.
fn fold_latin(c: char) -> &'static str {
    const ASCII: [&str; 36] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f", "g", "h",
        "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
    ];
    if c.is_ascii_alphanumeric() {
        let l = c.to_ascii_lowercase();
        let i = if l.is_ascii_digit() {
            l as usize - '0' as usize
        } else {
            10 + l as usize - 'a' as usize
        };
        return ASCII[i];
    }
    let lower = c.to_lowercase().next().unwrap_or(c);
    match lower {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(name_slug("Valérian Saliou"), "valerian-saliou");
        assert_eq!(name_slug("Mike Taylor (bear)"), "mike-taylor-bear");
        assert_eq!(
            name_slug("Rafał bluszcz Zawadzki"),
            "rafal-bluszcz-zawadzki"
        );
        assert_eq!(name_slug("Holger Weiß"), "holger-weiss");
        assert_eq!(name_slug("Адам"), "");
        assert!(developer_slug_matches("jane-doe", "jane-doe-2"));
        assert!(!developer_slug_matches("jane-doe", "jane-doe-1"));
        assert!(!developer_slug_matches("jane-doe", "jane-doe-x"));
    }
}
