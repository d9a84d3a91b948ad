//! One component per route.

pub mod checkpoint_detail;
pub mod checkpoints;
pub mod cluster;
pub mod job;
pub mod jobs;
pub mod new_job;
pub mod not_found;
pub mod overview;
pub mod slots;

pub use checkpoint_detail::CheckpointDetailPage;
pub use checkpoints::CheckpointsPage;
pub use cluster::ClusterPage;
pub use job::JobPage;
pub use jobs::JobsPage;
pub use new_job::NewJobPage;
pub use not_found::NotFoundPage;
pub use overview::OverviewPage;
pub use slots::SlotsPage;
