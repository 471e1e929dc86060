//! The change to make, in the words of the server software when the endpoints reveal it.

use crate::check::grade::no_starttls;
use crate::report::{Endpoint, Mode, RequirementId, Software};

/// The software the endpoints revealed: the XEP-0115 caps node in the stream features when
/// sent, else the shape of the stream id (Prosody: a UUID; ejabberd: a long decimal number).
pub fn detect_software(endpoints: &[Endpoint]) -> Option<Software> {
    if let Some(node) = first_caps_node(endpoints) {
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

/// The first XEP-0115 caps node the endpoints sent in their stream features.
fn first_caps_node(endpoints: &[Endpoint]) -> Option<&str> {
    endpoints
        .iter()
        .flat_map(|e| {
            [&e.pre_tls_features, &e.post_tls_features]
                .into_iter()
                .flatten()
                .filter_map(|f| f.caps_node.as_deref())
        })
        .next()
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

/// The software a fix is written for: `Software` and the servers it has no variant for yet,
/// recognised from their XEP-0115 caps node in the stream features (verified in their source):
///
/// - Metronome: plugins/mod_disco.lua adds `<c node="http://metronome.im"/>` to the
///   `stream-features` (c2s) hook.
/// - Openfire: LocalClientSession.java adds `<c node=EntityCapabilitiesManager.OPENFIRE_IDENTIFIER_NODE>`
///   ("https://www.igniterealtime.org/projects/openfire/") to the client stream features.
///
/// MongooseIM sets no caps node of its own in its stream features (src/, no server node), so
/// it cannot be recognised this way: its servers get the general advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Prosody,
    Ejabberd,
    Openfire,
    Tigase,
    Metronome,
    /// Another server, or none detected: general advice, never another server's settings.
    Unknown,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Prosody => "Prosody",
            Family::Ejabberd => "ejabberd",
            Family::Openfire => "Openfire",
            Family::Tigase => "Tigase",
            Family::Metronome => "Metronome",
            Family::Unknown => "unknown",
        }
    }
}

/// The family of the detected software; `Software::Other` is looked at again for the servers
/// `Software` has no variant for.
pub(super) fn family(software: Option<Software>, endpoints: &[Endpoint]) -> Family {
    match software {
        Some(Software::Prosody) => Family::Prosody,
        Some(Software::Ejabberd) => Family::Ejabberd,
        Some(Software::Openfire) => Family::Openfire,
        Some(Software::Tigase) => Family::Tigase,
        Some(Software::Other) => match first_caps_node(endpoints) {
            Some(node) if node.to_ascii_lowercase().contains("metronome.im") => Family::Metronome,
            _ => Family::Unknown,
        },
        None => Family::Unknown,
    }
}

/// Words for the detected software, or the general advice when it has none here.
struct Words {
    family: Family,
}

impl Words {
    /// The text of the detected software when `specific` has one, prefixed with its name;
    /// else `general`, which names no server's settings.
    fn say(&self, general: &str, specific: &[(Family, &str)]) -> String {
        match specific.iter().find(|(f, _)| *f == self.family) {
            Some((f, text)) => format!("{}: {text}", f.name()),
            None => general.to_string(),
        }
    }

    fn install_certificate(&self, domain: &str) -> String {
        self.say(
            &format!(
                "Install a certificate for {domain} and point the server's TLS settings at it, so that it offers STARTTLS; then restart it"
            ),
            &[
                (
                    Family::Prosody,
                    &format!(
                        "install a certificate for {domain} (e.g. `prosodyctl --root cert import /etc/letsencrypt/live`), referenced by `certificates = \"certs\"`"
                    ),
                ),
                (
                    Family::Ejabberd,
                    &format!("list a certificate for {domain} under `certfiles:`"),
                ),
            ],
        )
    }

    /// Sources of the settings named (read in each project's code):
    /// - Prosody plugins/mod_tls.lua and Metronome plugins/mod_tls.lua:
    ///   `c2s_require_encryption` / `s2s_require_encryption`;
    /// - ejabberd: `starttls_required` (ejabberd_c2s listener), `s2s_use_starttls`
    ///   (ejabberd_s2s_in.erl);
    /// - Openfire ConnectionSettings.java: `xmpp.client.tls.policy` /
    ///   `xmpp.server.tls.policy`, values of `Connection.TLSPolicy` (`required`);
    /// - Tigase StartTLS.java advertises and enforces `<required/>` when the virtual host
    ///   requires TLS (`vhost-tls-required`, VHostItemImpl.java); that is the c2s plugin, so
    ///   Tigase's s2s gets the general advice.
    fn require_tls(&self, service: &str) -> String {
        let (prosody, ejabberd, openfire) = match service {
            "c2s" => (
                "set `c2s_require_encryption = true` in prosody.cfg.lua and restart",
                "set `starttls_required: true` on the `ejabberd_c2s` listener in ejabberd.yml",
                "set the system property `xmpp.client.tls.policy` to `required` (Server Settings > Client Connections: STARTTLS required) and restart",
            ),
            _ => (
                "set `s2s_require_encryption = true` in prosody.cfg.lua and restart",
                "set `s2s_use_starttls: required` in ejabberd.yml",
                "set the system property `xmpp.server.tls.policy` to `required` (Server Settings > Server to Server: STARTTLS required) and restart",
            ),
        };
        let metronome = prosody.replace("prosody.cfg.lua", "metronome.cfg.lua");
        let general = match service {
            "c2s" => {
                "Configure the server to require TLS on client connections (STARTTLS required, or Direct TLS only), so that it advertises <starttls><required/></starttls> and refuses authentication before TLS; then restart it"
            }
            _ => {
                "Configure the server to require TLS on server-to-server connections, incoming and outgoing, so that it advertises <starttls><required/></starttls> and refuses dialback before TLS; then restart it"
            }
        };
        let mut specific = vec![
            (Family::Prosody, prosody),
            (Family::Ejabberd, ejabberd),
            (Family::Openfire, openfire),
            (Family::Metronome, metronome.as_str()),
        ];
        if service == "c2s" {
            specific.push((
                Family::Tigase,
                "set `'vhost-tls-required' = true` in config.tdsl (or \"TLS required\" on the virtual host) and restart",
            ));
        }
        self.say(general, &specific)
    }
}

