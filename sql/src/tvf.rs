//! Window table-valued functions, Flink's syntax:
//! `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size [, offset]))`, `HOP(…, slide, size)`,
//! `CUMULATE(…, step, max_size)`, `SESSION(TABLE t [PARTITION BY k, …], DESCRIPTOR(ts),
//! gap)`, and Eddy's count windows `COUNT_TUMBLE(TABLE t, DESCRIPTOR(k), size)` /
//! `COUNT_HOP(TABLE t, DESCRIPTOR(k), size, slide)`. sqlparser cannot parse these, so
//! each call is cut out of the token stream and replaced by a generated table name;
//! the planner knows that table as "window over t".

use datafusion::sql::sqlparser::ast::{Expr, Value};
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Word};

use crate::error::{Result, SqlError};
use crate::script::{dialect, parser_error};

/// Upper bound on window TVFs in one statement (explicit limit).
pub const MAX_WINDOWS_PER_STATEMENT: usize = 64;
pub const WINDOW_TABLE_PREFIX: &str = "__eddy_window_";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowKind {
    Tumble { size_ms: i64, offset_ms: i64 },
    Hop { slide_ms: i64, size_ms: i64 },
    Cumulate { step_ms: i64, max_size_ms: i64 },
    Session { gap_ms: i64 },
    CountTumble { size: u64 },
    CountHop { size: u64, slide: u64 },
}

#[derive(Debug, Clone)]
pub struct WindowTvf {
    /// The generated table name that stands for this call.
    pub table_name: String,
    pub kind: WindowKind,
    /// The table or view the window runs over.
    pub input: String,
    /// SESSION's PARTITION BY columns.
    pub partition_by: Vec<String>,
    /// DESCRIPTOR(col): the time column (the key column for count windows).
    pub descriptor: String,
    pub location: Location,
}

fn is_word(t: Option<&TokenWithSpan>, w: &str) -> bool {
    matches!(t.map(|t| &t.token), Some(Token::Word(x)) if x.value.eq_ignore_ascii_case(w))
}

fn is(t: Option<&TokenWithSpan>, tok: &Token) -> bool {
    t.map(|t| &t.token) == Some(tok)
}

const FUNCTIONS: [&str; 6] = [
    "TUMBLE",
    "HOP",
    "CUMULATE",
    "SESSION",
    "COUNT_TUMBLE",
    "COUNT_HOP",
];

/// Replaces every window TVF call in `tokens`; returns the new tokens and the calls.
pub fn rewrite(
    tokens: &[TokenWithSpan],
    first_index: usize,
) -> Result<(Vec<TokenWithSpan>, Vec<WindowTvf>)> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut windows = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let is_call = is_word(tokens.get(i), "TABLE")
            && is(tokens.get(i + 1), &Token::LParen)
            && FUNCTIONS.iter().any(|f| is_word(tokens.get(i + 2), f))
            && is(tokens.get(i + 3), &Token::LParen);
        if !is_call {
            out.push(tokens[i].clone());
            i += 1;
            continue;
        }
        // Find the closing parenthesis of TABLE( … ).
        let mut depth = 0;
        let mut end = None;
        for (j, t) in tokens.iter().enumerate().skip(i + 1) {
            match t.token {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j);
                        break;
                    }
                }
                _ => {}
            }
        }
        let location = tokens[i].span.start;
        let end = end.ok_or_else(|| SqlError::at("unclosed TABLE( … )", location))?;
        let name = format!("{WINDOW_TABLE_PREFIX}{}", first_index + windows.len());
        windows.push(parse_call(&tokens[i + 2..end], &name)?);
        if windows.len() > MAX_WINDOWS_PER_STATEMENT {
            return Err(SqlError::at(
                "too many window functions in one statement",
                location,
            ));
        }
        out.push(TokenWithSpan::new(
            Token::Word(Word {
                value: name,
                quote_style: None,
                keyword: datafusion::sql::sqlparser::keywords::Keyword::NoKeyword,
            }),
            tokens[i].span,
        ));
        i = end + 1;
    }
    Ok((out, windows))
}

