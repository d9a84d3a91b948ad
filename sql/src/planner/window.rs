//! Window aggregates: `GROUP BY window_start, window_end, keys…` over a window TVF
//! becomes a keyed window operator (hash-partitioned by the keys), followed by a
//! projection into the column order DataFusion planned.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{CastExpr, Column};
use eddy_worker::graph::Partitioning;
use eddy_worker::operators::aggregate::AggregateSpec;
use eddy_worker::operators::window::{
    WindowAggregateSpec, WindowAssigner, WindowTime, create_window_aggregate,
};
use eddy_worker::runtime::operator::{Operator, SubtaskInfo};

use super::aggregate_call::{aggregate_function, aggregate_kind};
use super::exprs::physical;
use super::translate::{Stream, Translator};
use crate::catalog::TimeAttribute;
use crate::error::{Result, SqlError};
use crate::tvf::{WindowKind, WindowTvf};

const WINDOW_START: &str = "window_start";
const WINDOW_END: &str = "window_end";
const WINDOW_TIME: &str = "window_time";
const WINDOW_INDEX: &str = "window_index";

/// A window TVF's table: its input's columns, then the window's.
pub(crate) fn window_table_schema(w: &WindowTvf, input: &Schema) -> Result<SchemaRef> {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
    let mut fields: Vec<Field> = input.fields().iter().map(|f| f.as_ref().clone()).collect();
    if input.index_of(&w.descriptor).is_err() {
        return Err(SqlError::at(
            format!(
                "DESCRIPTOR({}): no such column in '{}'",
                w.descriptor, w.input
            ),
            w.location,
        ));
    }
    match w.kind {
        WindowKind::CountTumble { .. } | WindowKind::CountHop { .. } => {
            fields.push(Field::new(WINDOW_INDEX, DataType::Int64, false))
        }
        _ => {
            fields.push(Field::new(WINDOW_START, ts.clone(), false));
            fields.push(Field::new(WINDOW_END, ts.clone(), false));
            fields.push(Field::new(WINDOW_TIME, ts, false));
        }
    }
    Ok(Arc::new(Schema::new(fields)))
}

