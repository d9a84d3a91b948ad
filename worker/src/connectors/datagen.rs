//! The `datagen` source (Flink's `DataGenTableSource`): per field `'fields.<f>.kind'` =
//! `random` (default; `min`/`max`, `length` for strings, `max-past` for timestamps,
//! `null-rate`) or `sequence` (`start`/`end`, dealt to subtasks stride-wise like
//! Flink's `SequenceGenerator`, bounded). `'number-of-rows'` bounds the table (split
//! among subtasks), `'rows-per-second'` (default 10000) limits it. Eddy extensions:
//! `'seed'` and `'fields.<f>.seed'` make random values reproducible per subtask.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

use super::format::columns::{Cell, ColumnBuilder};
use super::options::Options;
use super::random::{SplitMix64, mix};
use super::throttle::{ThrottledReader, subtask_share};
use super::{MAX_BATCH_ROWS, Source, SourceEvent, SourceReader};
use crate::runtime::error::{Result, RuntimeError};
use crate::runtime::operator::SubtaskInfo;
use crate::time::clock::{SharedClock, system_clock};

pub const DEFAULT_ROWS_PER_SECOND: u64 = 10_000;
/// Flink's default random string length.
pub const DEFAULT_STRING_LENGTH: u64 = 100;
/// Longest random string.
pub const MAX_STRING_LENGTH: u64 = 1 << 20;

pub const OPTIONS: &[&str] = &["connector", "rows-per-second", "number-of-rows", "seed"];
const FIELD_OPTIONS: &[&str] = &[
    "kind",
    "start",
    "end",
    "min",
    "max",
    "length",
    "seed",
    "null-rate",
    "max-past",
];

#[derive(Debug, Clone)]
enum FieldKind {
    Sequence {
        start: i64,
        end: i64,
    },
    Random {
        min: Option<f64>,
        max: Option<f64>,
        length: u64,
        max_past_ms: u64,
    },
}

#[derive(Debug, Clone)]
struct FieldSpec {
    data_type: DataType,
    kind: FieldKind,
    seed: Option<u64>,
    null_rate: f64,
}

#[derive(Debug)]
pub struct DataGenSource {
    schema: SchemaRef,
    fields: Vec<FieldSpec>,
    rows_per_second: u64,
    number_of_rows: Option<u64>,
    clock: SharedClock,
}

fn field_option<'a>(options: &'a Options, field: &str, key: &str) -> (String, Option<&'a str>) {
    let name = format!("fields.{field}.{key}");
    let value = options.get(&name);
    (name, value)
}

fn parse_i64(options: &Options, field: &str, key: &str) -> Result<Option<i64>> {
    let (name, v) = field_option(options, field, key);
    v.map(|v| {
        v.trim()
            .parse::<i64>()
            .map_err(|_| RuntimeError::option(&name, format!("'{v}' is not a whole number")))
    })
    .transpose()
}

fn parse_f64(options: &Options, field: &str, key: &str) -> Result<Option<f64>> {
    let (name, _) = field_option(options, field, key);
    options.get_f64(&name)
}

impl DataGenSource {
    pub fn new(options: &Options, schema: SchemaRef) -> Result<DataGenSource> {
        // Every fields.<f>.<key> names a column and a known key.
        for (key, _) in options.iter() {
            if let Some(rest) = key.strip_prefix("fields.") {
                let known = rest.rsplit_once('.').is_some_and(|(f, k)| {
                    schema.field_with_name(f).is_ok() && FIELD_OPTIONS.contains(&k)
                });
                if !known {
                    return Err(RuntimeError::option(key, "no such column or field option"));
                }
            }
        }
        let mut fields = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            let name = f.name();
            super::format::columns::check_supported(name, f.data_type())?;
            let kind = match field_option(options, name, "kind").1.unwrap_or("random") {
                "sequence" => {
                    let is_int = f.data_type().is_integer() || *f.data_type() == DataType::Utf8;
                    let start = parse_i64(options, name, "start")?;
                    let end = parse_i64(options, name, "end")?;
                    match (is_int, start, end) {
                        (true, Some(start), Some(end)) if start <= end => {
                            FieldKind::Sequence { start, end }
                        }
                        (false, ..) => {
                            return Err(RuntimeError::option(
                                format!("fields.{name}.kind"),
                                format!(
                                    "a sequence needs an integer or string column, not {}",
                                    f.data_type()
                                ),
                            ));
                        }
                        _ => {
                            return Err(RuntimeError::option(
                                format!("fields.{name}.start"),
                                "a sequence needs 'start' <= 'end'",
                            ));
                        }
                    }
                }
                "random" => FieldKind::Random {
                    min: parse_f64(options, name, "min")?,
                    max: parse_f64(options, name, "max")?,
                    length: match parse_i64(options, name, "length")? {
                        Some(n) if n < 0 || n as u64 > MAX_STRING_LENGTH => {
                            return Err(RuntimeError::option(
                                format!("fields.{name}.length"),
                                format!("must be between 0 and {MAX_STRING_LENGTH}"),
                            ));
                        }
                        Some(n) => n as u64,
                        None => DEFAULT_STRING_LENGTH,
                    },
                    max_past_ms: options
                        .get_duration(&format!("fields.{name}.max-past"))?
                        .map(|d| d.as_millis() as u64)
                        .unwrap_or(0),
                },
                other => {
                    return Err(RuntimeError::option(
                        format!("fields.{name}.kind"),
                        format!("'{other}' is neither 'random' nor 'sequence'"),
                    ));
                }
            };
            fields.push(FieldSpec {
                data_type: f.data_type().clone(),
                kind,
                seed: match parse_i64(options, name, "seed")? {
                    Some(s) => Some(s as u64),
                    None => options
                        .get_u64("seed")?
                        .map(|s| mix(s ^ mix(fields.len() as u64))),
                },
                null_rate: parse_f64(options, name, "null-rate")?
                    .unwrap_or(0.0)
                    .clamp(0.0, 1.0),
            });
        }
        Ok(DataGenSource {
            schema,
            fields,
            rows_per_second: options
                .get_u64("rows-per-second")?
                .unwrap_or(DEFAULT_ROWS_PER_SECOND),
            number_of_rows: options.get_u64("number-of-rows")?,
            clock: system_clock(),
        })
    }
}

