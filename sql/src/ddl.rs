//! Flink's `CREATE TABLE`, which sqlparser does not know in full: physical columns,
//! computed columns (`name AS expr`), `WATERMARK FOR col AS expr`, `PRIMARY KEY (…) NOT
//! ENFORCED`, and `WITH ('key' = 'value', …)`. Parsed with sqlparser's own parser
//! primitives over the statement's tokens, so types and expressions are sqlparser ASTs
//! and every error has a line and column.

use datafusion::sql::sqlparser::ast::{DataType as SqlType, Expr, Ident};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Location, Token};

use crate::error::{Result, SqlError};
use crate::script::{RawStatement, dialect, parser_error};

/// Upper bound on columns of one table (explicit limit).
pub const MAX_COLUMNS: usize = 1024;

#[derive(Debug, Clone)]
pub enum ColumnKind {
    Physical {
        data_type: SqlType,
        not_null: bool,
    },
    /// `name AS expr`: computed from the physical columns (`PROCTIME()`,
    /// `INGESTION_TIME()` or any scalar expression).
    Computed {
        expr: Expr,
    },
}

#[derive(Debug, Clone)]
pub struct ColumnDef {
    pub name: String,
    pub kind: ColumnKind,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct WatermarkDef {
    pub column: String,
    pub expr: Expr,
    pub location: Location,
}

#[derive(Debug, Clone)]
pub struct CreateTable {
    pub name: String,
    pub if_not_exists: bool,
    pub columns: Vec<ColumnDef>,
    pub watermark: Option<WatermarkDef>,
    pub primary_key: Vec<String>,
    /// `WITH` options in order, with the location of each key.
    pub options: Vec<(String, String, Location)>,
    pub location: Location,
}

fn is_word(parser: &Parser, word: &str) -> bool {
    matches!(&parser.peek_token_ref().token, Token::Word(w) if w.value.eq_ignore_ascii_case(word))
}

pub fn parse_create_table(statement: &RawStatement) -> Result<CreateTable> {
    let dialect = dialect();
    let mut p = Parser::new(&dialect).with_tokens_with_locations(statement.tokens.clone());
    let e = |err| parser_error(err, statement.start);
    p.expect_keyword(Keyword::CREATE).map_err(e)?;
    let _ = p.parse_keyword(Keyword::TEMPORARY);
    p.expect_keyword(Keyword::TABLE).map_err(e)?;
    let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = p.parse_object_name(false).map_err(e)?.to_string();
    p.expect_token(&Token::LParen).map_err(e)?;
    let mut table = CreateTable {
        name,
        if_not_exists,
        columns: Vec::new(),
        watermark: None,
        primary_key: Vec::new(),
        options: Vec::new(),
        location: statement.start,
    };
    loop {
        let location = p.peek_token_ref().span.start;
        if is_word(&p, "WATERMARK") {
            p.next_token();
            if !is_word(&p, "FOR") {
                return Err(SqlError::at(
                    "expected FOR after WATERMARK",
                    p.peek_token_ref().span.start,
                ));
            }
            p.next_token();
            let column = ident(p.parse_identifier().map_err(e)?);
            p.expect_keyword(Keyword::AS).map_err(e)?;
            let expr = p.parse_expr().map_err(e)?;
            if table.watermark.is_some() {
                return Err(SqlError::at("a table has at most one WATERMARK", location));
            }
            table.watermark = Some(WatermarkDef {
                column,
                expr,
                location,
            });
        } else if p.parse_keyword(Keyword::CONSTRAINT) || is_word(&p, "PRIMARY") {
            if !is_word(&p, "PRIMARY") {
                p.parse_identifier().map_err(e)?;
            }
            p.expect_keywords(&[Keyword::PRIMARY, Keyword::KEY])
                .map_err(e)?;
            p.expect_token(&Token::LParen).map_err(e)?;
            table.primary_key = p
                .parse_comma_separated(|p| p.parse_identifier())
                .map_err(e)?
                .into_iter()
                .map(ident)
                .collect();
            p.expect_token(&Token::RParen).map_err(e)?;
            if p.parse_keyword(Keyword::NOT) {
                p.expect_keyword(Keyword::ENFORCED).map_err(e)?;
            }
        } else {
            let name = ident(p.parse_identifier().map_err(e)?);
            let kind = if p.parse_keyword(Keyword::AS) {
                ColumnKind::Computed {
                    expr: p.parse_expr().map_err(e)?,
                }
            } else {
                let data_type = p.parse_data_type().map_err(e)?;
                let not_null = p.parse_keywords(&[Keyword::NOT, Keyword::NULL]);
                if !not_null {
                    let _ = p.parse_keyword(Keyword::NULL);
                }
                ColumnKind::Physical {
                    data_type,
                    not_null,
                }
            };
            if p.parse_keyword(Keyword::COMMENT) {
                p.parse_literal_string().map_err(e)?;
            }
            if table
                .columns
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(&name))
            {
                return Err(SqlError::at(
                    format!("column '{name}' is defined twice"),
                    location,
                ));
            }
            table.columns.push(ColumnDef {
                name,
                kind,
                location,
            });
            if table.columns.len() > MAX_COLUMNS {
                return Err(SqlError::at(
                    format!("more than {MAX_COLUMNS} columns"),
                    location,
                ));
            }
        }
        if p.consume_token(&Token::Comma) {
            continue;
        }
        p.expect_token(&Token::RParen).map_err(e)?;
        break;
    }
    if p.parse_keyword(Keyword::COMMENT) {
        p.parse_literal_string().map_err(e)?;
    }
    if p.parse_keyword(Keyword::WITH) {
        p.expect_token(&Token::LParen).map_err(e)?;
        loop {
            let location = p.peek_token_ref().span.start;
            let key = p.parse_literal_string().map_err(e)?;
            p.expect_token(&Token::Eq).map_err(e)?;
            let value = p.parse_literal_string().map_err(e)?;
            if table.options.iter().any(|(k, _, _)| *k == key) {
                return Err(SqlError::at(
                    format!("option '{key}' is given twice"),
                    location,
                ));
            }
            table.options.push((key, value, location));
            if !p.consume_token(&Token::Comma) {
                break;
            }
        }
        p.expect_token(&Token::RParen).map_err(e)?;
    }
    let rest = p.peek_token();
    if rest.token != Token::EOF {
        return Err(SqlError::at(
            format!("unexpected '{}' after CREATE TABLE", rest.token),
            rest.span.start,
        ));
    }
    if let Some(wm) = &table.watermark
        && !table
            .columns
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(&wm.column))
    {
        return Err(SqlError::at(
            format!("WATERMARK FOR unknown column '{}'", wm.column),
            wm.location,
        ));
    }
    Ok(table)
}

