//! OVER aggregates: DataFusion's `LogicalPlan::Window` (`agg(x) OVER (PARTITION BY k
//! ORDER BY rowtime <frame>)`, inline or through `WINDOW w AS (…)`) becomes an
//! [`OverAggregateOperator`] hash-partitioned by the partition keys. As in Flink, every
//! aggregate of one window node shares one window, ORDER BY is a single event-time
//! attribute ascending, and the frame ends at CURRENT ROW: ROWS/RANGE UNBOUNDED
//! PRECEDING, ROWS n PRECEDING or RANGE INTERVAL … PRECEDING.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::expr::{AggregateFunction, AggregateFunctionParams};
use datafusion::logical_expr::{
    Expr, Window, WindowFrame, WindowFrameBound, WindowFrameUnits, WindowFunctionDefinition,
};
use eddy_worker::graph::Partitioning;
use eddy_worker::operators::over::{OverAggregateOperator, OverFrame, OverSpec};
use eddy_worker::runtime::operator::{Operator, SubtaskInfo};

use super::translate::{Stream, Translator};
use super::window::{aggregate_spec, reorder_output};
use crate::catalog::TimeAttribute;
use crate::error::{Result, SqlError};

pub(crate) fn plan_over(t: &mut Translator<'_>, w: &Window) -> Result<Stream> {
    let at = t.at;
    let input = t.plan(&w.input)?;
    super::group_aggregate::require_append_only(&input, "an OVER aggregate", t.at)?;
    let schema = input.schema.clone();
    let width = schema.fields().len();
    let mut shared: Option<(&[Expr], &[datafusion::logical_expr::SortExpr], &WindowFrame)> = None;
    let mut aggregates = Vec::new();
    for (i, e) in w.window_expr.iter().enumerate() {
        let e = match e {
            Expr::Alias(a) => a.expr.as_ref(),
            other => other,
        };
        let Expr::WindowFunction(f) = e else {
            return Err(SqlError::at(format!("{e} is not a window function"), at));
        };
        let WindowFunctionDefinition::AggregateUDF(udf) = &f.fun else {
            return Err(SqlError::at(
                format!(
                    "{}: only aggregate functions (COUNT, SUM, MIN, MAX, AVG) are supported OVER a window",
                    f.fun
                ),
                at,
            ));
        };
        let p = &f.params;
        let window = (
            p.partition_by.as_slice(),
            p.order_by.as_slice(),
            &p.window_frame,
        );
        match shared {
            None => shared = Some(window),
            Some(s) if s == window => {}
            Some(_) => {
                return Err(SqlError::at(
                    "all OVER aggregates of one SELECT must use the same window (PARTITION BY, ORDER BY and frame)",
                    at,
                ));
            }
        }
        // Reuse the window aggregates' mapping through an equivalent aggregate call.
        let call = Expr::AggregateFunction(AggregateFunction {
            func: udf.clone(),
            params: AggregateFunctionParams {
                args: p.args.clone(),
                distinct: p.distinct,
                filter: p.filter.clone(),
                order_by: vec![],
                null_treatment: p.null_treatment,
            },
        });
        aggregates.push(
            aggregate_spec(&call, &schema, width, &format!("over{i}"))
                .map_err(|m| SqlError::at(m, at))?,
        );
    }
    let Some((partition_by, order_by, frame)) = shared else {
        return Err(SqlError::at("an OVER window without aggregates", at));
    };
    let partition_columns = partition_by
        .iter()
        .map(|e| match e {
            Expr::Column(c) => schema
                .index_of_column(c)
                .map_err(|e| super::exprs::df_error(e, at)),
            other => Err(SqlError::at(
                format!("PARTITION BY {other}: only columns are supported"),
                at,
            )),
        })
        .collect::<Result<Vec<_>>>()?;
    let time_column = time_column(t, &schema, order_by)?;
    let frame = over_frame(frame).map_err(|m| SqlError::at(m, at))?;
    let spec = OverSpec {
        frame,
        partition_columns: partition_columns.clone(),
        time_column,
        aggregates,
    };
    build(t, input, spec, w)
}

