//! Stateless operators: filter and projection evaluate DataFusion physical expressions
//! on whole batches; the sink operator hands batches to a connector's writer.

use std::sync::Arc;

use arrow::array::AsArray;
use arrow::compute::filter_record_batch;
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::physical_expr::PhysicalExpr;

use crate::connectors::SinkWriter;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::CheckpointBarrier;
use crate::runtime::metrics::SubtaskMetrics;
use crate::runtime::operator::{Operator, OperatorContext, Output};

/// Keeps the rows whose predicate is true (NULL counts as false, as in SQL).
#[derive(Debug)]
pub struct FilterOperator {
    predicate: Arc<dyn PhysicalExpr>,
}

impl FilterOperator {
    pub fn new(predicate: Arc<dyn PhysicalExpr>) -> FilterOperator {
        FilterOperator { predicate }
    }
}

impl Operator for FilterOperator {
    fn name(&self) -> &str {
        "Filter"
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let mask = self
            .predicate
            .evaluate(&batch)?
            .into_array(batch.num_rows())?;
        let mask = mask.as_boolean_opt().ok_or_else(|| {
            RuntimeError::Graph(format!(
                "filter predicate is {}, not BOOLEAN",
                mask.data_type()
            ))
        })?;
        if mask.true_count() == batch.num_rows() {
            out.emit(batch);
        } else {
            out.emit(filter_record_batch(&batch, mask)?);
        }
        Ok(())
    }
}

/// Computes one output column per expression (SQL's SELECT list).
#[derive(Debug)]
pub struct ProjectionOperator {
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
}

impl ProjectionOperator {
    /// `exprs` with output names, evaluated against `input`'s schema.
    pub fn new(
        exprs: Vec<(Arc<dyn PhysicalExpr>, String)>,
        input: &Schema,
    ) -> Result<ProjectionOperator> {
        let fields = exprs
            .iter()
            .map(|(e, name)| Ok(Field::new(name, e.data_type(input)?, e.nullable(input)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(ProjectionOperator {
            exprs: exprs.into_iter().map(|(e, _)| e).collect(),
            schema: Arc::new(Schema::new(fields)),
        })
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

impl Operator for ProjectionOperator {
    fn name(&self) -> &str {
        "Calc"
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let columns = self
            .exprs
            .iter()
            .map(|e| Ok(e.evaluate(&batch)?.into_array(batch.num_rows())?))
            .collect::<Result<Vec<_>>>()?;
        out.emit(RecordBatch::try_new(self.schema.clone(), columns)?);
        Ok(())
    }
}

/// The last operator of a sink's chain: writes batches, commits on finish.
pub struct SinkOperator {
    name: String,
    writer: Box<dyn SinkWriter>,
    /// The column whose latency is recorded in the subtask's metrics.
    latency_column: Option<usize>,
}

impl SinkOperator {
    pub fn new(name: impl Into<String>, writer: Box<dyn SinkWriter>) -> SinkOperator {
        SinkOperator {
            name: name.into(),
            writer,
            latency_column: None,
        }
    }

    /// Records the processing-time latency of `column` (a TIMESTAMP) of every row.
    pub fn with_latency_column(mut self, column: Option<usize>) -> SinkOperator {
        self.latency_column = column;
        self
    }
}

impl Operator for SinkOperator {
    fn name(&self) -> &str {
        &self.name
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        self.writer.write(&batch)?;
        SubtaskMetrics::add(&ctx.metrics.sink_records, batch.num_rows() as u64);
        if let Some(column) = self.latency_column {
            let stamps = batch.columns().get(column).ok_or_else(|| {
                RuntimeError::Graph(format!("latency column {column} is not in the sink's rows"))
            })?;
            ctx.metrics
                .sink_latency
                .record(stamps, ctx.clock.now_ms())?;
        }
        Ok(())
    }

    fn process_watermark(
        &mut self,
        _watermark: i64,
        _ctx: &OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        Ok(())
    }

    fn snapshot_state(&mut self, barrier: &CheckpointBarrier) -> Result<Option<Vec<u8>>> {
        self.writer.snapshot(barrier.checkpoint_id)
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<()> {
        self.writer.restore(state)
    }

    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        self.writer.notify_checkpoint_complete(checkpoint_id)
    }

    fn finish(&mut self, _ctx: &OperatorContext, _out: &mut Output) -> Result<()> {
        self.writer.finish()
    }
}
