//! Stream joins: a `JOIN … ON` becomes Flink's interval join (equi keys plus bounds on
//! `left.ts - right.ts`) or, when both inputs are the same window TVF and the join
//! pairs their `window_start` and `window_end`, Flink's window join — a two-input keyed
//! operator, both inputs hash-partitioned by their equi-join keys. A window TVF read
//! without an aggregate becomes the operator that stamps rows with their windows.
//! Conditions that are neither keys nor bounds filter the joined rows (inner joins).

use std::sync::Arc;

use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{
    BinaryExpr, Expr, Join, JoinType as DfJoinType, LogicalPlan, Operator as Op, TableScan,
};
use eddy_worker::graph::Partitioning;
use eddy_worker::operators::join::{
    IntervalJoinOperator, IntervalJoinSpec, JoinType, WindowJoinOperator, WindowJoinSpec,
    WindowTableFunctionOperator,
};
use eddy_worker::operators::window::WindowAssigner;
use eddy_worker::runtime::operator::{Operator, OperatorFactory, SubtaskInfo};

use super::exprs::physical;
use super::translate::{Stream, Translator};
use crate::catalog::TimeAttribute;
use crate::error::{Result, SqlError};
use crate::tvf::{WindowKind, WindowTvf};

const MS_PER_DAY: i64 = 86_400_000;

/// A window TVF's table read row by row (no aggregate): its input, then the stamping operator.
pub(crate) fn plan_window_table(t: &mut Translator<'_>, scan: &TableScan) -> Result<Stream> {
    let w = t.p.windows[scan.table_name.table()].clone();
    if scan.projection.is_some() || !scan.filters.is_empty() {
        return Err(SqlError::at(
            "unexpected pushed-down scan of a window TVF",
            t.at,
        ));
    }
    let must_aggregate = || {
        SqlError::at(
            "this window table-valued function must be aggregated: GROUP BY window_start, window_end, …",
            w.location,
        )
    };
    let assigner = match w.kind {
        WindowKind::Tumble { size_ms, offset_ms } => {
            WindowAssigner::tumble(size_ms).map(|a| a.with_offset(offset_ms))
        }
        WindowKind::Hop { slide_ms, size_ms } => WindowAssigner::hop(slide_ms, size_ms),
        WindowKind::Cumulate {
            step_ms,
            max_size_ms,
        } => WindowAssigner::cumulate(step_ms, max_size_ms),
        _ => return Err(must_aggregate()),
    }
    .map_err(|e| SqlError::at(e.to_string(), w.location))?;
    if let Ok(table) = t.table(&w.input) {
        if let Some(TimeAttribute::ProcessingTime { .. }) = table.time_attribute(&w.descriptor) {
            return Err(must_aggregate());
        }
    }
    let input = t.relation(&w.input)?;
    let input_arrow = Arc::new(input.schema.as_arrow().clone());
    let time_column = input_arrow.index_of(&w.descriptor).map_err(|_| {
        SqlError::at(
            format!("DESCRIPTOR({}) is not a column", w.descriptor),
            w.location,
        )
    })?;
    WindowTableFunctionOperator::new("WindowTableFunction", assigner, time_column, &input_arrow)
        .map_err(|e| SqlError::at(e.to_string(), w.location))?;
    let factory = move |_: &SubtaskInfo| -> eddy_worker::runtime::error::Result<Box<dyn Operator>> {
        Ok(Box::new(WindowTableFunctionOperator::new(
            "WindowTableFunction",
            assigner,
            time_column,
            &input_arrow,
        )?))
    };
    let node = t.p.graph.add_operator(
        "WindowTableFunction",
        input.parallelism,
        &[(input.node, Partitioning::Forward)],
        Arc::new(factory),
    );
    Ok(Stream {
        node,
        parallelism: input.parallelism,
        schema: scan.projected_schema.clone(),
        updating: None,
    })
}

/// What the ON clause says, sorted by kind.
#[derive(Default)]
struct Condition<'a> {
    /// `(left column, right column)` equalities, window bounds excluded.
    keys: Vec<(usize, usize)>,
    window_start: Option<(usize, usize)>,
    window_end: Option<(usize, usize)>,
    /// `(left time column, right time column)` of the bounds.
    time: Option<(usize, usize)>,
    lower: Option<i64>,
    upper: Option<i64>,
    residual: Vec<&'a Expr>,
}

