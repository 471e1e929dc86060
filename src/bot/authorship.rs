//! Who may change a signatory file: a signature belongs to the person who made it.
//!
//! Threat model: anyone with a GitHub account can open a pull request, and the bot's "verified"
//! is what a maintainer relies on when merging. Without this rule, mallory's PR could change the
//! `website` of alice's entry (alice's domain-control record names alice, who is the file's
//! `github`), add `linus-torvalds.toml` with `github = "torvalds"`, or delete someone's
//! signature, and each would pass. So the only identity the bot trusts is the PR's author, as
//! GitHub reports it (`--author`, from the event, which the PR cannot forge), and a file's
//! contents only ever *name* a signer:
//!
//! - a file the PR adds must name the author as its `github`;
//! - a file it modifies, renames or deletes must name the author in its **base** version (the
//!   head version is the PR's to write, so it proves nothing), and, unless deleted, still name
//!   the author at head (handing an entry to another login is a maintainer's call);
//! - an entry without a login (the 2014 imports) belongs to nobody the bot can identify.
//!
//! Anything else is never "verified": it needs the signer's confirmation on the PR, or a
//! maintainer's review. Logins compare case-insensitively (GitHub logins are). The base version
//! is the base branch's tip, not the fork point: a PR forked before an entry changed hands must
//! not inherit the old owner.

use crate::bot::model::{Authorship, AuthorshipOutcome, ChangeKind};
use crate::register::registry::{MAX_FILE_BYTES, is_github_login};

/// What one side (base or head) of a changed file says about its signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signer {
    /// No such file on that side.
    Absent,
    /// The file names no valid GitHub login (a 2014 import, or a file that does not parse).
    Unnamed,
    /// The file's `github` login.
    Login(String),
}

impl Signer {
    /// The signer a signatory file's bytes name. Only the top-level `github` key is read, so
    /// this works on a base version that no longer meets today's rules; oversized or
    /// unparsable files name nobody.
    pub(crate) fn of_file(bytes: &[u8]) -> Signer {
        if bytes.len() > MAX_FILE_BYTES {
            return Signer::Unnamed;
        }
        let table = std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| toml::from_str::<toml::Table>(text).ok());
        match table
            .as_ref()
            .and_then(|t| t.get("github"))
            .and_then(|v| v.as_str())
        {
            // Only a valid login: it is quoted in the comment as our own text.
            Some(login) if is_github_login(login) => Signer::Login(login.to_owned()),
            _ => Signer::Unnamed,
        }
    }
}

