//! The event log's tables: the events themselves, one counter row per
//! partition (so sequence numbers and offsets keep increasing after
//! retention empties a partition, and across restarts), and the consumer
//! groups created besides `$Default`.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{HubEvent, PartitionInfo};
use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};

pub(crate) const V7: &str = "
CREATE TABLE eh_events (
    partition    INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    offset       INTEGER NOT NULL,
    enqueued_ms  INTEGER NOT NULL,
    device_id    TEXT NOT NULL,
    module_id    TEXT NOT NULL DEFAULT '',
    via          TEXT NOT NULL,
    body         BLOB NOT NULL,
    props        TEXT NOT NULL,
    PRIMARY KEY (partition, seq)
) WITHOUT ROWID;
CREATE INDEX eh_by_offset ON eh_events (partition, offset);
CREATE INDEX eh_by_time ON eh_events (partition, enqueued_ms);
CREATE TABLE eh_partitions (
    partition    INTEGER PRIMARY KEY NOT NULL,
    next_seq     INTEGER NOT NULL,
    next_offset  INTEGER NOT NULL
);
CREATE TABLE eh_consumer_groups (
    name        TEXT PRIMARY KEY NOT NULL,
    created_ms  INTEGER NOT NULL
);";

/// Where the next event of `partition` goes: its sequence number and offset.
pub(crate) fn next_position(conn: &Connection, partition: u32) -> HubResult<(i64, i64)> {
    Ok(conn
        .prepare_cached("SELECT next_seq, next_offset FROM eh_partitions WHERE partition = ?1")?
        .query_row([partition], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, 0)))
}

/// Stores one event at the partition's next position and moves it on by
/// one sequence number and the event's stored size in bytes.
pub(crate) fn insert(conn: &Connection, e: &HubEvent, size: i64) -> HubResult<()> {
    conn.prepare_cached(
        "INSERT INTO eh_events (partition, seq, offset, enqueued_ms, device_id, module_id, via, body, props)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        e.partition,
        e.sequence_number,
        e.offset,
        e.enqueued_time.0,
        e.device_id,
        e.module_id.as_deref().unwrap_or(""),
        e.via,
        e.body,
        serde_json::to_string(&e.properties)?,
    ])?;
    conn.prepare_cached(
        "INSERT INTO eh_partitions (partition, next_seq, next_offset) VALUES (?1, ?2, ?3)
         ON CONFLICT(partition) DO UPDATE SET next_seq = ?2, next_offset = ?3",
    )?
    .execute(params![
        e.partition,
        e.sequence_number + 1,
        e.offset + size.max(1)
    ])?;
    Ok(())
}

const COLUMNS: &str = "partition, seq, offset, enqueued_ms, device_id, module_id, via, body, props";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(HubEvent, String)> {
    let module: String = r.get(5)?;
    Ok((
        HubEvent {
            partition: r.get(0)?,
            sequence_number: r.get(1)?,
            offset: r.get(2)?,
            enqueued_time: Timestamp(r.get(3)?),
            device_id: r.get(4)?,
            module_id: (!module.is_empty()).then_some(module),
            via: r.get(6)?,
            body: r.get(7)?,
            properties: Default::default(),
        },
        r.get(8)?,
    ))
}

/// Up to `max` events of `partition` from sequence number `from_seq` on.
pub(crate) fn read_from(
    conn: &Connection,
    partition: u32,
    from_seq: i64,
    max: usize,
) -> HubResult<Vec<HubEvent>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM eh_events WHERE partition = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        params![partition, from_seq, i64::try_from(max).unwrap_or(i64::MAX)],
        from_row,
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (mut e, props) = row?;
        e.properties = serde_json::from_str(&props).map_err(|err| {
            HubError::BadDatabase(format!("a stored event's properties cannot be read: {err}"))
        })?;
        out.push(e);
    }
    Ok(out)
}