fn ident(i: Ident) -> String {
    i.value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::split;

    const BID: &str = "CREATE TABLE bid (\n  auction   BIGINT,\n  price     BIGINT NOT NULL,\n  channel   STRING,\n  date_time TIMESTAMP(3),\n  pt AS PROCTIME(),\n  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND\n) WITH (\n  'connector' = 'filesystem',\n  'path'      = '/tmp/x',\n  'format'    = 'json'\n)";

    #[test]
    fn parses_flink_create_table() {
        let st = split(BID).unwrap();
        let t = parse_create_table(&st[0]).unwrap();
        assert_eq!(t.name, "bid");
        let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["auction", "price", "channel", "date_time", "pt"]);
        assert!(matches!(
            t.columns[1].kind,
            ColumnKind::Physical { not_null: true, .. }
        ));
        assert!(
            matches!(&t.columns[4].kind, ColumnKind::Computed { expr } if expr.to_string() == "PROCTIME()")
        );
        let wm = t.watermark.unwrap();
        assert_eq!(wm.column, "date_time");
        assert_eq!(wm.expr.to_string(), "date_time - INTERVAL '1' SECOND");
        assert_eq!(wm.location, Location { line: 7, column: 3 });
        assert_eq!(t.options[0].0, "connector");
        assert_eq!(t.options[2].1, "json");
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        let sql =
            "CREATE TABLE t (\n  a BIGINT,\n  b BIGNUMBER WHAT\n) WITH ('connector' = 'datagen')";
        let err = parse_create_table(&split(sql).unwrap()[0]).unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        let sql = "CREATE TABLE t (a INT, WATERMARK FOR nope AS nope)";
        let err = parse_create_table(&split(sql).unwrap()[0]).unwrap_err();
        assert_eq!((err.line, err.column), (Some(1), Some(24)), "{err}");
        let sql = "CREATE TABLE t (a INT) WITH ('k' = 'v', 'k' = 'w')";
        assert!(
            parse_create_table(&split(sql).unwrap()[0])
                .unwrap_err()
                .message
                .contains("twice")
        );
    }
}
