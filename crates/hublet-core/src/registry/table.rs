//! The `devices` table.

use rusqlite::{Connection, OptionalExtension, Row};

use super::{DeviceKind, DeviceStatus};
use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};

pub(crate) const V1: &str = "
CREATE TABLE devices (
    device_id         TEXT PRIMARY KEY NOT NULL,
    generation_id     TEXT NOT NULL,
    version           INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    status_reason     TEXT,
    status_updated_ms INTEGER NOT NULL,
    primary_key       TEXT NOT NULL,
    secondary_key     TEXT NOT NULL,
    kind              TEXT NOT NULL,
    created_ms        INTEGER NOT NULL,
    last_activity_ms  INTEGER
);";

/// A device as stored (without runtime presence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceRow {
    pub device_id: String,
    pub generation_id: String,
    pub version: i64,
    pub status: DeviceStatus,
    pub status_reason: Option<String>,
    pub status_updated: Timestamp,
    pub primary_key: String,
    pub secondary_key: String,
    pub kind: DeviceKind,
    pub created: Timestamp,
    pub last_activity: Option<Timestamp>,
}

const COLUMNS: &str = "device_id, generation_id, version, status, status_reason, status_updated_ms, primary_key, secondary_key, kind, created_ms, last_activity_ms";

fn from_row(r: &Row<'_>) -> rusqlite::Result<DeviceRow> {
    let status: String = r.get(3)?;
    let kind: String = r.get(8)?;
    Ok(DeviceRow {
        device_id: r.get(0)?,
        generation_id: r.get(1)?,
        version: r.get(2)?,
        status: if status == "disabled" {
            DeviceStatus::Disabled
        } else {
            DeviceStatus::Enabled
        },
        status_reason: r.get(4)?,
        status_updated: Timestamp(r.get(5)?),
        primary_key: r.get(6)?,
        secondary_key: r.get(7)?,
        kind: DeviceKind::from_db(&kind),
        created: Timestamp(r.get(9)?),
        last_activity: r.get::<_, Option<i64>>(10)?.map(Timestamp),
    })
}

pub(crate) fn get(conn: &Connection, id: &str) -> HubResult<Option<DeviceRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM devices WHERE device_id = ?1"
    ))?;
    Ok(stmt.query_row([id], from_row).optional()?)
}

pub(crate) fn get_required(conn: &Connection, id: &str) -> HubResult<DeviceRow> {
    get(conn, id)?.ok_or_else(|| HubError::DeviceNotFound(id.to_string()))
}

/// Refuses an unknown device without reading its row. Why: a C2D send and
/// the pump only need the device to exist, and decoding the row (keys,
/// generation, status) cost the storage writer about 5 % of its time per
/// send (docs/benchmarks.md).
pub(crate) fn require(conn: &Connection, id: &str) -> HubResult<()> {
    let found = conn
        .prepare_cached("SELECT 1 FROM devices WHERE device_id = ?1")?
        .exists([id])?;
    if found {
        Ok(())
    } else {
        Err(HubError::DeviceNotFound(id.to_string()))
    }
}

pub(crate) fn insert(conn: &Connection, d: &DeviceRow) -> HubResult<()> {
    let r = conn.execute(
        &format!(
            "INSERT INTO devices ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ),
        (
            &d.device_id,
            &d.generation_id,
            d.version,
            d.status.as_str(),
            &d.status_reason,
            d.status_updated.0,
            &d.primary_key,
            &d.secondary_key,
            d.kind.as_str(),
            d.created.0,
            d.last_activity.map(|t| t.0),
        ),
    );
    match r {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(HubError::DeviceAlreadyExists(d.device_id.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn update(conn: &Connection, d: &DeviceRow) -> HubResult<()> {
    conn.execute(
        "UPDATE devices SET version = ?2, status = ?3, status_reason = ?4, status_updated_ms = ?5,
             primary_key = ?6, secondary_key = ?7, kind = ?8, last_activity_ms = ?9
         WHERE device_id = ?1",
        (
            &d.device_id,
            d.version,
            d.status.as_str(),
            &d.status_reason,
            d.status_updated.0,
            &d.primary_key,
            &d.secondary_key,
            d.kind.as_str(),
            d.last_activity.map(|t| t.0),
        ),
    )?;
    Ok(())
}

pub(crate) fn set_last_activity(conn: &Connection, id: &str, t: Timestamp) -> HubResult<()> {
    conn.prepare_cached("UPDATE devices SET last_activity_ms = max(ifnull(last_activity_ms, 0), ?2) WHERE device_id = ?1")?
        .execute((id, t.0))?;
    Ok(())
}

pub(crate) fn delete(conn: &Connection, id: &str) -> HubResult<()> {
    conn.execute("DELETE FROM devices WHERE device_id = ?1", [id])?;
    Ok(())
}

/// The IoT Plug and Play model id the device announced (`""` if none),
/// kept in its twin.
pub(crate) fn model_id(conn: &Connection, id: &str) -> HubResult<String> {
    Ok(conn
        .prepare_cached("SELECT model_id FROM twins WHERE device_id = ?1 AND module_id = ''")?
        .query_row([id], |r| r.get::<_, String>(0))
        .optional()?
        .unwrap_or_default())
}

/// Devices whose id contains `search`, ordered by id, with their queue
/// counts and model ids.
pub(crate) fn list(
    conn: &Connection,
    search: Option<&str>,
    after: Option<&str>,
    limit: usize,
) -> HubResult<Vec<(DeviceRow, u32, String)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, (SELECT count(*) FROM c2d_messages m WHERE m.device_id = devices.device_id),
                ifnull((SELECT model_id FROM twins t WHERE t.device_id = devices.device_id AND t.module_id = ''), '')
         FROM devices
         WHERE (?1 IS NULL OR instr(lower(device_id), lower(?1)) > 0)
           AND (?2 IS NULL OR device_id > ?2)
         ORDER BY device_id LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        (search, after, i64::try_from(limit).unwrap_or(i64::MAX)),
        |r| Ok((from_row(r)?, r.get::<_, u32>(11)?, r.get::<_, String>(12)?)),
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) fn count(conn: &Connection) -> HubResult<u64> {
    Ok(conn.query_row("SELECT count(*) FROM devices", [], |r| r.get::<_, i64>(0))? as u64)
}
