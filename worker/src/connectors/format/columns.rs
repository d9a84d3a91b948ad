//! The bridge between Arrow columns and text formats: [`ColumnBuilder`] turns parsed
//! text/JSON values into a column of the table's type (decoding), [`field`] reads one
//! value of a column back as a [`Field`] for the encoders.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Date32Array, Decimal128Array, Decimal128Builder,
    Float32Array, Float32Builder, Float64Array, Float64Builder, Int8Array, Int16Array, Int32Array,
    Int64Array, Int64Builder, LargeStringArray, StringArray, StringBuilder,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use serde_json::Value;

use super::value::{parse_date, parse_decimal, parse_timestamp};
use crate::runtime::error::{Result, RuntimeError};

/// Whether the formats support a column type (checked when a connector is created).
pub fn check_supported(name: &str, data_type: &DataType) -> Result<()> {
    match data_type {
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float32
        | DataType::Float64
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Decimal128(_, _)
        | DataType::Timestamp(_, _)
        | DataType::Date32 => Ok(()),
        other => Err(RuntimeError::option(
            "format",
            format!("column '{name}' has type {other}, which the text formats do not support"),
        )),
    }
}

/// Builds one column of a batch from values parsed out of text records.
#[derive(Debug)]
pub enum ColumnBuilder {
    Boolean(BooleanBuilder),
    /// Every integer, timestamp and date type, range-checked, cast on finish.
    Integer {
        builder: Int64Builder,
        data_type: DataType,
    },
    Float32(Float32Builder),
    Float64(Float64Builder),
    Utf8 {
        builder: StringBuilder,
        data_type: DataType,
    },
    Decimal {
        builder: Decimal128Builder,
        precision: u8,
        scale: i8,
    },
}

impl Cell<'_> {
    pub fn into_owned(self) -> Cell<'static> {
        match self {
            Cell::Null => Cell::Null,
            Cell::Bool(v) => Cell::Bool(v),
            Cell::Int(v) => Cell::Int(v),
            Cell::Float(v) => Cell::Float(v),
            Cell::Str(s) => Cell::Str(Cow::Owned(s.into_owned())),
            Cell::Decimal(v) => Cell::Decimal(v),
        }
    }
}

