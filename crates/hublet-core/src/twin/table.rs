//! The `twins` table: one row per device whose twin was ever written. A
//! device without a row has a fresh twin (both sections at version 1).

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::TwinState;
use super::doc::Section;
use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};

pub(crate) const V5: &str = "
CREATE TABLE twins (
    device_id  TEXT PRIMARY KEY NOT NULL,
    tags       TEXT,
    desired    TEXT NOT NULL,
    reported   TEXT NOT NULL,
    etag_seq   INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    model_id   TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER twins_follow_devices AFTER DELETE ON devices
BEGIN
    DELETE FROM twins WHERE device_id = old.device_id;
END;";

fn corrupt(e: serde_json::Error) -> HubError {
    HubError::BadDatabase(format!("a stored twin cannot be read: {e}"))
}

/// The device's twin; a fresh one (made at `created`) when none is stored.
pub(crate) fn load(conn: &Connection, device: &str, created: Timestamp) -> HubResult<TwinState> {
    let row = conn
        .query_row(
            "SELECT tags, desired, reported, etag_seq, version, model_id FROM twins WHERE device_id = ?1",
            [device],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((tags, desired, reported, etag_seq, version, model_id)) = row else {
        return Ok(TwinState::fresh(created));
    };
    let tags = match tags {
        Some(t) => Some(serde_json::from_str::<Map<String, Value>>(&t).map_err(corrupt)?),
        None => None,
    };
    Ok(TwinState {
        tags,
        desired: serde_json::from_str::<Section>(&desired).map_err(corrupt)?,
        reported: serde_json::from_str::<Section>(&reported).map_err(corrupt)?,
        etag_seq: u64::try_from(etag_seq).unwrap_or(1),
        version: u64::try_from(version).unwrap_or(2),
        model_id,
    })
}

/// Every stored twin, by device id (devices without a row have fresh twins).
pub(crate) fn load_all(
    conn: &Connection,
) -> HubResult<std::collections::HashMap<String, TwinState>> {
    let mut stmt = conn.prepare("SELECT device_id FROM twins")?;
    let ids: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for id in ids {
        let t = load(conn, &id, Timestamp(0))?;
        out.insert(id, t);
    }
    Ok(out)
}

pub(crate) fn save(conn: &Connection, device: &str, t: &TwinState) -> HubResult<()> {
    let enc = |v: &dyn erased::Json| v.json();
    conn.execute(
        "INSERT INTO twins (device_id, tags, desired, reported, etag_seq, version, model_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(device_id) DO UPDATE SET tags = ?2, desired = ?3, reported = ?4,
             etag_seq = ?5, version = ?6, model_id = ?7",
        params![
            device,
            t.tags.as_ref().map(|m| enc(m)),
            enc(&t.desired),
            enc(&t.reported),
            i64::try_from(t.etag_seq).unwrap_or(i64::MAX),
            i64::try_from(t.version).unwrap_or(i64::MAX),
            t.model_id,
        ],
    )?;
    Ok(())
}

mod erased {
    /// Serializes to JSON text; serde_json never fails on these types.
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}
