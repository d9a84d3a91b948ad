//! DataFusion logical plans → nodes of the stream graph: table scans become sources
//! (with their computed columns and watermark strategy), projections and filters
//! become chained operators, window aggregates become keyed window operators, and
//! `INSERT INTO` becomes a sink.

use std::sync::Arc;
use std::time::Duration;

use datafusion::common::DFSchemaRef;
use datafusion::logical_expr::{LogicalPlan, TableScan};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::sql::sqlparser::tokenizer::Location;
use eddy_worker::connectors::options::{Options, parse_duration};
use eddy_worker::connectors::registry;
use eddy_worker::graph::{NodeId, Partitioning};
use eddy_worker::operators::basic::{FilterOperator, ProjectionOperator};
use eddy_worker::runtime::changelog;
use eddy_worker::runtime::operator::Operator;
use eddy_worker::time::watermark::WatermarkStrategy;

use super::ScriptPlanner;
use super::exprs::{df_error, physical};
use super::{group_aggregate, join, window};
use crate::catalog::{ComputedColumn, PHYSICAL_QUALIFIER, TableDef, TimeAttribute};
use crate::error::{Result, SqlError};
use crate::table_columns::{ColumnSource, ComputedColumnsSource};

/// Options every table takes besides its connector's own (Flink's names).
pub(crate) const FRAMEWORK_OPTIONS: [&str; 4] = [
    "scan.parallelism",
    "sink.parallelism",
    "slot-sharing-group",
    "scan.watermark.idle-timeout",
];

/// A translated plan node: where its rows come out, and their schema.
#[derive(Debug, Clone)]
pub(crate) struct Stream {
    pub node: NodeId,
    pub parallelism: u32,
    pub schema: DFSchemaRef,
    /// [changelog] `Some(node producing the updates)` when the stream is updating: its
    /// batches end with a row-kind column that `schema` leaves out.
    pub updating: Option<Arc<str>>,
}

pub(crate) struct Translator<'a> {
    pub(crate) p: &'a mut ScriptPlanner,
    pub(crate) at: Location,
}

impl<'a> Translator<'a> {
    pub(crate) fn new(p: &'a mut ScriptPlanner, at: Location) -> Self {
        Translator { p, at }
    }

    pub(crate) fn insert(&mut self, plan: &LogicalPlan) -> Result<()> {
        let LogicalPlan::Dml(dml) = plan else {
            return Err(SqlError::at(
                "expected INSERT INTO <table> <query>",
                self.at,
            ));
        };
        let name = dml.table_name.table().to_string();
        let table = self.table(&name)?;
        let input = self.plan(&dml.input)?;
        group_aggregate::check_sink(&table, &input, self)?; // [changelog]
        let sink = registry::create_sink(&connector_options(&table), table.physical.clone())
            .map_err(|e| connector_error(&table, e))?;
        let parallelism = self.table_parallelism(&table, "sink.parallelism")?;
        let partitioning = if parallelism == input.parallelism {
            Partitioning::Forward
        } else {
            Partitioning::Rebalance
        };
        let node = self.p.graph.add_sink(
            format!("Sink: {name}"),
            parallelism,
            (input.node, partitioning),
            sink,
        );
        if let Some(group) = table.options.get("slot-sharing-group") {
            self.p.graph.set_slot_sharing_group(node, group);
        }
        Ok(())
    }

    pub(crate) fn plan(&mut self, plan: &LogicalPlan) -> Result<Stream> {
        match plan {
            LogicalPlan::Projection(p) => {
                let input = self.plan(&p.input)?;
                let exprs = p
                    .expr
                    .iter()
                    .zip(p.schema.fields())
                    .map(|(e, f)| Ok((physical(e, &input.schema, self.at)?, f.name().clone())))
                    .collect::<Result<Vec<_>>>()?;
                self.project(input, exprs, p.schema.clone())
            }
            LogicalPlan::Filter(f) => {
                let input = self.plan(&f.input)?;
                let predicate = physical(&f.predicate, &input.schema, self.at)?;
                Ok(self.filter(input, predicate))
            }
            LogicalPlan::SubqueryAlias(a) => {
                let input = self.plan(&a.input)?;
                Ok(Stream {
                    schema: a.schema.clone(),
                    ..input
                })
            }
            LogicalPlan::TableScan(scan) => self.scan(scan),
            LogicalPlan::Aggregate(a) if !group_aggregate::is_window_aggregate(self, a) => {
                group_aggregate::plan_group_aggregate(self, a)
            }
            LogicalPlan::Aggregate(a) => window::plan_window_aggregate(self, a),
            LogicalPlan::Join(j) => join::plan_join(self, j),
            LogicalPlan::Window(w) => super::over::plan_over(self, w),
            other => Err(SqlError::at(
                format!("not supported in streaming SQL yet: {}", other.display()),
                self.at,
            )),
        }
    }