impl Source for DataGenSource {
    fn name(&self) -> &str {
        "datagen"
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn create_reader(&self, subtask: &SubtaskInfo) -> Result<Box<dyn SourceReader>> {
        let (index, parallelism) = (subtask.index, subtask.parallelism.max(1));
        let mut remaining = self
            .number_of_rows
            .map(|n| subtask_share(n, index, parallelism));
        let mut generators = Vec::with_capacity(self.fields.len());
        for spec in &self.fields {
            let rng = match spec.seed {
                Some(seed) => SplitMix64::new(mix(seed ^ mix(index as u64 + 1))),
                None => SplitMix64::unseeded(),
            };
            if let FieldKind::Sequence { start, end } = spec.kind {
                // Values start + index, start + index + p, ... up to end.
                let total = (end as i128 - start as i128 + 1) as u64;
                let mine = subtask_share(total, index, parallelism);
                remaining = Some(remaining.map_or(mine, |r| r.min(mine)));
            }
            generators.push(FieldGenerator {
                spec: spec.clone(),
                rng,
                emitted: 0,
            });
        }
        let rate = subtask_share(self.rows_per_second, index, parallelism).max(1);
        let reader = DataGenReader {
            schema: self.schema.clone(),
            generators,
            remaining,
            index,
            parallelism,
            batch_rows: ((rate / 10).max(1) as usize).min(MAX_BATCH_ROWS),
            clock: self.clock.clone(),
            ended: false,
            rows_emitted: 0,
        };
        Ok(Box::new(ThrottledReader::with_clock(
            Box::new(reader),
            rate as f64,
            self.clock.clone(),
        )))
    }
}

struct FieldGenerator {
    spec: FieldSpec,
    rng: SplitMix64,
    emitted: u64,
}

const HEX: &[u8] = b"0123456789abcdef";

impl FieldGenerator {
    fn next(&mut self, index: u32, parallelism: u32, now_ms: i64) -> Cell<'static> {
        let n = self.emitted;
        self.emitted += 1;
        if self.spec.null_rate > 0.0 && self.rng.next_f64() < self.spec.null_rate {
            return Cell::Null;
        }
        match (&self.spec.kind, &self.spec.data_type) {
            (FieldKind::Sequence { start, .. }, dt) => {
                let v = start + index as i64 + n as i64 * parallelism as i64;
                if *dt == DataType::Utf8 {
                    Cell::Str(Cow::Owned(v.to_string()))
                } else {
                    Cell::Int(v)
                }
            }
            (
                FieldKind::Random {
                    min,
                    max,
                    length,
                    max_past_ms,
                },
                dt,
            ) => match dt {
                DataType::Boolean => Cell::Bool(self.rng.next_u64() & 1 == 1),
                DataType::Utf8 | DataType::LargeUtf8 => Cell::Str(Cow::Owned(
                    (0..*length)
                        .map(|_| HEX[self.rng.below(16) as usize] as char)
                        .collect(),
                )),
                DataType::Float32 | DataType::Float64 => {
                    let (lo, hi) = (
                        min.unwrap_or(f32::MIN as f64),
                        max.unwrap_or(f32::MAX as f64),
                    );
                    Cell::Float(lo + self.rng.next_f64() * (hi - lo))
                }
                DataType::Decimal128(p, s) => {
                    let limit = 10f64.powi(*p as i32 - *s as i32) - 1.0;
                    let (lo, hi) = (min.unwrap_or(-limit), max.unwrap_or(limit));
                    let v = lo + self.rng.next_f64() * (hi - lo);
                    Cell::Decimal(Some((v * 10f64.powi(*s as i32)).round() as i128))
                }
                DataType::Timestamp(unit, _) => {
                    let ms = now_ms - self.rng.below(max_past_ms + 1) as i64;
                    Cell::Int(match unit {
                        TimeUnit::Second => ms / 1000,
                        TimeUnit::Millisecond => ms,
                        TimeUnit::Microsecond => ms * 1000,
                        TimeUnit::Nanosecond => ms * 1_000_000,
                    })
                }
                DataType::Date32 => Cell::Int(now_ms.div_euclid(86_400_000)),
                other => {
                    let (lo, hi) = match other {
                        DataType::Int8 => (i8::MIN as i64, i8::MAX as i64),
                        DataType::Int16 => (i16::MIN as i64, i16::MAX as i64),
                        DataType::Int32 => (i32::MIN as i64, i32::MAX as i64),
                        _ => (i64::MIN, i64::MAX),
                    };
                    let lo = min.map(|m| m as i64).unwrap_or(lo).max(lo);
                    let hi = max.map(|m| m as i64).unwrap_or(hi).min(hi);
                    Cell::Int(self.rng.range_i64(lo.min(hi), hi))
                }
            },
        }
    }
}

