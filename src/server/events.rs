//! The event stream: server-sent events, resumable. A client names the last event id it
//! saw (`Last-Event-ID` or `?after=`); the server replays what the store recorded after
//! it, then streams live events, replaying from the store again should it fall behind.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::auth::{Params, Viewer};
use super::error::ApiError;
use super::AppState;
use crate::api::{Event, EventQuery, Fleet};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Replay the recorded events after this id first.
    pub after: Option<u64>,
}

pub async fn stream(
    State(st): State<Arc<AppState>>,
    _: Viewer,
    headers: HeaderMap,
    Params(q): Params<StreamQuery>,
) -> Result<Response, ApiError> {
    let after = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be an event id"))?,
        ),
        None => q.after,
    };
    // Subscribe before replaying, so nothing falls between the two.
    let live = st.fleet.subscribe();
    let (tx, rx) = mpsc::channel::<SseEvent>(256);
    tokio::spawn(pump(st.fleet.clone(), live, after, tx));
    let events = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

async fn pump(
    fleet: Arc<dyn Fleet>,
    mut live: tokio::sync::broadcast::Receiver<Event>,
    after: Option<u64>,
    tx: mpsc::Sender<SseEvent>,
) {
    let mut last = after;
    if let Some(a) = after {
        if replay(&fleet, a, &tx, &mut last).await.is_err() {
            return;
        }
    }
    loop {
        let next = tokio::select! {
            _ = tx.closed() => return,
            next = live.recv() => next,
        };
        match next {
            Ok(ev) => {
                if ev.seq != 0 && last.is_some_and(|l| ev.seq <= l) {
                    continue;
                }
                if ev.seq != 0 {
                    last = Some(ev.seq);
                }
                if tx.send(to_sse(&ev)).await.is_err() {
                    return;
                }
            }
            Err(RecvError::Lagged(n)) => {
                let from = last.unwrap_or(0);
                tracing::debug!("event stream fell {n} behind; replaying after {from}");
                if replay(&fleet, from, &tx, &mut last).await.is_err() {
                    return;
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Sends the recorded events after `from`; Err when the client is gone.
async fn replay(
    fleet: &Arc<dyn Fleet>,
    from: u64,
    tx: &mpsc::Sender<SseEvent>,
    last: &mut Option<u64>,
) -> Result<(), ()> {
    let mut after = from;
    loop {
        let page = match fleet
            .events(EventQuery {
                after: Some(after),
                since_ms: None,
                limit: 0,
            })
            .await
        {
            Ok(p) => p,
            Err(e) => {
                let note = SseEvent::default().comment(format!("cannot replay events: {e}"));
                return tx.send(note).await.map_err(|_| ());
            }
        };
        if page.events.is_empty() {
            return Ok(());
        }
        for ev in &page.events {
            after = after.max(ev.seq);
            *last = Some(after);
            tx.send(to_sse(ev)).await.map_err(|_| ())?;
        }
    }
}

fn to_sse(ev: &Event) -> SseEvent {
    let json = serde_json::to_string(ev).unwrap_or_else(|_| "{}".into());
    let mut out = SseEvent::default().data(json);
    if ev.seq != 0 {
        out = out.id(ev.seq.to_string());
    }
    out
}
