//! The register: `manifesto validate` and `manifesto sweep` (see `tests/support/` for the
//! harness).

#[path = "../support/mod.rs"]
mod support;

mod hostile;
mod sweep;
mod validate;
