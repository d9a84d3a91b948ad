//! The worker registry (Flink's ResourceManager view of its TaskExecutors): who is
//! registered, their slot reports, heartbeat liveness, and the cluster totals.
//!
//! Invariants: a worker's slots count towards the totals only while it is `Active`;
//! a worker whose last heartbeat is older than the heartbeat timeout is `Lost` and its
//! slots leave the totals; at most [`MAX_WORKERS`] are tracked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use eddy_api::rest::{Event, Overview, SlotInfo, SlotState, WorkerInfo, WorkerState};
use eddy_api::rpc::{HeartbeatRequest, RegisterWorkerRequest, RegisterWorkerResponse, SlotStatus};
use tokio::sync::broadcast;

use crate::metrics::MasterCounters;
use crate::raft::RaftNode;
use crate::store::{ClusterEventRow, Store, StoreError, WorkerRow};

/// Workers tracked at once, lost ones included.
pub const MAX_WORKERS: usize = 4096;
/// Slots one worker may offer.
pub const MAX_SLOTS_PER_WORKER: usize = 1024;
/// Lost workers still listed by the API (oldest forgotten first).
pub const MAX_LOST_WORKERS_LISTED: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid registration: {0}")]
    Invalid(String),
    #[error("too many workers: at most {MAX_WORKERS} are tracked")]
    Full,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
struct WorkerEntry {
    address: String,
    state: WorkerState,
    registered_at_ms: u64,
    last_heartbeat: Instant,
    last_heartbeat_ms: u64,
    slots: Vec<SlotStatus>,
}

