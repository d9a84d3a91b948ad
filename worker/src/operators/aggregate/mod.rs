//! Incremental aggregate functions with Flink SQL's semantics and result types:
//! COUNT(*), COUNT(col), SUM, MIN, MAX, AVG. Accumulators are small values kept in
//! columnar "slots" (one slot = one group's accumulator, e.g. one key's window), so a
//! batch updates them in one vectorised pass of `(row, slot)` pairs, as DataFusion's
//! `GroupsAccumulator`. [`AggregateSet`] owns the accumulators of one operator, hands
//! out slots and charges their bytes to the slot's managed memory.
//!
//! Result types as Flink: COUNT → BIGINT (never null); SUM keeps the input type
//! (integers wrap as Java does) and SUM(DECIMAL(p,s)) → DECIMAL(38,s); AVG of integers
//! → the input type, truncated (Flink sums in BIGINT and divides); AVG(FLOAT/DOUBLE) →
//! the input type; AVG(DECIMAL(p,s)) → DECIMAL(38, max(6,s)), rounded half-up; MIN/MAX
//! keep the input type. SUM/AVG/MIN/MAX of no non-null values → NULL.

mod avg;
mod count_sum;
mod min_max;
mod slots;
mod state;

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;

use crate::runtime::error::{Result, RuntimeError};
use crate::state::memory::MemoryBudget;

/// Most accumulator slots one [`AggregateSet`] hands out (groups alive at once).
pub const MAX_ACCUMULATOR_SLOTS: usize = 1 << 28;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateKind {
    /// COUNT(*): every row.
    CountStar,
    /// COUNT(col): rows where `col` is not null.
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

/// One aggregate call: `kind(input_column) AS output_name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateSpec {
    pub kind: AggregateKind,
    /// Index of the input column (`None` only for COUNT(*)).
    pub input_column: Option<usize>,
    pub output_name: String,
}

impl AggregateSpec {
    pub fn new(kind: AggregateKind, input_column: Option<usize>, name: &str) -> AggregateSpec {
        AggregateSpec {
            kind,
            input_column,
            output_name: name.to_string(),
        }
    }

    pub fn count_star(name: &str) -> AggregateSpec {
        AggregateSpec::new(AggregateKind::CountStar, None, name)
    }

    fn input_type<'a>(&self, schema: &'a Schema) -> Result<Option<&'a DataType>> {
        match (self.kind, self.input_column) {
            (AggregateKind::CountStar, _) => Ok(None),
            (_, None) => Err(self.invalid("needs an input column")),
            (_, Some(i)) if i >= schema.fields().len() => Err(self.invalid(&format!(
                "input column {i} is outside the input's {} columns",
                schema.fields().len()
            ))),
            (_, Some(i)) => Ok(Some(schema.field(i).data_type())),
        }
    }

    fn invalid(&self, message: &str) -> RuntimeError {
        RuntimeError::Graph(format!(
            "aggregate {:?} '{}': {message}",
            self.kind, self.output_name
        ))
    }

    /// The output field (Flink's result type; COUNT is never null).
    pub fn result_field(&self, input: &Schema) -> Result<Field> {
        let acc = create_accumulator(self, input, false)?;
        Ok(Field::new(
            &self.output_name,
            acc.result_type(),
            !matches!(self.kind, AggregateKind::CountStar | AggregateKind::Count),
        ))
    }
}

/// The accumulators of one aggregate call for many groups, addressed by slot.
pub trait GroupAccumulator: Send + std::fmt::Debug {
    fn result_type(&self) -> DataType;
    /// Makes room for slots `0..n` (new slots start empty).
    fn ensure_slots(&mut self, n: usize);
    /// Turns an input column into the form `update`/`retract` read (once per batch).
    fn prepare(&self, values: &ArrayRef) -> Result<ArrayRef> {
        Ok(values.clone())
    }
    /// Adds `values[rows[i]]` to slot `slots[i]` for every i.
    fn update(&mut self, values: Option<&ArrayRef>, rows: &[u32], slots: &[u32]) -> Result<()>;
    /// Removes earlier added values (OVER frames); only for retractable accumulators.
    fn retract(&mut self, values: Option<&ArrayRef>, rows: &[u32], slots: &[u32]) -> Result<()>;
    /// Merges slot `src` into slot `dst` (session windows); `src` is then reset by the caller.
    fn merge(&mut self, dst: u32, src: u32) -> Result<()>;
    /// Empties a slot for reuse.
    fn reset(&mut self, slot: u32);
    /// The results of the given slots, in order (a slot may repeat).
    fn evaluate(&self, slots: &[u32]) -> Result<ArrayRef>;
    /// Bytes held, heap included.
    fn size_bytes(&self) -> usize;
    /// The state of `slots` as Arrow columns (the canonical snapshot form, see
    /// [`state`]); `slots` may be empty, which still gives every column.
    fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>>;
    /// Loads columns `state` made into `slots` (allocated, empty).
    fn load_state(&mut self, columns: &[ArrayRef], slots: &[u32]) -> Result<()>;
}

