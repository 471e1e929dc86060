//! The pull-request bot: review a registry PR, render its comment, talk to GitHub.
//!
//! `review` runs a review (`git` reads the checkout, `authorship` decides whether the PR's
//! author may change each file, `domain_control` judges the TXT proof, `model` is the review-v1
//! document, `comment` renders it); `github` keeps the sticky comment and the label on the pull
//! request.

mod authorship;
mod comment;
mod domain_control;
mod git;
pub mod github;
mod model;
pub mod review;
