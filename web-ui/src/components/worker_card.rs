//! A card per worker: id, RPC address, liveness, last heartbeat and its slot grid.
//! Carries `data-testid="worker"` and `data-worker-id`; lost workers are greyed out.

use eddy_api::rest::{SlotState, WorkerInfo, WorkerState};
use leptos::prelude::*;

use crate::components::SlotGrid;
use crate::format::utc_timestamp;

/// The `data-state` value of a worker.
pub fn worker_state_name(state: WorkerState) -> &'static str {
    match state {
        WorkerState::Active => "active",
        WorkerState::Lost => "lost",
    }
}

/// One worker.
#[component]
pub fn WorkerCard(worker: WorkerInfo) -> impl IntoView {
    let state = worker_state_name(worker.state);
    let lost = worker.state == WorkerState::Lost;
    let total = worker.slots.len();
    let allocated = worker
        .slots
        .iter()
        .filter(|slot| slot.state == SlotState::Allocated)
        .count();
    view! {
        <article
            class=format!("worker worker-{state}")
            data-testid="worker"
            data-worker-id=worker.id.clone()
            data-state=state
        >
            <header class="worker-head">
                <h3 class="worker-id" title=worker.id.clone()>
                    {worker.id.clone()}
                </h3>
                <span class=format!("badge badge-{state}")>{state}</span>
            </header>
            <dl class="worker-meta">
                <dt>"Address"</dt>
                <dd>
                    <code>{worker.address.clone()}</code>
                </dd>
                <dt>"Last heartbeat"</dt>
                <dd title=format!("{} ms since the Unix epoch", worker.last_heartbeat_ms)>
                    {utc_timestamp(worker.last_heartbeat_ms)}
                </dd>
                <dt>"Slots"</dt>
                <dd>{format!("{allocated} of {total} allocated")}</dd>
            </dl>
            <SlotGrid slots=worker.slots lost />
        </article>
    }
}
