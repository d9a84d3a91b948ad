//! `--config FILE`: a TOML file whose keys are flag names (`heartbeat-timeout = "5s"`
//! or `heartbeat_timeout = "5s"`). Its values become the defaults of the matching
//! flags of the chosen subcommand, so flags and `EDDY_*` variables still win.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Command;

/// Largest config file read.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("config file {path} is not valid TOML: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error(
        "config file {path}: unknown key {key:?} (keys are flag names such as http, data-dir, slots)"
    )]
    UnknownKey { path: PathBuf, key: String },
    #[error("config file {path}: key {key:?} must be a string, number or boolean")]
    BadValue { path: PathBuf, key: String },
}

/// The `--config` path from the arguments or `EDDY_CONFIG`, before clap runs.
pub fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let s = arg.to_string_lossy();
        if s == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(v) = s.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os("EDDY_CONFIG").map(PathBuf::from)
}

/// Reads `path` and sets its values as defaults of every subcommand's matching flags.
pub fn apply(mut cmd: Command, path: &Path) -> Result<Command, ConfigFileError> {
    let meta = std::fs::metadata(path).map_err(|source| ConfigFileError::Read {
        path: path.into(),
        source,
    })?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(ConfigFileError::TooLarge { path: path.into() });
    }
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.into(),
        source,
    })?;
    let table: toml::Table = text.parse().map_err(|source| ConfigFileError::Parse {
        path: path.into(),
        source,
    })?;
    for (key, value) in table {
        let id = key.replace('-', "_");
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => {
                return Err(ConfigFileError::BadValue {
                    path: path.into(),
                    key,
                });
            }
        };
        if cmd.get_arguments().any(|a| a.get_id() == id.as_str()) {
            cmd = cmd.mut_arg(id, move |a| a.default_value(value));
            continue;
        }
        let names: Vec<String> = cmd
            .get_subcommands()
            .filter(|sc| sc.get_arguments().any(|a| a.get_id() == id.as_str()))
            .map(|sc| sc.get_name().to_string())
            .collect();
        if names.is_empty() {
            return Err(ConfigFileError::UnknownKey {
                path: path.into(),
                key,
            });
        }
        for name in names {
            let (id, value) = (id.clone(), value.clone());
            cmd = cmd.mut_subcommand(name, move |sc| {
                sc.mut_arg(id, move |a| a.default_value(value).required(false))
            });
        }
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command as Sub};
    use clap::{CommandFactory, FromArgMatches};

    fn parse(toml: &str, args: &[&str]) -> Result<Cli, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("eddy.toml");
        std::fs::write(&path, toml).map_err(|e| e.to_string())?;
        let cmd = apply(Cli::command(), &path).map_err(|e| e.to_string())?;
        let matches = cmd.try_get_matches_from(args).map_err(|e| e.to_string())?;
        Cli::from_arg_matches(&matches).map_err(|e| e.to_string())
    }

    #[test]
    fn file_values_become_defaults_and_flags_win() {
        let cli = parse(
            "http = \"127.0.0.1:9000\"\nheartbeat-timeout = \"7s\"\nslots = 3\n",
            &["eddy", "standalone", "--slots", "5"],
        )
        .expect("parse");
        let Sub::Standalone(a) = cli.command else {
            panic!("standalone expected")
        };
        assert_eq!(a.master.http.port(), 9000);
        assert_eq!(
            a.master.heartbeat_timeout,
            std::time::Duration::from_secs(7)
        );
        assert_eq!(a.slots.slots, Some(5));
    }

    #[test]
    fn worker_master_url_can_come_from_the_file() {
        let cli = parse("master = \"http://127.0.0.1:1\"\n", &["eddy", "worker"]).expect("parse");
        let Sub::Worker(a) = cli.command else {
            panic!("worker expected")
        };
        assert_eq!(a.master, "http://127.0.0.1:1");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = parse("no-such-flag = 1\n", &["eddy", "standalone"])
            .err()
            .unwrap_or_default();
        assert!(err.contains("unknown key"), "{err}");
    }
}
