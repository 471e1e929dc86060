//! Signatory files written to deceive (issue 13): links and directories among the files,
//! escape sequences and invisible characters in the text, look-alike domains, huge files.
//! Every attack here got through before the register was hardened against it, and every test
//! failed then, but the quick in-process huge-file one (that file was read whole, slowly).

use std::path::Path;
use std::time::{Duration, Instant};

use xmpp_manifesto::register::registry::{RegistryError, validate_paths};

use super::validate::{
    GOOD_OPERATOR, TODAY, dir_with, errors_of, manifesto, replace, single_error,
};

fn errors_in(path: &Path) -> Vec<RegistryError> {
    validate_paths(&[path.to_path_buf()], TODAY).errors
}

/// The error about the entry `name` is at 1:1, says `what`, and has a hint.
fn entry_error(errors: &[RegistryError], name: &str, what: &str) {
    let e = errors
        .iter()
        .find(|e| e.file.file_name().and_then(|n| n.to_str()) == Some(name))
        .unwrap_or_else(|| panic!("no error about {name}: {errors:#?}"));
    assert_eq!((e.line, e.column), (1, 1), "{e}");
    assert!(e.to_string().contains(what), "{e}");
    assert!(!e.hint().is_empty(), "{e}");
}

#[cfg(unix)]
#[test]
fn links_and_directories_among_the_files_are_errors() {
    use std::os::unix::fs::symlink;
    let outside = dir_with(&[("x.toml", GOOD_OPERATOR)]);
    let dir = dir_with(&[]);
    let d = dir.path();
    // A link to a valid file elsewhere was read through the link; a link to a directory, a
    // dangling link and a directory were skipped without a word.
    symlink(outside.path().join("x.toml"), d.join("chat.jane.net.toml")).expect("symlink");
    symlink(outside.path(), d.join("folder-link.toml")).expect("symlink");
    symlink(d.join("nowhere"), d.join("dangling.toml")).expect("symlink");
    std::fs::create_dir(d.join("folder.toml")).expect("mkdir");
    std::fs::create_dir(d.join("folder")).expect("mkdir");
    // A file that would never be read, for its name.
    std::fs::write(d.join("jane.net.tmol"), GOOD_OPERATOR).expect("write");
    // Hidden entries are not the register's (a file manager's, an editor's): still skipped.
    std::fs::write(d.join(".DS_Store"), "\0").expect("write");

    let errors = errors_in(d);
    assert_eq!(errors.len(), 6, "{errors:#?}");
    entry_error(&errors, "chat.jane.net.toml", "symbolic link");
    entry_error(&errors, "folder-link.toml", "symbolic link");
    entry_error(&errors, "dangling.toml", "symbolic link");
    entry_error(&errors, "folder.toml", "directory");
    entry_error(&errors, "folder", "directory");
    entry_error(&errors, "jane.net.tmol", ".toml");

    // Named on its own, a link is not followed either.
    let errors = errors_in(&d.join("chat.jane.net.toml"));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    entry_error(&errors, "chat.jane.net.toml", "symbolic link");
}

#[cfg(unix)]
#[test]
fn site_refuses_a_register_holding_a_link() {
    let outside = dir_with(&[("x.toml", GOOD_OPERATOR)]);
    let dir = dir_with(&[]);
    std::os::unix::fs::symlink(
        outside.path().join("x.toml"),
        dir.path().join("chat.jane.net.toml"),
    )
    .expect("symlink");
    let out = tempfile::tempdir().expect("tempdir");
    let run = manifesto()
        .args(["site", "--registry"])
        .arg(dir.path())
        .arg("--out")
        .arg(out.path())
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
    assert!(
        stderr.contains("chat.jane.net.toml:1:1: error: ") && stderr.contains("symbolic link"),
        "{stderr}"
    );
    assert!(!out.path().join("index.html").exists());
}

#[test]
fn escape_sequences_are_printed_inert() {
    // A key holding an OSC sequence (retitles a terminal), a BEL and a newline (forges a line).
    let text = format!("{GOOD_OPERATOR}\"evil\\u001b]0;x\\u0007\\nnext\" = \"x\"\n");
    let dir = dir_with(&[("chat.jane.net.toml", &text)]);
    // A file name with a screen-clearing sequence and a newline.
    #[cfg(unix)]
    std::fs::write(dir.path().join("\u{1b}[2Jx\ny.toml"), GOOD_OPERATOR).expect("write");
    let problems = if cfg!(unix) { 2 } else { 1 };
    for (format, lines_per_problem) in [("human", 2), ("github", 1)] {
        let out = manifesto()
            .args(["validate", "--format", format])
            .arg(dir.path())
            .assert()
            .code(1)
            .get_output()
            .stdout
            .clone();
        let out = String::from_utf8(out).expect("utf-8");
        for c in ['\u{1b}', '\u{7}', '\r'] {
            assert!(!out.contains(c), "{format}: raw {c:?} in {out:?}");
        }
        // One line per problem (and hint), then the summary: no forged line.
        assert_eq!(
            out.lines().count(),
            problems * lines_per_problem + 1,
            "{format}: {out}"
        );
        assert!(
            out.contains("evil\\u{001b}]0;x\\u{0007}\\u{000a}next"),
            "{format}: {out}"
        );
        if cfg!(unix) {
            assert!(
                out.contains("\\u{001b}[2Jx\\u{000a}y.toml"),
                "{format}: {out}"
            );
        }
    }
}

