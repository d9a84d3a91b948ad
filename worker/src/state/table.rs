//! [`StateTable`]: the in-memory ("hashmap") backend's storage — one hash map per key
//! group, so a snapshot or a rescale takes whole key groups, and every byte held is
//! charged to the slot's managed memory budget. Flink's `StateTable`/`CopyOnWriteStateMap`
//! in spirit; keyed state kinds and window operators build on it.

use std::collections::HashMap;

/// Keyed state is hashed per record: a fast non-cryptographic hasher (aHash, randomly
/// keyed per map) rather than SipHash.
type StateMap<K, V> = HashMap<K, V, ahash::RandomState>;
use std::hash::Hash;
use std::sync::Arc;

use crate::key_groups::KeyGroupRange;
use crate::runtime::error::{Result, RuntimeError};
use crate::state::memory::MemoryBudget;

/// Bytes a state entry holds, heap allocations included (an estimate that must grow
/// with the real size; it is what managed memory accounting charges).
pub trait StateSize {
    fn state_size(&self) -> usize;
}

macro_rules! fixed_size {
    ($($t:ty),*) => {$(impl StateSize for $t {
        fn state_size(&self) -> usize { std::mem::size_of::<$t>() }
    })*};
}
fixed_size!(
    i8,
    i16,
    i32,
    i64,
    i128,
    u8,
    u16,
    u32,
    u64,
    usize,
    f32,
    f64,
    bool,
    ()
);

impl StateSize for String {
    fn state_size(&self) -> usize {
        std::mem::size_of::<String>() + self.capacity()
    }
}

impl<T: StateSize> StateSize for Vec<T> {
    fn state_size(&self) -> usize {
        std::mem::size_of::<Vec<T>>() + self.iter().map(StateSize::state_size).sum::<usize>()
    }
}

impl<T: StateSize> StateSize for Option<T> {
    fn state_size(&self) -> usize {
        std::mem::size_of::<Option<T>>() + self.as_ref().map_or(0, |v| v.state_size())
    }
}

impl<A: StateSize, B: StateSize> StateSize for (A, B) {
    fn state_size(&self) -> usize {
        self.0.state_size() + self.1.state_size()
    }
}

impl<A: StateSize, B: StateSize, C: StateSize> StateSize for (A, B, C) {
    fn state_size(&self) -> usize {
        self.0.state_size() + self.1.state_size() + self.2.state_size()
    }
}

/// Per-entry overhead of a hash map slot (hashbrown control byte, padding).
pub const ENTRY_OVERHEAD: usize = 16;

/// A map from key to value for each key group of one subtask's range.
#[derive(Debug)]
pub struct StateTable<K, V> {
    range: KeyGroupRange,
    groups: Vec<StateMap<K, V>>,
    memory: Arc<MemoryBudget>,
    /// Bytes this table has reserved from `memory`.
    charged: usize,
    len: usize,
}

impl<K: Hash + Eq + StateSize, V: StateSize> StateTable<K, V> {
    pub fn new(range: KeyGroupRange, memory: Arc<MemoryBudget>) -> Self {
        StateTable {
            range,
            groups: (0..range.size()).map(|_| StateMap::default()).collect(),
            memory,
            charged: 0,
            len: 0,
        }
    }

    fn slot(&self, key_group: u32) -> Result<usize> {
        if !self.range.contains(key_group) {
            return Err(RuntimeError::Graph(format!(
                "key group {key_group} is outside this subtask's range {}..={}",
                self.range.start, self.range.end
            )));
        }
        Ok((key_group - self.range.start) as usize)
    }

    fn entry_size(key: &K, value: &V) -> usize {
        key.state_size() + value.state_size() + ENTRY_OVERHEAD
    }

    pub fn get(&self, key_group: u32, key: &K) -> Option<&V> {
        let slot = self.slot(key_group).ok()?;
        self.groups[slot].get(key)
    }

    /// Inserts or replaces; fails (changing nothing) if the budget would be exceeded.
    pub fn insert(&mut self, key_group: u32, key: K, value: V) -> Result<Option<V>> {
        let slot = self.slot(key_group)?;
        let new_size = Self::entry_size(&key, &value);
        let old_size = self.groups[slot]
            .get(&key)
            .map_or(0, |v| Self::entry_size(&key, v));
        self.memory.resize(old_size, new_size)?;
        self.charged = self.charged + new_size - old_size;
        let old = self.groups[slot].insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        Ok(old)
    }

