//! The pull-request bot: review a registry PR, render its comment, talk to GitHub.
//!
//! `review` runs a review (`git` reads the checkout, `domain_control` judges the TXT proof,
//! `model` is the review-v1 document, `comment` renders it); `github` keeps the sticky comment
//! and the label on the pull request.

mod comment;
mod domain_control;
mod git;
pub mod github;
mod model;
pub mod review;
