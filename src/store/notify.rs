//! Word of new events between processes sharing a PostgreSQL store (LISTEN/NOTIFY):
//! each transaction that records events notifies the ids it wrote, so another
//! replica's bus passes them to its followers at once instead of at their next poll.
//! A lost notification costs only latency: followers still read the log on a timer.

use sqlx::postgres::PgListener;

use super::{Store, StoreError};

/// The channel every replica of a store listens on.
pub(super) const CHANNEL: &str = "flotilla_events";

/// `WRITER FIRST LAST`: who recorded which ids.
pub(super) fn payload(writer: &str, first: u64, last: u64) -> String {
    format!("{writer} {first} {last}")
}

/// Notifications of events other processes recorded.
pub struct EventWakeups {
    listener: PgListener,
    own: std::sync::Arc<str>,
}

impl EventWakeups {
    /// The next range of ids (first, last) another process recorded. The listener
    /// reconnects by itself; events it missed meanwhile reach followers through their
    /// polls of the log.
    pub async fn next(&mut self) -> Result<(u64, u64), StoreError> {
        loop {
            let note = self.listener.recv().await?;
            let mut parts = note.payload().split(' ');
            let (Some(writer), Some(first), Some(last)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if writer == &*self.own {
                continue;
            }
            if let (Ok(first), Ok(last)) = (first.parse::<u64>(), last.parse::<u64>()) {
                if first > 0 && last >= first {
                    return Ok((first, last));
                }
            }
        }
    }
}

impl Store {
    /// Listens for events other processes record; None on SQLite, where processes on
    /// one machine share the file and followers poll it.
    pub async fn event_wakeups(&self) -> Result<Option<EventWakeups>, StoreError> {
        let Some(url) = &self.postgres_url else {
            return Ok(None);
        };
        let mut listener = PgListener::connect(url)
            .await
            .map_err(|source| StoreError::Open {
                path: self.shown.clone(),
                source,
            })?;
        listener.listen(CHANNEL).await?;
        Ok(Some(EventWakeups {
            listener,
            own: self.writer.clone(),
        }))
    }
}
