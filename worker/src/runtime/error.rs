//! The runtime's error type: what fails a task, and so the job attempt.

use arrow::error::ArrowError;
use datafusion::error::DataFusionError;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    #[error("expression: {0}")]
    DataFusion(#[from] DataFusionError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A malformed record under the default `fail` policy: file and line say where.
    #[error("{path}:{line}: malformed {format} record: {message}")]
    Parse {
        path: String,
        line: u64,
        format: &'static str,
        message: String,
    },
    #[error(
        "managed memory exhausted: {requested} more bytes requested, {used} of {budget} bytes in use"
    )]
    MemoryExceeded {
        requested: usize,
        used: usize,
        budget: usize,
    },
    #[error("invalid option '{option}': {message}")]
    Option { option: String, message: String },
    #[error("invalid job graph: {0}")]
    Graph(String),
    #[error("key groups: {0}")]
    KeyGroup(#[from] crate::key_groups::KeyGroupError),
    #[error("slots: {0}")]
    Slot(#[from] crate::slots::SlotError),
    /// A channel's other side is gone (its task failed or the job was cancelled).
    #[error("channel closed: {0}")]
    ChannelClosed(String),
    #[error("job cancelled")]
    Cancelled,
    /// A checkpoint cannot include this part of the job yet (the checkpoint is declined).
    #[error("checkpoints are not supported by {0} yet")]
    CheckpointUnsupported(String),
    /// The data exchange with another worker failed (see `exchange::ExchangeError`).
    #[error("exchange: {0}")]
    Exchange(String),
    /// The RocksDB state backend failed (open, read, write, checkpoint).
    #[error("rocksdb state backend: {context}: {source}")]
    RocksDb {
        context: String,
        #[source]
        source: rocksdb::Error,
    },
    #[error("task {task} failed: {message}")]
    Task { task: String, message: String },
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

impl RuntimeError {
    pub fn option(option: impl Into<String>, message: impl Into<String>) -> RuntimeError {
        RuntimeError::Option {
            option: option.into(),
            message: message.into(),
        }
    }

    pub fn rocksdb(context: impl Into<String>, source: rocksdb::Error) -> RuntimeError {
        RuntimeError::RocksDb {
            context: context.into(),
            source,
        }
    }

    pub fn io(path: impl Into<String>, source: std::io::Error) -> RuntimeError {
        RuntimeError::Io {
            path: path.into(),
            source,
        }
    }
}
