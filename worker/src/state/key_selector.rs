//! [`KeySelector`]: Flink's `KeySelector` for Arrow batches — the key of every row
//! as bytes for keyed state (the row's `arrow::row` encoding of the key columns,
//! decodable back to columns) and its key group (from the stable hash of
//! [`crate::state::key`], never from the row encoding).

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::row::{Row, RowConverter, Rows, SortField};

use crate::runtime::error::{Result, RuntimeError};
use crate::state::key::key_groups;
use crate::state::keyed::KeyBytes;

/// Extracts keys from batches of one schema.
#[derive(Debug)]
pub struct KeySelector {
    key_columns: Vec<usize>,
    converter: RowConverter,
    max_parallelism: u32,
}

/// The keys of one batch's rows.
#[derive(Debug)]
pub struct BatchKeys {
    rows: Rows,
    key_groups: Vec<u32>,
}

impl BatchKeys {
    pub fn len(&self) -> usize {
        self.key_groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.key_groups.is_empty()
    }

    /// The key group of row `row`.
    pub fn key_group(&self, row: usize) -> u32 {
        self.key_groups[row]
    }

    pub fn key_groups(&self) -> &[u32] {
        &self.key_groups
    }

    /// The encoded key of row `row`, borrowed (compare or hash without allocating).
    pub fn row(&self, row: usize) -> Row<'_> {
        self.rows.row(row)
    }

    /// The encoded key of row `row`, owned for state.
    pub fn key_bytes(&self, row: usize) -> KeyBytes {
        Arc::from(self.rows.row(row).as_ref())
    }
}

impl KeySelector {
    /// Keys on columns `key_columns` of `schema`.
    pub fn new(schema: &SchemaRef, key_columns: Vec<usize>, max_parallelism: u32) -> Result<Self> {
        let fields = key_columns
            .iter()
            .map(|&i| {
                schema
                    .fields()
                    .get(i)
                    .map(|f| SortField::new(f.data_type().clone()))
                    .ok_or_else(|| {
                        RuntimeError::Graph(format!(
                            "key column {i} out of range for a schema of {} columns",
                            schema.fields().len()
                        ))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(KeySelector {
            key_columns,
            converter: RowConverter::new(fields)?,
            max_parallelism,
        })
    }

    pub fn key_columns(&self) -> &[usize] {
        &self.key_columns
    }

    /// The key bytes and key group of every row of `batch`.
    pub fn keys(&self, batch: &RecordBatch) -> Result<BatchKeys> {
        let columns: Vec<ArrayRef> = self
            .key_columns
            .iter()
            .map(|&i| {
                batch.columns().get(i).cloned().ok_or_else(|| {
                    RuntimeError::Graph(format!("key column {i} missing from a batch"))
                })
            })
            .collect::<Result<_>>()?;
        Ok(BatchKeys {
            rows: self.converter.convert_columns(&columns)?,
            key_groups: key_groups(&columns, batch.num_rows(), self.max_parallelism)?,
        })
    }

    /// Decodes keys back into key columns (to emit keys with results, e.g. windows).
    pub fn decode<'a>(&self, keys: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<ArrayRef>> {
        let parser = self.converter.parser();
        let rows: Vec<Row<'_>> = keys.into_iter().map(|k| parser.parse(k)).collect();
        Ok(self.converter.convert_rows(rows)?)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn keys_are_equal_for_equal_values_and_decode_back() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("user", DataType::Utf8, true),
            Field::new("n", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![
                    Some("a"),
                    Some("b"),
                    Some("a"),
                    None,
                ])),
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
            ],
        )
        .unwrap();
        let sel = KeySelector::new(&schema, vec![0], 128).unwrap();
        let keys = sel.keys(&batch).unwrap();
        assert_eq!(keys.len(), 4);
        assert_eq!(keys.key_bytes(0), keys.key_bytes(2));
        assert_ne!(keys.key_bytes(0), keys.key_bytes(1));
        assert_ne!(keys.key_bytes(3), keys.key_bytes(0));
        // Key groups come from the stable hash, not the row encoding.
        let expected = key_groups(&[batch.column(0).clone()], 4, 128).unwrap();
        assert_eq!(keys.key_groups(), expected.as_slice());
        let k: Vec<KeyBytes> = (0..4).map(|i| keys.key_bytes(i)).collect();
        let decoded = sel.decode(k.iter().map(|k| k.as_ref())).unwrap();
        assert_eq!(decoded[0].as_ref(), batch.column(0).as_ref());
        assert!(KeySelector::new(&schema, vec![2], 128).is_err());
    }
}
