//! The pull-request bot: `manifesto review`, `manifesto comment`, both end to end, and the
//! workflows that run them (see `tests/support/` for the harness).

#[path = "../support/mod.rs"]
mod support;

mod e2e;
mod github;
mod review;
mod workflows;
