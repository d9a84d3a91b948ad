//! The RocksDB state backend (Flink's `EmbeddedRocksDBStateBackend`).
//!
//! - [`resources`]: a slot's RocksDB memory — one LRU block cache sized from the slot's
//!   managed memory, with the memtables of every instance in the slot charged to it by
//!   one write-buffer manager (Flink's `state.backend.rocksdb.memory.managed`).
//! - [`instance`]: [`KeyedStateDb`], one RocksDB instance per keyed operator subtask
//!   (Flink's layout: instances share their slot's cache and write-buffer budget). Keys
//!   are `key group (u16, big-endian) ++ key bytes ++ namespace`, so a key-group range is
//!   one contiguous key range (scans and rescaling by key group). Writes skip the WAL:
//!   recovery is from checkpoints.
//! - [`incremental`]: the synchronous part of an incremental checkpoint — a RocksDB
//!   checkpoint (hard links) of the flushed instance, and which of its SST files the
//!   last completed checkpoint already holds.
//! - [`handle`]: the handles a snapshot section holds (local, uploaded, downloaded).
//! - [`transfer`]: the asynchronous part — uploading the new SST files to the job's
//!   `shared/` directory and the private files (MANIFEST, CURRENT, OPTIONS) into the
//!   checkpoint's own directory — and downloading them again to restore.
//! - [`reader`]: a completed checkpoint's keyed state read offline into the canonical
//!   keyed snapshot (the master's state browser).

pub mod handle;
pub mod incremental;
pub mod instance;
pub mod reader;
pub mod resources;
pub mod transfer;

pub use instance::KeyedStateDb;
pub use resources::{RocksDbMemory, RocksDbSlot};
