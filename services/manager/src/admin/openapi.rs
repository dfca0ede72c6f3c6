//! The OpenAPI 3 document of the admin HTTP surface, generated from the
//! code: `utoipa` reads the `#[utoipa::path]` annotations on the handlers in
//! `http.rs` and the `ToSchema` derives on the view types in `view.rs`, so
//! the document cannot drift from what the router serves. Served at
//! `/api/v1/openapi.json`.

use super::{http, view};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mpcluster manager admin API",
        description = "Read-only views of a manager's objects, connections and counters, \
                       two operator actions, and an event stream. Every route except \
                       /healthz and /readyz needs 'Authorization: Bearer <admin token>'."
    ),
    paths(
        http::healthz,
        http::readyz,
        http::metrics,
        http::list_objects,
        http::get_object,
        http::delete_object,
        http::list_connections,
        http::drop_connection,
        http::stats,
        http::events,
        http::openapi,
    ),
    components(schemas(
        view::ObjectInfo,
        view::ObjectDetail,
        view::ConnRef,
        view::ConnectionInfo,
        view::Stats,
        view::EventInfo,
        view::EventKind,
        http::ErrorBody,
    )),
    modifiers(&BearerToken),
    tags(
        (name = "health", description = "Liveness and readiness, open to all"),
        (name = "metrics", description = "Prometheus scrape endpoint"),
        (name = "objects", description = "Shared objects held by the manager"),
        (name = "connections", description = "Open data-plane connections"),
        (name = "stats", description = "Whole-manager counters"),
        (name = "events", description = "Live event stream (server-sent events)"),
        (name = "meta", description = "This document"),
    )
)]
struct ApiDoc;

/// Declares the `bearer` security scheme the paths refer to.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The manager's admin token (MPCLUSTER_ADMIN_TOKEN)"))
                    .build(),
            ),
        );
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// The document as pretty JSON.
pub fn document_json() -> String {
    // Serialising utoipa's own model of plain maps and strings cannot fail;
    // the fallback keeps the endpoint answering JSON regardless.
    document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_every_route_and_the_security_scheme() {
        let doc: serde_json::Value = serde_json::from_str(&document_json()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/healthz",
            "/readyz",
            "/metrics",
            "/api/v1/objects",
            "/api/v1/objects/{id}",
            "/api/v1/connections",
            "/api/v1/connections/{id}",
            "/api/v1/stats",
            "/api/v1/events",
            "/api/v1/openapi.json",
        ] {
            assert!(
                paths.contains_key(p),
                "{p} missing from the OpenAPI document"
            );
        }
        assert!(paths["/api/v1/objects/{id}"]["delete"].is_object());
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        let obj = &doc["components"]["schemas"]["ObjectInfo"]["properties"];
        for field in ["id", "typeid", "refcount", "orphan", "size", "conns"] {
            assert!(obj[field].is_object(), "ObjectInfo.{field} missing");
        }
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    }
}
