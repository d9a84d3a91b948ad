//! Plans a Flink SQL script onto one stream graph: DDL fills the catalog, `SET`s the
//! configuration, and every `INSERT INTO` (a statement set, as Flink runs them) is
//! planned by DataFusion and translated ([`translate`]) into sources, operators and
//! sinks of a single job.

mod aggregate_call;
mod computed;
mod count_window;
mod exprs;
mod group_aggregate;
mod join;
mod legacy_window;
mod over;
mod translate;
mod window;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::datasource::empty::EmptyTable;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{Expr, Set, Statement};
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Location;
use eddy_worker::graph::StreamGraph;

use crate::catalog::TableDef;
use crate::ddl::parse_create_table;
use crate::error::{Result, SqlError};
use crate::script::{RawStatement, StatementKind, dialect, parser_error, split};
use crate::tvf::{WindowTvf, rewrite};

/// Upper bound on a job's parallelism set by SQL (explicit limit).
pub const MAX_SQL_PARALLELISM: u32 = 256;

/// What the caller decides about a job.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub job_name: String,
    /// Default parallelism of every operator (`parallelism.default`).
    pub parallelism: u32,
    /// `--set key=value` pairs; the script's own `SET`s come first, these override.
    pub settings: BTreeMap<String, String>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            job_name: "sql-job".into(),
            parallelism: 1,
            settings: BTreeMap::new(),
        }
    }
}

/// A planned job: its stream graph and the configuration in force.
pub struct PlannedJob {
    pub graph: StreamGraph,
    pub settings: BTreeMap<String, String>,
}

/// Plans a whole script. Errors carry the line and column of what is wrong.
pub async fn plan_script(sql: &str, options: &PlanOptions) -> Result<PlannedJob> {
    let mut planner = ScriptPlanner::new(options.clone());
    let statements = split(sql)?;
    let mut inserts = Vec::new();
    for st in &statements {
        match st.kind {
            StatementKind::CreateTable => planner.create_table(st).await?,
            StatementKind::CreateView => planner.create_view(st).await?,
            StatementKind::Set => planner.set(st)?,
            StatementKind::Insert => inserts.push(st),
            StatementKind::Select => {
                return Err(SqlError::at(
                    "a bare SELECT has no sink: write INSERT INTO <table> SELECT …",
                    st.start,
                ));
            }
            StatementKind::Other => return Err(SqlError::at("unsupported statement", st.start)),
        }
    }
    if inserts.is_empty() {
        return Err(SqlError::new(
            "the script has no INSERT INTO: nothing to run",
        ));
    }
    for (k, v) in &options.settings {
        planner.settings.insert(k.clone(), v.clone());
    }
    planner.apply_settings()?;
    for st in inserts {
        planner.insert(st).await?;
    }
    Ok(PlannedJob {
        graph: planner.graph,
        settings: planner.settings,
    })
}

pub(crate) struct ScriptPlanner {
    pub(crate) options: PlanOptions,
    pub(crate) ctx: SessionContext,
    pub(crate) tables: HashMap<String, Arc<TableDef>>,
    pub(crate) views: HashMap<String, LogicalPlan>,
    pub(crate) windows: HashMap<String, WindowTvf>,
    pub(crate) settings: BTreeMap<String, String>,
    pub(crate) graph: StreamGraph,
    /// Each table's source node, shared by every statement reading the table (Flink's
    /// `table.optimizer.reuse-source-enabled`).
    pub(crate) sources: HashMap<String, translate::Stream>,
}

impl ScriptPlanner {
    fn new(options: PlanOptions) -> ScriptPlanner {
        let config = SessionConfig::new()
            .set_bool("datafusion.sql_parser.collect_spans", true)
            .set_bool("datafusion.sql_parser.enable_ident_normalization", false)
            // Flink reads `0.908` as DECIMAL(3, 3), not DOUBLE.
            .set_bool("datafusion.sql_parser.parse_float_as_decimal", true);
        let graph = StreamGraph::new(options.job_name.clone());
        ScriptPlanner {
            options,
            ctx: SessionContext::new_with_config(config),
            tables: HashMap::new(),
            views: HashMap::new(),
            windows: HashMap::new(),
            settings: BTreeMap::new(),
            graph,
            sources: HashMap::new(),
        }
    }

    async fn create_table(&mut self, st: &RawStatement) -> Result<()> {
        let ddl = parse_create_table(st)?;
        let key = ddl.name.to_ascii_lowercase();
        if self.tables.contains_key(&key) || self.views.contains_key(&key) {
            if ddl.if_not_exists {
                return Ok(());
            }
            return Err(SqlError::at(
                format!("table '{}' already exists", ddl.name),
                st.start,
            ));
        }
        let (types, exprs) = computed::plan_computed_columns(self, &ddl).await?;
        let mut table = TableDef::from_ddl(&ddl, &types)?;
        table.computed_exprs = exprs;
        self.ctx
            .register_table(
                ddl.name.as_str(),
                Arc::new(EmptyTable::new(table.schema.clone())),
            )
            .map_err(|e| exprs::df_error(e, st.start))?;
        self.tables.insert(key, Arc::new(table));
        Ok(())
    }

