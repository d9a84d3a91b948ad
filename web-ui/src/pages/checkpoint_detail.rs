//! `/jobs/{id}/checkpoints/{cid}`: one checkpoint from
//! `GET /api/v1/jobs/{id}/checkpoints/{cid}` — its outcome and sizes, then per vertex a
//! timeline with one bar per subtask from the trigger to its acknowledgement, split into
//! start delay, alignment, sync and async phases, and a bar of each subtask's state size.
//! Below, for a completed checkpoint, the state browser. Refetches on the event
//! stream's checkpoint events (an in-progress one fills in).

use eddy_api::checkpoints::{CheckpointDetails, CheckpointSubtask, CheckpointVertex};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::{self, encode_segment};
use crate::components::{ErrorBox, Loading, StateBrowser};
use crate::events::use_live_updates;
use crate::format::{human_bytes, human_duration, utc_timestamp};

/// A phase of a subtask's checkpoint, in timeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Trigger → the barrier reached the subtask.
    StartDelay,
    /// First → last barrier of its inputs.
    Alignment,
    /// Copying the state (processing paused).
    Sync,
    /// Writing the snapshot while processing went on.
    Async,
    /// Whatever else passed before the acknowledgement.
    Acknowledge,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::StartDelay => "start delay",
            Phase::Alignment => "alignment",
            Phase::Sync => "sync",
            Phase::Async => "async",
            Phase::Acknowledge => "until acknowledged",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Phase::StartDelay => "ph-delay",
            Phase::Alignment => "ph-align",
            Phase::Sync => "ph-sync",
            Phase::Async => "ph-async",
            Phase::Acknowledge => "ph-ack",
        }
    }
}

/// The subtask's phases as (phase, start ms, length ms) from the trigger, clipped to its
/// duration; empty phases are left out.
pub fn phases(subtask: &CheckpointSubtask) -> Vec<(Phase, u64, u64)> {
    let total = subtask.duration_ms;
    let mut out = Vec::new();
    let mut at = 0u64;
    for (phase, len) in [
        (Phase::StartDelay, subtask.start_delay_ms),
        (Phase::Alignment, subtask.alignment_ms),
        (Phase::Sync, subtask.sync_ms),
        (Phase::Async, subtask.async_ms),
        (Phase::Acknowledge, u64::MAX),
    ] {
        let len = len.min(total.saturating_sub(at));
        if len > 0 {
            out.push((phase, at, len));
            at += len;
        }
    }
    out
}

/// The page.
#[component]
pub fn CheckpointDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let cid = Memo::new(move |_| params.with(|p| p.get("cid").and_then(|c| c.parse::<u64>().ok())));
    let live = use_live_updates();
    let detail = LocalResource::new(move || {
        live.checkpoints.track();
        let (id, cid) = (id.get(), cid.get());
        async move {
            match cid {
                Some(cid) => api::checkpoint(id, cid).await,
                None => Err("the checkpoint id in the address is not a number".to_string()),
            }
        }
    });
    // Every checkpoint event refetches, but a checkpoint that ended no longer changes:
    // the memo re-renders (and resets the state browser) only when the data did.
    let current = Memo::new(move |_| detail.get());
    let body = move || match current.get() {
        None => view! { <Loading what="checkpoint" /> }.into_any(),
        Some(Err(message)) => view! { <ErrorBox message /> }.into_any(),
        Some(Ok(detail)) => view! { <Detail job_id=id.get_untracked() detail /> }.into_any(),
    };
    let back = move || format!("/jobs/{}/checkpoints", encode_segment(&id.get()));
    view! {
        <section class="page checkpoint-detail">
            <div class="page-head">
                <h1>{move || match cid.get() {
                    Some(cid) => format!("Checkpoint {cid}"),
                    None => "Checkpoint".to_string(),
                }}</h1>
                <a href=back class="button">"All checkpoints"</a>
            </div>
            {body}
        </section>
    }
}

