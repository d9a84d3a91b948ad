//! Workers and cluster history in the store.

use sqlx::Row;

use super::{Store, StoreError, to_i64, to_u64};

/// A worker as recorded in the `workers` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRow {
    pub id: String,
    pub address: String,
    pub slots: u32,
    pub managed_memory_bytes: u64,
    /// "active" or "lost".
    pub state: String,
    pub registered_at_ms: u64,
    pub last_heartbeat_ms: u64,
}

/// One entry of the `cluster_events` history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEventRow {
    pub at_ms: u64,
    pub kind: String,
    pub subject: String,
    pub detail: String,
}

impl Store {
    /// Inserts or replaces a worker (registration or re-registration).
    pub async fn upsert_worker(&self, term: u64, w: &WorkerRow) -> Result<(), StoreError> {
        let mut tx = self.begin_fenced(term).await?;
        sqlx::query(
            "INSERT INTO workers (id, address, slots, managed_memory_bytes, state, registered_at_ms, \
             last_heartbeat_ms, written_term) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET address = excluded.address, slots = excluded.slots, \
             managed_memory_bytes = excluded.managed_memory_bytes, state = excluded.state, \
             registered_at_ms = excluded.registered_at_ms, last_heartbeat_ms = excluded.last_heartbeat_ms, \
             written_term = excluded.written_term",
        )
        .bind(&w.id)
        .bind(&w.address)
        .bind(i64::from(w.slots))
        .bind(to_i64(w.managed_memory_bytes))
        .bind(&w.state)
        .bind(to_i64(w.registered_at_ms))
        .bind(to_i64(w.last_heartbeat_ms))
        .bind(to_i64(term))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a worker's state (e.g. "lost") and its last heartbeat time.
    pub async fn set_worker_state(
        &self,
        term: u64,
        id: &str,
        state: &str,
        last_heartbeat_ms: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_fenced(term).await?;
        sqlx::query("UPDATE workers SET state = $1, last_heartbeat_ms = $2, written_term = $3 WHERE id = $4")
            .bind(state)
            .bind(to_i64(last_heartbeat_ms))
            .bind(to_i64(term))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// All workers ever registered, newest registration first.
    pub async fn workers(&self) -> Result<Vec<WorkerRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, address, slots, managed_memory_bytes, state, registered_at_ms, last_heartbeat_ms \
             FROM workers ORDER BY registered_at_ms DESC, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WorkerRow {
                    id: r.try_get("id")?,
                    address: r.try_get("address")?,
                    slots: u32::try_from(r.try_get::<i64, _>("slots")?).unwrap_or(0),
                    managed_memory_bytes: to_u64(r.try_get("managed_memory_bytes")?),
                    state: r.try_get("state")?,
                    registered_at_ms: to_u64(r.try_get("registered_at_ms")?),
                    last_heartbeat_ms: to_u64(r.try_get("last_heartbeat_ms")?),
                })
            })
            .collect()
    }

    /// Appends to the cluster history.
    pub async fn record_event(&self, term: u64, e: &ClusterEventRow) -> Result<(), StoreError> {
        let mut tx = self.begin_fenced(term).await?;
        sqlx::query(
            "INSERT INTO cluster_events (at_ms, kind, subject, detail, written_term) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(to_i64(e.at_ms))
        .bind(&e.kind)
        .bind(&e.subject)
        .bind(&e.detail)
        .bind(to_i64(term))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` history entries, newest first.
    pub async fn recent_events(&self, limit: u32) -> Result<Vec<ClusterEventRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT at_ms, kind, subject, detail FROM cluster_events ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClusterEventRow {
                    at_ms: to_u64(r.try_get("at_ms")?),
                    kind: r.try_get("kind")?,
                    subject: r.try_get("subject")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}