pub(crate) fn plan_join(t: &mut Translator<'_>, j: &Join) -> Result<Stream> {
    let at = t.at;
    let join_type = match j.join_type {
        DfJoinType::Inner => JoinType::Inner,
        DfJoinType::Left => JoinType::LeftOuter,
        DfJoinType::Right => JoinType::RightOuter,
        DfJoinType::Full => JoinType::FullOuter,
        other => {
            return Err(SqlError::at(
                format!("{other} joins are not supported in streaming SQL yet"),
                at,
            ));
        }
    };
    let (ls, rs) = (j.left.schema().clone(), j.right.schema().clone());
    let mut c = Condition::default();
    let on: Vec<Expr> = j.on.iter().map(|(l, r)| l.clone().eq(r.clone())).collect();
    let mut conjuncts: Vec<&Expr> = on.iter().collect();
    if let Some(f) = &j.filter {
        conjuncts.extend(split_conjunction(f));
    }
    for e in conjuncts {
        classify(e, &ls, &rs, &mut c).map_err(|m| SqlError::at(m, at))?;
    }
    if !c.residual.is_empty() && join_type != JoinType::Inner {
        return Err(SqlError::at(
            "an outer stream join's ON may only hold equi-join keys and time bounds",
            at,
        ));
    }
    let windowed = c.window_start.is_some() || c.window_end.is_some();
    let (left_window, right_window) = (window_of(t, &j.left), window_of(t, &j.right));
    let left = t.plan(&j.left)?;
    let right = t.plan(&j.right)?;
    super::group_aggregate::require_append_only(&left, "Join", t.at)?;
    super::group_aggregate::require_append_only(&right, "Join", t.at)?;
    let (left_arrow, right_arrow) = (
        Arc::new(left.schema.as_arrow().clone()),
        Arc::new(right.schema.as_arrow().clone()),
    );
    let (left_keys, right_keys): (Vec<usize>, Vec<usize>) = c.keys.iter().copied().unzip();
    let (name, factory): (&str, Arc<dyn OperatorFactory>) = if windowed {
        let (Some(start), Some(end)) = (c.window_start, c.window_end) else {
            return Err(SqlError::at(
                "a window join must pair both window_start and window_end",
                at,
            ));
        };
        match (&left_window, &right_window) {
            (Some(l), Some(r)) if l.kind == r.kind => {}
            (Some(_), Some(_)) => {
                return Err(SqlError::at(
                    "a window join needs the same window on both sides",
                    at,
                ));
            }
            _ => {
                return Err(SqlError::at(
                    "both inputs of a window join must be window TVFs",
                    at,
                ));
            }
        }
        if c.time.is_some() {
            return Err(SqlError::at(
                "a window join cannot also bound the rows' times",
                at,
            ));
        }
        let spec = WindowJoinSpec {
            join_type,
            left_keys: left_keys.clone(),
            right_keys: right_keys.clone(),
            left_window: (start.0, end.0),
            right_window: (start.1, end.1),
        };
        let (l, r) = (left_arrow.clone(), right_arrow.clone());
        WindowJoinOperator::new("WindowJoin", spec.clone(), l.clone(), r.clone())
            .map_err(|e| SqlError::at(e.to_string(), at))?;
        (
            "WindowJoin",
            Arc::new(move |_: &SubtaskInfo| {
                Ok(Box::new(WindowJoinOperator::new(
                    "WindowJoin",
                    spec.clone(),
                    l.clone(),
                    r.clone(),
                )?) as Box<dyn Operator>)
            }),
        )
    } else {
        let (Some((left_time, right_time)), Some(lower), Some(upper)) = (c.time, c.lower, c.upper)
        else {
            return Err(SqlError::at(
                "only interval joins (ON keys AND l.ts BETWEEN r.ts - INTERVAL … AND r.ts + INTERVAL …) and window joins are supported in streaming SQL yet",
                at,
            ));
        };
        if c.keys.is_empty() {
            return Err(SqlError::at(
                "an interval join needs at least one equi-join key",
                at,
            ));
        }
        let spec = IntervalJoinSpec {
            join_type,
            left_keys: left_keys.clone(),
            right_keys: right_keys.clone(),
            left_time,
            right_time,
            lower_bound: lower,
            upper_bound: upper,
        };
        let (l, r) = (left_arrow.clone(), right_arrow.clone());
        IntervalJoinOperator::new("IntervalJoin", spec.clone(), l.clone(), r.clone())
            .map_err(|e| SqlError::at(e.to_string(), at))?;
        (
            "IntervalJoin",
            Arc::new(move |_: &SubtaskInfo| {
                Ok(Box::new(IntervalJoinOperator::new(
                    "IntervalJoin",
                    spec.clone(),
                    l.clone(),
                    r.clone(),
                )?) as Box<dyn Operator>)
            }),
        )
    };
    let parallelism = if left_keys.is_empty() {
        1
    } else {
        t.p.options.parallelism
    };
    let node = t.p.graph.add_operator(
        name,
        parallelism,
        &[
            (
                left.node,
                Partitioning::Hash {
                    key_columns: left_keys,
                },
            ),
            (
                right.node,
                Partitioning::Hash {
                    key_columns: right_keys,
                },
            ),
        ],
        factory,
    );
    let mut stream = Stream {
        node,
        parallelism,
        schema: j.schema.clone(),
        updating: None,
    };
    for e in c.residual {
        let predicate = physical(e, &j.schema, at)?;
        stream = t.filter(stream, predicate);
    }
    Ok(stream)
}

