//! Checking the database file for damage, read-only.
//!
//! A file cut short (a copy interrupted, a disk that lied about a write)
//! can still open as SQLite and serve wrong or missing rows. So the hub runs
//! SQLite's `quick_check` before it uses an existing file, and
//! `hublet db check` runs the full `integrity_check` on request. Neither
//! ever changes the file: what to do with a damaged one (restore a backup,
//! recover what can be read) is the user's choice, and the report says how.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::error::{HubError, HubResult};

/// How thorough a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CheckDepth {
    /// `PRAGMA quick_check`: page structure and record formats; what the
    /// hub runs at every start.
    Quick,
    /// `PRAGMA integrity_check`: also that every index matches its table.
    Full,
}

/// Most problems listed (SQLite stops there too).
const MAX_PROBLEMS: usize = 100;

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrityReport {
    /// The file checked.
    pub path: String,
    /// How thorough the check was.
    pub depth: CheckDepth,
    /// True when SQLite found nothing wrong.
    pub ok: bool,
    /// What SQLite found, one line each (empty when ok).
    pub problems: Vec<String>,
    /// What the user can do (empty when ok).
    pub advice: String,
    /// The file's size in bytes.
    pub bytes: u64,
}

/// Checks the database at `path` without modifying it.
pub fn check_database(path: &Path, depth: CheckDepth) -> HubResult<IntegrityReport> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| HubError::BadDatabase(format!("cannot read {}: {e}", path.display())))?
        .len();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| {
        HubError::BadDatabase(format!(
            "{} cannot be opened as SQLite ({e})",
            path.display()
        ))
    })?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mut problems = size_problems(path);
    problems.extend(run(&conn, depth));
    let ok = problems.is_empty();
    Ok(IntegrityReport {
        path: path.display().to_string(),
        depth,
        ok,
        advice: if ok { String::new() } else { advice(path) },
        problems,
        bytes,
    })
}

/// Checks that the file is as long as SQLite's header says: a file cut
/// short by less than a page reads as zeros at its end, which neither check
/// below may notice (a torn index record looks like a valid one).
///
/// The header's page count is only trusted when SQLite marks it valid
/// (bytes 92..96 equal the change counter at 24..28) and no WAL holds newer
/// pages; the length must always be a whole number of pages.
pub(crate) fn size_problems(path: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::metadata(path).map(|m| m.len()) else {
        return Vec::new();
    };
    let mut header = [0u8; 100];
    let read = std::fs::File::open(path).and_then(|mut f| {
        use std::io::Read;
        f.read_exact(&mut header)
    });
    if read.is_err() {
        return vec![format!(
            "the file is {bytes} bytes, shorter than SQLite's header"
        )];
    }
    if &header[..16] != b"SQLite format 3\0" {
        return Vec::new(); // not SQLite at all: opening it says so
    }
    let be32 = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536u64,
        n => u64::from(n),
    };
    if page_size < 512 {
        return Vec::new();
    }
    let mut problems = Vec::new();
    if bytes % page_size != 0 {
        problems.push(format!(
            "the file is {bytes} bytes, not a whole number of {page_size}-byte pages: it was cut short or written partly"
        ));
    }
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal_empty = std::fs::metadata(std::path::PathBuf::from(wal))
        .map(|m| m.len() == 0)
        .unwrap_or(true);
    let pages = u64::from(be32(28));
    if wal_empty && be32(92) == be32(24) && pages > 0 && bytes < pages * page_size {
        problems.push(format!(
            "the file is {bytes} bytes but holds {pages} pages of {page_size} bytes ({} bytes): it was cut short",
            pages * page_size
        ));
    }
    problems
}

/// The check's findings; a check that cannot even run is itself a finding.
pub(crate) fn run(conn: &Connection, depth: CheckDepth) -> Vec<String> {
    let pragma = match depth {
        CheckDepth::Quick => format!("PRAGMA quick_check({MAX_PROBLEMS})"),
        CheckDepth::Full => format!("PRAGMA integrity_check({MAX_PROBLEMS})"),
    };
    let lines: Result<Vec<String>, rusqlite::Error> = conn
        .prepare(&pragma)
        .and_then(|mut st| st.query_map([], |r| r.get::<_, String>(0))?.collect());
    match lines {
        Ok(l) if l.len() == 1 && l[0] == "ok" => Vec::new(),
        Ok(l) => l,
        Err(e) => vec![e.to_string()],
    }
}

/// What to do about a damaged file.
pub(crate) fn advice(path: &Path) -> String {
    let p = path.display();
    format!(
        "The file was not modified. Stop the hub and either put back a backup copy of {p}, \
         or recover what can still be read into a new file with the sqlite3 tool: \
         `sqlite3 {p} .recover | sqlite3 recovered.db`, then move the damaged file aside and \
         put recovered.db in its place. `hublet db check` runs the full check."
    )
}
