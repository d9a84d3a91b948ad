//! The master's one HTTP port: REST under `/api/v1` (with its OpenAPI document), the
//! SSE event stream, `/healthz`, the gRPC services (workers, Raft) mounted by path,
//! and the dashboard's static files for every other path.

mod api;
pub(crate) mod events;
mod jobs;
mod keyed_state;
mod savepoints;
mod sql;
mod ui;

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use eddy_api::error::{ErrorBody, codes};
use eddy_api::rest::Event;
use tokio::sync::broadcast;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::raft::RaftNode;
use crate::registry::WorkerRegistry;
use crate::store::Store;

pub use events::EVENT_BUFFER;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub jobs: crate::jobs::JobManager,
    pub registry: Arc<WorkerRegistry>,
    pub raft: RaftNode,
    pub store: Store,
    pub events: broadcast::Sender<Event>,
    /// The SQL planner the binary injected (none: SQL endpoints answer 503).
    pub sql: Option<Arc<dyn crate::sql::SqlPlanner>>,
}

#[derive(OpenApi)]
#[openapi(info(
    title = "Eddy REST API",
    description = "Control plane of the Eddy stream processor"
))]
struct ApiDoc;

/// The REST routes and the OpenAPI document generated from their handlers.
fn api_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::healthz))
        .routes(routes!(api::metrics))
        .routes(routes!(api::overview))
        .routes(routes!(api::workers))
        .routes(routes!(api::cluster))
        .routes(routes!(sql::validate))
        .routes(routes!(jobs::submit, jobs::list))
        .routes(routes!(jobs::details))
        .routes(routes!(jobs::cancel))
        .routes(routes!(jobs::checkpoints))
        .routes(routes!(jobs::checkpoint))
        .routes(routes!(keyed_state::keyed_state))
        .routes(routes!(savepoints::trigger))
        .routes(routes!(savepoints::stop))
        .routes(routes!(savepoints::rescale))
        .routes(routes!(savepoints::status))
        .routes(routes!(events::events))
        .routes(routes!(api::openapi_json))
        .split_for_parts()
}

/// The OpenAPI document served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().1
}

/// Builds the whole router: `grpc` (tonic services) first, REST merged in, and a
/// fallback that answers unknown `/api` paths with JSON 404 and serves the dashboard
/// for everything else.
pub fn router(state: AppState, grpc: Router) -> Router {
    let (rest, _) = api_routes();
    grpc.merge(rest.with_state(state)).fallback(fallback)
}

async fn fallback(uri: Uri) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        return api_error(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            format!("no such API route: {path}"),
        );
    }
    ui::serve(path)
}

/// An error response with the REST API's error body.
pub fn api_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(ErrorBody::new(code, message))).into_response()
}
