//! The `filesystem` sink (Flink's `FileSystemTableSink` with its `FileSink`): `'path'`
//! is a directory (created if missing); each subtask writes its own part files, in
//! progress as hidden `.part-<uuid>-<subtask>-<n>.inprogress` and renamed atomically
//! to `part-<uuid>-<subtask>-<n>` on `finish()`. A part file rolls when it reaches
//! `'sink.rolling-policy.file-size'`. With checkpoints it is a two-phase-commit sink:
//! a checkpoint closes the open part (pre-commit) and the parts it covers are renamed
//! when the checkpoint completes (commit), or when a restore finds them in the
//! checkpoint it restores — so the committed output is exactly once.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::format::Format;
use super::options::Options;
use super::{Sink, SinkWriter};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::operator::SubtaskInfo;

/// Flink's default `sink.rolling-policy.file-size`: 128 MiB.
pub const DEFAULT_ROLLING_FILE_SIZE: u64 = 128 * 1024 * 1024;
/// Write buffer per open part file.
pub const WRITE_BUFFER_BYTES: usize = 256 * 1024;
/// Most part files one subtask keeps pending until `finish()`.
pub const MAX_PENDING_PARTS: usize = 10_000;

/// Flink's `MemorySize` syntax: `128mb`, `1 kb`, `4096` (bytes); units are binary.
pub fn parse_memory_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" | "bytes" => 1,
        "k" | "kb" | "kibibytes" => 1 << 10,
        "m" | "mb" | "mebibytes" => 1 << 20,
        "g" | "gb" | "gibibytes" => 1 << 30,
        "t" | "tb" | "tebibytes" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[derive(Debug)]
pub struct FileSystemSink {
    dir: PathBuf,
    format: Format,
    schema: SchemaRef,
    rolling_file_size: u64,
    /// One per sink, as Flink's `OutputFileConfig` part prefix `part-<uuid>`.
    uuid: String,
}

impl FileSystemSink {
    pub fn new(options: &Options, schema: SchemaRef) -> Result<FileSystemSink> {
        let format = Format::from_options(options)?;
        format.check_schema(&schema)?;
        let rolling_file_size = match options.get("sink.rolling-policy.file-size") {
            None => DEFAULT_ROLLING_FILE_SIZE,
            Some(v) => parse_memory_size(v).filter(|n| *n > 0).ok_or_else(|| {
                RuntimeError::option(
                    "sink.rolling-policy.file-size",
                    format!("'{v}' is not a memory size"),
                )
            })?,
        };
        Ok(FileSystemSink {
            dir: PathBuf::from(options.require("path")?),
            format,
            schema,
            rolling_file_size,
            uuid: uuid::Uuid::new_v4().to_string(),
        })
    }
}

impl Sink for FileSystemSink {
    fn name(&self) -> &str {
        "filesystem"
    }

    fn create_writer(&self, subtask: &SubtaskInfo) -> Result<Box<dyn SinkWriter>> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| RuntimeError::io(self.dir.display().to_string(), e))?;
        Ok(Box::new(FileSystemWriter {
            dir: self.dir.clone(),
            format: self.format.clone(),
            schema: self.schema.clone(),
            rolling_file_size: self.rolling_file_size,
            prefix: format!("part-{}-{}", self.uuid, subtask.index),
            part_counter: 0,
            current: None,
            pending: Vec::new(),
            checkpointed: BTreeMap::new(),
            text: String::new(),
        }))
    }
}

struct PartFile {
    out: BufWriter<File>,
    in_progress: PathBuf,
    target: PathBuf,
    bytes: u64,
}

pub struct FileSystemWriter {
    dir: PathBuf,
    format: Format,
    schema: SchemaRef,
    rolling_file_size: u64,
    prefix: String,
    part_counter: u64,
    current: Option<PartFile>,
    /// Closed part files no checkpoint covers yet (committed by `finish()`).
    pending: Vec<(PathBuf, PathBuf)>,
    /// Closed part files by the checkpoint that covers them, waiting for it to complete.
    checkpointed: BTreeMap<u64, Vec<(PathBuf, PathBuf)>>,
    text: String,
}

/// Renames an in-progress part to its final name; one already committed (by an
/// earlier restore, or by another subtask of a rescaled job at the same time) is left be.
fn commit_part(in_progress: &std::path::Path, target: &std::path::Path) -> Result<()> {
    match std::fs::rename(in_progress, target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && target.exists() => Ok(()),
        Err(e) => Err(io_error(in_progress, e)),
    }
}

fn io_error(path: &std::path::Path, e: std::io::Error) -> RuntimeError {
    RuntimeError::io(path.display().to_string(), e)
}

