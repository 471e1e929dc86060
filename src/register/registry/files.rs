//! Which entries of a register directory are signatory files, and reading one.
//!
//! The directory comes from a pull request, so nothing in it is taken on trust:
//! - entries are judged by what they are, never by what they point to: a symbolic link is an
//!   error whatever its target (a link could bring in a file from outside the register, and
//!   what it points to is not what a review of the pull request shows), and so is a
//!   directory, a special file, or a file whose name does not end in `.toml` (all of them were
//!   skipped without a word, so a register could hold what `validate` never looked at);
//! - a file is read through the path it was listed under only if that path is still a regular
//!   file when opened, and at most [`MAX_FILE_BYTES`] + 1 bytes of it are read: a 300 MB file
//!   costs what a small one does.

use std::fs::{File, FileType, Metadata};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::MAX_FILE_BYTES;
use super::problem::{EntryKind, Problem, RegistryError, at_start, sort_errors};

/// The entries of a register directory.
#[derive(Debug, Clone, Default)]
pub struct DirListing {
    /// The signatory files: regular files named `*.toml`, sorted.
    pub files: Vec<PathBuf>,
    /// Every other entry, hidden ones aside, as a problem at 1:1.
    pub errors: Vec<RegistryError>,
}

/// What is in `dir` (not recursive). Hidden entries (`.git`, a file manager's `.DS_Store`)
/// are not the register's and are skipped; every other entry that is not a regular `*.toml`
/// file is an error.
pub fn list_dir(dir: &Path) -> std::io::Result<DirListing> {
    let mut listing = DirListing::default();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let path = entry.path();
        // `DirEntry::file_type` does not follow a link: it says what the entry itself is.
        match entry_kind(&path, entry.file_type()?) {
            None => listing.files.push(path),
            Some(kind) => listing
                .errors
                .push(at_start(&path, Problem::NotAFile(kind))),
        }
    }
    listing.files.sort();
    sort_errors(&mut listing.errors);
    Ok(listing)
}

/// The signatory files of `dir` ([`list_dir`] without its problems).
pub fn toml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    list_dir(dir).map(|listing| listing.files)
}

/// What an entry of a register directory is, when it is not a signatory file.
fn entry_kind(path: &Path, file_type: FileType) -> Option<EntryKind> {
    if file_type.is_symlink() {
        Some(EntryKind::Symlink)
    } else if file_type.is_dir() {
        Some(EntryKind::Directory)
    } else if !file_type.is_file() {
        Some(EntryKind::Special)
    } else if path.extension().is_some_and(|e| e == "toml") {
        None
    } else {
        Some(EntryKind::NotToml)
    }
}

/// Expands directories to their signatory files ([`list_dir`], whose problems are returned);
/// files are kept as given (their name is checked with their content). A path that is a link
/// is refused like a link in a directory: a path named on the command line may be a file of a
/// pull request.
pub fn expand_paths(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<RegistryError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match std::fs::symlink_metadata(path) {
            Err(e) => errors.push(at_start(path, Problem::Io(e.to_string()))),
            Ok(meta) if meta.is_dir() => match list_dir(path) {
                Ok(listing) => {
                    files.extend(listing.files);
                    errors.extend(listing.errors);
                }
                Err(e) => errors.push(at_start(path, Problem::Io(e.to_string()))),
            },
            Ok(meta) if meta.is_file() => files.push(path.clone()),
            Ok(meta) => errors.push(at_start(path, Problem::NotAFile(odd_kind(&meta)))),
        }
    }
    files.sort();
    files.dedup();
    sort_errors(&mut errors);
    // A directory and a link in it, both named: one problem.
    errors.dedup();
    (files, errors)
}

/// Whether `path` itself (not what it may point to) is a directory.
pub(super) fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// A link or a special file (the kind of a path that is neither a file nor a directory).
fn odd_kind(meta: &Metadata) -> EntryKind {
    if meta.file_type().is_symlink() {
        EntryKind::Symlink
    } else {
        EntryKind::Special
    }
}

/// The bytes of a signatory file, or why it cannot be read: not a regular file (a link is
/// not followed), or over [`MAX_FILE_BYTES`] (found by reading one byte more, never the whole
/// file; its size is then the size it says it has).
pub(super) fn read_capped(path: &Path) -> Result<Vec<u8>, Problem> {
    let io = |e: std::io::Error| Problem::Io(e.to_string());
    let before = std::fs::symlink_metadata(path).map_err(io)?;
    if !before.is_file() {
        let kind = if before.is_dir() {
            EntryKind::Directory
        } else {
            odd_kind(&before)
        };
        return Err(Problem::NotAFile(kind));
    }
    let file = File::open(path).map_err(io)?;
    let opened = file.metadata().map_err(io)?;
    // `open` follows links: what was opened must be the regular file that was looked at, not
    // a link put in its place since.
    if !opened.is_file() || !same_file(&before, &opened) {
        return Err(Problem::Io(
            "the file was replaced while it was read".into(),
        ));
    }
    let cap = MAX_FILE_BYTES + 1;
    let mut bytes = Vec::with_capacity(usize::try_from(opened.len()).map_or(cap, |n| n.min(cap)));
    file.take(cap as u64).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() > MAX_FILE_BYTES {
        let size = usize::try_from(opened.len()).unwrap_or(usize::MAX);
        return Err(Problem::FileTooLarge {
            size: size.max(bytes.len()),
            max: MAX_FILE_BYTES,
        });
    }
    Ok(bytes)
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// Without inode numbers, the check that the path is a regular file stands alone.
#[cfg(not(unix))]
fn same_file(_: &Metadata, _: &Metadata) -> bool {
    true
}
