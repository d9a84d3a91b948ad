//! `/jobs/new`: write a Flink SQL script in the editor (or start from an example), see
//! it validated as you type (`POST /api/v1/sql/validate`, debounced; the error at its
//! line) with a preview of the planned job graph, set parallelism, checkpoint interval,
//! state backend and restart strategy, and submit (`POST /api/v1/jobs`) — then the new
//! job's page opens.

use eddy_api::error::ErrorBody;
use eddy_api::jobs::{RestartStrategySpec, SubmitJobRequest};
use eddy_api::rest::{JobGraphInfo, SqlValidateRequest};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use crate::api::{self, encode_segment};
use crate::components::{GraphVertex, JobGraph, SqlEditor};
use crate::sql_highlight::SqlMark;
use crate::templates::{TEMPLATES, default_template};

/// Quiet time after the last keystroke before the script is validated.
const VALIDATE_DEBOUNCE_MS: u32 = 300;
/// Highest parallelism the form accepts (the master enforces its own limit).
const MAX_FORM_PARALLELISM: u32 = 1024;

/// Where validation of the current script stands.
#[derive(Debug, Clone, PartialEq)]
enum Validation {
    Empty,
    Checking,
    Valid(JobGraphInfo),
    /// The master's error body (with line and column when it knows them).
    Invalid(ErrorBody),
    /// The validation request itself failed.
    Unavailable(String),
}

/// The form's options, parsed.
#[derive(Debug, Clone, PartialEq)]
struct JobOptions {
    parallelism: u32,
    checkpoint_interval_ms: Option<u64>,
}

/// Parses the parallelism and checkpoint interval fields.
fn parse_options(parallelism: &str, interval: &str) -> Result<JobOptions, String> {
    let parallelism = match parallelism.trim().parse::<u32>() {
        Ok(p) if (1..=MAX_FORM_PARALLELISM).contains(&p) => p,
        _ => {
            return Err(format!(
                "Parallelism must be a whole number from 1 to {MAX_FORM_PARALLELISM}."
            ));
        }
    };
    let interval = interval.trim();
    let checkpoint_interval_ms = if interval.is_empty() {
        None
    } else {
        match interval.parse::<u64>() {
            Ok(ms) if ms > 0 => Some(ms),
            _ => {
                return Err(
                    "Checkpoint interval must be a positive number of milliseconds, or empty for no checkpoints."
                        .into(),
                );
            }
        }
    };
    Ok(JobOptions {
        parallelism,
        checkpoint_interval_ms,
    })
}

