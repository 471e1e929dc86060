//! The HTTP face of the service (axum on hyper's HTTP/1): the routes, and the accept loop with
//! its limits.
//!
//! Routes ([`ROUTES`]; each is in the OpenAPI document, `src/serve/openapi.rs`):
//! `GET /`, `POST /check` (the form, no JavaScript: 303 to the domain's page), `GET
//! /check/{domain}`, `POST /api/v1/checks`, `GET /api/v1/checks/{id}`, `GET
//! /api/v1/domains/{domain}`, `GET /openapi.json`, `GET /metrics`, `GET /healthz`.
//!
//! Limits: request bodies [`MAX_BODY`] bytes, request headers [`MAX_BUFFER`] bytes and
//! [`MAX_HEADERS`] fields within [`HEADER_TIMEOUT`], one connection's lifetime
//! [`CONNECTION_LIFETIME`] (keep-alive included), [`MAX_CONNECTIONS`] connections at once
//! (beyond, a new connection is closed at once). TLS is left to a reverse proxy in front (the
//! service speaks plain HTTP on `--listen`, loopback by default); behind it, the client's address
//! is the proxy's unless `--trust-forwarded-for`, which takes the last `X-Forwarded-For` hop
//! (the one the proxy added; earlier hops are the client's word).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Extension, Form, Path, Query, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::check::normalize_domain;
use crate::serve::State;
use crate::serve::db::CheckRow;
use crate::serve::limits::Client;
use crate::serve::metrics::Rejection;
use crate::serve::model::{ApiErrorBody, CheckRequest, CheckResource, DomainResource};
use crate::serve::pages::{self, DomainPage, RecentCheck};
use crate::serve::queue::{Refusal, Submitted, submit};

/// Every route the router serves (method, path), for the OpenAPI test.
pub const ROUTES: [(&str, &str); 10] = [
    ("get", "/"),
    ("post", "/check"),
    ("get", "/check/{domain}"),
    ("post", "/api/v1/checks"),
    ("get", "/api/v1/checks/{id}"),
    ("get", "/api/v1/domains/{domain}"),
    ("get", "/openapi.json"),
    ("get", "/metrics"),
    ("get", "/healthz"),
    ("get", "/style.css"),
];

/// A request body at most: `{"domain": ...}` or `domain=...`.
pub const MAX_BODY: usize = 4 * 1024;
/// Bytes buffered for one request's head (hyper's minimum is 8 KiB).
pub const MAX_BUFFER: usize = 16 * 1024;
pub const MAX_HEADERS: usize = 64;
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);
pub const MAX_CONNECTIONS: usize = 1024;
/// Rows of the front page's latest checks.
const RECENT: usize = 20;

/// The address of the peer of the connection, set by the accept loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub SocketAddr);

pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/check", post(form_check))
        .route("/check/{domain}", get(domain_page))
        .route("/api/v1/checks", post(post_check))
        .route("/api/v1/checks/{id}", get(get_check))
        .route("/api/v1/domains/{domain}", get(get_domain))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/style.css", get(style))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Serves connections on `listener` until `stop` turns true; open connections then finish
/// their request and close.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    let app = router(Arc::clone(&state));
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, usually: wait rather than spin.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let state = Arc::clone(&state);
        let stop = stop.clone();
        tokio::spawn(async move {
            let _slot = slot;
            serve_connection(tcp, peer, app, state, stop).await;
        });
    }
}

async fn serve_connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut req: axum::http::Request<_>| {
        state.metrics.http_request();
        req.extensions_mut().insert(Peer(peer));
        app.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_BUFFER)
        .max_headers(MAX_HEADERS);
    let connection = builder.serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(connection);
    let lifetime = tokio::time::sleep(CONNECTION_LIFETIME);
    tokio::pin!(lifetime);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = &mut lifetime => return,
        _ = stop.wait_for(|s| *s) => connection.as_mut().graceful_shutdown(),
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
}

/// Who a request counts against: its token's name, else its address.
fn client_of(state: &State, peer: Peer, headers: &HeaderMap) -> Client {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| state.tokens.verify(t.trim()));
    if let Some(name) = token {
        return Client::Token(name.to_owned());
    }
    Client::from_addr(client_ip(state, peer, headers))
}

fn client_ip(state: &State, peer: Peer, headers: &HeaderMap) -> IpAddr {
    if state.trust_forwarded_for {
        let last = headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|hop| hop.trim().parse::<IpAddr>().ok());
        if let Some(ip) = last {
            return ip;
        }
    }
    peer.0.ip()
}

