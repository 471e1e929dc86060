//! The address policy end to end: without `--allow-private`, DNS answers that lead to loopback
//! or the runner's network through an IPv6 form (NAT64, 6to4, Teredo, IPv4-mapped) are never
//! contacted. Runs in a loopback-only network namespace, so a wrong connect fails locally and
//! no packet can leave the machine (see `support::netns`).

use std::net::Ipv6Addr;

use crate::netns_test_name;
use crate::support::dns::{DnsServer, Zone};
use crate::support::netns;

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_forms_of_private_addresses_are_refused_before_connecting() {
    if !netns::enter(&netns_test_name!(
        "ipv6_forms_of_private_addresses_are_refused_before_connecting"
    )) {
        return;
    }
    let hosts: [(&str, Ipv6Addr); 4] = [
        ("nat64.example.test", "64:ff9b::7f00:1".parse().unwrap()),
        (
            "sixtofour.example.test",
            "2002:a9fe:a9fe::1".parse().unwrap(),
        ),
        ("teredo.example.test", "2001:0:a00:1::1".parse().unwrap()),
        ("mapped.example.test", "::ffff:127.0.0.1".parse().unwrap()),
    ];
    let mut zone = Zone::new();
    for (i, (host, ip)) in hosts.iter().enumerate() {
        let port = 5222 + u16::try_from(i).unwrap();
        zone = zone
            .srv("_xmpp-client._tcp.example.test", 0, 5, port, host)
            .aaaa(host, *ip);
    }
    zone = zone.srv("_xmpp-server._tcp.example.test", 0, 5, 0, ".");
    let dns = DnsServer::start(zone).await;
    let run = crate::support::check::check(
        "example.test",
        &[
            "--resolver".into(),
            dns.resolver_arg().into(),
            "--timeout".into(),
            "2".into(),
        ],
    )
    .await;
    let endpoints = run.endpoints();
    assert_eq!(endpoints.len(), hosts.len(), "{}", run.dump());
    for ep in endpoints {
        let error = ep["error"].as_str().unwrap_or_default();
        assert_eq!(ep["error_kind"], "policy", "{}", run.dump());
        assert!(error.contains("not a public address"), "{error}");
        assert!(
            !error.contains("unreachable"),
            "a connect was attempted: {error}"
        );
    }
    assert_ne!(run.verdict(), "pass", "{}", run.dump());
}
