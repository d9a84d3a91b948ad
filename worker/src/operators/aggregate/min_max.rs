//! MIN and MAX accumulators over numbers, decimals, dates, timestamps and strings; the
//! result has the input type. Plain accumulators keep one value per slot. Retractable
//! ones (OVER frames, Flink's `MinWithRetractAggFunction`) keep a multiset of the
//! values (value → count) so removing the current extreme finds the next one; their
//! state is the extreme plus the multisets as list columns.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, ArrowNativeTypeOp, AsArray, PrimitiveArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::*;

use super::slots::{input, valid_pairs};
use super::state::{load_extremes, multiset_columns, multiset_rows};
use super::{GroupAccumulator, retract_unsupported};
use crate::runtime::error::{Result, RuntimeError};

/// A native value ordered totally (floats by `total_cmp`), so it can key a BTreeMap.
#[derive(Debug, Clone, Copy)]
struct TotalOrd<N>(N);

impl<N: ArrowNativeTypeOp> PartialEq for TotalOrd<N> {
    fn eq(&self, other: &Self) -> bool {
        self.0.compare(other.0) == Ordering::Equal
    }
}
impl<N: ArrowNativeTypeOp> Eq for TotalOrd<N> {}
impl<N: ArrowNativeTypeOp> PartialOrd for TotalOrd<N> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<N: ArrowNativeTypeOp> Ord for TotalOrd<N> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.compare(other.0)
    }
}

/// Per-entry bytes of a BTreeMap node (an estimate for memory accounting).
const BTREE_ENTRY_OVERHEAD: usize = 16;

/// Makes room for slots `0..n` in every slot's value and (retractable) multiset.
fn ensure_slots<V: Clone, K>(
    (values, multisets): (&mut Vec<Option<V>>, &mut Option<Vec<BTreeMap<K, u64>>>),
    n: usize,
) {
    if values.len() < n {
        values.resize(n, None);
        if let Some(m) = multisets {
            m.resize_with(n, BTreeMap::new);
        }
    }
}

/// Retractable MIN/MAX keep multisets, which do not merge (no merging windows use them).
fn check_mergeable<K>(multisets: &Option<Vec<BTreeMap<K, u64>>>) -> Result<()> {
    match multisets {
        Some(_) => Err(RuntimeError::Graph(
            "retractable MIN/MAX cannot merge".into(),
        )),
        None => Ok(()),
    }
}

#[derive(Debug)]
pub struct PrimMinMax<T: ArrowPrimitiveType> {
    data_type: DataType,
    is_min: bool,
    values: Vec<Option<T::Native>>,
    /// Retractable: every slot's multiset of values.
    multisets: Option<Vec<BTreeMap<TotalOrd<T::Native>, u64>>>,
    multiset_entries: usize,
}

impl<T: ArrowPrimitiveType> PrimMinMax<T> {
    fn new(data_type: DataType, is_min: bool, retractable: bool) -> Self {
        PrimMinMax {
            data_type,
            is_min,
            values: Vec::new(),
            multisets: retractable.then(Vec::new),
            multiset_entries: 0,
        }
    }

    fn better(&self, candidate: T::Native, current: T::Native) -> bool {
        let o = candidate.compare(current);
        if self.is_min { o.is_lt() } else { o.is_gt() }
    }

    fn offer(&mut self, s: usize, v: T::Native) {
        match self.values[s] {
            Some(cur) if !self.better(v, cur) => {}
            _ => self.values[s] = Some(v),
        }
    }

    fn extreme(&self, set: &BTreeMap<TotalOrd<T::Native>, u64>) -> Option<T::Native> {
        let e = if self.is_min {
            set.keys().next()
        } else {
            set.keys().next_back()
        };
        e.map(|k| k.0)
    }
}

