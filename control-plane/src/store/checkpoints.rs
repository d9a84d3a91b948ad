//! Checkpoint statistics in the store: one row per checkpoint (status, times, sizes)
//! and one per acknowledged subtask — in the database, so they survive a master
//! failover (Flink keeps them in the JobManager's memory only).

use sqlx::Row;

use super::{Store, StoreError, to_i64, to_u64};

/// Checkpoints one listing returns (the newest).
pub const MAX_CHECKPOINTS_LISTED: u32 = 1000;

pub mod status {
    pub const IN_PROGRESS: &str = "IN_PROGRESS";
    pub const COMPLETED: &str = "COMPLETED";
    pub const FAILED: &str = "FAILED";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    pub job_id: String,
    pub checkpoint_id: u64,
    pub attempt: u32,
    pub status: String,
    pub is_savepoint: bool,
    pub trigger_time_ms: u64,
    pub end_time_ms: Option<u64>,
    pub state_size_bytes: u64,
    pub checkpointed_bytes: u64,
    pub alignment_ms: u64,
    pub path: String,
    pub failure: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointSubtaskRow {
    pub vertex: u32,
    pub subtask: u32,
    pub ack_time_ms: u64,
    pub start_delay_ms: u64,
    pub alignment_ms: u64,
    pub sync_ms: u64,
    pub async_ms: u64,
    pub state_size_bytes: u64,
    pub key_group_first: u32,
    pub key_group_last: u32,
    pub file: String,
}

macro_rules! select_checkpoints {
    ($tail:literal) => {
        concat!(
            "SELECT job_id, checkpoint_id, attempt, status, is_savepoint, trigger_time_ms, end_time_ms, \
             state_size_bytes, checkpointed_bytes, alignment_ms, path, failure FROM checkpoints ",
            $tail
        )
    };
}

impl Store {
    /// Records a triggered checkpoint (IN_PROGRESS).
    pub async fn insert_checkpoint(&self, term: u64, c: &CheckpointRow) -> Result<(), StoreError> {
        let mut tx = self.begin_fenced(term).await?;
        sqlx::query(
            "INSERT INTO checkpoints (job_id, checkpoint_id, attempt, status, is_savepoint, trigger_time_ms, \
             end_time_ms, state_size_bytes, checkpointed_bytes, alignment_ms, path, failure, written_term) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&c.job_id)
        .bind(to_i64(c.checkpoint_id))
        .bind(i64::from(c.attempt))
        .bind(&c.status)
        .bind(i64::from(c.is_savepoint))
        .bind(to_i64(c.trigger_time_ms))
        .bind(c.end_time_ms.map(to_i64))
        .bind(to_i64(c.state_size_bytes))
        .bind(to_i64(c.checkpointed_bytes))
        .bind(to_i64(c.alignment_ms))
        .bind(&c.path)
        .bind(&c.failure)
        .bind(to_i64(term))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends a checkpoint: COMPLETED with its totals, or FAILED with the reason.
    pub async fn finish_checkpoint(&self, term: u64, c: &CheckpointRow) -> Result<(), StoreError> {
        let mut tx = self.begin_fenced(term).await?;
        sqlx::query(
            "UPDATE checkpoints SET status = $1, end_time_ms = $2, state_size_bytes = $3, \
             checkpointed_bytes = $4, alignment_ms = $5, failure = $6, written_term = $7 \
             WHERE job_id = $8 AND checkpoint_id = $9",
        )
        .bind(&c.status)
        .bind(c.end_time_ms.map(to_i64))
        .bind(to_i64(c.state_size_bytes))
        .bind(to_i64(c.checkpointed_bytes))
        .bind(to_i64(c.alignment_ms))
        .bind(&c.failure)
        .bind(to_i64(term))
        .bind(&c.job_id)
        .bind(to_i64(c.checkpoint_id))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records one subtask's acknowledgement.
    pub async fn insert_checkpoint_subtask(
        &self,
        term: u64,
        job_id: &str,
        checkpoint_id: u64,
        s: &CheckpointSubtaskRow,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_fenced(term).await?;
        sqlx::query(
            "INSERT INTO checkpoint_subtasks (job_id, checkpoint_id, vertex, subtask, ack_time_ms, \
             start_delay_ms, alignment_ms, sync_ms, async_ms, state_size_bytes, key_group_first, \
             key_group_last, file, written_term) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(job_id)
        .bind(to_i64(checkpoint_id))
        .bind(i64::from(s.vertex))
        .bind(i64::from(s.subtask))
        .bind(to_i64(s.ack_time_ms))
        .bind(to_i64(s.start_delay_ms))
        .bind(to_i64(s.alignment_ms))
        .bind(to_i64(s.sync_ms))
        .bind(to_i64(s.async_ms))
        .bind(to_i64(s.state_size_bytes))
        .bind(i64::from(s.key_group_first))
        .bind(i64::from(s.key_group_last))
        .bind(&s.file)
        .bind(to_i64(term))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A job's newest checkpoints first, at most [`MAX_CHECKPOINTS_LISTED`].
    pub async fn checkpoints(&self, job_id: &str) -> Result<Vec<CheckpointRow>, StoreError> {
        let rows = sqlx::query(select_checkpoints!(
            "WHERE job_id = $1 ORDER BY checkpoint_id DESC LIMIT $2"
        ))
        .bind(job_id)
        .bind(i64::from(MAX_CHECKPOINTS_LISTED))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(checkpoint_row).collect()
    }

    pub async fn checkpoint(
        &self,
        job_id: &str,
        checkpoint_id: u64,
    ) -> Result<Option<CheckpointRow>, StoreError> {
        let row = sqlx::query(select_checkpoints!(
            "WHERE job_id = $1 AND checkpoint_id = $2"
        ))
        .bind(job_id)
        .bind(to_i64(checkpoint_id))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(checkpoint_row).transpose()
    }

    /// The acknowledged subtasks of a checkpoint, by vertex and subtask.
    pub async fn checkpoint_subtasks(
        &self,
        job_id: &str,
        checkpoint_id: u64,
    ) -> Result<Vec<CheckpointSubtaskRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT vertex, subtask, ack_time_ms, start_delay_ms, alignment_ms, sync_ms, async_ms, \
             state_size_bytes, key_group_first, key_group_last, file FROM checkpoint_subtasks \
             WHERE job_id = $1 AND checkpoint_id = $2 ORDER BY vertex, subtask",
        )
        .bind(job_id)
        .bind(to_i64(checkpoint_id))
        .fetch_all(self.pool())
        .await?;
        let u32_of = |r: &sqlx::any::AnyRow, c: &str| -> Result<u32, StoreError> {
            Ok(u32::try_from(r.try_get::<i64, _>(c)?).unwrap_or(0))
        };
        rows.iter()
            .map(|r| {
                Ok(CheckpointSubtaskRow {
                    vertex: u32_of(r, "vertex")?,
                    subtask: u32_of(r, "subtask")?,
                    ack_time_ms: to_u64(r.try_get("ack_time_ms")?),
                    start_delay_ms: to_u64(r.try_get("start_delay_ms")?),
                    alignment_ms: to_u64(r.try_get("alignment_ms")?),
                    sync_ms: to_u64(r.try_get("sync_ms")?),
                    async_ms: to_u64(r.try_get("async_ms")?),
                    state_size_bytes: to_u64(r.try_get("state_size_bytes")?),
                    key_group_first: u32_of(r, "key_group_first")?,
                    key_group_last: u32_of(r, "key_group_last")?,
                    file: r.try_get("file")?,
                })
            })
            .collect()
    }
}

fn checkpoint_row(r: &sqlx::any::AnyRow) -> Result<CheckpointRow, StoreError> {
    Ok(CheckpointRow {
        job_id: r.try_get("job_id")?,
        checkpoint_id: to_u64(r.try_get("checkpoint_id")?),
        attempt: u32::try_from(r.try_get::<i64, _>("attempt")?).unwrap_or(0),
        status: r.try_get("status")?,
        is_savepoint: r.try_get::<i64, _>("is_savepoint")? != 0,
        trigger_time_ms: to_u64(r.try_get("trigger_time_ms")?),
        end_time_ms: r.try_get::<Option<i64>, _>("end_time_ms")?.map(to_u64),
        state_size_bytes: to_u64(r.try_get("state_size_bytes")?),
        checkpointed_bytes: to_u64(r.try_get("checkpointed_bytes")?),
        alignment_ms: to_u64(r.try_get("alignment_ms")?),
        path: r.try_get("path")?,
        failure: r.try_get("failure")?,
    })
}
