//! The register: signatory files, the lifecycle of each domain, and re-verification.

pub mod lifecycle;
pub mod registry;
pub mod store;
pub mod sweep;