impl ColumnBuilder {
    pub fn new(data_type: &DataType, capacity: usize) -> ColumnBuilder {
        match data_type {
            DataType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::with_capacity(capacity)),
            DataType::Float32 => ColumnBuilder::Float32(Float32Builder::with_capacity(capacity)),
            DataType::Float64 => ColumnBuilder::Float64(Float64Builder::with_capacity(capacity)),
            DataType::Utf8 | DataType::LargeUtf8 => ColumnBuilder::Utf8 {
                builder: StringBuilder::with_capacity(capacity, capacity * 16),
                data_type: data_type.clone(),
            },
            DataType::Decimal128(precision, scale) => ColumnBuilder::Decimal {
                builder: Decimal128Builder::with_capacity(capacity),
                precision: *precision,
                scale: *scale,
            },
            other => ColumnBuilder::Integer {
                builder: Int64Builder::with_capacity(capacity),
                data_type: other.clone(),
            },
        }
    }

    pub fn append_null(&mut self) {
        match self {
            ColumnBuilder::Boolean(b) => b.append_null(),
            ColumnBuilder::Integer { builder, .. } => builder.append_null(),
            ColumnBuilder::Float32(b) => b.append_null(),
            ColumnBuilder::Float64(b) => b.append_null(),
            ColumnBuilder::Utf8 { builder, .. } => builder.append_null(),
            ColumnBuilder::Decimal { builder, .. } => builder.append_null(),
        }
    }

    /// Parses a value given as text (a CSV field, a JSON string) for this column.
    pub fn parse_text<'a>(&self, text: &'a str) -> Result<Cell<'a>, String> {
        Ok(match self {
            // Java's Boolean.parseBoolean, as Flink: anything but "true" is false.
            ColumnBuilder::Boolean(_) => Cell::Bool(text.trim().eq_ignore_ascii_case("true")),
            ColumnBuilder::Integer { data_type, .. } => {
                Cell::Int(integer_from_text(text, data_type)?)
            }
            ColumnBuilder::Float32(_) | ColumnBuilder::Float64(_) => {
                Cell::Float(parse_float(text)?)
            }
            ColumnBuilder::Utf8 { .. } => Cell::Str(Cow::Borrowed(text)),
            ColumnBuilder::Decimal {
                precision, scale, ..
            } => {
                let t = text.trim();
                if t.is_empty() || !t.bytes().all(|b| b"0123456789+-.eE".contains(&b)) {
                    return Err(format!("'{text}' is not a decimal"));
                }
                // Wider than the precision: NULL, as Flink's DecimalData.fromBigDecimal.
                Cell::Decimal(parse_decimal(t, *precision, *scale))
            }
        })
    }

    /// Parses a JSON value (not null: the caller handles null and missing fields).
    pub fn parse_json<'a>(&self, value: &'a Value) -> Result<Cell<'a>, String> {
        Ok(match (self, value) {
            (ColumnBuilder::Boolean(_), Value::Bool(v)) => Cell::Bool(*v),
            (ColumnBuilder::Integer { data_type, .. }, Value::Number(n))
                if !matches!(data_type, DataType::Timestamp(..) | DataType::Date32) =>
            {
                let v = match n.as_i64() {
                    Some(v) => v,
                    None => n.as_f64().map(|f| f.trunc() as i64).unwrap_or(0),
                };
                Cell::Int(check_range(v, data_type)?)
            }
            (ColumnBuilder::Float32(_) | ColumnBuilder::Float64(_), Value::Number(n)) => {
                Cell::Float(n.as_f64().unwrap_or(f64::NAN))
            }
            (
                ColumnBuilder::Decimal {
                    precision, scale, ..
                },
                Value::Number(n),
            ) => Cell::Decimal(parse_decimal(&n.to_string(), *precision, *scale)),
            (this, Value::String(s)) => this.parse_text(s)?,
            (ColumnBuilder::Utf8 { .. }, other) => Cell::Str(Cow::Owned(other.to_string())),
            (_, other) => return Err(format!("unexpected JSON value {other}")),
        })
    }

    /// Appends a value parsed by this builder's `parse_*` (so of the right kind).
    pub fn push(&mut self, cell: Cell<'_>) {
        match (self, cell) {
            (this, Cell::Null) => this.append_null(),
            (ColumnBuilder::Boolean(b), Cell::Bool(v)) => b.append_value(v),
            (ColumnBuilder::Integer { builder, .. }, Cell::Int(v)) => builder.append_value(v),
            (ColumnBuilder::Float32(b), Cell::Float(v)) => b.append_value(v as f32),
            (ColumnBuilder::Float64(b), Cell::Float(v)) => b.append_value(v),
            (ColumnBuilder::Utf8 { builder, .. }, Cell::Str(s)) => builder.append_value(s),
            (ColumnBuilder::Decimal { builder, .. }, Cell::Decimal(v)) => builder.append_option(v),
            (this, _) => this.append_null(),
        }
    }

    pub fn finish(&mut self) -> Result<ArrayRef> {
        Ok(match self {
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::Float32(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Utf8 { builder, data_type } => {
                let array: ArrayRef = Arc::new(builder.finish());
                if *data_type == DataType::Utf8 {
                    array
                } else {
                    arrow::compute::cast(&array, data_type)?
                }
            }
            ColumnBuilder::Decimal {
                builder,
                precision,
                scale,
            } => Arc::new(
                builder
                    .finish()
                    .with_precision_and_scale(*precision, *scale)?,
            ),
            ColumnBuilder::Integer { builder, data_type } => {
                let array: ArrayRef = Arc::new(builder.finish());
                match data_type {
                    DataType::Date32 => arrow::compute::cast(
                        &arrow::compute::cast(&array, &DataType::Int32)?,
                        data_type,
                    )?,
                    _ => arrow::compute::cast(&array, data_type)?,
                }
            }
        })
    }
}

fn parse_float(text: &str) -> Result<f64, String> {
    let t = text.trim();
    match t {
        "Infinity" | "+Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => t
            .parse::<f64>()
            .map_err(|_| format!("'{text}' is not a number")),
    }
}

fn integer_from_text(text: &str, data_type: &DataType) -> Result<i64, String> {
    match data_type {
        DataType::Timestamp(unit, _) => {
            let nanos =
                parse_timestamp(text).ok_or_else(|| format!("'{text}' is not a timestamp"))?;
            let per = match unit {
                TimeUnit::Second => 1_000_000_000,
                TimeUnit::Millisecond => 1_000_000,
                TimeUnit::Microsecond => 1_000,
                TimeUnit::Nanosecond => 1,
            };
            i64::try_from(nanos.div_euclid(per)).map_err(|_| format!("'{text}' is out of range"))
        }
        DataType::Date32 => parse_date(text).ok_or_else(|| format!("'{text}' is not a date")),
        _ => {
            let v = text
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("'{text}' is not a whole number"))?;
            check_range(v, data_type)
        }
    }
}

fn check_range(v: i64, data_type: &DataType) -> Result<i64, String> {
    let (lo, hi) = match data_type {
        DataType::Int8 => (i8::MIN as i64, i8::MAX as i64),
        DataType::Int16 => (i16::MIN as i64, i16::MAX as i64),
        DataType::Int32 => (i32::MIN as i64, i32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    };
    if v < lo || v > hi {
        return Err(format!("{v} is out of range for {data_type}"));
    }
    Ok(v)
}

/// A parsed value waiting to be appended: a record is parsed whole before any of its
/// values is appended, so a malformed record leaves the builders untouched.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Bool(bool),
    /// Integers, timestamps (in the column's unit) and dates (days).
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    /// `None`: wider than the column's precision (appended as NULL).
    Decimal(Option<i128>),
}

