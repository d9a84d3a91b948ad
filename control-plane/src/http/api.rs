//! REST handlers for cluster state: health, overview, workers, cluster (Raft), Prometheus
//! metrics, and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use eddy_api::error::{ErrorBody, codes};
use eddy_api::rest::{ClusterInfo, Overview, WorkersResponse};

use super::AppState;
use crate::metrics::Sample;

/// Liveness of this master's HTTP server.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "The master is up", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Cluster totals.
#[utoipa::path(get, path = "/api/v1/overview", responses((status = 200, body = Overview)))]
pub async fn overview(State(state): State<AppState>) -> Json<Overview> {
    Json(current_overview(&state))
}

fn current_overview(state: &AppState) -> Overview {
    state.registry.overview(state.jobs.running_count())
}

/// Prometheus metrics of this master (text exposition format).
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let o = current_overview(&state);
    let sample = Sample {
        workers: u64::from(o.workers),
        slots_total: u64::from(o.slots_total),
        slots_available: u64::from(o.slots_available),
        raft_term: state.raft.term(),
        is_leader: state.raft.is_leader(),
    };
    match crate::metrics::render(state.registry.counters(), sample) {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => super::api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            e.to_string(),
        ),
    }
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
