//! A job's actions — savepoint, stop with savepoint, rescale, cancel — each behind an
//! in-page confirmation (`data-testid="confirm-dialog"`), and the state of the last
//! savepoint operation (`GET /api/v1/jobs/{id}/savepoints/{trigger_id}`, refetched on the
//! event stream's checkpoint and job status events). The state lives in [`ActionState`],
//! owned by the page, so it survives the live refetches that re-render the job.

use leptos::prelude::*;
use leptos::task::spawn_local;

use eddy_api::savepoints::SavepointTriggerResponse;

use crate::api::{self, ApiError};
use crate::events::use_live_updates;

/// An action waiting for its confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Savepoint,
    Stop,
    Rescale,
    Cancel,
}

impl Action {
    fn label(self) -> &'static str {
        match self {
            Action::Savepoint => "Trigger savepoint",
            Action::Stop => "Stop with savepoint",
            Action::Rescale => "Rescale",
            Action::Cancel => "Cancel job",
        }
    }

    fn testid(self) -> &'static str {
        match self {
            Action::Savepoint => "savepoint-job",
            Action::Stop => "stop-job",
            Action::Rescale => "rescale-job",
            Action::Cancel => "cancel-job",
        }
    }

    fn question(self) -> &'static str {
        match self {
            Action::Savepoint => {
                "Take a savepoint of this job? It keeps running; the savepoint can start a new job later."
            }
            Action::Stop => {
                "Stop this job with a savepoint? It finishes once the savepoint completed."
            }
            Action::Rescale => {
                "Rescale this job? It stops with a savepoint and restarts from it at the new parallelism."
            }
            Action::Cancel => {
                "Cancel this job? Its subtasks stop; without a savepoint its state is lost."
            }
        }
    }
}

/// The page-owned state of the actions.
#[derive(Debug, Clone, Copy)]
pub struct ActionState {
    pending: RwSignal<Option<Action>>,
    busy: RwSignal<bool>,
    error: RwSignal<Option<String>>,
    /// (what, trigger id) of the last savepoint operation started here.
    operation: RwSignal<Option<(Action, String)>>,
    parallelism: RwSignal<String>,
    /// Stop with `drain`.
    drain: RwSignal<bool>,
}

impl ActionState {
    pub fn new() -> Self {
        ActionState {
            pending: RwSignal::new(None),
            busy: RwSignal::new(false),
            error: RwSignal::new(None),
            operation: RwSignal::new(None),
            parallelism: RwSignal::new(String::new()),
            drain: RwSignal::new(false),
        }
    }
}

impl ActionState {
    /// Forgets the confirmation, error and operation (another job's page).
    pub fn reset(&self) {
        self.pending.set(None);
        self.busy.set(false);
        self.error.set(None);
        self.operation.set(None);
        self.parallelism.set(String::new());
        self.drain.set(false);
    }
}

impl Default for ActionState {
    fn default() -> Self {
        Self::new()
    }
}

