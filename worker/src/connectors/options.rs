//! A connector's `WITH (...)` options: string keys and values as Flink takes them,
//! with typed accessors that name the option in every error, and a check that no
//! unknown option slipped through (Flink's `FactoryUtil.validate`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::runtime::error::{Result, RuntimeError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    values: BTreeMap<String, String>,
}

impl Options {
    pub fn new<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Options {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    pub fn require(&self, key: &str) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| RuntimeError::option(key, "required option is missing"))
    }

    pub fn get_u64(&self, key: &str) -> Result<Option<u64>> {
        self.get(key)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| RuntimeError::option(key, format!("'{v}' is not a whole number")))
            })
            .transpose()
    }

    pub fn get_f64(&self, key: &str) -> Result<Option<f64>> {
        self.get(key)
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| RuntimeError::option(key, format!("'{v}' is not a number")))
            })
            .transpose()
    }

    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        self.get(key)
            .map(|v| match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(RuntimeError::option(
                    key,
                    format!("'{v}' is not true or false"),
                )),
            })
            .transpose()
    }

    /// A Flink duration: `500 ms`, `10s`, `1 min`, or a bare number of milliseconds.
    pub fn get_duration(&self, key: &str) -> Result<Option<Duration>> {
        self.get(key)
            .map(|v| {
                parse_duration(v)
                    .ok_or_else(|| RuntimeError::option(key, format!("'{v}' is not a duration")))
            })
            .transpose()
    }

    /// Fails on the first option that is neither in `known` nor starts with one of
    /// `known_prefixes` (e.g. `fields.`).
    pub fn check_known(&self, known: &[&str], known_prefixes: &[&str]) -> Result<()> {
        let known: BTreeSet<&str> = known.iter().copied().collect();
        for key in self.values.keys() {
            if !known.contains(key.as_str()) && !known_prefixes.iter().any(|p| key.starts_with(p)) {
                return Err(RuntimeError::option(
                    key,
                    format!(
                        "unsupported option; supported: {}",
                        known.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Parses Flink's duration syntax (`TimeUtils.parseDuration`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let ms = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => n,
        "s" | "sec" | "secs" | "second" | "seconds" => n.checked_mul(1000)?,
        "m" | "min" | "minute" | "minutes" => n.checked_mul(60_000)?,
        "h" | "hour" | "hours" => n.checked_mul(3_600_000)?,
        "d" | "day" | "days" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_unknown_options() {
        assert_eq!(parse_duration("500 ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("2 min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("abc"), None);
        let o = Options::new([
            ("path", "/x"),
            ("fields.a.kind", "sequence"),
            ("bogus", "1"),
        ]);
        let err = o.check_known(&["path"], &["fields."]).unwrap_err();
        assert!(err.to_string().contains("'bogus'"), "{err}");
    }
}
