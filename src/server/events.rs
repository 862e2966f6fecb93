//! The event stream: server-sent events, resumable. A client names the last event id it
//! saw (`Last-Event-ID` or `?after=`); `api::follow` replays what the log recorded after
//! it, then streams live events, gap-free and without duplicates.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::auth::{Params, Viewer};
use super::error::ApiError;
use super::AppState;
use crate::api::rest::{routes, StreamQuery, LAST_EVENT_ID_HEADER};
use crate::api::{follow, Event, FollowFrom};

/// Events as they happen (server-sent events; resumable with Last-Event-ID).
#[utoipa::path(get, path = routes::EVENTS_STREAM.0, tag = "events", security(("bearer" = ["viewer"])),
    params(StreamQuery, ("Last-Event-ID" = Option<u64>, Header, description = "resume after this event id")),
    responses((status = 200, description = "server-sent events")))]
pub async fn stream(
    State(st): State<Arc<AppState>>,
    _: Viewer,
    headers: HeaderMap,
    Params(q): Params<StreamQuery>,
) -> Result<Response, ApiError> {
    let after = match headers.get(LAST_EVENT_ID_HEADER) {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be an event id"))?,
        ),
        None => q.after,
    };
    let from = after.map_or_else(FollowFrom::now, FollowFrom::after);
    let events = follow(st.fleet.clone().as_fleet(), from).map(|item| {
        Ok::<_, Infallible>(match item {
            Ok(ev) => to_sse(&ev),
            // The follower keeps trying and resumes where it stood; the client hears why
            // nothing comes meanwhile.
            Err(e) => SseEvent::default().comment(format!("cannot read events now: {e}")),
        })
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn to_sse(ev: &Event) -> SseEvent {
    let json = serde_json::to_string(ev).unwrap_or_else(|_| "{}".into());
    let mut out = SseEvent::default().data(json);
    if ev.seq != 0 {
        out = out.id(ev.seq.to_string());
    }
    out
}
