//! State: managed memory accounting, stable key hashing for key groups, and keyed
//! state backends organised by key group.

pub mod key;
pub mod memory;
pub mod table;
