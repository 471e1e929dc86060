//! Entry points for the cargo-fuzz targets under `fuzz/` (not a stable API): each takes bytes
//! as a peer, a DNS server or a PR author would send them and runs the same code the tool runs
//! on them. None of them may panic, hang or allocate without bound, whatever the bytes.

use std::path::PathBuf;

use crate::check::posture::Offer;
use crate::check::xml::{Limits, XmlStream};

/// The XMPP stream reader (restricted XML, framing, caps) over `data`, fed in chunks whose
/// sizes come from the first byte, as a slow or fragmenting peer would send them.
pub fn xmpp_stream(data: &[u8]) {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut stream = XmlStream::new(Limits::default());
    for piece in data.chunks(chunk) {
        if stream.push(piece).is_err() {
            return;
        }
        while let Ok(Some(_)) = stream.next_event() {}
    }
}

/// The posture code's TLS record and ServerHello parser and its classification, for every
/// offer the posture probes make.
pub fn tls_reply(data: &[u8]) {
    let reply = crate::check::posture::reply::parse_reply(data);
    for offer in Offer::ALL {
        let _ = crate::check::posture::reply::classify(offer, &reply);
    }
}

/// The signatory parser and validator on one file's bytes.
pub fn signatory(data: &[u8]) {
    let today = time::macros::date!(2026 - 11 - 30);
    let sources = [(PathBuf::from("signatories/fuzz.toml"), data.to_vec())];
    let validation = crate::register::registry::validate_sources(&sources, today);
    let _ = crate::register::registry::render_validation(
        &validation,
        crate::register::registry::ValidateFormat::Github,
    );
}

/// DNS answer handling: `data` as a DNS message (hickory's wire parser), its answers taken for
/// the SRV, address and TLSA answers of one domain, through discovery and DANE matching.
pub fn dns_answer(data: &[u8]) {
    let Ok(message) = hickory_proto::op::Message::from_vec(data) else {
        return;
    };
    let answers = &message.answers;
    let discovery = crate::check::dns::discover_from_answers("fuzz.example", answers);
    let _ = discovery.records.len();
    let tlsa = crate::check::dane::tlsa_records(answers);
    let chain = [rustls_pki_types::CertificateDer::from(data.to_vec())];
    let _ = crate::check::dane::match_tlsa(&tlsa, &chain, false);
}