    pub(crate) fn project(
        &mut self,
        input: Stream,
        exprs: Vec<(Arc<dyn PhysicalExpr>, String)>,
        schema: DFSchemaRef,
    ) -> Result<Stream> {
        let mut input_schema = Arc::new(input.schema.as_arrow().clone());
        // [changelog] Over an updating stream, pass the trailing row-kind column through.
        let exprs = match input.updating {
            Some(_) => {
                let width = input_schema.fields().len();
                input_schema = Arc::new(changelog::updating_schema(&input_schema));
                changelog::with_row_kind(exprs, width)
            }
            None => exprs,
        };
        // Check once that the projection is valid, then build one per subtask.
        ProjectionOperator::new(exprs.clone(), &input_schema)
            .map_err(|e| SqlError::at(e.to_string(), self.at))?;
        let factory = move |_: &eddy_worker::runtime::operator::SubtaskInfo| {
            Ok(
                Box::new(ProjectionOperator::new(exprs.clone(), &input_schema)?)
                    as Box<dyn Operator>,
            )
        };
        let node = self.p.graph.add_operator(
            "Calc",
            input.parallelism,
            &[(input.node, Partitioning::Forward)],
            Arc::new(factory),
        );
        Ok(Stream {
            node,
            parallelism: input.parallelism,
            schema,
            updating: input.updating,
        })
    }

    pub(crate) fn filter(&mut self, input: Stream, predicate: Arc<dyn PhysicalExpr>) -> Stream {
        let factory = move |_: &eddy_worker::runtime::operator::SubtaskInfo| {
            Ok(Box::new(FilterOperator::new(predicate.clone())) as Box<dyn Operator>)
        };
        let node = self.p.graph.add_operator(
            "Filter",
            input.parallelism,
            &[(input.node, Partitioning::Forward)],
            Arc::new(factory),
        );
        Stream { node, ..input }
    }

    fn scan(&mut self, scan: &TableScan) -> Result<Stream> {
        let name = scan.table_name.table().to_string();
        if self.p.windows.contains_key(&name) {
            return join::plan_window_table(self, scan);
        }
        if scan.projection.is_some() || !scan.filters.is_empty() {
            return Err(SqlError::at(
                format!("unexpected pushed-down scan of '{name}'"),
                self.at,
            ));
        }
        let mut stream = self.relation(&name)?;
        stream.schema = scan.projected_schema.clone();
        Ok(stream)
    }

    /// The rows of a table (a source) or view (its plan) by name.
    pub(crate) fn relation(&mut self, name: &str) -> Result<Stream> {
        if let Some(view) = self.p.views.get(&name.to_ascii_lowercase()).cloned() {
            return self.plan(&view);
        }
        let table = self.table(name)?;
        self.source(&table)
    }

    pub(crate) fn table(&self, name: &str) -> Result<Arc<TableDef>> {
        self.p
            .tables
            .get(&name.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| SqlError::at(format!("unknown table '{name}'"), self.at))
    }

    fn table_parallelism(&self, table: &TableDef, key: &str) -> Result<u32> {
        match table
            .options
            .get_u64(key)
            .map_err(|e| SqlError::at(e.to_string(), table.option_location(key)))?
        {
            Some(p) if (1..=super::MAX_SQL_PARALLELISM as u64).contains(&p) => Ok(p as u32),
            Some(p) => Err(SqlError::at(
                format!("'{key}' = {p} is out of range"),
                table.option_location(key),
            )),
            None => Ok(self.p.options.parallelism),
        }
    }

    /// A source node for `table`, its batches laid out as the table declares them.
    fn source(&mut self, table: &TableDef) -> Result<Stream> {
        let key = table.name.to_ascii_lowercase();
        if let Some(stream) = self.p.sources.get(&key) {
            return Ok(stream.clone());
        }
        let stream = self.new_source(table)?;
        self.p.sources.insert(key, stream.clone());
        Ok(stream)
    }

