//! Fetch helpers for the master's REST API. Every helper returns `Result<T, String>`
//! where the error is a human-readable sentence meant to be shown in the page.

use eddy_api::error::ErrorBody;
use eddy_api::rest::{ClusterInfo, Overview, WorkersResponse};
use gloo_net::http::Request;
use serde::de::DeserializeOwned;

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
    fn error_detail_of_plain_and_empty_bodies() {
        assert_eq!(error_detail("  "), "");
        assert_eq!(error_detail("bad gateway"), ": bad gateway");
        let long = "x".repeat(300);
        assert_eq!(error_detail(&long), format!(": {}…", "x".repeat(200)));
    }
}