/// Creates the accumulator of `spec` for input rows of `input`. `retractable` asks for
/// accumulators that also support `retract` (MIN/MAX then keep a multiset of values).
pub fn create_accumulator(
    spec: &AggregateSpec,
    input: &Schema,
    retractable: bool,
) -> Result<Box<dyn GroupAccumulator>> {
    let input_type = spec.input_type(input)?;
    let unsupported = |t: &DataType| spec.invalid(&format!("unsupported input type {t}"));
    match (spec.kind, input_type) {
        (AggregateKind::CountStar, _) => Ok(Box::new(count_sum::CountAcc::new(true))),
        (AggregateKind::Count, _) => Ok(Box::new(count_sum::CountAcc::new(false))),
        (AggregateKind::Sum, Some(t)) => count_sum::create_sum(t).ok_or_else(|| unsupported(t)),
        (AggregateKind::Avg, Some(t)) => avg::create_avg(t).ok_or_else(|| unsupported(t)),
        (AggregateKind::Min | AggregateKind::Max, Some(t)) => {
            min_max::create(t, spec.kind == AggregateKind::Min, retractable)
                .ok_or_else(|| unsupported(t))
        }
        (_, None) => Err(spec.invalid("needs an input column")),
    }
}

/// The input columns of one batch, prepared for every aggregate of an [`AggregateSet`].
#[derive(Debug, Clone)]
pub struct PreparedInput(Vec<Option<ArrayRef>>);

impl PreparedInput {
    /// Each aggregate's prepared input column (`None`: an aggregate without input).
    pub fn columns(&self) -> &[Option<ArrayRef>] {
        &self.0
    }

    /// One row's inputs as scalars (OVER frames keep these to retract later).
    pub fn row_scalars(&self, row: usize) -> Result<Vec<Option<ScalarValue>>> {
        self.0
            .iter()
            .map(|c| {
                c.as_ref()
                    .map(|a| ScalarValue::try_from_array(a, row))
                    .transpose()
            })
            .collect::<Result<_, _>>()
            .map_err(RuntimeError::from)
    }

    /// Rebuilds the inputs of several rows from their scalars (same aggregates).
    pub fn from_row_scalars(rows: &[&[Option<ScalarValue>]], like: &PreparedInput) -> Result<Self> {
        let mut columns = Vec::with_capacity(like.0.len());
        for (i, template) in like.0.iter().enumerate() {
            columns.push(match template {
                None => None,
                Some(_) => Some(ScalarValue::iter_to_array(
                    rows.iter()
                        .map(|r| r[i].clone().unwrap_or(ScalarValue::Null)),
                )?),
            });
        }
        Ok(PreparedInput(columns))
    }
}

/// The accumulators of an operator's aggregate calls, their slots and their memory.
#[derive(Debug)]
pub struct AggregateSet {
    specs: Vec<AggregateSpec>,
    accs: Vec<Box<dyn GroupAccumulator>>,
    fields: Vec<Field>,
    free: Vec<u32>,
    allocated: usize,
    /// Slots every accumulator has room for.
    capacity: usize,
    memory: Arc<MemoryBudget>,
    charged: usize,
}

impl AggregateSet {
    pub fn new(
        specs: &[AggregateSpec],
        input: &Schema,
        retractable: bool,
        memory: Arc<MemoryBudget>,
    ) -> Result<AggregateSet> {
        let accs = specs
            .iter()
            .map(|s| create_accumulator(s, input, retractable))
            .collect::<Result<Vec<_>>>()?;
        let fields = specs
            .iter()
            .map(|s| s.result_field(input))
            .collect::<Result<Vec<_>>>()?;
        Ok(AggregateSet {
            specs: specs.to_vec(),
            accs,
            fields,
            free: Vec::new(),
            allocated: 0,
            capacity: 0,
            memory,
            charged: 0,
        })
    }

    /// The output fields, one per aggregate.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Slots in use.
    pub fn live_slots(&self) -> usize {
        self.allocated - self.free.len()
    }

    /// An empty slot.
    pub fn alloc(&mut self) -> Result<u32> {
        if let Some(slot) = self.free.pop() {
            return Ok(slot);
        }
        if self.allocated >= MAX_ACCUMULATOR_SLOTS {
            return Err(RuntimeError::Graph(format!(
                "more than {MAX_ACCUMULATOR_SLOTS} aggregate groups alive in one subtask"
            )));
        }
        let slot = self.allocated as u32;
        self.allocated += 1;
        if self.allocated > self.capacity {
            self.capacity = self.allocated.next_power_of_two().max(16);
            for acc in &mut self.accs {
                acc.ensure_slots(self.capacity);
            }
            self.recharge()?;
        }
        Ok(slot)
    }

