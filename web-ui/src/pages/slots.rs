//! `/slots`: every worker's task slots as one grid (a row per worker, a cell per slot,
//! `data-testid="slot"` with `data-state="free"|"allocated"`). An allocated slot names its
//! job (linked, with the job's colour, so slot sharing across a job's slots shows) and
//! lists the subtasks sharing it, with its managed memory used / budget; hovering a slot
//! shows all of it. From `GET /api/v1/workers` and `GET /api/v1/jobs`, refetched on the
//! event stream's slot and job events.

use std::collections::HashMap;

use eddy_api::jobs::JobsResponse;
use eddy_api::rest::{SlotInfo, SlotState, WorkerInfo, WorkerState, WorkersResponse};
use leptos::prelude::*;

use crate::api::{self, encode_segment};
use crate::components::slot_grid::slot_state_name;
use crate::components::worker_card::worker_state_name;
use crate::components::{ErrorBox, Loading};
use crate::events::use_live_updates;
use crate::format::human_bytes;

/// A stable hue (0..360) for a job id, so each job's slots share a colour.
pub fn job_hue(job_id: &str) -> u32 {
    // FNV-1a: stable across sessions and builds.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in job_id.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % 360
}

/// Share of the budget in use, 0..=100.
fn memory_percent(slot: &SlotInfo) -> u64 {
    if slot.managed_memory_bytes == 0 {
        return 0;
    }
    let used = slot
        .managed_memory_used_bytes
        .min(slot.managed_memory_bytes);
    (u128::from(used) * 100 / u128::from(slot.managed_memory_bytes)) as u64
}

/// The hover text of a slot: everything it holds.
pub fn slot_tooltip(worker: &WorkerInfo, slot: &SlotInfo, job_name: Option<&str>) -> String {
    let mut lines = vec![format!(
        "Worker {} ({}) · slot {}",
        worker.id, worker.address, slot.index
    )];
    match (&slot.state, &slot.job_id) {
        (SlotState::Allocated, Some(job)) => lines.push(match job_name {
            Some(name) => format!("Job {name} ({job})"),
            None => format!("Job {job}"),
        }),
        (SlotState::Allocated, None) => lines.push("Allocated".into()),
        (SlotState::Free, _) => lines.push("Free".into()),
    }
    if !slot.subtasks.is_empty() {
        lines.push(format!(
            "Subtasks sharing the slot ({}):",
            slot.subtasks.len()
        ));
        lines.extend(slot.subtasks.iter().map(|s| format!("  {s}")));
    }
    lines.push(format!(
        "Managed memory {} used of {}",
        human_bytes(slot.managed_memory_used_bytes),
        human_bytes(slot.managed_memory_bytes)
    ));
    lines.join("\n")
}

/// The page.
#[component]
pub fn SlotsPage() -> impl IntoView {
    let live = use_live_updates();
    let workers = LocalResource::new(move || {
        live.version.track();
        api::workers()
    });
    let jobs = LocalResource::new(move || {
        live.version.track();
        api::jobs()
    });
    let body = move || match workers.get() {
        None => view! { <Loading what="workers" /> }.into_any(),
        Some(Err(message)) => view! { <ErrorBox message /> }.into_any(),
        Some(Ok(response)) => {
            // Job names are a nicety: the grid shows without them.
            let names: HashMap<String, String> = match jobs.get() {
                Some(Ok(JobsResponse { jobs })) => {
                    jobs.into_iter().map(|j| (j.id, j.name)).collect()
                }
                _ => HashMap::new(),
            };
            view! { <SlotsGrid response names /> }.into_any()
        }
    };
    view! {
        <section class="page slots">
            <h1>"Task slots"</h1>
            {body}
        </section>
    }
}

#[component]
fn SlotsGrid(response: WorkersResponse, names: HashMap<String, String>) -> impl IntoView {
    let mut workers = response.workers;
    workers.sort_by(|a, b| {
        (a.state == WorkerState::Lost, &a.id).cmp(&(b.state == WorkerState::Lost, &b.id))
    });
    let slots: Vec<&SlotInfo> = workers.iter().flat_map(|w| w.slots.iter()).collect();
    let total = slots.len();
    let allocated = slots
        .iter()
        .filter(|s| s.state == SlotState::Allocated)
        .count();
    let mut jobs: Vec<String> = slots.iter().filter_map(|s| s.job_id.clone()).collect();
    jobs.sort();
    jobs.dedup();
    let legend = jobs
        .iter()
        .map(|job| {
            let name = names.get(job).cloned().unwrap_or_else(|| job.clone());
            view! {
                <a
                    class="job-chip"
                    href=format!("/jobs/{}", encode_segment(job))
                    style=format!("--job-hue: {}", job_hue(job))
                    title=job.clone()
                >
                    {name}
                </a>
            }
        })
        .collect_view();
    if workers.is_empty() {
        return view! {
            <p class="empty" data-testid="no-workers">"No worker has registered yet."</p>
        }
        .into_any();
    }
    let rows = workers
        .into_iter()
        .map(|worker| view! { <WorkerRow worker names=names.clone() /> })
        .collect_view();
    view! {
        <p class="slots-summary" data-testid="slots-summary">
            {format!("{allocated} of {total} slots allocated, {} free.", total - allocated)}
        </p>
        <div class="job-legend">{legend}</div>
        <div class="slot-matrix">{rows}</div>
    }
    .into_any()
}