/// One value of a column, as the encoders see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float32(f32),
    Float64(f64),
    Str(&'a str),
    Decimal {
        unscaled: i128,
        scale: i8,
    },
    /// Nanoseconds since the epoch.
    Timestamp(i128),
    /// Days since the epoch.
    Date(i32),
}

macro_rules! downcast {
    ($array:expr, $t:ty) => {
        $array
            .as_any()
            .downcast_ref::<$t>()
            .ok_or_else(|| RuntimeError::Task {
                task: "format".into(),
                message: format!(
                    "column of type {} is not a {}",
                    $array.data_type(),
                    stringify!($t)
                ),
            })?
    };
}

/// Reads row `row` of `array`.
pub fn field(array: &dyn Array, row: usize) -> Result<Field<'_>> {
    if array.is_null(row) {
        return Ok(Field::Null);
    }
    Ok(match array.data_type() {
        DataType::Boolean => Field::Bool(downcast!(array, BooleanArray).value(row)),
        DataType::Int8 => Field::Int(downcast!(array, Int8Array).value(row) as i64),
        DataType::Int16 => Field::Int(downcast!(array, Int16Array).value(row) as i64),
        DataType::Int32 => Field::Int(downcast!(array, Int32Array).value(row) as i64),
        DataType::Int64 => Field::Int(downcast!(array, Int64Array).value(row)),
        DataType::Float32 => Field::Float32(downcast!(array, Float32Array).value(row)),
        DataType::Float64 => Field::Float64(downcast!(array, Float64Array).value(row)),
        DataType::Utf8 => Field::Str(downcast!(array, StringArray).value(row)),
        DataType::LargeUtf8 => Field::Str(downcast!(array, LargeStringArray).value(row)),
        DataType::Decimal128(_, scale) => Field::Decimal {
            unscaled: downcast!(array, Decimal128Array).value(row),
            scale: *scale,
        },
        DataType::Date32 => Field::Date(downcast!(array, Date32Array).value(row)),
        DataType::Timestamp(TimeUnit::Second, _) => Field::Timestamp(
            downcast!(array, TimestampSecondArray).value(row) as i128 * 1_000_000_000,
        ),
        DataType::Timestamp(TimeUnit::Millisecond, _) => Field::Timestamp(
            downcast!(array, TimestampMillisecondArray).value(row) as i128 * 1_000_000,
        ),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Field::Timestamp(downcast!(array, TimestampMicrosecondArray).value(row) as i128 * 1_000)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            Field::Timestamp(downcast!(array, TimestampNanosecondArray).value(row) as i128)
        }
        other => {
            return Err(RuntimeError::Task {
                task: "format".into(),
                message: format!("cannot encode a column of type {other}"),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(b: &mut ColumnBuilder, text: &str) -> Result<(), String> {
        let cell = b.parse_text(text)?.into_owned();
        b.push(cell);
        Ok(())
    }

    fn append_json(b: &mut ColumnBuilder, v: serde_json::Value) -> Result<(), String> {
        let cell = b.parse_json(&v)?.into_owned();
        b.push(cell);
        Ok(())
    }

    #[test]
    fn builds_typed_columns_and_reads_them_back() {
        let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
        let mut b = ColumnBuilder::new(&ts, 4);
        append(&mut b, "2026-01-01 00:00:00.002").unwrap();
        b.append_null();
        assert!(append(&mut b, "not a time").is_err());
        let array = b.finish().unwrap();
        assert_eq!(array.len(), 2);
        assert_eq!(array.data_type(), &ts);
        assert_eq!(
            field(array.as_ref(), 0).unwrap(),
            Field::Timestamp((1_767_225_600_000i128 + 2) * 1_000_000)
        );
        assert_eq!(field(array.as_ref(), 1).unwrap(), Field::Null);

        let mut i = ColumnBuilder::new(&DataType::Int32, 2);
        assert!(append(&mut i, "3000000000").is_err());
        append_json(&mut i, serde_json::json!(7)).unwrap();
        append(&mut i, " 8 ").unwrap();
        let array = i.finish().unwrap();
        assert_eq!(field(array.as_ref(), 1).unwrap(), Field::Int(8));

        let mut d = ColumnBuilder::new(&DataType::Decimal128(10, 2), 2);
        append_json(&mut d, serde_json::json!(1.5)).unwrap();
        assert!(append(&mut d, "x1").is_err());
        let array = d.finish().unwrap();
        assert_eq!(
            field(array.as_ref(), 0).unwrap(),
            Field::Decimal {
                unscaled: 150,
                scale: 2
            }
        );

        let mut s = ColumnBuilder::new(&DataType::Utf8, 2);
        append_json(&mut s, serde_json::json!({"a": 1})).unwrap();
        let array = s.finish().unwrap();
        assert_eq!(field(array.as_ref(), 0).unwrap(), Field::Str("{\"a\":1}"));
    }
}