/// GitHub logins are case-insensitive.
pub(crate) fn same_login(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Whether the PR's `author` may make this change to a file whose base version names `base`
/// and whose head version names `head`. `author` must be a valid login when given.
pub(crate) fn judge(
    kind: ChangeKind,
    base: &Signer,
    head: &Signer,
    author: Option<&str>,
) -> Authorship {
    let Some(author) = author else {
        return no_author();
    };
    // An addition over a file the base branch has (added there since the PR forked) is a
    // change to that entry, so the base's signer counts for every kind when there is one.
    let mut base_owner = None;
    if kind != ChangeKind::Added || *base != Signer::Absent {
        match base {
            Signer::Login(owner) if same_login(owner, author) => base_owner = Some(owner),
            Signer::Login(owner) => return others_entry(owner, author),
            Signer::Unnamed => return unclaimed_entry(),
            Signer::Absent => return not_in_base(),
        }
    }
    if kind == ChangeKind::Deleted {
        // Always set here: a deletion went through the base check above.
        return own(base_owner.map_or(author, String::as_str), kind);
    }
    match head {
        Signer::Login(claimed) if same_login(claimed, author) => own(claimed, kind),
        Signer::Login(claimed) => claims_other(claimed, author, kind),
        Signer::Unnamed | Signer::Absent => claims_none(author),
    }
}

const WHY: &str = "A signature belongs to the person who made it";

fn own(login: &str, kind: ChangeKind) -> Authorship {
    let summary = if kind == ChangeKind::Deleted {
        format!(
            "The entry of github = {login}, who opened this pull request: a signer may withdraw \
             their signature."
        )
    } else {
        format!("The entry of github = {login}, who opened this pull request.")
    };
    Authorship {
        outcome: AuthorshipOutcome::Own,
        owner: Some(login.to_owned()),
        summary,
    }
}

fn no_author() -> Authorship {
    Authorship {
        outcome: AuthorshipOutcome::NoAuthor,
        owner: None,
        summary: "The pull request's author is not known (the review ran without --author), so \
                  the bot cannot tell whose entry this is: nothing is verified."
            .into(),
    }
}

fn others_entry(owner: &str, author: &str) -> Authorship {
    Authorship {
        outcome: AuthorshipOutcome::OthersEntry,
        owner: Some(owner.to_owned()),
        summary: format!(
            "This is the entry of github = {owner}, not of the pull request's author ({author}). \
             {WHY}, so this change needs {owner}'s confirmation on this pull request, or a \
             maintainer's review."
        ),
    }
}

fn unclaimed_entry() -> Authorship {
    Authorship {
        outcome: AuthorshipOutcome::UnclaimedEntry,
        owner: None,
        summary: format!(
            "This entry names no GitHub login (signatures imported from the 2014 manifesto do \
             not), so nobody can show it is theirs. {WHY}: this change needs a maintainer's \
             confirmation."
        ),
    }
}

fn not_in_base() -> Authorship {
    Authorship {
        outcome: AuthorshipOutcome::NotInBase,
        owner: None,
        summary: format!(
            "This file is not in the base branch's register any more, so the bot cannot tell \
             whose entry it was. {WHY}: update the pull request from the base branch, or a \
             maintainer must confirm the change."
        ),
    }
}

fn claims_other(claimed: &str, author: &str, kind: ChangeKind) -> Authorship {
    let what = if kind == ChangeKind::Added {
        format!(
            "{WHY}: {claimed} must open the pull request, or confirm it here for a maintainer. \
             If this is your own signature, set github = \"{author}\"."
        )
    } else {
        format!(
            "{WHY}: handing an entry to another login needs {claimed}'s confirmation on this \
             pull request, or a maintainer's review."
        )
    };
    Authorship {
        outcome: AuthorshipOutcome::ClaimsOther,
        owner: Some(claimed.to_owned()),
        summary: format!(
            "This file names github = {claimed}, but the pull request is by {author}. {what}"
        ),
    }
}

fn claims_none(author: &str) -> Authorship {
    Authorship {
        outcome: AuthorshipOutcome::ClaimsNone,
        owner: None,
        summary: format!(
            "This file names no valid GitHub login, so it cannot be shown to be {author}'s. \
             {WHY}: add github = \"{author}\" (your login), or a maintainer must confirm it."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthorshipOutcome::*;
    use ChangeKind::*;

    fn login(l: &str) -> Signer {
        Signer::Login(l.into())
    }

    /// (change kind, base signer, head signer, author) -> outcome, and whose entry it names.
    type Case = (
        ChangeKind,
        Signer,
        Signer,
        Option<&'static str>,
        AuthorshipOutcome,
        Option<&'static str>,
    );

    #[test]
    fn the_rule() {
        let (a, n, none) = (Signer::Absent, Signer::Unnamed, None::<&str>);
        #[rustfmt::skip]
        let table: Vec<Case> = vec![
            // Adding one's own entry; logins are case-insensitive.
            (Added, a.clone(), login("alice"), Some("alice"), Own, Some("alice")),
            (Added, a.clone(), login("Alice"), Some("aLICE"), Own, Some("Alice")),
            // Adding a file that names someone else, or nobody.
            (Added, a.clone(), login("torvalds"), Some("mallory"), ClaimsOther, Some("torvalds")),
            (Added, a.clone(), n.clone(), Some("mallory"), ClaimsNone, None),
            // Adding over a file the base branch has: that entry's signer decides.
            (Added, login("alice"), login("mallory"), Some("mallory"), OthersEntry, Some("alice")),
            (Added, login("alice"), login("alice"), Some("alice"), Own, Some("alice")),
            // Modifying: the base version's signer decides; the head must still name the author.
            (Modified, login("alice"), login("alice"), Some("alice"), Own, Some("alice")),
            (Modified, login("ALICE"), login("alice"), Some("Alice"), Own, Some("alice")),
            (Modified, login("alice"), login("alice"), Some("mallory"), OthersEntry, Some("alice")),
            (Modified, login("alice"), login("mallory"), Some("mallory"), OthersEntry, Some("alice")),
            (Modified, login("alice"), login("bob"), Some("alice"), ClaimsOther, Some("bob")),
            (Modified, login("alice"), n.clone(), Some("alice"), ClaimsNone, None),
            // A 2014 import (no login) is nobody's to claim.
            (Modified, n.clone(), login("mallory"), Some("mallory"), UnclaimedEntry, None),
            (Modified, a.clone(), login("mallory"), Some("mallory"), NotInBase, None),
            // Renaming and deleting: the same, from the base version.
            (Renamed, login("john"), login("john"), Some("john"), Own, Some("john")),
            (Renamed, login("john"), login("john"), Some("mallory"), OthersEntry, Some("john")),
            (Renamed, n.clone(), login("mallory"), Some("mallory"), UnclaimedEntry, None),
            (Deleted, login("jane"), a.clone(), Some("JANE"), Own, Some("jane")),
            (Deleted, login("jane"), a.clone(), Some("mallory"), OthersEntry, Some("jane")),
            (Deleted, n.clone(), a.clone(), Some("mallory"), UnclaimedEntry, None),
            // No author: nothing can be verified, whatever the files say.
            (Added, a.clone(), login("alice"), none, NoAuthor, None),
            (Modified, login("alice"), login("alice"), none, NoAuthor, None),
            (Deleted, login("alice"), a.clone(), none, NoAuthor, None),
        ];
        for (kind, base, head, author, outcome, owner) in table {
            let got = judge(kind, &base, &head, author);
            let case = format!("{kind:?} {base:?} -> {head:?} by {author:?}");
            assert_eq!(got.outcome, outcome, "{case}: {}", got.summary);
            assert_eq!(got.owner.as_deref(), owner, "{case}");
            assert_eq!(got.is_own(), outcome == Own, "{case}");
        }
    }

    #[test]
    fn summaries_say_whose_and_why() {
        let s = judge(Modified, &login("alice"), &login("alice"), Some("mallory")).summary;
        assert!(s.contains("needs alice's confirmation on this pull request, or a maintainer's"));
        assert!(s.contains(WHY));
        let s = judge(Added, &Signer::Absent, &login("torvalds"), Some("mallory")).summary;
        assert!(s.contains("names github = torvalds, but the pull request is by mallory"));
        assert!(s.contains("set github = \"mallory\""));
        let s = judge(Modified, &Signer::Unnamed, &login("m"), Some("m")).summary;
        assert!(
            s.contains("2014") && s.contains("maintainer's confirmation"),
            "{s}"
        );
        let s = judge(Added, &Signer::Absent, &login("a"), None).summary;
        assert!(s.contains("without --author"), "{s}");
    }

    #[test]
    fn signer_of_a_file() {
        let file = |s: &str| Signer::of_file(s.as_bytes());
        assert_eq!(file("name = \"A\"\ngithub = \"Alice\"\n"), login("Alice"));
        assert_eq!(file("name = \"A\"\nsource = \"2014\"\n"), Signer::Unnamed);
        assert_eq!(file("github = \"not a login\"\n"), Signer::Unnamed);
        assert_eq!(file("github = 42\n"), Signer::Unnamed);
        assert_eq!(
            file("github = \"alice\"\ngithub = \"bob\"\n"),
            Signer::Unnamed
        );
        assert_eq!(file("[x]\ngithub = \"alice\"\n"), Signer::Unnamed);
        assert_eq!(file("not toml ["), Signer::Unnamed);
        assert_eq!(Signer::of_file(&[0xff, 0xfe]), Signer::Unnamed);
        let big = format!("github = \"alice\"\n#{}\n", "x".repeat(MAX_FILE_BYTES));
        assert_eq!(file(&big), Signer::Unnamed);
    }
}