impl FileSystemWriter {
    fn open_part(&mut self) -> Result<PartFile> {
        let name = format!("{}-{}", self.prefix, self.part_counter);
        self.part_counter += 1;
        let in_progress = self.dir.join(format!(".{name}.inprogress"));
        let file = File::create(&in_progress).map_err(|e| io_error(&in_progress, e))?;
        Ok(PartFile {
            out: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
            in_progress,
            target: self.dir.join(name),
            bytes: 0,
        })
    }

    fn close_current(&mut self) -> Result<()> {
        if let Some(mut part) = self.current.take() {
            part.out
                .flush()
                .map_err(|e| io_error(&part.in_progress, e))?;
            part.out
                .get_ref()
                .sync_all()
                .map_err(|e| io_error(&part.in_progress, e))?;
            let checkpointed: usize = self.checkpointed.values().map(Vec::len).sum();
            if self.pending.len() + checkpointed >= MAX_PENDING_PARTS {
                return Err(RuntimeError::option(
                    "sink.rolling-policy.file-size",
                    format!(
                        "more than {MAX_PENDING_PARTS} part files before finish; raise the size"
                    ),
                ));
            }
            self.pending.push((part.in_progress, part.target));
        }
        Ok(())
    }
}

impl SinkWriter for FileSystemWriter {
    /// Pre-commit: closes the open part; the parts not committed yet go into the
    /// snapshot (a restore commits them: the checkpoint it restores completed).
    fn snapshot(&mut self, checkpoint_id: u64) -> Result<Option<Vec<u8>>> {
        self.close_current()?;
        let parts = std::mem::take(&mut self.pending);
        self.checkpointed
            .entry(checkpoint_id)
            .or_default()
            .extend(parts);
        let all: Vec<(&PathBuf, &PathBuf)> = self
            .checkpointed
            .values()
            .flatten()
            .map(|(a, b)| (a, b))
            .collect();
        serde_json::to_vec(&all)
            .map(Some)
            .map_err(|e| RuntimeError::Graph(format!("filesystem sink snapshot: {e}")))
    }

    fn restore(&mut self, state: &[u8]) -> Result<()> {
        let parts: Vec<(PathBuf, PathBuf)> = serde_json::from_slice(state)
            .map_err(|e| RuntimeError::Graph(format!("filesystem sink snapshot: {e}")))?;
        for (in_progress, target) in parts {
            commit_part(&in_progress, &target)?;
        }
        Ok(())
    }

