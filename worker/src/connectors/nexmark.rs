//! The `nexmark` source: Eddy's generator of the Nexmark benchmark's `person`,
//! `auction` and `bid` tables (option `'table'`), modelled on the Nexmark generator:
//! the event stream is 1 person, 3 auctions and 46 bids in every 50 events, event time
//! advances with the event number at `'rate'` (`'rows-per-second'`, default 10000) rows
//! of the table per second from 2026-01-01 00:00:00, bids favour hot auctions and
//! bidders. Every row is a pure function of (`'seed'`, table, row number), so output is
//! deterministic for a seed whatever the parallelism; subtask `i` of `p` makes rows
//! `i, i+p, ...`. `'events.num'` / `'number-of-rows'` bound the table.

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

pub const OPTIONS: &[&str] = &[
    "connector",
    "table",
    "events.num",
    "number-of-rows",
    "rate",
    "rows-per-second",
    "seed",
];
pub const DEFAULT_RATE: u64 = 10_000;
pub const DEFAULT_SEED: u64 = 42;
/// 2026-01-01 00:00:00 UTC, the first event's time.
pub const BASE_TIME_MS: i64 = 1_767_225_600_000;
/// Nexmark's proportions per 50 events.
const PERSON_PROPORTION: u64 = 1;
const AUCTION_PROPORTION: u64 = 3;
const BID_PROPORTION: u64 = 46;
const PROPORTION_DENOMINATOR: u64 = 50;
const FIRST_ID: i64 = 1000;
const HOT_RATIO: u64 = 100;
const CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
const CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Person,
    Auction,
    Bid,
}

impl Table {
    fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Person => &[
                "id",
                "name",
                "emailAddress",
                "creditCard",
                "city",
                "state",
                "dateTime",
                "extra",
            ],
            Table::Auction => &[
                "id",
                "itemName",
                "description",
                "initialBid",
                "reserve",
                "dateTime",
                "expires",
                "seller",
                "category",
                "extra",
            ],
            Table::Bid => &[
                "auction", "bidder", "price", "channel", "url", "dateTime", "extra",
            ],
        }
    }

    fn proportion(self) -> (u64, u64) {
        // (rows per 50 events, offset of the first one in the 50)
        match self {
            Table::Person => (PERSON_PROPORTION, 0),
            Table::Auction => (AUCTION_PROPORTION, PERSON_PROPORTION),
            Table::Bid => (BID_PROPORTION, PERSON_PROPORTION + AUCTION_PROPORTION),
        }
    }
}

/// A generated value before it takes its column's type.
enum Value {
    Int(i64),
    Str(String),
    TimeMs(i64),
}

fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

#[derive(Debug)]
pub struct NexmarkSource {
    schema: SchemaRef,
    table: Table,
    /// For each schema column, the index of the generated column.
    projection: Vec<usize>,
    rows: Option<u64>,
    rate: u64,
    seed: u64,
}