/// A datagen subtask's checkpointed position.
#[derive(serde::Deserialize)]
struct GenPosition {
    rows_emitted: u64,
    remaining: Option<u64>,
}

/// Generates one subtask's rows (one split); throttled by its wrapper.
struct DataGenReader {
    schema: SchemaRef,
    generators: Vec<FieldGenerator>,
    remaining: Option<u64>,
    index: u32,
    parallelism: u32,
    batch_rows: usize,
    clock: SharedClock,
    ended: bool,
    /// Rows generated so far (the reader's checkpointed position).
    rows_emitted: u64,
}

impl SourceReader for DataGenReader {
    fn splits(&self) -> usize {
        1
    }

    fn snapshot_position(&self) -> Result<Vec<u8>> {
        super::position(&serde_json::json!({
            "rows_emitted": self.rows_emitted,
            "remaining": self.remaining,
        }))
    }

    /// Sequences continue after the last row emitted; random fields stay random.
    fn restore_position(&mut self, position: &[u8]) -> Result<()> {
        let p: GenPosition = super::read_position(position)?;
        self.rows_emitted = p.rows_emitted;
        self.remaining = p.remaining;
        for g in &mut self.generators {
            g.emitted = p.rows_emitted;
        }
        Ok(())
    }

    /// Random rows rescale: only how many rows are left matters, shared anew among the
    /// subtasks. Sequences are dealt stride-wise by subtask and do not rescale.
    fn restore_rescaled(&mut self, positions: &[Vec<u8>]) -> Result<()> {
        if self
            .generators
            .iter()
            .any(|g| matches!(g.spec.kind, FieldKind::Sequence { .. }))
        {
            return Err(RuntimeError::CheckpointUnsupported(
                "rescaling a datagen table with sequence fields".into(),
            ));
        }
        let mut left = Some(0u64);
        for bytes in positions {
            let p: GenPosition = super::read_position(bytes)?;
            left = left.zip(p.remaining).map(|(a, b)| a + b);
        }
        self.remaining = left.map(|n| subtask_share(n, self.index, self.parallelism));
        Ok(())
    }

