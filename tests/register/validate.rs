//! `manifesto validate`: the imported register passes; each broken file is rejected with the
//! right file:line:column and a hint.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use time::macros::date;
use xmpp_manifesto::register::registry::{
    Problem, RegistryError, Role, ValidateFormat, render_validation, validate_paths,
};

pub(crate) const TODAY: time::Date = date!(2025 - 06 - 15);

pub(crate) const GOOD_OPERATOR: &str = r#"name = "Jane Doe"
role = "operator"
domains = ["chat.jane.net", "jane.net"]
statement = "Operator of chat.jane.net"
signed = 2024-05-01
github = "janedoe"
website = "https://jane.net/"
contact = "xmpp:admin@jane.net"
"#;

pub(crate) fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

pub(crate) fn errors_of(files: &[(&str, &str)]) -> (tempfile::TempDir, Vec<RegistryError>) {
    let dir = dir_with(files);
    let v = validate_paths(&[dir.path().to_path_buf()], TODAY);
    let errors = v.errors.clone();
    (dir, errors)
}

/// Exactly one error, in `file` at `line`; returns it.
pub(crate) fn single_error(files: &[(&str, &str)], file: &str, line: usize) -> RegistryError {
    let (_dir, errors) = errors_of(files);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    let e = errors.into_iter().next().expect("one error");
    assert_eq!(
        e.file.file_name().and_then(|n| n.to_str()),
        Some(file),
        "{e}"
    );
    assert_eq!(e.line, line, "{e}");
    assert!(!e.hint().is_empty());
    // The human form starts with file:line:column.
    let human = e.to_human();
    assert!(
        human.contains(&format!("{file}:{line}:{}: error: ", e.column)),
        "{human}"
    );
    assert!(human.contains("\n  hint: "), "{human}");
    e
}

pub(crate) fn replace(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1)
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn imported_registry_passes() {
    let v = validate_paths(&[repo_root().join("signatories")], TODAY);
    assert!(
        v.errors.is_empty(),
        "{}",
        render_validation(&v, ValidateFormat::Human)
    );
    let r = &v.registry;
    assert_eq!(r.signatories.len(), 75);
    assert!(r.signatories.iter().all(|s| s.is_imported()));
    assert!(
        r.signatories
            .iter()
            .all(|s| s.signed == date!(2014 - 03 - 26))
    );
    let operators = r
        .signatories
        .iter()
        .filter(|s| s.role == Role::Operator)
        .count();
    assert_eq!(operators, 41);
    assert_eq!(r.domain_count(), 45);
    let owner = r.owner_of("jabber.org").expect("jabber.org is listed");
    assert_eq!(owner.name, "Peter Saint-Andre");
    assert_eq!(owner.slug, "jabber.org");
    let tobias = r.owner_of("tbspace.de").expect("tbspace.de is listed");
    assert_eq!(tobias.slug, "twentypercentcooler.de");
}

#[test]
fn good_file_passes() {
    let (_dir, errors) = errors_of(&[("chat.jane.net.toml", GOOD_OPERATOR)]);
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn unknown_key() {
    let text = format!("{GOOD_OPERATOR}domain = \"x.org\"\n");
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 9);
    assert_eq!(e.column, 1);
    assert!(matches!(
        &e.problem,
        Problem::UnknownKey { key, suggestion: Some("domains") } if key == "domain"
    ));
}

#[test]
fn bad_domains() {
    for (bad, line_text) in [
        ("localhost", "localhost"),
        ("192.0.2.7", "192.0.2.7"),
        ("jabber", "jabber"),
        ("chat.example", "chat.example"),
        ("x.local", "x.local"),
        ("a..b.org", "a..b.org"),
        ("under_score.org", "under_score.org"),
    ] {
        let text = replace(GOOD_OPERATOR, "\"jane.net\"]", &format!("\"{line_text}\"]"));
        let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 3);
        assert_eq!(e.column, 29, "{e}");
        assert!(
            matches!(&e.problem, Problem::BadDomain { domain, .. } if domain == bad),
            "{e}"
        );
    }
}

#[test]
fn domain_not_normalised() {
    let text = replace(GOOD_OPERATOR, "\"jane.net\"]", "\"Bücher.DE\"]");
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 3);
    assert!(
        matches!(&e.problem, Problem::NotNormalized { normal, .. } if normal == "xn--bcher-kva.de")
    );
    assert!(e.hint().contains("xn--bcher-kva.de"));
}

