//! The worker's task slots: a fixed number of slots, each with an equal share of the
//! worker's managed memory, free or allocated to one job's subtasks (slot sharing:
//! subtask i of every operator of a slot sharing group lives in the same slot).

use std::sync::{Arc, Mutex, MutexGuard};

use eddy_api::rpc::{SlotReport, SlotStatus};

use crate::state::memory::MemoryBudget;

/// Slots one worker may offer.
pub const MAX_SLOTS: u32 = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Allocation {
    job_id: String,
    attempt: u32,
    subtasks: Vec<String>,
}

#[derive(Debug, Clone)]
struct Slot {
    /// The slot's managed memory: every state backend of its subtasks charges it.
    memory: Arc<MemoryBudget>,
    allocation: Option<Allocation>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SlotError {
    #[error("a worker offers 1 to {MAX_SLOTS} slots, not {0}")]
    Count(u32),
    #[error("no slot {0}")]
    NoSuchSlot(u32),
    #[error("slot {index} is already allocated to job {job_id}")]
    Occupied { index: u32, job_id: String },
}

/// The slots of one worker.
#[derive(Debug)]
pub struct SlotTable {
    slots: Mutex<Vec<Slot>>,
}

impl SlotTable {
    /// `count` slots sharing `managed_memory_bytes` evenly (the remainder of the
    /// division is not handed out).
    pub fn new(count: u32, managed_memory_bytes: u64) -> Result<SlotTable, SlotError> {
        if count == 0 || count > MAX_SLOTS {
            return Err(SlotError::Count(count));
        }
        let per_slot =
            usize::try_from(managed_memory_bytes / u64::from(count)).unwrap_or(usize::MAX);
        let slots = (0..count)
            .map(|_| Slot {
                memory: MemoryBudget::new(per_slot),
                allocation: None,
            })
            .collect();
        Ok(SlotTable {
            slots: Mutex::new(slots),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Allocates a slot to one attempt of `job_id` for `subtasks`, and returns its
    /// managed memory. A slot held by an earlier attempt of the same job (still
    /// cancelling) is taken over.
    pub fn allocate(
        &self,
        index: u32,
        job_id: &str,
        attempt: u32,
        subtasks: Vec<String>,
    ) -> Result<Arc<MemoryBudget>, SlotError> {
        let mut slots = self.lock();
        let slot = slots
            .get_mut(index as usize)
            .ok_or(SlotError::NoSuchSlot(index))?;
        if let Some(a) = &slot.allocation
            && !(a.job_id == job_id && a.attempt < attempt)
        {
            return Err(SlotError::Occupied {
                index,
                job_id: a.job_id.clone(),
            });
        }
        slot.allocation = Some(Allocation {
            job_id: job_id.to_string(),
            attempt,
            subtasks,
        });
        Ok(slot.memory.clone())
    }

    /// Frees a slot if one attempt of a job holds it (not a later attempt that took
    /// it over); freeing a free slot is a no-op.
    pub fn free(&self, index: u32, job_id: &str, attempt: u32) -> Result<(), SlotError> {
        let mut slots = self.lock();
        let slot = slots
            .get_mut(index as usize)
            .ok_or(SlotError::NoSuchSlot(index))?;
        if slot
            .allocation
            .as_ref()
            .is_some_and(|a| a.job_id == job_id && a.attempt == attempt)
        {
            slot.allocation = None;
        }
        Ok(())
    }

    /// The slot report sent with registration and every heartbeat.
    pub fn report(&self) -> SlotReport {
        let slots = self
            .lock()
            .iter()
            .enumerate()
            .map(|(i, s)| SlotStatus {
                index: i as u32,
                allocated: s.allocation.is_some(),
                job_id: s
                    .allocation
                    .as_ref()
                    .map(|a| a.job_id.clone())
                    .unwrap_or_default(),
                subtasks: s
                    .allocation
                    .as_ref()
                    .map(|a| a.subtasks.clone())
                    .unwrap_or_default(),
                managed_memory_bytes: s.memory.budget() as u64,
                managed_memory_used_bytes: s.memory.used() as u64,
            })
            .collect();
        SlotReport { slots }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_split_evenly() {
        let t = SlotTable::new(4, 1000).expect("table");
        let r = t.report();
        assert_eq!(r.slots.len(), 4);
        assert!(
            r.slots
                .iter()
                .all(|s| s.managed_memory_bytes == 250 && !s.allocated)
        );
        assert_eq!(
            r.slots.iter().map(|s| s.index).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
    }

    #[test]
    fn slot_counts_are_bounded() {
        assert_eq!(SlotTable::new(0, 1).err(), Some(SlotError::Count(0)));
        assert_eq!(
            SlotTable::new(MAX_SLOTS + 1, 1).err(),
            Some(SlotError::Count(MAX_SLOTS + 1))
        );
    }

    #[test]
    fn allocate_and_free() {
        let t = SlotTable::new(2, 100).expect("table");
        let memory = t
            .allocate(1, "job-a", 1, vec!["Source: bid (1/1)".into()])
            .expect("allocate");
        assert_eq!(memory.budget(), 50);
        memory.reserve(20).expect("within the slot's budget");
        assert_eq!(t.report().slots[1].managed_memory_used_bytes, 20);
        assert_eq!(
            t.allocate(1, "job-b", 1, vec![]).err(),
            Some(SlotError::Occupied {
                index: 1,
                job_id: "job-a".into()
            })
        );
        assert_eq!(
            t.allocate(7, "job-b", 1, vec![]).err(),
            Some(SlotError::NoSuchSlot(7))
        );
        let r = t.report();
        assert!(r.slots[1].allocated && r.slots[1].job_id == "job-a" && !r.slots[0].allocated);
        // A later attempt of the same job takes the slot over; the old one's free is a no-op.
        t.allocate(1, "job-a", 2, vec![]).expect("take over");
        t.free(1, "job-a", 1).expect("free");
        assert!(t.report().slots[1].allocated);
        t.free(1, "job-a", 2).expect("free");
        assert!(!t.report().slots[1].allocated);
    }
}
