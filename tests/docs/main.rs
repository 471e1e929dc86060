//! The documentation: every repository path named in `README.md`, `CONTRIBUTING.md` and
//! `docs/*.md` exists (what counts as a path: [`paths`]). A file moved or removed without its
//! docs fails here, with the document and the line.

mod paths;

use std::path::{Path, PathBuf};

use paths::{Mention, mentions};

/// The documents whose paths are checked, relative to the repository root.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("read docs/")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| p.strip_prefix(root).expect("under the root").to_path_buf())
        .collect();
    docs.sort();
    let mut all = vec![PathBuf::from("README.md"), PathBuf::from("CONTRIBUTING.md")];
    all.extend(docs);
    all
}

/// Every mention of `doc` whose path is not in the repository under `root`, as
/// `doc:line: written (why)`.
fn missing(root: &Path, doc: &Path, found: &[Mention]) -> Vec<String> {
    found
        .iter()
        .filter_map(|m| {
            let why = match &m.path {
                Err(why) => why.clone(),
                Ok(path) if root.join(path).exists() => return None,
                Ok(_) => "no such file or directory".into(),
            };
            Some(format!(
                "{}:{}: {} ({why})",
                doc.display(),
                m.line,
                m.written
            ))
        })
        .collect()
}

#[test]
fn every_path_named_in_the_docs_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = documents(root);
    assert!(
        docs.contains(&PathBuf::from("docs/development.md")),
        "{docs:?}"
    );
    let mut problems = Vec::new();
    let mut counts = Vec::new();
    for doc in &docs {
        let text = std::fs::read_to_string(root.join(doc))
            .unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
        let found = mentions(doc, &text);
        counts.push((doc.clone(), found.len()));
        problems.extend(missing(root, doc, &found));
    }
    // The extractor must be finding paths at all, or this test proves nothing.
    let count = |name: &str| {
        counts
            .iter()
            .find(|(d, _)| d == Path::new(name))
            .map_or(0, |(_, n)| *n)
    };
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    assert!(total >= 150, "only {total} paths found: {counts:?}");
    assert!(count("README.md") >= 10, "{counts:?}");
    assert!(count("CONTRIBUTING.md") >= 3, "{counts:?}");
    assert!(count("docs/development.md") >= 100, "{counts:?}");
    assert!(
        problems.is_empty(),
        "paths named in the docs that are not in the repository:\n{}",
        problems.join("\n")
    );
}

/// A sample with paths that moved or never existed, one outside the repository, and
/// everything the rule skips: only the missing ones are reported, with their lines.
#[test]
fn a_missing_path_is_reported_with_its_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sample = "\
# Sample

The probes (`src/probes.rs`) and the report (`src/report.rs`); see
[the bot](bot.md#labels), [the lifecycle](lifecycle.md \"title\") and [gone](gone.md).
Run `bash scripts/test.sh`, read [the site](https://example.org/src/nothing.rs) or
[mail](mailto:a@example.org), jump to [a heading](#sample).
Placeholders: `signatories/DOMAIN.toml`, `results/<domain>.json`, `src/*.rs`,
`docs/{a,b}.md`, `signatories/example.org.toml`; the directory `signatories/` itself.
The top-level files `Cargo.toml` and `NOPE.md` (upper case: a placeholder).

```sh
cargo run --example import_2014 -- ../shared/data/signatories-2014.tsv signatories
cat tests/nothing/here.rs
```

[ref]: ../outside.md
";
    let doc = Path::new("docs/sample.md");
    let found = mentions(doc, sample);
    let written: Vec<&str> = found.iter().map(|m| m.written.as_str()).collect();
    assert_eq!(
        written,
        [
            "src/probes.rs",
            "src/report.rs",
            "bot.md",
            "lifecycle.md",
            "gone.md",
            "scripts/test.sh",
            "signatories/",
            "Cargo.toml",
            "../shared/data/signatories-2014.tsv",
            "tests/nothing/here.rs",
            "../outside.md",
        ]
    );
    assert_eq!(
        missing(root, doc, &found),
        [
            "docs/sample.md:3: src/probes.rs (no such file or directory)",
            "docs/sample.md:4: gone.md (no such file or directory)",
            "docs/sample.md:12: ../shared/data/signatories-2014.tsv (outside the repository)",
            "docs/sample.md:13: tests/nothing/here.rs (no such file or directory)",
            "docs/sample.md:16: ../outside.md (no such file or directory)",
        ]
    );
}

#[test]
fn links_resolve_from_the_document_and_may_not_leave_the_repository() {
    let found = mentions(
        Path::new("docs/x.md"),
        "[up](../README.md) [out](../../x.md) [here](./bot.md#a)\n",
    );
    let paths: Vec<Result<PathBuf, String>> = found.into_iter().map(|m| m.path).collect();
    assert_eq!(
        paths,
        [
            Ok(PathBuf::from("README.md")),
            Err("outside the repository".to_owned()),
            Ok(PathBuf::from("docs/bot.md")),
        ]
    );
}

#[test]
fn placeholders_are_recognised() {
    for word in [
        "signatories/NAME.toml",
        "results/<domain>.json",
        "src/*.rs",
        "history/{d}.jsonl",
        "manifesto-TARGET.tar.gz",
        "$/.github/actions/...",
        "out/N",
    ] {
        assert!(paths::is_placeholder(word), "{word}");
    }
    for word in [
        "README.md",
        "src/check/grade/mod.rs",
        "CONTRIBUTING.md",
        "Cargo.toml",
    ] {
        assert!(!paths::is_placeholder(word), "{word}");
    }
}
