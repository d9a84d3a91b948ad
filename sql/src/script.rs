//! A SQL file as a list of statements: tokenised once with positions (sqlparser's
//! tokenizer, Flink-compatible generic dialect), split at top-level `;`, each statement
//! classified by its leading keywords so DDL with Flink's extensions can be parsed by
//! [`crate::ddl`] and the rest by sqlparser/DataFusion.

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use crate::error::{Result, SqlError};

/// Upper bound on statements in one file (explicit limit).
pub const MAX_STATEMENTS: usize = 1000;

/// The dialect Eddy parses with: generic ANSI plus what Flink files use (backticks are
/// handled by the generic dialect too).
pub fn dialect() -> GenericDialect {
    GenericDialect {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    CreateTable,
    CreateView,
    Insert,
    Set,
    Select,
    Other,
}

#[derive(Debug, Clone)]
pub struct RawStatement {
    pub kind: StatementKind,
    /// The statement's tokens (whitespace and comments removed), without the `;`.
    pub tokens: Vec<TokenWithSpan>,
    pub start: Location,
}

/// Splits a script into statements.
pub fn split(sql: &str) -> Result<Vec<RawStatement>> {
    let dialect = dialect();
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| SqlError::at(e.message.clone(), e.location))?;
    let mut statements = Vec::new();
    let mut current: Vec<TokenWithSpan> = Vec::new();
    let mut depth = 0i64;
    for t in tokens {
        match &t.token {
            Token::Whitespace(_) => continue,
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::SemiColon if depth <= 0 => {
                if !current.is_empty() {
                    statements.push(classify(std::mem::take(&mut current)));
                }
                continue;
            }
            Token::EOF => continue,
            _ => {}
        }
        current.push(t);
    }
    if !current.is_empty() {
        statements.push(classify(current));
    }
    if statements.len() > MAX_STATEMENTS {
        return Err(SqlError::new(format!(
            "more than {MAX_STATEMENTS} statements in one file"
        )));
    }
    Ok(statements)
}

fn word(t: Option<&TokenWithSpan>) -> String {
    match t.map(|t| &t.token) {
        Some(Token::Word(w)) => w.value.to_ascii_uppercase(),
        _ => String::new(),
    }
}

fn classify(tokens: Vec<TokenWithSpan>) -> RawStatement {
    let words: Vec<String> = tokens.iter().take(4).map(|t| word(Some(t))).collect();
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let kind = match w(0) {
        "CREATE" => {
            // CREATE [TEMPORARY] TABLE|VIEW
            let next = if w(1) == "TEMPORARY" { w(2) } else { w(1) };
            match next {
                "TABLE" => StatementKind::CreateTable,
                "VIEW" => StatementKind::CreateView,
                _ => StatementKind::Other,
            }
        }
        "INSERT" => StatementKind::Insert,
        "SET" => StatementKind::Set,
        "SELECT" | "WITH" => StatementKind::Select,
        _ => StatementKind::Other,
    };
    let start = tokens
        .first()
        .map(|t| t.span.start)
        .unwrap_or(Location { line: 0, column: 0 });
    RawStatement {
        kind,
        tokens,
        start,
    }
}

/// Turns a sqlparser error into one with a position: sqlparser writes it into the
/// message as "… at Line: L, Column: C".
pub fn parser_error(err: ParserError, fallback: Location) -> SqlError {
    let text = match &err {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => "statement nests too deeply".to_string(),
    };
    if let Some(i) = text.rfind(" at Line: ") {
        let tail = &text[i + " at Line: ".len()..];
        let mut parts = tail.split(", Column: ");
        let line = parts.next().and_then(|l| l.trim().parse().ok());
        let column = parts.next().and_then(|c| c.trim().parse().ok());
        if let (Some(line), Some(column)) = (line, column) {
            return SqlError::at(text[..i].to_string(), Location { line, column });
        }
    }
    SqlError::at(text, fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_top_level_semicolons_and_classifies() {
        let sql = "-- a comment; with a semicolon\nCREATE TABLE t (a INT) WITH ('x' = 'a;b');\n\nSET 'p' = '2';\nINSERT INTO s SELECT * FROM t;\nCREATE TEMPORARY VIEW v AS SELECT 1";
        let st = split(sql).unwrap();
        let kinds: Vec<StatementKind> = st.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            vec![
                StatementKind::CreateTable,
                StatementKind::Set,
                StatementKind::Insert,
                StatementKind::CreateView
            ]
        );
        assert_eq!(st[0].start, Location { line: 2, column: 1 });
        assert_eq!(st[2].start, Location { line: 5, column: 1 });
    }

    #[test]
    fn tokenizer_errors_carry_their_position() {
        let err = split("SELECT 'unterminated").unwrap_err();
        assert_eq!(err.line, Some(1));
        assert!(err.column.is_some());
    }
}
