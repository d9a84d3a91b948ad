//! Creates connectors from their `WITH (...)` options, dispatching on `'connector'`
//! (Flink's `FactoryUtil`): unknown connectors and options unknown to the chosen
//! connector are errors naming them. `'scan.rows-per-second'` on any source wraps its
//! readers in a throttle (the rate is shared among subtasks).

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use super::datagen::DataGenSource;
use super::filesystem::FileSystemSource;
use super::filesystem_sink::FileSystemSink;
use super::format::Format;
use super::nexmark::NexmarkSource;
use super::options::Options;
use super::print::{BLACKHOLE_OPTIONS, BlackholeSink, PRINT_OPTIONS, PrintSink};
use super::throttle::{ThrottledReader, subtask_share};
use super::{Sink, Source, SourceReader, datagen, nexmark};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::operator::SubtaskInfo;

/// The option every source takes for throttling.
pub const SCAN_ROWS_PER_SECOND: &str = "scan.rows-per-second";
const FILESYSTEM_SOURCE_OPTIONS: &[&str] = &["connector", "path", "format", SCAN_ROWS_PER_SECOND];
const FILESYSTEM_SINK_OPTIONS: &[&str] = &[
    "connector",
    "path",
    "format",
    "sink.rolling-policy.file-size",
    "sink.parallelism",
];

fn check(options: &Options, base: &[&str], prefixes: &[&str]) -> Result<()> {
    let mut known: Vec<&str> = base.to_vec();
    known.extend_from_slice(Format::known_options(options));
    options.check_known(&known, prefixes)
}

fn with_scan_option(base: &[&'static str]) -> Vec<&'static str> {
    let mut known = base.to_vec();
    known.push(SCAN_ROWS_PER_SECOND);
    known
}

pub fn create_source(options: &Options, schema: SchemaRef) -> Result<Arc<dyn Source>> {
    let source: Arc<dyn Source> = match options.require("connector")? {
        "filesystem" => {
            check(options, FILESYSTEM_SOURCE_OPTIONS, &[])?;
            Arc::new(FileSystemSource::new(options, schema)?)
        }
        "datagen" => {
            options.check_known(&with_scan_option(datagen::OPTIONS), &["fields."])?;
            Arc::new(DataGenSource::new(options, schema)?)
        }
        "nexmark" => {
            options.check_known(&with_scan_option(nexmark::OPTIONS), &[])?;
            Arc::new(NexmarkSource::new(options, schema)?)
        }
        other => {
            return Err(RuntimeError::option(
                "connector",
                format!(
                    "unknown source connector '{other}'; supported: filesystem, datagen, nexmark"
                ),
            ));
        }
    };
    match options.get_u64(SCAN_ROWS_PER_SECOND)? {
        Some(0) => Err(RuntimeError::option(
            SCAN_ROWS_PER_SECOND,
            "must be positive",
        )),
        Some(rate) => Ok(Arc::new(ThrottledSource {
            inner: source,
            rows_per_second: rate,
        })),
        None => Ok(source),
    }
}

pub fn create_sink(options: &Options, schema: SchemaRef) -> Result<Arc<dyn Sink>> {
    match options.require("connector")? {
        "filesystem" => {
            check(options, FILESYSTEM_SINK_OPTIONS, &[])?;
            Ok(Arc::new(FileSystemSink::new(options, schema)?))
        }
        "print" => {
            options.check_known(PRINT_OPTIONS, &[])?;
            Ok(Arc::new(PrintSink::new(options)?))
        }
        "blackhole" => {
            options.check_known(BLACKHOLE_OPTIONS, &[])?;
            Ok(Arc::new(BlackholeSink::new(options, &schema)?))
        }
        other => Err(RuntimeError::option(
            "connector",
            format!("unknown sink connector '{other}'; supported: filesystem, print, blackhole"),
        )),
    }
}

/// Any source under `'scan.rows-per-second'`.
#[derive(Debug)]
pub struct ThrottledSource {
    inner: Arc<dyn Source>,
    rows_per_second: u64,
}

impl Source for ThrottledSource {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn create_reader(&self, subtask: &SubtaskInfo) -> Result<Box<dyn SourceReader>> {
        let rate = subtask_share(self.rows_per_second, subtask.index, subtask.parallelism).max(1);
        Ok(Box::new(ThrottledReader::new(
            self.inner.create_reader(subtask)?,
            rate as f64,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::SourceEvent;
    use crate::connectors::filesystem::tests::{schema, subtask};

    #[test]
    fn dispatches_and_rejects_unknowns() {
        let s = schema();
        let src = create_source(
            &Options::new([("connector", "datagen"), ("number-of-rows", "5")]),
            s.clone(),
        )
        .unwrap();
        assert_eq!(src.name(), "datagen");
        let err = create_source(&Options::new([("connector", "kafka")]), s.clone()).unwrap_err();
        assert!(err.to_string().contains("kafka"), "{err}");
        let err = create_source(
            &Options::new([
                ("connector", "filesystem"),
                ("path", "/tmp"),
                ("format", "json"),
                ("csv.field-delimiter", ";"),
            ]),
            s.clone(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("csv.field-delimiter"), "{err}");
        assert!(
            create_source(
                &Options::new([("connector", "nexmark"), ("bogus", "1")]),
                s.clone()
            )
            .is_err()
        );
        assert!(
            create_sink(
                &Options::new([("connector", "print"), ("print-identifier", "x")]),
                s.clone()
            )
            .is_ok()
        );
        assert!(
            create_sink(
                &Options::new([("connector", "blackhole"), ("path", "/x")]),
                s.clone()
            )
            .is_err()
        );
        assert!(create_sink(&Options::new([("connector", "jdbc")]), s.clone()).is_err());
        let dir = tempfile::tempdir().unwrap();
        let sink = create_sink(
            &Options::new([
                ("connector", "filesystem"),
                ("path", dir.path().display().to_string().as_str()),
                ("format", "csv"),
                ("csv.null-literal", "-"),
            ]),
            s,
        )
        .unwrap();
        assert_eq!(sink.name(), "filesystem");
    }

    #[test]
    fn scan_rows_per_second_throttles_any_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.json");
        std::fs::write(&file, "{\"id\": 1}\n").unwrap();
        let src = create_source(
            &Options::new([
                ("connector", "filesystem"),
                ("path", file.display().to_string().as_str()),
                ("format", "json"),
                ("scan.rows-per-second", "1"),
            ]),
            schema(),
        )
        .unwrap();
        let mut reader = src.create_reader(&subtask(0, 1)).unwrap();
        assert!(matches!(reader.poll().unwrap(), SourceEvent::Wait(_)));
    }
}
