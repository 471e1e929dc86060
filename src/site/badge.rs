//! `badges/<domain>.svg`: "manifesto: verified" / "failing" / "unverified", in the shape of the
//! usual README badges.

use askama::Template;

use super::{DomainStatus, SiteError};

#[derive(Template)]
#[template(path = "badge.svg")]
struct Badge<'a> {
    domain: &'a str,
    message: &'a str,
    color: &'a str,
    width: u32,
    label_width: u32,
    message_width: u32,
    label_x: f32,
    message_x: f32,
}

/// Text width estimate of Verdana 11px, enough for a badge.
fn text_width(s: &str) -> u32 {
    let w: f32 = s
        .chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | 't' | 'f' | 'r' => 4.0,
            'm' | 'w' => 10.0,
            _ => 7.0,
        })
        .sum();
    w.ceil() as u32
}

/// Renders the SVG badge of a domain.
pub fn render_badge(domain: &str, status: DomainStatus) -> Result<String, SiteError> {
    let (message, color) = status.badge();
    let label_width = text_width("manifesto") + 12;
    let message_width = text_width(message) + 12;
    let badge = Badge {
        domain,
        message,
        color,
        width: label_width + message_width,
        label_width,
        message_width,
        label_x: label_width as f32 / 2.0,
        message_x: label_width as f32 + message_width as f32 / 2.0,
    };
    badge.render().map_err(|source| SiteError::Render {
        what: format!("the badge of {domain}"),
        source,
    })
}

/// Width of the badge of a status, for the `<img>` on the domain page.
pub(super) fn badge_width(status: DomainStatus) -> u32 {
    text_width("manifesto") + 12 + text_width(status.badge().0) + 12
}