impl NexmarkSource {
    pub fn new(options: &Options, schema: SchemaRef) -> Result<NexmarkSource> {
        let table = match options.get("table").unwrap_or("bid") {
            "bid" => Table::Bid,
            "auction" => Table::Auction,
            "person" => Table::Person,
            other => {
                return Err(RuntimeError::option(
                    "table",
                    format!("'{other}' is not bid, auction or person"),
                ));
            }
        };
        let columns = table.columns();
        let mut projection = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            let i = columns
                .iter()
                .position(|c| normalise(c) == normalise(f.name()))
                .ok_or_else(|| {
                    RuntimeError::option(
                        "table",
                        format!("column '{}' is not one of {}", f.name(), columns.join(", ")),
                    )
                })?;
            let is_time = columns[i] == "dateTime" || columns[i] == "expires";
            let is_int = matches!(
                columns[i],
                "id" | "initialBid"
                    | "reserve"
                    | "seller"
                    | "category"
                    | "auction"
                    | "bidder"
                    | "price"
            );
            let ok = match f.data_type() {
                DataType::Timestamp(..) => is_time,
                DataType::Int64 | DataType::Int32 => is_int,
                DataType::Utf8 | DataType::LargeUtf8 => true,
                _ => false,
            };
            if !ok {
                return Err(RuntimeError::option(
                    "table",
                    format!("column '{}' cannot be {}", f.name(), f.data_type()),
                ));
            }
            projection.push(i);
        }
        let rows = match options.get_u64("events.num")? {
            Some(n) => Some(n),
            None => options.get_u64("number-of-rows")?,
        };
        let rate = match options.get_u64("rate")? {
            Some(r) => r,
            None => options.get_u64("rows-per-second")?.unwrap_or(DEFAULT_RATE),
        };
        Ok(NexmarkSource {
            schema,
            table,
            projection,
            rows,
            rate: rate.max(1),
            seed: options.get_u64("seed")?.unwrap_or(DEFAULT_SEED),
        })
    }

    /// Row `j` of the table: its global event number, then its values.
    fn row(&self, j: u64) -> Vec<Value> {
        let (per_epoch, offset) = self.table.proportion();
        let epoch = j / per_epoch;
        let event = epoch * PROPORTION_DENOMINATOR + offset + j % per_epoch;
        // Event time: `rate` rows of this table per second.
        let time = BASE_TIME_MS
            + (event as u128 * 1000 * per_epoch as u128
                / (self.rate as u128 * PROPORTION_DENOMINATOR as u128)) as i64;
        let mut r = SplitMix64::new(mix(self.seed
            ^ mix(self.table as u64 + 1)
            ^ mix(j.wrapping_add(0x5EED))));
        let people = epoch + 1;
        let auctions = (epoch + 1) * AUCTION_PROPORTION;
        let price = |r: &mut SplitMix64| (10f64.powf(r.next_f64() * 6.0) * 100.0).round() as i64;
        let text = |r: &mut SplitMix64, len: u64| -> String {
            (0..len)
                .map(|_| (b'a' + r.below(26) as u8) as char)
                .collect()
        };
        match self.table {
            Table::Person => vec![
                Value::Int(FIRST_ID + j as i64),
                Value::Str(format!(
                    "{} {}",
                    FIRST_NAMES[r.below(11) as usize],
                    LAST_NAMES[r.below(9) as usize]
                )),
                Value::Str(format!("{}@{}.com", text(&mut r, 7), text(&mut r, 5))),
                Value::Str(format!(
                    "{:04} {:04} {:04} {:04}",
                    r.below(10000),
                    r.below(10000),
                    r.below(10000),
                    r.below(10000)
                )),
                Value::Str(CITIES[r.below(10) as usize].into()),
                Value::Str(STATES[r.below(6) as usize].into()),
                Value::TimeMs(time),
                Value::Str(String::new()),
            ],
            Table::Auction => {
                let initial = price(&mut r);
                let seller = if r.below(4) > 0 {
                    (epoch / HOT_RATIO) * HOT_RATIO
                } else {
                    r.below(people)
                };
                vec![
                    Value::Int(FIRST_ID + j as i64),
                    Value::Str(text(&mut r, 20)),
                    Value::Str(text(&mut r, 100)),
                    Value::Int(initial),
                    Value::Int(initial + price(&mut r)),
                    Value::TimeMs(time),
                    Value::TimeMs(time + 1000 + r.below(10_000) as i64 * 1000),
                    Value::Int(FIRST_ID + seller as i64),
                    Value::Int(10 + r.below(5) as i64),
                    Value::Str(String::new()),
                ]
            }
            Table::Bid => {
                let last_auction = auctions - 1;
                let auction = if r.below(2) > 0 {
                    (last_auction / HOT_RATIO) * HOT_RATIO
                } else {
                    r.below(auctions)
                };
                let bidder = if r.below(4) > 0 {
                    (epoch / HOT_RATIO) * HOT_RATIO + 1
                } else {
                    r.below(people)
                };
                let price = price(&mut r);
                let (channel, url) = if r.below(10) > 0 {
                    let c = CHANNELS[r.below(4) as usize];
                    (
                        c.to_string(),
                        format!(
                            "https://www.nexmark.com/{}/item.htm?query=1",
                            c.to_lowercase()
                        ),
                    )
                } else {
                    let k = r.below(10_000);
                    (
                        format!("channel-{k}"),
                        format!(
                            "https://www.nexmark.com/channel-{k}/item.htm?query=1&channel_id={k}"
                        ),
                    )
                };
                vec![
                    Value::Int(FIRST_ID + auction as i64),
                    Value::Int(FIRST_ID + bidder as i64),
                    Value::Int(price),
                    Value::Str(channel),
                    Value::Str(url),
                    Value::TimeMs(time),
                    Value::Str(String::new()),
                ]
            }
        }
    }
}

