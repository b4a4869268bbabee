//! The `trace_events` table: the append-only log.

use rusqlite::types::Value;
use rusqlite::{Connection, Row};

use super::detail::TraceDetail;
use super::event::{NewEvent, TraceEvent};
use super::query::{KindFilter, TraceQuery};
use crate::clock::Timestamp;
use crate::error::HubResult;

pub(crate) const V1: &str = "
CREATE TABLE trace_events (
    id         INTEGER PRIMARY KEY,
    ts_ms      INTEGER NOT NULL,
    mono_us    INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    device_id  TEXT,
    message_id TEXT,
    lock_token TEXT,
    request_id TEXT,
    detail     TEXT NOT NULL,
    corr       INTEGER
);
CREATE INDEX trace_by_device  ON trace_events (device_id, id) WHERE device_id IS NOT NULL;
CREATE INDEX trace_by_kind    ON trace_events (kind, id);
CREATE INDEX trace_by_time    ON trace_events (ts_ms);
CREATE INDEX trace_by_corr    ON trace_events (corr) WHERE corr IS NOT NULL;
";

/// Version 9: the newest events are indexed in batches (see [`TailIndexer`]).
///
/// `pending` marks an event not indexed yet; the indexes hold only events
/// with `pending = 0`, and `trace_tail.upto` is the newest indexed id. Rows
/// that exist when the migration runs are already indexed (the column's
/// default); new rows are inserted pending. The indexes are built again
/// here because a partial index's condition cannot be altered.
pub(crate) const V9: &str = "
ALTER TABLE trace_events ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
DROP INDEX trace_by_device;
DROP INDEX trace_by_kind;
DROP INDEX trace_by_time;
DROP INDEX trace_by_corr;
CREATE INDEX trace_by_device ON trace_events (device_id, id) WHERE device_id IS NOT NULL AND pending = 0;
CREATE INDEX trace_by_kind   ON trace_events (kind, id) WHERE pending = 0;
CREATE INDEX trace_by_time   ON trace_events (ts_ms) WHERE pending = 0;
CREATE INDEX trace_by_corr   ON trace_events (corr) WHERE corr IS NOT NULL AND pending = 0;
CREATE TABLE trace_tail (upto INTEGER NOT NULL);
INSERT INTO trace_tail (upto) SELECT coalesce(max(id), 0) FROM trace_events;
";

/// Events indexed at once, when that many are pending.
///
/// Why batches: an index entry dirties the page it lands on, and a commit
/// writes every dirtied page whole. Indexed one commit at a time, a C2D
/// message's events (its send and lock in one commit, its completion in
/// another) put
/// entries at random places in the device and correlation indexes and at
/// the ends of the kind and time indexes, over and over: about 60 % of the
/// bytes the hub wrote per message (docs/benchmarks.md). Indexed in one
/// transaction per batch, each index page is written once per batch,
/// however many of the batch's entries land on it.
///
/// Why this size: a query reads the pending events by scanning them (fewer
/// than this many rows once a group has committed, as every group ends by
/// indexing a due batch: a millisecond or two), and indexing a batch holds
/// the writer for a few milliseconds.
pub(crate) const TAIL_BATCH: i64 = 4096;

/// Indexes the pending tail of the trace once it is a batch long.
///
/// It lives on the storage writer, which calls [`due`](Self::due) in each
/// group's transaction just before the commit, and
/// [`committed`](Self::committed) after it. `upto` caches the newest indexed
/// id, so a group does not read `trace_tail` unless a batch may be due; the
/// cache is dropped when a commit fails (the flush may have been undone).
#[derive(Debug)]
pub(crate) struct TailIndexer {
    batch: i64,
    upto: Option<i64>,
    flushed: Option<i64>,
}

impl Default for TailIndexer {
    fn default() -> Self {
        TailIndexer {
            batch: TAIL_BATCH,
            upto: None,
            flushed: None,
        }
    }
}

