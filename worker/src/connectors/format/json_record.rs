//! [`JsonRecordReader`]: reads one flat JSON record straight into the table's columns —
//! the hot path of the `json` format, written by hand because it is where a JSON source
//! spends its time (a general parser builds a map of owned keys and values per line).
//! It scans the object once, finds each key's column (trying the column after the
//! previous key's first, as records usually keep one field order), borrows strings from
//! the line and leaves numbers as serde_json would read them. It declines — and the
//! decoder falls back to the full parser ([`super::json::JsonOptions::parse_record`]),
//! which gives the same values or the error message — on anything but a flat object of
//! strings without escapes, numbers, booleans and nulls: nested values, escapes,
//! malformed input. Strict JSON grammar, so it never accepts what the full parser
//! rejects; the last of duplicate keys wins, as there.

use serde_json::{Number, Value};
use smallvec::SmallVec;

/// Columns a record's values are kept for without a heap allocation.
pub const INLINE_COLUMNS: usize = 8;

/// One record's values by column (`None`: absent).
pub type JsonValues<'a> = SmallVec<[Option<JsonScalar<'a>>; INLINE_COLUMNS]>;

/// A value of a column, as read from a record.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonScalar<'a> {
    Null,
    /// A JSON string without escapes, borrowed from the line.
    Str(&'a str),
    /// A JSON string the full parser read (it had escapes).
    Owned(String),
    /// An integer that fits in an i64 (serde_json's `Value::Number` of it).
    Int(i64),
    /// Any other number, or a boolean, as serde_json reads it.
    Other(Value),
}

/// The columns a record is read into, by name.
#[derive(Debug, Clone)]
pub struct JsonRecordReader {
    names: Vec<String>,
}

/// The line is not a flat object this reader takes (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declined;

type Scan<T> = Result<T, Declined>;

impl JsonRecordReader {
    pub fn new<'n>(names: impl IntoIterator<Item = &'n str>) -> Self {
        JsonRecordReader {
            names: names.into_iter().map(str::to_string).collect(),
        }
    }

    /// Reads `line` into `out`, one slot per column (`None`: absent).
    pub fn read<'a>(&self, line: &'a str, out: &mut JsonValues<'a>) -> Scan<()> {
        out.clear();
        out.extend(std::iter::repeat_n(None, self.names.len()));
        let mut s = Scanner { text: line, pos: 0 };
        s.expect(b'{')?;
        let mut next_column = 0;
        if s.peek() == Some(b'}') {
            s.pos += 1;
        } else {
            loop {
                let key = s.string()?;
                s.expect(b':')?;
                let value = s.value()?;
                if let Some(i) = self.column(key, next_column) {
                    out[i] = Some(value);
                    next_column = i + 1;
                }
                match s.next_byte()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return Err(Declined),
                }
            }
        }
        s.skip_whitespace();
        if s.pos == line.len() {
            Ok(())
        } else {
            Err(Declined)
        }
    }

    fn column(&self, key: &str, hint: usize) -> Option<usize> {
        if self.names.get(hint).is_some_and(|n| n == key) {
            return Some(hint);
        }
        self.names.iter().position(|n| n == key)
    }
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes().get(self.pos).copied()
    }

    fn next_byte(&mut self) -> Scan<u8> {
        let b = self.peek().ok_or(Declined)?;
        self.pos += 1;
        Ok(b)
    }

    fn expect(&mut self, b: u8) -> Scan<()> {
        if self.next_byte()? == b {
            Ok(())
        } else {
            Err(Declined)
        }
    }

    /// A string without escapes or control characters, quotes excluded.
    fn string(&mut self) -> Scan<&'a str> {
        self.expect(b'"')?;
        let start = self.pos;
        let rest = &self.bytes()[start..];
        match memchr::memchr2(b'"', b'\\', rest) {
            // No control character inside (checked without a branch per byte).
            Some(len) if rest[len] == b'"' && no_control(&rest[..len]) => {
                self.pos = start + len + 1;
                // Quotes are ASCII, so both ends are character boundaries.
                self.text.get(start..start + len).ok_or(Declined)
            }
            _ => Err(Declined),
        }
    }

    fn literal(&mut self, word: &str, value: JsonScalar<'a>) -> Scan<JsonScalar<'a>> {
        if self.bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(Declined)
        }
    }

    fn value(&mut self) -> Scan<JsonScalar<'a>> {
        match self.peek().ok_or(Declined)? {
            b'"' => Ok(JsonScalar::Str(self.string()?)),
            b'n' => self.literal("null", JsonScalar::Null),
            b't' => self.literal("true", JsonScalar::Other(Value::Bool(true))),
            b'f' => self.literal("false", JsonScalar::Other(Value::Bool(false))),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Declined),
        }
    }

    /// A JSON number: an integer as i64 (or u64), anything else as f64 — serde_json's
    /// choice without `arbitrary_precision`.
    fn number(&mut self) -> Scan<JsonScalar<'a>> {
        let start = self.pos;
        let b = self.bytes();
        let digits = |mut i: usize| {
            let from = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            (i, i - from)
        };
        let mut i = start + usize::from(b[start] == b'-');
        let (end, n) = digits(i);
        if n == 0 || (n > 1 && b[i] == b'0') {
            return Err(Declined);
        }
        i = end;
        let mut integer = true;
        if b.get(i) == Some(&b'.') {
            let (end, n) = digits(i + 1);
            if n == 0 {
                return Err(Declined);
            }
            (i, integer) = (end, false);
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            let (end, n) = digits(i);
            if n == 0 {
                return Err(Declined);
            }
            (i, integer) = (end, false);
        }
        self.pos = i;
        let text = &self.text[start..i];
        let number = if integer {
            // serde_json reads `-0` as the float -0.0.
            if let Ok(v) = text.parse::<i64>().map_err(drop).and_then(|v| {
                if v == 0 && text.starts_with('-') {
                    Err(())
                } else {
                    Ok(v)
                }
            }) {
                return Ok(JsonScalar::Int(v));
            } else if let Ok(v) = text.parse::<u64>() {
                Number::from(v)
            } else {
                float(text)?
            }
        } else {
            float(text)?
        };
        Ok(JsonScalar::Other(Value::Number(number)))
    }
}

