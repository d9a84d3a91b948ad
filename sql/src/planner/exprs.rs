//! Expressions and errors between DataFusion and the runtime: logical expressions
//! become physical ones evaluated on batches; DataFusion errors keep the position its
//! diagnostics carry.

use std::sync::Arc;

use datafusion::common::DFSchema;
use datafusion::error::DataFusionError;
use datafusion::execution::context::ExecutionProps;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::physical_expr::{PhysicalExpr, create_physical_expr};
use datafusion::sql::sqlparser::tokenizer::Location;

use crate::error::{Result, SqlError};

/// A DataFusion error as a SQL error: its diagnostic's position if it has one,
/// otherwise `fallback` (the statement's start).
pub(crate) fn df_error(err: DataFusionError, fallback: Location) -> SqlError {
    let location = err
        .diagnostic()
        .and_then(|d| d.span)
        .map(|s| Location {
            line: s.start.line,
            column: s.start.column,
        })
        .unwrap_or(fallback);
    let message = match &err {
        DataFusionError::Diagnostic(d, _) => d.message.clone(),
        DataFusionError::SQL(e, _) => e.to_string(),
        DataFusionError::Plan(m) => m.clone(),
        DataFusionError::SchemaError(e, _) => e.to_string(),
        other => other.to_string(),
    };
    SqlError::at(message, location)
}

pub(crate) fn physical(
    expr: &Expr,
    schema: &DFSchema,
    at: Location,
) -> Result<Arc<dyn PhysicalExpr>> {
    create_physical_expr(
        expr,
        schema,
        &ExecutionProps::new(),
        &PhysicalPlanningContext::default(),
    )
    .map_err(|e| df_error(e, at))
}
