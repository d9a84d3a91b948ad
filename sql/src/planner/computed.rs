//! Expression computed columns (`name AS expr` in CREATE TABLE): DataFusion plans
//! `SELECT expr AS name, … FROM <physical columns>` to type-check each expression and
//! give its type; the translator evaluates them at the source.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::datasource::empty::EmptyTable;
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::sql::sqlparser::ast::Expr as SqlExpr;

use super::ScriptPlanner;
use super::exprs::df_error;
use crate::catalog::{PHYSICAL_QUALIFIER, TableDef};
use crate::ddl::{ColumnKind, CreateTable};
use crate::error::{Result, SqlError};
use crate::script::{dialect, parser_error};

fn is_time_function(expr: &SqlExpr) -> bool {
    matches!(expr, SqlExpr::Function(f) if matches!(f.name.to_string().to_ascii_uppercase().as_str(), "PROCTIME" | "INGESTION_TIME"))
}

pub(crate) async fn plan_computed_columns(
    p: &ScriptPlanner,
    ddl: &CreateTable,
) -> Result<(HashMap<String, DataType>, HashMap<String, Expr>)> {
    let mut types = HashMap::new();
    let mut exprs = HashMap::new();
    let computed: Vec<_> = ddl
        .columns
        .iter()
        .filter_map(|c| match &c.kind {
            ColumnKind::Computed { expr } if !is_time_function(expr) => Some((c, expr)),
            _ => None,
        })
        .collect();
    if computed.is_empty() {
        return Ok((types, exprs));
    }
    let physical = TableDef::physical_schema(ddl)?;
    p.ctx
        .register_table(PHYSICAL_QUALIFIER, Arc::new(EmptyTable::new(physical)))
        .map_err(|e| df_error(e, ddl.location))?;
    let result = async {
        for (column, expr) in computed {
            // One query per column, so an error points at its own column.
            let sql = format!("SELECT {expr} FROM {PHYSICAL_QUALIFIER}");
            let d = dialect();
            let statement = datafusion::sql::sqlparser::parser::Parser::new(&d)
                .try_with_sql(&sql)
                .and_then(|mut parser| parser.parse_statement())
                .map_err(|e| parser_error(e, column.location))?;
            let plan = p
                .plan_query(statement, column.location)
                .await
                .map_err(|e| {
                    SqlError::at(
                        format!("computed column '{}': {}", column.name, e.message),
                        column.location,
                    )
                })?;
            let LogicalPlan::Projection(projection) = &plan else {
                return Err(SqlError::at(
                    format!(
                        "computed column '{}' is not a scalar expression",
                        column.name
                    ),
                    column.location,
                ));
            };
            let (Some(logical), Some(field)) =
                (projection.expr.first(), projection.schema.fields().first())
            else {
                return Err(SqlError::at(
                    format!("computed column '{}' is empty", column.name),
                    column.location,
                ));
            };
            types.insert(column.name.clone(), field.data_type().clone());
            exprs.insert(column.name.clone(), logical.clone().unalias());
        }
        Ok(())
    }
    .await;
    let _ = p.ctx.deregister_table(PHYSICAL_QUALIFIER);
    result.map(|_| (types, exprs))
}