fn no_control(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, &b| ok & (b >= 0x20))
}

/// Any number that is not an i64/u64, read by serde_json itself: its float parsing is
/// not always the correctly rounded one `str::parse` gives, and values must match.
fn float(text: &str) -> Scan<Number> {
    serde_json::from_str::<Number>(text).map_err(|_| Declined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(line: &str) -> Scan<Vec<Option<JsonScalar<'_>>>> {
        let reader = JsonRecordReader::new(["a", "s", "n"]);
        let mut out = JsonValues::new();
        reader.read(line, &mut out).map(|()| out.into_vec())
    }

    #[test]
    fn reads_the_columns_and_skips_the_rest() {
        let row =
            read(r#" { "x" : "skip", "s":"plain", "a": -7, "n": null , "b": true} "#).unwrap();
        assert_eq!(row[0], Some(JsonScalar::Int(-7)));
        assert_eq!(row[1], Some(JsonScalar::Str("plain")));
        assert_eq!(row[2], Some(JsonScalar::Null));
        let row = read(r#"{"a": 1.5e2, "a": 18446744073709551615, "s": "é"}"#).unwrap();
        assert_eq!(row[0], Some(JsonScalar::Other(Value::from(u64::MAX))));
        assert_eq!(row[1], Some(JsonScalar::Str("é")));
        assert_eq!(row[2], None);
        assert_eq!(read("{}").unwrap(), vec![None, None, None]);
    }

    #[test]
    fn numbers_are_what_serde_json_reads() {
        for text in [
            "0",
            "-0",
            "12",
            "-12.50",
            "1e3",
            "1.5E-2",
            "123456789012345678901234",
            "-9223372036854775809",
        ] {
            let line = format!(r#"{{"a": {text}}}"#);
            let full: serde_json::Map<String, Value> = serde_json::from_str(&line).unwrap();
            let value = match read(&line).unwrap()[0].clone() {
                Some(JsonScalar::Int(v)) => Value::from(v),
                Some(JsonScalar::Other(v)) => v,
                other => panic!("{text}: {other:?}"),
            };
            assert_eq!(value, full["a"], "{text}");
        }
    }

    #[test]
    fn declines_what_it_does_not_take_and_what_is_not_json() {
        for line in [
            r#"{"s": "esc\"aped"}"#,
            r#"{"x": {"deep": 1}}"#,
            r#"{"x": [1]}"#,
            r#"{"a": 01}"#,
            r#"{"a": 1.}"#,
            r#"{"a": +1}"#,
            r#"{"a": 1,}"#,
            r#"{"a": tru}"#,
            "{\"s\": \"tab\there\"}",
            r#"{"a": 1} x"#,
            r#"{"a": "#,
            "[1]",
            "",
        ] {
            assert_eq!(read(line), Err(Declined), "{line}");
        }
    }
}
