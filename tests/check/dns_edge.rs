//! DNS as it is on runners and laptops: answers too large for UDP come over TCP, and large SRV
//! sets are capped with a note.

use crate::support::scenario::Scenario;

/// Sixty SRV records with long targets: far more than fits a UDP answer (hickory-server sets
/// TC and the checker must retry over TCP), and more than the cap of 16.
#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_srv_answer_is_retried_over_tcp_and_capped_with_a_note() {
    let domain = "big.example";
    let long = "a".repeat(50);
    let run = Scenario::new()
        .serve_zone(|mut zone, _| {
            for i in 0..60u16 {
                zone = zone.srv(
                    &format!("_xmpp-client._tcp.{domain}"),
                    10 + i,
                    0,
                    5222,
                    &format!("host{i:02}.{long}.{domain}"),
                );
            }
            zone.srv(&format!("_xmpp-server._tcp.{domain}"), 0, 0, 0, ".")
        })
        .await
        .check(domain, &["--timeout", "3", "--deadline", "10"])
        .await;
    let record = run.json["discovery"]
        .as_array()
        .expect("discovery")
        .iter()
        .find(|r| r["name"] == format!("_xmpp-client._tcp.{domain}"))
        .cloned()
        .expect("the c2s SRV record");
    let records = record["records"].as_array().expect("records");
    assert_eq!(records.len(), 16, "{}", run.dump());
    // The first by priority, whatever order the answer came in: proof that the whole answer
    // (over TCP) was read, not a truncated UDP remainder.
    assert!(
        records[0].as_str().unwrap_or_default().contains("host00."),
        "{}",
        run.dump()
    );
    assert!(
        record["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("60 SRV records"),
        "{}",
        run.dump()
    );
}
