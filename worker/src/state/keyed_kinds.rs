//! The keyed state kinds, with Flink's API: [`ValueState`], [`ListState`], [`MapState`],
//! [`ReducingState`] and [`AggregatingState`]. A handle is a typed id got from the
//! [`KeyedStateBackend`] by name (Flink's state descriptor); every call takes the
//! backend and a namespace and is scoped to the backend's current key. Sizes are
//! charged to managed memory; growth beyond the budget is `MemoryExceeded`.

use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::runtime::error::Result;
use crate::state::keyed::{KeyBytes, KeyedStateBackend, Namespace};
use crate::state::table::{ENTRY_OVERHEAD, StateSize, StateTable};

/// A collection value with its size kept up to date incrementally, so changing one
/// element re-charges in O(1) instead of re-measuring the whole collection.
#[derive(Debug)]
pub(crate) struct Tracked<T> {
    value: T,
    bytes: usize,
}

impl<T> StateSize for Tracked<T> {
    fn state_size(&self) -> usize {
        self.bytes
    }
}

/// Flink's `ReduceFunction`: combines the stored value with a new one.
pub type ReduceFunction<V> = Arc<dyn Fn(&V, V) -> V + Send + Sync>;

/// Flink's `AggregateFunction`: an accumulator per key and namespace.
pub trait AggregateFunction<IN, ACC, OUT>: Send + Sync {
    fn create_accumulator(&self) -> ACC;
    fn add(&self, value: IN, accumulator: &mut ACC);
    fn get_result(&self, accumulator: &ACC) -> OUT;
    fn merge(&self, a: ACC, b: ACC) -> ACC;
}

type AggFn<IN, ACC, OUT> = Arc<dyn AggregateFunction<IN, ACC, OUT>>;

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident<$($p:ident),*>) => {
        $(#[$doc])*
        pub struct $name<$($p),*> {
            id: usize,
            _types: PhantomData<fn() -> ($($p,)*)>,
        }
        impl<$($p),*> Clone for $name<$($p),*> {
            fn clone(&self) -> Self { *self }
        }
        impl<$($p),*> Copy for $name<$($p),*> {}
        impl<$($p),*> std::fmt::Debug for $name<$($p),*> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}#{}", stringify!($name), self.id)
            }
        }
        impl<$($p),*> $name<$($p),*> {
            fn new(id: usize) -> Self { $name { id, _types: PhantomData } }
        }
    };
}

handle!(
    /// One value per key and namespace.
    ValueState<N, V>
);
handle!(
    /// A list of values per key and namespace.
    ListState<N, V>
);
handle!(
    /// A map per key and namespace.
    MapState<N, UK, UV>
);
handle!(
    /// One value per key and namespace, folded with a [`ReduceFunction`].
    ReducingState<N, V>
);
handle!(
    /// One accumulator per key and namespace of an [`AggregateFunction`].
    AggregatingState<N, IN, ACC, OUT>
);

type ListValue<V> = Tracked<Vec<V>>;
type MapValue<UK, UV> = Tracked<HashMap<UK, UV>>;

impl KeyedStateBackend {
    /// Flink's `getState`.
    pub fn value_state<N: Namespace, V: StateSize + Send + 'static>(
        &mut self,
        name: &str,
    ) -> Result<ValueState<N, V>> {
        self.register::<N, V, ()>(name, ()).map(ValueState::new)
    }

    /// Flink's `getListState`.
    pub fn list_state<N: Namespace, V: StateSize + Send + 'static>(
        &mut self,
        name: &str,
    ) -> Result<ListState<N, V>> {
        self.register::<N, ListValue<V>, ()>(name, ())
            .map(ListState::new)
    }

    /// Flink's `getMapState`.
    pub fn map_state<N, UK, UV>(&mut self, name: &str) -> Result<MapState<N, UK, UV>>
    where
        N: Namespace,
        UK: Hash + Eq + StateSize + Send + 'static,
        UV: StateSize + Send + 'static,
    {
        self.register::<N, MapValue<UK, UV>, ()>(name, ())
            .map(MapState::new)
    }

    /// Flink's `getReducingState`. Registering an existing name keeps its function.
    pub fn reducing_state<N: Namespace, V: StateSize + Send + 'static>(
        &mut self,
        name: &str,
        reduce: ReduceFunction<V>,
    ) -> Result<ReducingState<N, V>> {
        self.register::<N, V, ReduceFunction<V>>(name, reduce)
            .map(ReducingState::new)
    }

    /// Flink's `getAggregatingState`. Registering an existing name keeps its function.
    pub fn aggregating_state<N, IN, ACC, OUT>(
        &mut self,
        name: &str,
        function: AggFn<IN, ACC, OUT>,
    ) -> Result<AggregatingState<N, IN, ACC, OUT>>
    where
        N: Namespace,
        IN: 'static,
        ACC: StateSize + Send + 'static,
        OUT: 'static,
    {
        self.register::<N, ACC, AggFn<IN, ACC, OUT>>(name, function)
            .map(AggregatingState::new)
    }
}

