//! The `c2d_messages` table: every message still in a queue.
//!
//! Terminal messages (completed, dead-lettered, purged) are deleted; their
//! history lives in the trace.
//!
//! The sequence number is the row id, handed out by the storage writer
//! ([`super::sequence`]) so it is never reused: it increases across the
//! whole hub, hence within every device's queue. (A per-device counter
//! would rewrite the device's row on every send.)

use rusqlite::{Connection, OptionalExtension, Row};

use super::message::{AckMode, C2dMessage, MessageState};
use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};

/// Version 4: whether a lock is held by a connection (pushed to an attached
/// device) rather than by a client that received it over HTTP. A
/// connection's locks die with the process; see [`release_pushed`].
pub(crate) const V4: &str = "
ALTER TABLE c2d_messages ADD COLUMN lock_pushed INTEGER NOT NULL DEFAULT 0;
";

pub(crate) const V1: &str = "
CREATE TABLE c2d_messages (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id        TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    correlation_id   TEXT,
    user_id          TEXT,
    to_address       TEXT NOT NULL,
    expiry_ms        INTEGER NOT NULL,
    ack              TEXT NOT NULL,
    content_type     TEXT,
    content_encoding TEXT,
    properties       TEXT NOT NULL,
    body             BLOB NOT NULL,
    enqueued_ms      INTEGER NOT NULL,
    state            INTEGER NOT NULL CHECK (state IN (0, 1)),
    lock_token       TEXT,
    lock_until_ms    INTEGER,
    delivery_count   INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX c2d_ready       ON c2d_messages (device_id, state, seq);
CREATE INDEX c2d_by_expiry   ON c2d_messages (expiry_ms);
CREATE INDEX c2d_lock_expiry ON c2d_messages (lock_until_ms) WHERE state = 1;
";

/// Version 10: one index for both of the sweeper's questions (whose TTL ran
/// out, whose lock ran out) instead of two. A commit rewrites every index
/// page it touches whole, and with a few messages queued per device each
/// C2D index is a single page that nearly every C2D commit rewrites: one
/// index fewer is one page fewer per commit (docs/benchmarks.md).
///
/// The key is when the message next needs the sweeper: its lock's end
/// while it is locked, its expiry while it waits. A locked message whose
/// TTL has passed is not due until its lock ends, which is the order
/// expiry already follows ([`super::expiry`]). (The lock question steps
/// over waiting messages whose TTL has run out; the same sweep then
/// dead-letters them, so they do not pile up in its range.)
pub(crate) const V10: &str = "
DROP INDEX IF EXISTS c2d_by_expiry;
DROP INDEX IF EXISTS c2d_lock_expiry;
CREATE INDEX IF NOT EXISTS c2d_due ON c2d_messages (CASE state WHEN 1 THEN lock_until_ms ELSE expiry_ms END);
";

/// Version 11: sequence numbers from the writer's reserved blocks
/// ([`super::sequence`]) instead of `AUTOINCREMENT`, which rewrote its
/// `sqlite_sequence` page in every commit that stored a message. SQLite
/// cannot drop `AUTOINCREMENT` from a table, so the table is built again,
/// keeping every row; `c2d_seq` starts past every number handed out so far
/// (`sqlite_sequence` remembers those of deleted messages too).
pub(crate) const V11: &str = "
CREATE TABLE c2d_messages_v11 (
    seq              INTEGER PRIMARY KEY,
    device_id        TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    correlation_id   TEXT,
    user_id          TEXT,
    to_address       TEXT NOT NULL,
    expiry_ms        INTEGER NOT NULL,
    ack              TEXT NOT NULL,
    content_type     TEXT,
    content_encoding TEXT,
    properties       TEXT NOT NULL,
    body             BLOB NOT NULL,
    enqueued_ms      INTEGER NOT NULL,
    state            INTEGER NOT NULL CHECK (state IN (0, 1)),
    lock_token       TEXT,
    lock_until_ms    INTEGER,
    delivery_count   INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    lock_pushed      INTEGER NOT NULL DEFAULT 0
);
INSERT INTO c2d_messages_v11 (seq, device_id, message_id, correlation_id, user_id, to_address,
    expiry_ms, ack, content_type, content_encoding, properties, body, enqueued_ms, state,
    lock_token, lock_until_ms, delivery_count, attempts, lock_pushed)
SELECT seq, device_id, message_id, correlation_id, user_id, to_address,
    expiry_ms, ack, content_type, content_encoding, properties, body, enqueued_ms, state,
    lock_token, lock_until_ms, delivery_count, attempts, lock_pushed
FROM c2d_messages;
CREATE TABLE c2d_seq (upto INTEGER NOT NULL);
INSERT INTO c2d_seq (upto) SELECT 1 + max(
    coalesce((SELECT max(seq) FROM c2d_messages), 0),
    coalesce((SELECT max(seq) FROM sqlite_sequence WHERE name = 'c2d_messages'), 0));
DROP TABLE c2d_messages;
ALTER TABLE c2d_messages_v11 RENAME TO c2d_messages;
CREATE INDEX c2d_ready ON c2d_messages (device_id, state, seq);
CREATE INDEX c2d_due ON c2d_messages (CASE state WHEN 1 THEN lock_until_ms ELSE expiry_ms END);
";

/// The `c2d_due` index's key, written exactly as the index has it so that
/// SQLite uses the index.
const DUE: &str = "(CASE state WHEN 1 THEN lock_until_ms ELSE expiry_ms END)";

const INSERT_COLUMNS: &str = "seq, device_id, message_id, correlation_id, user_id, to_address, expiry_ms, ack, content_type, content_encoding, properties, body, enqueued_ms, state, lock_token, lock_until_ms, delivery_count, attempts, lock_pushed";
const COLUMNS: &str = "device_id, seq, message_id, correlation_id, user_id, to_address, expiry_ms, ack, content_type, content_encoding, properties, body, enqueued_ms, state, lock_token, lock_until_ms, delivery_count, attempts";

fn from_row(r: &Row<'_>) -> rusqlite::Result<C2dMessage> {
    let ack: String = r.get(7)?;
    let props: String = r.get(10)?;
    let state: i64 = r.get(13)?;
    Ok(C2dMessage {
        device_id: r.get(0)?,
        sequence_number: r.get(1)?,
        message_id: r.get(2)?,
        correlation_id: r.get(3)?,
        user_id: r.get(4)?,
        to: r.get(5)?,
        expiry_time_utc: Timestamp(r.get(6)?),
        ack: AckMode::parse(&ack).unwrap_or(AckMode::None),
        content_type: r.get(8)?,
        content_encoding: r.get(9)?,
        properties: serde_json::from_str(&props).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(10, rusqlite::types::Type::Text, e.into())
        })?,
        body: r.get(11)?,
        enqueued_time: Timestamp(r.get(12)?),
        state: if state == 1 {
            MessageState::Invisible
        } else {
            MessageState::Enqueued
        },
        lock_token: r.get(14)?,
        lock_expiry: r.get::<_, Option<i64>>(15)?.map(Timestamp),
        delivery_count: r.get(16)?,
        attempts: r.get(17)?,
    })
}

