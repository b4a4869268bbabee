//! The trace log: every event of the hub, append-only, queryable, live.
//!
//! Events are written by the storage writer, in the same transaction as the
//! change they describe ([`crate::store::WriteCtx::trace`]) or queued on their
//! own for things with no stored state (telemetry, method calls). After each
//! commit they are broadcast to live subscribers ([`Trace::subscribe`]).
//! Queries and live filters share one definition ([`TraceQuery`]).
//! Retention (by age and by count) deletes old events in small chunks so
//! writers never wait long ([`Trace::enforce_retention`]).

pub mod detail;
pub mod diff;
mod event;
mod export;
mod query;
mod summary;
pub(crate) mod table;

pub use detail::{BodyPreview, EventKind, TraceDetail};
pub use event::{NewEvent, TraceEvent};
pub use export::{CSV_COLUMNS, ExportFormat, ExportWriter, read_jsonl};
pub use query::{DEFAULT_LIMIT, MAX_LIMIT, TraceQuery};
pub use summary::preview_line;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::error::HubResult;
use crate::hub::Hub;

/// The trace, reached through [`Hub::trace`].
pub struct Trace<'a> {
    pub(crate) hub: &'a Hub,
}

/// Size of the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceExtent {
    /// Events stored.
    pub events: u64,
    /// Oldest stored id.
    pub first_id: Option<i64>,
    /// Newest stored id.
    pub last_id: Option<i64>,
}

/// Rows deleted per retention step; small so the writer is never held long.
const PRUNE_CHUNK: usize = 5000;

impl Trace<'_> {
    /// Stored events matching `q`.
    ///
    /// Every query first waits for the events queued so far to be stored:
    /// a caller that has just been told of a message or a call (a method's
    /// answer, a send's acknowledgement) then finds all of its events, in a
    /// query, a story or an export alike.
    pub async fn query(&self, q: TraceQuery) -> HubResult<Vec<TraceEvent>> {
        self.flush().await?;
        self.hub
            .inner
            .db
            .read(move |conn| table::query(conn, &q))
            .await
    }

    /// The whole story of one message or call, in order: every event whose
    /// message id or request id is `key` (see [`query`](Self::query)).
    pub async fn story(&self, key: &str) -> HubResult<Vec<TraceEvent>> {
        self.query(TraceQuery::story(key)).await
    }

    /// Live events matching `filter`, from now on.
    pub fn subscribe(&self, filter: TraceQuery) -> TraceSubscription {
        TraceSubscription {
            rx: self.hub.inner.live.subscribe(),
            filter,
        }
    }

    /// Waits until every event queued so far is stored (and broadcast).
    pub async fn flush(&self) -> HubResult<()> {
        self.hub.inner.db.flush().await
    }

    /// Writes every event matching `q` (ignoring its limit) to `out` in
    /// `format`, page by page; `progress` gets the running count.
    pub async fn export<W: Write + Send + 'static>(
        &self,
        mut q: TraceQuery,
        format: ExportFormat,
        out: W,
        mut progress: impl FnMut(u64) + Send,
    ) -> HubResult<(W, u64)> {
        let mut w = ExportWriter::new(format, out)?;
        let mut count = 0u64;
        q.newest_first = false;
        q.limit = Some(10_000);
        loop {
            let page = self.query(q.clone()).await?;
            let Some(last) = page.last() else { break };
            q.after_id = Some(last.id);
            for ev in &page {
                w.write(ev)?;
            }
            count += page.len() as u64;
            progress(count);
        }
        Ok((w.finish()?, count))
    }

    /// Number of stored events and the id range.
    pub async fn extent(&self) -> HubResult<TraceExtent> {
        let (events, first_id, last_id) = self.hub.inner.db.read(table::extent).await?;
        Ok(TraceExtent {
            events,
            first_id,
            last_id,
        })
    }

    /// Deletes events beyond the retention settings, a chunk per
    /// transaction. Returns how many were deleted.
    pub async fn enforce_retention(&self) -> HubResult<u64> {
        let s = self.hub.settings();
        let now = self.hub.now();
        let cutoff = (s.trace_max_age_secs > 0)
            .then(|| Timestamp(now.0 - (s.trace_max_age_secs as i64) * 1000));
        let keep = (s.trace_max_events > 0).then_some(s.trace_max_events);
        if cutoff.is_none() && keep.is_none() {
            return Ok(0);
        }
        let mut total = 0u64;
        loop {
            let n = self
                .hub
                .inner
                .db
                .write(move |ctx| table::prune(ctx.conn, cutoff, keep, PRUNE_CHUNK))
                .await?;
            total += n as u64;
            if n < PRUNE_CHUNK {
                return Ok(total);
            }
            // Let other writers in between chunks.
            tokio::task::yield_now().await;
        }
    }

    /// Appends an event for an edge with no state of its own (serial
    /// console lines, simulator actions). Order with other writes is kept.
    pub fn append(&self, ev: NewEvent) {
        self.hub.inner.db.append(ev);
    }
}

use crate::clock::Timestamp;

/// A live, filtered view of the trace.
pub struct TraceSubscription {
    rx: broadcast::Receiver<Arc<TraceEvent>>,
    filter: TraceQuery,
}

/// Why a live subscription yielded no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveError {
    /// The subscriber fell behind and `n` events were skipped; re-query
    /// from the last id seen to catch up.
    Lagged(u64),
    /// The hub closed.
    Closed,
}

impl TraceSubscription {
    /// The next matching event.
    pub async fn recv(&mut self) -> Result<Arc<TraceEvent>, LiveError> {
        loop {
            match self.rx.recv().await {
                Ok(ev) if self.filter.matches(&ev) => return Ok(ev),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => return Err(LiveError::Lagged(n)),
                Err(broadcast::error::RecvError::Closed) => return Err(LiveError::Closed),
            }
        }
    }

    /// The next matching event, or `None` if none arrives within `d` of real time.
    pub async fn recv_timeout(
        &mut self,
        d: Duration,
    ) -> Option<Result<Arc<TraceEvent>, LiveError>> {
        tokio::time::timeout(d, self.recv()).await.ok()
    }
}
