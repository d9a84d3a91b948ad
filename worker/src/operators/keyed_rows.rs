//! The shape every canonical keyed snapshot shares, whatever its entries hold: an Arrow
//! IPC stream of rows `(key_group UInt32, key Binary, [leading columns,] key_text Utf8,
//! namespace Utf8?, <entry columns>)` in batches of at most [`SNAPSHOT_BATCH_ROWS`].
//! Accumulator state ([`super::keyed_snapshot`]: the entry columns are the
//! accumulators' state) and row state (an OVER aggregate's waiting rows and frames, the
//! joins' buffered rows: the entry columns are the rows' own columns) are written with
//! [`KeyedRowsWriter`] and read back with [`OwnRows`], which keeps only the rows of a
//! subtask's key groups (restore after rescaling). The master's state browser pages
//! any of them by the text columns.

use std::io::Cursor;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt32Type};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use crate::key_groups::KeyGroupRange;
use crate::runtime::error::{Result, RuntimeError};

/// Rows per record batch of a snapshot (explicit limit on what one batch holds).
pub const SNAPSHOT_BATCH_ROWS: usize = 8192;
/// The last column before an entry's own columns.
pub const NAMESPACE: &str = "namespace";

pub(crate) fn invalid(what: &str) -> RuntimeError {
    RuntimeError::Graph(format!("keyed state snapshot: {what}"))
}

/// Writes a keyed snapshot batch by batch.
pub struct KeyedRowsWriter {
    schema: SchemaRef,
    writer: StreamWriter<Vec<u8>>,
}

impl KeyedRowsWriter {
    /// A snapshot with `leading` columns between the key and its text, and `entry`
    /// columns after the namespace.
    pub fn new(leading: Vec<Field>, entry: Vec<Field>) -> Result<KeyedRowsWriter> {
        let mut fields = vec![
            Field::new("key_group", DataType::UInt32, false),
            Field::new("key", DataType::Binary, false),
        ];
        fields.extend(leading);
        fields.push(Field::new("key_text", DataType::Utf8, false));
        fields.push(Field::new(NAMESPACE, DataType::Utf8, true));
        fields.extend(entry);
        let schema = Arc::new(Schema::new(fields));
        let writer = StreamWriter::try_new(Vec::new(), &schema)?;
        Ok(KeyedRowsWriter { schema, writer })
    }

    /// One batch: every row's key group and key, the leading columns, `[key_text,
    /// namespace]`, then the entry columns (at most [`SNAPSHOT_BATCH_ROWS`] rows is the
    /// caller's limit).
    pub fn write(
        &mut self,
        key_groups: &[u32],
        keys: &[&[u8]],
        leading: Vec<ArrayRef>,
        described: [ArrayRef; 2],
        entry: Vec<ArrayRef>,
    ) -> Result<()> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(key_groups.to_vec())),
            Arc::new(BinaryArray::from_vec(keys.to_vec())),
        ];
        columns.extend(leading);
        columns.extend(described);
        columns.extend(entry);
        self.writer
            .write(&RecordBatch::try_new(self.schema.clone(), columns)?)?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<Vec<u8>> {
        self.writer.finish()?;
        Ok(self.writer.into_inner()?)
    }
}

/// The batches of a keyed snapshot with only the rows of `range`'s key groups (batches
/// without any are skipped).
pub struct OwnRows<'a> {
    reader: StreamReader<Cursor<&'a [u8]>>,
    range: KeyGroupRange,
}

impl<'a> OwnRows<'a> {
    pub fn open(bytes: &'a [u8], range: KeyGroupRange) -> Result<OwnRows<'a>> {
        let reader = StreamReader::try_new(Cursor::new(bytes), None)?;
        let schema = reader.schema();
        let (Ok(0), Ok(1)) = (schema.index_of("key_group"), schema.index_of("key")) else {
            return Err(invalid("key columns missing"));
        };
        Ok(OwnRows { reader, range })
    }

    pub fn schema(&self) -> SchemaRef {
        self.reader.schema()
    }

    /// Where the entry columns start (after the namespace).
    pub fn entry_columns_start(&self) -> Result<usize> {
        Ok(self
            .schema()
            .index_of(NAMESPACE)
            .map_err(|_| invalid("namespace column missing"))?
            + 1)
    }
}

impl Iterator for OwnRows<'_> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let batch = match self.reader.next()? {
                Ok(b) => b,
                Err(e) => return Some(Err(e.into())),
            };
            let Some(groups) = batch.column(0).as_primitive_opt::<UInt32Type>() else {
                return Some(Err(invalid("key_group is not UInt32")));
            };
            let mine: UInt32Array = (0..batch.num_rows() as u32)
                .filter(|&row| self.range.contains(groups.value(row as usize)))
                .collect();
            if mine.is_empty() {
                continue;
            }
            if mine.len() == batch.num_rows() {
                return Some(Ok(batch));
            }
            return Some(take_record_batch(&batch, &mine).map_err(Into::into));
        }
    }
}

/// A batch's key groups and keys (columns 0 and 1, as [`OwnRows`] checked them).
pub fn keys_of(batch: &RecordBatch) -> Result<(&UInt32Array, &BinaryArray)> {
    let groups = batch
        .column(0)
        .as_primitive_opt::<UInt32Type>()
        .ok_or_else(|| invalid("key_group is not UInt32"))?;
    let keys = batch
        .column(1)
        .as_binary_opt::<i32>()
        .ok_or_else(|| invalid("key is not Binary"))?;
    if keys.null_count() > 0 {
        return Err(invalid("a key is null"));
    }
    Ok((groups, keys))
}

/// Column `name` of a snapshot batch, or an error naming it.
pub fn column<'b>(batch: &'b RecordBatch, name: &str) -> Result<&'b ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| invalid(&format!("column {name} missing")))
}
