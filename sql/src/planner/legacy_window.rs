//! Flink's legacy group windows, rewritten on the AST into the window TVF form before
//! DataFusion plans the statement (DataFusion knows neither function):
//!
//! `SELECT TUMBLE_START(ts, i), k, agg… FROM t GROUP BY TUMBLE(ts, i), k` becomes
//! `SELECT window_start, k, agg… FROM __eddy_window_N AS t GROUP BY window_start,
//! window_end, k`, where `__eddy_window_N` is registered as `TUMBLE(TABLE t,
//! DESCRIPTOR(ts), i)`; likewise `HOP(ts, slide, size)` and `SESSION(ts, gap)` (whose
//! other GROUP BY columns become the session's PARTITION BY). `*_START` / `*_END` turn
//! into `window_start` / `window_end` and must repeat the GROUP BY window's arguments.
//! The planner then treats the query exactly as a window TVF aggregate.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident,
    ObjectName, Query, Select, SetExpr, Statement, TableAlias, TableFactor, visit_expressions_mut,
};
use datafusion::sql::sqlparser::tokenizer::Location;

use crate::error::{Result, SqlError};
use crate::tvf::{WINDOW_TABLE_PREFIX, WindowKind, WindowTvf, interval_expr_ms};

const GROUP_FUNCTIONS: [&str; 3] = ["TUMBLE", "HOP", "SESSION"];
const AUXILIARY_SUFFIXES: [&str; 4] = ["_START", "_END", "_ROWTIME", "_PROCTIME"];

/// Rewrites every legacy group window of `statement`; the windows it introduces are
/// appended to `windows` (named from `first_index + windows.len()`).
pub(crate) fn rewrite(
    statement: &mut Statement,
    windows: &mut Vec<WindowTvf>,
    first_index: usize,
) -> Result<()> {
    let query = match statement {
        Statement::Insert(insert) => match insert.source.as_mut() {
            Some(q) => q,
            None => return Ok(()),
        },
        Statement::Query(q) => q,
        Statement::CreateView(v) => &mut v.query,
        _ => return Ok(()),
    };
    rewrite_query(query, windows, first_index)
}

fn rewrite_query(q: &mut Query, windows: &mut Vec<WindowTvf>, first: usize) -> Result<()> {
    rewrite_set_expr(&mut q.body, windows, first)
}

fn rewrite_set_expr(e: &mut SetExpr, windows: &mut Vec<WindowTvf>, first: usize) -> Result<()> {
    match e {
        SetExpr::Select(s) => rewrite_select(s, windows, first),
        SetExpr::Query(q) => rewrite_query(q, windows, first),
        SetExpr::SetOperation { left, right, .. } => {
            rewrite_set_expr(left, windows, first)?;
            rewrite_set_expr(right, windows, first)
        }
        _ => Ok(()),
    }
}

/// The upper-case name of a single-part function name.
fn function_name(f: &Function) -> Option<String> {
    match f.name.0.as_slice() {
        [part] => part.as_ident().map(|i| i.value.to_ascii_uppercase()),
        _ => None,
    }
}

fn function_location(f: &Function) -> Location {
    f.name
        .0
        .first()
        .and_then(|p| p.as_ident())
        .map_or(Location { line: 0, column: 0 }, |i| i.span.start)
}

fn arguments(f: &Function) -> Vec<&Expr> {
    match &f.args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The arguments as written, to compare an auxiliary function with its group window.
fn argument_text(f: &Function) -> Vec<String> {
    arguments(f).iter().map(|e| e.to_string()).collect()
}

fn column_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.clone()),
        _ => None,
    }
}

/// A group window call: its function, kind and time column.
struct GroupWindow {
    function: String,
    args: Vec<String>,
    kind: WindowKind,
    time_column: String,
    location: Location,
}

fn group_window(f: &Function, function: &str) -> Result<GroupWindow> {
    let location = function_location(f);
    let args = arguments(f);
    let err = |m: &str| SqlError::at(format!("{function}: {m}"), location);
    let expected = if function == "HOP" { 3 } else { 2 };
    if args.len() != expected {
        return Err(err(&format!(
            "takes {expected} arguments (the time attribute and {} INTERVAL{})",
            expected - 1,
            if expected > 2 { "s" } else { "" }
        )));
    }
    let time_column = column_name(args[0])
        .ok_or_else(|| err("the first argument must be a time attribute column"))?;
    let interval = |k: usize| -> Result<i64> {
        match args[k] {
            Expr::Interval(i) => interval_expr_ms(i),
            _ => None,
        }
        .ok_or_else(|| err(&format!("argument {} must be a positive INTERVAL", k + 1)))
    };
    let kind = match function {
        "TUMBLE" => WindowKind::Tumble {
            size_ms: interval(1)?,
            offset_ms: 0,
        },
        "HOP" => WindowKind::Hop {
            slide_ms: interval(1)?,
            size_ms: interval(2)?,
        },
        _ => WindowKind::Session {
            gap_ms: interval(1)?,
        },
    };
    Ok(GroupWindow {
        function: function.to_string(),
        args: argument_text(f),
        kind,
        time_column,
        location,
    })
}

