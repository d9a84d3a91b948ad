//! `/jobs`: every job, newest first — name (a link to its page), status, start time,
//! duration, parallelism and attempt — and a link to submit a new one. Refetches on the
//! event stream's job status changes.

use eddy_api::jobs::{JobSummary, JobsResponse};
use leptos::prelude::*;

use crate::api::{self, encode_segment};
use crate::components::{ErrorBox, JobStatusBadge, Loading};
use crate::events::use_live_updates;
use crate::format::{human_duration, utc_timestamp};

/// The page.
#[component]
pub fn JobsPage() -> impl IntoView {
    let live = use_live_updates();
    let jobs = LocalResource::new(move || {
        live.version.track();
        api::jobs()
    });
    let now = move || {
        live.jobs.track();
        js_now_ms()
    };
    let body = move || match jobs.get() {
        None => view! { <Loading what="jobs" /> }.into_any(),
        Some(Err(message)) => view! { <ErrorBox message /> }.into_any(),
        Some(Ok(response)) => view! { <JobsTable response now=now() /> }.into_any(),
    };
    view! {
        <section class="page jobs">
            <div class="page-head">
                <h1>"Jobs"</h1>
                <a class="button primary" href="/jobs/new" data-testid="new-job">
                    "New job"
                </a>
            </div>
            {body}
        </section>
    }
}

/// Milliseconds since the Unix epoch, from the browser's clock.
pub fn js_now_ms() -> u64 {
    let now = js_sys::Date::now();
    if now.is_finite() && now > 0.0 {
        now as u64
    } else {
        0
    }
}

/// How long a job ran: to its end, or until `now` while it runs.
pub fn job_duration(start: u64, end: Option<u64>, now: u64) -> String {
    let end = end.unwrap_or(now);
    human_duration(end.saturating_sub(start))
}

/// The table, or a hint when there is no job.
#[component]
pub fn JobsTable(response: JobsResponse, now: u64) -> impl IntoView {
    if response.jobs.is_empty() {
        return view! {
            <p class="empty" data-testid="no-jobs">
                "No job yet. " <a href="/jobs/new">"Submit one"</a>
                " from the SQL editor, or with " <code>"eddy job submit FILE.sql"</code> "."
            </p>
        }
        .into_any();
    }
    let rows = response
        .jobs
        .into_iter()
        .map(|job| view! { <JobRow job now /> })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data jobs-table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Started"</th>
                        <th scope="col">"Duration"</th>
                        <th scope="col" class="num">"Parallelism"</th>
                        <th scope="col" class="num">"Attempt"</th>
                        <th scope="col">"Id"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn JobRow(job: JobSummary, now: u64) -> impl IntoView {
    let href = format!("/jobs/{}", encode_segment(&job.id));
    view! {
        <tr data-testid="job-row" data-job-id=job.id.clone() data-status=job.status.as_str()>
            <td class="name">
                <a href=href>{job.name.clone()}</a>
            </td>
            <td>
                <JobStatusBadge status=job.status />
            </td>
            <td>{utc_timestamp(job.start_time)}</td>
            <td>{job_duration(job.start_time, job.end_time, now)}</td>
            <td class="num">{job.parallelism.to_string()}</td>
            <td class="num">{job.attempt.to_string()}</td>
            <td>
                <code class="job-id" title=job.id.clone()>{job.id.clone()}</code>
            </td>
        </tr>
    }
}