impl TailIndexer {
    /// In the open transaction: indexes every pending event if a batch is
    /// due. The flush runs in a savepoint, so a failure leaves the rows and
    /// `trace_tail` as they were, and the group's own work still commits.
    ///
    /// `newest` is the newest event id the group stored (`None`: it stored
    /// none), which says whether a batch may be due without a query: reading
    /// `max(id)` at every group was 2–4 % of the writer's time. It is only
    /// a hint (a group that ran twice may name an id it rolled back): the
    /// batch's bounds are read from the table.
    pub(crate) fn due(&mut self, conn: &Connection, newest: Option<i64>) -> HubResult<()> {
        self.flushed = None;
        let Some(newest) = newest else { return Ok(()) };
        if self
            .upto
            .is_some_and(|u| newest < u.saturating_add(self.batch))
        {
            return Ok(());
        }
        let max: Option<i64> = conn
            .prepare_cached("SELECT max(id) FROM trace_events")?
            .query_row([], |r| r.get(0))?;
        let Some(max) = max else { return Ok(()) };
        let upto: i64 = conn
            .prepare_cached("SELECT upto FROM trace_tail")?
            .query_row([], |r| r.get(0))?;
        self.upto = Some(upto);
        if max - upto < self.batch {
            return Ok(());
        }
        conn.execute_batch("SAVEPOINT trace_tail")?;
        let flushed = conn
            .execute(
                "UPDATE trace_events SET pending = 0 WHERE id > ?1 AND id <= ?2 AND pending = 1",
                (upto, max),
            )
            .and_then(|_| conn.execute("UPDATE trace_tail SET upto = ?1", [max]));
        match flushed {
            Ok(_) => {
                conn.execute_batch("RELEASE trace_tail")?;
                self.flushed = Some(max);
                Ok(())
            }
            Err(e) => {
                conn.execute_batch("ROLLBACK TO trace_tail; RELEASE trace_tail")?;
                Err(e.into())
            }
        }
    }

    /// After the group's commit: keeps what the flush did, or forgets it.
    pub(crate) fn committed(&mut self, ok: bool) {
        match (ok, self.flushed.take()) {
            (true, Some(max)) => self.upto = Some(max),
            (true, None) => {}
            (false, _) => self.upto = None,
        }
    }
}

/// The correlation key of an event, as stored in `corr`: a 64-bit FNV-1a
/// hash of its message id (C2D and feedback events) or request id (method
/// events). One small integer index finds a story; the exact ids are
/// compared after it, so collisions cost nothing but a row read.
///
/// Why a hash and not an index per id column: ids are random strings, so
/// every event inserted into a string index dirtied its own index page, and
/// three such indexes halved the hub's C2D throughput (docs/benchmarks.md).
/// The hash is stored, so it must never change.
pub(crate) fn corr_key(key: &str) -> i64 {
    use std::hash::Hasher;
    let mut h = fnv::FnvHasher::default();
    h.write(key.as_bytes());
    h.finish() as i64
}

/// Appends one event and returns its id.
pub(crate) fn insert(
    conn: &Connection,
    ts: Timestamp,
    mono_us: u64,
    ev: &NewEvent,
) -> HubResult<i64> {
    let detail = ev.detail.detail_json()?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO trace_events (ts_ms, mono_us, kind, device_id, message_id, lock_token, request_id, detail, corr, pending)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)",
    )?;
    stmt.execute((
        ts.0,
        i64::try_from(mono_us).unwrap_or(i64::MAX),
        ev.detail.kind_str(),
        &ev.device_id,
        &ev.message_id,
        &ev.lock_token,
        &ev.request_id,
        &detail,
        ev.message_id
            .as_deref()
            .or(ev.request_id.as_deref())
            .map(corr_key),
    ))?;
    Ok(conn.last_insert_rowid())
}

/// A stored row as an event. Its detail is read by its kind's type; a row
/// no type reads (an older Hublet's shape, an unknown kind, text that is
/// not JSON) comes back as [`TraceDetail::Unknown`], never as an error.
fn from_row(r: &Row<'_>) -> rusqlite::Result<TraceEvent> {
    let kind: String = r.get(3)?;
    let detail: String = r.get(8)?;
    Ok(TraceEvent {
        id: r.get(0)?,
        ts: Timestamp(r.get(1)?),
        mono_us: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
        device_id: r.get(4)?,
        message_id: r.get(5)?,
        lock_token: r.get(6)?,
        request_id: r.get(7)?,
        detail: TraceDetail::from_stored(&kind, &detail),
    })
}

