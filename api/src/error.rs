//! The REST API's error body: `{"code", "message"[, "line", "column"]}`.

use serde::{Deserialize, Serialize};

/// Machine-readable error codes. Strings, so clients match on them without a shared enum.
pub mod codes {
    pub const NOT_FOUND: &str = "not_found";
    pub const BAD_REQUEST: &str = "bad_request";
    pub const INTERNAL: &str = "internal";
    pub const UNAVAILABLE: &str = "unavailable";
    pub const INVALID_SQL: &str = "invalid_sql";
    /// The request conflicts with the resource's state (e.g. a savepoint of a job that
    /// is not running).
    pub const CONFLICT: &str = "conflict";
}

/// Body of every non-2xx response of the REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    /// 1-based line of the offending input (SQL errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column of the offending input (SQL errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
            line: None,
            column: None,
        }
    }
}
