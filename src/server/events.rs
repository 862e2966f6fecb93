//! The event stream: server-sent events, resumable. A client names the last event id it
//! saw (`Last-Event-ID` or `?after=`); `api::follow` replays what the log recorded after
//! it, then streams live events, gap-free and without duplicates.
//!
//! A stream lasts only as long as its token: it ends at once when the server revokes
//! the token, and within [`RECHECK`] when it expires or is revoked elsewhere (the
//! server's own machine). At most [`super::MAX_EVENT_STREAMS`] are open at once.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::auth::{bearer, Params, Viewer};
use super::error::ApiError;
use super::{AppState, MAX_EVENT_STREAMS};
use crate::api::rest::{routes, StreamQuery, LAST_EVENT_ID_HEADER};
use crate::api::{follow, Error, ErrorKind, Event, FollowFrom};

/// How often an open stream checks its token without being told of a revocation.
pub const RECHECK: Duration = Duration::from_secs(5);

/// Events as they happen (server-sent events; resumable with Last-Event-ID).
#[utoipa::path(get, path = routes::EVENTS_STREAM.0, tag = "events", security(("bearer" = ["viewer"])),
    params(StreamQuery, ("Last-Event-ID" = Option<u64>, Header, description = "resume after this event id")),
    responses((status = 200, description = "server-sent events"),
        (status = 503, description = "too many event streams are open", body = Error)))]
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
    let permit = st.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::from(Error::unavailable(format!(
            "too many event streams are open ({MAX_EVENT_STREAMS}): close one, or read GET {} instead",
            routes::EVENTS.0
        )))
    })?;
    // The Viewer extractor has just accepted this very secret.
    let secret = bearer(&headers).unwrap_or_default().to_string();
    let refused = until_refused(st.clone(), secret);
    let events = follow(st.fleet.clone().as_fleet(), from).map(move |item| {
        // The permit goes with the stream.
        let _held = &permit;
        Ok::<_, Infallible>(match item {
            Ok(ev) => to_sse(&ev),
            // The follower keeps trying and resumes where it stood; the client hears why
            // nothing comes meanwhile.
            Err(e) => SseEvent::default().comment(format!("cannot read events now: {e}")),
        })
    });
    let events = events.take_until(refused);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// Ends when the token is no longer good: at once when this server revokes a token,
/// else at the next periodic check. A store that cannot answer ends nothing (the
/// follower reports the outage).
async fn until_refused(st: Arc<AppState>, secret: String) {
    loop {
        // Armed before the check, so a revocation during it is not missed.
        let told = st.revoked.notified();
        tokio::pin!(told);
        told.as_mut().enable();
        if let Err(e) = st.fleet.authenticate(&secret).await {
            if e.is(ErrorKind::Unauthorized) {
                return;
            }
        }
        tokio::select! {
            _ = told => {}
            _ = tokio::time::sleep(RECHECK) => {}
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