/// The window TVF a join input reads, if it is one (through projections and aliases).
fn window_of(t: &Translator<'_>, plan: &LogicalPlan) -> Option<WindowTvf> {
    match plan {
        LogicalPlan::Projection(p) => window_of(t, &p.input),
        LogicalPlan::SubqueryAlias(a) => window_of(t, &a.input),
        LogicalPlan::Filter(f) => window_of(t, &f.input),
        LogicalPlan::TableScan(s) => t.p.windows.get(s.table_name.table()).cloned(),
        _ => None,
    }
}

/// Index of `col` in the left (side 0) or right (side 1) input, if it is there.
fn side_of(col: &Column, ls: &DFSchema, rs: &DFSchema) -> Option<(usize, usize)> {
    match (ls.index_of_column(col), rs.index_of_column(col)) {
        (Ok(i), Err(_)) => Some((0, i)),
        (Err(_), Ok(i)) => Some((1, i)),
        _ => None,
    }
}

fn classify<'a>(
    e: &'a Expr,
    ls: &DFSchema,
    rs: &DFSchema,
    c: &mut Condition<'a>,
) -> Result<(), String> {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Op::Eq,
            right,
        }) => {
            if let (Expr::Column(a), Expr::Column(b)) = (left.as_ref(), right.as_ref()) {
                if let (Some((sa, ia)), Some((sb, ib))) = (side_of(a, ls, rs), side_of(b, ls, rs)) {
                    if sa != sb {
                        let pair = if sa == 0 { (ia, ib) } else { (ib, ia) };
                        match (a.name.as_str(), b.name.as_str()) {
                            ("window_start", "window_start") => c.window_start = Some(pair),
                            ("window_end", "window_end") => c.window_end = Some(pair),
                            _ => c.keys.push(pair),
                        }
                        return Ok(());
                    }
                }
            }
            c.residual.push(e);
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if matches!(op, Op::Lt | Op::LtEq | Op::Gt | Op::GtEq) =>
        {
            match (time_term(left, ls, rs), time_term(right, ls, rs)) {
                (Some((sa, ia, oa)), Some((sb, ib, ob))) if sa != sb => {
                    // a + oa OP b + ob, as left - right OP' k.
                    let (op, k, pair) = if sa == 0 {
                        (*op, ob - oa, (ia, ib))
                    } else {
                        (flip(*op), oa - ob, (ib, ia))
                    };
                    bound(c, pair, op, k)?;
                }
                _ => c.residual.push(e),
            }
        }
        Expr::Between(b) if !b.negated => {
            let (x, lo, hi) = (
                time_term(&b.expr, ls, rs),
                time_term(&b.low, ls, rs),
                time_term(&b.high, ls, rs),
            );
            match (x, lo, hi) {
                (Some(x), Some(lo), Some(hi)) if x.0 != lo.0 && x.0 != hi.0 => {
                    for (other, op) in [(lo, Op::GtEq), (hi, Op::LtEq)] {
                        let (op, k, pair) = if x.0 == 0 {
                            (op, other.2 - x.2, (x.1, other.1))
                        } else {
                            (flip(op), x.2 - other.2, (other.1, x.1))
                        };
                        bound(c, pair, op, k)?;
                    }
                }
                _ => c.residual.push(e),
            }
        }
        _ => c.residual.push(e),
    }
    Ok(())
}

