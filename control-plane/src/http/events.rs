//! `GET /api/v1/events`: Server-Sent Events of cluster changes, fed by a bounded
//! broadcast channel. A subscriber that falls behind by more than the channel's
//! capacity is told so with a `lagged` event and continues from the newest.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::AppState;

/// Events buffered per subscriber before it lags.
pub const EVENT_BUFFER: usize = 1024;
/// Keep-alive comment period, so proxies keep idle streams open.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Stream of cluster events (`worker_registered`, `worker_lost`, `slots_changed`,
/// `leader_changed`); each data field is the event as JSON.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    responses((status = 200, description = "text/event-stream of Event", body = eddy_api::rest::Event))
)]
pub async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let stream = BroadcastStream::new(state.events.subscribe()).map(|item| {
        Ok(match item {
            Ok(event) => match serde_json::to_string(&event) {
                Ok(json) => SseEvent::default().event(event.name()).data(json),
                Err(e) => SseEvent::default().event("error").data(e.to_string()),
            },
            Err(BroadcastStreamRecvError::Lagged(n)) => {
                SseEvent::default().event("lagged").data(n.to_string())
            }
        })
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
