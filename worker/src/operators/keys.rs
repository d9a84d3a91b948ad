//! Grouping keys of keyed operators: the key columns of each row encoded once per
//! batch with Arrow's row format (compact, comparable bytes that state tables store),
//! each row's key group (for `StateTable`), and decoding stored keys back into columns
//! when results are emitted.

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{Field, Schema};
use arrow::row::{RowConverter, Rows, SortField};

use crate::runtime::error::{Result, RuntimeError};
use crate::state::key::key_groups;

/// Encodes and decodes the key columns of one input schema.
#[derive(Debug)]
pub struct KeyEncoder {
    columns: Vec<usize>,
    fields: Vec<Field>,
    /// `None` without key columns (a global aggregate: every key is empty).
    converter: Option<RowConverter>,
}

/// The keys of one batch.
#[derive(Debug)]
pub struct EncodedKeys {
    rows: Option<Rows>,
    /// The key group of every row.
    pub key_groups: Vec<u32>,
}

impl EncodedKeys {
    /// Row `row`'s key bytes (empty without key columns).
    pub fn key(&self, row: usize) -> &[u8] {
        match &self.rows {
            Some(rows) => rows.row(row).data(),
            None => &[],
        }
    }
}

impl KeyEncoder {
    pub fn new(schema: &Schema, columns: &[usize]) -> Result<KeyEncoder> {
        let mut fields = Vec::with_capacity(columns.len());
        for &c in columns {
            if c >= schema.fields().len() {
                return Err(RuntimeError::Graph(format!(
                    "key column {c} is outside the input's {} columns",
                    schema.fields().len()
                )));
            }
            fields.push(schema.field(c).clone());
        }
        let converter = if columns.is_empty() {
            None
        } else {
            Some(RowConverter::new(
                fields
                    .iter()
                    .map(|f| SortField::new(f.data_type().clone()))
                    .collect(),
            )?)
        };
        Ok(KeyEncoder {
            columns: columns.to_vec(),
            fields,
            converter,
        })
    }

    /// The key columns' fields, in key order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    pub fn encode(&self, batch: &RecordBatch, max_parallelism: u32) -> Result<EncodedKeys> {
        let columns: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|&c| batch.column(c).clone())
            .collect();
        let rows = match &self.converter {
            Some(conv) => Some(conv.convert_columns(&columns)?),
            None => None,
        };
        Ok(EncodedKeys {
            rows,
            key_groups: key_groups(&columns, batch.num_rows(), max_parallelism)?,
        })
    }

    /// The key columns of `keys` (bytes from [`EncodedKeys::key`]), in order.
    pub fn decode<'a>(&self, keys: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<ArrayRef>> {
        match &self.converter {
            None => Ok(Vec::new()),
            Some(conv) => {
                let parser = conv.parser();
                Ok(conv.convert_rows(keys.into_iter().map(|k| parser.parse(k)))?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, Int64Array, StringArray};

    use super::*;

    #[test]
    fn round_trips_keys_and_groups_equal_keys_together() {
        let batch = RecordBatch::try_from_iter(vec![
            (
                "a",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(1)])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec!["x", "y", "x"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let enc = KeyEncoder::new(&batch.schema(), &[1, 0]).unwrap();
        let keys = enc.encode(&batch, 128).unwrap();
        assert_eq!(keys.key(0), keys.key(2));
        assert_ne!(keys.key(0), keys.key(1));
        assert_eq!(keys.key_groups[0], keys.key_groups[2]);
        let cols = enc.decode([keys.key(1), keys.key(0)]).unwrap();
        assert_eq!(
            cols[0].as_ref(),
            &StringArray::from(vec!["y", "x"]) as &dyn Array
        );
        assert_eq!(
            cols[1].as_ref(),
            &Int64Array::from(vec![None, Some(1)]) as &dyn Array
        );
        let global = KeyEncoder::new(&batch.schema(), &[]).unwrap();
        let g = global.encode(&batch, 128).unwrap();
        assert!(g.key(1).is_empty() && g.key_groups.iter().all(|k| *k == g.key_groups[0]));
        assert!(KeyEncoder::new(&batch.schema(), &[5]).is_err());
    }
}
