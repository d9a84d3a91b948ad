//! The `filesystem` source (Flink's `FileSystemTableSource`, bounded): `'path'` is a file
//! or a directory whose visible files (not starting with `.` or `_`) are read; each
//! file is one split, files are dealt round-robin to subtasks in name order. Lines are
//! decoded by the table's `'format'`; malformed lines fail with file and 1-based line,
//! or are skipped and counted under `'<format>.ignore-parse-errors'`.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;

use super::format::{BatchDecoder, Format};
use super::options::Options;
use super::{MAX_BATCH_ROWS, Source, SourceEvent, SourceReader};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::operator::SubtaskInfo;

/// Longest line (record) read, in bytes; a longer one is a parse error.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Read buffer per open file.
pub const READ_BUFFER_BYTES: usize = 256 * 1024;
/// Most files one source lists in its directory.
pub const MAX_FILES: usize = 100_000;

/// Whether a file name is visible to the source (Flink skips `.` and `_` files).
pub fn is_visible(name: &str) -> bool {
    !name.starts_with('.') && !name.starts_with('_')
}

/// The files a `'path'` stands for, in name order.
pub fn list_files(path: &Path) -> Result<Vec<PathBuf>> {
    let display = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| RuntimeError::io(&display, e))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| RuntimeError::io(&display, e))? {
        let entry = entry.map_err(|e| RuntimeError::io(&display, e))?;
        let name = entry.file_name();
        let visible = name.to_str().map(is_visible).unwrap_or(false);
        let is_file = entry
            .file_type()
            .map_err(|e| RuntimeError::io(&display, e))?
            .is_file();
        if visible && is_file {
            if files.len() >= MAX_FILES {
                return Err(RuntimeError::option(
                    "path",
                    format!("{display} holds more than {MAX_FILES} files"),
                ));
            }
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

#[derive(Debug)]
pub struct FileSystemSource {
    path: PathBuf,
    format: Format,
    schema: SchemaRef,
}

impl FileSystemSource {
    pub fn new(options: &Options, schema: SchemaRef) -> Result<FileSystemSource> {
        let format = Format::from_options(options)?;
        format.check_schema(&schema)?;
        Ok(FileSystemSource {
            path: PathBuf::from(options.require("path")?),
            format,
            schema,
        })
    }
}

impl Source for FileSystemSource {
    fn name(&self) -> &str {
        "filesystem"
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn create_reader(&self, subtask: &SubtaskInfo) -> Result<Box<dyn SourceReader>> {
        let parallelism = subtask.parallelism.max(1) as usize;
        let files = list_files(&self.path)?
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % parallelism == subtask.index as usize)
            .map(|(_, f)| f)
            .collect();
        Ok(Box::new(FileSystemReader {
            files,
            next_split: 0,
            current: None,
            skip: HashSet::new(),
            resume_at: HashMap::new(),
            decoder: self.format.decoder(self.schema.clone())?,
            ignore_parse_errors: self.format.ignore_parse_errors(),
            format: self.format.name(),
            parse_errors: 0,
        }))
    }
}

struct OpenFile {
    split: usize,
    path: String,
    reader: BufReader<File>,
    line: u64,
    /// Bytes of the file consumed (the checkpointed offset).
    offset: u64,
    eof: bool,
}

/// A checkpointed position of a file source subtask, by path (rescalable).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct FilePositions {
    /// Files read to their end.
    done: Vec<String>,
    /// Files being read: where the next row starts.
    reading: Vec<Reading>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Reading {
    path: String,
    offset: u64,
    line: u64,
}

/// Reads its files one after the other, each a split.
pub struct FileSystemReader {
    files: Vec<PathBuf>,
    next_split: usize,
    current: Option<OpenFile>,
    /// Restored: files already read (skipped when their turn comes).
    skip: HashSet<String>,
    /// Restored: files partly read, by path → (offset, line) to resume at.
    resume_at: HashMap<String, (u64, u64)>,
    decoder: BatchDecoder,
    ignore_parse_errors: bool,
    format: &'static str,
    parse_errors: u64,
}

impl FileSystemReader {
    fn parse_error(&self, file: &OpenFile, message: String) -> RuntimeError {
        RuntimeError::Parse {
            path: file.path.clone(),
            line: file.line,
            format: self.format,
            message,
        }
    }

    /// Reads lines of the current file into the decoder until a batch is full or the
    /// file ends.
    fn fill(&mut self, mut file: OpenFile) -> Result<OpenFile> {
        let mut buf = Vec::with_capacity(1024);
        while self.decoder.rows() < MAX_BATCH_ROWS {
            buf.clear();
            let n = (&mut file.reader)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|e| RuntimeError::io(&file.path, e))?;
            if n == 0 {
                file.eof = true;
                break;
            }
            file.line += 1;
            file.offset += n as u64;
            if buf.len() > MAX_LINE_BYTES {
                return Err(
                    self.parse_error(&file, format!("line longer than {MAX_LINE_BYTES} bytes"))
                );
            }
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            let result = match std::str::from_utf8(&buf) {
                Ok(line) => self.decoder.decode_line(line).map(|_| ()),
                Err(e) => Err(format!("invalid UTF-8: {e}")),
            };
            if let Err(message) = result {
                if !self.ignore_parse_errors {
                    return Err(self.parse_error(&file, message));
                }
                self.parse_errors += 1;
            }
        }
        Ok(file)
    }
}

impl SourceReader for FileSystemReader {
    fn splits(&self) -> usize {
        self.files.len()
    }

    /// By path, so any subtask of a rescaled job can take it: the files finished and
    /// those being read with the offset and line after the last row handed out (rows
    /// still in the decoder are not read yet: they go out with the next batch).
    fn snapshot_position(&self) -> Result<Vec<u8>> {
        let mut position = FilePositions::default();
        for (i, f) in self.files.iter().enumerate().take(self.next_split) {
            let path = f.display().to_string();
            if self.current.as_ref().is_none_or(|c| c.split != i) {
                position.done.push(path);
            }
        }
        position.done.extend(self.skip.iter().cloned());
        if let Some(c) = &self.current {
            position.reading.push(Reading {
                path: c.path.clone(),
                offset: c.offset,
                line: c.line,
            });
        }
        for (path, (offset, line)) in &self.resume_at {
            position.reading.push(Reading {
                path: path.clone(),
                offset: *offset,
                line: *line,
            });
        }
        serde_json::to_vec(&position)
            .map_err(|e| RuntimeError::Graph(format!("filesystem position: {e}")))
    }

    fn restore_position(&mut self, position: &[u8]) -> Result<()> {
        self.restore_rescaled(&[position.to_vec()])
    }

    /// Takes, of every position, what concerns this subtask's files: finished files
    /// are skipped, files being read resume at their offset when their turn comes.
    fn restore_rescaled(&mut self, positions: &[Vec<u8>]) -> Result<()> {
        let own: HashSet<String> = self.files.iter().map(|f| f.display().to_string()).collect();
        for bytes in positions {
            let p: FilePositions = super::read_position(bytes)?;
            self.skip
                .extend(p.done.into_iter().filter(|path| own.contains(path)));
            for r in p.reading.into_iter().filter(|r| own.contains(&r.path)) {
                self.resume_at.insert(r.path, (r.offset, r.line));
            }
        }
        Ok(())
    }

    fn poll(&mut self) -> Result<SourceEvent> {
        let file = match self.current.take() {
            Some(file) => file,
            None => {
                let Some(path) = self.files.get(self.next_split) else {
                    return Ok(SourceEvent::End);
                };
                let display = path.display().to_string();
                let split = self.next_split;
                self.next_split += 1;
                if self.skip.remove(&display) {
                    // Finished before the checkpoint this reader restored.
                    return Ok(SourceEvent::SplitFinished { split });
                }
                let mut handle = File::open(path).map_err(|e| RuntimeError::io(&display, e))?;
                let (offset, line) = self.resume_at.remove(&display).unwrap_or((0, 0));
                if offset > 0 {
                    handle
                        .seek(SeekFrom::Start(offset))
                        .map_err(|e| RuntimeError::io(&display, e))?;
                }
                OpenFile {
                    split,
                    path: display,
                    reader: BufReader::with_capacity(READ_BUFFER_BYTES, handle),
                    line,
                    offset,
                    eof: false,
                }
            }
        };
        let split = file.split;
        let file = if file.eof { file } else { self.fill(file)? };
        if self.decoder.rows() > 0 {
            let batch = self.decoder.finish()?;
            self.current = Some(file);
            return Ok(SourceEvent::Batch { split, batch });
        }
        if file.eof {
            return Ok(SourceEvent::SplitFinished { split });
        }
        self.current = Some(file);
        Ok(SourceEvent::Wait(std::time::Duration::ZERO))
    }

    fn parse_errors(&self) -> u64 {
        self.parse_errors
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::key_groups::KeyGroupRange;

    pub(crate) fn subtask(index: u32, parallelism: u32) -> SubtaskInfo {
        SubtaskInfo {
            job_name: "job".into(),
            vertex_name: "source".into(),
            index,
            parallelism,
            max_parallelism: 128,
            key_group_range: KeyGroupRange { start: 0, end: 127 },
        }
    }

    pub(crate) fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]))
    }

    /// Polls a reader to its end; returns the ids read per split and the events seen.
    pub(crate) fn drain(reader: &mut dyn SourceReader) -> Result<(Vec<(usize, i64)>, usize)> {
        let mut rows = Vec::new();
        let mut finished = 0;
        for _ in 0..100_000 {
            match reader.poll()? {
                SourceEvent::Batch { split, batch } => {
                    assert!(batch.num_rows() <= MAX_BATCH_ROWS);
                    let ids = batch
                        .column(0)
                        .as_any()
                        .downcast_ref::<Int64Array>()
                        .unwrap();
                    for i in 0..ids.len() {
                        rows.push((split, ids.value(i)));
                    }
                }
                SourceEvent::SplitFinished { .. } => finished += 1,
                SourceEvent::Wait(_) => {}
                SourceEvent::End => return Ok((rows, finished)),
            }
        }
        panic!("reader did not end");
    }

    fn source(path: &Path, extra: &[(&str, &str)]) -> FileSystemSource {
        let mut pairs = vec![
            ("connector", "filesystem".to_string()),
            ("path", path.display().to_string()),
            ("format", "json".to_string()),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        FileSystemSource::new(&Options::new(pairs), schema()).unwrap()
    }

    #[test]
    fn reads_visible_files_split_among_subtasks() {
        let dir = tempfile::tempdir().unwrap();
        for f in 0..3 {
            let lines: String = (0..10_000)
                .map(|i| format!("{{\"id\": {}, \"name\": \"n\"}}\n", f * 10_000 + i))
                .collect();
            std::fs::write(dir.path().join(format!("part-{f}.json")), lines).unwrap();
        }
        std::fs::write(dir.path().join(".hidden"), "garbage\n").unwrap();
        std::fs::write(dir.path().join("_SUCCESS"), "garbage\n").unwrap();
        let src = source(dir.path(), &[]);
        let mut all = Vec::new();
        for index in 0..2 {
            let mut reader = src.create_reader(&subtask(index, 2)).unwrap();
            let (rows, finished) = drain(reader.as_mut()).unwrap();
            assert_eq!(finished, reader.splits());
            all.extend(rows.into_iter().map(|(_, id)| id));
        }
        assert_eq!(src.create_reader(&subtask(0, 2)).unwrap().splits(), 2);
        assert_eq!(src.create_reader(&subtask(1, 2)).unwrap().splits(), 1);
        all.sort();
        assert_eq!(all, (0..30_000).collect::<Vec<_>>());
    }

    #[test]
    fn resumes_at_the_checkpointed_position() {
        let dir = tempfile::tempdir().unwrap();
        let lines: String = (0..20_000)
            .map(|i| format!("{{\"id\":{i},\"name\":\"n{i}\"}}\n"))
            .collect();
        std::fs::write(dir.path().join("a.json"), &lines).unwrap();
        std::fs::write(dir.path().join("b.json"), &lines).unwrap();
        let src = source(dir.path(), &[]);
        let mut reader = src.create_reader(&subtask(0, 1)).unwrap();
        let mut before = 0;
        while before < 25_000 {
            if let SourceEvent::Batch { batch, .. } = reader.poll().unwrap() {
                before += batch.num_rows();
            }
        }
        let position = reader.snapshot_position().unwrap();
        let mut resumed = src.create_reader(&subtask(0, 1)).unwrap();
        resumed.restore_position(&position).unwrap();
        let (rows, _) = drain(resumed.as_mut()).unwrap();
        assert_eq!(before + rows.len(), 40_000, "no row lost or read twice");
    }

    /// Positions of two subtasks restored into three (and back into one): every row is
    /// read exactly once over the two runs.
    #[test]
    fn positions_redistribute_over_another_parallelism() {
        let dir = tempfile::tempdir().unwrap();
        for f in 0..5 {
            let lines: String = (0..12_000)
                .map(|i| format!("{{\"id\":{},\"name\":\"n\"}}\n", f * 100_000 + i))
                .collect();
            std::fs::write(dir.path().join(format!("f{f}.json")), &lines).unwrap();
        }
        let src = source(dir.path(), &[]);
        let mut ids = Vec::new();
        let mut positions = Vec::new();
        for index in 0..2 {
            let mut reader = src.create_reader(&subtask(index, 2)).unwrap();
            let mut read = 0;
            // One file and a part of the next (batches are at most 8192 rows).
            while read < 14_000 {
                match reader.poll().unwrap() {
                    SourceEvent::Batch { batch, .. } => {
                        read += batch.num_rows();
                        let col = batch
                            .column(0)
                            .as_any()
                            .downcast_ref::<Int64Array>()
                            .unwrap();
                        ids.extend(col.values().iter().copied());
                    }
                    SourceEvent::End => break,
                    _ => {}
                }
            }
            positions.push(reader.snapshot_position().unwrap());
        }
        for index in 0..3 {
            let mut reader = src.create_reader(&subtask(index, 3)).unwrap();
            reader.restore_rescaled(&positions).unwrap();
            let (rows, _) = drain(reader.as_mut()).unwrap();
            ids.extend(rows.into_iter().map(|(_, id)| id));
        }
        ids.sort();
        let expected: Vec<i64> = (0..5)
            .flat_map(|f| (0..12_000).map(move |i| f * 100_000 + i))
            .collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn malformed_line_fails_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.json");
        std::fs::write(&file, "{\"id\": 1}\n\n{\"id\": oops}\n{\"id\": 2}\n").unwrap();
        let mut reader = source(&file, &[]).create_reader(&subtask(0, 1)).unwrap();
        match drain(reader.as_mut()).unwrap_err() {
            RuntimeError::Parse {
                path, line, format, ..
            } => {
                assert_eq!(path, file.display().to_string());
                assert_eq!(line, 3);
                assert_eq!(format, "json");
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn ignore_parse_errors_skips_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.json");
        std::fs::write(&file, "{\"id\": 1}\nnot json\n{\"id\": \"x\"}\n{\"id\": 2}").unwrap();
        let src = source(&file, &[("json.ignore-parse-errors", "true")]);
        let mut reader = src.create_reader(&subtask(0, 1)).unwrap();
        let (rows, _) = drain(reader.as_mut()).unwrap();
        assert_eq!(rows, vec![(0, 1), (0, 2)]);
        assert_eq!(reader.parse_errors(), 2);
    }

    #[test]
    fn csv_file_with_options() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.csv");
        std::fs::write(&file, "# header\n1;'a;b'\n2;NULL\n").unwrap();
        let src = FileSystemSource::new(
            &Options::new([
                ("path", file.display().to_string().as_str()),
                ("format", "csv"),
                ("csv.field-delimiter", ";"),
                ("csv.quote-character", "'"),
                ("csv.null-literal", "NULL"),
                ("csv.allow-comments", "true"),
            ]),
            schema(),
        )
        .unwrap();
        let mut reader = src.create_reader(&subtask(0, 1)).unwrap();
        let SourceEvent::Batch { batch, .. } = reader.poll().unwrap() else {
            panic!("expected a batch");
        };
        let names = batch
            .column(1)
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .unwrap();
        assert_eq!(names.value(0), "a;b");
        assert!(names.is_null(1));
    }
}
