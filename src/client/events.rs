//! `subscribe` for a remote fleet: one background task follows the server's event
//! stream (server-sent events, parsed by `eventsource-stream`), resuming after the last
//! id it saw when the connection drops, and fans events out to the subscribers. It ends
//! when the last one is gone. What it buffers is bounded: the fan-out channel, and the
//! bytes of one event still being received.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt, TryStreamExt};
use tokio::sync::broadcast;

use super::Inner;
use crate::api::rest::{routes, StreamQuery, LAST_EVENT_ID_HEADER};
use crate::api::Event;

/// Events kept for subscribers that lag; past this they learn how many they missed
/// (and `api::follow` reads the log for the gap).
const CAPACITY: usize = 1024;
/// The most bytes of one event held while it is being received: a server that sends
/// more without ending an event is dropped (and the stream resumed).
pub(crate) const MAX_EVENT_BYTES: usize = 1 << 20;

pub(super) fn subscribe(inner: &Arc<Inner>) -> broadcast::Receiver<Event> {
    let mut feed = inner.feed.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(tx) = feed.as_ref() {
        if tx.receiver_count() > 0 {
            return tx.subscribe();
        }
    }
    let (tx, rx) = broadcast::channel(CAPACITY);
    *feed = Some(tx.clone());
    // Start from the newest event the server reported in its last answer, so events
    // of work started right after this call are not missed.
    let after = inner.last_event.load(std::sync::atomic::Ordering::Relaxed);
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::spawn(follow(Arc::downgrade(inner), tx, after));
    }
    rx
}

async fn follow(inner: Weak<Inner>, tx: broadcast::Sender<Event>, mut after: u64) {
    let mut backoff = Duration::from_millis(250);
    // Replicas that could not be reached in a row: the next one is tried at once,
    // until each was.
    let mut unreachable = 0;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let replicas = strong.urls.len();
        let (replica, req) = strong.request(reqwest::Method::GET, &routes::EVENTS_STREAM.at(&[]));
        // Resumed after the last id seen, on whichever replica: the ids are the
        // shared store's, so none is lost or delivered twice.
        let req = req
            .query(&StreamQuery { after: Some(after) })
            .header(LAST_EVENT_ID_HEADER, after.to_string())
            .header(reqwest::header::ACCEPT, "text/event-stream");
        drop(strong);
        let resp = tokio::select! {
            r = req.send() => r,
            _ = all_gone(&tx) => return,
        };
        match resp {
            Ok(resp) if resp.status().is_success() => {
                backoff = Duration::from_millis(250);
                unreachable = 0;
                let mut events = Box::pin(parse(resp.bytes_stream()));
                loop {
                    let next = tokio::select! {
                        n = events.next() => n,
                        _ = all_gone(&tx) => return,
                    };
                    let ev = match next {
                        Some(Ok(ev)) => ev,
                        Some(Err(e)) => {
                            tracing::debug!("event stream: {e}");
                            break;
                        }
                        None => break,
                    };
                    if ev.seq != 0 {
                        if ev.seq <= after {
                            continue;
                        }
                        after = ev.seq;
                    }
                    if tx.send(ev).is_err() {
                        return;
                    }
                }
            }
            Ok(resp) => {
                tracing::warn!("the server refused the event stream: {}", resp.status());
            }
            Err(e) => {
                tracing::debug!("event stream: {e}");
                if let Some(strong) = inner.upgrade() {
                    strong.fail_over(replica);
                }
                unreachable += 1;
                if unreachable < replicas {
                    continue;
                }
                unreachable = 0;
            }
        }
        if tx.receiver_count() == 0 {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = all_gone(&tx) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Why a stream of events stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StreamError {
    #[error("an event larger than {MAX_EVENT_BYTES} bytes")]
    TooLarge,
    #[error("{0}")]
    Transport(String),
}

/// The events of a `text/event-stream` body: `data` is an Event's JSON (which carries
/// its own id). Events this flotilla cannot read are skipped; comments (keep-alives,
/// the server's notes) are not events.
pub(crate) fn parse<S, B, E>(body: S) -> impl Stream<Item = Result<Event, StreamError>>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    // Bytes received since the parser last had nothing pending: the body ended an event
    // (a blank line) or an event came out.
    let pending = Arc::new(AtomicUsize::new(0));
    let counter = pending.clone();
    let bounded = body.map(move |chunk| {
        let chunk = chunk.map_err(|e| StreamError::Transport(e.to_string()))?;
        let bytes = chunk.as_ref();
        let held = counter.fetch_add(bytes.len(), Ordering::Relaxed) + bytes.len();
        if bytes.ends_with(b"\n\n") || bytes.ends_with(b"\r\n\r\n") {
            counter.store(0, Ordering::Relaxed);
        } else if held > MAX_EVENT_BYTES {
            return Err(StreamError::TooLarge);
        }
        Ok(bytes.to_vec())
    });
    bounded
        .eventsource()
        .map_err(|e| match e {
            eventsource_stream::EventStreamError::Transport(t) => t,
            other => StreamError::Transport(other.to_string()),
        })
        .try_filter_map(move |sse| {
            pending.store(0, Ordering::Relaxed);
            let ev = match serde_json::from_str::<Event>(&sse.data) {
                Ok(ev) => Some(ev),
                Err(e) => {
                    tracing::debug!("skipping an event this flotilla cannot read: {e}");
                    None
                }
            };
            futures::future::ready(Ok(ev))
        })
}

/// Resolves once no subscriber is left (checked every second).
async fn all_gone(tx: &broadcast::Sender<Event>) {
    loop {
        if tx.receiver_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::EventKind;

    fn chunks(parts: Vec<Vec<u8>>) -> impl Stream<Item = Result<Vec<u8>, std::io::Error>> {
        futures::stream::iter(parts.into_iter().map(Ok))
    }

    #[tokio::test]
    async fn parses_events_split_across_chunks() {
        let ev = Event {
            seq: 7,
            time_ms: 1,
            kind: EventKind::MachineCreated {
                machine: "web1".into(),
            },
        };
        let text = format!(
            ": keep-alive\n\nid: 7\ndata: {}\n\n",
            serde_json::to_string(&ev).unwrap()
        );
        let (a, b) = text.as_bytes().split_at(20);
        let got: Vec<_> = parse(chunks(vec![a.to_vec(), b.to_vec()]))
            .collect::<Vec<_>>()
            .await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap(), &ev);
    }

    #[tokio::test]
    async fn an_endless_event_is_refused_not_buffered() {
        let mut parts = vec![b"data: ".to_vec()];
        for _ in 0..(MAX_EVENT_BYTES / 4096 + 2) {
            parts.push(vec![b'x'; 4096]);
        }
        let got: Vec<_> = parse(chunks(parts)).collect::<Vec<_>>().await;
        assert!(
            matches!(got.last(), Some(Err(StreamError::TooLarge))),
            "{got:?}"
        );
    }

    #[tokio::test]
    async fn keep_alives_do_not_count_toward_the_bound() {
        let parts: Vec<Vec<u8>> = (0..(MAX_EVENT_BYTES / 3 + 10))
            .map(|_| b":\n\n".to_vec())
            .collect();
        let got: Vec<_> = parse(chunks(parts)).collect::<Vec<_>>().await;
        assert!(got.is_empty(), "{:?}", got.first());
    }
}
