//! `/cluster`: the control plane — current Raft leader and term, and a table of the
//! masters (id, HTTP address, role). Refetches whenever the live version is bumped.

use eddy_api::rest::{ClusterInfo, MasterInfo, MasterRole};
use leptos::prelude::*;

use crate::api;
use crate::components::{ErrorBox, Loading};
use crate::events::use_live_updates;

/// Lower-case name of a role, as the API spells it.
pub fn role_name(role: MasterRole) -> &'static str {
    match role {
        MasterRole::Leader => "leader",
        MasterRole::Follower => "follower",
        MasterRole::Candidate => "candidate",
        MasterRole::Learner => "learner",
        MasterRole::Unknown => "unknown",
    }
}

/// A link target for a master's HTTP address, which may lack a scheme.
fn http_url(address: &str) -> String {
    if address.starts_with("http://") || address.starts_with("https://") {
        address.to_string()
    } else {
        format!("http://{address}")
    }
}

/// The masters page.
#[component]
pub fn ClusterPage() -> impl IntoView {
    let live = use_live_updates();
    let cluster = LocalResource::new(move || {
        live.version.track();
        api::cluster()
    });
    let body = move || match cluster.get() {
        None => view! { <Loading what="cluster" /> }.into_any(),
        Some(Err(message)) => view! { <ErrorBox message /> }.into_any(),
        Some(Ok(info)) => view! { <Cluster info /> }.into_any(),
    };
    view! {
        <section class="page cluster">
            <h1>"Cluster"</h1>
            {body}
        </section>
    }
}

#[component]
fn Cluster(mut info: ClusterInfo) -> impl IntoView {
    let leader = info
        .leader_id
        .map(|id| id.to_string())
        .unwrap_or_else(|| "none".to_string());
    info.masters.sort_by_key(|master| master.id);
    let leader_id = info.leader_id;
    let rows = info
        .masters
        .into_iter()
        .map(|master| {
            let is_leader = leader_id == Some(master.id);
            view! { <MasterRow master is_leader /> }
        })
        .collect_view();
    view! {
        <div class="stats">
            <div class="stat" data-testid="leader">
                <span class="stat-label">"Leader"</span>
                <span class="stat-value" data-testid="leader-id">{leader}</span>
                <span class="stat-detail">"Raft node id"</span>
            </div>
            <div class="stat" data-testid="term">
                <span class="stat-label">"Term"</span>
                <span class="stat-value" data-testid="term-value">{info.term.to_string()}</span>
                <span class="stat-detail">"current Raft term"</span>
            </div>
        </div>
        <h2>"Masters"</h2>
        <div class="table-wrap">
            <table class="masters">
                <thead>
                    <tr>
                        <th scope="col">"Id"</th>
                        <th scope="col">"HTTP address"</th>
                        <th scope="col">"Role"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn MasterRow(master: MasterInfo, is_leader: bool) -> impl IntoView {
    let role = role_name(master.role);
    let class = if is_leader {
        "master is-leader"
    } else {
        "master"
    };
    view! {
        <tr
            class=class
            data-testid="master"
            data-master-id=master.id.to_string()
            data-role=role
        >
            <td>{master.id.to_string()}</td>
            <td>
                <a href=http_url(&master.http_address) rel="external">
                    <code>{master.http_address.clone()}</code>
                </a>
            </td>
            <td>
                <span class=format!("badge badge-{role}")>{role}</span>
            </td>
        </tr>
    }
}