impl Source for NexmarkSource {
    fn name(&self) -> &str {
        "nexmark"
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn create_reader(&self, subtask: &SubtaskInfo) -> Result<Box<dyn SourceReader>> {
        let p = subtask.parallelism.max(1);
        let rate = subtask_share(self.rate, subtask.index, p).max(1);
        let reader = NexmarkReader {
            source: NexmarkSource {
                schema: self.schema.clone(),
                table: self.table,
                projection: self.projection.clone(),
                rows: self.rows,
                rate: self.rate,
                seed: self.seed,
            },
            next_row: subtask.index as u64,
            stride: p as u64,
            batch_rows: ((rate / 10).max(1) as usize).min(MAX_BATCH_ROWS),
            finished: false,
        };
        Ok(Box::new(ThrottledReader::new(
            Box::new(reader),
            rate as f64,
        )))
    }
}

struct NexmarkReader {
    source: NexmarkSource,
    next_row: u64,
    stride: u64,
    batch_rows: usize,
    finished: bool,
}

impl SourceReader for NexmarkReader {
    fn splits(&self) -> usize {
        1
    }

    fn snapshot_position(&self) -> Result<Vec<u8>> {
        super::position(&serde_json::json!({"next_row": self.next_row, "finished": self.finished}))
    }

    fn restore_position(&mut self, position: &[u8]) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Position {
            next_row: u64,
            finished: bool,
        }
        let p: Position = super::read_position(position)?;
        self.next_row = p.next_row;
        self.finished = p.finished;
        Ok(())
    }

