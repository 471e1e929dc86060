//! The pull-request bot: review a registry PR, render its comment, talk to GitHub.

pub mod github;
pub mod review;