fn rewrite_select(s: &mut Select, windows: &mut Vec<WindowTvf>, first: usize) -> Result<()> {
    // Inner queries first, so their auxiliary functions are gone before ours are.
    for t in &mut s.from {
        if let TableFactor::Derived { subquery, .. } = &mut t.relation {
            rewrite_query(subquery, windows, first)?;
        }
    }
    let mut found: Option<(usize, GroupWindow)> = None;
    if let GroupByExpr::Expressions(exprs, _) = &s.group_by {
        for (i, e) in exprs.iter().enumerate() {
            let Expr::Function(f) = e else { continue };
            let Some(name) = function_name(f).filter(|n| GROUP_FUNCTIONS.contains(&n.as_str()))
            else {
                continue;
            };
            let w = group_window(f, &name)?;
            if found.is_some() {
                return Err(SqlError::at(
                    "only one group window per GROUP BY",
                    w.location,
                ));
            }
            found = Some((i, w));
        }
    }
    let Some((position, w)) = found else {
        // No group window: auxiliary functions have nothing to refer to.
        return replace_auxiliary(s, None);
    };
    let GroupByExpr::Expressions(exprs, _) = &mut s.group_by else {
        return Ok(());
    };
    let mut partition_by = Vec::new();
    if matches!(w.kind, WindowKind::Session { .. }) {
        for (i, e) in exprs.iter().enumerate() {
            if i == position {
                continue;
            }
            partition_by.push(column_name(e).ok_or_else(|| {
                SqlError::at(
                    format!("GROUP BY SESSION(…), {e}: the other keys must be columns"),
                    w.location,
                )
            })?);
        }
    }
    exprs.splice(
        position..=position,
        [
            Expr::Identifier(Ident::new("window_start")),
            Expr::Identifier(Ident::new("window_end")),
        ],
    );
    let table_name = format!("{WINDOW_TABLE_PREFIX}{}", first + windows.len());
    let input = match s.from.as_mut_slice() {
        [t] if t.joins.is_empty() => match &mut t.relation {
            TableFactor::Table {
                name, alias, args, ..
            } if args.is_none() => {
                let input = name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(|i| i.value.clone())
                    .unwrap_or_default();
                // Keep `t.col` resolving: the window table is aliased to the input's name.
                alias.get_or_insert_with(|| TableAlias {
                    explicit: true,
                    name: Ident::new(input.clone()),
                    columns: vec![],
                    at: None,
                });
                *name = ObjectName::from(vec![Ident::new(table_name.clone())]);
                Some(input)
            }
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| {
        SqlError::at(
            format!(
                "GROUP BY {}(…) needs FROM a single table or view",
                w.function
            ),
            w.location,
        )
    })?;
    windows.push(WindowTvf {
        table_name,
        kind: w.kind.clone(),
        input,
        partition_by,
        descriptor: w.time_column.clone(),
        location: w.location,
    });
    replace_auxiliary(s, Some(&w))
}

/// `TUMBLE_START(…)` → `window_start`, `TUMBLE_END(…)` → `window_end` (and HOP_*,
/// SESSION_*); anything else of the kind is an error with its position.
fn replace_auxiliary(s: &mut Select, w: Option<&GroupWindow>) -> Result<()> {
    let flow = visit_expressions_mut(s, |e| {
        let Expr::Function(f) = e else {
            return ControlFlow::Continue(());
        };
        let Some(name) = function_name(f) else {
            return ControlFlow::Continue(());
        };
        let Some((group, suffix)) = GROUP_FUNCTIONS.iter().find_map(|g| {
            AUXILIARY_SUFFIXES
                .iter()
                .find(|s| name.strip_prefix(g) == Some(**s))
                .map(|s| (*g, *s))
        }) else {
            if GROUP_FUNCTIONS.contains(&name.as_str()) {
                return ControlFlow::Break(SqlError::at(
                    format!(
                        "{name}(…) is only allowed in GROUP BY (or as a window TVF: FROM TABLE({name}(TABLE t, DESCRIPTOR(ts), …)))"
                    ),
                    function_location(f),
                ));
            }
            return ControlFlow::Continue(());
        };
        let at = function_location(f);
        let Some(w) = w.filter(|w| w.function == group) else {
            return ControlFlow::Break(SqlError::at(
                format!("{name}(…) needs GROUP BY {group}(…)"),
                at,
            ));
        };
        if argument_text(f) != w.args {
            return ControlFlow::Break(SqlError::at(
                format!(
                    "{name}({}) must repeat the arguments of GROUP BY {group}({})",
                    argument_text(f).join(", "),
                    w.args.join(", ")
                ),
                at,
            ));
        }
        let column = match suffix {
            "_START" => "window_start",
            "_END" => "window_end",
            _ => {
                return ControlFlow::Break(SqlError::at(
                    format!("{name}(…) is not supported: use {group}_START or {group}_END"),
                    at,
                ));
            }
        };
        *e = Expr::Identifier(Ident::new(column));
        ControlFlow::Continue(())
    });
    match flow {
        ControlFlow::Break(err) => Err(err),
        ControlFlow::Continue(()) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{dialect, split};
    use datafusion::sql::sqlparser::parser::Parser;

    fn rewritten(sql: &str) -> Result<(String, Vec<WindowTvf>)> {
        let st = split(sql)?;
        let mut statement = Parser::new(&dialect())
            .with_tokens_with_locations(st[0].tokens.clone())
            .parse_statement()
            .unwrap();
        let mut windows = Vec::new();
        rewrite(&mut statement, &mut windows, 3)?;
        Ok((statement.to_string(), windows))
    }

    #[test]
    fn tumble_becomes_a_window_table() {
        let (sql, w) = rewritten(
            "INSERT INTO s SELECT TUMBLE_START(ts, INTERVAL '10' SECOND) AS ws, TUMBLE_END(ts, INTERVAL '10' SECOND), k, COUNT(*) FROM t WHERE k > 1 GROUP BY TUMBLE(ts, INTERVAL '10' SECOND), k",
        )
        .unwrap();
        assert_eq!(
            sql,
            "INSERT INTO s SELECT window_start AS ws, window_end, k, COUNT(*) FROM __eddy_window_3 AS t WHERE k > 1 GROUP BY window_start, window_end, k"
        );
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].input, "t");
        assert_eq!(w[0].descriptor, "ts");
        assert_eq!(
            w[0].kind,
            WindowKind::Tumble {
                size_ms: 10_000,
                offset_ms: 0
            }
        );
    }

    #[test]
    fn hop_and_session_arguments() {
        let (sql, w) = rewritten(
            "SELECT HOP_END(b.ts, INTERVAL '2' SECOND, INTERVAL '10' SECOND), COUNT(*) FROM bid AS b GROUP BY HOP(b.ts, INTERVAL '2' SECOND, INTERVAL '10' SECOND)",
        )
        .unwrap();
        assert!(
            sql.contains("FROM __eddy_window_3 AS b GROUP BY window_start, window_end"),
            "{sql}"
        );
        assert_eq!(
            w[0].kind,
            WindowKind::Hop {
                slide_ms: 2000,
                size_ms: 10_000
            }
        );
        assert_eq!(w[0].descriptor, "ts");
        let (_, w) = rewritten(
            "SELECT bidder, SESSION_START(ts, INTERVAL '5' SECOND), SUM(price) FROM bid GROUP BY bidder, SESSION(ts, INTERVAL '5' SECOND)",
        )
        .unwrap();
        assert_eq!(w[0].kind, WindowKind::Session { gap_ms: 5000 });
        assert_eq!(w[0].partition_by, vec!["bidder".to_string()]);
    }

    #[test]
    fn mismatched_or_unsupported_forms_are_errors_with_positions() {
        let err = rewritten(
            "SELECT\n  TUMBLE_START(ts, INTERVAL '5' SECOND) FROM t GROUP BY TUMBLE(ts, INTERVAL '10' SECOND)",
        )
        .unwrap_err();
        assert_eq!((err.line, err.column), (Some(2), Some(3)), "{err}");
        assert!(err.message.contains("must repeat"), "{err}");
        let err = rewritten("SELECT HOP_END(ts, INTERVAL '1' SECOND, INTERVAL '2' SECOND) FROM t")
            .unwrap_err();
        assert!(err.message.contains("needs GROUP BY HOP"), "{err}");
        assert_eq!(err.column, Some(8));
        let err = rewritten("SELECT COUNT(*) FROM t GROUP BY TUMBLE(ts, 10)").unwrap_err();
        assert!(err.message.contains("INTERVAL"), "{err}");
        assert_eq!(err.column, Some(33));
        let err = rewritten(
            "SELECT COUNT(*) FROM t JOIN u ON t.a = u.a GROUP BY TUMBLE(ts, INTERVAL '1' SECOND)",
        )
        .unwrap_err();
        assert!(err.message.contains("single table"), "{err}");
        let err = rewritten(
            "SELECT TUMBLE_ROWTIME(ts, INTERVAL '1' SECOND) FROM t GROUP BY TUMBLE(ts, INTERVAL '1' SECOND)",
        )
        .unwrap_err();
        assert!(err.message.contains("not supported"), "{err}");
    }
}
