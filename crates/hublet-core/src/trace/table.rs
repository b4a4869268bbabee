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
        "INSERT INTO trace_events (ts_ms, mono_us, kind, device_id, message_id, lock_token, request_id, detail, corr)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
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
pub(crate) fn query(conn: &Connection, q: &TraceQuery) -> HubResult<Vec<TraceEvent>> {
    let mut sql = String::from(
        "SELECT id, ts_ms, mono_us, kind, device_id, message_id, lock_token, request_id, detail FROM trace_events WHERE 1=1",
    );
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
            arg(&mut sql, " AND (device_id = ?", Value::Text(d.clone()));
            arg(
                &mut sql,
                " OR (device_id >= ?",
                Value::Text(format!("{d}/")),
            );
            arg(
                &mut sql,
                " AND device_id < ?))",
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
    sql.push_str(if q.newest_first {
        " ORDER BY id DESC"
    } else {
        " ORDER BY id ASC"
    });
    sql.push_str(&format!(" LIMIT {}", q.effective_limit()));

    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), from_row)?;
    let mut out = Vec::new();
    for row in rows {
        let ev = row?;
        // The substring test above runs on the stored JSON text; `matches`
        // re-checks it so live and stored filtering agree exactly.
        if q.text.is_none() || q.matches(&ev) {
            out.push(ev);
        }
    }
    Ok(out)
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
    match last {
        Some(l) => Ok(conn.execute("DELETE FROM trace_events WHERE id <= ?1", [l])?),
        None => Ok(0),
    }
}

/// Number of stored events, and the oldest and newest ids.
pub(crate) fn extent(conn: &Connection) -> HubResult<(u64, Option<i64>, Option<i64>)> {
    Ok(conn.query_row(
        "SELECT count(*), min(id), max(id) FROM trace_events",
        [],
        |r| {
            Ok((
                u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                r.get(1)?,
                r.get(2)?,
            ))
        },
    )?)
}
