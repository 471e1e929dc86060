//! The change to make, in the words of the server software when the endpoints reveal it.

use crate::check::grade::no_starttls;
use crate::report::{Endpoint, Mode, RequirementId, Software};

/// The software the endpoints revealed: the XEP-0115 caps node in the stream features when
/// sent, else the shape of the stream id (Prosody: a UUID; ejabberd: a long decimal number).
pub fn detect_software(endpoints: &[Endpoint]) -> Option<Software> {
    let caps = endpoints
        .iter()
        .flat_map(|e| {
            [&e.pre_tls_features, &e.post_tls_features]
                .into_iter()
                .flatten()
                .filter_map(|f| f.caps_node.as_deref())
        })
        .next();
    if let Some(node) = caps {
        return Some(software_of_caps_node(node));
    }
    let ids: Vec<&str> = endpoints
        .iter()
        .filter_map(|e| e.stream.as_ref()?.id.as_deref())
        .collect();
    if !ids.is_empty() && ids.iter().all(|id| is_uuid(id)) {
        return Some(Software::Prosody);
    }
    if !ids.is_empty()
        && ids
            .iter()
            .all(|id| id.len() >= 10 && id.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some(Software::Ejabberd);
    }
    None
}

fn software_of_caps_node(node: &str) -> Software {
    let node = node.to_ascii_lowercase();
    if node.contains("prosody.im") {
        Software::Prosody
    } else if node.contains("process-one.net") || node.contains("ejabberd") {
        Software::Ejabberd
    } else if node.contains("igniterealtime.org") || node.contains("openfire") {
        Software::Openfire
    } else if node.contains("tigase") {
        Software::Tigase
    } else {
        Software::Other
    }
}

fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Words for Prosody, for ejabberd, or for both when the software is unknown (or another).
struct Words {
    software: Option<Software>,
}

impl Words {
    fn both(&self, prosody: &str, ejabberd: &str) -> String {
        match self.software {
            Some(Software::Prosody) => format!("Prosody: {prosody}"),
            Some(Software::Ejabberd) => format!("ejabberd: {ejabberd}"),
            _ => format!("Prosody: {prosody}. ejabberd: {ejabberd}"),
        }
    }

    fn install_certificate(&self, domain: &str) -> String {
        self.both(
            &format!(
                "install a certificate for {domain} (e.g. `prosodyctl --root cert import /etc/letsencrypt/live`), referenced by `certificates = \"certs\"`"
            ),
            &format!("list a certificate for {domain} under `certfiles:`"),
        )
    }
}