/// Entries of one key group of a state: `(key, namespace, value)` (snapshots).
fn iter_group<'a, N: Namespace, V: StateSize + Send + 'static, F: Send + 'static>(
    b: &'a KeyedStateBackend,
    id: usize,
    key_group: u32,
) -> Result<impl Iterator<Item = (&'a KeyBytes, &'a N, &'a V)>> {
    let t = b.table_by_id::<N, V, F>(id)?;
    Ok(t.table.iter_group(key_group).map(|((k, n), v)| (k, n, v)))
}

/// Removes the current key's value of state `id` in namespace `ns` (Flink's `clear`).
fn remove_entry<N: Namespace, V: StateSize + Send + 'static, F: Send + 'static>(
    b: &mut KeyedStateBackend,
    id: usize,
    ns: &N,
) -> Result<Option<V>> {
    let (t, g, k) = b.table_mut::<N, V, F>(id, ns)?;
    Ok(t.table.remove(g, &k))
}

/// Folds `value` into the entry `k` with `update`, or inserts `create(value)` when
/// there is none.
fn upsert<K: Hash + Eq + StateSize, V: StateSize, T>(
    table: &mut StateTable<K, V>,
    g: u32,
    k: K,
    value: T,
    update: impl FnOnce(&mut V, T),
    create: impl FnOnce(T) -> V,
) -> Result<()> {
    if table.get(g, &k).is_some() {
        table.update(g, &k, |v| update(v, value)).map(|_| ())
    } else {
        table.insert(g, k, create(value)).map(|_| ())
    }
}

/// Flink's `mergeNamespaces` for states that add values: the value of every source
/// other than `target` is removed and added to `target` with `add`.
fn merge_by_adding<N: Namespace, V: StateSize + Send + 'static, F: Send + 'static>(
    b: &mut KeyedStateBackend,
    id: usize,
    target: &N,
    sources: &[N],
    add: impl Fn(&mut KeyedStateBackend, &N, V) -> Result<()>,
) -> Result<()> {
    for source in sources.iter().filter(|s| *s != target) {
        if let Some(v) = remove_entry::<N, V, F>(b, id, source)? {
            add(b, target, v)?;
        }
    }
    Ok(())
}

impl<N: Namespace, V: StateSize + Send + 'static> ValueState<N, V> {
    pub fn value<'a>(&self, b: &'a KeyedStateBackend, ns: &N) -> Result<Option<&'a V>> {
        let (t, g, k) = b.table::<N, V, ()>(self.id, ns)?;
        Ok(t.table.get(g, &k))
    }

    pub fn update(&self, b: &mut KeyedStateBackend, ns: &N, value: V) -> Result<()> {
        let (t, g, k) = b.table_mut::<N, V, ()>(self.id, ns)?;
        t.table.insert(g, k, value).map(|_| ())
    }

    pub fn clear(&self, b: &mut KeyedStateBackend, ns: &N) -> Result<()> {
        remove_entry::<N, V, ()>(b, self.id, ns).map(|_| ())
    }

    pub fn iter_key_group<'a>(
        &self,
        b: &'a KeyedStateBackend,
        key_group: u32,
    ) -> Result<impl Iterator<Item = (&'a KeyBytes, &'a N, &'a V)>> {
        iter_group::<N, V, ()>(b, self.id, key_group)
    }
}

