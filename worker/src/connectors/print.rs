//! The `print` sink (Flink's `PrintTableSinkFactory`): each row on standard out (or
//! error with `'standard-error'`) as Flink's `Row.toString` — `+I[1, foo,
//! 2026-01-01T00:00]` — prefixed by `'print-identifier'` and, when the sink runs with
//! parallelism > 1, the 1-based subtask index (`id:2> ` / `2> `). Rows of an updating
//! stream (a trailing `__row_kind` column, see `runtime::changelog`) show their kind
//! (`-U[…]`, `+U[…]`, `-D[…]`) and not the column. And the `blackhole` sink, which
//! drops everything.

use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;

use super::format::columns::{Field, field};
use super::format::value::{
    big_decimal, format_date, format_iso_timestamp, java_double, java_float,
};
use super::options::Options;
use super::{Sink, SinkWriter};
use crate::runtime::changelog::{row_kind_at, row_kinds};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::operator::SubtaskInfo;

pub const PRINT_OPTIONS: &[&str] = &[
    "connector",
    "print-identifier",
    "standard-error",
    "sink.parallelism",
];
pub const BLACKHOLE_OPTIONS: &[&str] = &["connector", "sink.parallelism", "latency.column"];
/// Output buffered before it is written out, per writer.
pub const PRINT_BUFFER_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
enum Target {
    Stdout,
    Stderr,
    /// Tests: everything printed, shared.
    Buffer(Arc<Mutex<Vec<u8>>>),
}

#[derive(Debug)]
pub struct PrintSink {
    identifier: String,
    target: Target,
}

impl PrintSink {
    pub fn new(options: &Options) -> Result<PrintSink> {
        let stderr = options.get_bool("standard-error")?.unwrap_or(false);
        Ok(PrintSink {
            identifier: options.get("print-identifier").unwrap_or("").to_string(),
            target: if stderr {
                Target::Stderr
            } else {
                Target::Stdout
            },
        })
    }

    /// A print sink writing into `buffer` instead of standard out (tests).
    pub fn to_buffer(identifier: &str, buffer: Arc<Mutex<Vec<u8>>>) -> PrintSink {
        PrintSink {
            identifier: identifier.to_string(),
            target: Target::Buffer(buffer),
        }
    }
}

/// Flink's `PrintSinkOutputWriter` prefix.
pub fn print_prefix(identifier: &str, index: u32, parallelism: u32) -> String {
    let mut prefix = identifier.to_string();
    if parallelism > 1 {
        if !prefix.is_empty() {
            prefix.push(':');
        }
        prefix.push_str(&(index + 1).to_string());
    }
    if !prefix.is_empty() {
        prefix.push_str("> ");
    }
    prefix
}

/// One value as Java's `toString` of Flink's external type shows it.
fn java_to_string(f: Field<'_>, out: &mut String) {
    match f {
        Field::Null => out.push_str("null"),
        Field::Bool(v) => out.push_str(if v { "true" } else { "false" }),
        Field::Int(v) => out.push_str(&v.to_string()),
        Field::Float32(v) => out.push_str(&java_float(v)),
        Field::Float64(v) => out.push_str(&java_double(v)),
        Field::Str(s) => out.push_str(s),
        Field::Decimal { unscaled, scale } => out.push_str(&big_decimal(unscaled, scale as i32)),
        Field::Timestamp(nanos) => out.push_str(&format_iso_timestamp(nanos)),
        Field::Date(days) => out.push_str(&format_date(days as i64)),
    }
}

/// The rows of `batch` as the print sink writes them: `+I[…]` for an insert-only
/// batch, each row's own kind for a batch with a row-kind column.
pub fn format_rows(prefix: &str, batch: &RecordBatch, out: &mut String) -> Result<()> {
    let kinds = row_kinds(batch);
    let width = batch.num_columns() - usize::from(kinds.is_some());
    for row in 0..batch.num_rows() {
        out.push_str(prefix);
        out.push_str(row_kind_at(kinds, row)?.short_string());
        out.push('[');
        for (i, column) in batch.columns()[..width].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            java_to_string(field(column.as_ref(), row)?, out);
        }
        out.push_str("]\n");
    }
    Ok(())
}

impl Sink for PrintSink {
    fn name(&self) -> &str {
        "print"
    }

    fn create_writer(&self, subtask: &SubtaskInfo) -> Result<Box<dyn SinkWriter>> {
        Ok(Box::new(PrintWriter {
            prefix: print_prefix(&self.identifier, subtask.index, subtask.parallelism),
            target: self.target.clone(),
            text: String::with_capacity(PRINT_BUFFER_BYTES),
        }))
    }
}

struct PrintWriter {
    prefix: String,
    target: Target,
    text: String,
}

impl PrintWriter {
    fn flush(&mut self) -> Result<()> {
        let bytes = self.text.as_bytes();
        let result = match &self.target {
            Target::Stdout => blocking(|| std::io::stdout().lock().write_all(bytes)),
            Target::Stderr => blocking(|| std::io::stderr().lock().write_all(bytes)),
            Target::Buffer(buffer) => {
                match buffer.lock() {
                    Ok(mut b) => b.extend_from_slice(bytes),
                    Err(poisoned) => poisoned.into_inner().extend_from_slice(bytes),
                }
                Ok(())
            }
        };
        self.text.clear();
        result.map_err(|e| RuntimeError::io("print", e))
    }
}

/// Runs a write that may block (a terminal or pipe that is not read) without stalling
/// the other tasks of a multi-threaded runtime's worker thread (heartbeats, exchange).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi_thread {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

impl SinkWriter for PrintWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        format_rows(&self.prefix, batch, &mut self.text)?;
        self.flush()
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}