pub(crate) fn resource(row: CheckRow, queue_position: Option<usize>) -> CheckResource {
    CheckResource {
        url: format!("/api/v1/checks/{}", row.id),
        page: format!("/check/{}", row.domain),
        id: row.id,
        domain: row.domain,
        state: row.state,
        queued_at: row.queued_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        queue_position,
        report: row.report,
        error: row.error,
    }
}

fn api_error(status: StatusCode, error: impl Into<String>, hint: Option<&str>) -> Response {
    let body = ApiErrorBody {
        error: error.into(),
        hint: hint.map(str::to_owned),
    };
    (status, Json(body)).into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::warn!("internal error: {e}");
    api_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error",
        Some("try again later"),
    )
}

fn retry_after(mut response: Response, wait: Duration) -> Response {
    let secs = wait.as_secs().max(1).to_string();
    if let Ok(value) = HeaderValue::from_str(&secs) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

const DOMAIN_HINT: &str =
    "give a domain name such as example.org: no scheme, user, port, path or IP address";

/// `POST /api/v1/checks`.
#[utoipa::path(
    post, path = "/api/v1/checks", tag = "checks",
    request_body = CheckRequest,
    responses(
        (status = 200, description = "A check of this domain finished recently: its stored result", body = CheckResource),
        (status = 202, description = "Queued (or already queued or running): poll its url", body = CheckResource,
            headers(("Location" = String, description = "The check's url"))),
        (status = 400, description = "Not a domain, or not a JSON body", body = ApiErrorBody),
        (status = 413, description = "Body larger than 4 KiB", body = ApiErrorBody),
        (status = 429, description = "Rate limit or queue full", body = ApiErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "The service is stopping", body = ApiErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub(crate) async fn post_check(
    AxumState(state): AxumState<Arc<State>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: Result<Json<CheckRequest>, JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => {
            state.metrics.rejected(Rejection::BadRequest);
            // One documented answer for every body that is not `{"domain": "..."}`: axum
            // tells a wrong type (422) and a missing content type (415) apart, clients need not.
            let status = match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            return api_error(
                status,
                rejection.body_text(),
                Some(r#"send {"domain": "example.org"} as application/json, at most 4 KiB"#),
            );
        }
    };
    let domain = match normalize_domain(&request.domain) {
        Ok(domain) => domain,
        Err(e) => {
            state.metrics.rejected(Rejection::InvalidDomain);
            return api_error(StatusCode::BAD_REQUEST, e.to_string(), Some(DOMAIN_HINT));
        }
    };
    let client = client_of(&state, peer, &headers);
    match submit(&state, &domain, &client).await {
        Ok(Submitted::Fresh(row)) => (StatusCode::OK, Json(resource(*row, None))).into_response(),
        Ok(Submitted::Pending(id)) => pending_response(&state, id).await,
        Err(refusal) => refusal_response(&state, refusal),
    }
}

async fn pending_response(state: &State, id: String) -> Response {
    let position = state.queue.position(&id);
    match state.db.get(id).await {
        Ok(Some(row)) => {
            let url = format!("/api/v1/checks/{}", row.id);
            let mut response =
                (StatusCode::ACCEPTED, Json(resource(row, position))).into_response();
            if let Ok(value) = HeaderValue::from_str(&url) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        Ok(None) => internal("a queued check has no row"),
        Err(e) => internal(e),
    }
}

fn refusal_response(state: &State, refusal: Refusal) -> Response {
    match refusal {
        Refusal::RateLimited(wait) => {
            let hint = format!(
                "at most {} new checks a minute from one address (an API token raises it); \
                 try again in {} s",
                state.per_minute,
                wait.as_secs().max(1)
            );
            let body = api_error(StatusCode::TOO_MANY_REQUESTS, "rate limited", Some(&hint));
            retry_after(body, wait)
        }
        Refusal::QueueFull(wait) => {
            let hint = format!(
                "the service is busy; try again in {} s",
                wait.as_secs().max(1)
            );
            let body = api_error(StatusCode::TOO_MANY_REQUESTS, "queue full", Some(&hint));
            retry_after(body, wait)
        }
        Refusal::Stopping => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is stopping",
            Some("try again in a minute"),
        ),
        Refusal::Db(e) => internal(e),
    }
}

/// Check ids are 32 hex digits: anything else is not looked up.
fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `GET /api/v1/checks/{id}`.
#[utoipa::path(
    get, path = "/api/v1/checks/{id}", tag = "checks",
    params(("id" = String, Path, description = "The check's id (32 hex digits)")),
    responses(
        (status = 200, description = "The check; its report when done", body = CheckResource),
        (status = 404, description = "No such check", body = ApiErrorBody),
    )
)]
pub(crate) async fn get_check(
    AxumState(state): AxumState<Arc<State>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    // A segment that is not even UTF-8 names no check: the documented 404, not axum's text.
    let id = id.map(|Path(id)| id).unwrap_or_default();
    if !valid_id(&id) {
        return api_error(StatusCode::NOT_FOUND, "no such check", None);
    }
    let position = state.queue.position(&id);
    match state.db.get(id).await {
        Ok(Some(row)) => Json(resource(row, position)).into_response(),
        Ok(None) => api_error(StatusCode::NOT_FOUND, "no such check", None),
        Err(e) => internal(e),
    }
}

/// `GET /api/v1/domains/{domain}`.
#[utoipa::path(
    get, path = "/api/v1/domains/{domain}", tag = "domains",
    params(("domain" = String, Path, description = "An XMPP domain (Unicode or A-label)")),
    responses(
        (status = 200, description = "The latest report and the history of verdicts", body = DomainResource),
        (status = 400, description = "Not a domain", body = ApiErrorBody),
        (status = 404, description = "Never checked here", body = ApiErrorBody),
    )
)]
pub(crate) async fn get_domain(
    AxumState(state): AxumState<Arc<State>>,
    domain: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(domain)) = domain else {
        let text = "the domain in the path is not valid UTF-8";
        return api_error(StatusCode::BAD_REQUEST, text, Some(DOMAIN_HINT));
    };
    let domain = match normalize_domain(&domain) {
        Ok(domain) => domain,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, e.to_string(), Some(DOMAIN_HINT)),
    };
    let (latest, history) = match tokio::try_join!(
        state.db.latest_done(domain.clone()),
        state.db.history(domain.clone())
    ) {
        Ok(found) => found,
        Err(e) => return internal(e),
    };
    if latest.is_none() && history.is_empty() {
        return api_error(
            StatusCode::NOT_FOUND,
            "no finished check of this domain",
            Some("POST /api/v1/checks to check it"),
        );
    }
    Json(DomainResource {
        domain,
        latest: latest.map(|row| resource(row, None)),
        history,
    })
    .into_response()
}