impl<N: Namespace, V: StateSize + Send + 'static> ListState<N, V> {
    /// The list (empty when nothing was added).
    pub fn get<'a>(&self, b: &'a KeyedStateBackend, ns: &N) -> Result<&'a [V]> {
        let (t, g, k) = b.table::<N, ListValue<V>, ()>(self.id, ns)?;
        Ok(t.table.get(g, &k).map_or(&[], |l| l.value.as_slice()))
    }

    pub fn add(&self, b: &mut KeyedStateBackend, ns: &N, value: V) -> Result<()> {
        self.add_all(b, ns, vec![value])
    }

    pub fn add_all(&self, b: &mut KeyedStateBackend, ns: &N, values: Vec<V>) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let (t, g, k) = b.table_mut::<N, ListValue<V>, ()>(self.id, ns)?;
        let added: usize = values.iter().map(StateSize::state_size).sum();
        let add = |l: &mut ListValue<V>, values: Vec<V>| {
            l.value.extend(values);
            l.bytes += added;
        };
        let create = |values| Tracked {
            value: values,
            bytes: std::mem::size_of::<Vec<V>>() + added,
        };
        upsert(&mut t.table, g, k, values, add, create)
    }

    /// Replaces the list (an empty list clears it).
    pub fn update(&self, b: &mut KeyedStateBackend, ns: &N, values: Vec<V>) -> Result<()> {
        self.clear(b, ns)?;
        self.add_all(b, ns, values)
    }

    pub fn clear(&self, b: &mut KeyedStateBackend, ns: &N) -> Result<()> {
        remove_entry::<N, ListValue<V>, ()>(b, self.id, ns).map(|_| ())
    }

    /// Flink's `mergeNamespaces`: appends the lists of `sources` to `target`'s and
    /// clears them (merging windows).
    pub fn merge_namespaces(
        &self,
        b: &mut KeyedStateBackend,
        target: &N,
        sources: &[N],
    ) -> Result<()> {
        merge_by_adding::<N, ListValue<V>, ()>(b, self.id, target, sources, |b, ns, list| {
            self.add_all(b, ns, list.value)
        })
    }

    pub fn iter_key_group<'a>(
        &self,
        b: &'a KeyedStateBackend,
        key_group: u32,
    ) -> Result<impl Iterator<Item = (&'a KeyBytes, &'a N, &'a [V])>> {
        Ok(iter_group::<N, ListValue<V>, ()>(b, self.id, key_group)?
            .map(|(k, n, l)| (k, n, l.value.as_slice())))
    }
}

fn map_entry_size<UK: StateSize, UV: StateSize>(k: &UK, v: &UV) -> usize {
    k.state_size() + v.state_size() + ENTRY_OVERHEAD
}

