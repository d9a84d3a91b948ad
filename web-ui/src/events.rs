//! The live-update subscription: one `EventSource` on the master's SSE stream that bumps
//! reactive versions per kind of event (and all of them on every (re)connect, since
//! events may have been missed meanwhile). Pages read a version inside their resources,
//! so data refetches exactly when what they show changes — there is no polling:
//! `version` on cluster and job-status events, `jobs` on job status and metrics,
//! `checkpoints` on checkpoint and job-status events.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use eddy_api::rest::Event;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

use crate::format::describe_event;

/// SSE event names the master sends (the `type` of [`Event`]), plus the default
/// `message` in case an event comes without a name.
pub const EVENT_NAMES: [&str; 9] = [
    "worker_registered",
    "worker_lost",
    "slots_changed",
    "leader_changed",
    "job_status_changed",
    "job_metrics",
    "checkpoint",
    // The master's stream fell behind and dropped events: refetch everything.
    "lagged",
    "message",
];

/// Whether an event (by its SSE name) is a status change the overview lists: a job's
/// status, a worker joining or lost, a new leader — not metrics, checkpoints or slot
/// reports, which come by the second.
pub fn is_status_change(event_name: &str) -> bool {
    matches!(
        event_name,
        "job_status_changed" | "worker_registered" | "worker_lost" | "leader_changed"
    )
}

/// Which versions an event bumps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bumps {
    pub version: bool,
    pub jobs: bool,
    pub checkpoints: bool,
}

/// What an event (by its SSE name) invalidates: metrics only the job pages, checkpoints
/// only the checkpoint pages, a job's status (or dropped events) everything; anything
/// else (workers, slots, leadership, unknown) the cluster views.
pub fn bumps_for(event_name: &str) -> Bumps {
    match event_name {
        "job_metrics" => Bumps {
            version: false,
            jobs: true,
            checkpoints: false,
        },
        "checkpoint" => Bumps {
            version: false,
            jobs: false,
            checkpoints: true,
        },
        "job_status_changed" | "lagged" => Bumps {
            version: true,
            jobs: true,
            checkpoints: true,
        },
        _ => Bumps {
            version: true,
            jobs: false,
            checkpoints: false,
        },
    }
}

/// Most events kept for the overview's "recent changes" (newest first).
pub const RECENT_EVENTS: usize = 15;

/// One remembered event: when it arrived (browser clock, epoch ms), its SSE name and a
/// one-line summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentEvent {
    pub at_ms: u64,
    pub name: String,
    pub summary: String,
}

/// Delay before opening a new `EventSource` after the browser gave up on the old one.
const RECONNECT_DELAY_MS: u32 = 3_000;

/// State of the SSE connection, shown in the top bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    /// The stream dropped; the browser (or we) will reconnect.
    Reconnecting,
    /// `EventSource` could not even be created.
    Failed(String),
}

impl Connection {
    /// Text for the indicator.
    pub fn label(&self) -> &'static str {
        match self {
            Connection::Connecting => "connecting…",
            Connection::Live => "live",
            Connection::Reconnecting => "reconnecting…",
            Connection::Failed(_) => "no live updates",
        }
    }

    /// Suffix of the indicator's CSS class.
    pub fn css_name(&self) -> &'static str {
        match self {
            Connection::Connecting => "connecting",
            Connection::Live => "up",
            Connection::Reconnecting => "reconnecting",
            Connection::Failed(_) => "down",
        }
    }
}

/// Reactive view of the event stream, provided as context by the app.
#[derive(Debug, Clone, Copy)]
pub struct LiveUpdates {
    /// Incremented on cluster events (workers, slots, leadership), job status changes
    /// and every (re)connect.
    pub version: ReadSignal<u64>,
    /// Incremented on job status changes, job metrics and every (re)connect.
    pub jobs: ReadSignal<u64>,
    /// Incremented on checkpoint events, job status changes and every (re)connect.
    pub checkpoints: ReadSignal<u64>,
    pub connection: ReadSignal<Connection>,
    /// One-line summary of the latest event.
    pub last_event: ReadSignal<Option<String>>,
    /// The latest status changes (jobs, workers, leadership) since the page opened,
    /// newest first (at most [`RECENT_EVENTS`]).
    pub recent: ReadSignal<Vec<RecentEvent>>,
}