/// `GET /openapi.json`.
#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "This document", content_type = "application/json", body = Object)))]
pub(crate) async fn openapi(AxumState(state): AxumState<Arc<State>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.clone(),
    )
        .into_response()
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(AxumState(state): AxumState<Arc<State>>) -> Response {
    let (queued, running) = state.queue.lengths();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(queued, running),
    )
        .into_response()
}

/// `GET /healthz`.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "Alive", content_type = "application/json", body = Object)))]
pub(crate) async fn healthz(AxumState(state): AxumState<Arc<State>>) -> Response {
    let (queued, running) = state.queue.lengths();
    Json(serde_json::json!({ "ok": true, "queued": queued, "running": running })).into_response()
}

/// `GET /style.css`: the register's stylesheet, which the pages link (their
/// Content-Security-Policy allows no inline style).
#[utoipa::path(get, path = "/style.css", tag = "pages",
    responses((status = 200, description = "The pages' stylesheet", content_type = "text/css", body = String)))]
pub(crate) async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        pages::STYLE_CSS,
    )
        .into_response()
}

/// The form's body.
#[derive(Debug, Deserialize)]
pub(crate) struct FormCheck {
    domain: String,
}

/// `GET /`.
#[utoipa::path(get, path = "/", tag = "pages",
    responses((status = 200, description = "The form and the latest checks", content_type = "text/html", body = String)))]
pub(crate) async fn index(AxumState(state): AxumState<Arc<State>>) -> Response {
    index_page(&state, StatusCode::OK, None).await
}

async fn index_page(state: &State, status: StatusCode, message: Option<&str>) -> Response {
    let recent: Vec<RecentCheck> = match state.db.recent(RECENT).await {
        Ok(rows) => rows
            .into_iter()
            .map(|r| RecentCheck {
                domain: r.domain,
                verdict: r.verdict,
                at: r.at,
            })
            .collect(),
        Err(e) => return internal(e),
    };
    match pages::render_index(&recent, message) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => internal(e),
    }
}

/// `POST /check`: the form, without JavaScript.
#[utoipa::path(post, path = "/check", tag = "pages",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "domain=example.org"),
    responses(
        (status = 303, description = "To the domain's page", headers(("Location" = String))),
        (status = 400, description = "The front page, saying what is wrong", content_type = "text/html", body = String),
        (status = 429, description = "The front page, saying when to try again", content_type = "text/html", body = String),
    ))]
