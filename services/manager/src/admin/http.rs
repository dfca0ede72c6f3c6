//! The admin HTTP surface: one axum router for health checks, Prometheus
//! metrics, the JSON API under `/api/v1`, the web page, and the gRPC
//! service (which tonic serves as a tower service under its own path, so
//! HTTP/1.1 and gRPC's HTTP/2 share the admin port).
//!
//! `/healthz`, `/readyz` and the page's static files are open; every other
//! route is behind the token middleware (`auth.rs`), and gRPC behind its
//! interceptor. Handlers only translate: the answers come from the view
//! (`view.rs`), shared with gRPC. Errors are JSON `{"error": "..."}`.

use super::auth::{require_token, AdminToken};
use super::view::{
    AdminView, ConnectionInfo, EventInfo, ObjectDetail, ObjectInfo, Stats, ViewError,
};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Serialize;
use std::convert::Infallible;
use std::sync::Arc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use utoipa::ToSchema;

type ViewState = State<Arc<AdminView>>;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
}

/// An error answer: status plus `{"error": message}`.
pub fn error(status: StatusCode, message: impl Into<String>) -> (StatusCode, Json<ErrorBody>) {
    (
        status,
        Json(ErrorBody {
            error: message.into(),
        }),
    )
}

impl IntoResponse for ViewError {
    fn into_response(self) -> Response {
        let status = match self {
            ViewError::NoSuchObject(_) | ViewError::NoSuchConnection(_) => StatusCode::NOT_FOUND,
            ViewError::Named(_) => StatusCode::CONFLICT,
        };
        error(status, self.to_string()).into_response()
    }
}

/// The whole admin surface on one router.
pub fn router(view: Arc<AdminView>, token: Arc<AdminToken>) -> Router {
    let api = Router::new()
        .route("/objects", get(list_objects))
        .route("/objects/{id}", get(get_object).delete(delete_object))
        .route("/connections", get(list_connections))
        .route("/connections/{id}", delete(drop_connection))
        .route("/stats", get(stats))
        .route("/events", get(events))
        .route("/openapi.json", get(openapi));
    let protected = Router::new()
        .nest("/api/v1", api)
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            token.clone(),
            require_token,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(super::page::routes())
        .merge(protected)
        .route_service(
            super::grpc::ROUTE,
            super::grpc::service(view.clone(), token),
        )
        .fallback(not_found)
        .with_state(view)
}

async fn not_found() -> impl IntoResponse {
    error(StatusCode::NOT_FOUND, "no such admin endpoint")
}

/// Liveness: answers while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process runs", body = String, content_type = "text/plain")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: 200 while the data port serves, 503 once shutdown began.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Serving", body = String, content_type = "text/plain"),
        (status = 503, description = "Shutting down", body = String, content_type = "text/plain")))]
pub async fn readyz(State(view): ViewState) -> (StatusCode, &'static str) {
    if view.ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    }
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "metrics", security(("bearer" = [])),
    responses(
        (status = 200, description = "OpenMetrics text exposition", body = String,
         content_type = "application/openmetrics-text"),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub async fn metrics(State(view): ViewState) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        view.metrics(),
    )
}

/// Every object held, oldest first.
#[utoipa::path(get, path = "/api/v1/objects", tag = "objects", security(("bearer" = [])),
    responses(
        (status = 200, description = "Objects", body = [ObjectInfo]),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub async fn list_objects(State(view): ViewState) -> Json<Vec<ObjectInfo>> {
    Json(view.objects())
}

/// One object with a bounded `repr()` preview.
#[utoipa::path(get, path = "/api/v1/objects/{id}", tag = "objects", security(("bearer" = [])),
    params(("id" = String, Path, description = "Object id")),
    responses(
        (status = 200, description = "The object", body = ObjectDetail),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "Unknown id", body = ErrorBody)))]
pub async fn get_object(
    State(view): ViewState,
    Path(id): Path<String>,
) -> Result<Json<ObjectDetail>, ViewError> {
    view.object(&id).await.map(Json)
}

/// Disposes of an object whatever its reference count; answers what it was.
#[utoipa::path(delete, path = "/api/v1/objects/{id}", tag = "objects", security(("bearer" = [])),
    params(("id" = String, Path, description = "Object id")),
    responses(
        (status = 200, description = "Deleted; the object as it was", body = ObjectInfo),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "Unknown id", body = ErrorBody),
        (status = 409, description = "A named object from the config", body = ErrorBody)))]
pub async fn delete_object(
    State(view): ViewState,
    Path(id): Path<String>,
) -> Result<Json<ObjectInfo>, ViewError> {
    view.delete_object(&id).map(Json)
}

/// Every open data-plane connection.
#[utoipa::path(get, path = "/api/v1/connections", tag = "connections", security(("bearer" = [])),
    responses(
        (status = 200, description = "Connections", body = [ConnectionInfo]),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub async fn list_connections(State(view): ViewState) -> Json<Vec<ConnectionInfo>> {
    Json(view.connections())
}

/// Closes a data-plane connection; answers what it was.
#[utoipa::path(delete, path = "/api/v1/connections/{id}", tag = "connections", security(("bearer" = [])),
    params(("id" = u64, Path, description = "Connection id")),
    responses(
        (status = 200, description = "Dropped; the connection as it was", body = ConnectionInfo),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No open connection with that id", body = ErrorBody)))]
pub async fn drop_connection(
    State(view): ViewState,
    Path(id): Path<String>,
) -> Result<Json<ConnectionInfo>, Response> {
    let id: u64 = id.parse().map_err(|_| {
        error(
            StatusCode::NOT_FOUND,
            format!("no open connection with id {id:?}"),
        )
        .into_response()
    })?;
    view.drop_connection(id)
        .map(Json)
        .map_err(IntoResponse::into_response)
}

/// Counters of the whole manager.
#[utoipa::path(get, path = "/api/v1/stats", tag = "stats", security(("bearer" = [])),
    responses(
        (status = 200, description = "Stats", body = Stats),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub async fn stats(State(view): ViewState) -> Json<Stats> {
    Json(view.stats())
}

/// Server-sent events: one JSON `EventInfo` per `data:` line, until the
/// manager stops.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", security(("bearer" = [])),
    responses(
        (status = 200, description = "text/event-stream of EventInfo JSON", body = EventInfo,
         content_type = "text/event-stream"),
        (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub async fn events(
    State(view): ViewState,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let stream = ReceiverStream::new(view.watch()).map(|e| {
        // Serialising these plain structs cannot fail; an empty event is
        // the harmless fallback.
        Ok(SseEvent::default()
            .json_data(&e)
            .unwrap_or_else(|_| SseEvent::default()))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// This API's OpenAPI 3 document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", security(("bearer" = [])),
    responses((status = 200, description = "OpenAPI document", content_type = "application/json")))]
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi::document_json(),
    )
        .into_response()
}
