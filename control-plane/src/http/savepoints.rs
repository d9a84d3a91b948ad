//! REST handlers of savepoints, Flink's asynchronous-operation pattern:
//! `POST /api/v1/jobs/{id}/savepoints` and `POST /api/v1/jobs/{id}/stop` answer `202`
//! with a trigger id, `GET /api/v1/jobs/{id}/savepoints/{trigger_id}` polls it. Bodies
//! are optional (an empty body takes the defaults).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use eddy_api::error::{ErrorBody, codes};
use eddy_api::savepoints::{
    RescaleRequest, SavepointRequest, SavepointStatus, SavepointTriggerResponse, StopJobRequest,
};
use serde::de::DeserializeOwned;

use super::jobs::{job_error, no_such_job};
use super::{AppState, api_error};
use crate::jobs::savepoints::StopMode;

/// An optional JSON body: empty → the defaults.
fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, Response> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        api_error(
            StatusCode::BAD_REQUEST,
            codes::BAD_REQUEST,
            format!("invalid request body: {e}"),
        )
    })
}

fn accepted(
    id: &str,
    result: Result<Option<SavepointTriggerResponse>, crate::jobs::JobError>,
) -> Response {
    match result {
        Ok(Some(answer)) => (StatusCode::ACCEPTED, Json(answer)).into_response(),
        Ok(None) => no_such_job(id),
        Err(e) => job_error(e),
    }
}

/// Trigger a savepoint of a running job (202 with the trigger id to poll).
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/savepoints",
    params(("id" = String, Path, description = "Job id")),
    request_body(content = SavepointRequest, description = "Optional"),
    responses(
        (status = 202, body = SavepointTriggerResponse),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The job is not running", body = ErrorBody)
    )
)]
pub async fn trigger(
    State(state): State<AppState>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let request: SavepointRequest = match body(&bytes) {
        Ok(r) => r,
        Err(response) => return response,
    };
    let result = state
        .jobs
        .trigger_savepoint(
            &id,
            request.trigger_id,
            request.target_directory,
            StopMode::Run,
        )
        .await;
    accepted(&id, result)
}

/// Stop a job with a savepoint (202 with the trigger id; the job FINISHES once the
/// savepoint completed).
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/stop",
    params(("id" = String, Path, description = "Job id")),
    request_body(content = StopJobRequest, description = "Optional"),
    responses(
        (status = 202, body = SavepointTriggerResponse),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The job is not running", body = ErrorBody)
    )
)]
pub async fn stop(State(state): State<AppState>, Path(id): Path<String>, bytes: Bytes) -> Response {
    let request: StopJobRequest = match body(&bytes) {
        Ok(r) => r,
        Err(response) => return response,
    };
    let stop = if request.drain {
        StopMode::Drain
    } else {
        StopMode::Stop
    };
    let result = state
        .jobs
        .trigger_savepoint(&id, request.trigger_id, request.target_directory, stop)
        .await;
    accepted(&id, result)
}

/// Rescale a running job: stop it with a savepoint and restart it from there at the
/// new parallelism (202 with the savepoint's trigger id).
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/rescale",
    params(("id" = String, Path, description = "Job id")),
    request_body = RescaleRequest,
    responses(
        (status = 202, body = SavepointTriggerResponse),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The job is not running", body = ErrorBody)
    )
)]
pub async fn rescale(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(request): Json<RescaleRequest>,
) -> Response {
    let result = state
        .jobs
        .rescale(&id, request.parallelism, request.trigger_id)
        .await;
    accepted(&id, result)
}

/// The status of a savepoint or stop operation.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/savepoints/{trigger_id}",
    params(
        ("id" = String, Path, description = "Job id"),
        ("trigger_id" = String, Path, description = "The operation's trigger id")
    ),
    responses((status = 200, body = SavepointStatus), (status = 404, body = ErrorBody))
)]
pub async fn status(
    State(state): State<AppState>,
    Path((id, trigger_id)): Path<(String, String)>,
) -> Response {
    match state.jobs.savepoint_status(&id, &trigger_id) {
        Some(status) => Json(status).into_response(),
        None => api_error(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            format!("no savepoint operation {trigger_id} of job {id}"),
        ),
    }
}
