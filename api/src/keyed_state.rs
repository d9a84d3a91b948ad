//! JSON body of the state browser, `GET /api/v1/jobs/{id}/checkpoints/{cid}/state`:
//! the keyed state a completed checkpoint holds for one vertex, read-only, paged and
//! filtered by key group and key prefix. Field names are a contract: add, never rename.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Query of the state browser.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
pub struct KeyedStateQuery {
    /// The vertex (job graph vertex id).
    pub vertex: u32,
    /// Only this key group.
    #[serde(default)]
    pub key_group: Option<u32>,
    /// Only keys whose text starts with this.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Entries per page (default 50, at most 1000).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Entries to skip (the previous page's `next_offset`).
    #[serde(default)]
    pub offset: Option<u64>,
}

/// One page of a vertex's keyed state in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyedStateResponse {
    pub job_id: String,
    pub checkpoint_id: u64,
    pub vertex: u32,
    pub vertex_name: String,
    /// The vertex's operators that hold keyed state in this checkpoint.
    pub operators: Vec<String>,
    /// Entries matching the filters, over all pages.
    pub total: u64,
    pub entries: Vec<KeyedStateEntry>,
    /// Where the next page starts (`None`: this is the last).
    pub next_offset: Option<u64>,
}

/// One key (and namespace, e.g. a window) of one operator's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyedStateEntry {
    pub operator: String,
    /// The subtask whose snapshot holds it.
    pub subtask: u32,
    pub key_group: u32,
    /// The key's columns as text, comma-separated.
    pub key: String,
    /// The namespace the state is scoped to besides the key (a window `[start, end)`).
    pub namespace: Option<String>,
    /// The state's values by name (accumulator parts, row count), as text.
    pub values: BTreeMap<String, String>,
}
