//! `/`: cluster counts (workers, slots, running jobs, version), the jobs, the recent
//! status changes the event stream brought since the page opened, and one card per
//! worker with its slot grid. Refetches whenever the event stream bumps the live version.

use eddy_api::rest::{Overview, WorkerInfo, WorkerState};
use leptos::prelude::*;

use crate::api;
use crate::components::{ErrorBox, Loading, WorkerCard};
use crate::events::use_live_updates;
use crate::format::utc_timestamp;
use crate::pages::jobs::{JobsTable, js_now_ms};

/// The landing page.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let live = use_live_updates();
    let overview = LocalResource::new(move || {
        live.version.track();
        api::overview()
    });
    let workers = LocalResource::new(move || {
        live.version.track();
        api::workers()
    });

    let counts = move || match overview.get() {
        None => view! { <Loading what="overview" /> }.into_any(),
        Some(Err(message)) => view! { <ErrorBox message /> }.into_any(),
        Some(Ok(overview)) => view! { <Counts overview /> }.into_any(),
    };
    let jobs = LocalResource::new(move || {
        live.version.track();
        api::jobs()
    });
    let job_list = move || match jobs.get() {
        None => view! { <Loading what="jobs" /> }.into_any(),
        Some(Err(message)) => view! { <ErrorBox message /> }.into_any(),
        Some(Ok(response)) => view! { <JobsTable response now=js_now_ms() /> }.into_any(),
    };
    let recent = move || {
        let events = live.recent.get();
        if events.is_empty() {
            return view! {
                <p class="empty">"No change since this page opened."</p>
            }
            .into_any();
        }
        let items = events
            .into_iter()
            .map(|event| {
                view! {
                    <li data-testid="recent-event" data-event=event.name.clone()>
                        <span class="when">{utc_timestamp(event.at_ms)}</span>
                        <span class="detail">{event.summary}</span>
                    </li>
                }
            })
            .collect_view();
        view! { <ol class="history recent">{items}</ol> }.into_any()
    };
    let worker_list = move || match workers.get() {
        None => view! { <Loading what="workers" /> }.into_any(),
        Some(Err(message)) => view! { <ErrorBox message /> }.into_any(),
        Some(Ok(response)) => view! { <WorkerList workers=response.workers /> }.into_any(),
    };
    view! {
        <section class="page overview">
            <h1>"Overview"</h1>
            {counts}
            <h2>"Jobs"</h2>
            {job_list}
            <h2>"Recent status changes"</h2>
            {recent}
            <h2>"Workers"</h2>
            {worker_list}
        </section>
    }
}

/// The row of headline numbers.
#[component]
fn Counts(overview: Overview) -> impl IntoView {
    let used = overview
        .slots_total
        .saturating_sub(overview.slots_available);
    view! {
        <div class="stats">
            <Stat
                testid="stat-workers"
                label="Workers"
                value=overview.workers.to_string()
                detail="registered and alive"
            />
            <Stat
                testid="stat-slots"
                label="Slots available"
                value=format!("{} / {}", overview.slots_available, overview.slots_total)
                detail=format!("{used} allocated")
            />
            <Stat
                testid="stat-jobs"
                label="Running jobs"
                value=overview.jobs_running.to_string()
                detail="on this cluster"
            />
            <Stat
                testid="stat-version"
                label="Version"
                value=overview.version
                detail="of the master"
            />
        </div>
    }
}

/// One headline number.
#[component]
fn Stat(
    testid: &'static str,
    label: &'static str,
    #[prop(into)] value: String,
    #[prop(into)] detail: String,
) -> impl IntoView {
    view! {
        <div class="stat" data-testid=testid>
            <span class="stat-label">{label}</span>
            <span class="stat-value">{value}</span>
            <span class="stat-detail">{detail}</span>
        </div>
    }
}

/// Active workers first, then by id.
#[component]
fn WorkerList(mut workers: Vec<WorkerInfo>) -> impl IntoView {
    if workers.is_empty() {
        return view! {
            <p class="empty" data-testid="no-workers">
                "No worker has registered yet. Start one with "
                <code>"eddy worker --master <address>"</code>
                "."
            </p>
        }
        .into_any();
    }
    workers.sort_by(|a, b| {
        (a.state == WorkerState::Lost, &a.id).cmp(&(b.state == WorkerState::Lost, &b.id))
    });
    view! {
        <div class="workers">
            {workers.into_iter().map(|worker| view! { <WorkerCard worker /> }).collect_view()}
        </div>
    }
    .into_any()
}
