//! What the interval and window joins share per operator instance: [`JoinSides`] (the
//! name, each input's row codec and key encoder, the output schema and the joined rows
//! awaiting emission) and [`SideBuffers`] (each input's rows buffered in keyed state
//! by key group — or in RocksDB, [`RocksRows`] — plus the event-time timers that
//! expire them).

use std::hash::Hash;

use arrow::datatypes::{DataType, SchemaRef};

use super::rocks::RocksRows;
use super::{BufferedRow, JoinType, JoinedRows, RowCodec, join_output_schema};
use crate::operators::keys::KeyEncoder;
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::operator::{OperatorContext, Output};
use crate::state::keyed::Namespace;
use crate::state::table::{StateSize, StateTable};
use crate::time::timers::InternalTimerService;

/// Both inputs of a two-input join (0 = left, 1 = right) and the joined output.
#[derive(Debug)]
pub(crate) struct JoinSides {
    pub name: String,
    pub codecs: [RowCodec; 2],
    pub keys: [KeyEncoder; 2],
    pub schema: SchemaRef,
    pub joined: JoinedRows,
}

impl JoinSides {
    /// `what` names the join in errors; `require_keys` refuses an empty key list.
    pub fn new(
        name: &str,
        what: &str,
        (left, right): (SchemaRef, SchemaRef),
        (left_keys, right_keys): (&[usize], &[usize]),
        join_type: JoinType,
        require_keys: bool,
    ) -> Result<Self> {
        let keys = [
            KeyEncoder::new(&left, left_keys)?,
            KeyEncoder::new(&right, right_keys)?,
        ];
        let types = |k: &KeyEncoder| -> Vec<DataType> {
            k.fields().iter().map(|f| f.data_type().clone()).collect()
        };
        if (require_keys && left_keys.is_empty()) || types(&keys[0]) != types(&keys[1]) {
            return Err(RuntimeError::Graph(format!(
                "{what}: the key columns must pair up with equal types, got {:?} and {:?}",
                types(&keys[0]),
                types(&keys[1])
            )));
        }
        Ok(JoinSides {
            name: name.to_string(),
            schema: join_output_schema(&left, &right, join_type),
            codecs: [RowCodec::new(left)?, RowCodec::new(right)?],
            keys,
            joined: JoinedRows::default(),
        })
    }

    /// The side `input` feeds; a join has only inputs 0 and 1.
    pub fn side(&self, input: usize) -> Result<usize> {
        if input > 1 {
            return Err(RuntimeError::Graph(format!(
                "{}: no input {input}",
                self.name
            )));
        }
        Ok(input)
    }

    /// An unmatched row of `side`, padded with NULLs for the other side.
    pub fn padded(&mut self, side: usize, row: &[u8], out: &mut Output) -> Result<()> {
        self.joined
            .padded(side, &self.codecs, &self.schema, row, out)
    }

    pub fn pair(&mut self, left: &[u8], right: &[u8], out: &mut Output) -> Result<()> {
        self.joined
            .pair(&self.codecs, &self.schema, left, right, out)
    }

    pub fn flush(&mut self, out: &mut Output) -> Result<()> {
        self.joined.flush(&self.codecs, &self.schema, out)
    }
}

/// Each side's buffered rows under state key `K`, and clean-up timers in namespace `N`.
/// On the rocksdb backend the rows are in `rocks` and `buffers` stay empty.
pub(crate) struct SideBuffers<K, N: Namespace + Ord> {
    pub buffers: [StateTable<K, Vec<BufferedRow>>; 2],
    pub timers: InternalTimerService<N>,
    pub rocks: Option<RocksRows>,
}

impl<K: Hash + Eq + Clone + StateSize, N: Namespace + Ord> SideBuffers<K, N> {
    pub fn open(ctx: &OperatorContext) -> Self {
        let range = ctx.subtask.key_group_range;
        SideBuffers {
            buffers: [
                StateTable::new(range, ctx.memory.clone()),
                StateTable::new(range, ctx.memory.clone()),
            ],
            timers: InternalTimerService::new(range, ctx.memory.clone()),
            rocks: None,
        }
    }

    /// Appends `entry` to the rows of `side` buffered under `key`.
    pub fn push(&mut self, side: usize, group: u32, key: &K, entry: BufferedRow) -> Result<()> {
        if self.buffers[side]
            .update(group, key, |b| b.push(entry.clone()))?
            .is_none()
        {
            self.buffers[side].insert(group, key.clone(), vec![entry])?;
        }
        Ok(())
    }

    /// Bytes the buffered rows and timers hold in managed memory.
    pub fn size_bytes(&self) -> usize {
        self.buffered_bytes() + self.timers.size_bytes()
    }

    /// Bytes the rows buffered on the heap hold (none on the rocksdb backend).
    pub fn buffered_bytes(&self) -> usize {
        self.buffers[0].size_bytes() + self.buffers[1].size_bytes()
    }
}

/// The opened state, or an error naming the operator used before `open()`.
pub(crate) fn opened<'a, S>(state: &'a mut Option<S>, name: &str) -> Result<&'a mut S> {
    state
        .as_mut()
        .ok_or_else(|| RuntimeError::Graph(format!("{name}: used before open()")))
}
