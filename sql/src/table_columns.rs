//! The operator after a table's source that lays out its columns as the table declares
//! them: physical columns by position, `PROCTIME()` from the operator's clock (so a
//! test clock drives it), the ingestion-time column the source appended.

use std::sync::Arc;

use arrow::array::{ArrayRef, TimestampMillisecondArray};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use eddy_worker::runtime::error::{Result, RuntimeError};
use eddy_worker::runtime::operator::{Operator, OperatorContext, Output};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnSource {
    /// Column `i` of the incoming batch.
    Input(usize),
    /// The processing time of the batch.
    ProcTime,
}

#[derive(Debug)]
pub struct TableColumnsOperator {
    columns: Vec<ColumnSource>,
    schema: SchemaRef,
}

impl TableColumnsOperator {
    pub fn new(columns: Vec<ColumnSource>, schema: SchemaRef) -> Self {
        TableColumnsOperator { columns, schema }
    }
}

impl Operator for TableColumnsOperator {
    fn name(&self) -> &str {
        "ComputedColumns"
    }

    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let now = ctx.clock.now_ms();
        let columns =
            self.columns
                .iter()
                .map(|c| match c {
                    ColumnSource::Input(i) => batch.columns().get(*i).cloned().ok_or_else(|| {
                        RuntimeError::Graph(format!(
                            "table column {i} missing from a batch of {}",
                            batch.num_columns()
                        ))
                    }),
                    ColumnSource::ProcTime => Ok(Arc::new(TimestampMillisecondArray::from(
                        vec![now; batch.num_rows()],
                    )) as ArrayRef),
                })
                .collect::<Result<Vec<_>>>()?;
        out.emit(RecordBatch::try_new(self.schema.clone(), columns)?);
        Ok(())
    }
}
