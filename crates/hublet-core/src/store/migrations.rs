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
pub(crate) const MIGRATIONS: &[&[&str]] = &[
    &[
        crate::settings::table::V1,
        crate::auth::table::V1,
        crate::registry::table::V1,
        crate::mailbox::table::V1,
        crate::feedback::table::V1,
        crate::trace::table::V1,
    ],
    // 2: per-device state of transport adapters (MQTT persistent sessions).
    &[crate::adapter::table::V2],
    // 3: method request ids unique for the data directory's life.
    &[crate::methods::request_ids::V3],
    // 4: C2D locks held by a connection (released when the hub starts).
    &[crate::mailbox::table::V4],
    // 5: device twins.
    &[crate::twin::table::V5],
    // 6: module identities; twins keyed by device and module.
    &[crate::modules::table::V6],
    // 7: the Event Hub-compatible event log.
    &[crate::events::table::V7],
    // 8: QA run records (`hublet test`, the Scenarios screen).
    &[crate::runs::table::V8],
    // 9: the trace's newest events indexed in batches.
    &[crate::trace::table::V9],
    // 10: one index for the C2D sweeper instead of two.
    &[crate::mailbox::table::V10],
    // 11: C2D sequence numbers reserved in blocks, not `AUTOINCREMENT`.
    &[crate::mailbox::table::V11],
];

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
        // Said before, not only after: a step that rebuilds an index on a
        // long trace takes seconds, and a silent start looks hung.
        tracing::info!("migrating the database to schema version {next}");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_one_database_is_migrated_forward_keeping_its_rows() {
        let conn = Connection::open_in_memory().unwrap();
        for sql in MIGRATIONS[0] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 1;
             INSERT INTO devices (device_id, generation_id, version, status, status_updated_ms,
                 primary_key, secondary_key, kind, created_ms)
             VALUES ('old', 'g', 1, 'enabled', 0, 'k', 'k', 'standard', 0);"
        ))
        .unwrap();
        migrate(&conn).unwrap();
        let v: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, LATEST_VERSION);
        let n: i64 = conn
            .query_row("SELECT count(*) FROM devices", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        conn.execute_batch("SELECT * FROM adapter_state").unwrap();
        migrate(&conn).expect("migrating an up-to-date database is a no-op");
    }
}
