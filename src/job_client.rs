//! The HTTP side of `eddy job`: one request to the master's REST API, bounded in time
//! and size, its answer split into a body, a refusal ([`ErrorBody`]) or "unreachable".

use std::time::Duration;

use eddy_api::error::{ErrorBody, codes};
use reqwest::{Method, StatusCode};

/// Longest wait for one answer of the master (connecting included).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the TCP connection to the master.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read from the master.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;
/// Characters of a non-JSON error answer quoted in the error message.
const MAX_ERROR_TEXT_CHARS: usize = 200;

/// The master could not be reached, or its answer not read.
#[derive(Debug)]
pub struct ClientError(pub String);

/// A non-2xx answer of the master.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub body: Option<ErrorBody>,
    pub text: String,
}

impl Refusal {
    /// The master's message, or the status and the start of the body when it sent no
    /// error body.
    pub fn message(&self) -> String {
        match &self.body {
            Some(b) => b.message.clone(),
            None => {
                let text: String = self
                    .text
                    .trim()
                    .chars()
                    .take(MAX_ERROR_TEXT_CHARS)
                    .collect();
                format!("the master answered {}: {text}", self.status)
            }
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status == StatusCode::NOT_FOUND
            || self
                .body
                .as_ref()
                .is_some_and(|b| b.code == codes::NOT_FOUND)
    }
}

/// A job id as one URL path segment (ids are UUIDs; anything else is escaped).
pub fn path_segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The master's REST API at a base URL.
pub struct Master {
    http: reqwest::Client,
    base: String,
}

impl Master {
    /// `url` with or without a trailing slash; `host:port` alone means `http://host:port`.
    pub fn new(url: &str) -> Result<Self, ClientError> {
        let url = url.trim().trim_end_matches('/');
        let base = if url.contains("://") {
            url.to_string()
        } else {
            format!("http://{url}")
        };
        reqwest::Url::parse(&base)
            .map_err(|e| ClientError(format!("invalid master URL {url:?}: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| ClientError(format!("cannot create the HTTP client: {e}")))?;
        Ok(Self { http, base })
    }

    /// Sends one request. `Err`: the master could not be reached or its answer not read;
    /// `Ok(Err)`: it refused the request; `Ok(Ok)`: the body of its 2xx answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        json_body: Option<String>,
    ) -> Result<Result<String, Refusal>, ClientError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = json_body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let mut response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.unreachable(&e))? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ClientError(format!(
                    "the master's answer is larger than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if status.is_success() {
            return Ok(Ok(text));
        }
        let body = serde_json::from_str::<ErrorBody>(&text).ok();
        Ok(Err(Refusal { status, body, text }))
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        let base = &self.base;
        let why = if e.is_timeout() {
            format!(
                "no answer within {}",
                humantime::format_duration(HTTP_TIMEOUT)
            )
        } else {
            // reqwest's own message is generic; the innermost cause says what went wrong
            // (e.g. "Connection refused").
            let mut cause: &dyn std::error::Error = e;
            while let Some(s) = cause.source() {
                cause = s;
            }
            cause.to_string()
        };
        ClientError(format!("cannot reach the master at {base}: {why}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_urls_normalise() {
        for url in [
            "http://m:8081",
            "http://m:8081/",
            "m:8081",
            " http://m:8081// ",
        ] {
            let m = Master::new(url).map_err(|e| format!("{e:?}"));
            assert_eq!(m.map(|m| m.base), Ok("http://m:8081".to_string()), "{url}");
        }
        assert!(Master::new("http://bad host").is_err());
    }

    #[test]
    fn job_ids_are_escaped() {
        assert_eq!(path_segment("3f2c-01_a.b~"), "3f2c-01_a.b~");
        assert_eq!(path_segment("a/../b c"), "a%2F..%2Fb%20c");
    }
}