/// Adds the operator and, where its result types differ from DataFusion's, a cast.
fn build(t: &mut Translator<'_>, input: Stream, spec: OverSpec, w: &Window) -> Result<Stream> {
    let input_arrow = Arc::new(input.schema.as_arrow().clone());
    let name = "OverAggregate";
    let types: Vec<DataType> = OverAggregateOperator::new(name, spec.clone(), input_arrow.clone())
        .map_err(|e| SqlError::at(e.to_string(), t.at))?
        .output_schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let keys = spec.partition_columns.clone();
    let parallelism = if keys.is_empty() {
        1
    } else {
        t.p.options.parallelism
    };
    let factory = move |_: &SubtaskInfo| -> eddy_worker::runtime::error::Result<Box<dyn Operator>> {
        Ok(Box::new(OverAggregateOperator::new(
            name,
            spec.clone(),
            input_arrow.clone(),
        )?))
    };
    let node = t.p.graph.add_operator(
        name,
        parallelism,
        &[(input.node, Partitioning::Hash { key_columns: keys })],
        Arc::new(factory),
    );
    let planned: Vec<&DataType> = w.schema.fields().iter().map(|f| f.data_type()).collect();
    if planned.len() == types.len() && planned.iter().zip(&types).all(|(a, b)| *a == b) {
        return Ok(Stream {
            node,
            parallelism,
            schema: w.schema.clone(),
            updating: None,
        });
    }
    let sources: Vec<usize> = (0..w.schema.fields().len()).collect();
    reorder_output(t, node, parallelism, &types, &sources, w.schema.clone())
}

/// ORDER BY: one event-time attribute, ascending (Flink's rule for OVER windows).
fn time_column(
    t: &Translator<'_>,
    schema: &DFSchema,
    order_by: &[datafusion::logical_expr::SortExpr],
) -> Result<usize> {
    let at = t.at;
    let [sort] = order_by else {
        return Err(SqlError::at(
            "OVER windows must ORDER BY exactly one time attribute (the table's rowtime)",
            at,
        ));
    };
    let Expr::Column(c) = &sort.expr else {
        return Err(SqlError::at(
            format!(
                "OVER … ORDER BY {}: must be a time attribute column",
                sort.expr
            ),
            at,
        ));
    };
    if !sort.asc {
        return Err(SqlError::at(
            "OVER windows can only ORDER BY a time attribute ascending",
            at,
        ));
    }
    let attribute = match &c.relation {
        Some(r) => t
            .table(r.table())
            .ok()
            .map(|table| table.time_attribute(&c.name).cloned()),
        None => None,
    };
    // A view's columns: accept a column named as some table's event-time attribute.
    let attribute = attribute.unwrap_or_else(|| {
        t.p.tables
            .values()
            .filter_map(|table| table.time_attribute(&c.name).cloned())
            .find(|a| !matches!(a, TimeAttribute::ProcessingTime { .. }))
    });
    match attribute {
        Some(TimeAttribute::EventTime { .. } | TimeAttribute::IngestionTime { .. }) => schema
            .index_of_column(c)
            .map_err(|e| super::exprs::df_error(e, at)),
        Some(TimeAttribute::ProcessingTime { .. }) => Err(SqlError::at(
            format!(
                "OVER … ORDER BY {}: processing-time OVER aggregates are not supported",
                c.name
            ),
            at,
        )),
        None => Err(SqlError::at(
            format!(
                "OVER … ORDER BY {}: must be a time attribute (a column with a WATERMARK)",
                c.name
            ),
            at,
        )),
    }
}

/// The frame as the operator knows it; it must end at CURRENT ROW.
fn over_frame(frame: &WindowFrame) -> Result<OverFrame, String> {
    if frame.end_bound != WindowFrameBound::CurrentRow {
        return Err(format!(
            "OVER frame {frame}: only frames ending at CURRENT ROW are supported"
        ));
    }
    match (&frame.units, &frame.start_bound) {
        (WindowFrameUnits::Rows, WindowFrameBound::CurrentRow) => {
            Ok(OverFrame::Rows { preceding: 0 })
        }
        (WindowFrameUnits::Range, WindowFrameBound::CurrentRow) => {
            Ok(OverFrame::Range { preceding_ms: 0 })
        }
        (WindowFrameUnits::Rows, WindowFrameBound::Preceding(v)) if v.is_null() => {
            Ok(OverFrame::RowsUnbounded)
        }
        (WindowFrameUnits::Range, WindowFrameBound::Preceding(v)) if v.is_null() => {
            Ok(OverFrame::RangeUnbounded)
        }
        (WindowFrameUnits::Rows, WindowFrameBound::Preceding(v)) => match v {
            ScalarValue::UInt64(Some(n)) => Ok(OverFrame::Rows { preceding: *n }),
            ScalarValue::Int64(Some(n)) if *n >= 0 => Ok(OverFrame::Rows {
                preceding: *n as u64,
            }),
            other => Err(format!(
                "ROWS {other} PRECEDING: expected a non-negative row count"
            )),
        },
        (WindowFrameUnits::Range, WindowFrameBound::Preceding(v)) => interval_ms(v)
            .map(|preceding_ms| OverFrame::Range { preceding_ms })
            .ok_or_else(|| format!("RANGE {v} PRECEDING: expected an INTERVAL of days or less")),
        _ => Err(format!("OVER frame {frame} is not supported")),
    }
}

