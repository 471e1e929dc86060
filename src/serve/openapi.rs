//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the code with utoipa (the
//! handlers' `#[utoipa::path]` attributes in `src/serve/http.rs` and the `ToSchema` derives of
//! `src/serve/model.rs`), so that it cannot drift from what the service serves.
//!
//! One simplification: a check's `report` is described as a plain object. The report is large,
//! versioned on its own (`report-v1`, `crate::report::Report`) and only ever gains fields; the
//! API's own shapes around it are described in full.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::serve::http;
use crate::serve::model::{
    ApiErrorBody, CheckRequest, CheckResource, CheckState, DomainResource, HistoryPoint,
};

/// The verdict of a report, as its JSON spells it (`crate::report::Verdict`).
#[derive(utoipa::ToSchema)]
#[schema(as = Verdict)]
#[allow(dead_code)] // a schema only: never built
pub enum VerdictSchema {
    #[schema(rename = "pass")]
    Pass,
    #[schema(rename = "fail")]
    Fail,
    #[schema(rename = "inconclusive")]
    Inconclusive,
    #[schema(rename = "no-service")]
    NoService,
}

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "xmpp-manifesto check service",
        description = "Runs `manifesto check` for anyone: whether an XMPP service really enforces TLS. \
                       A bearer token (for the bot and the sweep) raises the rate limits."
    ),
    paths(
        http::index,
        http::form_check,
        http::domain_page,
        http::post_check,
        http::get_check,
        http::get_domain,
        http::openapi,
        http::metrics,
        http::style,
        http::healthz,
    ),
    components(schemas(
        CheckState,
        CheckRequest,
        CheckResource,
        HistoryPoint,
        DomainResource,
        ApiErrorBody,
        VerdictSchema
    )),
    modifiers(&Bearer)
)]
struct ApiDoc;

/// The document as JSON.
pub fn document() -> String {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot render the OpenAPI document: {e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented() {
        let doc: serde_json::Value = serde_json::from_str(&document()).unwrap();
        for (method, path) in http::ROUTES {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is not in the OpenAPI document"
            );
        }
        let schemas = &doc["components"]["schemas"];
        for name in ["CheckResource", "DomainResource", "ApiErrorBody", "Verdict"] {
            assert!(schemas[name].is_object(), "{name}: {schemas}");
        }
    }
}