/// The buttons, the confirmation and the operation's state.
#[component]
pub fn JobActions(
    id: String,
    /// The job runs (savepoint, stop and rescale need that).
    running: bool,
    /// The job ended (nothing to cancel).
    terminal: bool,
    parallelism: u32,
    state: ActionState,
) -> impl IntoView {
    let ActionState {
        pending,
        busy,
        error,
        operation,
        parallelism: new_parallelism,
        drain,
    } = state;
    let button = move |action: Action, enabled: bool, class: &'static str| {
        view! {
            <button
                type="button"
                class=class
                data-testid=action.testid()
                disabled=!enabled
                on:click=move |_| {
                    error.set(None);
                    if action == Action::Rescale && new_parallelism.get_untracked().is_empty() {
                        new_parallelism.set((parallelism + 1).to_string());
                    }
                    pending.set(Some(action));
                }
            >
                {action.label()}
            </button>
        }
    };
    let confirm = {
        let id = id.clone();
        move |_| {
            let Some(action) = pending.get_untracked() else {
                return;
            };
            let id = id.clone();
            let rescale_to = new_parallelism.get_untracked().trim().parse::<u32>().ok();
            if action == Action::Rescale && rescale_to.is_none_or(|p| p < 1) {
                error.set(Some(
                    "The new parallelism must be a whole number ≥ 1.".into(),
                ));
                return;
            }
            busy.set(true);
            spawn_local(async move {
                let started: Result<Option<SavepointTriggerResponse>, ApiError> = match action {
                    Action::Savepoint => api::trigger_savepoint(id).await.map(Some),
                    Action::Stop => api::stop_job(id, drain.get_untracked()).await.map(Some),
                    Action::Rescale => api::rescale_job(id, rescale_to.unwrap_or(1))
                        .await
                        .map(Some),
                    Action::Cancel => api::cancel_job(id).await.map(|_| None),
                };
                busy.try_set(false);
                pending.try_set(None);
                match started {
                    Ok(Some(trigger)) => {
                        operation.try_set(Some((action, trigger.trigger_id)));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        error.try_set(Some(format!("{}: {}", action.label(), e.message)));
                    }
                }
            });
        }
    };
    let dialog = move || {
        let action = pending.get()?;
        let rescale_field = (action == Action::Rescale).then(|| {
            view! {
                <label class="inline-field">
                    "New parallelism "
                    <input
                        type="number"
                        min="1"
                        data-testid="rescale-parallelism"
                        prop:value=move || new_parallelism.get()
                        on:input=move |ev| new_parallelism.set(event_target_value(&ev))
                    />
                </label>
            }
        });
        let drain_field = (action == Action::Stop).then(|| {
            view! {
                <label class="inline-field">
                    <input
                        type="checkbox"
                        data-testid="stop-drain"
                        prop:checked=move || drain.get()
                        on:change=move |ev| drain.set(event_target_checked(&ev))
                    />
                    "Drain: end the sources after the savepoint, fire pending windows, then finish"
                </label>
            }
        });
        let confirm = confirm.clone();
        Some(view! {
            <div
                class="confirm"
                role="alertdialog"
                aria-label=action.label()
                data-testid="confirm-dialog"
                data-action=action.testid()
            >
                <p>{action.question()}</p>
                {rescale_field}
                {drain_field}
                <div class="confirm-buttons">
                    <button
                        type="button"
                        class=if action == Action::Cancel { "danger" } else { "primary" }
                        data-testid="confirm"
                        disabled=move || busy.get()
                        on:click=confirm
                    >
                        {action.label()}
                    </button>
                    <button type="button" data-testid="dismiss" on:click=move |_| pending.set(None)>
                        "Back"
                    </button>
                </div>
            </div>
        })
    };
    let error_view = move || {
        error.get().map(|message| {
            view! {
                <div class="error" role="alert" data-testid="action-error">
                    {message}
                </div>
            }
        })
    };
    view! {
        <div class="actions">
            <div class="action-buttons">
                {button(Action::Savepoint, running, "")}
                {button(Action::Stop, running, "")}
                {button(Action::Rescale, running, "")}
                {button(Action::Cancel, !terminal, "danger")}
            </div>
            {dialog}
            {error_view}
            <OperationStatus id operation />
        </div>
    }
}

/// The last savepoint operation's state, refetched on checkpoint and job events.
#[component]
fn OperationStatus(id: String, operation: RwSignal<Option<(Action, String)>>) -> impl IntoView {
    let live = use_live_updates();
    let status = LocalResource::new(move || {
        live.checkpoints.track();
        let id = id.clone();
        let current = operation.get();
        async move {
            match current {
                Some((action, trigger)) => Some((action, api::savepoint_status(id, trigger).await)),
                None => None,
            }
        }
    });
    move || {
        let (action, result) = status.get().flatten()?;
        Some(match result {
            Err(message) => view! {
                <p class="operation" data-testid="savepoint-operation" data-status="UNKNOWN">
                    {format!("{}: {message}", action.label())}
                </p>
            }
            .into_any(),
            Ok(op) => {
                let detail = match (op.status.as_str(), &op.location, &op.failure) {
                    ("COMPLETED", Some(location), _) => format!("completed at {location}"),
                    ("FAILED", _, Some(failure)) => format!("failed: {failure}"),
                    (status, _, _) => status.to_lowercase().replace('_', " "),
                };
                view! {
                    <p
                        class=format!("operation op-{}", op.status.to_lowercase())
                        data-testid="savepoint-operation"
                        data-status=op.status.clone()
                        title=format!("trigger id {}", op.trigger_id)
                    >
                        {format!("{}: {detail}", action.label())}
                    </p>
                }
                .into_any()
            }
        })
    }
}
