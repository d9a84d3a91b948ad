//! The state browser (neither Flink nor Arroyo has one): pick a vertex of a completed
//! checkpoint and page through its keyed state — operator, subtask, key group, key, the
//! namespace (a window) and the state's values — searchable by key prefix and filtered by
//! key group, through `GET /api/v1/jobs/{id}/checkpoints/{cid}/state`. Read-only.

use eddy_api::checkpoints::CheckpointVertex;
use eddy_api::keyed_state::{KeyedStateEntry, KeyedStateQuery, KeyedStateResponse};
use leptos::prelude::*;

use crate::api;
use crate::components::{ErrorBox, Loading};

/// Entries per page.
const PAGE_SIZE: u32 = 25;

/// The vertex to open first: the one with the most state that is not a source (sources
/// hold positions, not keyed state), else the first.
pub fn default_vertex(vertices: &[CheckpointVertex]) -> Option<u32> {
    vertices
        .iter()
        .filter(|v| !v.name.starts_with("Source:") && v.state_size_bytes > 0)
        .max_by_key(|v| v.state_size_bytes)
        .or_else(|| vertices.first())
        .map(|v| v.id)
}

/// The browser for checkpoint `cid` of job `job_id`.
#[component]
pub fn StateBrowser(job_id: String, cid: u64, vertices: Vec<CheckpointVertex>) -> impl IntoView {
    let vertex = RwSignal::new(default_vertex(&vertices));
    let prefix = RwSignal::new(String::new());
    let key_group = RwSignal::new(String::new());
    let offset = RwSignal::new(0u64);
    let page = LocalResource::new(move || {
        let job_id = job_id.clone();
        let query = vertex.get().map(|vertex| KeyedStateQuery {
            vertex,
            key_group: key_group.with(|g| g.trim().parse::<u32>().ok()),
            prefix: Some(prefix.get()).filter(|p| !p.is_empty()),
            limit: Some(PAGE_SIZE),
            offset: Some(offset.get()),
        });
        async move {
            match query {
                Some(query) => Some(api::keyed_state(job_id, cid, query).await),
                None => None,
            }
        }
    });
    let options = vertices
        .iter()
        .map(|v| {
            let id = v.id;
            view! {
                <option value=id.to_string() selected=move || vertex.get() == Some(id)>
                    {format!("{} (vertex {id})", v.name)}
                </option>
            }
        })
        .collect_view();
    let results = move || match page.get() {
        None => view! { <Loading what="state" /> }.into_any(),
        Some(None) => view! { <p class="empty">"This checkpoint has no vertices."</p> }.into_any(),
        Some(Some(Err(message))) => view! { <ErrorBox message /> }.into_any(),
        Some(Some(Ok(response))) => view! { <StatePage response offset /> }.into_any(),
    };
    view! {
        <div class="state-browser" data-testid="state-browser">
            <div class="state-filters">
                <label>
                    <span>"Vertex"</span>
                    <select
                        data-testid="state-vertex"
                        on:change=move |ev| {
                            vertex.set(event_target_value(&ev).parse().ok());
                            offset.set(0);
                        }
                    >
                        {options}
                    </select>
                </label>
                <label>
                    <span>"Key prefix"</span>
                    <input
                        type="search"
                        data-testid="state-prefix"
                        placeholder="any key"
                        prop:value=move || prefix.get()
                        on:input=move |ev| {
                            prefix.set(event_target_value(&ev));
                            offset.set(0);
                        }
                    />
                </label>
                <label>
                    <span>"Key group"</span>
                    <input
                        type="number"
                        min="0"
                        data-testid="state-key-group"
                        placeholder="all"
                        prop:value=move || key_group.get()
                        on:input=move |ev| {
                            key_group.set(event_target_value(&ev));
                            offset.set(0);
                        }
                    />
                </label>
            </div>
            {results}
        </div>
    }
}

/// One page: the count, the entries and paging.
#[component]
fn StatePage(response: KeyedStateResponse, offset: RwSignal<u64>) -> impl IntoView {
    let first = offset.get_untracked();
    let shown = response.entries.len() as u64;
    let summary = if response.total == 0 {
        "No keyed state matches.".to_string()
    } else {
        format!(
            "Entries {}–{} of {} · operators: {}",
            first + 1,
            first + shown,
            response.total,
            if response.operators.is_empty() {
                "none".to_string()
            } else {
                response.operators.join(", ")
            }
        )
    };
    let previous = (first > 0).then(|| {
        view! {
            <button
                type="button"
                data-testid="state-previous"
                on:click=move |_| offset.update(|o| *o = o.saturating_sub(u64::from(PAGE_SIZE)))
            >
                "← Previous"
            </button>
        }
    });
    let next = response.next_offset.map(|next| {
        view! {
            <button type="button" data-testid="state-next" on:click=move |_| offset.set(next)>
                "Next →"
            </button>
        }
    });
    let rows = response
        .entries
        .into_iter()
        .map(|entry| view! { <StateRow entry /> })
        .collect_view();
    view! {
        <p class="state-summary" data-testid="state-summary" data-total=response.total.to_string()>
            {summary}
        </p>
        <div class="table-wrap">
            <table class="data state-table">
                <thead>
                    <tr>
                        <th scope="col">"Key"</th>
                        <th scope="col">"Namespace"</th>
                        <th scope="col">"Values"</th>
                        <th scope="col">"Operator"</th>
                        <th scope="col" class="num">"Subtask"</th>
                        <th scope="col" class="num">"Key group"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <div class="pager">{previous} {next}</div>
    }
}

#[component]
fn StateRow(entry: KeyedStateEntry) -> impl IntoView {
    let values = entry
        .values
        .iter()
        .map(|(name, value)| {
            view! {
                <span class="state-value">
                    <span class="state-value-name">{name.clone()}</span>
                    " = "
                    <code>{value.clone()}</code>
                </span>
            }
        })
        .collect_view();
    view! {
        <tr data-testid="state-entry" data-key=entry.key.clone() data-key-group=entry.key_group.to_string()>
            <td>
                <code>{entry.key.clone()}</code>
            </td>
            <td>{entry.namespace.clone().unwrap_or_else(|| "–".to_string())}</td>
            <td class="state-values">{values}</td>
            <td>{entry.operator.clone()}</td>
            <td class="num">{(entry.subtask + 1).to_string()}</td>
            <td class="num">{entry.key_group.to_string()}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::default_vertex;
    use eddy_api::checkpoints::CheckpointVertex;

    fn vertex(id: u32, name: &str, size: u64) -> CheckpointVertex {
        CheckpointVertex {
            id,
            name: name.into(),
            parallelism: 1,
            acknowledged: 1,
            state_size_bytes: size,
            duration_ms: 0,
            alignment_ms: 0,
            subtasks: vec![],
        }
    }

    #[test]
    fn the_window_is_opened_before_the_source() {
        let vertices = [
            vertex(0, "Source: src -> Calc", 900),
            vertex(1, "TumbleWindow -> Sink: snk", 400),
            vertex(2, "Sink: other", 0),
        ];
        assert_eq!(default_vertex(&vertices), Some(1));
        assert_eq!(default_vertex(&vertices[..1]), Some(0));
        assert_eq!(default_vertex(&[]), None);
    }
}