    /// Returns a slot (emptied) for reuse.
    pub fn free(&mut self, slot: u32) {
        for acc in &mut self.accs {
            acc.reset(slot);
        }
        self.free.push(slot);
    }

    pub fn prepare(&self, batch: &RecordBatch) -> Result<PreparedInput> {
        let mut columns = Vec::with_capacity(self.specs.len());
        for (spec, acc) in self.specs.iter().zip(&self.accs) {
            columns.push(match (spec.kind, spec.input_column) {
                (AggregateKind::CountStar, _) | (_, None) => None,
                (_, Some(i)) => Some(acc.prepare(batch.column(i))?),
            });
        }
        Ok(PreparedInput(columns))
    }

    /// Adds rows `rows[i]` of `input` to slots `slots[i]`.
    pub fn update(&mut self, input: &PreparedInput, rows: &[u32], slots: &[u32]) -> Result<()> {
        debug_assert_eq!(rows.len(), slots.len());
        for (acc, values) in self.accs.iter_mut().zip(&input.0) {
            acc.update(values.as_ref(), rows, slots)?;
        }
        self.recharge()
    }

    /// `prepare` then `update`.
    pub fn update_batch(&mut self, batch: &RecordBatch, rows: &[u32], slots: &[u32]) -> Result<()> {
        let input = self.prepare(batch)?;
        self.update(&input, rows, slots)
    }

    pub fn retract(&mut self, input: &PreparedInput, rows: &[u32], slots: &[u32]) -> Result<()> {
        for (acc, values) in self.accs.iter_mut().zip(&input.0) {
            acc.retract(values.as_ref(), rows, slots)?;
        }
        self.recharge()
    }

    /// Merges `src` into `dst` and frees `src`.
    pub fn merge(&mut self, dst: u32, src: u32) -> Result<()> {
        for acc in &mut self.accs {
            acc.merge(dst, src)?;
        }
        self.free(src);
        self.recharge()
    }

    /// One column per aggregate with the results of `slots`, in order.
    pub fn evaluate(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        self.accs.iter().map(|a| a.evaluate(slots)).collect()
    }

    /// The state of `slots`: every accumulator's columns, in order (see [`state`]).
    pub fn state(&self, slots: &[u32]) -> Result<Vec<ArrayRef>> {
        let mut columns = Vec::new();
        for acc in &self.accs {
            columns.extend(acc.state(slots)?);
        }
        Ok(columns)
    }

    /// Names of the state columns: the aggregate's output name, with `.N` for each part
    /// when its accumulator keeps several (a SUM's sum and count).
    pub fn state_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for (spec, acc) in self.specs.iter().zip(&self.accs) {
            let width = acc.state(&[])?.len();
            if width == 1 {
                names.push(spec.output_name.clone());
            } else {
                names.extend((0..width).map(|i| format!("{}.{i}", spec.output_name)));
            }
        }
        Ok(names)
    }

    /// Allocates a slot for each of the `rows` rows of `columns` (as [`Self::state`]
    /// made them) and loads it; returns the slots, in row order.
    pub fn load_state(&mut self, columns: &[ArrayRef], rows: usize) -> Result<Vec<u32>> {
        let slots = (0..rows)
            .map(|_| self.alloc())
            .collect::<Result<Vec<u32>>>()?;
        let mut at = 0;
        for acc in &mut self.accs {
            let end = at + acc.state(&[])?.len();
            let Some(own) = columns.get(at..end) else {
                return Err(RuntimeError::Graph(format!(
                    "aggregate state snapshot: {} columns for aggregates needing more",
                    columns.len()
                )));
            };
            acc.load_state(own, &slots)?;
            at = end;
        }
        if at != columns.len() {
            return Err(RuntimeError::Graph(format!(
                "aggregate state snapshot: {} columns, the aggregates take {at}",
                columns.len()
            )));
        }
        self.recharge()?;
        Ok(slots)
    }

    fn recharge(&mut self) -> Result<()> {
        let now: usize = self.accs.iter().map(|a| a.size_bytes()).sum::<usize>()
            + self.free.capacity() * std::mem::size_of::<u32>();
        self.memory.resize(self.charged, now)?;
        self.charged = now;
        Ok(())
    }
}

impl Drop for AggregateSet {
    fn drop(&mut self) {
        self.memory.release(self.charged);
    }
}

pub(crate) fn retract_unsupported(what: &str) -> RuntimeError {
    RuntimeError::Graph(format!("{what} was not created retractable"))
}

#[cfg(test)]
mod tests;
