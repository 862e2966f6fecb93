//! `subscribe` for a remote fleet: one background task follows the server's event
//! stream (server-sent events), resuming after the last id it saw when the connection
//! drops, and fans events out to the subscribers. It ends when the last one is gone.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::broadcast;

use super::Inner;
use crate::api::Event;

const CAPACITY: usize = 1024;

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
    let after = inner.last_event.load(Ordering::Relaxed);
    if tokio::runtime::Handle::try_current().is_ok() {
        tokio::spawn(follow(Arc::downgrade(inner), tx, after));
    }
    rx
}

async fn follow(inner: Weak<Inner>, tx: broadcast::Sender<Event>, mut after: u64) {
    let mut backoff = Duration::from_millis(250);
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let req = strong
            .request(
                reqwest::Method::GET,
                &format!("/v1/events/stream?after={after}"),
            )
            .header(reqwest::header::ACCEPT, "text/event-stream");
        drop(strong);
        let resp = tokio::select! {
            r = req.send() => r,
            _ = all_gone(&tx) => return,
        };
        match resp {
            Ok(resp) if resp.status().is_success() => {
                backoff = Duration::from_millis(250);
                let mut body = resp.bytes_stream();
                let mut parser = SseParser::default();
                loop {
                    let chunk = tokio::select! {
                        c = body.next() => c,
                        _ = all_gone(&tx) => return,
                    };
                    let Some(Ok(chunk)) = chunk else { break };
                    for ev in parser.feed(&chunk) {
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
            }
            Ok(resp) => {
                tracing::warn!("the server refused the event stream: {}", resp.status());
            }
            Err(e) => tracing::debug!("event stream: {e}"),
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

/// Resolves once no subscriber is left (checked every second).
async fn all_gone(tx: &broadcast::Sender<Event>) {
    loop {
        if tx.receiver_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Incremental parser of a `text/event-stream`: only `data:` lines matter (each event's
/// JSON carries its own id).
#[derive(Default)]
pub(crate) struct SseParser {
    buf: Vec<u8>,
    data: String,
}

impl SseParser {
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Event> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    match serde_json::from_str::<Event>(&self.data) {
                        Ok(ev) => out.push(ev),
                        Err(e) => {
                            tracing::debug!("skipping an event this flotilla cannot read: {e}")
                        }
                    }
                    self.data.clear();
                }
            } else if let Some(d) = line.strip_prefix("data:") {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::EventKind;

    #[test]
    fn parses_events_split_across_chunks() {
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
        let mut p = SseParser::default();
        let (a, b) = text.as_bytes().split_at(20);
        assert!(p.feed(a).is_empty());
        assert_eq!(p.feed(b), vec![ev]);
    }
}