    fn poll(&mut self) -> Result<SourceEvent> {
        let limit = self.source.rows.unwrap_or(u64::MAX);
        if self.next_row >= limit {
            if self.finished {
                return Ok(SourceEvent::End);
            }
            self.finished = true;
            return Ok(SourceEvent::SplitFinished { split: 0 });
        }
        let fields = self.source.schema.fields();
        let mut builders: Vec<ColumnBuilder> = fields
            .iter()
            .map(|f| ColumnBuilder::new(f.data_type(), self.batch_rows))
            .collect();
        let mut n = 0;
        while n < self.batch_rows && self.next_row < limit {
            let mut row = self.source.row(self.next_row);
            for ((b, f), &i) in builders
                .iter_mut()
                .zip(fields.iter())
                .zip(&self.source.projection)
            {
                let value = std::mem::replace(&mut row[i], Value::Int(0));
                b.push(match (value, f.data_type()) {
                    (Value::Int(v), DataType::Utf8 | DataType::LargeUtf8) => {
                        Cell::Str(Cow::Owned(v.to_string()))
                    }
                    (Value::Int(v), _) => Cell::Int(v),
                    (Value::Str(s), _) => Cell::Str(Cow::Owned(s)),
                    (Value::TimeMs(ms), DataType::Timestamp(unit, _)) => Cell::Int(match unit {
                        TimeUnit::Second => ms / 1000,
                        TimeUnit::Millisecond => ms,
                        TimeUnit::Microsecond => ms * 1000,
                        TimeUnit::Nanosecond => ms * 1_000_000,
                    }),
                    (Value::TimeMs(ms), _) => Cell::Str(Cow::Owned(
                        super::format::value::format_sql_timestamp(ms as i128 * 1_000_000),
                    )),
                });
            }
            self.next_row += self.stride;
            n += 1;
        }
        let columns = builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new(Arc::clone(&self.source.schema), columns)?;
        Ok(SourceEvent::Batch { split: 0, batch })
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Int64Array, TimestampMillisecondArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::connectors::filesystem::tests::subtask;

    pub(crate) fn bid_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("auction", DataType::Int64, true),
            Field::new("bidder", DataType::Int64, true),
            Field::new("price", DataType::Int64, true),
            Field::new("channel", DataType::Utf8, true),
            Field::new("url", DataType::Utf8, true),
            Field::new(
                "date_time",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
            Field::new("extra", DataType::Utf8, true),
        ]))
    }

    fn read(src: &NexmarkSource, index: u32, p: u32) -> Vec<RecordBatch> {
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

    fn rows(batches: &[RecordBatch]) -> Vec<(i64, i64, i64, i64)> {
        batches
            .iter()
            .flat_map(|b| {
                let col = |i: usize| {
                    b.column(i)
                        .as_any()
                        .downcast_ref::<Int64Array>()
                        .unwrap()
                        .clone()
                };
                let (a, bi, p) = (col(0), col(1), col(2));
                let t = b
                    .column(5)
                    .as_any()
                    .downcast_ref::<TimestampMillisecondArray>()
                    .unwrap()
                    .clone();
                (0..b.num_rows())
                    .map(move |i| (t.value(i), a.value(i), bi.value(i), p.value(i)))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn bids_are_deterministic_and_split_among_subtasks() {
        let o = Options::new([
            ("table", "bid"),
            ("events.num", "1000"),
            ("rate", "1000000"),
            ("seed", "7"),
        ]);
        let src = NexmarkSource::new(&o, bid_schema()).unwrap();
        let whole = rows(&read(&src, 0, 1));
        assert_eq!(whole.len(), 1000);
        assert_eq!(
            whole,
            rows(&read(&NexmarkSource::new(&o, bid_schema()).unwrap(), 0, 1))
        );
        let mut split: Vec<_> = (0..3).flat_map(|i| rows(&read(&src, i, 3))).collect();
        split.sort();
        let mut sorted = whole.clone();
        sorted.sort();
        assert_eq!(split, sorted);
        assert!(
            whole.windows(2).all(|w| w[0].0 <= w[1].0),
            "event time never goes back"
        );
        assert!(
            whole
                .iter()
                .all(|r| r.0 >= BASE_TIME_MS && r.1 >= FIRST_ID && r.3 >= 100)
        );
        let other = rows(&read(
            &NexmarkSource::new(
                &Options::new([("events.num", "1000"), ("rate", "1000000"), ("seed", "8")]),
                bid_schema(),
            )
            .unwrap(),
            0,
            1,
        ));
        assert_ne!(whole, other);
    }

    #[test]
    fn person_and_auction_tables_and_bad_columns() {
        let person = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new(
                "date_time",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
        ]));
        let src = NexmarkSource::new(
            &Options::new([
                ("table", "person"),
                ("number-of-rows", "10"),
                ("rate", "1000000"),
            ]),
            person.clone(),
        )
        .unwrap();
        let batches = read(&src, 0, 1);
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 10);
        let auction = Arc::new(Schema::new(vec![
            Field::new("seller", DataType::Int64, true),
            Field::new(
                "expires",
                DataType::Timestamp(TimeUnit::Millisecond, None),
                true,
            ),
        ]));
        assert!(NexmarkSource::new(&Options::new([("table", "auction")]), auction).is_ok());
        assert!(NexmarkSource::new(&Options::new([("table", "bid")]), person).is_err());
        assert!(NexmarkSource::new(&Options::new([("table", "lots")]), bid_schema()).is_err());
    }
}