pub(crate) fn plan_window_aggregate(t: &mut Translator<'_>, a: &Aggregate) -> Result<Stream> {
    let at = t.at;
    // Below the aggregate: filters (and aliases) over the window table.
    let mut filters = Vec::new();
    let mut node = a.input.as_ref();
    let scan = loop {
        match node {
            LogicalPlan::Filter(f) => {
                filters.push((&f.predicate, f.input.schema().clone()));
                node = &f.input;
            }
            LogicalPlan::SubqueryAlias(s) => node = &s.input,
            LogicalPlan::TableScan(s) if t.p.windows.contains_key(s.table_name.table()) => break s,
            _ => {
                return Err(SqlError::at(
                    "only window aggregates are supported yet: GROUP BY window_start, window_end, … over a window TVF",
                    at,
                ));
            }
        }
    };
    let w = t.p.windows[scan.table_name.table()].clone();
    // The aggregate reads the scan's columns by the name of the alias above it, if any.
    let scan_schema = a.input.schema().clone();
    if matches!(
        w.kind,
        WindowKind::CountTumble { .. } | WindowKind::CountHop { .. }
    ) {
        return super::count_window::plan_count_window(t, a, &w, &scan_schema, filters);
    }
    let input = window_input(t, &w, filters)?;
    let input_width = input.schema.fields().len();
    let input_arrow = Arc::new(input.schema.as_arrow().clone());
    // GROUP BY: the window's bounds and the keys.
    let mut keys: Vec<usize> = Vec::new();
    let mut group_layout = Vec::new();
    for g in &a.group_expr {
        let Expr::Column(c) = g else {
            return Err(SqlError::at(
                format!("GROUP BY {g}: only columns are supported in window aggregates yet"),
                at,
            ));
        };
        match c.name.as_str() {
            WINDOW_START => group_layout.push(Group::Start),
            WINDOW_END => group_layout.push(Group::End),
            WINDOW_TIME => {
                return Err(SqlError::at(
                    "GROUP BY window_time is not supported yet",
                    at,
                ));
            }
            _ => {
                let i = scan_schema
                    .index_of_column(c)
                    .map_err(|e| super::exprs::df_error(e, at))?;
                group_layout.push(Group::Key(keys.len()));
                keys.push(i);
            }
        }
    }
    if !group_layout.contains(&Group::Start) || !group_layout.contains(&Group::End) {
        return Err(SqlError::at(
            "a window aggregate must GROUP BY window_start, window_end",
            at,
        ));
    }
    if let WindowKind::Session { .. } = w.kind {
        let partition: Vec<usize> = w
            .partition_by
            .iter()
            .filter_map(|p| input_arrow.index_of(p).ok())
            .collect();
        let mut sorted_keys = keys.clone();
        sorted_keys.sort();
        let mut sorted_partition = partition.clone();
        sorted_partition.sort();
        if sorted_keys != sorted_partition {
            return Err(SqlError::at(
                "SESSION windows must GROUP BY exactly their PARTITION BY columns",
                w.location,
            ));
        }
    }
    let aggregates = a
        .aggr_expr
        .iter()
        .enumerate()
        .map(|(i, e)| {
            aggregate_spec(e, &scan_schema, input_width, &format!("agg{i}"))
                .map_err(|m| SqlError::at(m, at))
        })
        .collect::<Result<Vec<_>>>()?;
    let time = match t
        .table(&w.input)
        .ok()
        .and_then(|table| table.time_attribute(&w.descriptor).cloned())
    {
        Some(TimeAttribute::ProcessingTime { .. }) => WindowTime::ProcessingTime,
        _ => WindowTime::EventTime {
            time_column: input_arrow.index_of(&w.descriptor).map_err(|_| {
                SqlError::at(
                    format!("DESCRIPTOR({}) is not a column", w.descriptor),
                    w.location,
                )
            })?,
        },
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
        WindowKind::Session { gap_ms } => WindowAssigner::session(gap_ms),
        _ => unreachable_count(),
    }
    .map_err(|e| SqlError::at(e.to_string(), w.location))?;
    let spec = WindowAggregateSpec {
        assigner,
        time,
        key_columns: keys.clone(),
        aggregates,
    };
    let name = format!("{}Window", kind_name(&w.kind));
    // Build one now to check the spec and learn the output schema.
    let probe = create_window_aggregate(&name, spec.clone(), input_arrow.clone())
        .map_err(|e| SqlError::at(e.to_string(), at))?;
    drop(probe);
    let parallelism = if keys.is_empty() {
        1
    } else {
        t.p.options.parallelism
    };
    let (factory_name, factory_spec, factory_schema) =
        (name.clone(), spec.clone(), input_arrow.clone());
    let factory = move |_: &SubtaskInfo| -> eddy_worker::runtime::error::Result<Box<dyn Operator>> {
        create_window_aggregate(&factory_name, factory_spec.clone(), factory_schema.clone())
    };
    let node = t.p.graph.add_operator(
        name,
        parallelism,
        &[(
            input.node,
            Partitioning::Hash {
                key_columns: keys.clone(),
            },
        )],
        Arc::new(factory),
    );
    // The operator emits keys…, window_start, window_end, aggregates…; reorder (and
    // cast to the types DataFusion planned) into the aggregate's schema.
    let nk = keys.len();
    let window_out = window_output_types(&input_arrow, &spec, nk)?;
    let sources: Vec<usize> = (0..a.schema.fields().len())
        .map(|i| match group_layout.get(i) {
            Some(Group::Key(k)) => *k,
            Some(Group::Start) => nk,
            Some(Group::End) => nk + 1,
            None => nk + 2 + (i - group_layout.len()),
        })
        .collect();
    reorder_output(
        t,
        node,
        parallelism,
        &window_out,
        &sources,
        a.schema.clone(),
    )
}

