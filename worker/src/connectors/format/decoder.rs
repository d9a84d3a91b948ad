//! [`BatchDecoder`]: turns lines of a text format into rows of the table schema and
//! collects them into Arrow batches. A row's cells are all parsed before any is
//! appended, so a malformed line adds nothing (the connector's error policy decides
//! what happens to it); the cells live on the stack for tables of up to
//! [`INLINE_COLUMNS`] columns, so a line costs no allocation besides its strings.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use smallvec::SmallVec;

use super::Format;
use super::columns::{Cell, ColumnBuilder};
use super::csv::CsvOptions;
use super::json::JsonOptions;
use super::json_record::{INLINE_COLUMNS, JsonRecordReader, JsonScalar, JsonValues};
use crate::runtime::error::Result;

/// One row's cells.
type Cells<'a> = SmallVec<[Cell<'a>; INLINE_COLUMNS]>;

/// Collects decoded records into a batch of the table schema.
#[derive(Debug)]
pub struct BatchDecoder {
    format: Format,
    json: JsonRecordReader,
    schema: SchemaRef,
    builders: Vec<ColumnBuilder>,
    rows: usize,
}

impl BatchDecoder {
    pub(super) fn new(
        format: Format,
        json: JsonRecordReader,
        builders: Vec<ColumnBuilder>,
        schema: SchemaRef,
    ) -> BatchDecoder {
        BatchDecoder {
            format,
            json,
            schema,
            builders,
            rows: 0,
        }
    }

    /// Decodes one line. `Ok(true)`: a row was added; `Ok(false)`: nothing to read on
    /// this line (blank, comment); `Err`: malformed, nothing was added.
    pub fn decode_line(&mut self, line: &str) -> Result<bool, String> {
        let mut cells = Cells::new();
        let row = match &self.format {
            Format::Json(o) => self.json_cells(o, line, &mut cells)?,
            Format::Csv(o) => self.csv_cells(o, line, &mut cells)?,
        };
        if !row {
            return Ok(false);
        }
        for (builder, cell) in self.builders.iter_mut().zip(cells.drain(..)) {
            builder.push(cell);
        }
        self.rows += 1;
        Ok(true)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The rows decoded since the last call, as one batch.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let columns = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect::<Result<Vec<_>>>()?;
        self.rows = 0;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }

    fn json_cells<'a>(
        &self,
        o: &JsonOptions,
        line: &'a str,
        cells: &mut Cells<'a>,
    ) -> Result<bool, String> {
        if line.trim().is_empty() {
            return Ok(false);
        }
        let mut values = JsonValues::new();
        self.json_values(o, line, &mut values)?;
        for ((f, builder), value) in self.schema.fields().iter().zip(&self.builders).zip(values) {
            let named = |e: String| format!("field '{}': {e}", f.name());
            cells.push(match value {
                None if o.fail_on_missing_field => {
                    return Err(format!("field '{}' is missing", f.name()));
                }
                None | Some(JsonScalar::Null) => Cell::Null,
                Some(JsonScalar::Str(s)) => builder.parse_text(s).map_err(named)?,
                Some(JsonScalar::Owned(s)) => builder.parse_text(&s).map_err(named)?.into_owned(),
                Some(JsonScalar::Int(v)) => {
                    builder.parse_json(&v.into()).map_err(named)?.into_owned()
                }
                Some(JsonScalar::Other(v)) => builder.parse_json(&v).map_err(named)?.into_owned(),
            });
        }
        Ok(true)
    }

    /// A JSON line's values by column: the fast reader's, or — for a line it declines —
    /// the full parser's (its error message, or its values if it accepts the line).
    fn json_values<'a>(
        &self,
        o: &JsonOptions,
        line: &'a str,
        values: &mut JsonValues<'a>,
    ) -> Result<(), String> {
        if self.json.read(line, values).is_ok() {
            return Ok(());
        }
        let record = o.parse_record(line)?.unwrap_or_default();
        values.clear();
        values.extend(self.schema.fields().iter().map(|f| {
            record.get(f.name()).map(|v| match v {
                serde_json::Value::Null => JsonScalar::Null,
                serde_json::Value::String(s) => JsonScalar::Owned(s.clone()),
                other => JsonScalar::Other(other.clone()),
            })
        }));
        Ok(())
    }

    fn csv_cells<'a>(
        &self,
        o: &CsvOptions,
        line: &'a str,
        cells: &mut Cells<'a>,
    ) -> Result<bool, String> {
        let Some(values) = o.split_record(line)? else {
            return Ok(false);
        };
        if values.len() < self.builders.len() {
            return Err(format!(
                "row length mismatch: {} fields expected but was {}",
                self.builders.len(),
                values.len()
            ));
        }
        for ((f, builder), (text, quoted)) in
            self.schema.fields().iter().zip(&self.builders).zip(values)
        {
            let is_string = matches!(builder, ColumnBuilder::Utf8 { .. });
            cells.push(
                if o.is_null(&text, quoted) || (!is_string && text.trim().is_empty()) {
                    Cell::Null
                } else {
                    builder
                        .parse_text(&text)
                        .map_err(|e| format!("field '{}': {e}", f.name()))?
                        .into_owned()
                },
            );
        }
        Ok(true)
    }
}