/// The page.
#[component]
pub fn NewJobPage() -> impl IntoView {
    let sql = RwSignal::new(default_template().sql.to_string());
    let name = RwSignal::new(String::new());
    let parallelism = RwSignal::new("1".to_string());
    let interval = RwSignal::new(String::new());
    let backend = RwSignal::new("hashmap".to_string());
    let restart = RwSignal::new(String::new());
    let validation = RwSignal::new(Validation::Empty);
    let last_graph = RwSignal::new(None::<JobGraphInfo>);
    let submitting = RwSignal::new(false);
    let submit_error = RwSignal::new(None::<String>);
    let generation = StoredValue::new(0u64);

    // Validate as you type: each change starts a timer; only the newest one asks.
    Effect::new(move |_| {
        let script = sql.get();
        let planned_parallelism = parallelism
            .with(|p| p.trim().parse::<u32>().ok())
            .filter(|p| (1..=MAX_FORM_PARALLELISM).contains(p));
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        if script.trim().is_empty() {
            validation.set(Validation::Empty);
            return;
        }
        spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(VALIDATE_DEBOUNCE_MS).await;
            if generation.try_get_value() != Some(mine) {
                return;
            }
            validation.try_set(Validation::Checking);
            let result = api::validate_sql(SqlValidateRequest {
                sql: script,
                parallelism: planned_parallelism,
            })
            .await;
            if generation.try_get_value() != Some(mine) {
                return;
            }
            let next = match result {
                Ok(answer) => {
                    last_graph.try_set(Some(answer.graph.clone()));
                    Validation::Valid(answer.graph)
                }
                Err(error) => match error.body {
                    Some(body) => Validation::Invalid(body),
                    None => Validation::Unavailable(error.message),
                },
            };
            validation.try_set(next);
        });
    });

    let mark = Signal::derive(move || match validation.get() {
        Validation::Invalid(ErrorBody {
            line: Some(line),
            column,
            message,
            ..
        }) => Some(SqlMark {
            line,
            column,
            message,
        }),
        _ => None,
    });

    let navigate = use_navigate();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if submitting.get_untracked() {
            return;
        }
        let options = match parse_options(&parallelism.get_untracked(), &interval.get_untracked()) {
            Ok(options) => options,
            Err(message) => {
                submit_error.set(Some(message));
                return;
            }
        };
        let request = SubmitJobRequest {
            sql: sql.get_untracked(),
            name: Some(name.get_untracked().trim().to_string()).filter(|n| !n.is_empty()),
            parallelism: Some(options.parallelism),
            checkpoint_interval_ms: options.checkpoint_interval_ms,
            state_backend: Some(backend.get_untracked()),
            restart_strategy: Some(restart.get_untracked())
                .filter(|r| !r.is_empty())
                .map(RestartStrategySpec::Name),
            savepoint_path: None,
        };
        submitting.set(true);
        submit_error.set(None);
        let navigate = navigate.clone();
        spawn_local(async move {
            let result = api::submit_job(request).await;
            submitting.try_set(false);
            match result {
                Ok(job) => navigate(
                    &format!("/jobs/{}", encode_segment(&job.id)),
                    Default::default(),
                ),
                Err(error) => {
                    if let Some(body) = error.body.clone().filter(|b| b.line.is_some()) {
                        validation.try_set(Validation::Invalid(body));
                    }
                    submit_error.try_set(Some(error.message));
                }
            }
        });
    };

    let templates = TEMPLATES
        .iter()
        .map(|template| {
            let text = template.sql;
            view! {
                <button
                    type="button"
                    class="template"
                    data-testid="template"
                    data-template=template.id
                    on:click=move |_| sql.set(text.to_string())
                >
                    {template.title}
                </button>
            }
        })
        .collect_view();

    view! {
        <section class="page new-job">
            <h1>"New job"</h1>
            <form class="new-job-form" on:submit=on_submit>
                <div class="templates" role="group" aria-label="Example scripts">
                    <span class="templates-label">"Start from an example:"</span>
                    {templates}
                </div>
                <SqlEditor sql mark />
                <ValidationStatus validation />
                <fieldset class="job-options">
                    <legend>"Options"</legend>
                    <label>
                        <span>"Name"</span>
                        <input
                            type="text"
                            data-testid="job-name"
                            placeholder="from the script"
                            prop:value=move || name.get()
                            on:input=move |ev| name.set(event_target_value(&ev))
                        />
                    </label>
                    <label>
                        <span>"Parallelism"</span>
                        <input
                            type="number"
                            min="1"
                            max=MAX_FORM_PARALLELISM.to_string()
                            data-testid="parallelism"
                            prop:value=move || parallelism.get()
                            on:input=move |ev| parallelism.set(event_target_value(&ev))
                        />
                    </label>
                    <label>
                        <span>"Checkpoint interval (ms)"</span>
                        <input
                            type="number"
                            min="1"
                            data-testid="checkpoint-interval"
                            placeholder="off"
                            prop:value=move || interval.get()
                            on:input=move |ev| interval.set(event_target_value(&ev))
                        />
                    </label>
                    <label>
                        <span>"State backend"</span>
                        <select
                            data-testid="state-backend"
                            on:change=move |ev| backend.set(event_target_value(&ev))
                            prop:value=move || backend.get()
                        >
                            <option value="hashmap">"hashmap (in memory)"</option>
                            <option value="rocksdb">"rocksdb"</option>
                        </select>
                    </label>
                    <label>
                        <span>"Restart strategy"</span>
                        <select
                            data-testid="restart-strategy"
                            on:change=move |ev| restart.set(event_target_value(&ev))
                            prop:value=move || restart.get()
                        >
                            <option value="">"default"</option>
                            <option value="fixed-delay">"fixed-delay"</option>
                            <option value="exponential-delay">"exponential-delay"</option>
                            <option value="none">"none"</option>
                        </select>
                    </label>
                </fieldset>
                <div class="form-actions">
                    <button
                        type="submit"
                        class="primary"
                        data-testid="submit-job"
                        disabled=move || submitting.get()
                    >
                        {move || if submitting.get() { "Submitting…" } else { "Submit job" }}
                    </button>
                    {move || {
                        submit_error
                            .get()
                            .map(|message| {
                                view! {
                                    <div class="error" role="alert" data-testid="submit-error">
                                        <strong>"Not submitted. "</strong>
                                        {message}
                                    </div>
                                }
                            })
                    }}
                </div>
            </form>
            <h2>"Planned job graph"</h2>
            <GraphPreview validation last_graph />
        </section>
    }
}

