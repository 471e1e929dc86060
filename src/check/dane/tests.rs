//! Unit tests of DANE matching, the degradation of bogus answers, and the advisories' words.

use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256, Sha512};

use super::*;
use crate::check::dns::Discovery;
use crate::report::{
    AdvisoryLevel, DiscoveryOutcome, DiscoveryRecord, EndpointSource, Mode, Service,
};

struct Chain {
    leaf: CertificateDer<'static>,
    ca: CertificateDer<'static>,
    leaf_spki: Vec<u8>,
}

fn chain() -> Chain {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(vec![]).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["example.test".into()])
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    Chain {
        leaf: leaf.der().clone(),
        ca: ca.der().clone(),
        leaf_spki: rcgen::PublicKeyData::subject_public_key_info(&leaf_key),
    }
}

fn rec(usage: u8, selector: u8, matching: u8, data: Vec<u8>) -> Tlsa {
    Tlsa {
        usage,
        selector,
        matching,
        data,
    }
}

#[test]
fn usages_selectors_matching_types() {
    let c = chain();
    let presented = [c.leaf.clone(), c.ca.clone()];
    let leaf_der = c.leaf.as_ref().to_vec();
    // DANE-EE, SPKI, SHA-256 (the common "3 1 1").
    let r = rec(3, 1, 1, Sha256::digest(&c.leaf_spki).to_vec());
    assert!(matches!(
        match_tlsa(&[r], &presented, false),
        DaneMatch::Matched { position: 0, .. }
    ));
    // DANE-EE, full certificate, exact / SHA-512.
    let r = rec(3, 0, 0, leaf_der.clone());
    assert!(matches!(
        match_tlsa(&[r], &presented, false),
        DaneMatch::Matched { position: 0, .. }
    ));
    let r = rec(3, 0, 2, Sha512::digest(&leaf_der).to_vec());
    assert!(matches!(
        match_tlsa(&[r], &presented, false),
        DaneMatch::Matched { .. }
    ));
    // DANE-TA on the CA (2 0 1).
    let r = rec(2, 0, 1, Sha256::digest(c.ca.as_ref()).to_vec());
    assert!(matches!(
        match_tlsa(std::slice::from_ref(&r), &presented, false),
        DaneMatch::Matched { position: 1, .. }
    ));
    // ...but not when the CA is not presented.
    assert_eq!(match_tlsa(&[r], &presented[..1], false), DaneMatch::NoMatch);
    // PKIX-EE needs a PKIX-valid chain.
    let r = rec(1, 1, 1, Sha256::digest(&c.leaf_spki).to_vec());
    assert_eq!(
        match_tlsa(std::slice::from_ref(&r), &presented, false),
        DaneMatch::NoUsableRecords
    );
    assert!(matches!(
        match_tlsa(&[r], &presented, true),
        DaneMatch::Matched { .. }
    ));
    // PKIX-TA on the CA.
    let r = rec(0, 1, 1, vec![0; 32]);
    assert_eq!(match_tlsa(&[r], &presented, true), DaneMatch::NoMatch);
    // A wrong digest, an unknown matching type, garbage certificates.
    assert_eq!(
        match_tlsa(&[rec(3, 1, 1, vec![1; 32])], &presented, false),
        DaneMatch::NoMatch
    );
    assert_eq!(
        match_tlsa(&[rec(3, 1, 9, vec![1; 32])], &presented, false),
        DaneMatch::NoUsableRecords
    );
    let junk = [CertificateDer::from(vec![0x30, 0x01])];
    assert_eq!(
        match_tlsa(&[rec(3, 1, 1, vec![1; 32])], &junk, false),
        DaneMatch::NoMatch
    );
    assert_eq!(
        tlsa_name(5222, "xmpp.example.test."),
        "_5222._tcp.xmpp.example.test."
    );
}

fn discovery() -> Discovery {
    let mut d = Discovery::default();
    for (service, mode, name) in [
        (
            Service::C2s,
            Mode::Starttls,
            "_xmpp-client._tcp.example.test",
        ),
        (
            Service::S2s,
            Mode::Starttls,
            "_xmpp-server._tcp.example.test",
        ),
    ] {
        d.records.push(DiscoveryRecord {
            name: name.into(),
            service,
            mode,
            outcome: DiscoveryOutcome::Found,
            records: vec![],
            detail: None,
        });
        d.targets.push(crate::check::dns::Target {
            service,
            mode,
            source: EndpointSource::Srv,
            host: format!("{}.example.test", service.as_str()),
            port: service.default_port(),
            priority: Some(0),
            weight: Some(0),
        });
    }
    d
}

