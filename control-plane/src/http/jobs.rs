//! REST handlers for jobs: submit (`POST /api/v1/jobs`), list, details, cancel. Unknown
//! ids answer 404 with the error body; invalid SQL 400 with line and column.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use eddy_api::checkpoints::{CheckpointDetails, CheckpointsResponse};
use eddy_api::error::{ErrorBody, codes};
use eddy_api::jobs::{CancelJobResponse, JobDetails, JobsResponse, SubmitJobRequest};

use super::{AppState, api_error};
use crate::jobs::JobError;

/// Submit a Flink SQL script as a job.
#[utoipa::path(
    post,
    path = "/api/v1/jobs",
    request_body = SubmitJobRequest,
    responses(
        (status = 201, body = JobDetails),
        (status = 400, description = "Invalid request or SQL (with line and column)", body = ErrorBody),
        (status = 503, body = ErrorBody)
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    Json(request): Json<SubmitJobRequest>,
) -> Response {
    match state.jobs.submit(request).await {
        Ok(details) => (StatusCode::CREATED, Json(details)).into_response(),
        Err(e) => job_error(e),
    }
}

/// Jobs, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", responses((status = 200, body = JobsResponse)))]
pub async fn list(State(state): State<AppState>) -> Response {
    match state.jobs.list().await {
        Ok(jobs) => Json(JobsResponse { jobs }).into_response(),
        Err(e) => job_error(e),
    }
}

/// A job: status, attempt, vertices with their subtasks (worker, slot, status,
/// metrics), edges, exceptions and status history.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobDetails), (status = 404, body = ErrorBody))
)]
pub async fn details(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.jobs.details(&id).await {
        Ok(Some(details)) => Json(details).into_response(),
        Ok(None) => no_such_job(&id),
        Err(e) => job_error(e),
    }
}

/// Cancel a job (202: it moves to CANCELLING, then CANCELED).
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/cancel",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 202, body = CancelJobResponse), (status = 404, body = ErrorBody))
)]
pub async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.jobs.cancel(&id).await {
        Ok(Some(answer)) => (StatusCode::ACCEPTED, Json(answer)).into_response(),
        Ok(None) => no_such_job(&id),
        Err(e) => job_error(e),
    }
}

/// A job's checkpoint statistics: counts, latest, summary and history.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/checkpoints",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = CheckpointsResponse), (status = 404, body = ErrorBody))
)]
pub async fn checkpoints(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.jobs.checkpoints(&id).await {
        Ok(Some(stats)) => Json(stats).into_response(),
        Ok(None) => no_such_job(&id),
        Err(e) => job_error(e),
    }
}

/// One checkpoint per vertex and subtask: ack time, sync/async duration, alignment,
/// start delay, state size, key groups, files.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/checkpoints/{cid}",
    params(("id" = String, Path, description = "Job id"), ("cid" = u64, Path, description = "Checkpoint id")),
    responses((status = 200, body = CheckpointDetails), (status = 404, body = ErrorBody))
)]
pub async fn checkpoint(
    State(state): State<AppState>,
    Path((id, cid)): Path<(String, u64)>,
) -> Response {
    match state.jobs.checkpoint(&id, cid).await {
        Ok(Some(details)) => Json(details).into_response(),
        Ok(None) => api_error(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            format!("no checkpoint {cid} of job {id}"),
        ),
        Err(e) => job_error(e),
    }
}

pub(super) fn no_such_job(id: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        codes::NOT_FOUND,
        format!("no job {id}"),
    )
}

pub(super) fn job_error(e: JobError) -> Response {
    match e {
        JobError::InvalidSql(body) => (StatusCode::BAD_REQUEST, Json(body)).into_response(),
        JobError::BadRequest(m) => api_error(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, m),
        JobError::Conflict(m) => api_error(StatusCode::CONFLICT, codes::CONFLICT, m),
        JobError::NoPlanner => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::UNAVAILABLE,
            e.to_string(),
        ),
        JobError::Store(_) => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::UNAVAILABLE,
            e.to_string(),
        ),
        JobError::Corrupt { .. } => api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            e.to_string(),
        ),
    }
}
