//! Opening the database safely.
//!
//! An existing file is first inspected read-only: if it is not SQLite, not
//! Hublet's (`PRAGMA application_id`), or from a newer Hublet (`PRAGMA
//! user_version`), or fails SQLite's quick check (a file cut short, a torn
//! page), the hub refuses to start and the file is left untouched.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::integrity::{self, CheckDepth};
use super::migrations::{APPLICATION_ID, LATEST_VERSION};
use super::writer::Durability;
use crate::error::{HubError, HubResult};

/// Refuses files that are not Hublet databases this build can use.
pub(crate) fn check_existing(path: &Path) -> HubResult<()> {
    let len = match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(HubError::BadDatabase(format!(
                "{} is a directory, not a database file",
                path.display()
            )));
        }
        Ok(m) => m.len(),
        Err(_) => return Ok(()),
    };
    if len == 0 {
        return Ok(());
    }
    let bad = |why: String| {
        HubError::BadDatabase(format!("{} {why}; it was not modified", path.display()))
    };
    let damaged = |problems: Vec<String>| {
        let shown: Vec<&str> = problems.iter().take(3).map(String::as_str).collect();
        HubError::BadDatabase(format!(
            "{} is damaged ({}{}). {}",
            path.display(),
            shown.join("; "),
            if problems.len() > 3 { "; …" } else { "" },
            integrity::advice(path)
        ))
    };
    let size = integrity::size_problems(path);
    if !size.is_empty() {
        return Err(damaged(size));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| bad(format!("cannot be opened as SQLite ({e})")))?;
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => damaged(vec![e.to_string()]),
            _ => bad(format!("is not a SQLite database ({e})")),
        })?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| bad(format!("cannot be read ({e})")))?;
    if app_id != i64::from(APPLICATION_ID) {
        return Err(bad(format!(
            "is a SQLite database but not a Hublet one (application_id {app_id:#x})"
        )));
    }
    if version > i64::from(LATEST_VERSION) {
        return Err(bad(format!(
            "was written by a newer Hublet (schema version {version}; this Hublet knows up to {LATEST_VERSION}); upgrade Hublet"
        )));
    }
    let problems = integrity::run(&conn, CheckDepth::Quick);
    if !problems.is_empty() {
        return Err(damaged(problems));
    }
    Ok(())
}

/// Page cache of the writer: large enough that index pages of a big trace
/// stay in memory instead of being re-read on every insert.
const WRITER_CACHE_KIB: u32 = 64 * 1024;

/// The writer checkpoints by itself only if the WAL grows past this many
/// pages (about 200 MB): the checkpointer thread normally keeps it small.
const SAFETY_CHECKPOINT_PAGES: u32 = 50_000;

/// Page size of a new database. Every commit writes each page it dirtied
/// whole, and a C2D life cycle dirties a few pages at random places (a
/// device's queue index, its trace index, a story's correlation index), so
/// smaller pages write fewer bytes: 2 KiB pages write about a third less
/// per message than SQLite's 4 KiB default at the same throughput, while
/// 1 KiB pages cost 15–20 % of the engine's saturated throughput in deeper
/// trees (docs/benchmarks.md, issue 16).
const NEW_PAGE_SIZE: u32 = 2048;

/// After a checkpoint, a WAL file larger than this is truncated back to it.
const WAL_SIZE_LIMIT: u64 = 256 * 1024 * 1024;

pub(crate) fn open_rw(path: &Path, durability: Durability) -> HubResult<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            HubError::Internal(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    tune(&conn)?;
    // Only takes effect on a new, empty file: an existing database keeps
    // the page size it was made with.
    conn.execute_batch(&format!("PRAGMA page_size={NEW_PAGE_SIZE}"))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(HubError::Internal(format!(
            "cannot switch the database to WAL mode (got {mode})"
        )));
    }
    let sync = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;
         PRAGMA cache_size=-{WRITER_CACHE_KIB};
         PRAGMA wal_autocheckpoint={SAFETY_CHECKPOINT_PAGES};
         PRAGMA journal_size_limit={WAL_SIZE_LIMIT};"
    ))?;
    Ok(conn)
}

pub(crate) fn open_ro(path: &Path) -> HubResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    tune(&conn)?;
    Ok(conn)
}

/// Settings every connection gets.
///
/// - Query-planner stability (QPSG): without it, SQLite (built with STAT4)
///   marks any cached statement whose plan looked at a bound value as
///   expired on every re-bind and re-prepares it on the next step, which
///   cost the writer a fifth of its time. Hublet's queries have one good
///   plan each, so stability loses nothing.
/// - A statement cache large enough for every hot statement.
fn tune(conn: &Connection) -> HubResult<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

/// An exclusive lock on the data directory's lock file, held while the hub runs.
#[derive(Debug)]
pub(crate) struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock beside `db_path`, or explains who holds it.
    pub(crate) fn acquire(db_path: &Path) -> HubResult<DataDirLock> {
        let mut name = db_path.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                HubError::Internal(format!(
                    "cannot create data directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| HubError::Internal(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(HubError::Locked(format!(
                "another Hublet hub is already running on {} (lock file {}); stop it or choose another data directory",
                db_path.display(),
                path.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(HubError::Internal(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }

    /// The lock file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}