#[test]
fn bogus_answers_fail_their_service_only() {
    let mut d = discovery();
    let a = Assessment {
        srv: vec![
            (
                Service::C2s,
                Mode::Starttls,
                "_xmpp-client._tcp.example.test".into(),
                DnssecStatus::Bogus("bad".into()),
            ),
            (
                Service::S2s,
                Mode::Starttls,
                "_xmpp-server._tcp.example.test".into(),
                DnssecStatus::Secure,
            ),
        ],
        ..Assessment::default()
    };
    degrade_discovery(&a, &mut d);
    assert_eq!(d.failed, vec![Service::C2s]);
    assert_eq!(d.records[0].outcome, DiscoveryOutcome::Error);
    assert!(
        d.records[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("bogus")
    );
    assert_eq!(d.records[1].outcome, DiscoveryOutcome::Found);

    // A bogus address answer fails the services whose targets use that host.
    let mut d = discovery();
    let mut a = Assessment::default();
    a.hosts
        .insert("s2s.example.test".into(), DnssecStatus::Bogus("bad".into()));
    a.hosts
        .insert("c2s.example.test".into(), DnssecStatus::Secure);
    degrade_discovery(&a, &mut d);
    assert_eq!(d.failed, vec![Service::S2s]);
    assert!(
        d.records
            .iter()
            .any(|r| r.name == "s2s.example.test" && r.outcome == DiscoveryOutcome::Error)
    );

    // A forged denial (bogus NSEC) may hide endpoints: the service fails too.
    let mut d = discovery();
    d.records.push(DiscoveryRecord {
        name: "_xmpps-client._tcp.example.test".into(),
        service: Service::C2s,
        mode: Mode::DirectTls,
        outcome: DiscoveryOutcome::NoRecords,
        records: vec![],
        detail: None,
    });
    let a = Assessment {
        srv_absent: vec![(
            Service::C2s,
            Mode::DirectTls,
            "_xmpps-client._tcp.example.test".into(),
            DnssecStatus::Bogus("bad".into()),
        )],
        ..Assessment::default()
    };
    degrade_discovery(&a, &mut d);
    assert_eq!(d.failed, vec![Service::C2s]);
    assert_eq!(d.records[2].outcome, DiscoveryOutcome::Error);

    // Secure, insecure and undetermined answers change nothing.
    let mut d = discovery();
    let mut a = Assessment::default();
    a.hosts
        .insert("c2s.example.test".into(), DnssecStatus::Insecure);
    a.hosts.insert(
        "s2s.example.test".into(),
        DnssecStatus::Indeterminate("timeout".into()),
    );
    degrade_discovery(&a, &mut d);
    assert!(d.failed.is_empty());
}

#[test]
fn dnssec_advisory_words() {
    let unavailable = Assessment {
        unavailable: Some("no signatures".into()),
        ..Assessment::default()
    };
    assert!(
        advisories("example.test", &Assessment::default(), &[]).is_empty(),
        "nothing validated, nothing said"
    );
    let adv = advisories("example.test", &unavailable, &[]);
    assert_eq!(adv.len(), 1);
    assert_eq!(adv[0].id, "dnssec");
    assert_eq!(adv[0].level, AdvisoryLevel::Info);
    assert!(adv[0].summary.contains("could not be determined"));

    let mut insecure = Assessment::default();
    insecure
        .hosts
        .insert("xmpp.example.test".into(), DnssecStatus::Insecure);
    insecure.srv.push((
        Service::C2s,
        Mode::Starttls,
        "_xmpp-client._tcp.example.test".into(),
        DnssecStatus::Secure,
    ));
    let adv = advisories("example.test", &insecure, &[]);
    assert_eq!(adv[0].level, AdvisoryLevel::Info);
    assert!(adv[0].summary.contains("(insecure)"), "{}", adv[0].summary);
    assert!(adv[0].fix.as_deref().unwrap_or("").contains("DS record"));
    assert_eq!(
        adv[0].evidence,
        vec![
            "_xmpp-client._tcp.example.test SRV: secure".to_string(),
            "xmpp.example.test A/AAAA: insecure".to_string()
        ]
    );
}

#[test]
fn dane_advisories() {
    let c = chain();
    let mut ep = crate::report::Endpoint {
        service: Service::C2s,
        mode: Mode::Starttls,
        source: EndpointSource::Srv,
        host: "xmpp.example.test".into(),
        port: 5222,
        address: "192.0.2.1".into(),
        priority: None,
        weight: None,
        stream: None,
        pre_tls_features: None,
        starttls: None,
        tls: None,
        certificate: None,
        post_tls_features: None,
        probes: vec![],
        posture: vec![],
        post_tls_error: None,
        error: None,
        error_kind: None,
        duration_ms: 0,
        presented: crate::report::PresentedChain(vec![c.leaf.clone(), c.ca.clone()]),
    };
    let good = rec(3, 1, 1, Sha256::digest(&c.leaf_spki).to_vec());
    let suggestion = suggested_tlsa(c.leaf.as_ref()).expect("suggestion");
    assert_eq!(suggestion, good.to_text());
    let key = ("xmpp.example.test".to_string(), 5222);
    let mut a = Assessment::default();
    a.hosts
        .insert("xmpp.example.test".into(), DnssecStatus::Secure);

    a.tlsa.insert(key.clone(), TlsaLookup::Secure(vec![good]));
    let adv = advisories("example.test", &a, std::slice::from_ref(&ep));
    assert_eq!(adv[1].id, "dane");
    assert_eq!(adv[1].level, AdvisoryLevel::Info);
    assert!(adv[1].summary.contains("match the presented certificate"));

    a.tlsa.insert(
        key.clone(),
        TlsaLookup::Secure(vec![rec(3, 1, 1, vec![0; 32])]),
    );
    let adv = advisories("example.test", &a, std::slice::from_ref(&ep));
    assert_eq!(adv[1].level, AdvisoryLevel::Warn);
    let fix = adv[1].fix.clone().unwrap_or_default();
    assert!(
        fix.contains(&format!(
            "`_5222._tcp.xmpp.example.test. IN TLSA {suggestion}`"
        )),
        "{fix}"
    );

    a.tlsa.insert(key.clone(), TlsaLookup::Bogus("bad".into()));
    let adv = advisories("example.test", &a, std::slice::from_ref(&ep));
    assert_eq!(adv[1].level, AdvisoryLevel::Warn);
    assert!(adv[1].summary.contains("(bogus)"));

    // No certificate presented (the handshake failed): no claim of a match, no panic.
    ep.presented = crate::report::PresentedChain::default();
    a.tlsa.insert(key, TlsaLookup::NoRecords);
    let adv = advisories("example.test", &a, &[ep]);
    assert_eq!(adv[1].level, AdvisoryLevel::Info);
    assert!(adv[1].fix.as_deref().unwrap_or("").contains("3 1 1"));
}
