//! Output side of a task (Flink's `RecordWriter` + `StreamPartitioner`): splits each
//! batch over the target subtasks of one outgoing edge — forward, by key group (hash),
//! round-robin (rebalance) or to all (broadcast) — and sends on bounded channels,
//! timing how long it waits for room (back pressure).

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::record_batch::RecordBatch;
use tokio::sync::mpsc::error::TrySendError;

use super::channel::ChannelSender;
use super::error::{Result, RuntimeError};
use super::message::Message;
use super::metrics::SubtaskMetrics;
use crate::graph::Partitioning;
use crate::key_groups::subtask_for_key_group;
use crate::state::key::key_groups;

#[derive(Debug)]
pub struct RecordWriter {
    partitioning: Partitioning,
    /// One channel per target subtask (exactly one for forward).
    targets: Vec<ChannelSender>,
    max_parallelism: u32,
    next_round_robin: usize,
    metrics: Arc<SubtaskMetrics>,
}

impl RecordWriter {
    pub fn new(
        partitioning: Partitioning,
        targets: Vec<ChannelSender>,
        max_parallelism: u32,
        metrics: Arc<SubtaskMetrics>,
    ) -> Result<RecordWriter> {
        if targets.is_empty() || (partitioning == Partitioning::Forward && targets.len() != 1) {
            return Err(RuntimeError::Graph(format!(
                "{} edge with {} target channels",
                partitioning.name(),
                targets.len()
            )));
        }
        Ok(RecordWriter {
            partitioning,
            targets,
            max_parallelism,
            next_round_robin: 0,
            metrics,
        })
    }

    /// Sends rows to the subtasks the partitioning picks.
    pub async fn emit(&mut self, batch: RecordBatch) -> Result<()> {
        match &self.partitioning {
            Partitioning::Forward => self.send(0, Message::Data(batch)).await,
            Partitioning::Rebalance => {
                let target = self.next_round_robin;
                self.next_round_robin = (target + 1) % self.targets.len();
                self.send(target, Message::Data(batch)).await
            }
            Partitioning::Broadcast => self.broadcast(Message::Data(batch)).await,
            Partitioning::Hash { key_columns } => {
                let parts = split_by_key(
                    &batch,
                    key_columns,
                    self.targets.len() as u32,
                    self.max_parallelism,
                )?;
                for (target, part) in parts {
                    self.send(target, Message::Data(part)).await?;
                }
                Ok(())
            }
        }
    }

    /// Sends a control message (watermark, status, barrier, end of stream) to every target.
    pub async fn broadcast(&mut self, message: Message) -> Result<()> {
        for target in 0..self.targets.len() {
            self.send(target, message.clone()).await?;
        }
        Ok(())
    }

    async fn send(&mut self, target: usize, message: Message) -> Result<()> {
        let channel = &self.targets[target];
        let message = match channel.try_send(message) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(_)) => return Err(closed(target)),
            Err(TrySendError::Full(message)) => message,
        };
        let waiting = Instant::now();
        let sent = channel.send(message).await;
        SubtaskMetrics::add(
            &self.metrics.backpressured_ns,
            waiting.elapsed().as_nanos() as u64,
        );
        sent.map_err(|_| closed(target))
    }
}

fn closed(target: usize) -> RuntimeError {
    RuntimeError::ChannelClosed(format!("output channel to subtask {target} closed"))
}

/// Splits a batch by the subtask owning each row's key group; returns non-empty parts.
pub fn split_by_key(
    batch: &RecordBatch,
    key_columns: &[usize],
    parallelism: u32,
    max_parallelism: u32,
) -> Result<Vec<(usize, RecordBatch)>> {
    if parallelism == 1 {
        // One target owns every key group: nothing to hash.
        return Ok(vec![(0, batch.clone())]);
    }
    let columns: Vec<ArrayRef> = key_columns
        .iter()
        .map(|&i| {
            batch.columns().get(i).cloned().ok_or_else(|| {
                RuntimeError::Graph(format!(
                    "key column {i} is not in a batch of {} columns",
                    batch.num_columns()
                ))
            })
        })
        .collect::<Result<_>>()?;
    let groups = key_groups(&columns, batch.num_rows(), max_parallelism)?;
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); parallelism as usize];
    for (row, group) in groups.into_iter().enumerate() {
        rows[subtask_for_key_group(group, parallelism, max_parallelism) as usize].push(row as u32);
    }
    let mut parts = Vec::new();
    for (target, indices) in rows.into_iter().enumerate() {
        if indices.is_empty() {
            continue;
        }
        let part = if indices.len() == batch.num_rows() {
            batch.clone()
        } else {
            take_record_batch(batch, &UInt32Array::from(indices))?
        };
        parts.push((target, part));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::key_groups::range_for_subtask;

    #[test]
    fn hash_split_sends_each_key_to_the_subtask_owning_its_key_group() {
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false)]));
        let keys: Vec<i64> = (0..1000).map(|i| i % 37).collect();
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(keys))]).unwrap();
        let parts = split_by_key(&batch, &[0], 3, 128).unwrap();
        assert_eq!(parts.iter().map(|(_, b)| b.num_rows()).sum::<usize>(), 1000);
        let mut owner = std::collections::HashMap::new();
        for (target, part) in &parts {
            let range = range_for_subtask(*target as u32, 3, 128).unwrap();
            let groups = key_groups(&[part.column(0).clone()], part.num_rows(), 128).unwrap();
            assert!(groups.iter().all(|g| range.contains(*g)));
            let col = part
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            for k in col.iter().flatten() {
                assert_eq!(
                    *owner.entry(k).or_insert(*target),
                    *target,
                    "key {k} on two subtasks"
                );
            }
        }
        assert!(parts.len() > 1, "37 keys spread over several subtasks");
        assert!(col_len(&parts) > 0);
    }

    fn col_len(parts: &[(usize, RecordBatch)]) -> usize {
        parts.iter().map(|(_, b)| b.column(0).len()).sum()
    }
}