/// An interval bound in milliseconds (no months: their length varies).
fn interval_ms(v: &ScalarValue) -> Option<i64> {
    let ms = match v {
        ScalarValue::IntervalDayTime(Some(d)) => d.days as i64 * 86_400_000 + d.milliseconds as i64,
        ScalarValue::IntervalMonthDayNano(Some(i)) if i.months == 0 => {
            i.days as i64 * 86_400_000 + i.nanoseconds / 1_000_000
        }
        ScalarValue::DurationMillisecond(Some(ms)) => *ms,
        ScalarValue::DurationSecond(Some(s)) => s * 1000,
        ScalarValue::DurationMicrosecond(Some(us)) => us / 1000,
        ScalarValue::DurationNanosecond(Some(ns)) => ns / 1_000_000,
        _ => return None,
    };
    (ms >= 0).then_some(ms)
}

/// Checks that the node `name` of a planned job runs at `parallelism` and that its
/// input is hash-partitioned by `key_columns`.
#[cfg(test)]
pub(crate) fn assert_hashed_input(
    job: &crate::PlannedJob,
    name: &str,
    parallelism: u32,
    key_columns: &[usize],
) {
    let node = job.graph.nodes.iter().find(|n| n.name == name);
    let node = node.unwrap_or_else(|| panic!("a {name} node"));
    assert_eq!(node.parallelism, parallelism);
    let edge = job.graph.edges.iter().find(|e| e.target == node.id);
    assert_eq!(
        edge.map(|e| &e.partitioning),
        Some(&Partitioning::Hash {
            key_columns: key_columns.to_vec()
        })
    );
}

