//! Managed memory: a slot's byte budget, shared by the state backends of the subtasks
//! in that slot. State backends reserve bytes before they grow and release them when
//! they shrink; a reservation beyond the budget fails (the task fails with a clear
//! error instead of the worker running out of memory).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::runtime::error::{Result, RuntimeError};

#[derive(Debug)]
pub struct MemoryBudget {
    budget: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    pub fn new(budget_bytes: usize) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            budget: budget_bytes,
            used: AtomicUsize::new(0),
        })
    }

    /// A budget large enough never to refuse (tests, benchmarks).
    pub fn unlimited() -> Arc<MemoryBudget> {
        MemoryBudget::new(usize::MAX)
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Reserves `bytes` or fails without reserving anything.
    pub fn reserve(&self, bytes: usize) -> Result<()> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let next = used
                .checked_add(bytes)
                .filter(|n| *n <= self.budget)
                .ok_or(RuntimeError::MemoryExceeded {
                    requested: bytes,
                    used,
                    budget: self.budget,
                })?;
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(actual) => used = actual,
            }
        }
    }

    /// Returns `bytes` earlier reserved.
    pub fn release(&self, bytes: usize) {
        let prev = self.used.fetch_sub(bytes, Ordering::Relaxed);
        debug_assert!(prev >= bytes, "released more managed memory than reserved");
    }

    /// Moves the reservation from `old` to `new` bytes (grow or shrink).
    pub fn resize(&self, old: usize, new: usize) -> Result<()> {
        if new > old {
            self.reserve(new - old)
        } else {
            self.release(old - new);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_beyond_budget_and_keeps_count() {
        let m = MemoryBudget::new(100);
        m.reserve(60).unwrap();
        let err = m.reserve(50).unwrap_err();
        assert!(matches!(
            err,
            RuntimeError::MemoryExceeded {
                requested: 50,
                used: 60,
                budget: 100
            }
        ));
        assert_eq!(m.used(), 60);
        m.resize(60, 100).unwrap();
        m.release(100);
        assert_eq!(m.used(), 0);
    }
}
