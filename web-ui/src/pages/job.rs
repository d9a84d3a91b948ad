//! `/jobs/{id}`: one job from `GET /api/v1/jobs/{id}` — status and options, the job
//! graph (SVG, laid out by rust-sugiyama, coloured by load), the subtasks and where they
//! run, exceptions, status history and SQL; savepoint, stop with savepoint, rescale and
//! cancel, each behind a confirmation ([`crate::components::job_actions`]).
//! Refetches on the event stream's job status and metrics events (no polling).

use eddy_api::jobs::{JobDetails, JobException, JobStatus, StatusChange, VertexDetails};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{self, encode_segment};
use crate::components::{
    ActionState, ErrorBox, GraphVertex, JobActions, JobGraph, JobStatusBadge, Loading,
};
use crate::events::use_live_updates;
use crate::format::{
    human_bytes, human_count, human_duration, human_rate, percent, utc_timestamp, watermark,
};
use crate::pages::jobs::{job_duration, js_now_ms};

/// The page.
#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let live = use_live_updates();
    let job = LocalResource::new(move || {
        live.jobs.track();
        api::job(id.get())
    });
    // Page-level so it survives the refetches that re-render the details.
    let actions = ActionState::new();
    let sql_open = RwSignal::new(false);
    let selected = RwSignal::new(None::<u32>);
    // The same page component serves another job after a client-side navigation.
    Effect::new(move |previous: Option<String>| {
        let current = id.get();
        if previous.is_some_and(|p| p != current) {
            actions.reset();
            selected.set(None);
        }
        current
    });
    let body = move || match job.get() {
        None => view! { <Loading what="job" /> }.into_any(),
        Some(Err(message)) => view! { <ErrorBox message /> }.into_any(),
        Some(Ok(details)) => view! { <Job details sql_open selected /> }.into_any(),
    };
    // The title and actions change only with the status: a memo keeps them (and an
    // open confirmation's input) in place while metrics refetch the rest.
    let head = Memo::new(move |_| {
        job.get().and_then(Result::ok).map(|d| JobHead {
            id: d.id,
            name: d.name,
            status: d.status,
            parallelism: d.parallelism,
        })
    });
    let head_view = move || {
        head.get().map(|h| {
            view! {
                <div class="page-head">
                    <div class="job-title">
                        <h1 data-testid="job-name">{h.name.clone()}</h1>
                        <JobStatusBadge status=h.status />
                    </div>
                    <JobActions
                        id=h.id.clone()
                        running=h.status == JobStatus::Running
                        terminal=h.status.is_terminal()
                        parallelism=h.parallelism
                        state=actions
                    />
                </div>
            }
        })
    };
    view! { <section class="page job">{head_view} {body}</section> }
}

/// What the page head shows.
#[derive(Debug, Clone, PartialEq)]
struct JobHead {
    id: String,
    name: String,
    status: JobStatus,
    parallelism: u32,
}

#[component]
fn Job(
    details: JobDetails,
    sql_open: RwSignal<bool>,
    selected: RwSignal<Option<u32>>,
) -> impl IntoView {
    let job_href = format!("/jobs/{}", encode_segment(&details.id));
    let checkpoints_href = format!("{job_href}/checkpoints");
    let graph_vertices: Vec<GraphVertex> = details.vertices.iter().map(GraphVertex::from).collect();
    let reason = details.reason.clone().map(|reason| {
        view! {
            <p class="job-reason" data-testid="job-reason">
                {reason}
            </p>
        }
    });
    let interval = details
        .checkpoint_interval_ms
        .map(human_duration)
        .unwrap_or_else(|| "off".to_string());
    view! {
        {reason}
        <nav class="tabs">
            <a href=job_href aria-current="page">"Overview"</a>
            <a href=checkpoints_href data-testid="checkpoints-link">"Checkpoints"</a>
        </nav>
        <div class="stats">
            <Fact label="Started" value=utc_timestamp(details.start_time) />
            <Fact label="Duration" value=job_duration(details.start_time, details.end_time, js_now_ms()) />
            <Fact label="Parallelism" value=details.parallelism.to_string() />
            <Fact label="Attempt" value=format!("{} ({} restarts)", details.attempt, details.restarts) />
            <Fact label="Checkpoints" value=interval />
            <Fact label="State backend" value=details.state_backend.clone() />
        </div>
        <p class="job-meta">
            "Id " <code data-testid="job-id">{details.id.clone()}</code> " · restart strategy "
            {details.restart_strategy.clone()}
        </p>
        <h2>"Job graph"</h2>
        <GraphLegend />
        <JobGraph vertices=graph_vertices edges=details.edges.clone() testid="job-graph" select=selected />
        <h2>"Subtasks"</h2>
        <SubtaskFilter vertices=details.vertices.clone() selected />
        <SubtaskTable vertices=details.vertices.clone() selected />
        <h2>"Exceptions"</h2>
        <Exceptions exceptions=details.exceptions.clone() />
        <h2>"Status history"</h2>
        <History history=details.status_history.clone() />
        <details
            class="sql-source"
            prop:open=move || sql_open.get()
            on:toggle=move |ev| sql_open.set(event_target::<web_sys::HtmlDetailsElement>(&ev).open())
        >
            <summary>"SQL"</summary>
            <pre class="sql-readonly" data-testid="job-sql">{details.sql.clone()}</pre>
        </details>
    }
}