/// The fix for requirement `id`, aimed at its worst endpoint. A server that offers no
/// STARTTLS at all usually lacks a certificate, so that comes first whatever the requirement.
pub(super) fn fix_for(
    id: RequirementId,
    worst: Option<&Endpoint>,
    domain: &str,
    software: Option<Software>,
) -> Option<String> {
    let no_starttls = worst.is_some_and(|e| e.mode == Mode::Starttls && no_starttls(e));
    let words = Words { software };
    let text = match id {
        RequirementId::C2sTlsRequired
        | RequirementId::S2sTlsRequired
        | RequirementId::TrustedCertificate
            if no_starttls =>
        {
            words.install_certificate(domain)
        }
        RequirementId::C2sTlsRequired => words.both(
            "set `c2s_require_encryption = true` in prosody.cfg.lua and restart",
            "set `starttls_required: true` on the `ejabberd_c2s` listener in ejabberd.yml",
        ),
        RequirementId::S2sTlsRequired => words.both(
            "set `s2s_require_encryption = true` in prosody.cfg.lua and restart",
            "set `s2s_use_starttls: required` in ejabberd.yml",
        ),
        RequirementId::TrustedCertificate => format!(
            "Use a certificate from a widely trusted CA (e.g. Let's Encrypt) whose subjectAltName includes {domain} itself (not only the server host), renewed before it expires; serve the full chain. {}",
            words.both(
                "`prosodyctl --root cert import /etc/letsencrypt/live`",
                "`certfiles: [\"/etc/letsencrypt/live/*/*.pem\"]`",
            )
        ),
        RequirementId::ModernTls => words.both(
            "`ssl = { protocol = \"tlsv1_2+\" }` (or `tls_profile = \"intermediate\"` in 0.12+)",
            "`protocol_options: [no_sslv3, no_tlsv1, no_tlsv1_1]` on each listener and for s2s",
        ),
        RequirementId::ForwardSecrecy => words.both(
            "`ssl = { ciphers = \"HIGH+kEECDH:HIGH+kEDH:!aNULL:!MD5\" }` (or `tls_profile = \"intermediate\"`)",
            "`ciphers: \"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM\"` on each listener and `s2s_ciphers`",
        ),
        RequirementId::DomainControl => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::check::grade::testkit::{DOMAIN, c2s, s2s};
    use crate::report::{Features, StreamHeader};

    fn with_caps(node: &str) -> Endpoint {
        let mut ep = c2s().build();
        ep.pre_tls_features = Some(Features {
            caps_node: Some(node.into()),
            ..Features::default()
        });
        ep
    }

    fn with_id(id: &str) -> Endpoint {
        let mut ep = s2s().build();
        ep.stream = Some(StreamHeader {
            id: Some(id.into()),
            ..StreamHeader::default()
        });
        ep
    }

    #[test]
    fn software_from_caps_node_then_stream_id() {
        let cases: [(&str, Vec<Endpoint>, Option<Software>); 10] = [
            (
                "Prosody caps",
                vec![with_caps("http://prosody.im")],
                Some(Software::Prosody),
            ),
            (
                "ejabberd caps",
                vec![with_caps("https://www.process-one.net/en/ejabberd/")],
                Some(Software::Ejabberd),
            ),
            (
                "Openfire caps",
                vec![with_caps(
                    "http://www.igniterealtime.org/projects/openfire/",
                )],
                Some(Software::Openfire),
            ),
            (
                "Tigase caps",
                vec![with_caps("http://tigase.org/tigase-xmpp-server")],
                Some(Software::Tigase),
            ),
            (
                "other caps",
                vec![with_caps("https://example.org/server")],
                Some(Software::Other),
            ),
            (
                "caps beat stream ids",
                vec![with_id("1234567890123"), with_caps("http://prosody.im")],
                Some(Software::Prosody),
            ),
            (
                "UUID stream ids",
                vec![with_id("0c9a3b52-7f0e-4c5d-9a43-7d2a1c3e5f60")],
                Some(Software::Prosody),
            ),
            (
                "long decimal stream ids",
                vec![with_id("16093947289011")],
                Some(Software::Ejabberd),
            ),
            (
                "mixed stream ids",
                vec![
                    with_id("16093947289011"),
                    with_id("0c9a3b52-7f0e-4c5d-9a43-7d2a1c3e5f60"),
                ],
                None,
            ),
            ("nothing to go by", vec![], None),
        ];
        for (name, endpoints, expected) in cases {
            assert_eq!(detect_software(&endpoints), expected, "{name}");
        }
    }

    /// Every fix, for each software, and for an endpoint without STARTTLS.
    #[test]
    fn fix_texts() {
        let ids = [
            RequirementId::C2sTlsRequired,
            RequirementId::S2sTlsRequired,
            RequirementId::TrustedCertificate,
            RequirementId::ModernTls,
            RequirementId::ForwardSecrecy,
            RequirementId::DomainControl,
        ];
        let softwares = [
            None,
            Some(Software::Prosody),
            Some(Software::Ejabberd),
            Some(Software::Openfire),
        ];
        let plain = c2s().build();
        let no_starttls = c2s().no_starttls().build();
        let mut out = String::new();
        for id in ids {
            let _ = writeln!(out, "## {id}");
            for (what, ep) in [("", &plain), (", no STARTTLS", &no_starttls)] {
                for software in softwares {
                    let fix = fix_for(id, Some(ep), DOMAIN, software);
                    assert_eq!(fix.is_none(), id == RequirementId::DomainControl, "{id}");
                    let _ = writeln!(
                        out,
                        "- [{}{what}] {}",
                        software.map(Software::name).unwrap_or("unknown"),
                        fix.as_deref().unwrap_or("(none)")
                    );
                }
            }
            out.push('\n');
        }
        insta::assert_snapshot!(out);
    }
}
