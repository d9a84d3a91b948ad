//! `/jobs/{id}/checkpoints`: a job's checkpoint statistics from
//! `GET /api/v1/jobs/{id}/checkpoints` (Flink's names) — counts, the latest completed,
//! failed and savepoint, min/avg/max summary, charts of duration and size over time and
//! the history table (one `data-testid="checkpoint-row"` per checkpoint, linking to its
//! detail). Refetches on the event stream's checkpoint events.

use eddy_api::checkpoints::{CheckpointInfo, CheckpointsResponse, MinAvgMax};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{self, encode_segment};
use crate::components::{BarChart, ChartPoint, ErrorBox, Loading};
use crate::events::use_live_updates;
use crate::format::{human_bytes, human_duration, utc_timestamp};

/// The page.
#[component]
pub fn CheckpointsPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let live = use_live_updates();
    let stats = LocalResource::new(move || {
        live.checkpoints.track();
        api::checkpoints(id.get())
    });
    let body = move || match stats.get() {
        None => view! { <Loading what="checkpoints" /> }.into_any(),
        Some(Err(message)) => view! { <ErrorBox message /> }.into_any(),
        Some(Ok(stats)) => view! { <Checkpoints id=id.get() stats /> }.into_any(),
    };
    let job_href = move || format!("/jobs/{}", encode_segment(&id.get()));
    view! {
        <section class="page checkpoints">
            <div class="page-head">
                <h1>"Checkpoints"</h1>
            </div>
            <nav class="tabs">
                <a href=job_href>"Overview"</a>
                <a href=move || format!("{}/checkpoints", job_href()) aria-current="page">
                    "Checkpoints"
                </a>
            </nav>
            {body}
        </section>
    }
}

/// `bytes as f64` → `"1.5 KiB"` for chart axes.
fn bytes_axis(value: f64) -> String {
    human_bytes(value.max(0.0).round() as u64)
}

/// `ms as f64` → `"350 ms"` for chart axes.
fn duration_axis(value: f64) -> String {
    human_duration(value.max(0.0).round() as u64)
}

/// The checkpoint's detail page.
pub fn checkpoint_href(job_id: &str, checkpoint_id: u64) -> String {
    format!(
        "/jobs/{}/checkpoints/{checkpoint_id}",
        encode_segment(job_id)
    )
}

#[component]
fn Checkpoints(id: String, stats: CheckpointsResponse) -> impl IntoView {
    let counts = stats.counts.clone();
    // Oldest first for the charts; in-progress ones have no duration yet.
    let ended: Vec<&CheckpointInfo> = stats
        .history
        .iter()
        .rev()
        .filter(|c| c.status != "IN_PROGRESS")
        .collect();
    let duration_points: Vec<ChartPoint> = ended
        .iter()
        .map(|c| ChartPoint {
            label: c.id.to_string(),
            value: c.duration_ms.unwrap_or(0) as f64,
            failed: c.status == "FAILED",
            detail: format!(
                "checkpoint {} ({}) at {}: {}",
                c.id,
                c.status,
                utc_timestamp(c.trigger_time),
                c.duration_ms
                    .map(human_duration)
                    .unwrap_or_else(|| "–".into())
            ),
        })
        .collect();
    let size_points: Vec<ChartPoint> = ended
        .iter()
        .map(|c| ChartPoint {
            label: c.id.to_string(),
            value: c.state_size_bytes as f64,
            failed: c.status == "FAILED",
            detail: format!(
                "checkpoint {} at {}: state {}, checkpointed {}",
                c.id,
                utc_timestamp(c.trigger_time),
                human_bytes(c.state_size_bytes),
                human_bytes(c.checkpointed_bytes)
            ),
        })
        .collect();
    let span = match (ended.first(), ended.last()) {
        (Some(first), Some(last)) => {
            let (from, to) = (
                utc_timestamp(first.trigger_time),
                utc_timestamp(last.trigger_time),
            );
            // The same day: the end's time alone.
            let to = match (from.get(..10), to.get(..10), to.get(11..)) {
                (Some(a), Some(b), Some(time)) if a == b => time.to_string(),
                _ => to,
            };
            format!("checkpoints {}–{}, {from} → {to}", first.id, last.id)
        }
        _ => String::new(),
    };
    view! {
        <div class="stats" data-testid="checkpoint-counts">
            <Count label="Completed" value=counts.completed testid="count-completed" />
            <Count label="In progress" value=counts.in_progress testid="count-in-progress" />
            <Count label="Failed" value=counts.failed testid="count-failed" />
            <Count label="Restored" value=counts.restored testid="count-restored" />
        </div>
        <h2>"Latest"</h2>
        <div class="latest">
            <Latest what="Completed" job_id=id.clone() checkpoint=stats.latest.completed.clone() />
            <Latest what="Failed" job_id=id.clone() checkpoint=stats.latest.failed.clone() />
            <Latest what="Savepoint" job_id=id.clone() checkpoint=stats.latest.savepoint.clone() />
        </div>
        <h2>"Summary"</h2>
        <Summary stats=stats.clone() />
        <h2>"Over time"</h2>
        <div class="charts">
            <BarChart
                points=duration_points
                testid="chart-duration"
                title="End-to-end duration"
                format=duration_axis
                subtitle=span.clone()
            />
            <BarChart
                points=size_points
                testid="chart-size"
                title="State size"
                format=bytes_axis
                subtitle=span
            />
        </div>
        <h2>"History"</h2>
        <History job_id=id history=stats.history />
    }
}

