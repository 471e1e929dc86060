//! One-off importer of the 75 signatures of 2013-2014 into `signatories/*.toml`.
//!
//! ```sh
//! cargo run --example import_2014 -- examples/signatories-2014.tsv signatories
//! ```
//!
//! Input: the tab-separated transcription of manifesto.txt v0.5 (stpeter/manifesto), columns
//! `name`, `description`, `domains` (comma-separated, empty when the signer named no service).
//! Output: one file per signature, following the rules of `manifesto validate`:
//! - a row with domains becomes an `operator` (slug: first domain), any other a `developer`
//!   (slug: the name slug, `-2`... on a clash);
//! - `statement` is the description as written in 2014;
//! - `signed` is 2014-03-26, the date of the last merge into the manifesto repository: the
//!   individual dates were not recorded, every signature was made on or before that day;
//! - `source` says where the signature was transcribed from; no `github` (we do not know it).
//!
//! Existing files are overwritten; the importer refuses to write anything if a domain appears
//! in two rows or a domain does not normalise.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use xmpp_manifesto::domain::normalize_public as normalize_domain;
use xmpp_manifesto::register::registry::name_slug;

const SOURCE: &str = "stpeter/manifesto manifesto.txt v0.5 (2014)";
const SIGNED: &str = "2014-03-26";

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(out)) = (args.first(), args.get(1)) else {
        eprintln!("usage: import_2014 INPUT.tsv OUT_DIR");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(input) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{input}: {e}");
            return ExitCode::from(1);
        }
    };
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut rows = 0;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() || line.starts_with("name\t") {
            continue;
        }
        rows += 1;
        let cols: Vec<&str> = line.split('\t').collect();
        let (name, description) = (cols[0].trim(), cols.get(1).map_or("", |s| s.trim()));
        let mut domains = Vec::new();
        for raw in cols
            .get(2)
            .unwrap_or(&"")
            .split(',')
            .filter(|d| !d.trim().is_empty())
        {
            match normalize_domain(raw) {
                Ok(d) => {
                    if let Some(other) = owners.insert(d.clone(), name.to_owned()) {
                        problems.push(format!("line {}: {d} already listed by {other}", n + 1));
                    }
                    domains.push(d);
                }
                Err(e) => problems.push(format!("line {}: {raw:?}: {e}", n + 1)),
            }
        }
        let (role, mut slug) = match domains.first() {
            Some(first) => ("operator", first.clone()),
            None => ("developer", name_slug(name)),
        };
        if role == "developer" {
            let base = slug.clone();
            let mut i = 2;
            while files.contains_key(&slug) {
                slug = format!("{base}-{i}");
                i += 1;
            }
        }
        let mut toml = format!("name = {}\nrole = \"{role}\"\n", quote(name));
        if !domains.is_empty() {
            let list: Vec<String> = domains.iter().map(|d| quote(d)).collect();
            toml.push_str(&format!("domains = [{}]\n", list.join(", ")));
        }
        toml.push_str(&format!(
            "statement = {}\nsigned = {SIGNED}\nsource = {}\n",
            quote(description),
            quote(SOURCE)
        ));
        files.insert(slug, toml);
    }
    if !problems.is_empty() {
        for p in problems {
            eprintln!("{input}: {p}");
        }
        return ExitCode::from(1);
    }
    let out = PathBuf::from(out);
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("{}: {e}", out.display());
        return ExitCode::from(1);
    }
    for (slug, toml) in &files {
        let path = out.join(format!("{slug}.toml"));
        if let Err(e) = std::fs::write(&path, toml) {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    println!(
        "{rows} rows, {} files written to {}",
        files.len(),
        out.display()
    );
    ExitCode::SUCCESS
}