/// `FN ( TABLE t [PARTITION BY …], DESCRIPTOR(c), args… )`
fn parse_call(tokens: &[TokenWithSpan], table_name: &str) -> Result<WindowTvf> {
    let location = tokens[0].span.start;
    let function = match &tokens[0].token {
        Token::Word(w) => w.value.to_ascii_uppercase(),
        _ => return Err(SqlError::at("expected a window function", location)),
    };
    // Split the arguments at top-level commas.
    let inner = &tokens[2..tokens.len() - 1];
    let mut args: Vec<&[TokenWithSpan]> = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (j, t) in inner.iter().enumerate() {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                args.push(&inner[start..j]);
                start = j + 1;
            }
            _ => {}
        }
    }
    args.push(&inner[start..]);
    let err = |m: &str, at: Location| SqlError::at(format!("{function}: {m}"), at);
    // TABLE t [PARTITION BY a, b] — PARTITION BY's columns were split off as extra args.
    let table_arg = args.first().copied().unwrap_or(&[]);
    if !is_word(table_arg.first(), "TABLE") {
        return Err(err("the first argument must be TABLE <name>", location));
    }
    let input = match table_arg.get(1).map(|t| &t.token) {
        Some(Token::Word(w)) => w.value.clone(),
        _ => return Err(err("expected a table name after TABLE", location)),
    };
    let mut partition_by = Vec::new();
    let mut rest = 1;
    if is_word(table_arg.get(2), "PARTITION") && is_word(table_arg.get(3), "BY") {
        partition_by.push(
            word_of(table_arg.get(4))
                .ok_or_else(|| err("expected a column after PARTITION BY", location))?,
        );
        while rest < args.len() && !is_word(args[rest].first(), "DESCRIPTOR") {
            partition_by.push(
                word_of(args[rest].first()).ok_or_else(|| err("expected a column", location))?,
            );
            rest += 1;
        }
    }
    let descriptor_arg = args.get(rest).copied().unwrap_or(&[]);
    if !is_word(descriptor_arg.first(), "DESCRIPTOR") {
        return Err(err(
            "expected DESCRIPTOR(column)",
            descriptor_arg.first().map_or(location, |t| t.span.start),
        ));
    }
    let descriptor = word_of(descriptor_arg.get(2))
        .ok_or_else(|| err("expected DESCRIPTOR(column)", location))?;
    let params: Vec<&[TokenWithSpan]> = args[rest + 1..].to_vec();
    let interval = |k: usize| -> Result<i64> {
        let arg = params
            .get(k)
            .ok_or_else(|| err("missing an INTERVAL argument", location))?;
        interval_ms(arg)
    };
    let count = |k: usize| -> Result<u64> {
        let arg = params
            .get(k)
            .ok_or_else(|| err("missing a row count argument", location))?;
        match parse_expr(arg)? {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => n.parse::<u64>().ok().filter(|n| *n > 0),
                _ => None,
            },
            _ => None,
        }
        .ok_or_else(|| {
            err(
                "the row count must be a positive integer",
                arg[0].span.start,
            )
        })
    };
    let expect_params = |n: std::ops::RangeInclusive<usize>| -> Result<()> {
        if n.contains(&params.len()) {
            Ok(())
        } else {
            Err(err(
                &format!(
                    "takes {n:?} size arguments after DESCRIPTOR, got {}",
                    params.len()
                ),
                location,
            ))
        }
    };
    let kind = match function.as_str() {
        "TUMBLE" => {
            expect_params(1..=2)?;
            WindowKind::Tumble {
                size_ms: interval(0)?,
                offset_ms: if params.len() == 2 { interval(1)? } else { 0 },
            }
        }
        "HOP" => {
            expect_params(2..=2)?;
            WindowKind::Hop {
                slide_ms: interval(0)?,
                size_ms: interval(1)?,
            }
        }
        "CUMULATE" => {
            expect_params(2..=2)?;
            WindowKind::Cumulate {
                step_ms: interval(0)?,
                max_size_ms: interval(1)?,
            }
        }
        "SESSION" => {
            expect_params(1..=1)?;
            WindowKind::Session {
                gap_ms: interval(0)?,
            }
        }
        "COUNT_TUMBLE" => {
            expect_params(1..=1)?;
            WindowKind::CountTumble { size: count(0)? }
        }
        _ => {
            expect_params(2..=2)?;
            WindowKind::CountHop {
                size: count(0)?,
                slide: count(1)?,
            }
        }
    };
    Ok(WindowTvf {
        table_name: table_name.to_string(),
        kind,
        input,
        partition_by,
        descriptor,
        location,
    })
}