#[component]
fn Count(label: &'static str, value: u64, testid: &'static str) -> impl IntoView {
    view! {
        <div class="stat" data-testid=testid>
            <span class="stat-label">{label}</span>
            <span class="stat-value">{value.to_string()}</span>
        </div>
    }
}

/// One "latest" card.
#[component]
fn Latest(what: &'static str, job_id: String, checkpoint: Option<CheckpointInfo>) -> impl IntoView {
    let body = match checkpoint {
        None => view! { <p class="empty">"None."</p> }.into_any(),
        Some(c) => {
            let failure = c
                .failure
                .clone()
                .map(|f| view! { <p class="failure">{f}</p> });
            view! {
                <p>
                    <a href=checkpoint_href(&job_id, c.id)>{format!("#{}", c.id)}</a>
                    {format!(
                        " at {} · {} · {}",
                        utc_timestamp(c.trigger_time),
                        c.duration_ms.map(human_duration).unwrap_or_else(|| "–".into()),
                        human_bytes(c.state_size_bytes)
                    )}
                </p>
                {failure}
                <p class="path">
                    <code>{c.path.clone()}</code>
                </p>
            }
            .into_any()
        }
    };
    view! {
        <div class="card" data-testid=format!("latest-{}", what.to_lowercase())>
            <h3>{what}</h3>
            {body}
        </div>
    }
}

/// Min / avg / max over completed checkpoints.
#[component]
fn Summary(stats: CheckpointsResponse) -> impl IntoView {
    let row = |label: &'static str, m: &MinAvgMax, f: fn(u64) -> String| {
        view! {
            <tr>
                <th scope="row">{label}</th>
                <td class="num">{f(m.min)}</td>
                <td class="num">{f(m.avg)}</td>
                <td class="num">{f(m.max)}</td>
            </tr>
        }
    };
    let s = &stats.summary;
    view! {
        <div class="table-wrap narrow">
            <table class="data" data-testid="checkpoint-summary">
                <thead>
                    <tr>
                        <th scope="col"></th>
                        <th scope="col" class="num">"Min"</th>
                        <th scope="col" class="num">"Average"</th>
                        <th scope="col" class="num">"Max"</th>
                    </tr>
                </thead>
                <tbody>
                    {row("End-to-end duration", &s.duration_ms, human_duration)}
                    {row("State size", &s.state_size_bytes, human_bytes)}
                    {row("Checkpointed data", &s.checkpointed_bytes, human_bytes)}
                </tbody>
            </table>
        </div>
    }
}

/// The history table, newest first.
#[component]
fn History(job_id: String, history: Vec<CheckpointInfo>) -> impl IntoView {
    if history.is_empty() {
        return view! {
            <p class="empty" data-testid="no-checkpoints">
                "No checkpoint yet. Checkpoints run when the job is submitted with a checkpoint interval."
            </p>
        }
        .into_any();
    }
    let rows = history
        .into_iter()
        .map(|c| {
            let href = checkpoint_href(&job_id, c.id);
            let kind = if c.is_savepoint { "savepoint" } else { "checkpoint" };
            view! {
                <tr
                    data-testid="checkpoint-row"
                    data-checkpoint-id=c.id.to_string()
                    data-status=c.status.clone()
                    title=c.failure.clone().unwrap_or_default()
                >
                    <td class="num">
                        <a href=href.clone()>{c.id.to_string()}</a>
                    </td>
                    <td>
                        <span class=format!("badge cp-{}", c.status.to_lowercase())>{c.status.clone()}</span>
                    </td>
                    <td>{kind}</td>
                    <td>{utc_timestamp(c.trigger_time)}</td>
                    <td class="num">{c.duration_ms.map(human_duration).unwrap_or_else(|| "–".into())}</td>
                    <td class="num">{human_bytes(c.state_size_bytes)}</td>
                    <td class="num">{human_bytes(c.checkpointed_bytes)}</td>
                    <td class="num">{human_duration(c.alignment_ms)}</td>
                    <td class="num">{c.attempt.to_string()}</td>
                    <td>
                        <a href=href>"details"</a>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data checkpoint-table">
                <thead>
                    <tr>
                        <th scope="col" class="num">"Id"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Type"</th>
                        <th scope="col">"Triggered"</th>
                        <th scope="col" class="num">"Duration"</th>
                        <th scope="col" class="num">"State size"</th>
                        <th scope="col" class="num">"Checkpointed"</th>
                        <th scope="col" class="num">"Alignment"</th>
                        <th scope="col" class="num">"Attempt"</th>
                        <th scope="col"></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