#[test]
fn duplicate_domain_across_files() {
    let other = r#"name = "Joe Bloggs"
role = "operator"
domains = ["joe.org", "jane.net"]
statement = "Operator of joe.org"
signed = 2024-06-01
github = "joebloggs"
"#;
    let e = single_error(
        &[
            ("chat.jane.net.toml", GOOD_OPERATOR),
            ("joe.org.toml", other),
        ],
        "joe.org.toml",
        3,
    );
    assert_eq!(e.column, 23);
    assert!(
        matches!(&e.problem, Problem::DuplicateDomain { domain, other } if domain == "jane.net" && other.contains("chat.jane.net.toml")),
        "{e}"
    );
    // The earlier signature keeps the domain even when its file sorts later.
    let earlier = replace(other, "2024-06-01", "2024-01-01");
    let e = single_error(
        &[
            ("chat.jane.net.toml", GOOD_OPERATOR),
            ("joe.org.toml", &earlier),
        ],
        "chat.jane.net.toml",
        3,
    );
    assert!(matches!(&e.problem, Problem::DuplicateDomain { .. }));
}

#[test]
fn duplicate_domain_in_one_file() {
    let text = replace(GOOD_OPERATOR, "\"jane.net\"]", "\"chat.jane.net\"]");
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 3);
    assert!(matches!(&e.problem, Problem::DuplicateDomain { .. }));
}

#[test]
fn future_date() {
    let text = replace(GOOD_OPERATOR, "2024-05-01", "2025-06-17");
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 5);
    assert_eq!(e.column, 10);
    assert!(matches!(e.problem, Problem::FutureDate(_)));
    // One day of grace for time zones east of UTC.
    let tomorrow = replace(GOOD_OPERATOR, "2024-05-01", "2025-06-16");
    assert!(errors_of(&[("chat.jane.net.toml", &tomorrow)]).1.is_empty());
}

#[test]
fn quoted_date() {
    let text = replace(GOOD_OPERATOR, "2024-05-01", "\"2024-05-01\"");
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 5);
    assert!(matches!(e.problem, Problem::WrongType { .. }));
    assert!(e.hint().contains("without quotes"));
}

#[test]
fn wrong_slug() {
    let e = single_error(&[("jane.net.toml", GOOD_OPERATOR)], "jane.net.toml", 3);
    assert!(
        matches!(&e.problem, Problem::WrongSlug { expected, .. } if expected == "chat.jane.net")
    );
    assert!(e.hint().contains("signatories/chat.jane.net.toml"));

    let dev = r#"name = "Valérian Saliou"
role = "developer"
statement = "Jappix"
signed = 2024-05-01
github = "valeriansaliou"
"#;
    let e = single_error(&[("valerian.toml", dev)], "valerian.toml", 1);
    assert!(
        matches!(&e.problem, Problem::WrongSlug { expected, .. } if expected == "valerian-saliou")
    );
    assert!(errors_of(&[("valerian-saliou.toml", dev)]).1.is_empty());
    assert!(errors_of(&[("valerian-saliou-2.toml", dev)]).1.is_empty());
}

#[test]
fn oversized_fields() {
    let long = "x".repeat(281);
    let text = replace(
        GOOD_OPERATOR,
        "\"Operator of chat.jane.net\"",
        &format!("\"{long}\""),
    );
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 4);
    assert_eq!(e.column, 13);
    assert!(
        matches!(&e.problem, Problem::TooLong { key, len: 281, max: 280 } if key == "statement")
    );

    let huge = format!("{GOOD_OPERATOR}# {}\n", "y".repeat(20_000));
    let e = single_error(&[("chat.jane.net.toml", &huge)], "chat.jane.net.toml", 1);
    assert!(matches!(e.problem, Problem::FileTooLarge { .. }));
}

#[test]
fn non_https_website() {
    for bad in ["http://jane.net/", "javascript:alert(1)", "jane.net"] {
        let text = replace(GOOD_OPERATOR, "https://jane.net/", bad);
        let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 7);
        assert!(matches!(e.problem, Problem::NotHttps(_)), "{e}");
    }
    let text = replace(
        GOOD_OPERATOR,
        "https://jane.net/",
        "https://jane.net/\\\"onmouseover=x",
    );
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 7);
    assert!(matches!(e.problem, Problem::BadUrl { .. }), "{e}");
}