impl<N, UK, UV> MapState<N, UK, UV>
where
    N: Namespace,
    UK: Hash + Eq + StateSize + Send + 'static,
    UV: StateSize + Send + 'static,
{
    pub fn get<'a>(&self, b: &'a KeyedStateBackend, ns: &N, key: &UK) -> Result<Option<&'a UV>> {
        let (t, g, k) = b.table::<N, MapValue<UK, UV>, ()>(self.id, ns)?;
        Ok(t.table.get(g, &k).and_then(|m| m.value.get(key)))
    }

    pub fn contains(&self, b: &KeyedStateBackend, ns: &N, key: &UK) -> Result<bool> {
        Ok(self.get(b, ns, key)?.is_some())
    }

    pub fn put(&self, b: &mut KeyedStateBackend, ns: &N, key: UK, value: UV) -> Result<()> {
        let (t, g, k) = b.table_mut::<N, MapValue<UK, UV>, ()>(self.id, ns)?;
        let added = map_entry_size(&key, &value);
        let put = |m: &mut MapValue<UK, UV>, (key, value): (UK, UV)| {
            let removed = m.value.get(&key).map_or(0, |old| map_entry_size(&key, old));
            m.value.insert(key, value);
            m.bytes = m.bytes + added - removed;
        };
        let create = |entry| Tracked {
            value: HashMap::from([entry]),
            bytes: std::mem::size_of::<HashMap<UK, UV>>() + added,
        };
        upsert(&mut t.table, g, k, (key, value), put, create)
    }

    pub fn remove(&self, b: &mut KeyedStateBackend, ns: &N, key: &UK) -> Result<Option<UV>> {
        let (t, g, k) = b.table_mut::<N, MapValue<UK, UV>, ()>(self.id, ns)?;
        let removed = t.table.update(g, &k, |m| {
            let (uk, uv) = m.value.remove_entry(key)?;
            m.bytes -= map_entry_size(&uk, &uv);
            Some((uv, m.value.is_empty()))
        })?;
        match removed.flatten() {
            Some((uv, now_empty)) => {
                if now_empty {
                    t.table.remove(g, &k);
                }
                Ok(Some(uv))
            }
            None => Ok(None),
        }
    }

    /// The map's entries (none when empty).
    pub fn iter<'a>(
        &self,
        b: &'a KeyedStateBackend,
        ns: &N,
    ) -> Result<impl Iterator<Item = (&'a UK, &'a UV)>> {
        let (t, g, k) = b.table::<N, MapValue<UK, UV>, ()>(self.id, ns)?;
        Ok(t.table.get(g, &k).into_iter().flat_map(|m| m.value.iter()))
    }

    pub fn is_empty(&self, b: &KeyedStateBackend, ns: &N) -> Result<bool> {
        Ok(self.iter(b, ns)?.next().is_none())
    }

    pub fn clear(&self, b: &mut KeyedStateBackend, ns: &N) -> Result<()> {
        remove_entry::<N, MapValue<UK, UV>, ()>(b, self.id, ns).map(|_| ())
    }

    pub fn iter_key_group<'a>(
        &self,
        b: &'a KeyedStateBackend,
        key_group: u32,
    ) -> Result<impl Iterator<Item = (&'a KeyBytes, &'a N, &'a HashMap<UK, UV>)>> {
        Ok(
            iter_group::<N, MapValue<UK, UV>, ()>(b, self.id, key_group)?
                .map(|(k, n, m)| (k, n, &m.value)),
        )
    }
}

impl<N: Namespace, V: StateSize + Send + 'static> ReducingState<N, V> {
    pub fn get<'a>(&self, b: &'a KeyedStateBackend, ns: &N) -> Result<Option<&'a V>> {
        let (t, g, k) = b.table::<N, V, ReduceFunction<V>>(self.id, ns)?;
        Ok(t.table.get(g, &k))
    }

    /// Reduces `value` into the stored value (or stores it, the first time).
    pub fn add(&self, b: &mut KeyedStateBackend, ns: &N, value: V) -> Result<()> {
        let (t, g, k) = b.table_mut::<N, V, ReduceFunction<V>>(self.id, ns)?;
        let reduce = t.function.clone();
        let fold = |acc: &mut V, value| *acc = reduce(acc, value);
        upsert(&mut t.table, g, k, value, fold, |value| value)
    }

    pub fn clear(&self, b: &mut KeyedStateBackend, ns: &N) -> Result<()> {
        remove_entry::<N, V, ReduceFunction<V>>(b, self.id, ns).map(|_| ())
    }

    /// Flink's `mergeNamespaces`: reduces the values of `sources` into `target`.
    pub fn merge_namespaces(
        &self,
        b: &mut KeyedStateBackend,
        target: &N,
        sources: &[N],
    ) -> Result<()> {
        merge_by_adding::<N, V, ReduceFunction<V>>(b, self.id, target, sources, |b, ns, v| {
            self.add(b, ns, v)
        })
    }

    pub fn iter_key_group<'a>(
        &self,
        b: &'a KeyedStateBackend,
        key_group: u32,
    ) -> Result<impl Iterator<Item = (&'a KeyBytes, &'a N, &'a V)>> {
        iter_group::<N, V, ReduceFunction<V>>(b, self.id, key_group)
    }
}

