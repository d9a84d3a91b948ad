//! The root component: provides the live-update context, draws the top bar and maps
//! URL paths to pages: `/` overview, `/jobs` list, `/jobs/new` SQL editor, `/jobs/{id}`
//! job, `/jobs/{id}/checkpoints[/{cid}]` checkpoints, `/slots` slot grid, `/cluster`
//! masters; anything else is not found.

use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;

use crate::events::{Connection, LiveUpdates, use_live_updates};
use crate::pages::{
    CheckpointDetailPage, CheckpointsPage, ClusterPage, JobPage, JobsPage, NewJobPage,
    NotFoundPage, OverviewPage, SlotsPage,
};

/// Where the master publishes its Server-Sent Events.
const EVENTS_URL: &str = "/api/v1/events";

/// The whole dashboard.
#[component]
pub fn App() -> impl IntoView {
    provide_context(LiveUpdates::subscribe(EVENTS_URL));
    view! {
        <Router>
            <TopBar />
            <main class="content">
                <Routes fallback=|| view! { <NotFoundPage /> }>
                    <Route path=path!("/") view=OverviewPage />
                    <Route path=path!("/jobs") view=JobsPage />
                    <Route path=path!("/jobs/new") view=NewJobPage />
                    <Route path=path!("/jobs/:id") view=JobPage />
                    <Route path=path!("/jobs/:id/checkpoints") view=CheckpointsPage />
                    <Route path=path!("/jobs/:id/checkpoints/:cid") view=CheckpointDetailPage />
                    <Route path=path!("/slots") view=SlotsPage />
                    <Route path=path!("/cluster") view=ClusterPage />
                </Routes>
            </main>
        </Router>
    }
}

/// Brand, navigation links and the live-connection indicator.
#[component]
fn TopBar() -> impl IntoView {
    let live = use_live_updates();
    let status_class = move || format!("live live-{}", live.connection.get().css_name());
    let status_text = move || live.connection.get().label();
    let status_title = move || match (live.connection.get(), live.last_event.get()) {
        (Connection::Failed(reason), _) => reason,
        (_, Some(event)) => format!("Last event: {event}"),
        (_, None) => "No event received yet".to_string(),
    };
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                "Eddy"
            </a>
            <nav class="nav">
                <A href="/" exact=true>
                    "Overview"
                </A>
                <A href="/jobs">"Jobs"</A>
                <A href="/slots">"Slots"</A>
                <A href="/cluster">"Cluster"</A>
            </nav>
            <span class=status_class data-testid="live-status" title=status_title>
                <span class="live-dot" aria-hidden="true"></span>
                {status_text}
            </span>
        </header>
    }
}
