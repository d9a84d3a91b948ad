//! What an operator's snapshot section holds on the RocksDB backend (a magic, then
//! JSON), at each stage of an incremental checkpoint:
//! - [`LocalSnapshot`] (`EDDYRKL1`): the synchronous part's result, from the task to
//!   the worker's checkpoint writer — a local RocksDB checkpoint directory, its files,
//!   and for each SST file its name in the job's `shared/` directory and whether it
//!   still has to be uploaded;
//! - [`UploadedSnapshot`] (`EDDYRKS1`): what the checkpoint stores — the shared files
//!   it refers to and its private files (MANIFEST, CURRENT, OPTIONS) in its own
//!   directory;
//! - [`DownloadedSnapshot`] (`EDDYRKD1`): on restore, the files fetched back into a
//!   local directory the operator opens.
//!
//! Savepoints never hold these: they use the canonical keyed snapshot
//! (`operators::keyed_snapshot`) that either backend restores.

use serde::{Deserialize, Serialize};

use crate::runtime::error::{Result, RuntimeError};

pub const LOCAL_MAGIC: &[u8; 8] = b"EDDYRKL1";
pub const UPLOADED_MAGIC: &[u8; 8] = eddy_api::snapshot::ROCKSDB_CHECKPOINT_MAGIC;
pub const DOWNLOADED_MAGIC: &[u8; 8] = b"EDDYRKD1";
/// The job directory's folder of files shared between checkpoints.
pub const SHARED_DIR: &str = "shared";

/// An SST file: its name in the instance and in the job's `shared/` directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedFile {
    pub local: String,
    pub remote: String,
    pub size: u64,
}

/// A file of the checkpoint's own (not shared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateFile {
    pub name: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalSnapshot {
    /// The local RocksDB checkpoint directory (removed once uploaded).
    pub dir: String,
    pub shared: Vec<SharedFile>,
    /// Of `shared`, the remote names the last completed checkpoint already holds.
    pub reused: Vec<String>,
    pub private: Vec<PrivateFile>,
    pub key_groups: (u32, u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedSnapshot {
    /// The job's checkpoint directory (`ROOT/JOB`): `shared/` and the private
    /// directory are under it.
    pub base: String,
    /// The private files' directory, relative to `base`.
    pub private_dir: String,
    pub shared: Vec<SharedFile>,
    pub private: Vec<PrivateFile>,
    pub key_groups: (u32, u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadedSnapshot {
    /// A local directory holding the database's files under their local names.
    pub dir: String,
    pub shared: Vec<SharedFile>,
    pub key_groups: (u32, u32),
}

fn encode<T: Serialize>(magic: &[u8; 8], value: &T) -> Result<Vec<u8>> {
    let mut out = magic.to_vec();
    serde_json::to_writer(&mut out, value)
        .map_err(|e| RuntimeError::Graph(format!("encoding a rocksdb snapshot handle: {e}")))?;
    Ok(out)
}

fn decode<T: for<'de> Deserialize<'de>>(magic: &[u8; 8], bytes: &[u8]) -> Option<Result<T>> {
    let json = bytes.strip_prefix(magic.as_slice())?;
    Some(
        serde_json::from_slice(json)
            .map_err(|e| RuntimeError::Graph(format!("a corrupt rocksdb snapshot handle: {e}"))),
    )
}

impl LocalSnapshot {
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode(LOCAL_MAGIC, self)
    }
    /// `None`: not a local handle.
    pub fn decode(bytes: &[u8]) -> Option<Result<Self>> {
        decode(LOCAL_MAGIC, bytes)
    }
}

impl UploadedSnapshot {
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode(UPLOADED_MAGIC, self)
    }
    pub fn decode(bytes: &[u8]) -> Option<Result<Self>> {
        decode(UPLOADED_MAGIC, bytes)
    }
}

impl DownloadedSnapshot {
    pub fn encode(&self) -> Result<Vec<u8>> {
        encode(DOWNLOADED_MAGIC, self)
    }
    pub fn decode(bytes: &[u8]) -> Option<Result<Self>> {
        decode(DOWNLOADED_MAGIC, bytes)
    }
}

/// Refuses a RocksDB checkpoint's state handed to operator `operator` on the heap
/// (`hashmap`) backend: only a savepoint (canonical) changes backends.
pub fn refuse_on_heap(bytes: &[u8], operator: &str) -> Result<()> {
    if DownloadedSnapshot::decode(bytes).is_some() {
        return Err(RuntimeError::Graph(format!(
            "{operator}: the checkpoint holds RocksDB state; restore it on the rocksdb backend, or take a savepoint (canonical) to change backends"
        )));
    }
    Ok(())
}
