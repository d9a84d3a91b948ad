//! In-process tables: a bounded source over given batches (Flink's `fromElements`,
//! SQL `VALUES`) and a sink that collects what reaches it (Flink's `collect()`), for
//! the Rust API, `SELECT` results and tests.

use std::sync::{Arc, Mutex};

use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::{Sink, SinkWriter, Source, SourceEvent, SourceReader};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::operator::SubtaskInfo;

/// Upper bound on rows a collect sink keeps (it lives in memory).
pub const MAX_COLLECTED_ROWS: usize = 10_000_000;

/// A bounded source over fixed batches. Each split is one batch list; splits are dealt
/// round-robin to subtasks.
#[derive(Debug, Clone)]
pub struct ValuesSource {
    schema: SchemaRef,
    splits: Vec<Vec<RecordBatch>>,
}

impl ValuesSource {
    /// One split per inner list of batches.
    pub fn new(schema: SchemaRef, splits: Vec<Vec<RecordBatch>>) -> ValuesSource {
        ValuesSource { schema, splits }
    }
}

impl Source for ValuesSource {
    fn name(&self) -> &str {
        "values"
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn create_reader(&self, subtask: &SubtaskInfo) -> Result<Box<dyn SourceReader>> {
        let mine: Vec<Vec<RecordBatch>> = self
            .splits
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u32 % subtask.parallelism == subtask.index)
            .map(|(_, s)| s.clone())
            .collect();
        Ok(Box::new(ValuesReader {
            splits: mine,
            split: 0,
            batch: 0,
        }))
    }
}

struct ValuesReader {
    splits: Vec<Vec<RecordBatch>>,
    split: usize,
    batch: usize,
}

impl SourceReader for ValuesReader {
    fn splits(&self) -> usize {
        self.splits.len()
    }

    fn snapshot_position(&self) -> Result<Vec<u8>> {
        super::position(&serde_json::json!({"split": self.split, "batch": self.batch}))
    }

    fn restore_position(&mut self, position: &[u8]) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Position {
            split: usize,
            batch: usize,
        }
        let p: Position = super::read_position(position)?;
        (self.split, self.batch) = (p.split, p.batch);
        Ok(())
    }

    fn poll(&mut self) -> Result<SourceEvent> {
        let Some(split) = self.splits.get(self.split) else {
            return Ok(SourceEvent::End);
        };
        match split.get(self.batch) {
            Some(batch) => {
                self.batch += 1;
                Ok(SourceEvent::Batch {
                    split: self.split,
                    batch: batch.clone(),
                })
            }
            None => {
                let finished = self.split;
                self.split += 1;
                self.batch = 0;
                Ok(SourceEvent::SplitFinished { split: finished })
            }
        }
    }
}

/// Collects every batch written by any subtask.
#[derive(Debug, Clone, Default)]
pub struct CollectSink {
    batches: Arc<Mutex<Vec<RecordBatch>>>,
    rows: Arc<std::sync::atomic::AtomicUsize>,
}

impl CollectSink {
    pub fn new() -> CollectSink {
        CollectSink::default()
    }

    pub fn batches(&self) -> Vec<RecordBatch> {
        self.batches.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// Everything collected as one batch (`None` if nothing arrived).
    pub fn concat(&self) -> Result<Option<RecordBatch>> {
        let batches = self.batches();
        match batches.first() {
            None => Ok(None),
            Some(first) => Ok(Some(concat_batches(&first.schema(), &batches)?)),
        }
    }
}

impl Sink for CollectSink {
    fn name(&self) -> &str {
        "collect"
    }

    fn create_writer(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn SinkWriter>> {
        Ok(Box::new(self.clone()))
    }
}

impl SinkWriter for CollectSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = self
            .rows
            .fetch_add(batch.num_rows(), std::sync::atomic::Ordering::Relaxed);
        if rows + batch.num_rows() > MAX_COLLECTED_ROWS {
            return Err(RuntimeError::Graph(format!(
                "collect sink holds more than {MAX_COLLECTED_ROWS} rows"
            )));
        }
        self.batches
            .lock()
            .map_err(|_| RuntimeError::Graph("collect sink poisoned".into()))?
            .push(batch.clone());
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}
