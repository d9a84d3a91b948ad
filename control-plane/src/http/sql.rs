//! `POST /api/v1/sql/validate`: plans a script without running it — the planned job
//! graph if it is valid, else 400 with the error's line and column (the dashboard's
//! editor shows them as you type).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use eddy_api::error::{ErrorBody, codes};
use eddy_api::rest::{SqlValidateRequest, SqlValidateResponse};

use super::AppState;
use crate::sql::MAX_SQL_BYTES;

/// Upper bound on the parallelism a validation plans with.
const MAX_VALIDATE_PARALLELISM: u32 = 1024;

/// Validate a Flink SQL script and return its planned job graph.
#[utoipa::path(
    post,
    path = "/api/v1/sql/validate",
    request_body = SqlValidateRequest,
    responses(
        (status = 200, body = SqlValidateResponse),
        (status = 400, description = "Invalid SQL, with line and column", body = ErrorBody),
        (status = 503, body = ErrorBody)
    )
)]
pub async fn validate(
    State(state): State<AppState>,
    Json(request): Json<SqlValidateRequest>,
) -> Response {
    let Some(planner) = state.sql.clone() else {
        return super::api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::UNAVAILABLE,
            "this master has no SQL planner",
        );
    };
    if request.sql.len() > MAX_SQL_BYTES {
        return super::api_error(
            StatusCode::BAD_REQUEST,
            codes::BAD_REQUEST,
            format!("SQL longer than {MAX_SQL_BYTES} bytes"),
        );
    }
    let parallelism = request.parallelism.unwrap_or(1);
    if !(1..=MAX_VALIDATE_PARALLELISM).contains(&parallelism) {
        return super::api_error(
            StatusCode::BAD_REQUEST,
            codes::BAD_REQUEST,
            format!("parallelism must be 1..={MAX_VALIDATE_PARALLELISM}"),
        );
    }
    match planner.validate(request.sql, parallelism).await {
        Ok(planned) => Json(SqlValidateResponse {
            valid: true,
            graph: planned.graph,
        })
        .into_response(),
        Err(body) => (StatusCode::BAD_REQUEST, Json(body)).into_response(),
    }
}
