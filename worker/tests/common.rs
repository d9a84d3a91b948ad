//! Shared fixtures for the runtime tests: batches of (key, value, ts) rows, operator
//! factories, helpers to read columns back.

#![allow(dead_code)]

use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, RecordBatch, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit};
use eddy_worker::runtime::error::Result;
use eddy_worker::runtime::operator::{Operator, OperatorFactory, SubtaskInfo};

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Int64, false),
        Field::new("value", DataType::Int64, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        ),
    ]))
}

/// Rows (key, value, ts) as one batch.
pub fn batch(rows: &[(i64, i64, i64)]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(TimestampMillisecondArray::from_iter_values(
                rows.iter().map(|r| r.2),
            )),
        ],
    )
    .unwrap()
}

/// `n` rows: key = i % keys, value = i, ts = i.
pub fn numbered(start: i64, n: i64, keys: i64) -> RecordBatch {
    let rows: Vec<(i64, i64, i64)> = (start..start + n).map(|i| (i % keys, i, i)).collect();
    batch(&rows)
}

pub fn column_i64(batch: &RecordBatch, i: usize) -> Vec<i64> {
    let c = batch.column(i);
    if let Some(a) = c.as_primitive_opt::<Int64Type>() {
        return a.iter().map(|v| v.unwrap_or(i64::MIN)).collect();
    }
    let c = arrow::compute::cast(c, &DataType::Int64).unwrap();
    c.as_primitive::<Int64Type>()
        .iter()
        .map(|v| v.unwrap_or(i64::MIN))
        .collect()
}

pub fn rows_of(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// Wraps a closure creating an operator into a factory.
pub fn factory<F>(f: F) -> Arc<dyn OperatorFactory>
where
    F: Fn(&SubtaskInfo) -> Result<Box<dyn Operator>> + Send + Sync + 'static,
{
    Arc::new(f)
}

pub fn null_count(batch: &RecordBatch, i: usize) -> usize {
    batch.column(i).null_count()
}