#[test]
fn invisible_and_separator_characters_are_refused_where_they_are() {
    // Line and paragraph separators, zero width space, soft hyphen, byte-order mark, a tag
    // character, a no-break space, a bidi override: each can make a name read as another.
    let invisible = [
        '\u{2028}',
        '\u{2029}',
        '\u{200B}',
        '\u{00AD}',
        '\u{FEFF}',
        '\u{E0041}',
        '\u{00A0}',
        '\u{202E}',
    ];
    for c in invisible {
        let code = format!("U+{:04X}", u32::from(c));
        // Written as the character itself, then as a TOML escape: both are found where written.
        for written in [c.to_string(), format!("\\U{:08X}", u32::from(c))] {
            let text = replace(
                GOOD_OPERATOR,
                "\"Jane Doe\"",
                &format!("\"Ja{written}ne Doe\""),
            );
            let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 1);
            assert_eq!(e.column, 11, "{code}: {e}");
            let human = e.to_human();
            assert!(human.contains(&code), "{human}");
            assert!(!human.contains(c), "{human}");
        }
    }
    // Controls can only be escapes in TOML strings.
    let text = replace(GOOD_OPERATOR, "\"Jane Doe\"", "\"Jane\\u001b[2JDoe\"");
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 1);
    assert_eq!(e.column, 13, "{e}");
    assert!(e.to_human().contains("U+001B"), "{e}");

    // In a literal string, and on the second line of a multi-line string.
    let text = replace(
        GOOD_OPERATOR,
        "\"Operator of chat.jane.net\"",
        "'''Operator\u{200B} of chat.jane.net'''",
    );
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 4);
    assert_eq!(e.column, 24, "{e}");
    let text = replace(
        GOOD_OPERATOR,
        "\"Operator of chat.jane.net\"",
        "\"\"\"\nOperator of \\\n  chat\\u2028.jane.net\"\"\"",
    );
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 6);
    assert_eq!(e.column, 7, "{e}");

    // In a domain (IDNA would silently drop the soft hyphen: reported as itself).
    let text = replace(GOOD_OPERATOR, "\"jane.net\"]", "\"ja\u{00AD}ne.net\"]");
    let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 3);
    assert_eq!(e.column, 32, "{e}");
    assert!(e.to_human().contains("U+00AD"), "{e}");
}

#[test]
fn look_alike_domains_are_refused_and_never_shown_as_such() {
    // `xn--jbber-4ve.org` is "jаbber.org" with a Cyrillic а: it mixes scripts.
    for written in ["xn--jbber-4ve.org", "j\u{0430}bber.org"] {
        let text = replace(GOOD_OPERATOR, "\"jane.net\"]", &format!("\"{written}\"]"));
        let e = single_error(&[("chat.jane.net.toml", &text)], "chat.jane.net.toml", 3);
        assert_eq!(e.column, 29, "{e}");
        let human = e.to_human();
        assert!(human.contains("xn--jbber-4ve"), "{human}");
        assert!(human.contains("script"), "{human}");
        assert!(
            !human.contains('\u{0430}'),
            "the look-alike is never shown: {human}"
        );
    }
    // A name in one script is welcome, and messages show its Unicode form beside the A-label.
    let idn = replace(GOOD_OPERATOR, "\"jane.net\"]", "\"xn--bcher-kva.de\"]");
    assert!(errors_of(&[("chat.jane.net.toml", &idn)]).1.is_empty());
    let other = replace(&idn, "\"chat.jane.net\", ", "");
    let other = replace(&other, "2024-05-01", "2024-06-01");
    let e = single_error(
        &[
            ("chat.jane.net.toml", &idn),
            ("xn--bcher-kva.de.toml", &other),
        ],
        "xn--bcher-kva.de.toml",
        3,
    );
    assert!(
        e.to_string().contains("`xn--bcher-kva.de` (bücher.de)"),
        "{e}"
    );
}

const HUGE: u64 = 300 * 1024 * 1024;

fn huge_file() -> tempfile::TempDir {
    let dir = dir_with(&[]);
    let file = std::fs::File::create(dir.path().join("chat.jane.net.toml")).expect("create");
    // Sparse: costs no disk.
    file.set_len(HUGE).expect("set_len");
    dir
}

#[test]
fn a_huge_file_is_refused_without_being_read() {
    let dir = huge_file();
    let start = Instant::now();
    let errors = errors_in(dir.path());
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0]
            .to_string()
            .contains(&format!("{HUGE} bytes, over the limit")),
        "{}",
        errors[0]
    );
}

/// Within an address-space cap far below the file's size, `validate` still answers "too
/// large": it never holds more than the limit of a file.
#[cfg(target_os = "linux")]
#[test]
fn a_huge_file_is_refused_within_a_small_memory_budget() {
    let dir = huge_file();
    let run = assert_cmd::Command::new("sh")
        .args(["-c", "ulimit -v 150000 && exec \"$0\" validate \"$1\""])
        .arg(env!("CARGO_BIN_EXE_manifesto"))
        .arg(dir.path())
        // One malloc arena and one worker: the cap is then the program's need, not its spare.
        .env("MALLOC_ARENA_MAX", "1")
        .env("TOKIO_WORKER_THREADS", "1")
        .assert()
        .code(1);
    let out = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    assert!(out.contains("over the limit"), "{out}");
}