/// The first sequence number at or after a position given by another
/// column (`offset` or `enqueued_ms`), strictly after `value` unless
/// `inclusive`; the partition's next sequence number when none is.
pub(crate) fn first_seq_where(
    conn: &Connection,
    partition: u32,
    column: &str,
    value: i64,
    inclusive: bool,
) -> HubResult<i64> {
    let op = if inclusive { ">=" } else { ">" };
    let sql = format!("SELECT min(seq) FROM eh_events WHERE partition = ?1 AND {column} {op} ?2");
    let found: Option<i64> = conn.query_row(&sql, params![partition, value], |r| r.get(0))?;
    match found {
        Some(s) => Ok(s),
        None => Ok(next_position(conn, partition)?.0),
    }
}

/// What `$management` tells about one partition.
pub(crate) fn partition_info(conn: &Connection, partition: u32) -> HubResult<PartitionInfo> {
    let (next_seq, _) = next_position(conn, partition)?;
    let first: Option<i64> = conn
        .prepare_cached("SELECT min(seq) FROM eh_events WHERE partition = ?1")?
        .query_row([partition], |r| r.get(0))?;
    let last: Option<(i64, i64, i64)> = conn
        .prepare_cached(
            "SELECT seq, offset, enqueued_ms FROM eh_events WHERE partition = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([partition], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(match last {
        Some((seq, offset, at)) => PartitionInfo {
            partition,
            begin_sequence_number: first.unwrap_or(seq),
            last_sequence_number: seq,
            last_offset: offset,
            last_enqueued_time: Some(Timestamp(at)),
            is_empty: false,
        },
        // An empty partition: Event Hubs reports -1 for an unused one; one
        // emptied by retention keeps counting from where it was.
        None => PartitionInfo {
            partition,
            begin_sequence_number: next_seq,
            last_sequence_number: next_seq - 1,
            last_offset: -1,
            last_enqueued_time: None,
            is_empty: true,
        },
    })
}

/// Deletes up to `chunk` of the oldest events of `partition` enqueued
/// before `cutoff` (a partition's events are in enqueued order); returns
/// how many.
pub(crate) fn prune_older_than(
    conn: &Connection,
    partition: u32,
    cutoff: Timestamp,
    chunk: usize,
) -> HubResult<usize> {
    let keep_from = first_seq_where(conn, partition, "enqueued_ms", cutoff.0, true)?;
    let first: Option<i64> = conn
        .prepare_cached("SELECT min(seq) FROM eh_events WHERE partition = ?1")?
        .query_row([partition], |r| r.get(0))?;
    let Some(first) = first else { return Ok(0) };
    let below = keep_from.min(first.saturating_add(i64::try_from(chunk).unwrap_or(i64::MAX)));
    Ok(conn.execute(
        "DELETE FROM eh_events WHERE partition = ?1 AND seq < ?2",
        params![partition, below],
    )?)
}

/// Deletes the oldest events of `partition` beyond the newest `keep`.
pub(crate) fn prune_beyond(conn: &Connection, partition: u32, keep: u64) -> HubResult<usize> {
    let (next_seq, _) = next_position(conn, partition)?;
    let below = next_seq.saturating_sub(i64::try_from(keep).unwrap_or(i64::MAX));
    Ok(conn.execute(
        "DELETE FROM eh_events WHERE partition = ?1 AND seq < ?2",
        params![partition, below],
    )?)
}

/// Whether any event was ever stored (the partition count is fixed after).
pub(crate) fn ever_used(conn: &Connection) -> HubResult<bool> {
    Ok(
        conn.query_row("SELECT EXISTS (SELECT 1 FROM eh_partitions)", [], |r| {
            r.get::<_, bool>(0)
        })?,
    )
}

/// The consumer groups created besides `$Default`, by name.
pub(crate) fn consumer_groups(conn: &Connection) -> HubResult<Vec<(String, Timestamp)>> {
    let mut stmt =
        conn.prepare_cached("SELECT name, created_ms FROM eh_consumer_groups ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, Timestamp(r.get(1)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Adds a consumer group; false if it exists.
pub(crate) fn add_consumer_group(conn: &Connection, name: &str, at: Timestamp) -> HubResult<bool> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO eh_consumer_groups (name, created_ms) VALUES (?1, ?2)",
        params![name, at.0],
    )? == 1)
}

/// Removes a consumer group; false if there was none.
pub(crate) fn remove_consumer_group(conn: &Connection, name: &str) -> HubResult<bool> {
    Ok(conn.execute("DELETE FROM eh_consumer_groups WHERE name = ?1", [name])? == 1)
}
