//! The `policies` table: the hub's shared access policies and their keys.

use rusqlite::Connection;

use super::Policy;
use crate::error::{HubError, HubResult};

pub(crate) const V1: &str = "
CREATE TABLE policies (
    name          TEXT PRIMARY KEY NOT NULL,
    primary_key   TEXT NOT NULL,
    secondary_key TEXT NOT NULL,
    permissions   TEXT NOT NULL
);";

/// Every policy.
pub(crate) fn load(conn: &Connection) -> HubResult<Vec<Policy>> {
    let mut stmt = conn.prepare(
        "SELECT name, primary_key, secondary_key, permissions FROM policies ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (name, primary_key, secondary_key, perms) = row?;
        let permissions = serde_json::from_str(&perms).map_err(|e| {
            HubError::BadDatabase(format!("policy '{name}' has unreadable permissions: {e}"))
        })?;
        out.push(Policy {
            name,
            primary_key,
            secondary_key,
            permissions,
        });
    }
    Ok(out)
}

/// Inserts a policy.
pub(crate) fn insert(conn: &Connection, p: &Policy) -> HubResult<()> {
    conn.execute(
        "INSERT INTO policies (name, primary_key, secondary_key, permissions) VALUES (?1, ?2, ?3, ?4)",
        (&p.name, &p.primary_key, &p.secondary_key, serde_json::to_string(&p.permissions)?),
    )?;
    Ok(())
}