#[component]
fn WorkerRow(worker: WorkerInfo, names: HashMap<String, String>) -> impl IntoView {
    let state = worker_state_name(worker.state);
    let mut slots = worker.slots.clone();
    slots.sort_by_key(|s| s.index);
    let cells = if slots.is_empty() {
        view! { <p class="slots-empty">"No slots (lost worker)."</p> }.into_any()
    } else {
        slots
            .into_iter()
            .map(|slot| {
                let name = slot.job_id.as_ref().and_then(|j| names.get(j)).cloned();
                view! { <SlotCell worker=worker.clone() info=slot name /> }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <div class=format!("matrix-row worker-{state}") data-testid="slot-row" data-worker-id=worker.id.clone()>
            <div class="matrix-worker">
                <code class="job-id" title=worker.id.clone()>{worker.id.clone()}</code>
                <span class="matrix-address">{worker.address.clone()}</span>
                <span class=format!("badge badge-{state}")>{state}</span>
            </div>
            <div class="matrix-slots">{cells}</div>
        </div>
    }
}

#[component]
fn SlotCell(worker: WorkerInfo, info: SlotInfo, name: Option<String>) -> impl IntoView {
    let slot = info;
    let state = slot_state_name(slot.state);
    let tooltip = slot_tooltip(&worker, &slot, name.as_deref());
    let percent = memory_percent(&slot);
    let style = slot
        .job_id
        .as_ref()
        .map(|job| format!("--job-hue: {}", job_hue(job)))
        .unwrap_or_default();
    let job = slot.job_id.clone().map(|job| {
        let label = name.clone().unwrap_or_else(|| job.clone());
        view! {
            <a class="slot-job-link" data-testid="slot-job" href=format!("/jobs/{}", encode_segment(&job))>
                {label}
            </a>
        }
    });
    let subtasks = slot
        .subtasks
        .iter()
        .map(|s| view! { <li>{s.clone()}</li> })
        .collect_view();
    view! {
        <div
            class=format!("slot matrix-slot slot-{state}")
            data-testid="slot"
            data-state=state
            data-slot-index=slot.index.to_string()
            data-job-id=slot.job_id.clone().unwrap_or_default()
            style=style
            title=tooltip
            tabindex="0"
        >
            <div class="slot-head">
                <span class="slot-index">{format!("#{}", slot.index)}</span>
                <span class="slot-state">{state}</span>
            </div>
            {job}
            <ul class="subtasks">{subtasks}</ul>
            <div class="slot-memory">
                <div class="bar">
                    <div class="bar-fill" style=format!("width: {percent}%")></div>
                </div>
                <span>
                    {format!(
                        "{} / {}",
                        human_bytes(slot.managed_memory_used_bytes),
                        human_bytes(slot.managed_memory_bytes)
                    )}
                </span>
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hues_are_stable_and_spread() {
        assert_eq!(job_hue("a"), job_hue("a"));
        assert!(job_hue("a") < 360);
        assert_ne!(job_hue("job-1"), job_hue("job-2"));
    }

    #[test]
    fn tooltip_names_everything() {
        let worker = WorkerInfo {
            id: "w1".into(),
            address: "127.0.0.1:5000".into(),
            state: WorkerState::Active,
            last_heartbeat_ms: 0,
            slots: vec![],
        };
        let slot = SlotInfo {
            index: 1,
            state: SlotState::Allocated,
            job_id: Some("j1".into()),
            subtasks: vec!["Source: src (1/2)".into(), "Sink: snk (1/2)".into()],
            managed_memory_bytes: 1024,
            managed_memory_used_bytes: 512,
        };
        let text = slot_tooltip(&worker, &slot, Some("my job"));
        for needle in [
            "w1",
            "slot 1",
            "my job (j1)",
            "Source: src (1/2)",
            "Sink: snk (1/2)",
            "512 B used of 1 KiB",
        ] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
    }
}
