//! Non-windowed GROUP BY (Flink's `GroupAggregate`): the GROUP BY expressions and the
//! aggregates' arguments are computed by a projection, rows are hash-partitioned by the
//! keys to a `GroupAggregateOperator` (parallelism 1 for a global aggregate), and its
//! output is cast into the types DataFusion planned. The result is an *updating*
//! stream (see `eddy_worker::runtime::changelog`); sinks that take only inserts refuse
//! it at planning time ([`check_sink`]), with Flink's message.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::DFSchema;
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{CastExpr, Column};
use datafusion::sql::sqlparser::tokenizer::Location;
use eddy_worker::graph::Partitioning;
use eddy_worker::operators::aggregate::{AggregateKind, AggregateSpec};
use eddy_worker::operators::group_aggregate::{GroupAggregateOperator, GroupAggregateSpec};
use eddy_worker::runtime::changelog::{sink_accepts_updates, update_not_supported_message};
use eddy_worker::runtime::operator::{Operator, SubtaskInfo};

use super::aggregate_call::{aggregate_function, aggregate_kind};
use super::exprs::{df_error, physical};
use super::translate::{Stream, Translator};
use crate::catalog::TableDef;
use crate::error::{Result, SqlError};

/// Whether `a` aggregates a window TVF (planned by `window`), looking through the
/// filters and aliases between them.
pub(crate) fn is_window_aggregate(t: &Translator<'_>, a: &Aggregate) -> bool {
    let mut node = a.input.as_ref();
    loop {
        match node {
            LogicalPlan::Filter(f) => node = &f.input,
            LogicalPlan::SubqueryAlias(s) => node = &s.input,
            LogicalPlan::TableScan(s) => return t.p.windows.contains_key(s.table_name.table()),
            _ => return false,
        }
    }
}

/// Refuses an updating `input` for a sink that only consumes inserts.
pub(crate) fn check_sink(table: &TableDef, input: &Stream, t: &Translator<'_>) -> Result<()> {
    let Some(producer) = &input.updating else {
        return Ok(());
    };
    let connector = table.options.get("connector").unwrap_or("");
    if sink_accepts_updates(connector) {
        return Ok(());
    }
    Err(SqlError::at(
        update_not_supported_message(&table.name, producer),
        t.at,
    ))
}

/// Refuses an updating `input` for an operator that only consumes inserts (`what`).
pub(crate) fn require_append_only(input: &Stream, what: &str, at: Location) -> Result<()> {
    match &input.updating {
        None => Ok(()),
        Some(producer) => Err(SqlError::at(
            format!(
                "{what} doesn't support consuming update changes which is produced by node {producer}"
            ),
            at,
        )),
    }
}

pub(crate) fn plan_group_aggregate(t: &mut Translator<'_>, a: &Aggregate) -> Result<Stream> {
    let at = t.at;
    let input = t.plan(&a.input)?;
    // 1. Keys first, then one column per aggregate argument.
    let mut exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = Vec::new();
    for (i, g) in a.group_expr.iter().enumerate() {
        if matches!(g, Expr::GroupingSet(_)) {
            return Err(SqlError::at(
                "GROUPING SETS, CUBE and ROLLUP are not supported yet",
                at,
            ));
        }
        exprs.push((physical(g, &input.schema, at)?, format!("k{i}")));
    }
    let nk = exprs.len();
    let mut aggregates = Vec::new();
    for (i, e) in a.aggr_expr.iter().enumerate() {
        let (kind, arg) = aggregate_call(e).map_err(|m| SqlError::at(m, at))?;
        let column = match arg {
            None => None,
            Some(arg) => {
                exprs.push((physical(arg, &input.schema, at)?, format!("a{i}")));
                Some(exprs.len() - 1)
            }
        };
        aggregates.push(AggregateSpec::new(kind, column, &format!("agg{i}")));
    }
    let input_df = input.schema.clone();
    let fields = exprs
        .iter()
        .map(|(e, name)| {
            let arrow = input_df.as_arrow();
            Ok(Field::new(
                name,
                e.data_type(arrow).map_err(|e| df_error(e, at))?,
                e.nullable(arrow).map_err(|e| df_error(e, at))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let pre_schema = Arc::new(Schema::new(fields));
    let pre = t.project(input, exprs, df_schema(&pre_schema, at)?)?;
    // 2. The keyed aggregate.
    let keys: Vec<usize> = (0..nk).collect();
    let spec = GroupAggregateSpec {
        key_columns: keys.clone(),
        aggregates,
        input_updating: pre.updating.is_some(),
    };
    let out_schema =
        GroupAggregateOperator::new("GroupAggregate", spec.clone(), pre_schema.clone())
            .map_err(|e| SqlError::at(e.to_string(), at))?
            .output_schema();
    let factory = move |_: &SubtaskInfo| -> eddy_worker::runtime::error::Result<Box<dyn Operator>> {
        Ok(Box::new(GroupAggregateOperator::new(
            "GroupAggregate",
            spec.clone(),
            pre_schema.clone(),
        )?))
    };
    let parallelism = if nk == 0 { 1 } else { t.p.options.parallelism };
    let node = t.p.graph.add_operator(
        "GroupAggregate",
        parallelism,
        &[(pre.node, Partitioning::Hash { key_columns: keys })],
        Arc::new(factory),
    );
    let select: Vec<&str> = a
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let group_by = &select[..nk.min(select.len())];
    let producer = format!(
        "GroupAggregate(groupBy=[{}], select=[{}])",
        group_by.join(", "),
        select.join(", ")
    );
    // 3. Into DataFusion's types (the row kind is carried along by `project`).
    let logical = Schema::new(
        out_schema.fields()[..out_schema.fields().len() - 1]
            .iter()
            .map(|f| f.as_ref().clone())
            .collect::<Vec<_>>(),
    );
    let mut casts: Vec<(Arc<dyn PhysicalExpr>, String)> = Vec::new();
    for (i, field) in a.schema.fields().iter().enumerate() {
        let have: &DataType = logical.field(i).data_type();
        let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(field.name(), i));
        let expr: Arc<dyn PhysicalExpr> = if have == field.data_type() {
            column
        } else {
            Arc::new(CastExpr::new(column, field.data_type().clone(), None))
        };
        casts.push((expr, field.name().clone()));
    }
    let stream = Stream {
        node,
        parallelism,
        schema: df_schema(&logical, at)?,
        updating: Some(producer.into()),
    };
    t.project(stream, casts, a.schema.clone())
}

fn df_schema(schema: &Schema, at: Location) -> Result<Arc<DFSchema>> {
    Ok(Arc::new(
        DFSchema::try_from(schema.clone()).map_err(|e| df_error(e, at))?,
    ))
}

/// The kind and argument of `count(*)`, `count(e)`, `sum(e)`, `min(e)`, `max(e)`, `avg(e)`.
fn aggregate_call(e: &Expr) -> Result<(AggregateKind, Option<&Expr>), String> {
    let (e, f, func) = aggregate_function(e)?;
    let arg = match f.params.args.as_slice() {
        [] => None,
        [Expr::Literal(v, _)] if func == "count" && !v.is_null() => None,
        [arg] => Some(arg),
        _ => return Err(format!("{e}: aggregates take one argument")),
    };
    Ok((aggregate_kind(&func, arg.is_some())?, arg))
}