/// Runs `q` against the log.
///
/// The log is read in two parts, in one read transaction so that they
/// agree: the indexed events (`pending = 0`, through the indexes) and the
/// pending tail (`id > upto`, scanned; shorter than one batch).
/// Every indexed event is older than every pending one (the indexer takes
/// the whole tail at once), so the two parts follow each other in id order.
/// Newest first reads the tail first; oldest first reads it last; the
/// second part is read only if the first did not fill the page.
pub(crate) fn query(conn: &Connection, q: &TraceQuery) -> HubResult<Vec<TraceEvent>> {
    let limit = q.effective_limit();
    let order = if q.newest_first {
        " ORDER BY id DESC"
    } else {
        " ORDER BY id ASC"
    };
    // (A connection already in a transaction reads one snapshot anyway.)
    let _snapshot = match conn.is_autocommit() {
        true => Some(conn.unchecked_transaction()?),
        false => None,
    };
    let upto: i64 = conn.query_row("SELECT upto FROM trace_tail", [], |r| r.get(0))?;
    let indexed = indexed_walks(conn, q, order)?;
    let tail = {
        let (filters, args) = filters(q, Part::Tail);
        let sql = format!(
            "SELECT {COLUMNS} FROM trace_events NOT INDEXED WHERE id > {upto} AND pending = 1{filters}{order}"
        );
        vec![(sql, args)]
    };
    let parts = if q.newest_first {
        [tail, indexed]
    } else {
        [indexed, tail]
    };
    let mut out = Vec::new();
    for walks in parts {
        if out.len() >= limit {
            break;
        }
        let want = limit - out.len();
        let mut stmts = walks
            .iter()
            .map(|(sql, _)| conn.prepare(&format!("{sql} LIMIT {want}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rows = Vec::with_capacity(stmts.len());
        for (stmt, (_, args)) in stmts.iter_mut().zip(&walks) {
            rows.push(stmt.query(rusqlite::params_from_iter(args.iter()))?);
        }
        let mut merged = MergeById::new(rows, q.newest_first)?;
        while out.len() < limit
            && let Some(ev) = merged.next_event()?
        {
            // The substring test runs on the stored JSON text; `matches`
            // re-checks it so live and stored filtering agree exactly.
            if q.text.is_none() || q.matches(&ev) {
                out.push(ev);
            }
        }
    }
    Ok(out)
}

/// The statements that read the indexed part of the log for `q`, each in
/// id order (`order`), with their arguments.
fn indexed_walks(
    conn: &Connection,
    q: &TraceQuery,
    order: &str,
) -> HubResult<Vec<(String, Vec<Value>)>> {
    if !reads_by_kind(q) {
        let (filters, args) = filters(q, Part::Indexed);
        let sql = format!(
            "SELECT {COLUMNS} FROM {} WHERE pending = 0{filters}{order}",
            indexed_source(q)
        );
        return Ok(vec![(sql, args)]);
    }
    // One walk of the kind index per kind the filter names, merged.
    let rest = TraceQuery {
        kinds: Vec::new(),
        ..q.clone()
    };
    let (filters, args) = filters(&rest, Part::Indexed);
    let kind_arg = args.len() + 1;
    let sql = format!(
        "SELECT {COLUMNS} FROM trace_events INDEXED BY trace_by_kind WHERE pending = 0{filters} AND kind = ?{kind_arg}{order}"
    );
    Ok(indexed_kinds(conn, &q.kind_filters())?
        .into_iter()
        .map(|kind| {
            let mut args = args.clone();
            args.push(Value::Text(kind));
            (sql.clone(), args)
        })
        .collect())
}

/// Several walks of the log, each in id order, read as one in that order.
/// Each walk is read only as far as the merged result needs, so a page of
/// `n` events reads at most `n` rows plus one per walk.
struct MergeById<'s> {
    walks: Vec<rusqlite::Rows<'s>>,
    heads: Vec<Option<TraceEvent>>,
    newest_first: bool,
}

impl<'s> MergeById<'s> {
    fn new(mut walks: Vec<rusqlite::Rows<'s>>, newest_first: bool) -> HubResult<Self> {
        let heads = walks
            .iter_mut()
            .map(Self::advance)
            .collect::<HubResult<Vec<_>>>()?;
        Ok(MergeById {
            walks,
            heads,
            newest_first,
        })
    }

    fn advance(walk: &mut rusqlite::Rows<'s>) -> HubResult<Option<TraceEvent>> {
        Ok(match walk.next()? {
            Some(row) => Some(from_row(row)?),
            None => None,
        })
    }

    fn next_event(&mut self) -> HubResult<Option<TraceEvent>> {
        let newest_first = self.newest_first;
        let next = self
            .heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|e| (i, e.id)))
            .reduce(|a, b| match (newest_first, b.1 > a.1) {
                (true, true) | (false, false) => b,
                _ => a,
            });
        let Some((i, _)) = next else { return Ok(None) };
        let ev = self.heads[i].take();
        self.heads[i] = Self::advance(&mut self.walks[i])?;
        Ok(ev)
    }
}