fn word_of(t: Option<&TokenWithSpan>) -> Option<String> {
    match t.map(|t| &t.token) {
        Some(Token::Word(w)) => Some(w.value.clone()),
        _ => None,
    }
}

fn parse_expr(tokens: &[TokenWithSpan]) -> Result<Expr> {
    let d = dialect();
    let at = tokens
        .first()
        .map_or(Location { line: 0, column: 0 }, |t| t.span.start);
    Parser::new(&d)
        .with_tokens_with_locations(tokens.to_vec())
        .parse_expr()
        .map_err(|e| parser_error(e, at))
}

/// `INTERVAL '10' SECOND` (or MINUTE, HOUR, DAY, MILLISECOND) in milliseconds.
pub fn interval_ms(tokens: &[TokenWithSpan]) -> Result<i64> {
    let at = tokens
        .first()
        .map_or(Location { line: 0, column: 0 }, |t| t.span.start);
    match parse_expr(tokens)? {
        Expr::Interval(i) => interval_expr_ms(&i)
            .ok_or_else(|| SqlError::at(format!("unsupported interval {i}"), at)),
        other => Err(SqlError::at(
            format!("expected an INTERVAL, found {other}"),
            at,
        )),
    }
}

/// An interval literal's length in milliseconds (positive).
pub fn interval_expr_ms(i: &datafusion::sql::sqlparser::ast::Interval) -> Option<i64> {
    use datafusion::sql::sqlparser::ast::DateTimeField as F;
    let text = match i.value.as_ref() {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::Number(s, _) => s.clone(),
            _ => return None,
        },
        _ => return None,
    };
    let n: f64 = text.trim().parse().ok()?;
    let unit_ms = match i.leading_field.as_ref()? {
        F::Millisecond | F::Milliseconds => 1.0,
        F::Second | F::Seconds => 1000.0,
        F::Minute | F::Minutes => 60_000.0,
        F::Hour | F::Hours => 3_600_000.0,
        F::Day | F::Days => 86_400_000.0,
        _ => return None,
    };
    let ms = (n * unit_ms).round() as i64;
    (ms > 0).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::split;

    fn rewrite_sql(sql: &str) -> (String, Vec<WindowTvf>) {
        let st = split(sql).unwrap();
        let (tokens, w) = rewrite(&st[0].tokens, 0).unwrap();
        (
            tokens
                .iter()
                .map(|t| t.token.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            w,
        )
    }

    #[test]
    fn rewrites_window_tvfs() {
        let (sql, w) = rewrite_sql(
            "SELECT window_start, COUNT(*) FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY window_start",
        );
        assert!(sql.contains("FROM __eddy_window_0 GROUP BY"), "{sql}");
        assert_eq!(
            w[0].kind,
            WindowKind::Hop {
                slide_ms: 2000,
                size_ms: 10_000
            }
        );
        assert_eq!(w[0].input, "bid");
        assert_eq!(w[0].descriptor, "date_time");
        let (_, w) = rewrite_sql(
            "SELECT * FROM TABLE(SESSION(TABLE bid PARTITION BY bidder, DESCRIPTOR(date_time), INTERVAL '5' SECOND))",
        );
        assert_eq!(w[0].partition_by, vec!["bidder".to_string()]);
        assert_eq!(w[0].kind, WindowKind::Session { gap_ms: 5000 });
        let (_, w) =
            rewrite_sql("SELECT * FROM TABLE(COUNT_HOP(TABLE bid, DESCRIPTOR(auction), 10, 5))");
        assert_eq!(w[0].kind, WindowKind::CountHop { size: 10, slide: 5 });
        let (_, w) = rewrite_sql(
            "SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))",
        );
        assert_eq!(
            w[0].kind,
            WindowKind::Tumble {
                size_ms: 60_000,
                offset_ms: 0
            }
        );
    }

    #[test]
    fn bad_window_arguments_have_positions() {
        let st = split("SELECT *\nFROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts)))").unwrap();
        let err = rewrite(&st[0].tokens, 0).unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.message.contains("TUMBLE"), "{err}");
    }
}
