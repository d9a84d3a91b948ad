//! Fetch helpers for the master's REST API. GETs return `Result<T, String>` where the
//! error is a human-readable sentence meant to be shown in the page; POSTs whose 4xx
//! answers matter to the page (SQL errors with a line) return [`ApiError`].

use eddy_api::checkpoints::{CheckpointDetails, CheckpointsResponse};
use eddy_api::error::ErrorBody;
use eddy_api::jobs::{CancelJobResponse, JobDetails, JobsResponse, SubmitJobRequest};
use eddy_api::rest::{
    ClusterInfo, Overview, SqlValidateRequest, SqlValidateResponse, WorkersResponse,
};
use gloo_net::http::Request;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A failed POST: a sentence for the page and, when the master answered with its error
/// body, that body (SQL errors carry `line` and `column`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub message: String,
    pub body: Option<ErrorBody>,
}

/// `GET /api/v1/overview`.
pub async fn overview() -> Result<Overview, String> {
    get_json("/api/v1/overview").await
}

/// `GET /api/v1/workers`.
pub async fn workers() -> Result<WorkersResponse, String> {
    get_json("/api/v1/workers").await
}

/// `GET /api/v1/cluster`.
pub async fn cluster() -> Result<ClusterInfo, String> {
    get_json("/api/v1/cluster").await
}

/// `GET /api/v1/jobs` (newest first).
pub async fn jobs() -> Result<JobsResponse, String> {
    get_json("/api/v1/jobs").await
}

/// `GET /api/v1/jobs/{id}`.
pub async fn job(id: String) -> Result<JobDetails, String> {
    get_json(&format!("/api/v1/jobs/{}", encode_segment(&id))).await
}

/// `GET /api/v1/jobs/{id}/checkpoints`.
pub async fn checkpoints(id: String) -> Result<CheckpointsResponse, String> {
    get_json(&format!("/api/v1/jobs/{}/checkpoints", encode_segment(&id))).await
}

/// `GET /api/v1/jobs/{id}/checkpoints/{cid}`.
pub async fn checkpoint(id: String, cid: u64) -> Result<CheckpointDetails, String> {
    get_json(&format!(
        "/api/v1/jobs/{}/checkpoints/{cid}",
        encode_segment(&id)
    ))
    .await
}

/// `POST /api/v1/sql/validate`: the planned graph, or the SQL error with its position.
pub async fn validate_sql(request: SqlValidateRequest) -> Result<SqlValidateResponse, ApiError> {
    post_json("/api/v1/sql/validate", &request).await
}

/// `POST /api/v1/jobs`: the created job.
pub async fn submit_job(request: SubmitJobRequest) -> Result<JobDetails, ApiError> {
    post_json("/api/v1/jobs", &request).await
}

/// `POST /api/v1/jobs/{id}/cancel`.
pub async fn cancel_job(id: String) -> Result<CancelJobResponse, ApiError> {
    post_json(
        &format!("/api/v1/jobs/{}/cancel", encode_segment(&id)),
        &serde_json::Value::Null,
    )
    .await
}

/// Answer (`202`) of a savepoint, stop or rescale request. Mirrors
/// `eddy_api::savepoints::SavepointTriggerResponse`, kept here until that module is in
/// the api crate the dashboard builds against.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SavepointTrigger {
    pub trigger_id: String,
}

/// `GET /api/v1/jobs/{id}/savepoints/{trigger_id}` (mirrors
/// `eddy_api::savepoints::SavepointStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SavepointOperation {
    pub trigger_id: String,
    /// IN_PROGRESS, COMPLETED or FAILED.
    pub status: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub checkpoint_id: Option<u64>,
    #[serde(default)]
    pub failure: Option<String>,
    /// A stop-with-savepoint: the job stops once it completed.
    #[serde(default)]
    pub stop: bool,
}

/// `POST /api/v1/jobs/{id}/savepoints` (Flink's trigger savepoint).
pub async fn trigger_savepoint(id: String) -> Result<SavepointTrigger, ApiError> {
    post_json(
        &format!("/api/v1/jobs/{}/savepoints", encode_segment(&id)),
        &serde_json::json!({}),
    )
    .await
}

