//! `--node URL` against the real service: `manifesto check --node` prints the report the
//! service made (as if it were local, exit code from its verdict), and a stored result comes
//! back without a second check; a service that is gone is inconclusive, never a verdict.

use crate::service::{Serve, network_args, prosody_env, temp_db};
use crate::support::cli::manifesto;
use crate::support::pki::Pki;

fn check_via(node: &str, domain: &str) -> (i32, serde_json::Value, String) {
    let out = manifesto()
        .args(["check", domain, "--format", "json", "--node", node])
        .env_remove("MANIFESTO_NODE_TOKEN")
        .output()
        .expect("run manifesto check --node");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (
        out.status.code().unwrap_or(-1),
        json,
        format!("{stdout}\n{stderr}"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn check_with_node_uses_the_services_report() {
    let pki = Pki::new();
    let domain = "node-pass.example".to_owned();
    let s = prosody_env(&pki, std::slice::from_ref(&domain), &[]).await;
    let (_dir, db) = temp_db();
    let serve = Serve::start(&db, &network_args(&s));
    let node = format!("http://{}", serve.addr);

    // The client itself has no resolver, CA or --allow-private for the test's Prosody: only
    // the service can check it, so a pass proves the report came from the service.
    let (code, report, dump) = tokio::task::block_in_place(|| check_via(&node, &domain));
    assert_eq!(code, 0, "{dump}");
    assert_eq!(report["domain"], domain.as_str(), "{dump}");
    assert_eq!(report["verdict"], "pass", "{dump}");
    assert_eq!(
        report["requirements"]["s2s-tls-required"]["status"], "pass",
        "{dump}"
    );
    let checked_at = report["checked_at"].clone();

    // Asked again within --fresh: the same stored report.
    let (code, again, dump) = tokio::task::block_in_place(|| check_via(&node, &domain));
    assert_eq!(code, 0, "{dump}");
    assert_eq!(again["checked_at"], checked_at, "{dump}");

    // The service gone: inconclusive with the reason, exit 3.
    drop(serve);
    let (code, gone, dump) = tokio::task::block_in_place(|| check_via(&node, &domain));
    assert_eq!(code, 3, "{dump}");
    assert_eq!(gone["verdict"], "inconclusive", "{dump}");
    let summary = gone["requirements"]["c2s-tls-required"]["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(summary.contains("could not check it"), "{dump}");
}