impl<N, IN, ACC, OUT> AggregatingState<N, IN, ACC, OUT>
where
    N: Namespace,
    IN: 'static,
    ACC: StateSize + Send + 'static,
    OUT: 'static,
{
    /// The aggregate's result (`None` when nothing was added).
    pub fn get(&self, b: &KeyedStateBackend, ns: &N) -> Result<Option<OUT>> {
        let (t, g, k) = b.table::<N, ACC, AggFn<IN, ACC, OUT>>(self.id, ns)?;
        Ok(t.table.get(g, &k).map(|acc| t.function.get_result(acc)))
    }

    pub fn add(&self, b: &mut KeyedStateBackend, ns: &N, value: IN) -> Result<()> {
        let (t, g, k) = b.table_mut::<N, ACC, AggFn<IN, ACC, OUT>>(self.id, ns)?;
        let f = t.function.clone();
        let create = |value| {
            let mut acc = f.create_accumulator();
            f.add(value, &mut acc);
            acc
        };
        upsert(
            &mut t.table,
            g,
            k,
            value,
            |acc, value| f.add(value, acc),
            create,
        )
    }

    pub fn clear(&self, b: &mut KeyedStateBackend, ns: &N) -> Result<()> {
        remove_entry::<N, ACC, AggFn<IN, ACC, OUT>>(b, self.id, ns).map(|_| ())
    }

    /// Flink's `mergeNamespaces`: merges the accumulators of `sources` into `target`.
    pub fn merge_namespaces(
        &self,
        b: &mut KeyedStateBackend,
        target: &N,
        sources: &[N],
    ) -> Result<()> {
        let (t, _, _) = b.table_mut::<N, ACC, AggFn<IN, ACC, OUT>>(self.id, target)?;
        let f = t.function.clone();
        let mut merged: Option<ACC> = None;
        for source in sources.iter().chain(std::iter::once(target)) {
            if let Some(acc) = remove_entry::<N, ACC, AggFn<IN, ACC, OUT>>(b, self.id, source)? {
                merged = Some(match merged {
                    Some(m) => f.merge(m, acc),
                    None => acc,
                });
            }
        }
        if let Some(acc) = merged {
            let (t, g, k) = b.table_mut::<N, ACC, AggFn<IN, ACC, OUT>>(self.id, target)?;
            t.table.insert(g, k, acc)?;
        }
        Ok(())
    }

    /// Accumulators of one key group (snapshots).
    pub fn iter_key_group<'a>(
        &self,
        b: &'a KeyedStateBackend,
        key_group: u32,
    ) -> Result<impl Iterator<Item = (&'a KeyBytes, &'a N, &'a ACC)>> {
        iter_group::<N, ACC, AggFn<IN, ACC, OUT>>(b, self.id, key_group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_groups::KeyGroupRange;
    use crate::state::memory::MemoryBudget;

    fn backend() -> (KeyedStateBackend, Arc<MemoryBudget>) {
        let memory = MemoryBudget::new(1 << 20);
        let range = KeyGroupRange { start: 0, end: 3 };
        let mut b = KeyedStateBackend::new(range, 4, memory.clone());
        b.set_current_key(Arc::from(&b"k1"[..]), 1).unwrap();
        (b, memory)
    }

    #[test]
    fn list_state_adds_replaces_and_merges() {
        let (mut b, memory) = backend();
        let l = b.list_state::<u32, String>("l").unwrap();
        assert!(l.get(&b, &0).unwrap().is_empty());
        l.add(&mut b, &0, "a".into()).unwrap();
        l.add_all(&mut b, &0, vec!["b".into(), "c".into()]).unwrap();
        l.add(&mut b, &1, "x".into()).unwrap();
        assert_eq!(l.get(&b, &0).unwrap(), ["a", "b", "c"]);
        l.update(&mut b, &0, vec!["z".into()]).unwrap();
        assert_eq!(l.get(&b, &0).unwrap(), ["z"]);
        l.merge_namespaces(&mut b, &1, &[0, 1]).unwrap();
        assert_eq!(l.get(&b, &1).unwrap(), ["x", "z"]);
        assert!(l.get(&b, &0).unwrap().is_empty());
        assert_eq!(memory.used(), b.size_bytes());
        l.update(&mut b, &1, vec![]).unwrap();
        assert_eq!(memory.used(), 0);
    }

    #[test]
    fn map_state_puts_removes_and_iterates() {
        let (mut b, memory) = backend();
        let m = b.map_state::<(), String, i64>("m").unwrap();
        m.put(&mut b, &(), "a".into(), 1).unwrap();
        m.put(&mut b, &(), "b".into(), 2).unwrap();
        let two = memory.used();
        m.put(&mut b, &(), "a".into(), 10).unwrap();
        assert_eq!(memory.used(), two, "replacing a value of equal size");
        assert_eq!(m.get(&b, &(), &"a".into()).unwrap(), Some(&10));
        assert!(m.contains(&b, &(), &"b".into()).unwrap());
        assert!(!m.contains(&b, &(), &"c".into()).unwrap());
        let mut all: Vec<_> = m
            .iter(&b, &())
            .unwrap()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        all.sort();
        assert_eq!(all, vec![("a".to_string(), 10), ("b".to_string(), 2)]);
        // Other key: empty.
        b.set_current_key(Arc::from(&b"k2"[..]), 2).unwrap();
        assert!(m.is_empty(&b, &()).unwrap());
        b.set_current_key(Arc::from(&b"k1"[..]), 1).unwrap();
        assert_eq!(m.remove(&mut b, &(), &"a".into()).unwrap(), Some(10));
        assert!(memory.used() < two);
        assert_eq!(m.remove(&mut b, &(), &"a".into()).unwrap(), None);
        assert_eq!(m.remove(&mut b, &(), &"b".into()).unwrap(), Some(2));
        assert_eq!(memory.used(), 0, "an emptied map is removed");
        m.put(&mut b, &(), "c".into(), 3).unwrap();
        m.clear(&mut b, &()).unwrap();
        assert_eq!(memory.used(), 0);
        assert_eq!(m.iter_key_group(&b, 1).unwrap().count(), 0);
    }

    #[test]
    fn reducing_state_folds_values() {
        let (mut b, _) = backend();
        let max = b
            .reducing_state::<(), i64>("max", Arc::new(|a: &i64, b: i64| (*a).max(b)))
            .unwrap();
        assert_eq!(max.get(&b, &()).unwrap(), None);
        for v in [3, 9, 4] {
            max.add(&mut b, &(), v).unwrap();
        }
        assert_eq!(max.get(&b, &()).unwrap(), Some(&9));
        let sum = b
            .reducing_state::<u8, i64>("sum", Arc::new(|a: &i64, b: i64| a + b))
            .unwrap();
        sum.add(&mut b, &1, 5).unwrap();
        sum.add(&mut b, &2, 7).unwrap();
        sum.add(&mut b, &3, 1).unwrap();
        sum.merge_namespaces(&mut b, &1, &[2, 3]).unwrap();
        assert_eq!(sum.get(&b, &1).unwrap(), Some(&13));
        assert_eq!(sum.get(&b, &2).unwrap(), None);
        max.clear(&mut b, &()).unwrap();
        assert_eq!(max.get(&b, &()).unwrap(), None);
    }

    struct Average;
    impl AggregateFunction<f64, (f64, u64), f64> for Average {
        fn create_accumulator(&self) -> (f64, u64) {
            (0.0, 0)
        }
        fn add(&self, value: f64, acc: &mut (f64, u64)) {
            acc.0 += value;
            acc.1 += 1;
        }
        fn get_result(&self, acc: &(f64, u64)) -> f64 {
            acc.0 / acc.1 as f64
        }
        fn merge(&self, a: (f64, u64), b: (f64, u64)) -> (f64, u64) {
            (a.0 + b.0, a.1 + b.1)
        }
    }

    #[test]
    fn aggregating_state_accumulates_and_merges() {
        let (mut b, memory) = backend();
        let avg = b
            .aggregating_state::<u8, f64, (f64, u64), f64>("avg", Arc::new(Average))
            .unwrap();
        assert_eq!(avg.get(&b, &0).unwrap(), None);
        avg.add(&mut b, &0, 1.0).unwrap();
        avg.add(&mut b, &0, 3.0).unwrap();
        assert_eq!(avg.get(&b, &0).unwrap(), Some(2.0));
        avg.add(&mut b, &1, 8.0).unwrap();
        avg.merge_namespaces(&mut b, &5, &[0, 1]).unwrap();
        assert_eq!(avg.get(&b, &5).unwrap(), Some(4.0));
        assert_eq!(avg.get(&b, &0).unwrap(), None);
        assert_eq!(avg.iter_key_group(&b, 1).unwrap().count(), 1);
        avg.clear(&mut b, &5).unwrap();
        assert_eq!(memory.used(), 0);
    }
}