/// `POST /api/v1/jobs/{id}/stop`: stop with a savepoint.
pub async fn stop_job(id: String) -> Result<SavepointTrigger, ApiError> {
    post_json(
        &format!("/api/v1/jobs/{}/stop", encode_segment(&id)),
        &serde_json::json!({}),
    )
    .await
}

/// `POST /api/v1/jobs/{id}/rescale`: stop with a savepoint, restart at `parallelism`.
pub async fn rescale_job(id: String, parallelism: u32) -> Result<SavepointTrigger, ApiError> {
    post_json(
        &format!("/api/v1/jobs/{}/rescale", encode_segment(&id)),
        &serde_json::json!({ "parallelism": parallelism }),
    )
    .await
}

/// `GET /api/v1/jobs/{id}/savepoints/{trigger_id}`.
pub async fn savepoint_status(
    id: String,
    trigger_id: String,
) -> Result<SavepointOperation, String> {
    get_json(&format!(
        "/api/v1/jobs/{}/savepoints/{}",
        encode_segment(&id),
        encode_segment(&trigger_id)
    ))
    .await
}

/// Percent-encodes one path segment (ids come from the API, but are not trusted to be
/// URL-safe).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// POSTs `body` as JSON to `path` (same origin) and decodes the JSON answer; a non-2xx
/// answer becomes an [`ApiError`] with the API's error body when there is one.
async fn post_json<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, ApiError> {
    let failed = |message: String| ApiError {
        message,
        body: None,
    };
    let response = Request::post(path)
        .header("Accept", "application/json")
        .json(body)
        .map_err(|e| failed(format!("POST {path}: cannot encode the request: {e}")))?
        .send()
        .await
        .map_err(|e| failed(format!("POST {path} failed: {e}")))?;
    if !response.ok() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        return Err(match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => ApiError {
                message: body.message.clone(),
                body: Some(body),
            },
            Err(_) => failed(format!(
                "POST {path} answered HTTP {status}{}",
                error_detail(&text)
            )),
        });
    }
    response
        .json::<T>()
        .await
        .map_err(|e| failed(format!("POST {path} returned an unexpected body: {e}")))
}

/// GETs `path` (same origin) and decodes its JSON body; non-2xx answers become errors
/// carrying the API's `ErrorBody` message when there is one.
async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, String> {
    let response = Request::get(path)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("GET {path} failed: {e}"))?;
    if !response.ok() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(format!(
            "GET {path} answered HTTP {status}{}",
            error_detail(&body)
        ));
    }
    response
        .json::<T>()
        .await
        .map_err(|e| format!("GET {path} returned an unexpected body: {e}"))
}

/// `": <message>"` from an API error body, or a short excerpt of any other body.
pub fn error_detail(body: &str) -> String {
    if let Ok(error) = serde_json::from_str::<ErrorBody>(body) {
        return format!(": {} ({})", error.message, error.code);
    }
    let body = body.trim();
    if body.is_empty() {
        return String::new();
    }
    let excerpt: String = body.chars().take(200).collect();
    let ellipsis = if excerpt.len() < body.len() {
        "…"
    } else {
        ""
    };
    format!(": {excerpt}{ellipsis}")
}

#[cfg(test)]
mod tests {
    use super::error_detail;

    #[test]
    fn error_detail_prefers_the_api_error_body() {
        let body = r#"{"code":"unavailable","message":"no leader"}"#;
        assert_eq!(error_detail(body), ": no leader (unavailable)");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(super::encode_segment("a1-b_2.c~"), "a1-b_2.c~");
        assert_eq!(super::encode_segment("a/b c?"), "a%2Fb%20c%3F");
    }

    #[test]
    fn error_detail_of_plain_and_empty_bodies() {
        assert_eq!(error_detail("  "), "");
        assert_eq!(error_detail("bad gateway"), ": bad gateway");
        let long = "x".repeat(300);
        assert_eq!(error_detail(&long), format!(": {}…", "x".repeat(200)));
    }
}
