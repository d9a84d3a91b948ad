//! Reusable view pieces shared by the pages.

pub mod slot_grid;
pub mod status;
pub mod worker_card;

pub use slot_grid::SlotGrid;
pub use status::{ErrorBox, Loading};
pub use worker_card::WorkerCard;
