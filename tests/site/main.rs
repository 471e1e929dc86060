//! The static site: `manifesto site` and the built page in a real browser (see
//! `tests/support/` for the harness).

#[path = "../support/mod.rs"]
mod support;

mod browser;
mod build;
mod serve_pages;
