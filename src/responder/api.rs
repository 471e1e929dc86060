//! The responder's HTTP API, for checkers (`ApiClient`):
//! - `GET /v1/connections?from=DOMAIN&since_ms=N[&nonce=K]` (bearer token): the records that
//!   concern DOMAIN and started at or after N, as [`Observations`] JSON, newest [`MAX_RECORDS`]
//!   at most, those carrying key nonce K always among them
//!   (so that an answer stays well under the client's 1 MiB cap);
//! - `GET /healthz` (no token): liveness and counters, nothing about peers.
//!
//! Served over plain HTTP on `api_listen` (loopback, behind a TLS reverse proxy that maps
//! `api_url` to it). HTTP/1 only; request headers capped in size and time, no request body,
//! connections capped in number and lifetime.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::check::responder::model::{ConnectionRecord, Observations};
use crate::responder::Shared;

/// Records in one answer at most, newest kept.
pub const MAX_RECORDS: usize = 32;
/// API connections open at once.
const MAX_CONNECTIONS: usize = 64;
/// Time to send the request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// One API connection's lifetime, keep-alive included.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// Bytes buffered for one request (hyper's minimum is 8 KiB).
const MAX_BUFFER: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
struct ConnectionsQuery {
    from: Option<String>,
    since_ms: Option<u64>,
    /// A key's nonce: the records carrying it are always in the answer, whatever the cap.
    nonce: Option<String>,
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/connections", get(connections))
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::max(1024))
        .with_state(shared)
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| shared.secret.api_token_matches(token))
}

async fn connections(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<ConnectionsQuery>, QueryRejection>,
) -> Response {
    if !authorized(&shared, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "unauthorized\n",
        )
            .into_response();
    }
    let Ok(Query(query)) = query else {
        return (StatusCode::BAD_REQUEST, "bad query\n").into_response();
    };
    let mut seen: Observations =
        shared.observations(query.from.as_deref(), query.since_ms.unwrap_or(0));
    seen.connections = capped(seen.connections, query.nonce.as_deref());
    Json(seen).into_response()
}

/// The newest [`MAX_RECORDS`], but the records that carry `nonce` first: a flood of
/// connections that claim to be the target must not push a checker's proof out of the answer.
fn capped(records: Vec<ConnectionRecord>, nonce: Option<&str>) -> Vec<ConnectionRecord> {
    let (mut keyed, mut rest): (Vec<_>, Vec<_>) = records
        .into_iter()
        .partition(|r| nonce.is_some_and(|n| r.verify_of(n).is_some()));
    keyed.truncate(MAX_RECORDS);
    let room = MAX_RECORDS - keyed.len();
    let excess = rest.len().saturating_sub(room);
    rest.drain(..excess);
    keyed.extend(rest);
    keyed
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    Json(serde_json::json!({
        "ok": true,
        "open": shared.gate.open(),
        "records": shared.store().len(),
        "refused": shared.gate.refused(),
    }))
    .into_response()
}

/// Serves the API on `listener` until the responder stops.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let app = router(Arc::clone(&shared));
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut stop = shared.stop.clone();
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            accepted = listener.accept() => accepted,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                tracing::warn!("accept on the API listener: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Full: the connection is closed at once.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let mut stop = shared.stop.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_BUFFER);
            let connection = builder.serve_connection(TokioIo::new(tcp), service);
            tokio::select! {
                _ = tokio::time::timeout(CONNECTION_LIFETIME, connection) => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::responder::model::VerifySeen;

    /// A flood of newer records cannot push the one with the checker's key out of the answer.
    #[test]
    fn the_keyed_record_survives_the_cap() {
        let mut records: Vec<ConnectionRecord> = (0..40)
            .map(|id| ConnectionRecord {
                id,
                ..ConnectionRecord::default()
            })
            .collect();
        records[0].verifies.push(VerifySeen {
            from: "target.test".into(),
            to: "probe.test".into(),
            id: "s1".into(),
            nonce: Some("00112233aabbccdd".into()),
            secure: true,
            answered: "valid".into(),
            reason: "minted by a checker".into(),
            at_ms: 0,
        });
        let kept = capped(records.clone(), Some("00112233aabbccdd"));
        assert_eq!(kept.len(), MAX_RECORDS);
        assert!(kept.iter().any(|r| r.id == 0));
        assert!(kept.iter().any(|r| r.id == 39));
        let without = capped(records, None);
        assert_eq!(without.len(), MAX_RECORDS);
        assert!(!without.iter().any(|r| r.id == 0));
    }
}