/// The line under the editor: valid (with the graph's size), checking, or the error.
#[component]
fn ValidationStatus(validation: RwSignal<Validation>) -> impl IntoView {
    move || match validation.get() {
        Validation::Empty => view! {
            <p class="sql-status" data-testid="sql-status" data-state="empty">
                "Write a script: CREATE TABLE … WITH ('connector' = …), then INSERT INTO … SELECT …"
            </p>
        }
        .into_any(),
        Validation::Checking => view! {
            <p class="sql-status" data-testid="sql-status" data-state="checking">
                "Checking…"
            </p>
        }
        .into_any(),
        Validation::Valid(graph) => {
            let text = format!(
                "Valid: {} {}, {} {}.",
                graph.vertices.len(),
                if graph.vertices.len() == 1 {
                    "vertex"
                } else {
                    "vertices"
                },
                graph.edges.len(),
                if graph.edges.len() == 1 {
                    "edge"
                } else {
                    "edges"
                }
            );
            view! {
                <p class="sql-status sql-ok" data-testid="sql-status" data-state="valid">
                    "✓ "
                    {text}
                </p>
            }
            .into_any()
        }
        Validation::Invalid(body) => {
            let position = match (body.line, body.column) {
                (Some(line), Some(column)) => format!("Line {line}, column {column}: "),
                (Some(line), None) => format!("Line {line}: "),
                _ => String::new(),
            };
            // Without a line the error cannot sit in the editor: this is its place.
            let testid = if body.line.is_some() {
                "sql-error-message"
            } else {
                "sql-error"
            };
            view! {
                <p class="sql-status sql-bad" data-testid="sql-status" data-state="invalid">
                    <span data-testid=testid>
                        <strong>{position}</strong>
                        {body.message}
                    </span>
                </p>
            }
            .into_any()
        }
        Validation::Unavailable(message) => view! {
            <p class="sql-status sql-bad" data-testid="sql-status" data-state="unavailable">
                "Could not validate: "
                {message}
            </p>
        }
        .into_any(),
    }
}

/// The planned graph of the valid script, or of the last valid one (dimmed) while the
/// current one has an error.
#[component]
fn GraphPreview(
    validation: RwSignal<Validation>,
    last_graph: RwSignal<Option<JobGraphInfo>>,
) -> impl IntoView {
    move || {
        let current = matches!(validation.get(), Validation::Valid(_));
        match last_graph.get() {
            None => view! {
                <p class="empty">"The graph appears here once the script is valid."</p>
            }
            .into_any(),
            Some(graph) => {
                let vertices: Vec<GraphVertex> =
                    graph.vertices.iter().map(GraphVertex::from).collect();
                let note = (!current).then(|| {
                    view! { <p class="stale-note">"From the last valid version of the script."</p> }
                });
                view! {
                    <div class=if current { "preview" } else { "preview stale" } data-testid="graph-preview">
                        {note}
                        <JobGraph vertices edges=graph.edges testid="preview-graph" />
                    </div>
                }
                .into_any()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_options;

    #[test]
    fn options_are_checked() {
        let ok = parse_options(" 2 ", "").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.parallelism, 2);
        assert_eq!(ok.checkpoint_interval_ms, None);
        assert_eq!(
            parse_options("1", "500").map(|o| o.checkpoint_interval_ms),
            Ok(Some(500))
        );
        assert!(parse_options("0", "").is_err());
        assert!(parse_options("x", "").is_err());
        assert!(parse_options("1", "-5").is_err());
        assert!(parse_options("1", "0").is_err());
    }
}
