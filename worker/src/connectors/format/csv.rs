//! Flink's `csv` format: options (`csv.field-delimiter`, `csv.quote-character`, ...),
//! the encoder that writes rows byte for byte as Flink's Jackson CSV writer does, and
//! the record splitter the decoder uses.
//!
//! Jackson's default ("loose") quoting rule, which Flink keeps: a string is quoted when
//! it is longer than 24 UTF-16 units or holds a char below `max(separator, quote, '\n')
//! + 1` (so any space, `!`, `#`, `,`, `"`, ...) or a backslash; quotes inside are doubled.
//! Numbers and booleans are never quoted; NULL is the null literal (empty by default).

use super::columns::Field;
use super::value::{flink_decimal, format_date, format_sql_timestamp, java_double, java_float};
use crate::connectors::options::Options;
use crate::runtime::error::{Result, RuntimeError};

/// Jackson's `CsvEncoder.MAX_QUOTE_CHECK`: longer strings are always quoted.
const MAX_QUOTE_CHECK_CHARS: usize = 24;

pub const OPTIONS: &[&str] = &[
    "csv.field-delimiter",
    "csv.quote-character",
    "csv.disable-quote-character",
    "csv.allow-comments",
    "csv.ignore-parse-errors",
    "csv.null-literal",
    "csv.escape-character",
];

#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    pub field_delimiter: char,
    /// `None` when quoting is disabled.
    pub quote: Option<char>,
    pub escape: Option<char>,
    pub null_literal: Option<String>,
    pub allow_comments: bool,
    pub ignore_parse_errors: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            field_delimiter: ',',
            quote: Some('"'),
            escape: None,
            null_literal: None,
            allow_comments: false,
            ignore_parse_errors: false,
        }
    }
}

fn single_char(options: &Options, key: &str) -> Result<Option<char>> {
    let Some(raw) = options.get(key) else {
        return Ok(None);
    };
    let unescaped = match raw {
        "\\t" => "\t".to_string(),
        "\\n" => "\n".to_string(),
        other => other.to_string(),
    };
    let mut chars = unescaped.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(Some(c)),
        _ => Err(RuntimeError::option(
            key,
            format!("'{raw}' must be a single character"),
        )),
    }
}

impl CsvOptions {
    pub fn from_options(options: &Options) -> Result<CsvOptions> {
        let defaults = CsvOptions::default();
        let quote = if options
            .get_bool("csv.disable-quote-character")?
            .unwrap_or(false)
        {
            None
        } else {
            single_char(options, "csv.quote-character")?.or(defaults.quote)
        };
        Ok(CsvOptions {
            field_delimiter: single_char(options, "csv.field-delimiter")?
                .unwrap_or(defaults.field_delimiter),
            quote,
            escape: single_char(options, "csv.escape-character")?,
            null_literal: options.get("csv.null-literal").map(str::to_string),
            allow_comments: options.get_bool("csv.allow-comments")?.unwrap_or(false),
            ignore_parse_errors: options
                .get_bool("csv.ignore-parse-errors")?
                .unwrap_or(false),
        })
    }

    /// Lowest char that needs no quotes (Jackson's `_cfgMinSafeChar`).
    fn min_safe_char(&self) -> u32 {
        let quote = self.quote.map(|q| q as u32).unwrap_or(0);
        (self.field_delimiter as u32).max(quote).max('\n' as u32) + 1
    }

    fn needs_quotes(&self, value: &str) -> bool {
        if self.quote.is_none() {
            return false;
        }
        if value.encode_utf16().count() > MAX_QUOTE_CHECK_CHARS {
            return true;
        }
        let min_safe = self.min_safe_char();
        let control_escape = self.escape.unwrap_or('\\');
        value
            .chars()
            .any(|c| (c as u32) < min_safe || Some(c) == self.quote || c == control_escape)
    }

    fn write_string(&self, value: &str, out: &mut String) {
        let Some(q) = self.quote.filter(|_| self.needs_quotes(value)) else {
            out.push_str(value);
            return;
        };
        out.push(q);
        for c in value.chars() {
            if c == q || Some(c) == self.escape {
                out.push(if c == q { q } else { c });
            }
            out.push(c);
        }
        out.push(q);
    }

