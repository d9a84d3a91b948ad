//! Fetch helpers for the master's REST API. GETs return `Result<T, String>` where the
//! error is a human-readable sentence meant to be shown in the page; POSTs whose 4xx
//! answers matter to the page (SQL errors with a line) return [`ApiError`].

use eddy_api::checkpoints::{CheckpointDetails, CheckpointsResponse};
use eddy_api::error::ErrorBody;
use eddy_api::jobs::{CancelJobResponse, JobDetails, JobsResponse, SubmitJobRequest};
use eddy_api::keyed_state::{KeyedStateQuery, KeyedStateResponse};
use eddy_api::rest::{
    ClusterInfo, Overview, SqlValidateRequest, SqlValidateResponse, WorkersResponse,
};
use eddy_api::savepoints::{SavepointStatus, SavepointTriggerResponse};
use gloo_net::http::Request;
use serde::Serialize;
use serde::de::DeserializeOwned;

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

/// `POST /api/v1/jobs/{id}/savepoints` (Flink's trigger savepoint).
pub async fn trigger_savepoint(id: String) -> Result<SavepointTriggerResponse, ApiError> {
    post_json(
        &format!("/api/v1/jobs/{}/savepoints", encode_segment(&id)),
        &serde_json::json!({}),
    )
    .await
}

/// `POST /api/v1/jobs/{id}/stop`: stop with a savepoint; `drain` (Flink's `--drain`)
/// ends the sources after it so pending windows fire before the job finishes.
pub async fn stop_job(id: String, drain: bool) -> Result<SavepointTriggerResponse, ApiError> {
    post_json(
        &format!("/api/v1/jobs/{}/stop", encode_segment(&id)),
        &serde_json::json!({ "drain": drain }),
    )
    .await
}

/// `POST /api/v1/jobs/{id}/rescale`: stop with a savepoint, restart at `parallelism`.
pub async fn rescale_job(
    id: String,
    parallelism: u32,
) -> Result<SavepointTriggerResponse, ApiError> {
    post_json(
        &format!("/api/v1/jobs/{}/rescale", encode_segment(&id)),
        &serde_json::json!({ "parallelism": parallelism }),
    )
    .await
}

/// `GET /api/v1/jobs/{id}/savepoints/{trigger_id}`.
pub async fn savepoint_status(id: String, trigger_id: String) -> Result<SavepointStatus, String> {
    get_json(&format!(
        "/api/v1/jobs/{}/savepoints/{}",
        encode_segment(&id),
        encode_segment(&trigger_id)
    ))
    .await
}

/// `GET /api/v1/jobs/{id}/checkpoints/{cid}/state?…`: one page of a vertex's keyed
/// state in a completed checkpoint.
pub async fn keyed_state(
    id: String,
    cid: u64,
    query: KeyedStateQuery,
) -> Result<KeyedStateResponse, String> {
    get_json(&format!(
        "/api/v1/jobs/{}/checkpoints/{cid}/state?{}",
        encode_segment(&id),
        keyed_state_query(&query)
    ))
    .await
}

/// The query string of a state-browser request.
pub fn keyed_state_query(query: &KeyedStateQuery) -> String {
    let mut parts = vec![format!("vertex={}", query.vertex)];
    if let Some(group) = query.key_group {
        parts.push(format!("key_group={group}"));
    }
    if let Some(prefix) = query.prefix.as_deref().filter(|p| !p.is_empty()) {
        parts.push(format!("prefix={}", encode_segment(prefix)));
    }
    if let Some(limit) = query.limit {
        parts.push(format!("limit={limit}"));
    }
    if let Some(offset) = query.offset.filter(|o| *o > 0) {
        parts.push(format!("offset={offset}"));
    }
    parts.join("&")
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
    fn state_browser_queries() {
        let query = eddy_api::keyed_state::KeyedStateQuery {
            vertex: 2,
            key_group: Some(7),
            prefix: Some("a b&".into()),
            limit: Some(50),
            offset: Some(100),
        };
        assert_eq!(
            super::keyed_state_query(&query),
            "vertex=2&key_group=7&prefix=a%20b%26&limit=50&offset=100"
        );
        let plain = eddy_api::keyed_state::KeyedStateQuery {
            vertex: 1,
            ..Default::default()
        };
        assert_eq!(super::keyed_state_query(&plain), "vertex=1");
    }

    #[test]
    fn error_detail_of_plain_and_empty_bodies() {
        assert_eq!(error_detail("  "), "");
        assert_eq!(error_detail("bad gateway"), ": bad gateway");
        let long = "x".repeat(300);
        assert_eq!(error_detail(&long), format!(": {}…", "x".repeat(200)));
    }
}
