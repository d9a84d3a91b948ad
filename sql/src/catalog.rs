//! The tables and views a script declares: each `CREATE TABLE` becomes a [`TableDef`]
//! (connector options, physical schema, computed columns, its time attribute), each
//! `CREATE VIEW` a named query. The planner registers both with DataFusion.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr};
use datafusion::sql::sqlparser::tokenizer::Location;
use eddy_worker::connectors::options::Options;

use crate::ddl::{ColumnKind, CreateTable};
use crate::error::{Result, SqlError};
use crate::tvf::interval_expr_ms;
use crate::types::arrow_type;

/// The table name physical columns are qualified with in computed-column expressions.
pub const PHYSICAL_QUALIFIER: &str = "__eddy_physical";

/// How a table's time attribute is produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeAttribute {
    /// `WATERMARK FOR col AS col - INTERVAL …`: event time with bounded out-of-orderness.
    EventTime { column: String, delay_ms: i64 },
    /// `col AS PROCTIME()`.
    ProcessingTime { column: String },
    /// `col AS INGESTION_TIME()` (Eddy): stamped at the source, then event time.
    IngestionTime { column: String },
}

#[derive(Debug, Clone)]
pub enum ComputedColumn {
    ProcTime,
    IngestionTime,
    Expr(Expr),
}

#[derive(Debug, Clone)]
pub struct TableDef {
    pub name: String,
    /// What the connector reads or writes.
    pub physical: SchemaRef,
    /// All columns in declaration order (physical and computed), as queries see them.
    pub schema: SchemaRef,
    /// Computed columns by name.
    pub computed: Vec<(String, ComputedColumn)>,
    pub time: Vec<TimeAttribute>,
    pub options: Options,
    /// Expression computed columns as DataFusion expressions over the physical columns
    /// (qualified by [`PHYSICAL_QUALIFIER`]), filled in by the planner.
    pub computed_exprs: HashMap<String, datafusion::logical_expr::Expr>,
    pub option_locations: HashMap<String, Location>,
    pub location: Location,
}

impl TableDef {
    /// The physical columns of a DDL statement (what the connector reads or writes).
    pub fn physical_schema(ddl: &CreateTable) -> Result<SchemaRef> {
        let mut fields = Vec::new();
        for c in &ddl.columns {
            if let ColumnKind::Physical {
                data_type,
                not_null,
            } = &c.kind
            {
                fields.push(Field::new(
                    &c.name,
                    arrow_type(data_type).map_err(|e| e.or_at(c.location))?,
                    !not_null,
                ));
            }
        }
        Ok(Arc::new(Schema::new(fields)))
    }

