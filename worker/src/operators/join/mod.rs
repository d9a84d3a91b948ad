//! Stream joins of Flink SQL over event time: the interval join ([`interval`], Flink's
//! `TimeIntervalJoin`) and the window join ([`window`], Flink's `WindowJoinOperator`),
//! plus the window table function that stamps rows with their windows for a window
//! join ([`window_tvf`], Flink's `WindowTableFunctionOperator`). Both joins are
//! two-input keyed operators (input 0 = left, input 1 = right, both hash-partitioned by
//! the equi-join keys). This module holds what they share: the join type, the output
//! schema (left columns, then right columns), rows buffered as `arrow::row` bytes, and
//! the assembly of joined rows into batches of at most [`MAX_OUTPUT_BATCH_ROWS`], and
//! the snapshot of the buffered rows ([`snapshot`], the canonical keyed format). On
//! the rocksdb state backend the buffered rows are in RocksDB ([`rocks`]).

pub mod interval;
mod rocks;
mod sides;
mod snapshot;
pub mod window;
pub mod window_tvf;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, new_null_array};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::row::{RowConverter, Rows, SortField};

pub use interval::{IntervalJoinOperator, IntervalJoinSpec};
pub use window::{WindowJoinOperator, WindowJoinSpec};
pub use window_tvf::WindowTableFunctionOperator;

use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::message::Timestamp;
use crate::runtime::operator::Output;
use crate::state::table::StateSize;

/// Most rows in one emitted batch of joined rows.
pub const MAX_OUTPUT_BATCH_ROWS: usize = 8192;

/// Flink's `FlinkJoinType` for the stream joins Eddy runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinType {
    Inner,
    LeftOuter,
    RightOuter,
    FullOuter,
}

impl JoinType {
    /// Unmatched left rows are emitted padded with NULLs.
    pub fn is_left_outer(self) -> bool {
        matches!(self, JoinType::LeftOuter | JoinType::FullOuter)
    }

    /// Unmatched right rows are emitted padded with NULLs.
    pub fn is_right_outer(self) -> bool {
        matches!(self, JoinType::RightOuter | JoinType::FullOuter)
    }

    /// Whether unmatched rows of input `side` (0 left, 1 right) are emitted.
    pub fn is_outer(self, side: usize) -> bool {
        if side == 0 {
            self.is_left_outer()
        } else {
            self.is_right_outer()
        }
    }
}

/// The joined rows' schema: left fields, then right fields; the side that may be
/// padded with NULLs (the other side of an outer join) becomes nullable.
pub fn join_output_schema(left: &Schema, right: &Schema, join_type: JoinType) -> SchemaRef {
    let side = |s: &Schema, nullable: bool| -> Vec<Field> {
        s.fields()
            .iter()
            .map(|f| {
                let f = f.as_ref().clone();
                if nullable { f.with_nullable(true) } else { f }
            })
            .collect()
    };
    let mut fields = side(left, join_type.is_right_outer());
    fields.extend(side(right, join_type.is_left_outer()));
    Arc::new(Schema::new(fields))
}

/// One buffered row of one side: its event time (or 0), its `arrow::row` encoding
/// and whether it has joined yet (outer joins pad the rows that never did).
#[derive(Debug, Clone)]
pub struct BufferedRow {
    pub time: Timestamp,
    pub row: Box<[u8]>,
    pub matched: bool,
}

impl StateSize for BufferedRow {
    fn state_size(&self) -> usize {
        std::mem::size_of::<BufferedRow>() + self.row.len()
    }
}

/// Encodes every column of one input's rows for buffering and decodes them back.
#[derive(Debug)]
pub struct RowCodec {
    schema: SchemaRef,
    converter: RowConverter,
}

