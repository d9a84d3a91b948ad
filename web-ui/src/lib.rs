//! Eddy's dashboard: a Leptos client-side app compiled to wasm that talks only to the
//! master's public REST API (`/api/v1`) and its Server-Sent Events stream.
//!
//! Layout:
//! - [`app`]: the root component, the top bar and the path routes.
//! - [`api`]: fetch helpers for the REST endpoints, returning `Result<T, String>`.
//! - [`events`]: the `EventSource` subscription that bumps a reactive version on every event.
//! - [`format`]: pure formatting helpers (bytes, counts, rates, durations, timestamps,
//!   watermarks, event summaries).
//! - [`sql_highlight`]: the SQL tokenizer and highlighted HTML under the editor.
//! - [`graph_layout`]: left-to-right job graph layout (rust-sugiyama) and edge routes.
//! - [`templates`]: example scripts for the new-job page.
//! - [`pages`]: one component per route.
//! - [`components`]: reusable pieces (worker cards, slot grid, SQL editor, job graph,
//!   charts, status badges, error/loading boxes).

pub mod api;
pub mod app;
pub mod components;
pub mod events;
pub mod format;
pub mod graph_layout;
pub mod pages;
pub mod sql_highlight;
pub mod templates;

use wasm_bindgen::prelude::wasm_bindgen;

/// Entry point run by wasm-bindgen as soon as the module is instantiated.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