    /// Appends one row (without line separator), in Flink's encoding.
    pub fn encode_row(&self, fields: &[Field<'_>], out: &mut String) {
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.push(self.field_delimiter);
            }
            match *field {
                Field::Null => out.push_str(self.null_literal.as_deref().unwrap_or("")),
                Field::Bool(v) => out.push_str(if v { "true" } else { "false" }),
                Field::Int(v) => out.push_str(&v.to_string()),
                Field::Float32(v) => out.push_str(&java_float(v)),
                Field::Float64(v) => out.push_str(&java_double(v)),
                Field::Decimal { unscaled, scale } => {
                    out.push_str(&flink_decimal(unscaled, scale as i32))
                }
                Field::Str(s) => self.write_string(s, out),
                Field::Timestamp(nanos) => self.write_string(&format_sql_timestamp(nanos), out),
                Field::Date(days) => self.write_string(&format_date(days as i64), out),
            }
        }
    }

    /// Splits one record into its fields: `(text, was_quoted)`. `Ok(None)` for a line
    /// to skip (blank, or a `#` comment when comments are allowed).
    pub fn split_record(&self, line: &str) -> Result<Option<Vec<(String, bool)>>, String> {
        if line.trim().is_empty() || (self.allow_comments && line.starts_with('#')) {
            return Ok(None);
        }
        let mut fields = Vec::new();
        let mut current = String::new();
        let mut quoted = false;
        let mut in_quotes = false;
        let mut chars = line.chars().peekable();
        let mut at_field_start = true;
        while let Some(c) = chars.next() {
            if in_quotes {
                if Some(c) == self.escape {
                    match chars.next() {
                        Some(next) => current.push(next),
                        None => return Err("escape character at end of record".into()),
                    }
                } else if Some(c) == self.quote {
                    if chars.peek() == Some(&c) {
                        chars.next();
                        current.push(c);
                    } else {
                        in_quotes = false;
                    }
                } else {
                    current.push(c);
                }
                continue;
            }
            if c == self.field_delimiter {
                fields.push((std::mem::take(&mut current), quoted));
                quoted = false;
                at_field_start = true;
                continue;
            }
            if at_field_start && Some(c) == self.quote {
                in_quotes = true;
                quoted = true;
            } else if Some(c) == self.escape {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            } else if quoted {
                return Err(format!("unexpected character '{c}' after a closing quote"));
            } else {
                current.push(c);
            }
            at_field_start = false;
        }
        if in_quotes {
            return Err("unterminated quoted field".into());
        }
        fields.push((current, quoted));
        Ok(Some(fields))
    }

    /// Whether an unquoted field text stands for NULL.
    pub fn is_null(&self, text: &str, quoted: bool) -> bool {
        !quoted && self.null_literal.as_deref() == Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(fields: &[Field<'_>]) -> String {
        let mut out = String::new();
        CsvOptions::default().encode_row(fields, &mut out);
        out
    }

    #[test]
    fn encodes_oracle_lines_exactly() {
        let ts = crate::connectors::format::value::parse_timestamp;
        // q0.csv.gz: 1000,10000,547943,"2026-01-01 00:02:02.29"
        assert_eq!(
            encode(&[
                Field::Int(1000),
                Field::Int(10000),
                Field::Int(547943),
                Field::Timestamp(ts("2026-01-01 00:02:02.290").unwrap()),
            ]),
            "1000,10000,547943,\"2026-01-01 00:02:02.29\""
        );
        // q1.csv.gz: DECIMAL(23,3) 0.908 * price.
        assert_eq!(
            encode(&[
                Field::Int(1000),
                Field::Int(10734),
                Field::Decimal {
                    unscaled: 372_280_000,
                    scale: 3
                },
                Field::Timestamp(ts("2026-01-01 00:02:55.850").unwrap()),
            ]),
            "1000,10734,3.7228E+5,\"2026-01-01 00:02:55.85\""
        );
        // hop_count.csv.gz: window bounds with no fraction.
        assert_eq!(
            encode(&[
                Field::Timestamp(ts("2025-12-31 23:59:52").unwrap()),
                Field::Timestamp(ts("2026-01-01 00:00:02").unwrap()),
                Field::Int(1000),
                Field::Int(96),
            ]),
            "\"2025-12-31 23:59:52\",\"2026-01-01 00:00:02\",1000,96"
        );
    }

    #[test]
    fn string_quoting_follows_jackson() {
        assert_eq!(encode(&[Field::Str("Apple")]), "Apple");
        assert_eq!(encode(&[Field::Str("")]), "");
        assert_eq!(encode(&[Field::Str("a b")]), "\"a b\"");
        assert_eq!(encode(&[Field::Str("a,b")]), "\"a,b\"");
        assert_eq!(encode(&[Field::Str("say \"hi\"")]), "\"say \"\"hi\"\"\"");
        assert_eq!(encode(&[Field::Str("channel-12")]), "channel-12");
        assert_eq!(encode(&[Field::Str("a\\b")]), "\"a\\b\"");
        // Longer than 24 chars: always quoted.
        assert_eq!(
            encode(&[Field::Str("https://www.nexmark.com/apple/item.htm?query=1")]),
            "\"https://www.nexmark.com/apple/item.htm?query=1\""
        );
        assert_eq!(
            encode(&[Field::Str("abcdefghijklmnopqrstuvwx")]),
            "abcdefghijklmnopqrstuvwx"
        );
        assert_eq!(
            encode(&[Field::Str("abcdefghijklmnopqrstuvwxy")]),
            "\"abcdefghijklmnopqrstuvwxy\""
        );
    }

    #[test]
    fn other_types_and_nulls() {
        assert_eq!(
            encode(&[
                Field::Null,
                Field::Bool(true),
                Field::Float64(1.0e10),
                Field::Float64(0.1),
                Field::Float32(1.5),
                Field::Date(20_454),
                Field::Null,
            ]),
            ",true,1.0E10,0.1,1.5,2026-01-01,"
        );
        let opts = CsvOptions {
            null_literal: Some("\\N".into()),
            field_delimiter: '|',
            ..CsvOptions::default()
        };
        let mut out = String::new();
        opts.encode_row(
            &[Field::Null, Field::Str("a,b"), Field::Str("x y")],
            &mut out,
        );
        // With '|' as separator, min safe char is '|'+1: ',' and ' ' are below → quoted.
        assert_eq!(out, "\\N|\"a,b\"|\"x y\"");
    }

    #[test]
    fn splits_records_with_quotes_and_comments() {
        let opts = CsvOptions {
            allow_comments: true,
            ..CsvOptions::default()
        };
        let f = opts
            .split_record("1,\"a \"\"b\"\", c\",,x")
            .unwrap()
            .unwrap();
        assert_eq!(
            f,
            vec![
                ("1".into(), false),
                ("a \"b\", c".into(), true),
                ("".into(), false),
                ("x".into(), false)
            ]
        );
        assert_eq!(opts.split_record("# comment").unwrap(), None);
        assert_eq!(opts.split_record("   ").unwrap(), None);
        assert!(opts.split_record("1,\"open").is_err());
        assert!(opts.split_record("\"a\"b,1").is_err());
    }
}