fn flip(op: Op) -> Op {
    match op {
        Op::Lt => Op::Gt,
        Op::LtEq => Op::GtEq,
        Op::Gt => Op::Lt,
        Op::GtEq => Op::LtEq,
        other => other,
    }
}

/// Adds `left.time - right.time OP k` (milliseconds) to the bounds.
fn bound(c: &mut Condition<'_>, pair: (usize, usize), op: Op, k: i64) -> Result<(), String> {
    if c.time.is_some_and(|p| p != pair) {
        return Err("an interval join must bound one pair of time columns".into());
    }
    c.time = Some(pair);
    match op {
        Op::GtEq => c.lower = Some(c.lower.map_or(k, |l| l.max(k))),
        Op::Gt => c.lower = Some(c.lower.map_or(k + 1, |l| l.max(k + 1))),
        Op::LtEq => c.upper = Some(c.upper.map_or(k, |u| u.min(k))),
        Op::Lt => c.upper = Some(c.upper.map_or(k - 1, |u| u.min(k - 1))),
        _ => {}
    }
    Ok(())
}

/// `col`, `col + INTERVAL …` or `col - INTERVAL …` over a timestamp column: (side,
/// column index, offset in ms).
fn time_term(e: &Expr, ls: &DFSchema, rs: &DFSchema) -> Option<(usize, usize, i64)> {
    match e {
        Expr::Column(col) => {
            let (side, i) = side_of(col, ls, rs)?;
            let schema = if side == 0 { ls } else { rs };
            matches!(
                schema.field(i).data_type(),
                arrow::datatypes::DataType::Timestamp(..)
            )
            .then_some((side, i, 0))
        }
        Expr::Cast(cast) => time_term(&cast.expr, ls, rs),
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: op @ (Op::Plus | Op::Minus),
            right,
        }) => {
            let (side, i, offset) = time_term(left, ls, rs)?;
            let ms = interval_ms(right)?;
            Some((
                side,
                i,
                if *op == Op::Plus {
                    offset + ms
                } else {
                    offset - ms
                },
            ))
        }
        _ => None,
    }
}

