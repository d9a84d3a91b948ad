//! Jobs and their status history in the store (Flink's job statuses), so they survive
//! a master restart or failover.

use sqlx::Row;

use super::{Store, StoreError, to_i64, to_u64};

/// Flink's terminal job statuses: a job in one of them has an end time.
pub const TERMINAL_STATUSES: [&str; 3] = ["FINISHED", "FAILED", "CANCELED"];

/// Upper bound of jobs one listing returns (newest first).
pub const MAX_JOBS_LISTED: u32 = 1000;

/// A job as recorded in the `jobs` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub id: String,
    pub name: String,
    pub sql: String,
    pub parallelism: u32,
    pub status: String,
    pub attempt: u32,
    /// The planned job graph as JSON.
    pub graph_json: String,
    /// The request's options as JSON (checkpoint interval, state backend, restart strategy).
    pub options_json: String,
    pub start_time_ms: u64,
    pub end_time_ms: Option<u64>,
}

/// Upper bound of exceptions served per job (the newest).
pub const MAX_EXCEPTIONS_LISTED: u32 = 100;

/// One failure of a job's attempt, as recorded in `job_exceptions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobExceptionRow {
    pub attempt: u32,
    pub at_ms: u64,
    pub message: String,
    pub worker_id: Option<String>,
    pub vertex: Option<u32>,
    pub subtask: Option<u32>,
    pub task: Option<String>,
}

/// One status change of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatusChange {
    pub status: String,
    pub at_ms: u64,
    pub detail: String,
}

/// `SELECT <every job column> FROM jobs <tail>` as one static string.
macro_rules! select_jobs {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, sql_text, parallelism, status, attempt, graph_json, options_json, start_time_ms, end_time_ms FROM jobs ",
            $tail
        )
    };
}

