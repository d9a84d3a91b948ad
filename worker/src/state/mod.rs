//! State: managed memory accounting, stable key hashing for key groups, and keyed
//! state backends organised by key group: heap tables (`table`, `keyed`) and RocksDB
//! (`rocksdb`), chosen per job by `backend`.

pub mod backend;
pub mod key;
pub mod key_selector;
pub mod keyed;
pub mod keyed_kinds;
pub mod memory;
pub mod rocksdb;
pub mod table;