pub(crate) async fn form_check(
    AxumState(state): AxumState<Arc<State>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    form: Result<Form<FormCheck>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        state.metrics.rejected(Rejection::BadRequest);
        let message = "Type a domain name, such as example.org.";
        return index_page(&state, StatusCode::BAD_REQUEST, Some(message)).await;
    };
    let domain = match normalize_domain(&form.domain) {
        Ok(domain) => domain,
        Err(_) => {
            state.metrics.rejected(Rejection::InvalidDomain);
            let message = "That is not a domain name: type one such as example.org, without \
                           https://, user, port or path.";
            return index_page(&state, StatusCode::BAD_REQUEST, Some(message)).await;
        }
    };
    let client = client_of(&state, peer, &headers);
    match submit(&state, &domain, &client).await {
        Ok(_) => see_other(&format!("/check/{domain}")),
        Err(Refusal::RateLimited(wait) | Refusal::QueueFull(wait)) => {
            let message = format!(
                "Too many checks right now: try again in {} seconds.",
                wait.as_secs().max(1)
            );
            let page = index_page(&state, StatusCode::TOO_MANY_REQUESTS, Some(&message)).await;
            retry_after(page, wait)
        }
        Err(Refusal::Stopping) => {
            let message = "The service is restarting: try again in a minute.";
            index_page(&state, StatusCode::SERVICE_UNAVAILABLE, Some(message)).await
        }
        Err(Refusal::Db(e)) => internal(e),
    }
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(e) => internal(e),
    }
}

/// The query of `GET /check/{domain}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DomainPageQuery {
    /// `off`: a pending page does not reload itself (WCAG 2.2.1); it links "Refresh" instead.
    #[serde(default)]
    refresh: Option<String>,
}

/// `GET /check/{domain}`.
#[utoipa::path(get, path = "/check/{domain}", tag = "pages",
    params(
        ("domain" = String, Path, description = "An XMPP domain"),
        ("refresh" = Option<String>, Query, description = "`off`: while a check is pending the page does not reload itself (no meta refresh) and offers a Refresh link instead; any other value, or none: it reloads itself every 2 seconds and offers a \"Stop refreshing\" link to `?refresh=off`"),
    ),
    responses(
        (status = 200, description = "The domain's page (refreshes itself while a check runs, unless `refresh=off`)", content_type = "text/html", body = String),
        (status = 400, description = "Not a domain: the front page", content_type = "text/html", body = String),
    ))]
pub(crate) async fn domain_page(
    AxumState(state): AxumState<Arc<State>>,
    domain: Result<Path<String>, PathRejection>,
    query: Result<Query<DomainPageQuery>, QueryRejection>,
) -> Response {
    // A query this page cannot read (a repeated `refresh`) is ignored, as an unknown one is.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let refresh = query.refresh.as_deref() != Some("off");
    // A segment that is not UTF-8 is no domain either: the documented HTML 400, not axum's text.
    let domain = domain.map(|Path(d)| d).unwrap_or_default();
    let Ok(domain) = normalize_domain(&domain) else {
        let message = "That is not a domain name.";
        return index_page(&state, StatusCode::BAD_REQUEST, Some(message)).await;
    };
    let found = tokio::try_join!(
        state.db.latest_any(domain.clone()),
        state.db.latest_done(domain.clone()),
        state.db.history(domain.clone())
    );
    let (current, done, history) = match found {
        Ok(found) => found,
        Err(e) => return internal(e),
    };
    let latest = done.as_ref().and_then(|row| row.report.as_ref());
    let position = current
        .as_ref()
        .and_then(|row| state.queue.position(&row.id));
    let mut page = domain_view(current.as_ref(), latest, &history, position);
    if let DomainPage::Pending { refresh: r, .. } = &mut page {
        *r = refresh;
    }
    let pending = matches!(page, DomainPage::Pending { .. });
    match pages::render_domain(&domain, &page) {
        Ok(html) => {
            let mut response = Html(html).into_response();
            if pending {
                // The page changes by itself: no cache may keep the pending one.
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            response
        }
        Err(e) => internal(e),
    }
}

fn domain_view<'a>(
    current: Option<&'a CheckRow>,
    latest: Option<&'a crate::report::Report>,
    history: &'a [crate::serve::model::HistoryPoint],
    queue_position: Option<usize>,
) -> DomainPage<'a> {
    use crate::serve::model::CheckState;
    let Some(current) = current else {
        return DomainPage::Unknown;
    };
    match (current.state, &current.report) {
        (CheckState::Queued | CheckState::Running, _) => DomainPage::Pending {
            state: current.state,
            queue_position,
            latest,
            history,
            refresh: true,
        },
        (CheckState::Done, Some(report)) => DomainPage::Done { report, history },
        // A stored report this build cannot read: show the latest one it can.
        (CheckState::Done, None) => match latest {
            Some(report) => DomainPage::Done { report, history },
            None => DomainPage::Unknown,
        },
        (CheckState::Aborted, _) => DomainPage::Aborted {
            error: current.error.as_deref().unwrap_or("aborted"),
            latest,
            history,
        },
    }
}