impl Store {
    /// Records a new job and its first status.
    pub async fn insert_job(&self, term: u64, job: &JobRow) -> Result<(), StoreError> {
        let mut tx = self.begin_fenced(term).await?;
        sqlx::query(
            "INSERT INTO jobs (id, name, sql_text, parallelism, status, attempt, graph_json, options_json, \
             start_time_ms, end_time_ms, written_term) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&job.id)
        .bind(&job.name)
        .bind(&job.sql)
        .bind(i64::from(job.parallelism))
        .bind(&job.status)
        .bind(i64::from(job.attempt))
        .bind(&job.graph_json)
        .bind(&job.options_json)
        .bind(to_i64(job.start_time_ms))
        .bind(job.end_time_ms.map(to_i64))
        .bind(to_i64(term))
        .execute(&mut *tx)
        .await?;
        insert_change(&mut tx, term, &job.id, &job.status, job.start_time_ms, "").await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves a job to `status` (appending to its history); a terminal status sets its end
    /// time. Returns false if there is no such job.
    pub async fn set_job_status(
        &self,
        term: u64,
        id: &str,
        status: &str,
        at_ms: u64,
        detail: &str,
        attempt: u32,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_fenced(term).await?;
        let end = TERMINAL_STATUSES.contains(&status).then_some(to_i64(at_ms));
        let updated = sqlx::query(
            "UPDATE jobs SET status = $1, attempt = $2, end_time_ms = $3, written_term = $4 WHERE id = $5",
        )
        .bind(status)
        .bind(i64::from(attempt))
        .bind(end)
        .bind(to_i64(term))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        insert_change(&mut tx, term, id, status, at_ms, detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A rescaled job's new parallelism and graph. Returns false if there is no such job.
    pub async fn update_job_plan(
        &self,
        term: u64,
        id: &str,
        parallelism: u32,
        graph_json: &str,
        options_json: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_fenced(term).await?;
        let updated = sqlx::query(
            "UPDATE jobs SET parallelism = $1, graph_json = $2, options_json = $3, written_term = $4 WHERE id = $5",
        )
        .bind(i64::from(parallelism))
        .bind(graph_json)
        .bind(options_json)
        .bind(to_i64(term))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(updated > 0)
    }

    /// The newest jobs first, at most [`MAX_JOBS_LISTED`].
    pub async fn jobs(&self) -> Result<Vec<JobRow>, StoreError> {
        let rows = sqlx::query(select_jobs!("ORDER BY start_time_ms DESC, id LIMIT $1"))
            .bind(i64::from(MAX_JOBS_LISTED))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(job_row).collect()
    }

    /// Jobs not in a terminal status (to recover after a master restart), oldest first.
    pub async fn unfinished_jobs(&self) -> Result<Vec<JobRow>, StoreError> {
        let rows = sqlx::query(select_jobs!(
            "WHERE status NOT IN ('FINISHED', 'FAILED', 'CANCELED') ORDER BY start_time_ms, id LIMIT $1"
        ))
        .bind(i64::from(MAX_JOBS_LISTED))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(job_row).collect()
    }

    /// Records the failure of one attempt.
    pub async fn insert_job_exception(
        &self,
        term: u64,
        job_id: &str,
        e: &JobExceptionRow,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_fenced(term).await?;
        sqlx::query(
            "INSERT INTO job_exceptions (job_id, attempt, at_ms, message, worker_id, vertex, subtask, task, \
             written_term) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(job_id)
        .bind(i64::from(e.attempt))
        .bind(to_i64(e.at_ms))
        .bind(&e.message)
        .bind(e.worker_id.as_deref())
        .bind(e.vertex.map(i64::from))
        .bind(e.subtask.map(i64::from))
        .bind(e.task.as_deref())
        .bind(to_i64(term))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest [`MAX_EXCEPTIONS_LISTED`] exceptions of a job, oldest first.
    pub async fn job_exceptions(&self, job_id: &str) -> Result<Vec<JobExceptionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempt, at_ms, message, worker_id, vertex, subtask, task FROM job_exceptions \
             WHERE job_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(job_id)
        .bind(i64::from(MAX_EXCEPTIONS_LISTED))
        .fetch_all(self.pool())
        .await?;
        let mut list = rows
            .iter()
            .map(|r| {
                Ok(JobExceptionRow {
                    attempt: u32::try_from(r.try_get::<i64, _>("attempt")?).unwrap_or(0),
                    at_ms: to_u64(r.try_get("at_ms")?),
                    message: r.try_get("message")?,
                    worker_id: r.try_get("worker_id")?,
                    vertex: r
                        .try_get::<Option<i64>, _>("vertex")?
                        .and_then(|v| u32::try_from(v).ok()),
                    subtask: r
                        .try_get::<Option<i64>, _>("subtask")?
                        .and_then(|v| u32::try_from(v).ok()),
                    task: r.try_get("task")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        list.reverse();
        Ok(list)
    }

    pub async fn job(&self, id: &str) -> Result<Option<JobRow>, StoreError> {
        let row = sqlx::query(select_jobs!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(job_row).transpose()
    }

    /// A job's status changes, oldest first.
    pub async fn job_history(&self, id: &str) -> Result<Vec<JobStatusChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT status, at_ms, detail FROM job_status_history WHERE job_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobStatusChange {
                    status: r.try_get("status")?,
                    at_ms: to_u64(r.try_get("at_ms")?),
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}

fn job_row(r: &sqlx::any::AnyRow) -> Result<JobRow, StoreError> {
    Ok(JobRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        sql: r.try_get("sql_text")?,
        parallelism: u32::try_from(r.try_get::<i64, _>("parallelism")?).unwrap_or(0),
        status: r.try_get("status")?,
        attempt: u32::try_from(r.try_get::<i64, _>("attempt")?).unwrap_or(0),
        graph_json: r.try_get("graph_json")?,
        options_json: r.try_get("options_json")?,
        start_time_ms: to_u64(r.try_get("start_time_ms")?),
        end_time_ms: r.try_get::<Option<i64>, _>("end_time_ms")?.map(to_u64),
    })
}

async fn insert_change(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    term: u64,
    id: &str,
    status: &str,
    at_ms: u64,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO job_status_history (job_id, status, at_ms, detail, written_term) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(status)
        .bind(to_i64(at_ms))
        .bind(detail)
        .bind(to_i64(term))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
