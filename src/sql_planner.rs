//! The SQL planner the binary hands to the master and to workers: `eddy-sql` plans a
//! script onto the worker's graph, chained (and described for the REST API); for the
//! master's state browser it also reads a RocksDB checkpoint's keyed state with the
//! planned job's operators (`eddy_worker::state::rocksdb::reader`). Master and
//! workers plan the same script with the same inputs, so they get the same graph.

use eddy_api::error::{ErrorBody, codes};
use eddy_control_plane::sql::{
    KeyedStateRead, PlanFuture, PlannedGraph, SqlPlanner, StateReadFuture,
};
use std::collections::BTreeMap;

use eddy_sql::{PlanOptions, plan_script};
use eddy_worker::graph::JobGraph;
use eddy_worker::task_executor::JobPlanner;

#[derive(Debug)]
pub struct EddySqlPlanner;

impl SqlPlanner for EddySqlPlanner {
    fn validate(&self, sql: String, parallelism: u32) -> PlanFuture {
        Box::pin(async move {
            let options = PlanOptions {
                parallelism,
                ..PlanOptions::default()
            };
            let planned = plan_script(&sql, &options).await.map_err(|e| ErrorBody {
                code: codes::INVALID_SQL.to_string(),
                message: e.message,
                line: e.line.map(|l| l as u32),
                column: e.column.map(|c| c as u32),
            })?;
            let graph = JobGraph::from_stream_graph(planned.graph)
                .map_err(|e| ErrorBody::new(codes::INVALID_SQL, e.to_string()))?;
            Ok(PlannedGraph {
                graph: graph.describe(),
                settings: planned.settings,
            })
        })
    }

    /// Plans the job as at submission, then reads the section with its operator.
    fn read_keyed_state(&self, read: KeyedStateRead) -> StateReadFuture {
        Box::pin(async move {
            let options = PlanOptions {
                parallelism: read.parallelism,
                ..PlanOptions::default()
            };
            let planned = plan_script(&read.sql, &options)
                .await
                .map_err(|e| e.message)?;
            let graph = JobGraph::from_stream_graph(planned.graph).map_err(|e| e.to_string())?;
            eddy_worker::state::rocksdb::reader::read_keyed_state(
                &graph,
                read.vertex,
                read.operator,
                read.subtask,
                &read.section,
                read.key_group,
            )
            .await
            .map_err(|e| e.to_string())
        })
    }
}

impl JobPlanner for EddySqlPlanner {
    fn plan(
        &self,
        sql: String,
        parallelism: u32,
        settings: BTreeMap<String, String>,
    ) -> eddy_worker::task_executor::PlanFuture {
        Box::pin(async move {
            let options = PlanOptions {
                parallelism,
                settings,
                ..PlanOptions::default()
            };
            let planned = plan_script(&sql, &options).await.map_err(|e| e.message)?;
            JobGraph::from_stream_graph(planned.graph).map_err(|e| e.to_string())
        })
    }
}
