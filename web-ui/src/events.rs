//! The live-update subscription: one `EventSource` on the master's SSE stream that bumps
//! a reactive `version` on every event (and on every (re)connect, since events may have
//! been missed meanwhile). Pages read `version` inside their resources, so data refetches
//! exactly when the cluster changes — there is no polling.

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
pub const EVENT_NAMES: [&str; 5] = [
    "worker_registered",
    "worker_lost",
    "slots_changed",
    "leader_changed",
    "message",
];

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
    /// Incremented on every event and every (re)connect.
    pub version: ReadSignal<u64>,
    pub connection: ReadSignal<Connection>,
    /// One-line summary of the latest event.
    pub last_event: ReadSignal<Option<String>>,
}

/// The [`LiveUpdates`] provided by the app; a static, never-bumped one if missing
/// (a page rendered outside the app still works, it just does not live-update).
pub fn use_live_updates() -> LiveUpdates {
    use_context::<LiveUpdates>().unwrap_or_else(|| LiveUpdates {
        version: signal(0).0,
        connection: signal(Connection::Failed("no event subscription".into())).0,
        last_event: signal(None).0,
    })
}

impl LiveUpdates {
    /// Opens the subscription on `url`. It lives as long as the current reactive owner
    /// and is closed when that owner is disposed.
    pub fn subscribe(url: &str) -> Self {
        let (version, set_version) = signal(0u64);
        let (connection, set_connection) = signal(Connection::Connecting);
        let (last_event, set_last_event) = signal(None);
        let shared = Rc::new(Shared {
            url: url.to_string(),
            set_version,
            set_connection,
            set_last_event,
            source: RefCell::new(None),
            reconnect_pending: Cell::new(false),
        });
        connect(&shared);
        // The owner keeps the only strong reference; dropping it closes the stream.
        StoredValue::new_local(shared);
        LiveUpdates {
            version,
            connection,
            last_event,
        }
    }
}

/// Everything the callbacks need; they hold it weakly.
struct Shared {
    url: String,
    set_version: WriteSignal<u64>,
    set_connection: WriteSignal<Connection>,
    set_last_event: WriteSignal<Option<String>>,
    source: RefCell<Option<Source>>,
    reconnect_pending: Cell<bool>,
}

impl Shared {
    fn bump(&self) {
        self.set_version.update(|v| *v = v.wrapping_add(1));
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
        let summary = match message.data().as_string() {
            Some(data) => match serde_json::from_str::<Event>(&data) {
                Ok(event) => describe_event(&event),
                Err(_) => format!("{}: {data}", message.type_()),
            },
            None => message.type_(),
        };
        shared.set_last_event.set(Some(summary));
        shared.set_connection.set(Connection::Live);
        shared.bump();
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
        shared.bump();
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
