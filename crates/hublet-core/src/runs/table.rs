//! The `test_runs` table.

use rusqlite::{Connection, OptionalExtension, Row};

use super::TestRun;
use crate::clock::Timestamp;
use crate::error::{HubError, HubResult};

pub(crate) const V8: &str = "
CREATE TABLE test_runs (
    id         INTEGER PRIMARY KEY,
    batch      TEXT NOT NULL,
    name       TEXT NOT NULL,
    verdict    TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    record     TEXT NOT NULL
);
CREATE INDEX test_runs_by_batch ON test_runs (batch, id);
";

const COLUMNS: &str = "id, batch, name, verdict, started_ms, updated_ms, record";

fn from_row(r: &Row<'_>) -> rusqlite::Result<(TestRun, String)> {
    Ok((
        TestRun {
            id: r.get(0)?,
            batch: r.get(1)?,
            name: r.get(2)?,
            verdict: r.get(3)?,
            started: Timestamp(r.get(4)?),
            updated: Timestamp(r.get(5)?),
            record: serde_json::Value::Null,
        },
        r.get(6)?,
    ))
}

fn parse((mut run, text): (TestRun, String)) -> HubResult<TestRun> {
    run.record = serde_json::from_str(&text)
        .map_err(|e| HubError::BadDatabase(format!("test run {} is unreadable: {e}", run.id)))?;
    Ok(run)
}

pub(crate) fn insert(
    conn: &Connection,
    batch: &str,
    name: &str,
    verdict: &str,
    record: &serde_json::Value,
    now: Timestamp,
    keep: i64,
) -> HubResult<i64> {
    conn.prepare_cached(
        "INSERT INTO test_runs (batch, name, verdict, started_ms, updated_ms, record)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
    )?
    .execute((batch, name, verdict, now.0, serde_json::to_string(record)?))?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("DELETE FROM test_runs WHERE id <= ?1")?
        .execute([id - keep])?;
    Ok(id)
}

pub(crate) fn update(
    conn: &Connection,
    id: i64,
    verdict: &str,
    record: &serde_json::Value,
    now: Timestamp,
) -> HubResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE test_runs SET verdict = ?2, record = ?3, updated_ms = ?4 WHERE id = ?1",
        )?
        .execute((id, verdict, serde_json::to_string(record)?, now.0))?;
    Ok(n == 1)
}

pub(crate) fn get(conn: &Connection, id: i64) -> HubResult<Option<TestRun>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM test_runs WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?
        .map(parse)
        .transpose()
}

pub(crate) fn list(
    conn: &Connection,
    batch: Option<&str>,
    before: Option<i64>,
    limit: usize,
) -> HubResult<Vec<TestRun>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM test_runs
         WHERE (?1 IS NULL OR batch = ?1) AND (?2 IS NULL OR id < ?2)
         ORDER BY id DESC LIMIT ?3"
    ))?;
    let rows = stmt.query_map((batch, before, limit as i64), from_row)?;
    rows.map(|r| parse(r?)).collect()
}
