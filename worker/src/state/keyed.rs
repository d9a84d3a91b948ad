//! [`KeyedStateBackend`]: Flink's `HeapKeyedStateBackend` — the registry of one keyed
//! operator's named states, the *current key* every state access is scoped to, and
//! the per-key-group accounting a snapshot needs. Each state is a
//! [`StateTable`](crate::state::table::StateTable) keyed by `(key bytes, namespace)`,
//! charged to the slot's managed memory. The state kinds (value, list, map, reducing,
//! aggregating) live in [`crate::state::keyed_kinds`].

use std::any::Any;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use crate::key_groups::KeyGroupRange;
use crate::runtime::error::{Result, RuntimeError};
use crate::state::memory::MemoryBudget;
use crate::state::table::{ENTRY_OVERHEAD, StateSize, StateTable};

/// A key, encoded (the bytes of an `arrow::row::Row` of the key columns, see
/// [`crate::state::key_selector`]). Shared, so scoping a state access to the current
/// key does not copy it.
pub type KeyBytes = Arc<[u8]>;

/// Upper bound on named states registered in one backend.
pub const MAX_STATES_PER_BACKEND: usize = 256;

impl StateSize for Arc<[u8]> {
    fn state_size(&self) -> usize {
        std::mem::size_of::<Arc<[u8]>>() + self.len()
    }
}

/// A namespace states are scoped to besides the key: a window, or `()`.
pub trait Namespace: Clone + Hash + Eq + StateSize + Send + 'static {}
impl<T: Clone + Hash + Eq + StateSize + Send + 'static> Namespace for T {}

/// What every registered state table can tell the backend without its types.
pub(crate) trait KeyedTable: Send {
    fn size_bytes(&self) -> usize;
    fn len(&self) -> usize;
    fn key_group_size_bytes(&self, key_group: u32) -> usize;
    fn key_group_len(&self, key_group: u32) -> usize;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// One named state: its table and the function it was registered with (reduce or
/// aggregate function; `()` for the others).
pub(crate) struct NamedTable<N, V, F> {
    pub(crate) table: StateTable<(KeyBytes, N), V>,
    pub(crate) function: F,
}

impl<N, V, F> KeyedTable for NamedTable<N, V, F>
where
    N: Namespace,
    V: StateSize + Send + 'static,
    F: Send + 'static,
{
    fn size_bytes(&self) -> usize {
        self.table.size_bytes()
    }

    fn len(&self) -> usize {
        self.table.len()
    }

    fn key_group_size_bytes(&self, key_group: u32) -> usize {
        self.table
            .iter_group(key_group)
            .map(|(k, v)| k.state_size() + v.state_size() + ENTRY_OVERHEAD)
            .sum()
    }

    fn key_group_len(&self, key_group: u32) -> usize {
        self.table.iter_group(key_group).count()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The keyed states of one subtask of a keyed operator, over its key-group range.
pub struct KeyedStateBackend {
    range: KeyGroupRange,
    max_parallelism: u32,
    memory: Arc<MemoryBudget>,
    current: Option<(KeyBytes, u32)>,
    tables: Vec<Box<dyn KeyedTable>>,
    names: HashMap<String, usize>,
}

impl std::fmt::Debug for KeyedStateBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedStateBackend")
            .field("range", &self.range)
            .field("max_parallelism", &self.max_parallelism)
            .field("states", &self.names)
            .field("size_bytes", &self.size_bytes())
            .finish()
    }
}

impl KeyedStateBackend {
    pub fn new(range: KeyGroupRange, max_parallelism: u32, memory: Arc<MemoryBudget>) -> Self {
        KeyedStateBackend {
            range,
            max_parallelism,
            memory,
            current: None,
            tables: Vec::new(),
            names: HashMap::new(),
        }
    }

    /// Scopes every following state access to `key` (in key group `key_group`, which
    /// must be in this backend's range).
    pub fn set_current_key(&mut self, key: KeyBytes, key_group: u32) -> Result<()> {
        if !self.range.contains(key_group) || key_group >= self.max_parallelism {
            return Err(RuntimeError::Graph(format!(
                "key group {key_group} is outside this subtask's range {}..={}",
                self.range.start, self.range.end
            )));
        }
        self.current = Some((key, key_group));
        Ok(())
    }

    pub fn current_key(&self) -> Option<&KeyBytes> {
        self.current.as_ref().map(|(k, _)| k)
    }

    pub fn current_key_group(&self) -> Option<u32> {
        self.current.as_ref().map(|(_, g)| *g)
    }

    pub fn key_group_range(&self) -> KeyGroupRange {
        self.range
    }

    pub fn max_parallelism(&self) -> u32 {
        self.max_parallelism
    }

    pub fn memory(&self) -> &Arc<MemoryBudget> {
        &self.memory
    }

