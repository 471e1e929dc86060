//! xmpp-manifesto: verifies that XMPP services really enforce TLS, and keeps the register of
//! the XMPP manifesto on ubiquitous encryption honest.
//!
//! The binary (`manifesto`) is a thin shell over [`cli::main`]. The rooms (see
//! `docs/development.md`): [`check`] (one domain: discovery, probes, grading into a
//! [`Report`]), [`register`] (signatory files, results store, lifecycle, sweep), [`site`] (the
//! page), [`bot`] (PR review, comment, GitHub), [`output`] (text, JSON, Markdown of reports),
//! [`responder`] (the dialback responder: the probe domains' s2s endpoint and its API, which
//! let a checker prove s2s TLS enforcement), [`serve`] (the public check service: HTTP API,
//! pages, SQLite), and [`cli`], the only room that knows clap,
//! anyhow and exit codes.
//!
//! The short public API is re-exported here; everything else may change between versions.

// Untrusted input everywhere: library code returns errors, it never panics on them.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod bot;
pub mod check;
pub mod cli;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod output;
pub mod register;
pub mod report;
pub mod responder;
pub mod serve;
pub mod site;
pub mod text;

pub use bot::github::{CommentOptions, GithubConfig, GithubError, post_comment};
pub use bot::review::{ReviewError, ReviewOptions, ReviewOutput, ReviewReport, run_review};
pub use check::{CheckError, CheckOptions, Checker, normalize_domain};
pub use output::{Format, Formatter, formatter};
pub use register::registry::{Registry, Signatory, Validation, validate_paths};
pub use register::sweep::{SweepConfig, SweepError, SweepSummary, sweep};
pub use report::{Report, Requirement, RequirementId, Status, Verdict};
pub use site::{SiteError, SiteOptions, build_site};