/// True when the indexed part reads through the kind index: a kind filter
/// and no device, story or time filter (whose indexes narrow further).
/// A walk by id finds a common kind's newest events at once but reads the
/// whole log for a rare one; the kind index finds either at once.
fn reads_by_kind(q: &TraceQuery) -> bool {
    !q.kind_filters().is_empty()
        && q.device_id.is_none()
        && q.correlation.is_none()
        && q.since.is_none()
        && q.until.is_none()
}

/// The stored kinds a kind filter names: its exact kinds, and every kind in
/// the index that starts with one of its prefixes (found by skipping from
/// one distinct kind to the next, one index seek each, so kinds an older
/// or newer Hublet wrote are found too).
fn indexed_kinds(
    conn: &Connection,
    filters: &[KindFilter],
) -> HubResult<std::collections::BTreeSet<String>> {
    let mut kinds = std::collections::BTreeSet::new();
    // `>=` finds the first kind with the prefix, `>` each one after it.
    let seek = |op: &str, from: &str| -> HubResult<Option<String>> {
        Ok(conn
            .prepare_cached(&format!(
                "SELECT min(kind) FROM trace_events INDEXED BY trace_by_kind WHERE pending = 0 AND kind {op} ?1"
            ))?
            .query_row([from], |r| r.get(0))?)
    };
    for f in filters {
        match f {
            KindFilter::Exact(k) => {
                kinds.insert(k.clone());
            }
            KindFilter::Prefix(p) => {
                let mut found = seek(">=", p)?;
                while let Some(k) = found.filter(|k| k.starts_with(p.as_str())) {
                    found = seek(">", &k)?;
                    kinds.insert(k);
                }
            }
        }
    }
    Ok(kinds)
}

/// Where the indexed part reads from. With a device, story or time filter,
/// SQLite picks that filter's index. Without one it is told to walk the ids
/// (`NOT INDEXED`): every indexed row meets `pending = 0`, so SQLite could
/// otherwise take a partial index as a smaller copy of the table, scan it
/// whole and sort, where walking the ids stops at the page's limit. (A kind
/// filter alone reads through the kind index instead: [`reads_by_kind`].)
fn indexed_source(q: &TraceQuery) -> &'static str {
    if q.device_id.is_some() || q.correlation.is_some() || q.since.is_some() || q.until.is_some() {
        "trace_events"
    } else {
        "trace_events NOT INDEXED"
    }
}

/// The two parts of the log a query reads.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// `pending = 0`: through the indexes.
    Indexed,
    /// `pending = 1`: scanned.
    Tail,
}

const COLUMNS: &str =
    "id, ts_ms, mono_us, kind, device_id, message_id, lock_token, request_id, detail";

