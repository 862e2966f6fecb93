//! What keeps one client from filling the audit log or holding the server: requests
//! refused for want of a valid token are counted per client address in windows of a
//! minute (the first one of a window is audited in full, the rest as one counted
//! summary when the window ends), and a client past [`MAX_FAILURES`] in a window is
//! answered 429 with `Retry-After` until the window ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The length of one counting window.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Refused requests a client may make per window before it is answered 429.
pub const MAX_FAILURES: u32 = 100;
/// Clients tracked at once; past it, finished windows are dropped first (their counts
/// are reported by the next `drain_finished`, which runs every window).
const MAX_CLIENTS: usize = 10_000;
/// Longest text kept of a path parameter in an audit row.
pub const MAX_TARGET_CHARS: usize = 128;
/// Longest text kept of an error line in an audit row.
pub const MAX_OUTCOME_CHARS: usize = 512;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

/// What a refused request means for its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Noted {
    /// The first refusal of this window: audit it in full.
    pub first: bool,
    /// Past the limit: answer 429, retry after this long.
    pub retry_after: Option<Duration>,
}

/// A client's refusals in a finished window, for its summary row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub client: Option<IpAddr>,
    /// Refusals beyond the first (which was audited on its own).
    pub more: u32,
}

#[derive(Default)]
pub struct Failures {
    windows: Mutex<HashMap<Option<IpAddr>, Window>>,
}

impl Failures {
    /// Whether `client` is past the limit now (and for how long), without counting.
    pub fn blocked(&self, client: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let w = map.get(&client)?;
        let end = w.start + WINDOW;
        (w.count >= MAX_FAILURES && now < end).then(|| end - now)
    }

    /// Counts one refused request of `client`. A window that ended is reported in
    /// `summaries` before a new one starts.
    pub fn note(
        &self,
        client: Option<IpAddr>,
        now: Instant,
        summaries: &mut Vec<Summary>,
    ) -> Noted {
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_CLIENTS && !map.contains_key(&client) {
            take_finished(&mut map, now, summaries);
        }
        let w = map.entry(client).or_insert(Window {
            start: now,
            count: 0,
        });
        if now >= w.start + WINDOW {
            if w.count > 1 {
                summaries.push(Summary {
                    client,
                    more: w.count - 1,
                });
            }
            *w = Window {
                start: now,
                count: 0,
            };
        }
        w.count = w.count.saturating_add(1);
        let end = w.start + WINDOW;
        Noted {
            first: w.count == 1,
            retry_after: (w.count > MAX_FAILURES).then(|| end.saturating_duration_since(now)),
        }
    }

    /// Takes the windows that ended, with the summaries of those that counted more
    /// than their first refusal.
    pub fn drain_finished(&self, now: Instant) -> Vec<Summary> {
        let mut out = Vec::new();
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        take_finished(&mut map, now, &mut out);
        out
    }
}

fn take_finished(map: &mut HashMap<Option<IpAddr>, Window>, now: Instant, out: &mut Vec<Summary>) {
    map.retain(|client, w| {
        let done = now >= w.start + WINDOW;
        if done && w.count > 1 {
            out.push(Summary {
                client: *client,
                more: w.count - 1,
            });
        }
        !done
    });
}

/// `text` cut to `max` characters (marked with `…`), for what a client chose.
pub fn cap(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_counted_limited_and_summarised_per_client() {
        let f = Failures::default();
        let a: Option<IpAddr> = Some("10.0.0.1".parse().unwrap());
        let b: Option<IpAddr> = Some("10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        let mut sums = Vec::new();
        let first = f.note(a, t0, &mut sums);
        assert!(first.first && first.retry_after.is_none());
        for _ in 1..MAX_FAILURES {
            let n = f.note(a, t0, &mut sums);
            assert!(!n.first && n.retry_after.is_none());
        }
        assert!(f.blocked(a, t0).is_some());
        let over = f.note(a, t0 + Duration::from_secs(10), &mut sums);
        assert_eq!(over.retry_after, Some(Duration::from_secs(50)));
        // Another client is not affected.
        assert!(f.blocked(b, t0).is_none());
        assert!(f.note(b, t0, &mut sums).first);
        // The window ends: one summary for a (b had only its first), and a is free.
        let later = t0 + WINDOW;
        assert!(f.blocked(a, later).is_none());
        let s = f.drain_finished(later);
        assert_eq!(
            s,
            vec![Summary {
                client: a,
                more: MAX_FAILURES
            }]
        );
        assert!(sums.is_empty());
        assert!(f.note(a, later, &mut sums).first);
    }

    #[test]
    fn capped_text_keeps_its_start_and_says_it_was_cut() {
        assert_eq!(cap("short", 10), "short");
        let long = "é".repeat(70_000);
        let c = cap(&long, MAX_TARGET_CHARS);
        assert_eq!(c.chars().count(), MAX_TARGET_CHARS + 1);
        assert!(c.ends_with('…'));
    }
}
