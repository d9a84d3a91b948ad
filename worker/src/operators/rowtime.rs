//! Event time of rows: a time attribute column (any TIMESTAMP unit, or BIGINT epoch
//! milliseconds) read as Flink's `long` millisecond timestamps. A NULL time attribute
//! fails, as in Flink ("RowTime field should not be null").

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, TimeUnit};

use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::Timestamp;

/// The event time (ms) of every row of `batch`, from column `column`.
pub fn event_times(batch: &RecordBatch, column: usize) -> Result<Vec<Timestamp>> {
    let c = batch
        .columns()
        .get(column)
        .ok_or_else(|| RuntimeError::Graph(format!("time column {column} is outside the input")))?;
    let ms = match c.data_type() {
        DataType::Timestamp(TimeUnit::Millisecond, _) | DataType::Int64 => c.clone(),
        DataType::Timestamp(_, tz) => {
            cast(c, &DataType::Timestamp(TimeUnit::Millisecond, tz.clone()))?
        }
        other => {
            return Err(RuntimeError::Graph(format!(
                "time column {column} has type {other}, not a timestamp"
            )));
        }
    };
    if ms.null_count() > 0 {
        return Err(RuntimeError::Task {
            task: "event time".into(),
            message: format!("time column {column} holds NULL; a time attribute must not be null"),
        });
    }
    let ints = cast(&ms, &DataType::Int64)?;
    Ok(ints.as_primitive::<Int64Type>().values().to_vec())
}
