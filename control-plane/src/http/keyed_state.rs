//! REST handler of the state browser:
//! `GET /api/v1/jobs/{id}/checkpoints/{cid}/state?vertex=…&key_group=…&prefix=…&limit=…&offset=…`
//! — one page of a vertex's keyed state in a completed checkpoint (read-only).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use eddy_api::error::{ErrorBody, codes};
use eddy_api::keyed_state::{KeyedStateQuery, KeyedStateResponse};

use super::jobs::job_error;
use super::{AppState, api_error};
use crate::jobs::state_browser::Unbrowsable;

/// Browse the keyed state of one vertex in a completed checkpoint: keys (as text), their
/// namespace (a window) and state values, paged, by key group and key prefix.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/checkpoints/{cid}/state",
    params(
        ("id" = String, Path, description = "Job id"),
        ("cid" = u64, Path, description = "Checkpoint id"),
        KeyedStateQuery
    ),
    responses(
        (status = 200, body = KeyedStateResponse),
        (status = 404, description = "No such job, checkpoint or vertex", body = ErrorBody),
        (status = 409, description = "Not completed, or its files were discarded", body = ErrorBody)
    )
)]
pub async fn keyed_state(
    State(state): State<AppState>,
    Path((id, cid)): Path<(String, u64)>,
    Query(query): Query<KeyedStateQuery>,
) -> Response {
    match state.jobs.keyed_state(&id, cid, &query).await {
        Ok(Ok(page)) => Json(page).into_response(),
        Ok(Err(Unbrowsable::NotFound(m))) => api_error(StatusCode::NOT_FOUND, codes::NOT_FOUND, m),
        Ok(Err(Unbrowsable::Unavailable(m))) => api_error(StatusCode::CONFLICT, codes::CONFLICT, m),
        Err(e) => job_error(e),
    }
}