impl<T: ArrowPrimitiveType + std::fmt::Debug> GroupAccumulator for PrimMinMax<T> {
    fn result_type(&self) -> DataType {
        self.data_type.clone()
    }
    fn ensure_slots(&mut self, n: usize) {
        ensure_slots((&mut self.values, &mut self.multisets), n);
    }
    fn update(&mut self, values: Option<&ArrayRef>, rows: &[u32], slots: &[u32]) -> Result<()> {
        let a = input(values)?.as_primitive::<T>();
        for (r, s) in valid_pairs(a.nulls(), rows, slots) {
            let v = a.value(r);
            self.offer(s, v);
            if let Some(m) = &mut self.multisets {
                let c = m[s].entry(TotalOrd(v)).or_insert(0);
                if *c == 0 {
                    self.multiset_entries += 1;
                }
                *c += 1;
            }
        }
        Ok(())
    }
    fn retract(&mut self, values: Option<&ArrayRef>, rows: &[u32], slots: &[u32]) -> Result<()> {
        let a = input(values)?.as_primitive::<T>();
        let Some(mut sets) = self.multisets.take() else {
            return Err(retract_unsupported("MIN/MAX"));
        };
        for (r, s) in valid_pairs(a.nulls(), rows, slots) {
            let key = TotalOrd(a.value(r));
            if let Some(c) = sets[s].get_mut(&key) {
                *c -= 1;
                if *c == 0 {
                    sets[s].remove(&key);
                    self.multiset_entries -= 1;
                }
            }
            self.values[s] = self.extreme(&sets[s]);
        }
        self.multisets = Some(sets);
        Ok(())
    }
    fn merge(&mut self, dst: u32, src: u32) -> Result<()> {
        check_mergeable(&self.multisets)?;
        if let Some(v) = self.values[src as usize] {
            self.offer(dst as usize, v);
        }
        Ok(())
    }
    fn reset(&mut self, slot: u32) {
        self.values[slot as usize] = None;
        if let Some(m) = &mut self.multisets {
            self.multiset_entries -= m[slot as usize].len();
            m[slot as usize].clear();
        }
    }
    fn evaluate(&self, slots: &[u32]) -> Result<ArrayRef> {
        let a: PrimitiveArray<T> = slots.iter().map(|&s| self.values[s as usize]).collect();
        Ok(Arc::new(a.with_data_type(self.data_type.clone())))
    }
    fn size_bytes(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<Option<T::Native>>()
            + self.multisets.as_ref().map_or(0, |m| {
                m.capacity() * std::mem::size_of::<BTreeMap<TotalOrd<T::Native>, u64>>()
                    + self.multiset_entries
                        * (std::mem::size_of::<T::Native>() + 8 + BTREE_ENTRY_OVERHEAD)
            })
    }
    fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let mut columns = vec![self.evaluate(slots)?];
        if let Some(sets) = &self.multisets {
            let sets: Vec<_> = slots.iter().map(|&s| &sets[s as usize]).collect();
            let values = PrimitiveArray::<T>::from_iter_values(
                sets.iter().flat_map(|m| m.keys().map(|k| k.0)),
            )
            .with_data_type(self.data_type.clone());
            let lengths: Vec<usize> = sets.iter().map(|m| m.len()).collect();
            let counts = sets.iter().flat_map(|m| m.values().copied()).collect();
            columns.extend(multiset_columns(Arc::new(values), &lengths, counts)?);
        }
        Ok(columns)
    }
    fn load_state(&mut self, columns: &[ArrayRef], slots: &[u32]) -> Result<()> {
        load_extremes::<T>(&mut self.values, columns, slots)?;
        if self.multisets.is_none() {
            return Ok(());
        }
        let rows = multiset_rows(columns, 1, slots.len())?;
        let mut sets = self.multisets.take().unwrap_or_default();
        for ((values, counts), &s) in rows.iter().zip(slots) {
            let values = values.as_primitive_opt::<T>().ok_or_else(|| {
                RuntimeError::Graph("aggregate state snapshot: MIN/MAX multiset type".into())
            })?;
            let set = &mut sets[s as usize];
            self.multiset_entries -= set.len();
            set.clear();
            for (v, &c) in values.values().iter().zip(counts.values()) {
                if c > 0 {
                    set.insert(TotalOrd(*v), c);
                }
            }
            self.multiset_entries += set.len();
        }
        self.multisets = Some(sets);
        Ok(())
    }
}

/// MIN/MAX over strings (any string type is read as Utf8; the result is Utf8).
#[derive(Debug)]
pub struct StrMinMax {
    is_min: bool,
    values: Vec<Option<String>>,
    multisets: Option<Vec<BTreeMap<String, u64>>>,
    /// Heap bytes of the strings held.
    heap: usize,
}

impl StrMinMax {
    fn better(&self, candidate: &str, current: &str) -> bool {
        if self.is_min {
            candidate < current
        } else {
            candidate > current
        }
    }

    fn set(&mut self, s: usize, v: Option<String>) {
        self.heap -= self.values[s].as_ref().map_or(0, |x| x.len());
        self.heap += v.as_ref().map_or(0, |x| x.len());
        self.values[s] = v;
    }

    fn offer(&mut self, s: usize, v: &str) {
        let replace = match &self.values[s] {
            Some(cur) => self.better(v, cur),
            None => true,
        };
        if replace {
            self.set(s, Some(v.to_string()));
        }
    }
}