    pub fn remove(&mut self, key_group: u32, key: &K) -> Option<V> {
        let slot = self.slot(key_group).ok()?;
        let (k, v) = self.groups[slot].remove_entry(key)?;
        let size = Self::entry_size(&k, &v);
        self.memory.release(size);
        self.charged -= size;
        self.len -= 1;
        Some(v)
    }

    /// Changes a value in place and re-charges its size difference. If the budget
    /// refuses the growth, the change cannot be undone and is not paid for: the entry
    /// is dropped (releasing what it was charged, so accounting stays exact) and the
    /// error says the slot is over budget, which fails the task.
    pub fn update<R>(
        &mut self,
        key_group: u32,
        key: &K,
        f: impl FnOnce(&mut V) -> R,
    ) -> Result<Option<R>> {
        let slot = self.slot(key_group)?;
        let Some(value) = self.groups[slot].get_mut(key) else {
            return Ok(None);
        };
        let before = value.state_size();
        let r = f(value);
        let after = value.state_size();
        match self.memory.resize(before, after) {
            Ok(()) => {
                self.charged = self.charged + after - before;
                Ok(Some(r))
            }
            Err(e) => {
                if let Some((k, _)) = self.groups[slot].remove_entry(key) {
                    let charged = before + k.state_size() + ENTRY_OVERHEAD;
                    self.memory.release(charged);
                    self.charged -= charged;
                    self.len -= 1;
                }
                Err(e)
            }
        }
    }

    /// Entries of one key group (snapshots, iteration by key group).
    pub fn iter_group(&self, key_group: u32) -> impl Iterator<Item = (&K, &V)> {
        self.slot(key_group)
            .ok()
            .into_iter()
            .flat_map(move |slot| self.groups[slot].iter())
    }

    /// The key groups this table holds.
    pub fn range(&self) -> KeyGroupRange {
        self.range
    }

    /// All entries with their key group.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &K, &V)> {
        self.groups.iter().enumerate().flat_map(move |(i, g)| {
            g.iter()
                .map(move |(k, v)| (self.range.start + i as u32, k, v))
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes currently charged to managed memory by this table.
    pub fn size_bytes(&self) -> usize {
        self.charged
    }

    pub fn key_group_range(&self) -> KeyGroupRange {
        self.range
    }
}

impl<K, V> Drop for StateTable<K, V> {
    fn drop(&mut self) {
        self.memory.release(self.charged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_and_releases_managed_memory_by_key_group() {
        let memory = MemoryBudget::new(10_000);
        let range = KeyGroupRange { start: 4, end: 7 };
        let mut t: StateTable<String, Vec<i64>> = StateTable::new(range, memory.clone());
        t.insert(5, "a".to_string(), vec![1, 2, 3]).unwrap();
        let used = memory.used();
        assert!(used > 0);
        t.update(5, &"a".to_string(), |v| v.extend([4, 5, 6]))
            .unwrap();
        assert!(memory.used() > used);
        assert!(
            t.insert(3, "b".into(), vec![]).is_err(),
            "outside the key-group range"
        );
        assert_eq!(t.iter_group(5).count(), 1);
        assert_eq!(t.iter_group(6).count(), 0);
        t.remove(5, &"a".to_string()).unwrap();
        assert_eq!(memory.used(), 0);
        // Over budget: refused, nothing changes.
        let big = vec![0i64; 2000];
        assert!(matches!(
            t.insert(4, "c".into(), big),
            Err(RuntimeError::MemoryExceeded { .. })
        ));
        assert_eq!(memory.used(), 0);
        t.insert(4, "d".into(), vec![1]).unwrap();
        drop(t);
        assert_eq!(memory.used(), 0, "dropping a table returns its memory");
    }

    #[test]
    fn refused_growth_drops_the_entry_and_keeps_accounting_exact() {
        let memory = MemoryBudget::new(1000);
        let mut t: StateTable<String, Vec<i64>> =
            StateTable::new(KeyGroupRange { start: 0, end: 0 }, memory.clone());
        t.insert(0, "a".into(), vec![1]).unwrap();
        t.insert(0, "b".into(), vec![2]).unwrap();
        let err = t.update(0, &"a".to_string(), |v| v.extend([0; 200]));
        assert!(matches!(err, Err(RuntimeError::MemoryExceeded { .. })));
        assert!(t.get(0, &"a".to_string()).is_none());
        assert_eq!(t.len(), 1);
        assert_eq!(memory.used(), t.size_bytes());
        t.remove(0, &"b".to_string()).unwrap();
        assert_eq!(memory.used(), 0);
    }
}
