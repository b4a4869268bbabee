//! The `twins` table: one row per device or module whose twin was ever
//! written, keyed by device id and module id (`""` for the device's own
//! twin; rebuilt so in migration 6, `crate::modules::table`). An identity
//! without a row has a fresh twin (both sections at version 1).

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

/// The twin of `device` (`module` `""`) or of one of its modules; a fresh
/// one (made at `created`) when none is stored.
pub(crate) fn load(
    conn: &Connection,
    device: &str,
    module: &str,
    created: Timestamp,
) -> HubResult<TwinState> {
    let row = conn
        .query_row(
            "SELECT tags, desired, reported, etag_seq, version, model_id FROM twins WHERE device_id = ?1 AND module_id = ?2",
            [device, module],
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

/// Every stored twin, by (device id, module id); `modules` picks module
/// twins, else device twins (identities without a row have fresh twins).
pub(crate) fn load_all(
    conn: &Connection,
    modules: bool,
) -> HubResult<std::collections::HashMap<(String, String), TwinState>> {
    let mut stmt = conn.prepare(if modules {
        "SELECT device_id, module_id FROM twins WHERE module_id <> ''"
    } else {
        "SELECT device_id, module_id FROM twins WHERE module_id = ''"
    })?;
    let ids: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for (d, m) in ids {
        let t = load(conn, &d, &m, Timestamp(0))?;
        out.insert((d, m), t);
    }
    Ok(out)
}

pub(crate) fn save(conn: &Connection, device: &str, module: &str, t: &TwinState) -> HubResult<()> {
    let enc = |v: &dyn erased::Json| v.json();
    conn.execute(
        "INSERT INTO twins (device_id, tags, desired, reported, etag_seq, version, model_id, module_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(device_id, module_id) DO UPDATE SET tags = ?2, desired = ?3, reported = ?4,
             etag_seq = ?5, version = ?6, model_id = ?7",
        params![
            device,
            t.tags.as_ref().map(|m| enc(m)),
            enc(&t.desired),
            enc(&t.reported),
            i64::try_from(t.etag_seq).unwrap_or(i64::MAX),
            i64::try_from(t.version).unwrap_or(i64::MAX),
            t.model_id,
            module,
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