    /// `computed_types`: the type of each expression computed column (the planner
    /// works them out with DataFusion); see [`TableDef::computed_exprs`].
    pub fn from_ddl(
        ddl: &CreateTable,
        computed_types: &HashMap<String, DataType>,
    ) -> Result<TableDef> {
        let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
        let physical = Self::physical_schema(ddl)?;
        let mut physical_fields = physical.fields().iter();
        let mut all = Vec::new();
        let mut computed = Vec::new();
        let mut time = Vec::new();
        for c in &ddl.columns {
            match &c.kind {
                ColumnKind::Physical { .. } => {
                    // physical_schema holds the physical columns in declaration order.
                    all.extend(physical_fields.next().map(|f| f.as_ref().clone()));
                }
                ColumnKind::Computed { expr } => {
                    let call = match expr {
                        Expr::Function(f) => Some(f.name.to_string().to_ascii_uppercase()),
                        _ => None,
                    };
                    let kind = match call.as_deref() {
                        Some("PROCTIME") => {
                            time.push(TimeAttribute::ProcessingTime {
                                column: c.name.clone(),
                            });
                            ComputedColumn::ProcTime
                        }
                        Some("INGESTION_TIME") => {
                            time.push(TimeAttribute::IngestionTime {
                                column: c.name.clone(),
                            });
                            ComputedColumn::IngestionTime
                        }
                        _ => {
                            let t = computed_types.get(&c.name).cloned().ok_or_else(|| {
                                SqlError::at(
                                    format!("computed column '{}' has no type", c.name),
                                    c.location,
                                )
                            })?;
                            all.push(Field::new(&c.name, t, true));
                            computed.push((c.name.clone(), ComputedColumn::Expr(expr.clone())));
                            continue;
                        }
                    };
                    all.push(Field::new(&c.name, ts.clone(), false));
                    computed.push((c.name.clone(), kind));
                }
            }
        }
        if let Some(wm) = &ddl.watermark {
            let delay_ms = watermark_delay(&wm.column, &wm.expr).ok_or_else(|| {
                SqlError::at(
                    format!(
                        "WATERMARK FOR {0} AS {1}: use '{0}' or '{0} - INTERVAL …'",
                        wm.column, wm.expr
                    ),
                    wm.location,
                )
            })?;
            let field = all
                .iter()
                .find(|f| f.name().eq_ignore_ascii_case(&wm.column));
            if !matches!(
                field.map(|f| f.data_type()),
                Some(DataType::Timestamp(_, _))
            ) {
                return Err(SqlError::at(
                    format!(
                        "WATERMARK column '{}' must be a TIMESTAMP(3) or TIMESTAMP_LTZ(3)",
                        wm.column
                    ),
                    wm.location,
                ));
            }
            // An ingestion-time column's watermark follows its stamp; keep that kind.
            let column = field.map(|f| f.name().clone()).unwrap_or_default();
            if !time
                .iter()
                .any(|t| matches!(t, TimeAttribute::IngestionTime { column: c } if *c == column))
            {
                time.push(TimeAttribute::EventTime { column, delay_ms });
            }
        }
        let option_locations = ddl
            .options
            .iter()
            .map(|(k, _, l)| (k.clone(), *l))
            .collect();
        Ok(TableDef {
            name: ddl.name.clone(),
            physical,
            schema: Arc::new(Schema::new(all)),
            computed,
            time,
            options: Options::new(ddl.options.iter().map(|(k, v, _)| (k.clone(), v.clone()))),
            option_locations,
            computed_exprs: HashMap::new(),
            location: ddl.location,
        })
    }

    /// Where option `key` was written (for errors), else the table's position.
    pub fn option_location(&self, key: &str) -> Location {
        self.option_locations
            .get(key)
            .copied()
            .unwrap_or(self.location)
    }

    pub fn time_attribute(&self, column: &str) -> Option<&TimeAttribute> {
        self.time.iter().find(|t| match t {
            TimeAttribute::EventTime { column: c, .. }
            | TimeAttribute::ProcessingTime { column: c }
            | TimeAttribute::IngestionTime { column: c } => c.eq_ignore_ascii_case(column),
        })
    }
}

/// `col` → 0, `col - INTERVAL 'n' UNIT` → n in ms.
fn watermark_delay(column: &str, expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Identifier(i) if i.value.eq_ignore_ascii_case(column) => Some(0),
        Expr::Nested(e) => watermark_delay(column, e),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Minus,
            right,
        } => {
            let base = watermark_delay(column, left)?;
            match right.as_ref() {
                Expr::Interval(i) => Some(base + interval_expr_ms(i)?),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddl::parse_create_table;
    use crate::script::split;

    fn table(sql: &str) -> Result<TableDef> {
        TableDef::from_ddl(
            &parse_create_table(&split(sql).unwrap()[0]).unwrap(),
            &HashMap::new(),
        )
    }

    #[test]
    fn time_attributes() {
        let t = table("CREATE TABLE t (a BIGINT, ts TIMESTAMP(3), pt AS PROCTIME(), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector'='datagen')").unwrap();
        assert_eq!(t.physical.fields().len(), 2);
        assert_eq!(t.schema.fields().len(), 3);
        assert_eq!(
            t.time_attribute("ts"),
            Some(&TimeAttribute::EventTime {
                column: "ts".into(),
                delay_ms: 1000
            })
        );
        assert_eq!(
            t.time_attribute("pt"),
            Some(&TimeAttribute::ProcessingTime {
                column: "pt".into()
            })
        );
        let t = table("CREATE TABLE t (a BIGINT, it AS INGESTION_TIME(), WATERMARK FOR it AS it) WITH ('connector'='datagen')").unwrap();
        assert_eq!(
            t.time_attribute("it"),
            Some(&TimeAttribute::IngestionTime {
                column: "it".into()
            })
        );
        let err =
            table("CREATE TABLE t (a BIGINT, WATERMARK FOR a AS a) WITH ('connector'='datagen')")
                .unwrap_err();
        assert!(err.message.contains("TIMESTAMP"), "{err}");
    }
}