fn query(
    conn: &Connection,
    where_sql: &str,
    params: impl rusqlite::Params,
) -> HubResult<Vec<C2dMessage>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM c2d_messages {where_sql}"))?;
    let rows = stmt.query_map(params, from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Inserts a message under its sequence number; `pushed` when it is
/// stored locked by a connection (see [`release_pushed`]).
pub(crate) fn insert(conn: &Connection, m: &C2dMessage, pushed: bool) -> HubResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO c2d_messages ({INSERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
    ))?
    .execute(rusqlite::params![
        m.sequence_number,
        m.device_id,
        m.message_id,
        m.correlation_id,
        m.user_id,
        m.to,
        m.expiry_time_utc.0,
        m.ack.as_str(),
        m.content_type,
        m.content_encoding,
        serde_json::to_string(&m.properties).map_err(HubError::from)?,
        m.body,
        m.enqueued_time.0,
        if m.state == MessageState::Invisible { 1 } else { 0 },
        m.lock_token,
        m.lock_expiry.map(|t| t.0),
        m.delivery_count,
        m.attempts,
        pushed,
    ])?;
    Ok(())
}

/// Messages in a device's queue (Enqueued plus Invisible).
pub(crate) fn count(conn: &Connection, device: &str) -> HubResult<u32> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM c2d_messages WHERE device_id = ?1")?
        .query_row([device], |r| r.get(0))?)
}

