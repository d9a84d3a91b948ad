//! The grid of a worker's task slots. Every slot is one element with
//! `data-testid="slot"` and `data-state="free"|"allocated"` (acceptance tests rely on
//! these exact attributes), showing its index, its job and subtasks when allocated, and
//! its managed memory.

use eddy_api::rest::{SlotInfo, SlotState};
use leptos::prelude::*;

use crate::format::human_bytes;

/// The `data-state` value of a slot.
pub fn slot_state_name(state: SlotState) -> &'static str {
    match state {
        SlotState::Free => "free",
        SlotState::Allocated => "allocated",
    }
}

/// All slots of one worker, ordered by index.
#[component]
pub fn SlotGrid(mut slots: Vec<SlotInfo>, #[prop(optional)] lost: bool) -> impl IntoView {
    if slots.is_empty() {
        let text = if lost {
            "No slots: the worker is lost, its slots left the cluster."
        } else {
            "No slots reported."
        };
        return view! { <p class="slots-empty">{text}</p> }.into_any();
    }
    slots.sort_by_key(|slot| slot.index);
    view! {
        <div class="slot-grid">
            {slots.into_iter().map(|slot| view! { <SlotCell info=slot /> }).collect_view()}
        </div>
    }
    .into_any()
}

/// One slot cell.
#[component]
fn SlotCell(info: SlotInfo) -> impl IntoView {
    let state = slot_state_name(info.state);
    let allocated = info.state == SlotState::Allocated;
    let memory = format!(
        "{} / {}",
        human_bytes(info.managed_memory_used_bytes),
        human_bytes(info.managed_memory_bytes)
    );
    let memory_percent = if info.managed_memory_bytes == 0 {
        0
    } else {
        let used = info
            .managed_memory_used_bytes
            .min(info.managed_memory_bytes);
        (u128::from(used) * 100 / u128::from(info.managed_memory_bytes)) as u64
    };
    let job = allocated.then(|| {
        let job_id = info
            .job_id
            .clone()
            .unwrap_or_else(|| "unknown job".to_string());
        let subtasks = info.subtasks.clone();
        view! {
            <div class="slot-job">
                <span class="label">"Job"</span>
                <code class="job-id" data-testid="slot-job" title=job_id.clone()>
                    {job_id.clone()}
                </code>
            </div>
            <ul class="subtasks">
                {subtasks
                    .into_iter()
                    .map(|subtask| view! { <li>{subtask}</li> })
                    .collect_view()}
            </ul>
        }
    });
    view! {
        <div
            class=format!("slot slot-{state}")
            data-testid="slot"
            data-state=state
            data-slot-index=info.index.to_string()
        >
            <div class="slot-head">
                <span class="slot-index">{format!("#{}", info.index)}</span>
                <span class="slot-state">{state}</span>
            </div>
            {job}
            <div class="slot-memory" title="managed memory used / reserved">
                <div class="bar">
                    <div class="bar-fill" style=format!("width: {memory_percent}%")></div>
                </div>
                <span>{memory}</span>
            </div>
        </div>
    }
}
