//! Flink's `json` format: options, the encoder writing rows as Flink's
//! `JsonRowDataSerializationSchema` does (fields in schema order, no spaces, SQL
//! timestamps as strings, DECIMAL as a JSON number with trailing zeros stripped, NULL as
//! `null`, Jackson's string escaping), and the record parser the decoder uses.

use serde_json::{Map, Value};

use super::columns::Field;
use super::value::{flink_decimal, format_date, format_sql_timestamp, java_double, java_float};
use crate::connectors::options::Options;
use crate::runtime::error::{Result, RuntimeError};

pub const OPTIONS: &[&str] = &[
    "json.fail-on-missing-field",
    "json.ignore-parse-errors",
    "json.timestamp-format.standard",
    "json.encode.decimal-as-plain-number",
    "json.encode.ignore-null-fields",
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonOptions {
    pub fail_on_missing_field: bool,
    pub ignore_parse_errors: bool,
    /// `'ISO-8601'`: timestamps written with a `T` (both forms are always read).
    pub iso_timestamps: bool,
    pub decimal_as_plain_number: bool,
    pub ignore_null_fields: bool,
}

impl JsonOptions {
    pub fn from_options(options: &Options) -> Result<JsonOptions> {
        let iso_timestamps = match options.get("json.timestamp-format.standard") {
            None | Some("SQL") => false,
            Some("ISO-8601") => true,
            Some(other) => {
                return Err(RuntimeError::option(
                    "json.timestamp-format.standard",
                    format!("'{other}' is neither 'SQL' nor 'ISO-8601'"),
                ));
            }
        };
        let fail_on_missing_field = options
            .get_bool("json.fail-on-missing-field")?
            .unwrap_or(false);
        let ignore_parse_errors = options
            .get_bool("json.ignore-parse-errors")?
            .unwrap_or(false);
        if fail_on_missing_field && ignore_parse_errors {
            return Err(RuntimeError::option(
                "json.fail-on-missing-field",
                "cannot be true together with 'json.ignore-parse-errors'",
            ));
        }
        Ok(JsonOptions {
            fail_on_missing_field,
            ignore_parse_errors,
            iso_timestamps,
            decimal_as_plain_number: options
                .get_bool("json.encode.decimal-as-plain-number")?
                .unwrap_or(false),
            ignore_null_fields: options
                .get_bool("json.encode.ignore-null-fields")?
                .unwrap_or(false),
        })
    }

    /// Appends one row as a JSON object (without line separator).
    pub fn encode_row(&self, names: &[&str], fields: &[Field<'_>], out: &mut String) {
        out.push('{');
        let mut first = true;
        for (name, field) in names.iter().zip(fields) {
            if self.ignore_null_fields && *field == Field::Null {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            write_json_string(name, out);
            out.push(':');
            match *field {
                Field::Null => out.push_str("null"),
                Field::Bool(v) => out.push_str(if v { "true" } else { "false" }),
                Field::Int(v) => out.push_str(&v.to_string()),
                Field::Float32(v) => write_number(&java_float(v), v.is_finite(), out),
                Field::Float64(v) => write_number(&java_double(v), v.is_finite(), out),
                Field::Decimal { unscaled, scale } => {
                    if self.decimal_as_plain_number {
                        out.push_str(&plain_decimal(unscaled, scale as i32));
                    } else {
                        out.push_str(&flink_decimal(unscaled, scale as i32));
                    }
                }
                Field::Str(s) => write_json_string(s, out),
                Field::Timestamp(nanos) => {
                    let mut text = format_sql_timestamp(nanos);
                    if self.iso_timestamps {
                        text.replace_range(10..11, "T");
                    }
                    write_json_string(&text, out);
                }
                Field::Date(days) => write_json_string(&format_date(days as i64), out),
            }
        }
        out.push('}');
    }

    /// Parses one record; `Ok(None)` for a blank line (Flink skips empty messages).
    pub fn parse_record(&self, line: &str) -> Result<Option<Map<String, Value>>, String> {
        if line.trim().is_empty() {
            return Ok(None);
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            Ok(other) => Err(format!("expected a JSON object, found {other}")),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Jackson writes NaN and infinities as strings (`QUOTE_NON_NUMERIC_NUMBERS`).
fn write_number(text: &str, finite: bool, out: &mut String) {
    if finite {
        out.push_str(text);
    } else {
        write_json_string(text, out);
    }
}

/// `BigDecimal.stripTrailingZeros().toPlainString()`.
fn plain_decimal(unscaled: i128, scale: i32) -> String {
    let (mut u, mut s) = (unscaled, scale);
    while u != 0 && u % 10 == 0 && s > 0 {
        u /= 10;
        s -= 1;
    }
    super::value::big_decimal(u, s.max(0))
}

/// Jackson's escaping: `"` and `\`, the short escapes `\b \t \n \f \r`, other control
/// chars as `\u00XX` (upper-case hex); everything else as is (UTF-8).
pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::format::value::parse_timestamp;

    #[test]
    fn encodes_like_flink() {
        let mut out = String::new();
        JsonOptions::default().encode_row(
            &[
                "auction",
                "price",
                "channel",
                "date_time",
                "d",
                "x",
                "f",
                "b",
            ],
            &[
                Field::Int(1002),
                Field::Decimal {
                    unscaled: 572_557_560,
                    scale: 3,
                },
                Field::Str("Ap\"ple\n\u{1}é"),
                Field::Timestamp(parse_timestamp("2026-01-01 00:00:00.000").unwrap()),
                Field::Date(20_454),
                Field::Null,
                Field::Float64(f64::NAN),
                Field::Bool(false),
            ],
            &mut out,
        );
        assert_eq!(
            out,
            r#"{"auction":1002,"price":572557.56,"channel":"Ap\"ple\n\u0001é","date_time":"2026-01-01 00:00:00","d":"2026-01-01","x":null,"f":"NaN","b":false}"#
        );
    }

    #[test]
    fn options_variants() {
        let opts = JsonOptions::from_options(&Options::new([
            ("json.timestamp-format.standard", "ISO-8601"),
            ("json.encode.decimal-as-plain-number", "true"),
            ("json.encode.ignore-null-fields", "true"),
        ]))
        .unwrap();
        let mut out = String::new();
        opts.encode_row(
            &["t", "d", "n"],
            &[
                Field::Timestamp(parse_timestamp("2026-01-01 00:00:01.5").unwrap()),
                Field::Decimal {
                    unscaled: 372_280_000,
                    scale: 3,
                },
                Field::Null,
            ],
            &mut out,
        );
        assert_eq!(out, r#"{"t":"2026-01-01T00:00:01.5","d":372280}"#);
        assert!(
            JsonOptions::from_options(&Options::new([("json.timestamp-format.standard", "X")]))
                .is_err()
        );
        assert!(opts.parse_record("[1]").is_err());
        assert!(opts.parse_record("{\"a\":").is_err());
        assert_eq!(opts.parse_record("  ").unwrap(), None);
    }
}
