//! Changelog streams (Flink's `RowKind` and `ChangelogMode`): how an updating stream —
//! the output of a non-windowed GROUP BY — travels through the runtime.
//!
//! Representation: a batch of an *updating* stream carries one extra trailing column
//! [`ROW_KIND_COLUMN`] (`__row_kind`, Int8, never null) after its logical columns; each
//! row's value is a [`RowKind`]: 0 `+I` (insert), 1 `-U` (update before), 2 `+U`
//! (update after), 3 `-D` (delete). An *append-only* (insert-only) stream has no such
//! column: every row is `+I`. The SQL translator tracks which streams are updating (a
//! flag on its `Stream`) and keeps the logical schema without the column:
//!
//! - filters over an updating stream filter whole rows, row kind included (unchanged
//!   operator);
//! - projections evaluate their expressions on the batch (the logical columns keep
//!   their positions, the row kind is last) and re-append the row-kind column
//!   ([`with_row_kind`] builds that extra projection expression);
//! - a GROUP BY over an updating stream accumulates `+I`/`+U` rows and retracts
//!   `-U`/`-D` rows;
//! - sinks: `print` shows the kind as Flink does (`+I[…]`, `-U[…]`); sinks that only
//!   take inserts (filesystem) are refused at planning time with Flink's message
//!   ([`sink_accepts_updates`], [`update_not_supported_message`]).
//!
//! A `-U`/`+U` pair of one key is emitted adjacently, `-U` first, in the same batch.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int8Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Int8Type, Schema};

use super::error::{Result, RuntimeError};

/// Name of the trailing row-kind column of an updating stream's batches.
pub const ROW_KIND_COLUMN: &str = "__row_kind";

/// Flink's `RowKind`, with its byte values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i8)]
pub enum RowKind {
    Insert = 0,
    UpdateBefore = 1,
    UpdateAfter = 2,
    Delete = 3,
}

impl RowKind {
    pub fn from_i8(v: i8) -> Result<RowKind> {
        Ok(match v {
            0 => RowKind::Insert,
            1 => RowKind::UpdateBefore,
            2 => RowKind::UpdateAfter,
            3 => RowKind::Delete,
            other => {
                return Err(RuntimeError::Graph(format!(
                    "invalid row kind {other} in column {ROW_KIND_COLUMN}"
                )));
            }
        })
    }

    /// Flink's short string: `+I`, `-U`, `+U`, `-D`.
    pub fn short_string(self) -> &'static str {
        match self {
            RowKind::Insert => "+I",
            RowKind::UpdateBefore => "-U",
            RowKind::UpdateAfter => "+U",
            RowKind::Delete => "-D",
        }
    }

    /// `+I` and `+U` add a row to the result; `-U` and `-D` take one away.
    pub fn is_accumulate(self) -> bool {
        matches!(self, RowKind::Insert | RowKind::UpdateAfter)
    }
}

/// The row-kind column's field.
pub fn row_kind_field() -> Field {
    Field::new(ROW_KIND_COLUMN, DataType::Int8, false)
}

/// `logical`'s fields followed by the row-kind column (an updating stream's batch schema).
pub fn updating_schema(logical: &Schema) -> Schema {
    let mut fields: Vec<Field> = logical
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(row_kind_field());
    Schema::new(fields)
}

/// A row-kind column.
pub fn row_kind_array(kinds: impl IntoIterator<Item = RowKind>) -> ArrayRef {
    Arc::new(Int8Array::from_iter_values(
        kinds.into_iter().map(|k| k as i8),
    ))
}

/// The row-kind column of `batch` when it carries one (its last column is named
/// [`ROW_KIND_COLUMN`] and is Int8), else `None` (an insert-only batch).
pub fn row_kinds(batch: &RecordBatch) -> Option<&Int8Array> {
    let n = batch.num_columns();
    let schema = batch.schema_ref();
    if n == 0 || schema.field(n - 1).name() != ROW_KIND_COLUMN {
        return None;
    }
    batch.column(n - 1).as_primitive_opt::<Int8Type>()
}

/// The kind of row `row` (`+I` when the batch has no row-kind column).
pub fn row_kind_at(kinds: Option<&Int8Array>, row: usize) -> Result<RowKind> {
    match kinds {
        None => Ok(RowKind::Insert),
        Some(k) if k.is_null(row) => Err(RuntimeError::Graph(format!(
            "null in column {ROW_KIND_COLUMN}"
        ))),
        Some(k) => RowKind::from_i8(k.value(row)),
    }
}

/// The projection expressions of a projection over an updating stream with
/// `logical_width` logical columns: `exprs` then the row-kind column passed through.
pub fn with_row_kind(
    mut exprs: Vec<(Arc<dyn datafusion::physical_expr::PhysicalExpr>, String)>,
    logical_width: usize,
) -> Vec<(Arc<dyn datafusion::physical_expr::PhysicalExpr>, String)> {
    exprs.push((
        Arc::new(datafusion::physical_expr::expressions::Column::new(
            ROW_KIND_COLUMN,
            logical_width,
        )),
        ROW_KIND_COLUMN.to_string(),
    ));
    exprs
}

/// Whether a sink connector consumes update changes (Flink: `print` and `blackhole`
/// accept all changes; `filesystem` only inserts).
pub fn sink_accepts_updates(connector: &str) -> bool {
    matches!(connector, "print" | "blackhole")
}

/// Flink's planner error for an insert-only sink fed an updating stream.
pub fn update_not_supported_message(table: &str, node: &str) -> String {
    format!(
        "Table sink 'default_catalog.default_database.{table}' doesn't support consuming update changes which is produced by node {node}"
    )
}

#[cfg(test)]
mod tests {
    use arrow::array::Int64Array;

    use super::*;

    #[test]
    fn row_kinds_round_trip_and_are_found_only_in_the_trailing_column() {
        let logical = Schema::new(vec![Field::new("a", DataType::Int64, false)]);
        let schema = Arc::new(updating_schema(&logical));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
                row_kind_array([
                    RowKind::Insert,
                    RowKind::UpdateBefore,
                    RowKind::UpdateAfter,
                    RowKind::Delete,
                ]),
            ],
        )
        .unwrap();
        let kinds = row_kinds(&batch);
        let got: Vec<&str> = (0..4)
            .map(|r| row_kind_at(kinds, r).unwrap().short_string())
            .collect();
        assert_eq!(got, vec!["+I", "-U", "+U", "-D"]);
        assert!(row_kind_at(kinds, 0).unwrap().is_accumulate());
        assert!(!row_kind_at(kinds, 3).unwrap().is_accumulate());
        let insert_only = batch.project(&[0]).unwrap();
        assert!(row_kinds(&insert_only).is_none());
        assert_eq!(row_kind_at(None, 0).unwrap(), RowKind::Insert);
        assert!(RowKind::from_i8(4).is_err());
        assert!(sink_accepts_updates("print") && !sink_accepts_updates("filesystem"));
    }
}
