//! The `adapter_state` table.

use rusqlite::{Connection, OptionalExtension};

use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};

pub(crate) const V2: &str = "
CREATE TABLE adapter_state (
    namespace  TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (namespace, device_id)
) WITHOUT ROWID;
CREATE INDEX adapter_state_by_device ON adapter_state (device_id);
";

pub(crate) fn get(
    conn: &Connection,
    ns: &str,
    device: &str,
) -> HubResult<Option<serde_json::Value>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT value FROM adapter_state WHERE namespace = ?1 AND device_id = ?2")?
        .query_row((ns, device), |r| r.get(0))
        .optional()?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            HubError::BadDatabase(format!("{ns} state of '{device}' is unreadable: {e}"))
        })
    })
    .transpose()
}

pub(crate) fn put(
    conn: &Connection,
    ns: &str,
    device: &str,
    value: &serde_json::Value,
    now: Timestamp,
) -> HubResult<()> {
    conn.prepare_cached(
        "INSERT INTO adapter_state (namespace, device_id, value, updated_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (namespace, device_id) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms",
    )?
    .execute((ns, device, serde_json::to_string(value)?, now.0))?;
    Ok(())
}

pub(crate) fn all(conn: &Connection, ns: &str) -> HubResult<Vec<(String, serde_json::Value)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT device_id, value FROM adapter_state WHERE namespace = ?1 ORDER BY device_id",
    )?;
    let rows = stmt.query_map([ns], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (d, v) = row?;
        let v = serde_json::from_str(&v).map_err(|e| {
            HubError::BadDatabase(format!("{ns} state of '{d}' is unreadable: {e}"))
        })?;
        out.push((d, v));
    }
    Ok(out)
}

/// Removes one device's state in `ns`.
pub(crate) fn remove(conn: &Connection, ns: &str, device: &str) -> HubResult<()> {
    conn.prepare_cached("DELETE FROM adapter_state WHERE namespace = ?1 AND device_id = ?2")?
        .execute((ns, device))?;
    Ok(())
}

/// Removes every adapter's state of a deleted device.
pub(crate) fn remove_device(conn: &Connection, device: &str) -> HubResult<usize> {
    Ok(conn.execute("DELETE FROM adapter_state WHERE device_id = ?1", [device])?)
}
