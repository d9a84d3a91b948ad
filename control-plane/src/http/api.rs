//! REST handlers for cluster state: health, overview, workers, cluster (Raft), and the
//! OpenAPI document.

use axum::Json;
use axum::extract::State;
use eddy_api::error::ErrorBody;
use eddy_api::rest::{ClusterInfo, Overview, WorkersResponse};

use super::AppState;

/// Liveness of this master's HTTP server.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "The master is up", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Cluster totals.
#[utoipa::path(get, path = "/api/v1/overview", responses((status = 200, body = Overview)))]
pub async fn overview(State(state): State<AppState>) -> Json<Overview> {
    // Jobs do not exist yet (the scheduler comes with the cluster issue): none run.
    let jobs_running = 0;
    Json(state.registry.overview(jobs_running))
}

/// Workers with their slots.
#[utoipa::path(get, path = "/api/v1/workers", responses((status = 200, body = WorkersResponse)))]
pub async fn workers(State(state): State<AppState>) -> Json<WorkersResponse> {
    Json(WorkersResponse {
        workers: state.registry.workers(),
    })
}

/// Masters, their Raft roles, the leader and the term.
#[utoipa::path(get, path = "/api/v1/cluster", responses((status = 200, body = ClusterInfo)))]
pub async fn cluster(State(state): State<AppState>) -> Json<ClusterInfo> {
    Json(state.raft.cluster_info())
}

/// This document: the OpenAPI description of every route.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    responses((status = 200, description = "OpenAPI 3.1 document"), (status = 404, body = ErrorBody))
)]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(super::openapi())
}
