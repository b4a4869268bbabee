//! The `settings` table: one row holding the hub's settings as JSON.

use rusqlite::{Connection, OptionalExtension};

use super::HubSettings;
use crate::error::HubResult;

pub(crate) const V1: &str = "
CREATE TABLE settings (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    json TEXT NOT NULL
);";

/// The stored settings, if any were saved.
pub(crate) fn load(conn: &Connection) -> HubResult<Option<HubSettings>> {
    let json: Option<String> = conn
        .query_row("SELECT json FROM settings WHERE id = 1", [], |r| r.get(0))
        .optional()?;
    match json {
        None => Ok(None),
        Some(j) => Ok(Some(serde_json::from_str(&j).map_err(|e| {
            crate::HubError::BadDatabase(format!("stored settings are unreadable: {e}"))
        })?)),
    }
}

/// Replaces the stored settings.
pub(crate) fn save(conn: &Connection, s: &HubSettings) -> HubResult<()> {
    conn.execute(
        "INSERT INTO settings (id, json) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET json = excluded.json",
        [serde_json::to_string(s)?],
    )?;
    Ok(())
}