    /// Names of the registered states, in registration order.
    pub fn state_names(&self) -> Vec<&str> {
        let mut names: Vec<(&str, usize)> =
            self.names.iter().map(|(n, i)| (n.as_str(), *i)).collect();
        names.sort_by_key(|(_, i)| *i);
        names.into_iter().map(|(n, _)| n).collect()
    }

    /// Bytes all states charge to managed memory.
    pub fn size_bytes(&self) -> usize {
        self.tables.iter().map(|t| t.size_bytes()).sum()
    }

    /// Entries (key, namespace) over all states.
    pub fn len(&self) -> usize {
        self.tables.iter().map(|t| t.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes all states hold in one key group (snapshots write whole key groups).
    pub fn key_group_size_bytes(&self, key_group: u32) -> usize {
        self.tables
            .iter()
            .map(|t| t.key_group_size_bytes(key_group))
            .sum()
    }

    /// Entries all states hold in one key group.
    pub fn key_group_len(&self, key_group: u32) -> usize {
        self.tables.iter().map(|t| t.key_group_len(key_group)).sum()
    }

    /// `(key group, bytes)` for every non-empty key group of the range.
    pub fn key_groups_size_bytes(&self) -> Vec<(u32, usize)> {
        (self.range.start..=self.range.end)
            .map(|g| (g, self.key_group_size_bytes(g)))
            .filter(|(_, bytes)| *bytes > 0)
            .collect()
    }

    /// Registers state `name` (or finds it, if registered with the same types).
    pub(crate) fn register<N, V, F>(&mut self, name: &str, function: F) -> Result<usize>
    where
        N: Namespace,
        V: StateSize + Send + 'static,
        F: Send + 'static,
    {
        if let Some(&id) = self.names.get(name) {
            return if self.tables[id].as_any().is::<NamedTable<N, V, F>>() {
                Ok(id)
            } else {
                Err(RuntimeError::Graph(format!(
                    "state '{name}' is already registered with another kind or type"
                )))
            };
        }
        if self.tables.len() >= MAX_STATES_PER_BACKEND {
            return Err(RuntimeError::Graph(format!(
                "more than {MAX_STATES_PER_BACKEND} keyed states in one operator"
            )));
        }
        self.tables.push(Box::new(NamedTable::<N, V, F> {
            table: StateTable::new(self.range, self.memory.clone()),
            function,
        }));
        self.names.insert(name.to_string(), self.tables.len() - 1);
        Ok(self.tables.len() - 1)
    }

    fn current(&self) -> Result<(KeyBytes, u32)> {
        self.current
            .clone()
            .ok_or_else(|| RuntimeError::Graph("keyed state accessed without a current key".into()))
    }

    fn wrong_handle() -> RuntimeError {
        RuntimeError::Graph("state handle does not belong to this backend".into())
    }

    /// The table of state `id` and the current key group, with the lookup key for `ns`.
    pub(crate) fn table<N, V, F>(
        &self,
        id: usize,
        ns: &N,
    ) -> Result<(&NamedTable<N, V, F>, u32, (KeyBytes, N))>
    where
        N: Namespace,
        V: StateSize + Send + 'static,
        F: Send + 'static,
    {
        let (key, group) = self.current()?;
        let table = self
            .tables
            .get(id)
            .and_then(|t| t.as_any().downcast_ref::<NamedTable<N, V, F>>())
            .ok_or_else(Self::wrong_handle)?;
        Ok((table, group, (key, ns.clone())))
    }

    /// Like [`Self::table`], mutable.
    pub(crate) fn table_mut<N, V, F>(
        &mut self,
        id: usize,
        ns: &N,
    ) -> Result<(&mut NamedTable<N, V, F>, u32, (KeyBytes, N))>
    where
        N: Namespace,
        V: StateSize + Send + 'static,
        F: Send + 'static,
    {
        let (key, group) = self.current()?;
        let table = self
            .tables
            .get_mut(id)
            .and_then(|t| t.as_any_mut().downcast_mut::<NamedTable<N, V, F>>())
            .ok_or_else(Self::wrong_handle)?;
        Ok((table, group, (key, ns.clone())))
    }

    /// The table of state `id`, for iteration without a current key.
    pub(crate) fn table_by_id<N, V, F>(&self, id: usize) -> Result<&NamedTable<N, V, F>>
    where
        N: Namespace,
        V: StateSize + Send + 'static,
        F: Send + 'static,
    {
        self.tables
            .get(id)
            .and_then(|t| t.as_any().downcast_ref::<NamedTable<N, V, F>>())
            .ok_or_else(Self::wrong_handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> KeyBytes {
        Arc::from(s.as_bytes())
    }

    fn backend(budget: usize) -> (KeyedStateBackend, Arc<MemoryBudget>) {
        let memory = MemoryBudget::new(budget);
        let range = KeyGroupRange { start: 10, end: 19 };
        (KeyedStateBackend::new(range, 128, memory.clone()), memory)
    }

    #[test]
    fn values_are_isolated_by_key_and_namespace() {
        let (mut b, _) = backend(1 << 20);
        let count = b.value_state::<i64, u64>("count").unwrap();
        let other = b.value_state::<i64, u64>("other").unwrap();
        b.set_current_key(key("alice"), 11).unwrap();
        count.update(&mut b, &1, 10).unwrap();
        count.update(&mut b, &2, 20).unwrap();
        other.update(&mut b, &1, 99).unwrap();
        b.set_current_key(key("bob"), 12).unwrap();
        assert_eq!(count.value(&b, &1).unwrap(), None);
        count.update(&mut b, &1, 5).unwrap();
        b.set_current_key(key("alice"), 11).unwrap();
        assert_eq!(count.value(&b, &1).unwrap(), Some(&10));
        assert_eq!(count.value(&b, &2).unwrap(), Some(&20));
        assert_eq!(other.value(&b, &1).unwrap(), Some(&99));
        count.clear(&mut b, &1).unwrap();
        assert_eq!(count.value(&b, &1).unwrap(), None);
        assert_eq!(count.value(&b, &2).unwrap(), Some(&20));
        b.set_current_key(key("bob"), 12).unwrap();
        assert_eq!(count.value(&b, &1).unwrap(), Some(&5));
        assert_eq!(b.len(), 3);
        assert_eq!(b.state_names(), vec!["count", "other"]);
        // Snapshot hooks: per key group.
        assert_eq!(b.key_group_len(11), 2);
        assert_eq!(b.key_group_len(12), 1);
        let groups = b.key_groups_size_bytes();
        assert_eq!(
            groups.iter().map(|(g, _)| *g).collect::<Vec<_>>(),
            vec![11, 12]
        );
        assert_eq!(groups.iter().map(|(_, s)| s).sum::<usize>(), b.size_bytes());
        let entries: Vec<_> = count.iter_key_group(&b, 11).unwrap().collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].0.as_ref(), *entries[0].1, *entries[0].2),
            (&b"alice"[..], 2, 20)
        );
    }

    #[test]
    fn refuses_key_groups_outside_the_range_and_access_without_a_key() {
        let (mut b, _) = backend(1 << 20);
        let v = b.value_state::<(), i64>("v").unwrap();
        assert!(v.value(&b, &()).is_err(), "no current key yet");
        assert!(b.set_current_key(key("k"), 9).is_err());
        assert!(b.set_current_key(key("k"), 20).is_err());
        assert_eq!(b.current_key(), None);
        b.set_current_key(key("k"), 19).unwrap();
        assert_eq!(b.current_key_group(), Some(19));
        v.update(&mut b, &(), 1).unwrap();
        // Same name, other type: refused; same name and type: the same state.
        assert!(b.value_state::<(), String>("v").is_err());
        assert!(b.list_state::<(), i64>("v").is_err());
        let again = b.value_state::<(), i64>("v").unwrap();
        assert_eq!(again.value(&b, &()).unwrap(), Some(&1));
    }

    #[test]
    fn charges_memory_up_and_down_and_fails_beyond_the_budget() {
        let (mut b, memory) = backend(4096);
        let list = b.list_state::<(), i64>("l").unwrap();
        let name = b.value_state::<(), String>("name").unwrap();
        b.set_current_key(key("k"), 15).unwrap();
        list.add(&mut b, &(), 1).unwrap();
        let one = memory.used();
        assert!(one > 0);
        list.add_all(&mut b, &(), vec![2, 3, 4]).unwrap();
        assert_eq!(memory.used(), one + 3 * 8, "each i64 charges its 8 bytes");
        assert_eq!(b.size_bytes(), memory.used());
        name.update(&mut b, &(), "x".repeat(100)).unwrap();
        let with_name = memory.used();
        name.update(&mut b, &(), "y".into()).unwrap();
        assert!(memory.used() < with_name, "a smaller value releases memory");
        // A value beyond the budget is refused and changes nothing.
        let used = memory.used();
        let err = name.update(&mut b, &(), "z".repeat(8000)).unwrap_err();
        assert!(matches!(err, RuntimeError::MemoryExceeded { .. }), "{err}");
        assert_eq!(memory.used(), used);
        assert_eq!(name.value(&b, &()).unwrap().map(String::as_str), Some("y"));
        // Growing a list beyond the budget fails the task with MemoryExceeded.
        let err = list.add_all(&mut b, &(), vec![0; 1000]).unwrap_err();
        assert!(matches!(err, RuntimeError::MemoryExceeded { .. }), "{err}");
        assert!(
            list.get(&b, &()).unwrap().is_empty(),
            "the unpaid list is dropped"
        );
        assert_eq!(memory.used(), b.size_bytes());
        list.clear(&mut b, &()).unwrap();
        name.clear(&mut b, &()).unwrap();
        assert_eq!(memory.used(), 0);
        assert!(b.is_empty());
        list.add(&mut b, &(), 7).unwrap();
        drop(b);
        assert_eq!(memory.used(), 0, "dropping the backend returns its memory");
    }
}
