//! The JSON shapes of the service's API (`/api/v1`), shared by the service and by the
//! `--node` client (`crate::check::node`). Additive within v1.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::report::{Report, Verdict};

/// Where a check is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CheckState {
    Queued,
    Running,
    Done,
    /// Cut by a shutdown (or a crash found at start): recorded, never lost.
    Aborted,
}

/// `POST /api/v1/checks` body.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckRequest {
    pub domain: String,
}

/// One check: `POST /api/v1/checks` (202 queued, or 200 with a fresh stored result) and
/// `GET /api/v1/checks/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckResource {
    pub id: String,
    /// The normalised domain (A-label).
    pub domain: String,
    pub state: CheckState,
    /// `/api/v1/checks/{id}`.
    pub url: String,
    /// `/check/{domain}`: the page of the domain.
    pub page: String,
    #[serde(with = "time::serde::rfc3339")]
    pub queued_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// Checks ahead of this one in the queue, while queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u64>)]
    pub queue_position: Option<usize>,
    /// The report-v1 JSON, when done. A plain object in the OpenAPI document: the report is
    /// large and versioned on its own (`report-v1`, `crate::report::Report`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub report: Option<Report>,
    /// Why it was aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One point of a domain's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryPoint {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[schema(value_type = crate::serve::openapi::VerdictSchema)]
    pub verdict: Verdict,
    pub duration_ms: u64,
}

/// `GET /api/v1/domains/{domain}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DomainResource {
    pub domain: String,
    /// The latest finished check, with its report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<CheckResource>,
    /// Newest first, at most 100.
    pub history: Vec<HistoryPoint>,
}

/// An error body of the API, with a hint.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}
