//! A job's status as a coloured badge (Flink's status names), carrying a `data-testid`
//! (`job-status` unless told otherwise) and `data-status`.

use eddy_api::jobs::JobStatus;
use leptos::prelude::*;

/// CSS modifier of a status: running, waiting, failing, done, failed, canceled.
pub fn status_tone(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Running => "running",
        JobStatus::Created | JobStatus::Scheduled | JobStatus::Restarting => "waiting",
        JobStatus::Failing | JobStatus::Cancelling => "failing",
        JobStatus::Finished => "finished",
        JobStatus::Failed => "failed",
        JobStatus::Canceled => "canceled",
    }
}

/// The badge.
#[component]
pub fn JobStatusBadge(
    status: JobStatus,
    #[prop(default = "job-status")] testid: &'static str,
) -> impl IntoView {
    view! {
        <span
            class=format!("badge job-status tone-{}", status_tone(status))
            data-testid=testid
            data-status=status.as_str()
        >
            {status.as_str()}
        </span>
    }
}