impl RowCodec {
    pub fn new(schema: SchemaRef) -> Result<RowCodec> {
        let fields = schema
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        Ok(RowCodec {
            converter: RowConverter::new(fields)?,
            schema,
        })
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn encode(&self, batch: &RecordBatch) -> Result<Rows> {
        self.encode_columns(batch.columns())
    }

    /// Encodes rows given as columns of this input's schema (a restored snapshot's).
    pub fn encode_columns(&self, columns: &[ArrayRef]) -> Result<Rows> {
        Ok(self.converter.convert_columns(columns)?)
    }

    /// The columns of `rows` (bytes from [`Self::encode`]).
    pub fn decode<'a>(&self, rows: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<ArrayRef>> {
        let parser = self.converter.parser();
        Ok(self
            .converter
            .convert_rows(rows.into_iter().map(|r| parser.parse(r)))?)
    }
}

/// Whether row `row` has a NULL in any of `columns` (SQL equality never matches it).
pub fn has_null_key(batch: &RecordBatch, columns: &[usize], row: usize) -> bool {
    columns.iter().any(|&c| batch.column(c).is_null(row))
}

/// The columns of input `side` of a join, checked against its schema.
pub(crate) fn check_columns(schema: &Schema, columns: &[usize], what: &str) -> Result<()> {
    match columns.iter().find(|&&c| c >= schema.fields().len()) {
        Some(c) => Err(RuntimeError::Graph(format!(
            "{what} column {c} is outside the input's {} columns",
            schema.fields().len()
        ))),
        None => Ok(()),
    }
}

/// A joined pair's left and right row bytes.
type Pair = (Box<[u8]>, Box<[u8]>);

/// Joined rows collected for emission: pairs, and rows of either side padded with
/// NULLs. Flushes a batch whenever [`MAX_OUTPUT_BATCH_ROWS`] of one kind are held.
#[derive(Debug, Default)]
pub struct JoinedRows {
    pairs: Vec<Pair>,
    left_only: Vec<Box<[u8]>>,
    right_only: Vec<Box<[u8]>>,
}

impl JoinedRows {
    pub fn pair(
        &mut self,
        codecs: &[RowCodec; 2],
        schema: &SchemaRef,
        left: &[u8],
        right: &[u8],
        out: &mut Output,
    ) -> Result<()> {
        self.pairs.push((left.into(), right.into()));
        if self.pairs.len() >= MAX_OUTPUT_BATCH_ROWS {
            self.flush(codecs, schema, out)?;
        }
        Ok(())
    }

    /// An unmatched row of input `side`, padded with NULLs for the other side.
    pub fn padded(
        &mut self,
        side: usize,
        codecs: &[RowCodec; 2],
        schema: &SchemaRef,
        row: &[u8],
        out: &mut Output,
    ) -> Result<()> {
        let list = if side == 0 {
            &mut self.left_only
        } else {
            &mut self.right_only
        };
        list.push(row.into());
        if list.len() >= MAX_OUTPUT_BATCH_ROWS {
            self.flush(codecs, schema, out)?;
        }
        Ok(())
    }

    pub fn flush(
        &mut self,
        codecs: &[RowCodec; 2],
        schema: &SchemaRef,
        out: &mut Output,
    ) -> Result<()> {
        if !self.pairs.is_empty() {
            let mut columns = codecs[0].decode(self.pairs.iter().map(|(l, _)| l.as_ref()))?;
            columns.extend(codecs[1].decode(self.pairs.iter().map(|(_, r)| r.as_ref()))?);
            self.pairs.clear();
            out.emit(RecordBatch::try_new(schema.clone(), columns)?);
        }
        for side in 0..2 {
            let rows = std::mem::take(if side == 0 {
                &mut self.left_only
            } else {
                &mut self.right_only
            });
            if rows.is_empty() {
                continue;
            }
            let present = codecs[side].decode(rows.iter().map(|r| r.as_ref()))?;
            let nulls: Vec<ArrayRef> = codecs[1 - side]
                .schema()
                .fields()
                .iter()
                .map(|f| new_null_array(f.data_type(), rows.len()))
                .collect();
            let columns = if side == 0 {
                present.into_iter().chain(nulls).collect()
            } else {
                nulls.into_iter().chain(present).collect()
            };
            out.emit(RecordBatch::try_new(schema.clone(), columns)?);
        }
        Ok(())
    }
}