/// The fix for requirement `id`, aimed at its worst endpoint. A server that offers no
/// STARTTLS at all usually lacks a certificate, so that comes first whatever the requirement.
pub(super) fn fix_for(
    id: RequirementId,
    worst: Option<&Endpoint>,
    domain: &str,
    family: Family,
) -> Option<String> {
    let no_starttls = worst.is_some_and(|e| e.mode == Mode::Starttls && no_starttls(e));
    let words = Words { family };
    let text = match id {
        RequirementId::C2sTlsRequired
        | RequirementId::S2sTlsRequired
        | RequirementId::TrustedCertificate
            if no_starttls =>
        {
            words.install_certificate(domain)
        }
        RequirementId::C2sTlsRequired => words.require_tls("c2s"),
        RequirementId::S2sTlsRequired | RequirementId::S2sOutboundTls => words.require_tls("s2s"),
        RequirementId::TrustedCertificate => {
            let how = words.say(
                "",
                &[
                    (
                        Family::Prosody,
                        "`prosodyctl --root cert import /etc/letsencrypt/live`",
                    ),
                    (
                        Family::Ejabberd,
                        "`certfiles: [\"/etc/letsencrypt/live/*/*.pem\"]`",
                    ),
                ],
            );
            let sentence = format!(
                "Use a certificate from a widely trusted CA (e.g. Let's Encrypt) whose subjectAltName includes {domain} itself (not only the server host), renewed before it expires; serve the full chain."
            );
            if how.is_empty() {
                sentence
            } else {
                format!("{sentence} {how}")
            }
        }
        RequirementId::ModernTls => words.say(
            "Allow only TLS 1.2 and 1.3 in the server's TLS settings (disable SSLv3, TLS 1.0 and TLS 1.1), for client and server connections",
            &[
                (
                    Family::Prosody,
                    "`ssl = { protocol = \"tlsv1_2+\" }` (or `tls_profile = \"intermediate\"` in 0.12+)",
                ),
                (
                    Family::Ejabberd,
                    "`protocol_options: [no_sslv3, no_tlsv1, no_tlsv1_1]` on each listener and for s2s",
                ),
            ],
        ),
        RequirementId::ForwardSecrecy => words.say(
            "Restrict the server's TLS 1.2 cipher suites to ECDHE or DHE key exchange (e.g. Mozilla's intermediate profile), for client and server connections",
            &[
                (
                    Family::Prosody,
                    "`ssl = { ciphers = \"HIGH+kEECDH:HIGH+kEDH:!aNULL:!MD5\" }` (or `tls_profile = \"intermediate\"`)",
                ),
                (
                    Family::Ejabberd,
                    "`ciphers: \"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM\"` on each listener and `s2s_ciphers`",
                ),
            ],
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

    /// Servers `Software` has no variant for are named from their caps node; any other stays
    /// unknown (general advice).
    #[test]
    fn family_from_software_then_caps_node() {
        let cases = [
            ("http://metronome.im", Family::Metronome),
            (
                "https://www.igniterealtime.org/projects/openfire/",
                Family::Openfire,
            ),
            ("http://prosody.im", Family::Prosody),
            ("https://www.process-one.net/en/ejabberd/", Family::Ejabberd),
            ("https://example.org/server", Family::Unknown),
        ];
        for (node, expected) in cases {
            let endpoints = vec![with_caps(node)];
            let software = detect_software(&endpoints);
            assert_eq!(family(software, &endpoints), expected, "{node}");
        }
        assert_eq!(family(None, &[]), Family::Unknown);
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
        let families = [
            Family::Unknown,
            Family::Prosody,
            Family::Ejabberd,
            Family::Openfire,
            Family::Tigase,
            Family::Metronome,
        ];
        let plain = c2s().build();
        let no_starttls = c2s().no_starttls().build();
        let mut out = String::new();
        for id in ids {
            let _ = writeln!(out, "## {id}");
            for (what, ep) in [("", &plain), (", no STARTTLS", &no_starttls)] {
                for family in families {
                    let fix = fix_for(id, Some(ep), DOMAIN, family);
                    assert_eq!(fix.is_none(), id == RequirementId::DomainControl, "{id}");
                    let _ = writeln!(
                        out,
                        "- [{}{what}] {}",
                        family.name(),
                        fix.as_deref().unwrap_or("(none)")
                    );
                }
            }
            out.push('\n');
        }
        insta::assert_snapshot!(out);
    }
}
