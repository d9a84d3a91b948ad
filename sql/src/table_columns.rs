//! A table's source as queries see it: wraps the connector's source so every batch
//! has the table's columns in declaration order — physical columns by position,
//! `PROCTIME()` from the wall clock, expression computed columns evaluated on the
//! physical columns, and a placeholder for an ingestion-time column (the source task
//! stamps it). Computing here, inside the source, lets a WATERMARK use a computed column.

use std::sync::Arc;

use arrow::array::{ArrayRef, TimestampMillisecondArray};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::physical_expr::PhysicalExpr;
use eddy_worker::connectors::{Source, SourceEvent, SourceReader};
use eddy_worker::runtime::error::{Result, RuntimeError};
use eddy_worker::runtime::operator::SubtaskInfo;
use eddy_worker::time::clock::{Clock, SystemClock};

#[derive(Debug, Clone)]
pub enum ColumnSource {
    /// Column `i` of the connector's batch.
    Input(usize),
    /// The processing time when the batch was read.
    ProcTime,
    /// An expression over the connector's batch.
    Expr(Arc<dyn PhysicalExpr>),
    /// Filled in by the source task (ingestion time): zeros until then.
    Stamped,
}

#[derive(Debug)]
pub struct ComputedColumnsSource {
    inner: Arc<dyn Source>,
    columns: Vec<ColumnSource>,
    schema: SchemaRef,
}

impl ComputedColumnsSource {
    pub fn new(inner: Arc<dyn Source>, columns: Vec<ColumnSource>, schema: SchemaRef) -> Self {
        ComputedColumnsSource {
            inner,
            columns,
            schema,
        }
    }
}

impl Source for ComputedColumnsSource {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn create_reader(&self, subtask: &SubtaskInfo) -> Result<Box<dyn SourceReader>> {
        Ok(Box::new(ComputedColumnsReader {
            inner: self.inner.create_reader(subtask)?,
            columns: self.columns.clone(),
            schema: self.schema.clone(),
        }))
    }
}

struct ComputedColumnsReader {
    inner: Box<dyn SourceReader>,
    columns: Vec<ColumnSource>,
    schema: SchemaRef,
}

impl ComputedColumnsReader {
    fn lay_out(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let columns = self
            .columns
            .iter()
            .map(|c| match c {
                ColumnSource::Input(i) => batch.columns().get(*i).cloned().ok_or_else(|| {
                    RuntimeError::Graph(format!(
                        "table column {i} missing from a batch of {}",
                        batch.num_columns()
                    ))
                }),
                ColumnSource::ProcTime => Ok(Arc::new(TimestampMillisecondArray::from(vec![
                        SystemClock.now_ms();
                        rows
                    ])) as ArrayRef),
                ColumnSource::Expr(e) => Ok(e.evaluate(batch)?.into_array(rows)?),
                ColumnSource::Stamped => {
                    Ok(Arc::new(TimestampMillisecondArray::from(vec![0; rows])) as ArrayRef)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

impl SourceReader for ComputedColumnsReader {
    fn splits(&self) -> usize {
        self.inner.splits()
    }

    fn poll(&mut self) -> Result<SourceEvent> {
        Ok(match self.inner.poll()? {
            SourceEvent::Batch { split, batch } => SourceEvent::Batch {
                split,
                batch: self.lay_out(&batch)?,
            },
            other => other,
        })
    }

    fn parse_errors(&self) -> u64 {
        self.inner.parse_errors()
    }

    fn snapshot_position(&self) -> Result<Vec<u8>> {
        self.inner.snapshot_position()
    }

    fn restore_position(&mut self, position: &[u8]) -> Result<()> {
        self.inner.restore_position(position)
    }

    fn restore_rescaled(&mut self, positions: &[Vec<u8>]) -> Result<()> {
        self.inner.restore_rescaled(positions)
    }
}