/// The query's conditions, as ` AND ...` clauses with their arguments.
/// Each clause keeps the shape an index needs (`device_id = ?`, `kind = ?`,
/// `ts_ms >= ?`, `corr = ?`), so the indexed part uses them.
fn filters(q: &TraceQuery, part: Part) -> (String, Vec<Value>) {
    let mut sql = String::new();
    let mut args: Vec<Value> = Vec::new();
    let mut arg = |sql: &mut String, clause: &str, v: Value| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(d) = &q.device_id {
        if d.contains('/') {
            arg(&mut sql, " AND device_id = ?", Value::Text(d.clone()));
        } else {
            // A device's events and its modules' (`device/module`): the
            // range ['d/', 'd0') is every key starting with "d/", and
            // keeps the device index usable.
            //
            // Each branch of the `OR` repeats the part's `pending` test:
            // SQLite weighs a partial index for an `OR` branch by that
            // branch alone, so without it neither branch could use the
            // device index and the query would walk the whole log.
            let pending = match part {
                Part::Indexed => " AND pending = 0",
                Part::Tail => "",
            };
            arg(
                &mut sql,
                &format!(" AND ((device_id = ?{pending})"),
                Value::Text(d.clone()),
            );
            arg(
                &mut sql,
                " OR (device_id >= ?",
                Value::Text(format!("{d}/")),
            );
            arg(
                &mut sql,
                &format!(" AND device_id < ?{pending}))"),
                Value::Text(format!("{d}0")),
            );
        }
    }
    let kinds = q.kind_filters();
    if !kinds.is_empty() {
        sql.push_str(" AND (0");
        for k in kinds {
            match k {
                KindFilter::Exact(k) => arg(&mut sql, " OR kind = ?", Value::Text(k)),
                KindFilter::Prefix(p) => arg(
                    &mut sql,
                    " OR substr(kind, 1, length(?)) = ?",
                    Value::Text(p),
                ),
            }
        }
        sql.push(')');
    }
    if let Some(s) = q.since {
        arg(&mut sql, " AND ts_ms >= ?", Value::Integer(s.0));
    }
    if let Some(u) = q.until {
        arg(&mut sql, " AND ts_ms < ?", Value::Integer(u.0));
    }
    if let Some(c) = &q.correlation {
        arg(&mut sql, " AND corr = ?", Value::Integer(corr_key(c)));
        arg(
            &mut sql,
            " AND (message_id = ? OR request_id = ?)",
            Value::Text(c.clone()),
        );
    }
    if let Some(l) = &q.lock_token {
        arg(&mut sql, " AND lock_token = ?", Value::Text(l.clone()));
    }
    if let Some(t) = &q.text {
        arg(
            &mut sql,
            " AND (instr(lower(detail), ?) > 0 OR instr(lower(ifnull(device_id,'')), ?) > 0 OR instr(lower(ifnull(message_id,'')), ?) > 0 OR instr(lower(ifnull(lock_token,'')), ?) > 0 OR instr(lower(ifnull(request_id,'')), ?) > 0)",
            Value::Text(t.to_ascii_lowercase()),
        );
    }
    if let Some(a) = q.after_id {
        arg(&mut sql, " AND id > ?", Value::Integer(a));
    }
    if let Some(b) = q.before_id {
        arg(&mut sql, " AND id < ?", Value::Integer(b));
    }
    (sql, args)
}