/// A day-time interval literal in milliseconds.
fn interval_ms(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(ScalarValue::IntervalDayTime(Some(v)), _) => {
            Some(v.days as i64 * MS_PER_DAY + v.milliseconds as i64)
        }
        Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(v)), _) if v.months == 0 => {
            Some(v.days as i64 * MS_PER_DAY + v.nanoseconds / 1_000_000)
        }
        Expr::Cast(cast) => interval_ms(&cast.expr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use datafusion::logical_expr::{Expr, lit};
    use eddy_worker::graph::StreamGraph;

    use super::*;
    use crate::planner::{PlanOptions, plan_script};

    /// Planning awaits nothing that can be pending (in-memory tables only).
    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("planning should not wait"),
        }
    }

    const DDL: &str = "
        CREATE TABLE bid (auction BIGINT, price BIGINT, channel STRING, date_time TIMESTAMP(3),
          WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND)
          WITH ('connector' = 'datagen');
        CREATE TABLE sink (a BIGINT, b BIGINT, c TIMESTAMP(3)) WITH ('connector' = 'blackhole');
        CREATE VIEW apple AS SELECT * FROM bid WHERE channel = 'Apple';
        CREATE VIEW google AS SELECT * FROM bid WHERE channel = 'Google';";

    fn plan(query: &str) -> crate::error::Result<StreamGraph> {
        let options = PlanOptions {
            parallelism: 2,
            ..PlanOptions::default()
        };
        block_on(plan_script(&format!("{DDL}\n{query}"), &options)).map(|j| j.graph)
    }

    fn join_inputs(g: &StreamGraph, name: &str) -> Vec<Partitioning> {
        let node = g.nodes.iter().find(|n| n.name == name).expect(name);
        let mut edges: Vec<_> = g.edges.iter().filter(|e| e.target == node.id).collect();
        edges.sort_by_key(|e| e.target_input);
        edges.iter().map(|e| e.partitioning.clone()).collect()
    }

    #[test]
    fn plans_an_interval_join_hash_partitioned_by_its_keys() {
        let g = plan(
            "INSERT INTO sink SELECT a.auction, g.price, g.date_time FROM apple a JOIN google g
               ON a.auction = g.auction AND a.price > g.price
              AND a.date_time BETWEEN g.date_time - INTERVAL '10' SECOND AND g.date_time",
        )
        .unwrap();
        let hash = Partitioning::Hash {
            key_columns: vec![0],
        };
        assert_eq!(join_inputs(&g, "IntervalJoin"), vec![hash.clone(), hash]);
        let join = g
            .nodes
            .iter()
            .find(|n| n.name == "IntervalJoin")
            .unwrap()
            .id;
        assert!(
            g.edges
                .iter()
                .any(|e| e.source == join && g.nodes[e.target].name == "Filter"),
            "the residual a.price > g.price filters the joined rows"
        );
        let err = plan("INSERT INTO sink SELECT a.auction, g.price, g.date_time FROM apple a JOIN google g ON a.auction = g.auction")
            .err()
            .unwrap();
        assert!(err.to_string().contains("interval joins"), "{err}");
    }

    #[test]
    fn plans_a_window_join_over_two_window_tvfs() {
        let window = |t: &str, size: &str| {
            format!(
                "(SELECT * FROM TABLE(TUMBLE(TABLE {t}, DESCRIPTOR(date_time), INTERVAL '{size}' SECOND)))"
            )
        };
        let q = |size2: &str| {
            format!(
                "INSERT INTO sink SELECT L.auction, R.price, L.window_start FROM {} L LEFT JOIN {} R
                   ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.auction = R.auction",
                window("apple", "1"),
                window("google", size2)
            )
        };
        let g = plan(&q("1")).unwrap();
        assert_eq!(join_inputs(&g, "WindowJoin").len(), 2);
        assert_eq!(
            g.nodes
                .iter()
                .filter(|n| n.name == "WindowTableFunction")
                .count(),
            2
        );
        let err = plan(&q("2")).err().unwrap();
        assert!(err.to_string().contains("same window"), "{err}");
    }

    #[test]
    fn normalizes_time_bounds_to_left_minus_right() {
        let ts =
            arrow::datatypes::DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, None);
        let schema = |q: &str| {
            DFSchema::try_from_qualified_schema(
                q,
                &arrow::datatypes::Schema::new(vec![
                    arrow::datatypes::Field::new("k", arrow::datatypes::DataType::Int64, true),
                    arrow::datatypes::Field::new("ts", ts.clone(), false),
                ]),
            )
            .unwrap()
        };
        let (ls, rs) = (schema("a"), schema("b"));
        let col = |q: &str, n: &str| Expr::Column(Column::new(Some(q), n));
        let ms = |v: i32| lit(ScalarValue::new_interval_dt(0, v));
        // b.ts > a.ts - 10 ms  ⇔  a.ts - b.ts < 10  ⇔  a.ts - b.ts <= 9
        let e1 = col("b", "ts").gt(col("a", "ts") - ms(10));
        // a.ts >= b.ts - 1 day
        let e2 = col("a", "ts").gt_eq(col("b", "ts") - lit(ScalarValue::new_interval_dt(1, 0)));
        let e3 = col("a", "k").eq(col("b", "k"));
        let mut c = Condition::default();
        for e in [&e1, &e2, &e3] {
            classify(e, &ls, &rs, &mut c).unwrap();
        }
        assert_eq!(
            (c.lower, c.upper, c.time),
            (Some(-MS_PER_DAY), Some(9), Some((1, 1)))
        );
        assert_eq!(c.keys, vec![(0, 0)]);
        assert!(c.residual.is_empty());
        let mut c = Condition::default();
        let between = col("a", "ts").between(col("b", "ts") - ms(5), col("b", "ts") + ms(7));
        classify(&between, &ls, &rs, &mut c).unwrap();
        assert_eq!((c.lower, c.upper), (Some(-5), Some(7)));
        // A bound on a key is not a time bound: it stays a residual condition.
        let mut c = Condition::default();
        let e4 = col("a", "k").gt(col("b", "k"));
        classify(&e4, &ls, &rs, &mut c).unwrap();
        assert_eq!(c.residual.len(), 1);
        assert!(c.time.is_none());
    }
}