impl GroupAccumulator for StrMinMax {
    fn result_type(&self) -> DataType {
        DataType::Utf8
    }
    fn ensure_slots(&mut self, n: usize) {
        ensure_slots((&mut self.values, &mut self.multisets), n);
    }
    fn prepare(&self, values: &ArrayRef) -> Result<ArrayRef> {
        Ok(cast(values, &DataType::Utf8)?)
    }
    fn update(&mut self, values: Option<&ArrayRef>, rows: &[u32], slots: &[u32]) -> Result<()> {
        let a = input(values)?.as_string::<i32>();
        for (r, s) in valid_pairs(a.nulls(), rows, slots) {
            let v = a.value(r);
            self.offer(s, v);
            if let Some(m) = &mut self.multisets {
                let c = m[s].entry(v.to_string()).or_insert(0);
                if *c == 0 {
                    self.heap += v.len() + BTREE_ENTRY_OVERHEAD + 32;
                }
                *c += 1;
            }
        }
        Ok(())
    }
    fn retract(&mut self, values: Option<&ArrayRef>, rows: &[u32], slots: &[u32]) -> Result<()> {
        let a = input(values)?.as_string::<i32>();
        let Some(mut sets) = self.multisets.take() else {
            return Err(retract_unsupported("MIN/MAX"));
        };
        for (r, s) in valid_pairs(a.nulls(), rows, slots) {
            let v = a.value(r);
            if let Some(c) = sets[s].get_mut(v) {
                *c -= 1;
                if *c == 0 {
                    sets[s].remove(v);
                    self.heap -= v.len() + BTREE_ENTRY_OVERHEAD + 32;
                }
            }
            let e = if self.is_min {
                sets[s].keys().next()
            } else {
                sets[s].keys().next_back()
            };
            self.set(s, e.cloned());
        }
        self.multisets = Some(sets);
        Ok(())
    }
    fn merge(&mut self, dst: u32, src: u32) -> Result<()> {
        check_mergeable(&self.multisets)?;
        if let Some(v) = self.values[src as usize].take() {
            self.heap -= v.len();
            self.offer(dst as usize, &v);
        }
        Ok(())
    }
    fn reset(&mut self, slot: u32) {
        self.set(slot as usize, None);
        if let Some(m) = &mut self.multisets {
            for k in m[slot as usize].keys() {
                self.heap -= k.len() + BTREE_ENTRY_OVERHEAD + 32;
            }
            m[slot as usize].clear();
        }
    }
    fn evaluate(&self, slots: &[u32]) -> Result<ArrayRef> {
        let a: StringArray = slots
            .iter()
            .map(|&s| self.values[s as usize].as_deref())
            .collect();
        Ok(Arc::new(a))
    }
    fn size_bytes(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<Option<String>>()
            + self.heap
            + self.multisets.as_ref().map_or(0, |m| {
                m.capacity() * std::mem::size_of::<BTreeMap<String, u64>>()
            })
    }
    fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let mut columns = vec![self.evaluate(slots)?];
        if let Some(sets) = &self.multisets {
            let sets: Vec<_> = slots.iter().map(|&s| &sets[s as usize]).collect();
            let strings: Vec<&String> = sets.iter().flat_map(|m| m.keys()).collect();
            let values = StringArray::from_iter_values(strings);
            let lengths: Vec<usize> = sets.iter().map(|m| m.len()).collect();
            let counts = sets.iter().flat_map(|m| m.values().copied()).collect();
            columns.extend(multiset_columns(Arc::new(values), &lengths, counts)?);
        }
        Ok(columns)
    }
    fn load_state(&mut self, columns: &[ArrayRef], slots: &[u32]) -> Result<()> {
        if self.multisets.is_some() {
            let rows = multiset_rows(columns, 1, slots.len())?;
            for ((values, counts), &s) in rows.iter().zip(slots) {
                let values = values.as_string_opt::<i32>().ok_or_else(|| {
                    RuntimeError::Graph("aggregate state snapshot: MIN/MAX multiset type".into())
                })?;
                self.reset(s);
                let Some(sets) = &mut self.multisets else {
                    break;
                };
                let set = &mut sets[s as usize];
                for (v, &c) in values.iter().zip(counts.values()) {
                    if let (Some(v), true) = (v, c > 0) {
                        self.heap += v.len() + BTREE_ENTRY_OVERHEAD + 32;
                        set.insert(v.to_string(), c);
                    }
                }
            }
        }
        let a = columns
            .first()
            .and_then(|c| c.as_string_opt::<i32>())
            .filter(|c| c.len() == slots.len())
            .ok_or_else(|| {
                RuntimeError::Graph("aggregate state snapshot: MIN/MAX strings missing".into())
            })?;
        for (i, &s) in slots.iter().enumerate() {
            self.set(s as usize, a.is_valid(i).then(|| a.value(i).to_string()));
        }
        Ok(())
    }
}

/// MIN (`is_min`) or MAX's accumulator for `input`, or `None` for an unsupported type.
pub fn create(
    input: &DataType,
    is_min: bool,
    retractable: bool,
) -> Option<Box<dyn GroupAccumulator>> {
    macro_rules! prim {
        ($t:ty) => {
            Box::new(PrimMinMax::<$t>::new(input.clone(), is_min, retractable))
        };
    }
    Some(match input {
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Float32 => prim!(Float32Type),
        DataType::Float64 => prim!(Float64Type),
        DataType::Decimal128(_, _) => prim!(Decimal128Type),
        DataType::Date32 => prim!(Date32Type),
        DataType::Date64 => prim!(Date64Type),
        DataType::Timestamp(TimeUnit::Second, _) => prim!(TimestampSecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => prim!(TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => prim!(TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => prim!(TimestampNanosecondType),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Box::new(StrMinMax {
            is_min,
            values: Vec::new(),
            multisets: retractable.then(Vec::new),
            heap: 0,
        }),
        _ => return None,
    })
}
