//! Direct-method request ids, unique for the life of the data directory.
//!
//! A call's story is found in the trace by its request id, so an id must
//! never come back after a restart (Hublet 0.1 restarted at 1 and a story
//! query then merged calls from different runs). Ids are handed out from
//! blocks reserved in the database: the end of the current block is
//! committed before any id in it is used, so after a crash the hub starts
//! past every id it may have given out. Ids skipped that way are simply
//! never used. Reserving costs one small commit per [`BLOCK`] calls.

use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, OptionalExtension};

use crate::error::HubResult;
use crate::store::Db;

/// Ids reserved per commit.
pub(crate) const BLOCK: u64 = 1000;

/// Migration 3: the end of the reserved block. A database from Hublet 0.1
/// starts past the largest request id in its trace.
pub(crate) const V3: &str = "
CREATE TABLE method_request_ids (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    reserved INTEGER NOT NULL
);
INSERT INTO method_request_ids (id, reserved)
    SELECT 1, coalesce(max(CAST(request_id AS INTEGER)), 0) + 1
    FROM trace_events WHERE request_id GLOB '[0-9]*';
";

fn reserved(conn: &Connection) -> HubResult<u64> {
    let v: Option<i64> = conn
        .query_row(
            "SELECT reserved FROM method_request_ids WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(u64::try_from(v.unwrap_or(1)).unwrap_or(1).max(1))
}

fn reserve(conn: &Connection, end: u64) -> HubResult<()> {
    conn.execute(
        "INSERT INTO method_request_ids (id, reserved) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET reserved = max(reserved, excluded.reserved)",
        [i64::try_from(end).unwrap_or(i64::MAX)],
    )?;
    Ok(())
}

/// The next request ids and the end of the reserved block.
pub(crate) struct RequestIds {
    next: AtomicU64,
    limit: AtomicU64,
    reserving: tokio::sync::Mutex<()>,
}

impl RequestIds {
    /// Reserves the first block after whatever an earlier run reserved.
    pub(crate) async fn open(db: &Db) -> HubResult<RequestIds> {
        let (start, limit) = db
            .write(|ctx| {
                let start = reserved(ctx.conn)?;
                reserve(ctx.conn, start + BLOCK)?;
                Ok((start, start + BLOCK))
            })
            .await?;
        Ok(RequestIds {
            next: AtomicU64::new(start),
            limit: AtomicU64::new(limit),
            reserving: tokio::sync::Mutex::new(()),
        })
    }

    /// A fresh request id; commits a new block first when this one is used up.
    pub(crate) async fn next(&self, db: &Db) -> HubResult<u64> {
        loop {
            let id = self.next.fetch_add(1, Ordering::Relaxed);
            if id < self.limit.load(Ordering::Acquire) {
                return Ok(id);
            }
            let _one_at_a_time = self.reserving.lock().await;
            let limit = self.limit.load(Ordering::Acquire);
            if id < limit {
                return Ok(id);
            }
            let end = id.max(limit) + BLOCK;
            db.write(move |ctx| reserve(ctx.conn, end)).await?;
            self.limit.store(end, Ordering::Release);
            if id < end {
                return Ok(id);
            }
        }
    }
}