#[test]
fn other_rules() {
    // Missing github on a new signature.
    let text = replace(GOOD_OPERATOR, "github = \"janedoe\"\n", "");
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 1);
    assert_eq!(e.problem, Problem::MissingGithub);
    // `source` on a new signature.
    let text = format!("{GOOD_OPERATOR}source = \"me\"\n");
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 9);
    assert_eq!(e.problem, Problem::SourceNotAllowed);
    // A line break in the name.
    let text = replace(GOOD_OPERATOR, "\"Jane Doe\"", "\"Jane\\nDoe\"");
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 1);
    assert!(matches!(
        e.problem,
        Problem::ForbiddenCharacter { ch: '\n', .. }
    ));
    assert_eq!(e.column, 13, "at the escape: {e}");
    // Bad role, bad contact, bad github login.
    let text = replace(GOOD_OPERATOR, "\"operator\"", "\"admin\"");
    let (_d, errors) = errors_of(&[("chat.jane.net.toml", &text)]);
    assert!(
        matches!(errors[0].problem, Problem::BadRole(_)),
        "{errors:#?}"
    );
    let text = replace(GOOD_OPERATOR, "xmpp:admin@jane.net", "https://jane.net");
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 8);
    assert!(matches!(e.problem, Problem::BadContact(_)));
    let text = replace(GOOD_OPERATOR, "\"janedoe\"", "\"@janedoe\"");
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 6);
    assert!(matches!(e.problem, Problem::BadGithub(_)));
    // A developer with domains.
    let text = replace(GOOD_OPERATOR, "\"operator\"", "\"developer\"");
    let (_d, errors) = errors_of(&[("chat.jane.net.toml", &text)]);
    assert!(
        errors
            .iter()
            .any(|e| e.problem == Problem::DeveloperWithDomains && e.line == 3),
        "{errors:#?}"
    );
    // A syntax error points at its place.
    let text = replace(GOOD_OPERATOR, "\"Jane Doe\"", "Jane Doe");
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 1);
    assert!(matches!(e.problem, Problem::Syntax(_)));
}

#[test]
fn every_error_of_a_file_is_reported() {
    let text = r#"name = ""
role = "operator"
domains = ["localhost"]
statement = "x"
signed = 2099-01-01
website = "http://x.org"
colour = "blue"
"#;
    let (_dir, errors) = errors_of(&[("localhost.toml", text)]);
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![1, 1, 3, 5, 6, 7], "{errors:#?}");
}

pub(crate) fn manifesto() -> Command {
    Command::cargo_bin("manifesto").expect("binary")
}

fn write_bad(dir: &Path) {
    let text = format!("{GOOD_OPERATOR}\"colour%\" = \"blue\"\n");
    std::fs::write(dir.join("chat.jane.net.toml"), text).expect("write");
    let dev = replace(GOOD_OPERATOR, "\"operator\"", "\"developer\"");
    let dev = replace(&dev, "domains = [\"chat.jane.net\", \"jane.net\"]\n", "");
    std::fs::write(dir.join("weird,name:x.toml"), dev).expect("write");
}

#[test]
fn cli_exit_codes_and_formats() {
    let dir = dir_with(&[("chat.jane.net.toml", GOOD_OPERATOR)]);
    manifesto().arg("validate").arg(dir.path()).assert().code(0);
    manifesto()
        .arg("validate")
        .arg("--format")
        .arg("nonsense")
        .assert()
        .code(2);

    let bad = tempfile::tempdir().expect("tempdir");
    write_bad(bad.path());
    let out = manifesto()
        .arg("validate")
        .arg(bad.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).expect("utf-8");
    assert!(
        out.contains("chat.jane.net.toml:9:1: error: unknown key `colour%`"),
        "{out}"
    );

    let out = manifesto()
        .args(["validate", "--format", "github"])
        .arg(bad.path())
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).expect("utf-8");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("::error ")).collect();
    // The unknown key and the bad file name.
    assert_eq!(lines.len(), 2, "{out}");
    assert!(out.contains("unknown key `colour%25`"), "{out}");
    for l in &lines {
        let props = &l["::error ".len()..l[2..].find("::").map_or(l.len(), |i| i + 2)];
        // Properties are escaped: no raw `:` or `,` inside a value.
        for prop in props.split(',') {
            let (k, v) = prop.split_once('=').expect("key=value");
            assert!(["file", "line", "col", "title"].contains(&k), "{l}");
            assert!(!v.contains(':') && !v.contains(','), "{l}");
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("weird%2Cname%3Ax.toml,line=1,col=1")),
        "{out}"
    );
}

#[test]
fn a_single_file_is_checked_against_its_directory() {
    let other = r#"name = "Joe Bloggs"
role = "operator"
domains = ["jane.net"]
statement = "Operator of jane.net"
signed = 2023-01-01
github = "joebloggs"
"#;
    // jane.net.toml is older and already owns jane.net; checking only the new file finds it.
    let dir = dir_with(&[
        ("chat.jane.net.toml", GOOD_OPERATOR),
        ("jane.net.toml", other),
    ]);
    let v = validate_paths(&[dir.path().join("chat.jane.net.toml")], TODAY);
    assert_eq!(v.files, 1);
    assert_eq!(v.errors.len(), 1, "{:#?}", v.errors);
    assert!(v.errors[0].file.ends_with("chat.jane.net.toml"));
    assert!(matches!(
        v.errors[0].problem,
        Problem::DuplicateDomain { .. }
    ));
    // A broken sibling is not reported when checking another file.
    std::fs::write(dir.path().join("broken.toml"), "name = 1\n").expect("write");
    let v = validate_paths(&[dir.path().join("chat.jane.net.toml")], TODAY);
    assert_eq!(v.errors.len(), 1, "{:#?}", v.errors);
    assert!(v.errors[0].file.ends_with("chat.jane.net.toml"));
}