/// The window TVF's input rows with the filters written over the window table (which
/// may only read the input's columns).
pub(crate) fn window_input(
    t: &mut Translator<'_>,
    w: &WindowTvf,
    filters: Vec<(&Expr, datafusion::common::DFSchemaRef)>,
) -> Result<Stream> {
    let at = t.at;
    let mut input = t.relation(&w.input)?;
    super::group_aggregate::require_append_only(&input, "a window aggregate", at)?;
    let input_width = input.schema.fields().len();
    for (f, scan_schema) in filters.into_iter().rev() {
        if f.column_refs().iter().any(|c| {
            scan_schema
                .index_of_column(c)
                .map_or(true, |i| i >= input_width)
        }) {
            return Err(SqlError::at(
                "filters on window columns are not supported yet",
                at,
            ));
        }
        let predicate = physical(f, &scan_schema, at)?;
        input = t.filter(input, predicate);
    }
    Ok(input)
}

/// Follows a window operator (`node`, emitting columns of `types`) with a projection
/// into `schema`: output column i is operator column `sources[i]`, cast to the type
/// DataFusion planned where the operator's differs.
pub(crate) fn reorder_output(
    t: &mut Translator<'_>,
    node: eddy_worker::graph::NodeId,
    parallelism: u32,
    types: &[DataType],
    sources: &[usize],
    schema: datafusion::common::DFSchemaRef,
) -> Result<Stream> {
    let at = t.at;
    let mut exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = Vec::new();
    for (field, &source) in schema.fields().iter().zip(sources) {
        let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(field.name(), source));
        let expr = if types.get(source) == Some(field.data_type()) {
            column
        } else {
            Arc::new(CastExpr::new(column, field.data_type().clone(), None))
        };
        exprs.push((expr, field.name().clone()));
    }
    let stream = Stream {
        node,
        parallelism,
        schema: Arc::new(
            datafusion::common::DFSchema::try_from(Schema::new(
                types
                    .iter()
                    .enumerate()
                    .map(|(i, t)| Field::new(format!("c{i}"), t.clone(), true))
                    .collect::<Vec<_>>(),
            ))
            .map_err(|e| super::exprs::df_error(e, at))?,
        ),
        updating: None,
    };
    t.project(stream, exprs, schema)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Start,
    End,
    Key(usize),
}

fn unreachable_count() -> eddy_worker::runtime::error::Result<WindowAssigner> {
    Err(eddy_worker::runtime::error::RuntimeError::Graph(
        "count windows are planned separately".into(),
    ))
}

fn kind_name(k: &WindowKind) -> &'static str {
    match k {
        WindowKind::Tumble { .. } => "Tumble",
        WindowKind::Hop { .. } => "Hop",
        WindowKind::Cumulate { .. } => "Cumulate",
        WindowKind::Session { .. } => "Session",
        WindowKind::CountTumble { .. } => "CountTumble",
        WindowKind::CountHop { .. } => "CountHop",
    }
}

/// Types of the window operator's output columns.
fn window_output_types(
    input: &SchemaRef,
    spec: &WindowAggregateSpec,
    nk: usize,
) -> Result<Vec<DataType>> {
    let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
    let mut types: Vec<DataType> = spec
        .key_columns
        .iter()
        .map(|&k| input.field(k).data_type().clone())
        .collect();
    debug_assert_eq!(types.len(), nk);
    types.push(ts.clone());
    types.push(ts);
    for a in &spec.aggregates {
        types.push(
            a.result_field(input)
                .map_err(|e| SqlError::new(e.to_string()))?
                .data_type()
                .clone(),
        );
    }
    Ok(types)
}

/// `count(*)`, `count(c)`, `sum(c)`, `min(c)`, `max(c)`, `avg(c)` over an input column.
pub(crate) fn aggregate_spec(
    e: &Expr,
    scan_schema: &datafusion::common::DFSchema,
    input_width: usize,
    name: &str,
) -> Result<AggregateSpec, String> {
    let (e, f, func) = aggregate_function(e)?;
    let column = match f.params.args.as_slice() {
        [] => None,
        [Expr::Literal(..)] if func == "count" => None,
        [Expr::Column(c)] => {
            let i = scan_schema
                .index_of_column(c)
                .map_err(|err| err.to_string())?;
            if i >= input_width {
                return Err(format!("{e}: aggregating a window column is not supported"));
            }
            Some(i)
        }
        _ => {
            return Err(format!(
                "{e}: aggregate arguments must be columns (use a view to compute expressions)"
            ));
        }
    };
    let kind = aggregate_kind(&func, column.is_some())?;
    Ok(AggregateSpec::new(kind, column, name))
}
