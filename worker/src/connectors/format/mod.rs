//! Text formats of the filesystem connector (Flink's `format` option): `json` and
//! `csv`. A [`Format`] turns lines into Arrow batches of the table schema
//! ([`BatchDecoder`]) and batches into lines, byte for byte as Flink writes them
//! ([`Format::encode_batch`]).

pub mod columns;
pub mod csv;
pub mod decoder;
pub mod json;
pub mod json_record;
pub mod value;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use self::columns::{ColumnBuilder, check_supported, field};
use self::csv::CsvOptions;
pub use self::decoder::BatchDecoder;
use self::json::JsonOptions;
use self::json_record::JsonRecordReader;
use crate::connectors::options::Options;
use crate::runtime::error::{Result, RuntimeError};

#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    Json(JsonOptions),
    Csv(CsvOptions),
}

impl Format {
    /// Reads `'format'` and its own options (`json.*`, `csv.*`).
    pub fn from_options(options: &Options) -> Result<Format> {
        match options.require("format")? {
            "json" => Ok(Format::Json(JsonOptions::from_options(options)?)),
            "csv" => Ok(Format::Csv(CsvOptions::from_options(options)?)),
            other => Err(RuntimeError::option(
                "format",
                format!("unknown format '{other}'; supported: json, csv"),
            )),
        }
    }

    /// The format options of `format` (for the connector's unknown-option check).
    pub fn known_options(options: &Options) -> &'static [&'static str] {
        match options.get("format") {
            Some("json") => json::OPTIONS,
            Some("csv") => csv::OPTIONS,
            _ => &[],
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Format::Json(_) => "json",
            Format::Csv(_) => "csv",
        }
    }

    pub fn ignore_parse_errors(&self) -> bool {
        match self {
            Format::Json(o) => o.ignore_parse_errors,
            Format::Csv(o) => o.ignore_parse_errors,
        }
    }

    /// Fails when the schema has a column type the format cannot read or write.
    pub fn check_schema(&self, schema: &SchemaRef) -> Result<()> {
        schema
            .fields()
            .iter()
            .try_for_each(|f| check_supported(f.name(), f.data_type()))
    }

    pub fn decoder(&self, schema: SchemaRef) -> Result<BatchDecoder> {
        self.check_schema(&schema)?;
        Ok(BatchDecoder::new(
            self.clone(),
            JsonRecordReader::new(schema.fields().iter().map(|f| f.name().as_str())),
            new_builders(&schema),
            schema,
        ))
    }

    /// Appends every row of `batch` to `out`, each line ended by `\n`.
    pub fn encode_batch(&self, batch: &RecordBatch, out: &mut String) -> Result<()> {
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let mut fields = Vec::with_capacity(batch.num_columns());
        for row in 0..batch.num_rows() {
            fields.clear();
            for column in batch.columns() {
                fields.push(field(column.as_ref(), row)?);
            }
            match self {
                Format::Json(o) => o.encode_row(&names, &fields, out),
                Format::Csv(o) => o.encode_row(&fields, out),
            }
            out.push('\n');
        }
        Ok(())
    }
}

fn new_builders(schema: &SchemaRef) -> Vec<ColumnBuilder> {
    schema
        .fields()
        .iter()
        .map(|f| ColumnBuilder::new(f.data_type(), crate::connectors::MAX_BATCH_ROWS))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field as ArrowField, Schema, TimeUnit};

    use super::*;

    fn bid_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            ArrowField::new("auction", DataType::Int64, true),
            ArrowField::new("channel", DataType::Utf8, true),
            ArrowField::new("price", DataType::Decimal128(23, 3), true),
            ArrowField::new(
                "date_time",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
        ]))
    }

    #[test]
    fn json_round_trip_through_decoder_and_encoder() {
        let format = Format::from_options(&Options::new([("format", "json")])).unwrap();
        let mut dec = format.decoder(bid_schema()).unwrap();
        assert!(dec
            .decode_line(r#"{"auction": 1002, "channel": "Apple", "price": 12.5, "date_time": "2026-01-01 00:00:00.002", "extra": 1}"#)
            .unwrap());
        assert!(dec.decode_line(r#"{"auction": 7}"#).unwrap());
        assert!(!dec.decode_line("").unwrap());
        let err = dec.decode_line(r#"{"auction": "x"}"#).unwrap_err();
        assert!(err.contains("auction"), "{err}");
        assert_eq!(dec.rows(), 2);
        let batch = dec.finish().unwrap();
        assert_eq!(batch.num_rows(), 2);
        let mut out = String::new();
        format.encode_batch(&batch, &mut out).unwrap();
        assert_eq!(
            out,
            "{\"auction\":1002,\"channel\":\"Apple\",\"price\":12.5,\"date_time\":\"2026-01-01 00:00:00.002\"}\n\
             {\"auction\":7,\"channel\":null,\"price\":null,\"date_time\":null}\n"
        );
    }

    #[test]
    fn json_fail_on_missing_field() {
        let format = Format::from_options(&Options::new([
            ("format", "json"),
            ("json.fail-on-missing-field", "true"),
        ]))
        .unwrap();
        let mut dec = format.decoder(bid_schema()).unwrap();
        assert!(
            dec.decode_line(r#"{"auction": 7}"#)
                .unwrap_err()
                .contains("missing")
        );
    }

    #[test]
    fn csv_round_trip_with_nulls() {
        let format = Format::from_options(&Options::new([
            ("format", "csv"),
            ("csv.null-literal", "N/A"),
        ]))
        .unwrap();
        let mut dec = format.decoder(bid_schema()).unwrap();
        assert!(
            dec.decode_line("1,\"a, b\",1.250,2026-01-01T00:00:01Z")
                .unwrap()
        );
        assert!(dec.decode_line("2,N/A,,").unwrap());
        assert!(dec.decode_line("3,x").unwrap_err().contains("mismatch"));
        let batch = dec.finish().unwrap();
        let mut out = String::new();
        format.encode_batch(&batch, &mut out).unwrap();
        assert_eq!(
            out,
            "1,\"a, b\",1.25,\"2026-01-01 00:00:01\"\n2,N/A,N/A,N/A\n"
        );
    }

    #[test]
    fn rejects_unknown_format() {
        assert!(Format::from_options(&Options::new([("format", "avro")])).is_err());
    }
}