/// What a send needs to know of its device's queue, from one pass over it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Census {
    /// Messages that take a place in the queue (all but expired waiting ones).
    pub live: u32,
    /// Waiting messages whose TTL has run out.
    pub expired_waiting: u32,
    /// Locked messages whose lock has run out.
    pub locks_out: u32,
    /// Messages locked by a connection (its delivery window's use).
    pub pushed: usize,
    /// Locked messages, by anyone (`live` less these are waiting).
    pub locked: u32,
}

/// One pass over a device's queue (at most its cap of rows) answering what
/// a send asks before it stores and locks its message. Why: asked one at a
/// time (places taken, expired messages, run-out locks, the window's use)
/// these were five queries per send on the storage writer, where nearly
/// always the answer is "none expired" (docs/benchmarks.md).
pub(crate) fn census(conn: &Connection, device: &str, now: Timestamp) -> HubResult<Census> {
    let mut stmt = conn.prepare_cached(
        "SELECT count(*) FILTER (WHERE NOT (state = 0 AND expiry_ms <= ?2)),
                count(*) FILTER (WHERE state = 0 AND expiry_ms <= ?2),
                count(*) FILTER (WHERE state = 1 AND lock_until_ms <= ?2),
                count(*) FILTER (WHERE state = 1 AND lock_pushed = 1),
                count(*) FILTER (WHERE state = 1)
         FROM c2d_messages WHERE device_id = ?1",
    )?;
    Ok(stmt.query_row((device, now.0), |r| {
        Ok(Census {
            live: r.get(0)?,
            expired_waiting: r.get(1)?,
            locks_out: r.get(2)?,
            pushed: usize::try_from(r.get::<_, i64>(3)?).unwrap_or(usize::MAX),
            locked: r.get(4)?,
        })
    })?)
}

/// All messages in the hub's queues.
pub(crate) fn total(conn: &Connection) -> HubResult<u64> {
    Ok(
        conn.query_row("SELECT count(*) FROM c2d_messages", [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
    )
}

/// The oldest deliverable message of a device: Enqueued and not expired.
pub(crate) fn next_ready(
    conn: &Connection,
    device: &str,
    now: Timestamp,
) -> HubResult<Option<C2dMessage>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM c2d_messages WHERE device_id = ?1 AND state = 0 AND expiry_ms > ?2 ORDER BY seq LIMIT 1"
    ))?;
    Ok(stmt.query_row((device, now.0), from_row).optional()?)
}

/// The sequence number of a device's oldest deliverable message (as
/// [`next_ready`], without reading the message).
pub(crate) fn next_ready_seq(
    conn: &Connection,
    device: &str,
    now: Timestamp,
) -> HubResult<Option<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq FROM c2d_messages WHERE device_id = ?1 AND state = 0 AND expiry_ms > ?2 ORDER BY seq LIMIT 1",
    )?;
    Ok(stmt.query_row((device, now.0), |r| r.get(0)).optional()?)
}

/// One message of a device by its sequence number.
pub(crate) fn by_seq(conn: &Connection, device: &str, seq: i64) -> HubResult<Option<C2dMessage>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM c2d_messages WHERE seq = ?2 AND device_id = ?1"
    ))?;
    Ok(stmt.query_row((device, seq), from_row).optional()?)
}

/// The message a device holds under `token`, whatever its lock's age.
pub(crate) fn by_lock(
    conn: &Connection,
    device: &str,
    token: &str,
) -> HubResult<Option<C2dMessage>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM c2d_messages WHERE lock_token = ?1 AND device_id = ?2 AND state = 1"
    ))?;
    Ok(stmt.query_row((token, device), from_row).optional()?)
}

/// Writes a message's queue state back.
pub(crate) fn save_state(conn: &Connection, m: &C2dMessage) -> HubResult<()> {
    conn.prepare_cached(
        "UPDATE c2d_messages SET state = ?3, lock_token = ?4, lock_until_ms = ?5, delivery_count = ?6, attempts = ?7
         WHERE seq = ?2 AND device_id = ?1",
    )?
    .execute(rusqlite::params![
        m.device_id,
        m.sequence_number,
        if m.state == MessageState::Invisible { 1 } else { 0 },
        m.lock_token,
        m.lock_expiry.map(|t| t.0),
        m.delivery_count,
        m.attempts,
    ])?;
    Ok(())
}

