//! Feedback storage: records, the batches (feedback messages) they are
//! sealed into, and when the last batch was sealed.

use rusqlite::{Connection, OptionalExtension};

use super::{FeedbackRecord, FeedbackStatus};
use crate::clock::Timestamp;
use crate::error::HubResult;

pub(crate) const V1: &str = "
CREATE TABLE feedback_batches (
    id             INTEGER PRIMARY KEY,
    enqueued_ms    INTEGER NOT NULL,
    expiry_ms      INTEGER NOT NULL,
    state          INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1)),
    lock_token     TEXT,
    lock_until_ms  INTEGER,
    delivery_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX feedback_batch_lock ON feedback_batches (lock_token) WHERE lock_token IS NOT NULL;
CREATE TABLE feedback_records (
    id                   INTEGER PRIMARY KEY,
    original_message_id  TEXT NOT NULL,
    device_id            TEXT NOT NULL,
    device_generation_id TEXT NOT NULL,
    status_code          TEXT NOT NULL,
    description          TEXT NOT NULL,
    enqueued_ms          INTEGER NOT NULL,
    batch_id             INTEGER REFERENCES feedback_batches (id) ON DELETE CASCADE
);
CREATE INDEX feedback_by_batch ON feedback_records (batch_id, id);
CREATE TABLE feedback_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    last_seal_ms INTEGER NOT NULL
);
INSERT INTO feedback_state (id, last_seal_ms) VALUES (1, 0);
";

/// A stored batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchRow {
    pub id: i64,
    pub enqueued: Timestamp,
    pub expiry: Timestamp,
    pub locked: bool,
    pub lock_token: Option<String>,
    pub lock_until: Option<Timestamp>,
    pub delivery_count: u32,
}

pub(crate) fn insert_record(conn: &Connection, r: &FeedbackRecord) -> HubResult<()> {
    conn.prepare_cached(
        "INSERT INTO feedback_records (original_message_id, device_id, device_generation_id, status_code, description, enqueued_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute((
        &r.original_message_id,
        &r.device_id,
        &r.device_generation_id,
        r.status_code.as_str(),
        &r.description,
        r.enqueued_time_utc.0,
    ))?;
    Ok(())
}

pub(crate) fn pending_count(conn: &Connection) -> HubResult<u64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM feedback_records WHERE batch_id IS NULL")?
        .query_row([], |r| r.get::<_, i64>(0))? as u64)
}

/// Pending records, oldest first.
pub(crate) fn pending(conn: &Connection, limit: usize) -> HubResult<Vec<(i64, FeedbackRecord)>> {
    records(
        conn,
        "WHERE batch_id IS NULL ORDER BY id LIMIT ?1",
        [limit as i64],
    )
}

/// Records sealed into a batch, oldest first.
pub(crate) fn batch_records(conn: &Connection, batch: i64) -> HubResult<Vec<FeedbackRecord>> {
    Ok(records(conn, "WHERE batch_id = ?1 ORDER BY id", [batch])?
        .into_iter()
        .map(|(_, r)| r)
        .collect())
}

fn records(
    conn: &Connection,
    tail: &str,
    p: impl rusqlite::Params,
) -> HubResult<Vec<(i64, FeedbackRecord)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, original_message_id, device_id, device_generation_id, status_code, description, enqueued_ms FROM feedback_records {tail}"
    ))?;
    let rows = stmt.query_map(p, |r| {
        let status: String = r.get(4)?;
        Ok((
            r.get(0)?,
            FeedbackRecord {
                original_message_id: r.get(1)?,
                device_id: r.get(2)?,
                device_generation_id: r.get(3)?,
                status_code: FeedbackStatus::parse(&status),
                description: r.get(5)?,
                enqueued_time_utc: Timestamp(r.get(6)?),
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn insert_batch(
    conn: &Connection,
    enqueued: Timestamp,
    expiry: Timestamp,
) -> HubResult<i64> {
    conn.prepare_cached("INSERT INTO feedback_batches (enqueued_ms, expiry_ms) VALUES (?1, ?2)")?
        .execute((enqueued.0, expiry.0))?;
    Ok(conn.last_insert_rowid())
}

pub(crate) fn assign(conn: &Connection, batch: i64, up_to_record: i64) -> HubResult<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE feedback_records SET batch_id = ?1 WHERE batch_id IS NULL AND id <= ?2",
        )?
        .execute((batch, up_to_record))?)
}

pub(crate) fn last_seal(conn: &Connection) -> HubResult<Timestamp> {
    Ok(Timestamp(conn.query_row(
        "SELECT last_seal_ms FROM feedback_state WHERE id = 1",
        [],
        |r| r.get(0),
    )?))
}

pub(crate) fn set_last_seal(conn: &Connection, t: Timestamp) -> HubResult<()> {
    conn.execute(
        "UPDATE feedback_state SET last_seal_ms = ?1 WHERE id = 1",
        [t.0],
    )?;
    Ok(())
}

const BATCH_COLUMNS: &str =
    "id, enqueued_ms, expiry_ms, state, lock_token, lock_until_ms, delivery_count";

fn batch_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BatchRow> {
    Ok(BatchRow {
        id: r.get(0)?,
        enqueued: Timestamp(r.get(1)?),
        expiry: Timestamp(r.get(2)?),
        locked: r.get::<_, i64>(3)? == 1,
        lock_token: r.get(4)?,
        lock_until: r.get::<_, Option<i64>>(5)?.map(Timestamp),
        delivery_count: r.get(6)?,
    })
}

pub(crate) fn batches(
    conn: &Connection,
    tail: &str,
    p: impl rusqlite::Params,
) -> HubResult<Vec<BatchRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {BATCH_COLUMNS} FROM feedback_batches {tail}"
    ))?;
    let rows = stmt.query_map(p, batch_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn batch_by_lock(conn: &Connection, token: &str) -> HubResult<Option<BatchRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {BATCH_COLUMNS} FROM feedback_batches WHERE lock_token = ?1 AND state = 1"
    ))?;
    Ok(stmt.query_row([token], batch_from_row).optional()?)
}

pub(crate) fn save_batch(conn: &Connection, b: &BatchRow) -> HubResult<()> {
    conn.prepare_cached(
        "UPDATE feedback_batches SET state = ?2, lock_token = ?3, lock_until_ms = ?4, delivery_count = ?5 WHERE id = ?1",
    )?
    .execute((
        b.id,
        i64::from(b.locked),
        &b.lock_token,
        b.lock_until.map(|t| t.0),
        b.delivery_count,
    ))?;
    Ok(())
}

pub(crate) fn delete_batch(conn: &Connection, id: i64) -> HubResult<()> {
    conn.prepare_cached("DELETE FROM feedback_batches WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Drops a deleted device's records that are not yet in a batch.
pub(crate) fn drop_pending_for_device(conn: &Connection, device: &str) -> HubResult<usize> {
    Ok(conn.execute(
        "DELETE FROM feedback_records WHERE batch_id IS NULL AND device_id = ?1",
        [device],
    )?)
}

pub(crate) fn batch_count(conn: &Connection) -> HubResult<u64> {
    Ok(
        conn.query_row("SELECT count(*) FROM feedback_batches", [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
    )
}