/// Plans a script without an async runtime (planning never waits on I/O).
#[cfg(test)]
pub(crate) fn plan_now(sql: &str, parallelism: u32) -> Result<crate::PlannedJob> {
    let options = crate::PlanOptions {
        parallelism,
        ..Default::default()
    };
    let mut future = std::pin::pin!(crate::plan_script(sql, &options));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(r) = future.as_mut().poll(&mut cx) {
            return r;
        }
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLES: &str = "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3), pt AS PROCTIME(),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND) WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out (auction BIGINT, price BIGINT, c BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
";

    /// Plans an OVER query with `sql_frame` and checks its operator's placement.
    fn plan_with_frame(sql_frame: &str) -> Result<()> {
        let job = plan_now(
            &format!(
                "{TABLES}INSERT INTO out SELECT auction, price, COUNT(*) OVER w, SUM(price) OVER w FROM bid WINDOW w AS (PARTITION BY bidder ORDER BY date_time {sql_frame})"
            ),
            2,
        )?;
        // Hash-partitioned by `bidder`, column 1 of the source.
        assert_hashed_input(&job, "OverAggregate", 2, &[1]);
        Ok(())
    }

    /// The operator frame of a frame clause as DataFusion reads it.
    fn over_frame_of(sql_frame: &str) -> OverFrame {
        use datafusion::logical_expr::WindowFrame;
        use datafusion::sql::sqlparser::ast::WindowFrame as AstFrame;
        use datafusion::sql::sqlparser::parser::Parser;
        let d = crate::script::dialect();
        let mut p = Parser::new(&d).try_with_sql(sql_frame).unwrap();
        let units = p.parse_window_frame_units().unwrap();
        let (start, end) =
            if p.parse_keyword(datafusion::sql::sqlparser::keywords::Keyword::BETWEEN) {
                let s = p.parse_window_frame_bound().unwrap();
                p.expect_keyword(datafusion::sql::sqlparser::keywords::Keyword::AND)
                    .unwrap();
                (s, Some(p.parse_window_frame_bound().unwrap()))
            } else {
                (p.parse_window_frame_bound().unwrap(), None)
            };
        let ast = AstFrame {
            units,
            start_bound: start,
            end_bound: end,
        };
        let frame = WindowFrame::try_from(ast).unwrap();
        over_frame(&frame).unwrap()
    }

    #[test]
    fn named_and_inline_windows_plan_onto_the_over_operator() {
        plan_with_frame("").unwrap();
        assert_eq!(
            over_frame_of("ROWS BETWEEN 3 PRECEDING AND CURRENT ROW"),
            OverFrame::Rows { preceding: 3 }
        );
        plan_with_frame("ROWS BETWEEN 3 PRECEDING AND CURRENT ROW").unwrap();
        plan_with_frame("RANGE BETWEEN INTERVAL '2' MINUTE PRECEDING AND CURRENT ROW").unwrap();
        plan_with_frame("ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW").unwrap();
        assert_eq!(
            over_frame_of("ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"),
            OverFrame::RowsUnbounded
        );
        let job = plan_now(
            &format!("{TABLES}INSERT INTO out SELECT auction, price, COUNT(price) OVER (ORDER BY date_time ROWS 2 PRECEDING), 1 FROM bid"),
            2,
        )
        .unwrap();
        let node = job
            .graph
            .nodes
            .iter()
            .find(|n| n.name == "OverAggregate")
            .unwrap();
        assert_eq!(node.parallelism, 1, "no PARTITION BY: one subtask");
    }

    #[test]
    fn interval_bounds_in_milliseconds() {
        assert_eq!(
            over_frame(&WindowFrame::new_bounds(
                WindowFrameUnits::Range,
                WindowFrameBound::Preceding(ScalarValue::IntervalMonthDayNano(Some(
                    arrow::datatypes::IntervalMonthDayNano::new(0, 1, 5_000_000_000)
                ))),
                WindowFrameBound::CurrentRow,
            )),
            Ok(OverFrame::Range {
                preceding_ms: 86_405_000
            })
        );
        let months = ScalarValue::IntervalMonthDayNano(Some(
            arrow::datatypes::IntervalMonthDayNano::new(1, 0, 0),
        ));
        assert_eq!(interval_ms(&months), None);
        assert!(
            over_frame(&WindowFrame::new_bounds(
                WindowFrameUnits::Groups,
                WindowFrameBound::Preceding(ScalarValue::UInt64(Some(1))),
                WindowFrameBound::CurrentRow,
            ))
            .is_err()
        );
    }

    #[test]
    fn unsupported_over_forms_are_errors() {
        let err = |select: &str| match plan_now(&format!("{TABLES}INSERT INTO out\n{select}"), 1) {
            Ok(_) => panic!("{select} planned"),
            Err(e) => e,
        };
        let e = err(
            "SELECT auction, price, COUNT(*) OVER (ORDER BY date_time ROWS 1 PRECEDING), COUNT(*) OVER (ORDER BY date_time ROWS 2 PRECEDING) FROM bid",
        );
        assert!(e.message.contains("same window"), "{e}");
        assert_eq!(e.line, Some(4), "{e}");
        let e = err(
            "SELECT auction, price, COUNT(*) OVER (PARTITION BY auction ORDER BY date_time DESC), 1 FROM bid",
        );
        assert!(e.message.contains("ascending"), "{e}");
        let e = err("SELECT auction, price, COUNT(*) OVER (PARTITION BY auction), 1 FROM bid");
        assert!(e.message.contains("ORDER BY"), "{e}");
        let e = err("SELECT auction, price, COUNT(*) OVER (ORDER BY pt), 1 FROM bid");
        assert!(e.message.contains("processing-time"), "{e}");
        let e = err("SELECT auction, price, ROW_NUMBER() OVER (ORDER BY date_time), 1 FROM bid");
        assert!(e.message.contains("only aggregate functions"), "{e}");
        let e = err(
            "SELECT auction, price, COUNT(*) OVER (ORDER BY date_time ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING), 1 FROM bid",
        );
        assert!(e.message.contains("CURRENT ROW"), "{e}");
    }
}