/// Deletes up to `chunk` of the oldest events that are older than `cutoff`
/// or beyond the newest `keep` events. Returns how many were deleted.
///
/// It reads only the `chunk` oldest rows (by id) and deletes the prefix that
/// qualifies, so each call is cheap however large the log is, and the writer
/// is never held for long.
pub(crate) fn prune(
    conn: &Connection,
    cutoff: Option<Timestamp>,
    keep: Option<u64>,
    chunk: usize,
) -> HubResult<usize> {
    let max_id: Option<i64> =
        conn.query_row("SELECT max(id) FROM trace_events", [], |r| r.get(0))?;
    let Some(max_id) = max_id else { return Ok(0) };
    let below_id = keep
        .map(|k| {
            max_id
                .saturating_sub(i64::try_from(k).unwrap_or(i64::MAX))
                .saturating_add(1)
        })
        .unwrap_or(i64::MIN);
    let cutoff_ms = cutoff.map(|c| c.0).unwrap_or(i64::MIN);
    let mut stmt =
        conn.prepare_cached("SELECT id, ts_ms FROM trace_events ORDER BY id LIMIT ?1")?;
    let rows = stmt.query_map([i64::try_from(chunk).unwrap_or(i64::MAX)], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut last = None;
    for row in rows {
        let (id, ts) = row?;
        if id < below_id || ts < cutoff_ms {
            last = Some(id);
        } else {
            break;
        }
    }
    let Some(l) = last else { return Ok(0) };
    let n = conn.execute("DELETE FROM trace_events WHERE id <= ?1", [l])?;
    // An emptied log numbers its next event 1 again: the tail must then
    // start at 0, or the new events would sit below it, never read.
    conn.execute(
        "UPDATE trace_tail SET upto = min(upto, coalesce((SELECT max(id) FROM trace_events), 0))",
        [],
    )?;
    Ok(n)
}

/// Number of stored events, and the oldest and newest ids.
///
/// The count is the id range: ids are consecutive, because an event takes
/// the next id after the newest (no `AUTOINCREMENT`) and events are only
/// ever deleted oldest first ([`prune`]). Counting rows would read the
/// whole table, as no index holds every event.
pub(crate) fn extent(conn: &Connection) -> HubResult<(u64, Option<i64>, Option<i64>)> {
    let (first, last): (Option<i64>, Option<i64>) =
        conn.query_row("SELECT min(id), max(id) FROM trace_events", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let events = match (first, last) {
        (Some(f), Some(l)) => u64::try_from(l - f + 1).unwrap_or(0),
        _ => 0,
    };
    Ok((events, first, last))
}

#[cfg(test)]
mod tests {
    //! The two-part read (indexed events, then the pending tail) against
    //! the plain definition of a query ([`TraceQuery::matches`], which the
    //! live trace uses) over every event, with batches, retention and the
    //! writer's commits interleaved at random.

    use proptest::prelude::*;

    use super::*;
    use crate::trace::detail::{C2dAbandoned, C2dCompleted};

    #[derive(Debug, Clone)]
    enum Op {
        /// An event: device (or none), kind, story key.
        Append(Option<u8>, bool, Option<u8>),
        /// The writer's group commit ends (the indexer may flush).
        Commit,
        /// A group commit that fails: everything since the last commit is undone.
        FailedCommit,
        /// Retention keeps the newest `n`.
        Prune(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (proptest::option::of(0u8..4), any::<bool>(), proptest::option::of(0u8..6))
                .prop_map(|(d, k, c)| Op::Append(d, k, c)),
            3 => Just(Op::Commit),
            1 => Just(Op::FailedCommit),
            1 => (0u8..20).prop_map(Op::Prune),
        ]
    }

    fn event(d: Option<u8>, completed: bool, c: Option<u8>) -> NewEvent {
        let detail = if completed {
            TraceDetail::C2dCompleted(C2dCompleted {
                sequence_number: 1,
                attempt: 1,
            })
        } else {
            TraceDetail::C2dAbandoned(C2dAbandoned {
                sequence_number: 1,
                delivery_count: 1,
                max_delivery_count: 10,
            })
        };
        let mut ev = match d {
            // Device 3 is a module of device 0: a device's filter takes it in.
            Some(3) => NewEvent::new("d0/m", detail),
            Some(d) => NewEvent::new(format!("d{d}"), detail),
            None => NewEvent::hub(detail),
        };
        if let Some(c) = c {
            ev = if c % 2 == 0 {
                ev.message(format!("m{c}"))
            } else {
                ev.request(format!("m{c}"))
            };
        }
        ev
    }

    fn queries() -> Vec<TraceQuery> {
        let mut out = Vec::new();
        for newest_first in [false, true] {
            for limit in [1, 3, 1000] {
                let base = TraceQuery {
                    newest_first,
                    limit: Some(limit),
                    ..TraceQuery::default()
                };
                out.push(base.clone());
                out.push(TraceQuery {
                    device_id: Some("d0".into()),
                    ..base.clone()
                });
                out.push(TraceQuery {
                    device_id: Some("d0/m".into()),
                    ..base.clone()
                });
                out.push(TraceQuery {
                    kinds: vec!["c2d.completed".into()],
                    ..base.clone()
                });
                out.push(TraceQuery {
                    kinds: vec!["c2d".into(), "c2d.completed".into()],
                    ..base.clone()
                });
                out.push(TraceQuery {
                    kinds: vec!["c2d.abandoned".into()],
                    before_id: Some(30),
                    ..base.clone()
                });
                out.push(TraceQuery {
                    correlation: Some("m2".into()),
                    ..base.clone()
                });
                out.push(TraceQuery {
                    correlation: Some("m3".into()),
                    device_id: Some("d1".into()),
                    ..base.clone()
                });
                out.push(TraceQuery {
                    after_id: Some(5),
                    before_id: Some(30),
                    ..base.clone()
                });
            }
        }
        out
    }

    /// The plan SQLite picks for the indexed part of `q`.
    fn plan(conn: &Connection, q: &TraceQuery) -> String {
        let mut plans = Vec::new();
        for (sql, args) in indexed_walks(conn, q, " ORDER BY id DESC").unwrap() {
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql} LIMIT 10"))
                .unwrap();
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap();
            plans.extend(rows.map(|r| r.unwrap()));
        }
        plans.join("; ")
    }

    /// A walk by id (the table, or a range of its ids): no index, no sort.
    const WALK: &str = "walk";

    #[test]
    fn every_query_reads_the_indexed_part_by_its_index_or_by_id_never_sorting_it_whole() {
        let conn = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&conn).unwrap();
        let q = TraceQuery::default;
        let cases = [
            (TraceQuery::story("m1"), "INDEX trace_by_corr"),
            (
                TraceQuery {
                    device_id: Some("d1/m".into()),
                    ..q()
                },
                "INDEX trace_by_device",
            ),
            (
                TraceQuery {
                    since: Some(Timestamp(5)),
                    until: Some(Timestamp(6)),
                    ..q()
                },
                "INDEX trace_by_time",
            ),
            // A device with its modules: both branches of the OR.
            (
                TraceQuery {
                    device_id: Some("d1".into()),
                    ..q()
                },
                "MULTI-INDEX OR",
            ),
            (q(), WALK),
            // A kind filter alone: the kind index, one walk per kind.
            (
                TraceQuery {
                    kinds: vec!["c2d.completed".into(), "method".into()],
                    ..q()
                },
                "USING INDEX trace_by_kind (kind=?)",
            ),
            (
                TraceQuery {
                    kinds: vec!["c2d.completed".into()],
                    text: Some("x".into()),
                    before_id: Some(9),
                    ..q()
                },
                "USING INDEX trace_by_kind (kind=? AND id<?)",
            ),
            // With a device: the device's index, the kinds filter it.
            (
                TraceQuery {
                    kinds: vec!["c2d.completed".into()],
                    device_id: Some("d1/m".into()),
                    ..q()
                },
                "INDEX trace_by_device",
            ),
            (
                TraceQuery {
                    text: Some("x".into()),
                    ..q()
                },
                WALK,
            ),
            (
                TraceQuery {
                    after_id: Some(3),
                    ..q()
                },
                WALK,
            ),
        ];
        for (q, index) in cases {
            let p = plan(&conn, &q);
            if !q.kinds.is_empty() {
                assert!(!p.contains("TEMP B-TREE"), "{q:?} sorts: {p}");
            }
            if index != WALK {
                assert!(p.contains(index), "{q:?} should use {index}: {p}");
            } else {
                assert!(!p.contains("USING INDEX"), "{q:?} reads an index: {p}");
                assert!(!p.contains("TEMP B-TREE"), "{q:?} sorts: {p}");
            }
        }
    }

    #[test]
    fn a_kind_prefix_names_every_indexed_kind_that_starts_with_it_one_seek_each() {
        let conn = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&conn).unwrap();
        for kind in ["a", "a-x", "a.b", "a.c", "a.c", "ab.x", "b.y", "a.d"] {
            // The last one is still pending: not in the index, not named.
            let pending = i64::from(kind == "a.d");
            conn.execute(
                "INSERT INTO trace_events (ts_ms, mono_us, kind, detail, pending) VALUES (0, 0, ?1, '{}', ?2)",
                rusqlite::params![kind, pending],
            )
            .unwrap();
        }
        let named = |f: Vec<KindFilter>| {
            indexed_kinds(&conn, &f)
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(named(vec![KindFilter::Prefix("a.".into())]), ["a.b", "a.c"]);
        assert_eq!(
            named(vec![
                KindFilter::Prefix("b.".into()),
                KindFilter::Exact("a.b".into()),
                KindFilter::Exact("z.z".into()),
            ]),
            ["a.b", "b.y", "z.z"]
        );
        assert!(named(vec![KindFilter::Prefix("c.".into())]).is_empty());
        let p: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN SELECT min(kind) FROM trace_events INDEXED BY trace_by_kind WHERE pending = 0 AND kind > 'a'",
                [],
                |r| r.get(3),
            )
            .unwrap();
        assert!(
            p.contains("SEARCH") && p.contains("trace_by_kind (kind>?)"),
            "{p}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn both_parts_together_answer_as_a_scan_of_every_event_would(
            ops in proptest::collection::vec(op(), 1..120),
            batch in 1i64..6,
        ) {
            let conn = Connection::open_in_memory().unwrap();
            crate::store::migrations::migrate(&conn).unwrap();
            let mut tail = TailIndexer { batch, ..TailIndexer::default() };
            // The log as the open transaction sees it, and as last committed.
            let mut now: Vec<TraceEvent> = Vec::new();
            let mut committed: Vec<TraceEvent> = Vec::new();
            // The newest id stored since the last commit, as the writer's
            // group tracks it.
            let mut newest = None;
            conn.execute_batch("BEGIN").unwrap();
            let mut ts = 0;
            for op in ops {
                match op {
                    Op::Append(d, k, c) => {
                        ts += 1;
                        let ev = event(d, k, c);
                        let id = insert(&conn, Timestamp(ts), 0, &ev).unwrap();
                        newest = Some(id);
                        now.push(TraceEvent::stored(id, Timestamp(ts), 0, ev));
                    }
                    Op::Commit => {
                        tail.due(&conn, newest.take()).unwrap();
                        conn.execute_batch("COMMIT; BEGIN").unwrap();
                        tail.committed(true);
                        committed = now.clone();
                    }
                    Op::FailedCommit => {
                        tail.due(&conn, newest.take()).unwrap();
                        conn.execute_batch("ROLLBACK; BEGIN").unwrap();
                        tail.committed(false);
                        now = committed.clone();
                    }
                    Op::Prune(keep) => {
                        prune(&conn, None, Some(u64::from(keep)), 1000).unwrap();
                        let cut = now.len().saturating_sub(usize::from(keep));
                        now.drain(..cut);
                    }
                }
                let (n, first, last) = extent(&conn).unwrap();
                prop_assert_eq!(n, now.len() as u64);
                prop_assert_eq!(first, now.first().map(|e| e.id));
                prop_assert_eq!(last, now.last().map(|e| e.id));
                for q in queries() {
                    let mut want: Vec<&TraceEvent> =
                        now.iter().filter(|e| q.matches(e)).collect();
                    if q.newest_first {
                        want.reverse();
                    }
                    want.truncate(q.effective_limit());
                    let got = query(&conn, &q).unwrap();
                    let want: Vec<i64> = want.iter().map(|e| e.id).collect();
                    let got: Vec<i64> = got.iter().map(|e| e.id).collect();
                    prop_assert_eq!(got, want, "{:?}", q);
                }
            }
        }
    }
}
