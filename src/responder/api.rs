//! The responder's HTTP API, for checkers (`ApiClient`):
//! - `GET /v1/connections?from=DOMAIN&since_ms=N` (bearer token): the records that concern
//!   DOMAIN and started at or after N, as [`Observations`] JSON, newest [`MAX_RECORDS`] at most
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

use crate::check::responder::model::Observations;
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
    let excess = seen.connections.len().saturating_sub(MAX_RECORDS);
    seen.connections.drain(..excess);
    Json(seen).into_response()
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
