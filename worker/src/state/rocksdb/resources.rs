//! A slot's RocksDB memory (Flink's managed memory for RocksDB): the slot's share is
//! [`RocksDbMemory::for_slot`] of its managed-memory budget, reserved from that budget
//! while the slot runs RocksDB state. One LRU block cache of that size serves every
//! instance in the slot, and a write-buffer manager charges their memtables to the
//! same cache, limited to two thirds of it — so blocks keep at least a third, and the
//! instances of a slot together stay within the slot's share.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{BlockBasedOptions, Cache, Options, WriteBufferManager};

use crate::runtime::error::Result;
use crate::state::memory::MemoryBudget;

/// Least memory a slot's RocksDB gets, however small its budget (explicit limit).
pub const MIN_ROCKSDB_MEMORY: usize = 8 << 20;
/// Most memory a slot's RocksDB gets, however large its budget (explicit limit).
pub const MAX_ROCKSDB_MEMORY: usize = 1 << 30;
/// Memtables per instance (RocksDB's `max_write_buffer_number`).
pub const MAX_WRITE_BUFFERS: i32 = 2;
/// Largest single memtable (RocksDB's `write_buffer_size`). Small: every record reads
/// and writes its key, and a skiplist that outgrows the CPU caches makes both slow
/// (measured on `eddy run` of a 1 s TUMBLE over 100 000 keys, parallelism 2: 64 MiB
/// memtables and no bloom filters 188 k rows/s, 8 MiB and bloom filters 240 k).
pub const MAX_WRITE_BUFFER_SIZE: usize = 8 << 20;
/// Bits per key of the SST files' bloom filters (point reads of absent keys, such as a
/// new window's, skip the files).
pub const BLOOM_BITS_PER_KEY: f64 = 10.0;
/// Files one instance keeps open (RocksDB's `max_open_files`).
pub const MAX_OPEN_FILES: i32 = 256;
/// Background flush and compaction threads per instance.
pub const BACKGROUND_JOBS: i32 = 2;

/// How a slot's RocksDB memory is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RocksDbMemory {
    /// Reserved from the slot's managed memory: the block cache's capacity.
    pub total: usize,
    /// Of which memtables may take (charged to the cache).
    pub write_buffers: usize,
    /// One memtable of one instance.
    pub write_buffer_size: usize,
}

impl RocksDbMemory {
    /// Half the slot's managed memory (the rest stays for heap state such as the
    /// timers of the firing index), within [`MIN_ROCKSDB_MEMORY`]..=[`MAX_ROCKSDB_MEMORY`];
    /// write buffers two thirds of it, a memtable a quarter of those (two instances of
    /// two memtables each fill them).
    pub fn for_slot(budget: usize) -> RocksDbMemory {
        let total = (budget / 2).clamp(MIN_ROCKSDB_MEMORY, MAX_ROCKSDB_MEMORY);
        let write_buffers = total / 3 * 2;
        RocksDbMemory {
            total,
            write_buffers,
            write_buffer_size: (write_buffers / 4).clamp(1 << 20, MAX_WRITE_BUFFER_SIZE),
        }
    }
}

/// The RocksDB resources of one slot for one job attempt: its working directory, the
/// shared cache and write-buffer manager, and the reservation in the slot's budget.
pub struct RocksDbSlot {
    dir: PathBuf,
    memory: RocksDbMemory,
    cache: Cache,
    write_buffers: WriteBufferManager,
    budget: Arc<MemoryBudget>,
}

impl std::fmt::Debug for RocksDbSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbSlot")
            .field("dir", &self.dir)
            .field("memory", &self.memory)
            .finish_non_exhaustive()
    }
}

impl RocksDbSlot {
    /// Reserves the slot's RocksDB memory from `budget` (fails if the budget cannot
    /// spare it) and makes its cache; instances go under `dir`.
    pub fn new(dir: PathBuf, budget: Arc<MemoryBudget>) -> Result<Arc<RocksDbSlot>> {
        let memory = RocksDbMemory::for_slot(budget.budget());
        budget.reserve(memory.total)?;
        let cache = Cache::new_lru_cache(memory.total);
        let write_buffers = WriteBufferManager::new_write_buffer_manager_with_cache(
            memory.write_buffers,
            false,
            cache.clone(),
        );
        tracing::info!(dir = %dir.display(), block_cache = memory.total, write_buffers = memory.write_buffers, write_buffer_size = memory.write_buffer_size, "rocksdb slot memory");
        Ok(Arc::new(RocksDbSlot {
            dir,
            memory,
            cache,
            write_buffers,
            budget,
        }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn memory(&self) -> RocksDbMemory {
        self.memory
    }

    /// Options of an instance in this slot: the shared cache and write-buffer budget,
    /// bounded files and threads.
    pub fn options(&self) -> Options {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&self.cache);
        table.set_cache_index_and_filter_blocks(true);
        table.set_bloom_filter(BLOOM_BITS_PER_KEY, false);
        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_block_based_table_factory(&table);
        options.set_write_buffer_manager(&self.write_buffers);
        options.set_write_buffer_size(self.memory.write_buffer_size);
        options.set_max_write_buffer_number(MAX_WRITE_BUFFERS);
        options.set_max_open_files(MAX_OPEN_FILES);
        options.set_max_background_jobs(BACKGROUND_JOBS);
        options.set_keep_log_file_num(2);
        options
    }
}

impl Drop for RocksDbSlot {
    fn drop(&mut self) {
        self.budget.release(self.memory.total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_sized_from_the_slots_managed_memory() {
        let m = RocksDbMemory::for_slot(48 << 20);
        assert_eq!(m.total, 24 << 20);
        assert_eq!(m.write_buffers, 16 << 20);
        assert_eq!(m.write_buffer_size, 4 << 20);
        assert_eq!(RocksDbMemory::for_slot(1 << 20).total, MIN_ROCKSDB_MEMORY);
        assert_eq!(
            RocksDbMemory::for_slot(usize::MAX).total,
            MAX_ROCKSDB_MEMORY
        );
        assert_eq!(
            RocksDbMemory::for_slot(usize::MAX).write_buffer_size,
            MAX_WRITE_BUFFER_SIZE
        );
    }

    #[test]
    fn the_slots_share_is_reserved_from_its_budget_while_it_lives() {
        let dir = tempfile::tempdir().unwrap();
        let budget = MemoryBudget::new(64 << 20);
        let slot = RocksDbSlot::new(dir.path().to_path_buf(), budget.clone()).unwrap();
        assert_eq!(budget.used(), 32 << 20);
        assert!(RocksDbSlot::new(dir.path().to_path_buf(), MemoryBudget::new(4 << 20)).is_err());
        drop(slot);
        assert_eq!(budget.used(), 0);
    }
}
