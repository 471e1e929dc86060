//! Endpoints this checker could not see (`not-checked`: no route to their family, or left out
//! by `--ip-family`; see `crate::check::reach`). They are the checker's limits, not the
//! server's faults: a requirement is judged on the endpoints that were checked, says how many
//! more could not be, and lists them in its evidence; with none checked it is inconclusive,
//! since nothing could be seen.

use crate::report::{Endpoint, ErrorKind, Requirement, Status};

/// The endpoints checked, and those not checked.
pub(super) fn split<'a>(eps: &[&'a Endpoint]) -> (Vec<&'a Endpoint>, Vec<&'a Endpoint>) {
    eps.iter()
        .partition(|e| e.error_kind != Some(ErrorKind::NotChecked))
}

fn reason(ep: &Endpoint) -> &str {
    ep.error.as_deref().unwrap_or("not checked")
}

/// One evidence line per endpoint not checked.
fn evidence(unseen: &[&Endpoint]) -> Vec<String> {
    unseen
        .iter()
        .map(|e| format!("{}: not checked: {}", e.label(), reason(e)))
        .collect()
}

/// "2 more endpoints were not checked (this checker has no IPv6 route)."
fn sentence(unseen: &[&Endpoint], more: bool) -> String {
    let mut reasons: Vec<&str> = Vec::new();
    for e in unseen {
        if !reasons.contains(&reason(e)) {
            reasons.push(reason(e));
        }
    }
    let n = unseen.len();
    format!(
        "{n} {}endpoint{} not checked ({}).",
        if more { "more " } else { "" },
        if n == 1 { " was" } else { "s were" },
        reasons.join("; ")
    )
}

/// A requirement judged on the endpoints checked: the sentence and the evidence of those that
/// were not are added; the status stays what the checked endpoints gave.
pub(super) fn note(req: &mut Requirement, unseen: &[&Endpoint]) {
    if unseen.is_empty() {
        return;
    }
    let stop = if req.summary.ends_with('.') { "" } else { "." };
    req.summary = format!("{}{stop} {}", req.summary, sentence(unseen, true));
    req.evidence.extend(evidence(unseen));
}

/// A requirement none of whose endpoints could be checked: inconclusive.
pub(super) fn nothing_seen(unseen: &[&Endpoint]) -> Requirement {
    Requirement {
        status: Status::Inconclusive,
        summary: format!("Nothing could be seen: {}", sentence(unseen, false)),
        basis: None,
        fix: None,
        evidence: evidence(unseen),
    }
}
