//! Reusable view pieces shared by the pages.

pub mod chart;
pub mod job_actions;
pub mod job_graph;
pub mod job_status;
pub mod slot_grid;
pub mod sql_editor;
pub mod state_browser;
pub mod status;
pub mod worker_card;

pub use chart::{BarChart, ChartPoint};
pub use job_actions::{ActionState, JobActions};
pub use job_graph::{GraphVertex, JobGraph};
pub use job_status::JobStatusBadge;
pub use slot_grid::SlotGrid;
pub use sql_editor::SqlEditor;
pub use state_browser::StateBrowser;
pub use status::{ErrorBox, Loading};
pub use worker_card::WorkerCard;