/// Shared registry of workers; see the module doc.
pub struct WorkerRegistry {
    workers: Mutex<HashMap<String, WorkerEntry>>,
    store: Store,
    raft: RaftNode,
    events: broadcast::Sender<Event>,
    heartbeat_interval: Duration,
    heartbeat_timeout: Duration,
    counters: MasterCounters,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl WorkerRegistry {
    pub fn new(
        store: Store,
        raft: RaftNode,
        events: broadcast::Sender<Event>,
        heartbeat_interval: Duration,
        heartbeat_timeout: Duration,
    ) -> Arc<Self> {
        assert!(
            heartbeat_interval < heartbeat_timeout,
            "heartbeat interval must be below the timeout"
        );
        Arc::new(Self {
            workers: Mutex::new(HashMap::new()),
            store,
            raft,
            events,
            heartbeat_interval,
            heartbeat_timeout,
            counters: MasterCounters::default(),
        })
    }

    /// Counters for the Prometheus endpoint.
    pub fn counters(&self) -> &MasterCounters {
        &self.counters
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, WorkerEntry>> {
        self.workers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&self, event: Event) {
        // No subscriber is fine: the event stream is best-effort.
        let _ = self.events.send(event);
    }

    /// Registers (or re-registers) a worker and records it in the store.
    pub async fn register(
        &self,
        req: RegisterWorkerRequest,
    ) -> Result<RegisterWorkerResponse, RegistryError> {
        if req.worker_id.is_empty() || req.worker_id.len() > 128 {
            return Err(RegistryError::Invalid(
                "worker_id must have 1 to 128 characters".into(),
            ));
        }
        if req.address.is_empty() {
            return Err(RegistryError::Invalid("address must not be empty".into()));
        }
        let slots = req.slot_report.map(|r| r.slots).unwrap_or_default();
        if slots.is_empty() || slots.len() > MAX_SLOTS_PER_WORKER {
            return Err(RegistryError::Invalid(format!(
                "a worker offers 1 to {MAX_SLOTS_PER_WORKER} slots"
            )));
        }
        let now = now_ms();
        let managed_memory_bytes = slots.iter().map(|s| s.managed_memory_bytes).sum();
        let row = WorkerRow {
            id: req.worker_id.clone(),
            address: req.address.clone(),
            slots: slots.len() as u32,
            managed_memory_bytes,
            state: "active".into(),
            registered_at_ms: now,
            last_heartbeat_ms: now,
        };
        let term = self.raft.term();
        {
            let mut workers = self.lock();
            if !workers.contains_key(&req.worker_id) && workers.len() >= MAX_WORKERS {
                return Err(RegistryError::Full);
            }
            workers.insert(
                req.worker_id.clone(),
                WorkerEntry {
                    address: req.address.clone(),
                    state: WorkerState::Active,
                    registered_at_ms: now,
                    last_heartbeat: Instant::now(),
                    last_heartbeat_ms: now,
                    slots: slots.clone(),
                },
            );
        }
        self.store.upsert_worker(term, &row).await?;
        self.counters.registrations.inc();
        self.record(
            term,
            "worker_registered",
            &req.worker_id,
            &format!("{} slots at {}", slots.len(), req.address),
        )
        .await;
        tracing::info!(worker_id = %req.worker_id, address = %req.address, slots = slots.len(), "worker registered");
        self.publish(Event::WorkerRegistered {
            worker_id: req.worker_id,
            address: req.address,
            slots: slots.len() as u32,
        });
        Ok(RegisterWorkerResponse {
            heartbeat_interval_ms: self.heartbeat_interval.as_millis() as u64,
            heartbeat_timeout_ms: self.heartbeat_timeout.as_millis() as u64,
            master_id: self.raft.id,
        })
    }

    /// Records a heartbeat; returns false when the worker is unknown or was declared
    /// lost, so it must register again.
    pub fn heartbeat(&self, req: HeartbeatRequest) -> bool {
        let slots = req.slot_report.map(|r| r.slots);
        let changed = {
            let mut workers = self.lock();
            let Some(entry) = workers.get_mut(&req.worker_id) else {
                return false;
            };
            if entry.state != WorkerState::Active {
                return false;
            }
            entry.last_heartbeat = Instant::now();
            self.counters.heartbeats.inc();
            entry.last_heartbeat_ms = now_ms();
            match slots {
                Some(slots) if slots.len() <= MAX_SLOTS_PER_WORKER && slots != entry.slots => {
                    entry.slots = slots;
                    true
                }
                _ => false,
            }
        };
        if changed {
            self.publish(Event::SlotsChanged {
                worker_id: req.worker_id,
            });
        }
        true
    }

    /// Declares workers lost whose last heartbeat is older than the timeout.
    pub async fn expire(&self) {
        let expired: Vec<(String, u64)> = {
            let mut workers = self.lock();
            let mut expired = Vec::new();
            for (id, entry) in workers.iter_mut() {
                if entry.state == WorkerState::Active
                    && entry.last_heartbeat.elapsed() > self.heartbeat_timeout
                {
                    entry.state = WorkerState::Lost;
                    expired.push((id.clone(), entry.last_heartbeat_ms));
                }
            }
            prune_lost(&mut workers);
            expired
        };
        let term = self.raft.term();
        for (id, last_ms) in expired {
            tracing::warn!(worker_id = %id, timeout = ?self.heartbeat_timeout, "worker lost: no heartbeat within the timeout");
            if let Err(e) = self
                .store
                .set_worker_state(term, &id, "lost", last_ms)
                .await
            {
                tracing::error!(worker_id = %id, error = %e, "cannot record lost worker");
            }
            self.record(term, "worker_lost", &id, "heartbeat timeout")
                .await;
            self.counters.workers_lost.inc();
            self.publish(Event::WorkerLost { worker_id: id });
        }
    }

    /// Runs [`Self::expire`] until the registry is dropped elsewhere.
    pub async fn run_expiry(self: Arc<Self>) {
        let period = (self.heartbeat_timeout / 4).max(Duration::from_millis(20));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.expire().await;
        }
    }

    async fn record(&self, term: u64, kind: &str, subject: &str, detail: &str) {
        let row = ClusterEventRow {
            at_ms: now_ms(),
            kind: kind.into(),
            subject: subject.into(),
            detail: detail.into(),
        };
        if let Err(e) = self.store.record_event(term, &row).await {
            tracing::error!(kind, subject, error = %e, "cannot record cluster event");
        }
    }

    /// Totals for `GET /api/v1/overview`.
    pub fn overview(&self, jobs_running: u32) -> Overview {
        let workers = self.lock();
        let active = workers.values().filter(|w| w.state == WorkerState::Active);
        let (mut count, mut total, mut free) = (0u32, 0u32, 0u32);
        for w in active {
            count += 1;
            total += w.slots.len() as u32;
            free += w.slots.iter().filter(|s| !s.allocated).count() as u32;
        }
        Overview {
            workers: count,
            slots_total: total,
            slots_available: free,
            jobs_running,
            version: eddy_api::VERSION.to_string(),
        }
    }

    /// Active workers as (id, RPC address, slot count), ordered by id (the scheduler's
    /// view; the master tracks which slots it reserved).
    pub fn active_workers(&self) -> Vec<(String, String, u32)> {
        let workers = self.lock();
        let mut list: Vec<(String, String, u32)> = workers
            .iter()
            .filter(|(_, w)| w.state == WorkerState::Active)
            .map(|(id, w)| (id.clone(), w.address.clone(), w.slots.len() as u32))
            .collect();
        list.sort();
        list
    }

    /// Workers for `GET /api/v1/workers`: active ones first, then the lost, each
    /// group by registration time.
    pub fn workers(&self) -> Vec<WorkerInfo> {
        let workers = self.lock();
        let mut list: Vec<(&String, &WorkerEntry)> = workers.iter().collect();
        list.sort_by_key(|(id, w)| {
            (
                w.state != WorkerState::Active,
                w.registered_at_ms,
                (*id).clone(),
            )
        });
        list.into_iter()
            .map(|(id, w)| WorkerInfo {
                id: id.clone(),
                address: w.address.clone(),
                state: w.state,
                last_heartbeat_ms: w.last_heartbeat_ms,
                slots: if w.state == WorkerState::Active {
                    w.slots.iter().map(slot_info).collect()
                } else {
                    Vec::new()
                },
            })
            .collect()
    }
}

fn slot_info(s: &SlotStatus) -> SlotInfo {
    SlotInfo {
        index: s.index,
        state: if s.allocated {
            SlotState::Allocated
        } else {
            SlotState::Free
        },
        job_id: (!s.job_id.is_empty()).then(|| s.job_id.clone()),
        subtasks: s.subtasks.clone(),
        managed_memory_bytes: s.managed_memory_bytes,
        managed_memory_used_bytes: s.managed_memory_used_bytes,
    }
}

/// Forgets the oldest lost workers beyond [`MAX_LOST_WORKERS_LISTED`].
fn prune_lost(workers: &mut HashMap<String, WorkerEntry>) {
    let mut lost: Vec<(u64, String)> = workers
        .iter()
        .filter(|(_, w)| w.state == WorkerState::Lost)
        .map(|(id, w)| (w.last_heartbeat_ms, id.clone()))
        .collect();
    if lost.len() <= MAX_LOST_WORKERS_LISTED {
        return;
    }
    lost.sort();
    for (_, id) in lost.iter().take(lost.len() - MAX_LOST_WORKERS_LISTED) {
        workers.remove(id);
    }
}