    async fn create_view(&mut self, st: &RawStatement) -> Result<()> {
        let (statement, _) = self.parse_rewritten(st)?;
        let Statement::CreateView(view) = &statement else {
            return Err(SqlError::at("expected CREATE VIEW name AS query", st.start));
        };
        let name = view.name.to_string();
        let plan = self
            .plan_query(Statement::Query(view.query.clone()), st.start)
            .await?;
        let table = Arc::new(EmptyTable::new(Arc::new(plan.schema().as_arrow().clone())));
        self.ctx
            .register_table(name.as_str(), table)
            .map_err(|e| exprs::df_error(e, st.start))?;
        self.views.insert(name.to_ascii_lowercase(), plan);
        Ok(())
    }

    fn set(&mut self, st: &RawStatement) -> Result<()> {
        let (statement, _) = self.parse_rewritten(st)?;
        let err = || SqlError::at("expected SET 'key' = 'value'", st.start);
        let Statement::Set(Set::SingleAssignment {
            variable, values, ..
        }) = statement
        else {
            return Err(err());
        };
        let key = variable
            .to_string()
            .trim_matches(|c| c == '\'' || c == '"' || c == '`')
            .to_string();
        let value = match values.first() {
            Some(Expr::Value(v)) => v
                .value
                .clone()
                .into_string()
                .unwrap_or_else(|| v.to_string()),
            Some(other) => other.to_string(),
            None => return Err(err()),
        };
        self.settings.insert(key, value);
        Ok(())
    }

    fn apply_settings(&mut self) -> Result<()> {
        if let Some(p) = self.settings.get("parallelism.default") {
            let p: u32 = p
                .parse()
                .ok()
                .filter(|p| (1..=MAX_SQL_PARALLELISM).contains(p))
                .ok_or_else(|| {
                    SqlError::new(format!(
                        "parallelism.default must be 1..={MAX_SQL_PARALLELISM}, not '{p}'"
                    ))
                })?;
            self.options.parallelism = p;
        }
        if let Some(m) = self.settings.get("pipeline.max-parallelism") {
            self.graph.max_parallelism = m.parse().map_err(|_| {
                SqlError::new(format!(
                    "pipeline.max-parallelism must be a number, not '{m}'"
                ))
            })?;
        }
        Ok(())
    }

    async fn insert(&mut self, st: &RawStatement) -> Result<()> {
        let (statement, windows) = self.parse_rewritten(st)?;
        self.register_windows(windows, st.start)?;
        let plan = self.plan_query(statement, st.start).await?;
        translate::Translator::new(self, st.start).insert(&plan)
    }

    /// Parses a statement after cutting out its window TVFs.
    fn parse_rewritten(&mut self, st: &RawStatement) -> Result<(Statement, Vec<WindowTvf>)> {
        let (tokens, mut windows) = rewrite(&st.tokens, self.windows.len())?;
        let d = dialect();
        let mut parser = Parser::new(&d).with_tokens_with_locations(tokens);
        let mut statement = parser
            .parse_statement()
            .map_err(|e| parser_error(e, st.start))?;
        legacy_window::rewrite(&mut statement, &mut windows, self.windows.len())?;
        Ok((statement, windows))
    }

    /// Registers each window TVF as a table: its input's columns plus the window's.
    fn register_windows(&mut self, windows: Vec<WindowTvf>, at: Location) -> Result<()> {
        for w in windows {
            let input_schema = self
                .input_schema(&w.input)
                .ok_or_else(|| SqlError::at(format!("unknown table '{}'", w.input), w.location))?;
            let schema = window::window_table_schema(&w, &input_schema)?;
            self.ctx
                .register_table(w.table_name.as_str(), Arc::new(EmptyTable::new(schema)))
                .map_err(|e| exprs::df_error(e, at))?;
            self.windows.insert(w.table_name.clone(), w);
        }
        Ok(())
    }

    pub(crate) fn input_schema(&self, name: &str) -> Option<arrow::datatypes::SchemaRef> {
        let key = name.to_ascii_lowercase();
        if let Some(t) = self.tables.get(&key) {
            return Some(t.schema.clone());
        }
        self.views
            .get(&key)
            .map(|p| Arc::new(p.schema().as_arrow().clone()))
    }

    /// DataFusion's logical plan after its analyzer (type coercion), not its optimizer:
    /// the streaming translation wants the plan's shape as written.
    pub(crate) async fn plan_query(
        &self,
        statement: Statement,
        at: Location,
    ) -> Result<LogicalPlan> {
        let state = self.ctx.state();
        let plan = state
            .statement_to_plan(DFStatement::Statement(Box::new(statement)))
            .await
            .map_err(|e| exprs::df_error(e, at))?;
        state
            .analyzer()
            .execute_and_check(plan, state.config_options(), |_, _| {})
            .map_err(|e| exprs::df_error(e, at))
    }
}