    /// Commit: the parts of every checkpoint up to this one become visible.
    fn notify_checkpoint_complete(&mut self, checkpoint_id: u64) -> Result<()> {
        let later = self.checkpointed.split_off(&(checkpoint_id + 1));
        for (in_progress, target) in std::mem::replace(&mut self.checkpointed, later)
            .into_values()
            .flatten()
        {
            commit_part(&in_progress, &target)?;
        }
        Ok(())
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if batch.num_columns() != self.schema.fields().len() {
            return Err(RuntimeError::Task {
                task: "filesystem sink".into(),
                message: format!(
                    "batch has {} columns, the table {}",
                    batch.num_columns(),
                    self.schema.fields().len()
                ),
            });
        }
        self.text.clear();
        self.format.encode_batch(batch, &mut self.text)?;
        // Roll before writing when the part has reached its size (Flink's
        // DefaultRollingPolicy checks on each element).
        if self
            .current
            .as_ref()
            .is_some_and(|p| p.bytes >= self.rolling_file_size)
        {
            self.close_current()?;
        }
        if self.current.is_none() {
            self.current = Some(self.open_part()?);
        }
        if let Some(part) = self.current.as_mut() {
            part.out
                .write_all(self.text.as_bytes())
                .map_err(|e| io_error(&part.in_progress, e))?;
            part.bytes += self.text.len() as u64;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.close_current()?;
        let checkpointed = std::mem::take(&mut self.checkpointed);
        for (in_progress, target) in checkpointed
            .into_values()
            .flatten()
            .chain(self.pending.drain(..))
        {
            commit_part(&in_progress, &target)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};

    use super::*;
    use crate::connectors::Source;
    use crate::connectors::filesystem::FileSystemSource;
    use crate::connectors::filesystem::tests::{drain, schema, subtask};

    fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
        let names: Vec<String> = ids.clone().map(|i| format!("name {i}")).collect();
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from_iter_values(ids)),
                Arc::new(StringArray::from(names)),
            ],
        )
        .unwrap()
    }

    fn names_in(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory_size("128MB"), Some(128 << 20));
        assert_eq!(parse_memory_size("1 kb"), Some(1024));
        assert_eq!(parse_memory_size("77"), Some(77));
        assert_eq!(parse_memory_size("1 parsec"), None);
    }

    #[test]
    fn part_files_invisible_until_finish_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        for format in ["csv", "json"] {
            let out = out.join(format);
            let options = Options::new([
                ("path", out.display().to_string().as_str()),
                ("format", format),
            ]);
            let sink = FileSystemSink::new(&options, schema()).unwrap();
            let mut writers: Vec<_> = (0..2)
                .map(|i| sink.create_writer(&subtask(i, 2)).unwrap())
                .collect();
            writers[0].write(&batch(0..500)).unwrap();
            writers[1].write(&batch(500..1000)).unwrap();
            // Only hidden in-progress files so far: a reader of the directory sees nothing.
            let names = names_in(&out);
            assert_eq!(names.len(), 2);
            assert!(
                names
                    .iter()
                    .all(|n| n.starts_with(".part-") && n.ends_with(".inprogress")),
                "{names:?}"
            );
            let src = FileSystemSource::new(&options, schema()).unwrap();
            assert_eq!(src.create_reader(&subtask(0, 1)).unwrap().splits(), 0);
            for w in &mut writers {
                w.finish().unwrap();
            }
            let names = names_in(&out);
            assert_eq!(names.len(), 2);
            assert!(
                names[0].starts_with("part-") && names[0].ends_with("-0-0"),
                "{names:?}"
            );
            assert!(names[1].ends_with("-1-0"), "{names:?}");
            let mut reader = src.create_reader(&subtask(0, 1)).unwrap();
            let (rows, _) = drain(reader.as_mut()).unwrap();
            let mut ids: Vec<i64> = rows.into_iter().map(|(_, id)| id).collect();
            ids.sort();
            assert_eq!(ids, (0..1000).collect::<Vec<_>>());
        }
        // Subtask 0's part file (read_dir order is arbitrary).
        let first = out.join("csv").join(
            names_in(&out.join("csv"))
                .into_iter()
                .find(|n| n.ends_with("-0-0"))
                .unwrap(),
        );
        let text = std::fs::read_to_string(first).unwrap();
        assert!(text.starts_with("0,\"name 0\"\n1,\"name 1\"\n"), "{text}");
    }

    #[test]
    fn rolls_part_files_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let options = Options::new([
            ("path", dir.path().display().to_string().as_str()),
            ("format", "csv"),
            ("sink.rolling-policy.file-size", "1kb"),
        ]);
        let sink = FileSystemSink::new(&options, schema()).unwrap();
        let mut w = sink.create_writer(&subtask(0, 1)).unwrap();
        for i in 0..5 {
            w.write(&batch(i * 100..(i + 1) * 100)).unwrap();
        }
        w.finish().unwrap();
        let names = names_in(dir.path());
        assert_eq!(names.len(), 5, "{names:?}");
        assert!(names.iter().all(|n| !n.starts_with('.')));
        let total: usize = names
            .iter()
            .map(|n| {
                std::fs::read_to_string(dir.path().join(n))
                    .unwrap()
                    .lines()
                    .count()
            })
            .sum();
        assert_eq!(total, 500);
    }

    #[test]
    fn two_phase_commit_on_checkpoints_and_restore() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let options = Options::new([
            ("path", out.display().to_string().as_str()),
            ("format", "csv"),
        ]);
        let sink = FileSystemSink::new(&options, schema()).unwrap();
        let mut w = sink.create_writer(&subtask(0, 1)).unwrap();
        let visible = |out: &std::path::Path| {
            names_in(out)
                .into_iter()
                .filter(|n| !n.starts_with('.'))
                .count()
        };
        w.write(&batch(0..10)).unwrap();
        let first = w.snapshot(1).unwrap().expect("pre-committed parts");
        w.write(&batch(10..20)).unwrap();
        let second = w.snapshot(2).unwrap().expect("pre-committed parts");
        assert_eq!(
            visible(&out),
            0,
            "nothing visible before a checkpoint completes"
        );
        w.notify_checkpoint_complete(1).unwrap();
        assert_eq!(visible(&out), 1, "checkpoint 1's part");
        // A failure now: a new writer restores checkpoint 2, committing its parts once.
        w.write(&batch(20..30)).unwrap();
        drop(w);
        let mut again = sink.create_writer(&subtask(0, 1)).unwrap();
        again.restore(&second).unwrap();
        again.restore(&first).unwrap();
        assert_eq!(visible(&out), 2, "checkpoint 2's part too, each once");
        let src = FileSystemSource::new(&options, schema()).unwrap();
        let (rows, _) = drain(src.create_reader(&subtask(0, 1)).unwrap().as_mut()).unwrap();
        let mut ids: Vec<i64> = rows.into_iter().map(|(_, id)| id).collect();
        ids.sort();
        assert_eq!(
            ids,
            (0..20).collect::<Vec<_>>(),
            "rows after the checkpoint are not committed"
        );
    }
}
