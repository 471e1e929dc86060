//! One file per command: its arguments (clap) and its `run`.

pub mod check;
pub mod comment;
pub mod responder;
pub mod review;
pub mod serve;
pub mod site;
pub mod sweep;
pub mod validate;