/// One headline fact.
#[component]
fn Fact(label: &'static str, #[prop(into)] value: String) -> impl IntoView {
    view! {
        <div class="stat">
            <span class="stat-label">{label}</span>
            <span class="stat-value small">{value}</span>
        </div>
    }
}

/// What the vertex colours mean.
#[component]
fn GraphLegend() -> impl IntoView {
    view! {
        <p class="legend">
            <span class="swatch swatch-idle"></span>
            "idle"
            <span class="swatch swatch-busy"></span>
            "busy"
            <span class="swatch swatch-bp"></span>
            "back-pressured"
            <span class="legend-note">"(the maximum over a vertex's subtasks, as in Flink)"</span>
        </p>
    }
}

/// Which vertex's subtasks the table shows (pick one by clicking it in the graph).
#[component]
fn SubtaskFilter(vertices: Vec<VertexDetails>, selected: RwSignal<Option<u32>>) -> impl IntoView {
    move || {
        let chosen = selected
            .get()
            .and_then(|id| vertices.iter().find(|v| v.id == id));
        match chosen {
            None => view! {
                <p class="filter-note">"All vertices. Click a vertex in the graph to show only its subtasks."</p>
            }
            .into_any(),
            Some(vertex) => view! {
                <p class="filter-note" data-testid="subtask-filter">
                    "Subtasks of " <strong>{vertex.name.clone()}</strong> " · "
                    <button type="button" class="link" on:click=move |_| selected.set(None)>
                        "show all"
                    </button>
                </p>
            }
            .into_any(),
        }
    }
}

/// Every subtask of every vertex (or of the selected one): where it runs, its status
/// and counters.
#[component]
fn SubtaskTable(vertices: Vec<VertexDetails>, selected: RwSignal<Option<u32>>) -> impl IntoView {
    let rows = vertices
        .into_iter()
        .flat_map(|vertex| {
            let name = vertex.name.clone();
            let parallelism = vertex.parallelism;
            let vertex_id = vertex.id;
            vertex.subtasks.into_iter().map(move |subtask| {
                let m = subtask.metrics;
                let worker = subtask.worker_id.clone().unwrap_or_else(|| "–".to_string());
                let slot = subtask
                    .slot_index
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "–".to_string());
                let status = subtask.status.clone();
                let status_class = format!("badge exec-{}", status.to_lowercase());
                view! {
                    <tr
                        class:hidden=move || selected.get().is_some_and(|s| s != vertex_id)
                        data-testid="subtask-row"
                        data-vertex-id=vertex_id.to_string()
                        data-subtask=subtask.index.to_string()
                        data-status=status.clone()
                    >
                        <td class="name" title=name.clone()>
                            {format!("{} ({}/{})", name, subtask.index + 1, parallelism)}
                        </td>
                        <td class="worker-cell">
                            <code class="job-id" title=worker.clone()>{worker.clone()}</code>
                        </td>
                        <td class="num">{slot}</td>
                        <td>
                            <span class=status_class>{status.clone()}</span>
                        </td>
                        <td class="num" title=format!("{} records", m.records_in)>{human_count(m.records_in)}</td>
                        <td class="num" title=format!("{} records", m.records_out)>{human_count(m.records_out)}</td>
                        <td class="num">{human_rate(m.records_in_per_second)}</td>
                        <td class="num">{human_bytes(m.bytes_in)}</td>
                        <td class="num">{percent(m.busy_ratio)}</td>
                        <td class="num">{percent(m.backpressured_ratio)}</td>
                        <td>{watermark(m.current_watermark)}</td>
                    </tr>
                }
            })
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data subtasks-table">
                <thead>
                    <tr>
                        <th scope="col">"Subtask"</th>
                        <th scope="col">"Worker"</th>
                        <th scope="col" class="num">"Slot"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col" class="num">"Records in"</th>
                        <th scope="col" class="num">"Records out"</th>
                        <th scope="col" class="num">"In/s"</th>
                        <th scope="col" class="num">"Bytes in"</th>
                        <th scope="col" class="num">"Busy"</th>
                        <th scope="col" class="num">"Backpressure"</th>
                        <th scope="col">"Watermark"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// Failures of attempts, newest first.
#[component]
fn Exceptions(exceptions: Vec<JobException>) -> impl IntoView {
    if exceptions.is_empty() {
        return view! { <p class="empty" data-testid="no-exceptions">"No exceptions."</p> }
            .into_any();
    }
    let items = exceptions
        .into_iter()
        .rev()
        .map(|e| {
            let place = [
                e.task.clone(),
                e.worker_id.clone().map(|w| format!("on worker {w}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            view! {
                <li class="exception" data-testid="exception">
                    <div class="exception-head">
                        <span>{utc_timestamp(e.at)}</span>
                        <span>{format!("attempt {}", e.attempt)}</span>
                        <span>{place}</span>
                    </div>
                    <pre class="exception-message">{e.message}</pre>
                </li>
            }
        })
        .collect_view();
    view! { <ul class="exceptions">{items}</ul> }.into_any()
}

/// The status history as a timeline, newest first.
#[component]
fn History(history: Vec<StatusChange>) -> impl IntoView {
    let items = history
        .into_iter()
        .rev()
        .map(|change| {
            view! {
                <li data-testid="status-change" data-status=change.status.as_str()>
                    <span class="when">{utc_timestamp(change.at)}</span>
                    <JobStatusBadge status=change.status testid="history-status" />
                    <span class="detail">{change.detail}</span>
                </li>
            }
        })
        .collect_view();
    view! { <ol class="history">{items}</ol> }
}
