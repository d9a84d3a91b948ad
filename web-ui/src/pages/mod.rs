//! One component per route.

pub mod cluster;
pub mod not_found;
pub mod overview;

pub use cluster::ClusterPage;
pub use not_found::NotFoundPage;
pub use overview::OverviewPage;