    fn new_source(&mut self, table: &TableDef) -> Result<Stream> {
        let at = table.location;
        let mut source = registry::create_source(&connector_options(table), table.physical.clone())
            .map_err(|e| connector_error(table, e))?;
        if !table.computed.is_empty() {
            source = Arc::new(ComputedColumnsSource::new(
                source,
                self.column_sources(table)?,
                table.schema.clone(),
            ));
        }
        let idle = self.idle_timeout(table)?;
        let strategy = match table
            .time
            .iter()
            .find(|t| !matches!(t, TimeAttribute::ProcessingTime { .. }))
        {
            Some(TimeAttribute::EventTime { column, delay_ms }) => {
                WatermarkStrategy::BoundedOutOfOrderness {
                    column: column.clone(),
                    max_out_of_orderness: Duration::from_millis(*delay_ms as u64),
                    idle_timeout: idle,
                }
            }
            Some(TimeAttribute::IngestionTime { column }) => WatermarkStrategy::IngestionTime {
                column: column.clone(),
                idle_timeout: idle,
            },
            _ => WatermarkStrategy::None,
        };
        let parallelism = self.table_parallelism(table, "scan.parallelism")?;
        let node = self.p.graph.add_source(
            format!("Source: {}", table.name),
            parallelism,
            source,
            strategy,
        );
        if let Some(group) = table.options.get("slot-sharing-group") {
            self.p.graph.set_slot_sharing_group(node, group);
        }
        let schema = Arc::new(
            datafusion::common::DFSchema::try_from_qualified_schema(
                table.name.as_str(),
                &table.schema,
            )
            .map_err(|e| df_error(e, at))?,
        );
        Ok(Stream {
            node,
            parallelism,
            schema,
            updating: None,
        })
    }

    /// How each of the table's columns is made from the connector's batch.
    fn column_sources(&self, table: &TableDef) -> Result<Vec<ColumnSource>> {
        let at = table.location;
        let physical_schema = datafusion::common::DFSchema::try_from_qualified_schema(
            PHYSICAL_QUALIFIER,
            &table.physical,
        )
        .map_err(|e| df_error(e, at))?;
        table
            .schema
            .fields()
            .iter()
            .map(
                |f| match table.computed.iter().find(|(n, _)| n == f.name()) {
                    Some((_, ComputedColumn::ProcTime)) => Ok(ColumnSource::ProcTime),
                    Some((_, ComputedColumn::IngestionTime)) => Ok(ColumnSource::Stamped),
                    Some((n, ComputedColumn::Expr(_))) => {
                        let expr = table.computed_exprs.get(n).ok_or_else(|| {
                            SqlError::at(format!("computed column '{n}' was not planned"), at)
                        })?;
                        Ok(ColumnSource::Expr(physical(expr, &physical_schema, at)?))
                    }
                    None => table
                        .physical
                        .index_of(f.name())
                        .map(ColumnSource::Input)
                        .map_err(|e| SqlError::at(e.to_string(), at)),
                },
            )
            .collect()
    }

    fn idle_timeout(&self, table: &TableDef) -> Result<Option<Duration>> {
        let text = table
            .options
            .get("scan.watermark.idle-timeout")
            .or_else(|| {
                self.p
                    .settings
                    .get("table.exec.source.idle-timeout")
                    .map(String::as_str)
            });
        match text {
            None => Ok(None),
            Some(t) => {
                let d = parse_duration(t).ok_or_else(|| {
                    SqlError::at(
                        format!("'{t}' is not a duration"),
                        table.option_location("scan.watermark.idle-timeout"),
                    )
                })?;
                Ok((!d.is_zero()).then_some(d))
            }
        }
    }
}

/// The options a connector sees: the table's, minus the framework's own.
fn connector_options(table: &TableDef) -> Options {
    Options::new(
        table
            .options
            .iter()
            .filter(|(k, _)| !FRAMEWORK_OPTIONS.contains(k))
            .map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

/// A connector's complaint, placed at the option it is about (or the connector key).
fn connector_error(table: &TableDef, err: eddy_worker::runtime::error::RuntimeError) -> SqlError {
    let at = match &err {
        eddy_worker::runtime::error::RuntimeError::Option { option, .. }
            if table.option_locations.contains_key(option) =>
        {
            table.option_location(option)
        }
        _ => table.option_location("connector"),
    };
    SqlError::at(format!("table '{}': {err}", table.name), at)
}