/// The [`LiveUpdates`] provided by the app; a static, never-bumped one if missing
/// (a page rendered outside the app still works, it just does not live-update).
pub fn use_live_updates() -> LiveUpdates {
    use_context::<LiveUpdates>().unwrap_or_else(|| LiveUpdates {
        version: signal(0).0,
        jobs: signal(0).0,
        checkpoints: signal(0).0,
        connection: signal(Connection::Failed("no event subscription".into())).0,
        last_event: signal(None).0,
        recent: signal(Vec::new()).0,
    })
}

impl LiveUpdates {
    /// Opens the subscription on `url`. It lives as long as the current reactive owner
    /// and is closed when that owner is disposed.
    pub fn subscribe(url: &str) -> Self {
        let (version, set_version) = signal(0u64);
        let (jobs, set_jobs) = signal(0u64);
        let (checkpoints, set_checkpoints) = signal(0u64);
        let (connection, set_connection) = signal(Connection::Connecting);
        let (last_event, set_last_event) = signal(None);
        let (recent, set_recent) = signal(Vec::new());
        let shared = Rc::new(Shared {
            url: url.to_string(),
            set_version,
            set_jobs,
            set_checkpoints,
            set_connection,
            set_last_event,
            set_recent,
            source: RefCell::new(None),
            reconnect_pending: Cell::new(false),
        });
        connect(&shared);
        // The owner keeps the only strong reference; dropping it closes the stream.
        StoredValue::new_local(shared);
        LiveUpdates {
            version,
            jobs,
            checkpoints,
            connection,
            last_event,
            recent,
        }
    }
}

/// Everything the callbacks need; they hold it weakly.
struct Shared {
    url: String,
    set_version: WriteSignal<u64>,
    set_jobs: WriteSignal<u64>,
    set_checkpoints: WriteSignal<u64>,
    set_connection: WriteSignal<Connection>,
    set_last_event: WriteSignal<Option<String>>,
    set_recent: WriteSignal<Vec<RecentEvent>>,
    source: RefCell<Option<Source>>,
    reconnect_pending: Cell<bool>,
}

impl Shared {
    fn bump(&self, bumps: Bumps) {
        let next = |v: &mut u64| *v = v.wrapping_add(1);
        if bumps.version {
            self.set_version.update(next);
        }
        if bumps.jobs {
            self.set_jobs.update(next);
        }
        if bumps.checkpoints {
            self.set_checkpoints.update(next);
        }
    }

    fn bump_all(&self) {
        self.bump(Bumps {
            version: true,
            jobs: true,
            checkpoints: true,
        });
    }
}

/// One `EventSource` and the JS callbacks registered on it.
struct Source {
    source: EventSource,
    _on_event: Closure<dyn FnMut(MessageEvent)>,
    _on_open: Closure<dyn FnMut()>,
    _on_error: Closure<dyn FnMut()>,
}