    fn poll(&mut self) -> Result<SourceEvent> {
        let rows = match self.remaining {
            Some(0) if self.ended => return Ok(SourceEvent::End),
            Some(0) => {
                self.ended = true;
                return Ok(SourceEvent::SplitFinished { split: 0 });
            }
            Some(r) => (r as usize).min(self.batch_rows),
            None => self.batch_rows,
        };
        let now_ms = self.clock.now_ms();
        let mut builders: Vec<ColumnBuilder> = self
            .generators
            .iter()
            .map(|g| ColumnBuilder::new(&g.spec.data_type, rows))
            .collect();
        for _ in 0..rows {
            for (g, b) in self.generators.iter_mut().zip(&mut builders) {
                b.push(g.next(self.index, self.parallelism, now_ms));
            }
        }
        if let Some(r) = self.remaining.as_mut() {
            *r -= rows as u64;
        }
        self.rows_emitted += rows as u64;
        let columns = builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        Ok(SourceEvent::Batch { split: 0, batch })
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::connectors::filesystem::tests::subtask;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("v", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
        ]))
    }

    fn read_all(src: &DataGenSource, index: u32, p: u32) -> Vec<RecordBatch> {
        let mut reader = src.create_reader(&subtask(index, p)).unwrap();
        let mut out = Vec::new();
        for _ in 0..1_000_000 {
            match reader.poll().unwrap() {
                SourceEvent::Batch { batch, .. } => out.push(batch),
                SourceEvent::End => return out,
                _ => {}
            }
        }
        panic!("no end")
    }

    fn opts(extra: &[(&str, &str)]) -> Options {
        let mut pairs = vec![("connector", "datagen"), ("rows-per-second", "1000000000")];
        pairs.extend_from_slice(extra);
        Options::new(pairs)
    }

    #[test]
    fn sequences_are_split_among_subtasks_and_bound_the_table() {
        let src = DataGenSource::new(
            &opts(&[
                ("fields.id.kind", "sequence"),
                ("fields.id.start", "1"),
                ("fields.id.end", "100"),
            ]),
            schema(),
        )
        .unwrap();
        let mut ids = Vec::new();
        for index in 0..3 {
            let mine: Vec<i64> = read_all(&src, index, 3)
                .iter()
                .flat_map(|b| {
                    b.column(0)
                        .as_any()
                        .downcast_ref::<Int64Array>()
                        .unwrap()
                        .values()
                        .to_vec()
                })
                .collect();
            assert_eq!(mine[0], 1 + index as i64);
            ids.extend(mine);
        }
        ids.sort();
        assert_eq!(ids, (1..=100).collect::<Vec<_>>());
    }

    /// Two subtasks' positions restored into three: the rows left are shared anew, so
    /// the bounded table keeps its size; a sequence refuses to rescale.
    #[test]
    fn random_rows_left_are_shared_anew_when_rescaled() {
        let src = DataGenSource::new(&opts(&[("number-of-rows", "100000")]), schema()).unwrap();
        let mut positions = Vec::new();
        let mut read = 0;
        for index in 0..2 {
            let mut reader = src.create_reader(&subtask(index, 2)).unwrap();
            if let SourceEvent::Batch { batch, .. } = reader.poll().unwrap() {
                read += batch.num_rows();
            }
            positions.push(reader.snapshot_position().unwrap());
        }
        for index in 0..3 {
            let mut reader = src.create_reader(&subtask(index, 3)).unwrap();
            reader.restore_rescaled(&positions).unwrap();
            for _ in 0..100_000 {
                match reader.poll().unwrap() {
                    SourceEvent::Batch { batch, .. } => read += batch.num_rows(),
                    SourceEvent::End => break,
                    _ => {}
                }
            }
        }
        assert_eq!(read, 100_000);
        let seq = DataGenSource::new(
            &opts(&[
                ("fields.id.kind", "sequence"),
                ("fields.id.start", "1"),
                ("fields.id.end", "9"),
            ]),
            schema(),
        )
        .unwrap();
        let mut reader = seq.create_reader(&subtask(0, 3)).unwrap();
        assert!(reader.restore_rescaled(&positions).is_err());
    }

    #[test]
    fn seeded_random_is_deterministic_and_within_bounds() {
        let o = opts(&[
            ("number-of-rows", "50"),
            ("seed", "7"),
            ("fields.v.min", "10"),
            ("fields.v.max", "20"),
            ("fields.s.length", "5"),
        ]);
        let a = read_all(&DataGenSource::new(&o, schema()).unwrap(), 1, 2);
        let b = read_all(&DataGenSource::new(&o, schema()).unwrap(), 1, 2);
        assert_eq!(a, b);
        let rows: usize = a.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 25);
        let v = arrow::compute::cast(a[0].column(1), &DataType::Int64).unwrap();
        let v = v.as_any().downcast_ref::<Int64Array>().unwrap();
        assert!(v.values().iter().all(|x| (10..=20).contains(x)));
        let s = a[0]
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(s.value(0).len(), 5);
        let other = read_all(&DataGenSource::new(&o, schema()).unwrap(), 0, 2);
        assert_ne!(a[0].column(0), other[0].column(0));
    }

    #[test]
    fn rejects_unknown_field_options() {
        assert!(DataGenSource::new(&opts(&[("fields.nope.kind", "random")]), schema()).is_err());
        assert!(DataGenSource::new(&opts(&[("fields.id.colour", "red")]), schema()).is_err());
        assert!(DataGenSource::new(&opts(&[("fields.id.kind", "sequence")]), schema()).is_err());
    }

    #[test]
    fn rate_limited_by_wait() {
        let src = DataGenSource::new(&Options::new([("rows-per-second", "10")]), schema()).unwrap();
        let mut reader = src.create_reader(&subtask(0, 1)).unwrap();
        assert!(matches!(reader.poll().unwrap(), SourceEvent::Wait(_)));
    }
}