/// Flink's `blackhole` connector: swallows every row. Eddy's addition for benchmarks:
/// `'latency.column' = 'pt'` names a TIMESTAMP column (e.g. `pt AS PROCTIME()` of the
/// source table) whose processing-time latency the sink records in its metrics.
#[derive(Debug, Default)]
pub struct BlackholeSink {
    latency_column: Option<usize>,
}

impl BlackholeSink {
    pub fn new(options: &Options, schema: &SchemaRef) -> Result<BlackholeSink> {
        let latency_column = match options.get("latency.column") {
            None => None,
            Some(name) => {
                let (i, field) = schema.column_with_name(name).ok_or_else(|| {
                    RuntimeError::option(
                        "latency.column",
                        format!("the sink has no column '{name}'"),
                    )
                })?;
                if !matches!(field.data_type(), DataType::Timestamp(..)) {
                    return Err(RuntimeError::option(
                        "latency.column",
                        format!("'{name}' is {}, not a TIMESTAMP", field.data_type()),
                    ));
                }
                Some(i)
            }
        };
        Ok(BlackholeSink { latency_column })
    }
}

impl Sink for BlackholeSink {
    fn name(&self) -> &str {
        "blackhole"
    }

    fn create_writer(&self, _subtask: &SubtaskInfo) -> Result<Box<dyn SinkWriter>> {
        Ok(Box::new(BlackholeWriter))
    }

    fn latency_column(&self) -> Option<usize> {
        self.latency_column
    }
}

struct BlackholeWriter;

impl SinkWriter for BlackholeWriter {
    fn write(&mut self, _batch: &RecordBatch) -> Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        Decimal128Array, Float64Array, Int64Array, StringArray, TimestampMillisecondArray,
    };
    use arrow::datatypes::{DataType, Field as ArrowField, Schema, TimeUnit};

    use super::*;
    use crate::connectors::filesystem::tests::subtask;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            ArrowField::new("a", DataType::Int64, true),
            ArrowField::new("b", DataType::Utf8, true),
            ArrowField::new("t", DataType::Timestamp(TimeUnit::Millisecond, None), true),
            ArrowField::new("d", DataType::Decimal128(10, 3), true),
            ArrowField::new("f", DataType::Float64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec![Some("foo"), Some("a b")])),
                Arc::new(TimestampMillisecondArray::from(vec![
                    Some(1_767_225_600_000),
                    Some(1_767_225_601_250),
                ])),
                Arc::new(
                    Decimal128Array::from(vec![Some(1500), None])
                        .with_precision_and_scale(10, 3)
                        .unwrap(),
                ),
                Arc::new(Float64Array::from(vec![Some(1.0e10), Some(0.1)])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn prints_rows_like_flink() {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = PrintSink::to_buffer("", buffer.clone());
        let mut w = sink.create_writer(&subtask(0, 1)).unwrap();
        w.write(&batch()).unwrap();
        w.finish().unwrap();
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "+I[1, foo, 2026-01-01T00:00, 1.500, 1.0E10]\n+I[null, a b, 2026-01-01T00:00:01.250, null, 0.1]\n"
        );
    }

    #[test]
    fn prefixes() {
        assert_eq!(print_prefix("", 0, 1), "");
        assert_eq!(print_prefix("", 1, 2), "2> ");
        assert_eq!(print_prefix("sink", 0, 1), "sink> ");
        assert_eq!(print_prefix("sink", 2, 4), "sink:3> ");
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let mut w = PrintSink::to_buffer("out", buffer.clone())
            .create_writer(&subtask(1, 2))
            .unwrap();
        w.write(&batch()).unwrap();
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        assert!(text.lines().all(|l| l.starts_with("out:2> +I[")), "{text}");
    }

    #[test]
    fn prints_row_kinds_of_an_updating_stream() {
        use crate::runtime::changelog::{RowKind, row_kind_array, updating_schema};
        let logical = Schema::new(vec![
            ArrowField::new("k", DataType::Utf8, false),
            ArrowField::new("n", DataType::Int64, false),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(updating_schema(&logical)),
            vec![
                Arc::new(StringArray::from(vec!["a", "a", "a", "b"])),
                Arc::new(Int64Array::from(vec![1, 1, 2, 7])),
                row_kind_array([
                    RowKind::Insert,
                    RowKind::UpdateBefore,
                    RowKind::UpdateAfter,
                    RowKind::Delete,
                ]),
            ],
        )
        .unwrap();
        let mut text = String::new();
        format_rows("p> ", &batch, &mut text).unwrap();
        assert_eq!(text, "p> +I[a, 1]\np> -U[a, 1]\np> +U[a, 2]\np> -D[b, 7]\n");
    }

    #[test]
    fn blackhole_swallows() {
        let mut w = BlackholeSink::default()
            .create_writer(&subtask(0, 1))
            .unwrap();
        w.write(&batch()).unwrap();
        w.finish().unwrap();
    }

    #[test]
    fn blackhole_latency_column_must_be_a_timestamp() {
        use arrow::datatypes::{Field as ArrowField, Schema, TimeUnit};
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            ArrowField::new("n", DataType::Int64, true),
            ArrowField::new(
                "pt",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                false,
            ),
        ]));
        let sink =
            |column: &str| BlackholeSink::new(&Options::new([("latency.column", column)]), &schema);
        assert_eq!(sink("pt").unwrap().latency_column(), Some(1));
        assert!(
            sink("n")
                .unwrap_err()
                .to_string()
                .contains("not a TIMESTAMP")
        );
        assert!(sink("zz").unwrap_err().to_string().contains("no column"));
        assert_eq!(BlackholeSink::default().latency_column(), None);
    }
}