impl Drop for Source {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// Opens a fresh `EventSource`, replacing (and closing) any previous one.
fn connect(shared: &Rc<Shared>) {
    shared.reconnect_pending.set(false);
    // Close the old one first; never called from one of its own callbacks.
    drop(shared.source.borrow_mut().take());
    match open(shared) {
        Ok(source) => {
            *shared.source.borrow_mut() = Some(source);
        }
        Err(reason) => shared.set_connection.set(Connection::Failed(reason)),
    }
}

fn open(shared: &Rc<Shared>) -> Result<Source, String> {
    let source =
        EventSource::new(&shared.url).map_err(|e| format!("cannot open {}: {e:?}", shared.url))?;

    let weak = Rc::downgrade(shared);
    let on_event = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
        let Some(shared) = weak.upgrade() else { return };
        let (name, summary) = match message.data().as_string() {
            Some(data) => match serde_json::from_str::<Event>(&data) {
                Ok(event) => (event.name().to_string(), describe_event(&event)),
                Err(_) => (message.type_(), format!("{}: {data}", message.type_())),
            },
            None => (message.type_(), message.type_()),
        };
        if is_status_change(&name) {
            let at_ms = js_sys::Date::now().max(0.0) as u64;
            let event = RecentEvent {
                at_ms,
                name: name.clone(),
                summary: summary.clone(),
            };
            shared.set_recent.update(|recent| {
                recent.insert(0, event);
                recent.truncate(RECENT_EVENTS);
            });
        }
        shared.set_last_event.set(Some(summary));
        shared.set_connection.set(Connection::Live);
        shared.bump(bumps_for(&name));
    });
    for name in EVENT_NAMES {
        source
            .add_event_listener_with_callback(name, on_event.as_ref().unchecked_ref())
            .map_err(|e| format!("cannot listen for {name}: {e:?}"))?;
    }

    let weak = Rc::downgrade(shared);
    let on_open = Closure::<dyn FnMut()>::new(move || {
        let Some(shared) = weak.upgrade() else { return };
        shared.set_connection.set(Connection::Live);
        // Whatever happened while we were not listening is only in a fresh fetch.
        shared.bump_all();
    });
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));

    let weak = Rc::downgrade(shared);
    let on_error = Closure::<dyn FnMut()>::new(move || {
        let Some(shared) = weak.upgrade() else { return };
        shared.set_connection.set(Connection::Reconnecting);
        let closed = shared
            .source
            .try_borrow()
            .ok()
            .and_then(|s| {
                s.as_ref()
                    .map(|s| s.source.ready_state() == EventSource::CLOSED)
            })
            .unwrap_or(false);
        // CONNECTING: the browser retries by itself. CLOSED: it gave up (e.g. an HTTP
        // error), so open a new one later — from a task, not from this callback.
        if closed && !shared.reconnect_pending.replace(true) {
            let weak = Rc::downgrade(&shared);
            wasm_bindgen_futures::spawn_local(async move {
                gloo_timers::future::TimeoutFuture::new(RECONNECT_DELAY_MS).await;
                if let Some(shared) = weak.upgrade() {
                    connect(&shared);
                }
            });
        }
    });
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));

    Ok(Source {
        source,
        _on_event: on_event,
        _on_open: on_open,
        _on_error: on_error,
    })
}

#[cfg(test)]
mod tests {
    use super::{EVENT_NAMES, bumps_for};

    #[test]
    fn metrics_and_checkpoints_do_not_refetch_cluster_views() {
        assert!(!bumps_for("job_metrics").version);
        assert!(bumps_for("job_metrics").jobs);
        assert!(!bumps_for("checkpoint").version);
        assert!(bumps_for("checkpoint").checkpoints);
        let status = bumps_for("job_status_changed");
        assert!(status.version && status.jobs && status.checkpoints);
        assert!(bumps_for("slots_changed").version);
        let lagged = bumps_for("lagged");
        assert!(lagged.version && lagged.jobs && lagged.checkpoints);
    }

    #[test]
    fn recent_changes_are_status_changes() {
        assert!(super::is_status_change("job_status_changed"));
        assert!(super::is_status_change("worker_lost"));
        assert!(!super::is_status_change("checkpoint"));
        assert!(!super::is_status_change("job_metrics"));
        assert!(!super::is_status_change("slots_changed"));
    }

    #[test]
    fn every_event_of_the_api_is_listened_for() {
        for name in [
            "job_status_changed",
            "job_metrics",
            "checkpoint",
            "slots_changed",
        ] {
            assert!(EVENT_NAMES.contains(&name), "{name}");
        }
    }
}