/// Locks message `m` (Invisible, with its token, expiry and counts) and
/// records who holds the lock: a connection (`pushed`) or an HTTP client.
/// One write, where a state save and a holder mark were two.
pub(crate) fn save_lock(conn: &Connection, m: &C2dMessage, pushed: bool) -> HubResult<()> {
    conn.prepare_cached(
        "UPDATE c2d_messages SET state = 1, lock_token = ?3, lock_until_ms = ?4, delivery_count = ?5, attempts = ?6, lock_pushed = ?7
         WHERE seq = ?2 AND device_id = ?1",
    )?
    .execute(rusqlite::params![
        m.device_id,
        m.sequence_number,
        m.lock_token,
        m.lock_expiry.map(|t| t.0),
        m.delivery_count,
        m.attempts,
        pushed,
    ])?;
    Ok(())
}

/// How many of a device's messages are locked by a connection: its
/// delivery window's use, counted in the open transaction so that locks
/// taken earlier in the same group count too.
pub(crate) fn count_pushed_locks(conn: &Connection, device: &str) -> HubResult<usize> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM c2d_messages WHERE device_id = ?1 AND state = 1 AND lock_pushed = 1",
        )?
        .query_row([device], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Messages locked by a connection: (device, lock token).
pub(crate) fn pushed_locks(conn: &Connection) -> HubResult<Vec<(String, String)>> {
    let mut st = conn.prepare(
        "SELECT device_id, lock_token FROM c2d_messages WHERE state = 1 AND lock_pushed = 1 AND lock_token IS NOT NULL",
    )?;
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(crate) fn delete(conn: &Connection, device: &str, seq: i64) -> HubResult<()> {
    conn.prepare_cached("DELETE FROM c2d_messages WHERE seq = ?2 AND device_id = ?1")?
        .execute((device, seq))?;
    Ok(())
}

/// A device's queue in delivery order.
pub(crate) fn list(conn: &Connection, device: &str) -> HubResult<Vec<C2dMessage>> {
    query(conn, "WHERE device_id = ?1 ORDER BY seq", [device])
}

/// Enqueued messages whose TTL has run out (one device, or all when `None`).
pub(crate) fn expired_enqueued(
    conn: &Connection,
    device: Option<&str>,
    now: Timestamp,
    limit: usize,
) -> HubResult<Vec<C2dMessage>> {
    let limit = i64::try_from(limit).unwrap_or(-1);
    match device {
        Some(d) => query(
            conn,
            "WHERE device_id = ?1 AND state = 0 AND expiry_ms <= ?2 ORDER BY seq LIMIT ?3",
            (d, now.0, limit),
        ),
        None => query(
            conn,
            &format!("WHERE {DUE} <= ?1 AND state = 0 ORDER BY {DUE} LIMIT ?2"),
            (now.0, limit),
        ),
    }
}

/// Invisible messages whose lock has run out (one device, or all when `None`).
pub(crate) fn lock_expired(
    conn: &Connection,
    device: Option<&str>,
    now: Timestamp,
    limit: usize,
) -> HubResult<Vec<C2dMessage>> {
    let limit = i64::try_from(limit).unwrap_or(-1);
    match device {
        Some(d) => query(
            conn,
            "WHERE device_id = ?1 AND state = 1 AND lock_until_ms <= ?2 ORDER BY seq LIMIT ?3",
            (d, now.0, limit),
        ),
        None => query(
            conn,
            &format!("WHERE {DUE} <= ?1 AND state = 1 ORDER BY {DUE} LIMIT ?2"),
            (now.0, limit),
        ),
    }
}

/// Removes a device's whole queue without feedback (device deletion).
pub(crate) fn delete_all(conn: &Connection, device: &str) -> HubResult<usize> {
    Ok(conn.execute("DELETE FROM c2d_messages WHERE device_id = ?1", [device])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sweeper's two hub-wide questions read the `c2d_due` index in its
    /// order, so a sweep costs what it finds, never a scan or a sort of
    /// every queued message.
    #[test]
    fn the_sweepers_questions_read_the_due_index_in_order() {
        let conn = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&conn).unwrap();
        for state in [0, 1] {
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT {COLUMNS} FROM c2d_messages WHERE {DUE} <= 5 AND state = {state} ORDER BY {DUE} LIMIT 10"
            );
            let plan: Vec<String> = conn
                .prepare(&sql)
                .unwrap()
                .query_map([], |r| r.get(3))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            let plan = plan.join("; ");
            assert!(plan.contains("USING INDEX c2d_due"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}
