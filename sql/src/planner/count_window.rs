//! Count window aggregates (Eddy's extension): `GROUP BY k, window_index` over
//! `TABLE(COUNT_TUMBLE(TABLE t, DESCRIPTOR(k), size))` or `COUNT_HOP(…, size, slide)`
//! becomes a [`CountWindowOperator`] hash-partitioned by `k` (Flink's
//! `keyBy(k).countWindow(size[, slide])`), followed by a projection into the column
//! order DataFusion planned. Rows after a key's last fire point are never emitted.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::logical_expr::{Aggregate, Expr};
use eddy_worker::graph::Partitioning;
use eddy_worker::operators::count_window::{CountWindowOperator, CountWindowSpec};
use eddy_worker::runtime::operator::{Operator, SubtaskInfo};

use super::translate::{Stream, Translator};
use super::window::{aggregate_spec, reorder_output, window_input};
use crate::error::{Result, SqlError};
use crate::tvf::{WindowKind, WindowTvf};

const WINDOW_INDEX: &str = "window_index";

/// Where an output column of the aggregate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Key,
    Index,
}

pub(crate) fn plan_count_window(
    t: &mut Translator<'_>,
    a: &Aggregate,
    w: &WindowTvf,
    scan_schema: &DFSchema,
    filters: Vec<(&Expr, datafusion::common::DFSchemaRef)>,
) -> Result<Stream> {
    let at = t.at;
    let (size, slide) = match w.kind {
        WindowKind::CountTumble { size } => (size, size),
        WindowKind::CountHop { size, slide } => (size, slide),
        _ => {
            return Err(SqlError::at("not a count window", w.location));
        }
    };
    let input = window_input(t, w, filters)?;
    let input_width = input.schema.fields().len();
    let input_arrow = Arc::new(input.schema.as_arrow().clone());
    let key = input_arrow.index_of(&w.descriptor).map_err(|_| {
        SqlError::at(
            format!("DESCRIPTOR({}) is not a column", w.descriptor),
            w.location,
        )
    })?;
    let mut layout = Vec::new();
    for g in &a.group_expr {
        let Expr::Column(c) = g else {
            return Err(SqlError::at(
                format!("GROUP BY {g}: only columns are supported in count window aggregates"),
                at,
            ));
        };
        if c.name == WINDOW_INDEX {
            layout.push(Group::Index);
            continue;
        }
        let i = scan_schema
            .index_of_column(c)
            .map_err(|e| super::exprs::df_error(e, at))?;
        if i != key || layout.contains(&Group::Key) {
            return Err(SqlError::at(
                format!(
                    "a count window over DESCRIPTOR({}) must GROUP BY {}, window_index (not {})",
                    w.descriptor, w.descriptor, c.name
                ),
                at,
            ));
        }
        layout.push(Group::Key);
    }
    if layout.len() != 2 {
        return Err(SqlError::at(
            format!(
                "a count window over DESCRIPTOR({}) must GROUP BY {}, window_index",
                w.descriptor, w.descriptor
            ),
            at,
        ));
    }
    let aggregates = a
        .aggr_expr
        .iter()
        .enumerate()
        .map(|(i, e)| {
            aggregate_spec(e, scan_schema, input_width, &format!("agg{i}"))
                .map_err(|m| SqlError::at(m, at))
        })
        .collect::<Result<Vec<_>>>()?;
    let spec = CountWindowSpec {
        size,
        slide,
        key_columns: vec![key],
        aggregates,
    };
    let name = if size == slide {
        "CountTumbleWindow"
    } else {
        "CountHopWindow"
    };
    // Build one now to check the spec and learn the output schema.
    let types: Vec<DataType> = CountWindowOperator::new(name, spec.clone(), input_arrow.clone())
        .map_err(|e| SqlError::at(e.to_string(), w.location))?
        .output_schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let parallelism = t.p.options.parallelism;
    let factory = move |_: &SubtaskInfo| -> eddy_worker::runtime::error::Result<Box<dyn Operator>> {
        Ok(Box::new(CountWindowOperator::new(
            name,
            spec.clone(),
            input_arrow.clone(),
        )?))
    };
    let node = t.p.graph.add_operator(
        name,
        parallelism,
        &[(
            input.node,
            Partitioning::Hash {
                key_columns: vec![key],
            },
        )],
        Arc::new(factory),
    );
    // The operator emits key, window_index, aggregates….
    let sources: Vec<usize> = (0..a.schema.fields().len())
        .map(|i| match layout.get(i) {
            Some(Group::Key) => 0,
            Some(Group::Index) => 1,
            None => 2 + (i - layout.len()),
        })
        .collect();
    reorder_output(t, node, parallelism, &types, &sources, a.schema.clone())
}

#[cfg(test)]
mod tests {
    use super::super::over::{assert_hashed_input, plan_now};

    const TABLES: &str = "CREATE TABLE src (v BIGINT, k STRING) WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out (k STRING, i BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
";

    #[test]
    fn count_windows_hash_by_their_key() {
        for (tvf, name) in [
            (
                "COUNT_HOP(TABLE src, DESCRIPTOR(k), 4, 2)",
                "CountHopWindow",
            ),
            (
                "COUNT_TUMBLE(TABLE src, DESCRIPTOR(k), 4)",
                "CountTumbleWindow",
            ),
        ] {
            let job = plan_now(
                &format!("{TABLES}INSERT INTO out SELECT k, window_index, SUM(v) FROM TABLE({tvf}) WHERE v > 0 GROUP BY k, window_index"),
                3,
            )
            .unwrap();
            assert_hashed_input(&job, name, 3, &[1]);
        }
    }

    #[test]
    fn count_windows_must_group_by_key_and_index() {
        for group_by in ["v, window_index", "k", "k, v, window_index"] {
            let err = match plan_now(
                &format!(
                    "{TABLES}INSERT INTO out SELECT 'x', 1, COUNT(*) FROM TABLE(COUNT_TUMBLE(TABLE src, DESCRIPTOR(k), 4)) GROUP BY {group_by}"
                ),
                1,
            ) {
                Ok(_) => panic!("GROUP BY {group_by} planned"),
                Err(e) => e,
            };
            assert!(err.line.is_some(), "{err}");
            assert!(
                err.message.contains("must GROUP BY k, window_index"),
                "{group_by}: {err}"
            );
        }
    }
}