#[component]
fn Detail(job_id: String, detail: CheckpointDetails) -> impl IntoView {
    let c = detail.checkpoint;
    let browser = (c.status == "COMPLETED").then(|| {
        view! {
            <h2>"Keyed state"</h2>
            <StateBrowser job_id cid=c.id vertices=detail.vertices.clone() />
        }
    });
    let failure = c.failure.clone().map(|f| {
        view! {
            <div class="error" role="alert">
                <strong>"Failed: "</strong>
                {f}
            </div>
        }
    });
    // One scale for every timeline of this checkpoint.
    let longest = detail
        .vertices
        .iter()
        .flat_map(|v| v.subtasks.iter().map(|s| s.duration_ms))
        .chain(c.duration_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    let largest = detail
        .vertices
        .iter()
        .flat_map(|v| v.subtasks.iter().map(|s| s.state_size_bytes))
        .max()
        .unwrap_or(0)
        .max(1);
    let vertices = detail
        .vertices
        .into_iter()
        .map(|vertex| view! { <VertexTimeline vertex longest largest /> })
        .collect_view();
    view! {
        <div class="stats" data-testid="checkpoint-detail" data-status=c.status.clone()>
            <Fact label="Status" value=c.status.clone() />
            <Fact label="Triggered" value=utc_timestamp(c.trigger_time) />
            <Fact label="Duration" value=c.duration_ms.map(human_duration).unwrap_or_else(|| "–".into()) />
            <Fact label="State size" value=human_bytes(c.state_size_bytes) />
            <Fact label="Checkpointed" value=human_bytes(c.checkpointed_bytes) />
            <Fact label="Max alignment" value=human_duration(c.alignment_ms) />
        </div>
        {failure}
        <p class="job-meta">
            {if c.is_savepoint { "Savepoint" } else { "Checkpoint" }} " of attempt "
            {c.attempt.to_string()} " in " <code>{c.path.clone()}</code>
        </p>
        <h2>"Subtasks"</h2>
        <PhaseLegend />
        <div class="timelines" data-testid="checkpoint-timeline">
            {vertices}
        </div>
        {browser}
    }
}

#[component]
fn Fact(label: &'static str, #[prop(into)] value: String) -> impl IntoView {
    view! {
        <div class="stat">
            <span class="stat-label">{label}</span>
            <span class="stat-value small">{value}</span>
        </div>
    }
}

#[component]
fn PhaseLegend() -> impl IntoView {
    let items = [
        Phase::StartDelay,
        Phase::Alignment,
        Phase::Sync,
        Phase::Async,
        Phase::Acknowledge,
    ]
    .into_iter()
    .map(|p| {
        view! {
            <span class="legend-item">
                <span class=format!("swatch {}", p.class())></span>
                {p.name()}
            </span>
        }
    })
    .collect_view();
    view! {
        <p class="legend">
            {items}
            <span class="legend-item">
                <span class="swatch ph-size"></span>
                "state size"
            </span>
        </p>
    }
}

/// A vertex's summary line and one timeline row per subtask.
#[component]
fn VertexTimeline(vertex: CheckpointVertex, longest: u64, largest: u64) -> impl IntoView {
    let mut subtasks = vertex.subtasks.clone();
    subtasks.sort_by_key(|s| s.index);
    let rows = subtasks
        .into_iter()
        .map(|s| {
            let segments = phases(&s)
                .into_iter()
                .map(|(phase, start, len)| {
                    let style = format!(
                        "left: {:.3}%; width: {:.3}%",
                        start as f64 * 100.0 / longest as f64,
                        len as f64 * 100.0 / longest as f64
                    );
                    view! {
                        <span
                            class=format!("segment {}", phase.class())
                            style=style
                            title=format!("{}: {}", phase.name(), human_duration(len))
                        ></span>
                    }
                })
                .collect_view();
            let size_width = format!("width: {:.3}%", s.state_size_bytes as f64 * 100.0 / largest as f64);
            let title = format!(
                "subtask {}: acknowledged at {} after {} (start delay {}, alignment {}, sync {}, async {}); state {} in key groups {}..={}",
                s.index + 1,
                utc_timestamp(s.ack_time),
                human_duration(s.duration_ms),
                human_duration(s.start_delay_ms),
                human_duration(s.alignment_ms),
                human_duration(s.sync_ms),
                human_duration(s.async_ms),
                human_bytes(s.state_size_bytes),
                s.key_groups[0],
                s.key_groups[1]
            );
            view! {
                <div class="timeline-row" data-testid="timeline-row" data-subtask=s.index.to_string() title=title>
                    <span class="timeline-label">{format!("{}/{}", s.index + 1, vertex.parallelism)}</span>
                    <span class="timeline-track">{segments}</span>
                    <span class="timeline-value">{human_duration(s.duration_ms)}</span>
                    <span class="size-track">
                        {(s.state_size_bytes > 0)
                            .then(|| view! { <span class="segment ph-size" style=size_width></span> })}
                    </span>
                    <span class="timeline-value">{human_bytes(s.state_size_bytes)}</span>
                </div>
            }
        })
        .collect_view();
    view! {
        <div class="vertex-timeline" data-testid="checkpoint-vertex" data-vertex-id=vertex.id.to_string()>
            <h3 title=vertex.name.clone()>{vertex.name.clone()}</h3>
            <p class="vertex-summary">
                {format!(
                    "{}/{} acknowledged · slowest {} · alignment {} · state {}",
                    vertex.acknowledged,
                    vertex.parallelism,
                    human_duration(vertex.duration_ms),
                    human_duration(vertex.alignment_ms),
                    human_bytes(vertex.state_size_bytes)
                )}
            </p>
            <div class="timeline-head" aria-hidden="true">
                <span class="timeline-label">"subtask"</span>
                <span class="timeline-track-head">{format!("0 → {}", human_duration(longest))}</span>
                <span class="timeline-value">"duration"</span>
                <span class="size-track-head">"state size"</span>
                <span class="timeline-value"></span>
            </div>
            {rows}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subtask(duration: u64, delay: u64, align: u64, sync: u64, asy: u64) -> CheckpointSubtask {
        CheckpointSubtask {
            index: 0,
            ack_time: 0,
            duration_ms: duration,
            sync_ms: sync,
            async_ms: asy,
            alignment_ms: align,
            start_delay_ms: delay,
            state_size_bytes: 0,
            key_groups: [0, 127],
            files: vec![],
        }
    }

    #[test]
    fn phases_follow_each_other_and_fill_the_duration() {
        let p = phases(&subtask(100, 10, 20, 5, 40));
        assert_eq!(
            p,
            vec![
                (Phase::StartDelay, 0, 10),
                (Phase::Alignment, 10, 20),
                (Phase::Sync, 30, 5),
                (Phase::Async, 35, 40),
                (Phase::Acknowledge, 75, 25),
            ]
        );
    }

    #[test]
    fn phases_are_clipped_to_the_duration() {
        let p = phases(&subtask(30, 10, 0, 50, 5));
        assert_eq!(p, vec![(Phase::StartDelay, 0, 10), (Phase::Sync, 10, 20)]);
        assert!(phases(&subtask(0, 1, 1, 1, 1)).is_empty());
    }
}
