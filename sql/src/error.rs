//! SQL errors: a message and, where the input is at fault, the line and column (1-based)
//! of the offending token — what `eddy run` prints (exit 2) and
//! `POST /api/v1/sql/validate` returns as `{"code","message","line","column"}`.

use datafusion::sql::sqlparser::tokenizer::Location;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", position(*line, *column))]
pub struct SqlError {
    pub message: String,
    pub line: Option<u64>,
    pub column: Option<u64>,
}

fn position(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
        (Some(l), None) => format!(" (line {l})"),
        _ => String::new(),
    }
}

impl SqlError {
    pub fn at(message: impl Into<String>, location: Location) -> SqlError {
        let known = location.line > 0;
        SqlError {
            message: message.into(),
            line: known.then_some(location.line),
            column: known.then_some(location.column),
        }
    }

    pub fn new(message: impl Into<String>) -> SqlError {
        SqlError {
            message: message.into(),
            line: None,
            column: None,
        }
    }

    /// Keeps the position if the error has none yet.
    pub fn or_at(mut self, location: Location) -> SqlError {
        if self.line.is_none() && location.line > 0 {
            self.line = Some(location.line);
            self.column = Some(location.column);
        }
        self
    }
}

pub type Result<T, E = SqlError> = std::result::Result<T, E>;
