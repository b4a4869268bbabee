//! The `modules` table: module identities, each under a device, deleted
//! with it (trigger). Also rebuilds `twins` keyed by device and module.

use rusqlite::{Connection, OptionalExtension, Row};

use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};

pub(crate) const V6: &str = "
CREATE TABLE modules (
    device_id         TEXT NOT NULL,
    module_id         TEXT NOT NULL,
    generation_id     TEXT NOT NULL,
    version           INTEGER NOT NULL,
    primary_key       TEXT NOT NULL,
    secondary_key     TEXT NOT NULL,
    managed_by        TEXT,
    created_ms        INTEGER NOT NULL,
    last_activity_ms  INTEGER,
    PRIMARY KEY (device_id, module_id)
) WITHOUT ROWID;
CREATE TRIGGER modules_follow_devices AFTER DELETE ON devices
BEGIN
    DELETE FROM modules WHERE device_id = old.device_id;
END;

CREATE TABLE twins_v6 (
    device_id  TEXT NOT NULL,
    module_id  TEXT NOT NULL DEFAULT '',
    tags       TEXT,
    desired    TEXT NOT NULL,
    reported   TEXT NOT NULL,
    etag_seq   INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    model_id   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (device_id, module_id)
);
INSERT INTO twins_v6 (device_id, module_id, tags, desired, reported, etag_seq, version, model_id)
    SELECT device_id, '', tags, desired, reported, etag_seq, version, model_id FROM twins;
DROP TRIGGER twins_follow_devices;
DROP TABLE twins;
ALTER TABLE twins_v6 RENAME TO twins;
CREATE TRIGGER twins_follow_devices AFTER DELETE ON devices
BEGIN
    DELETE FROM twins WHERE device_id = old.device_id;
END;
CREATE TRIGGER twins_follow_modules AFTER DELETE ON modules
BEGIN
    DELETE FROM twins WHERE device_id = old.device_id AND module_id = old.module_id;
END;";

/// A module as stored (without runtime presence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModuleRow {
    pub device_id: String,
    pub module_id: String,
    pub generation_id: String,
    pub version: i64,
    pub primary_key: String,
    pub secondary_key: String,
    pub managed_by: Option<String>,
    pub created: Timestamp,
    pub last_activity: Option<Timestamp>,
}

const COLUMNS: &str = "device_id, module_id, generation_id, version, primary_key, secondary_key, managed_by, created_ms, last_activity_ms";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ModuleRow> {
    Ok(ModuleRow {
        device_id: r.get(0)?,
        module_id: r.get(1)?,
        generation_id: r.get(2)?,
        version: r.get(3)?,
        primary_key: r.get(4)?,
        secondary_key: r.get(5)?,
        managed_by: r.get(6)?,
        created: Timestamp(r.get(7)?),
        last_activity: r.get::<_, Option<i64>>(8)?.map(Timestamp),
    })
}

pub(crate) fn get(conn: &Connection, device: &str, module: &str) -> HubResult<Option<ModuleRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM modules WHERE device_id = ?1 AND module_id = ?2"
    ))?;
    Ok(stmt.query_row([device, module], from_row).optional()?)
}

/// The module, or 404010 (404001 when the device itself is unknown).
pub(crate) fn get_required(conn: &Connection, device: &str, module: &str) -> HubResult<ModuleRow> {
    if let Some(m) = get(conn, device, module)? {
        return Ok(m);
    }
    crate::registry::table::require(conn, device)?;
    Err(HubError::ModuleNotFound {
        device: device.to_string(),
        module: module.to_string(),
    })
}

pub(crate) fn insert(conn: &Connection, m: &ModuleRow) -> HubResult<()> {
    let r = conn.execute(
        &format!("INSERT INTO modules ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        (
            &m.device_id,
            &m.module_id,
            &m.generation_id,
            m.version,
            &m.primary_key,
            &m.secondary_key,
            &m.managed_by,
            m.created.0,
            m.last_activity.map(|t| t.0),
        ),
    );
    match r {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(HubError::ModuleAlreadyExists {
                device: m.device_id.clone(),
                module: m.module_id.clone(),
            })
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn update(conn: &Connection, m: &ModuleRow) -> HubResult<()> {
    conn.execute(
        "UPDATE modules SET version = ?3, primary_key = ?4, secondary_key = ?5, managed_by = ?6
         WHERE device_id = ?1 AND module_id = ?2",
        (
            &m.device_id,
            &m.module_id,
            m.version,
            &m.primary_key,
            &m.secondary_key,
            &m.managed_by,
        ),
    )?;
    Ok(())
}

pub(crate) fn set_last_activity(
    conn: &Connection,
    device: &str,
    module: &str,
    t: Timestamp,
) -> HubResult<()> {
    conn.prepare_cached(
        "UPDATE modules SET last_activity_ms = max(ifnull(last_activity_ms, 0), ?3)
         WHERE device_id = ?1 AND module_id = ?2",
    )?
    .execute((device, module, t.0))?;
    Ok(())
}

pub(crate) fn delete(conn: &Connection, device: &str, module: &str) -> HubResult<()> {
    conn.execute(
        "DELETE FROM modules WHERE device_id = ?1 AND module_id = ?2",
        [device, module],
    )?;
    Ok(())
}

/// The device's modules in id order (`None` device: every module).
pub(crate) fn list(conn: &Connection, device: Option<&str>) -> HubResult<Vec<ModuleRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM modules WHERE ?1 IS NULL OR device_id = ?1 ORDER BY device_id, module_id"
    ))?;
    let rows = stmt
        .query_map([device], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
