//! Versioned schema migrations.
//!
//! `PRAGMA user_version` holds the schema version and `PRAGMA
//! application_id` marks the file as Hublet's. Each migration is a list of
//! SQL scripts, usually one per table module, run in one transaction.
//! Never edit a migration that has shipped: append a new one.

use rusqlite::Connection;

use crate::error::{HubError, HubResult};

/// `PRAGMA application_id` of a Hublet database ("HUBL").
pub(crate) const APPLICATION_ID: i32 = 0x4855_424c;

/// Migrations in order; entry `i` takes the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&[&str]] = &[&[
    crate::settings::table::V1,
    crate::auth::table::V1,
    crate::registry::table::V1,
    crate::mailbox::table::V1,
    crate::feedback::table::V1,
    crate::trace::table::V1,
]];

/// The schema version this build writes.
pub(crate) const LATEST_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the schema up to [`LATEST_VERSION`].
pub(crate) fn migrate(conn: &Connection) -> HubResult<()> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > LATEST_VERSION {
        return Err(HubError::BadDatabase(format!(
            "database schema version {current} is newer than this Hublet's ({LATEST_VERSION})"
        )));
    }
    for (i, scripts) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let next = i + 1;
        let tx = conn.unchecked_transaction()?;
        for sql in *scripts {
            tx.execute_batch(sql)?;
        }
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {next};"
        ))?;
        tx.commit()?;
        tracing::info!("database migrated to schema version {next}");
    }
    Ok(())
}
