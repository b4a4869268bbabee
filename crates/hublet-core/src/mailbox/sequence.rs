//! C2D sequence numbers: handed out by the storage writer from memory, from
//! a block reserved in `c2d_seq`.
//!
//! Why not `AUTOINCREMENT`: SQLite then reads and rewrites its
//! `sqlite_sequence` row in every insert, so every commit that stores a
//! message rewrites that page too, for a number the writer can keep in
//! memory (docs/benchmarks.md, issue 16). The guarantee stays the same:
//! numbers increase across the whole hub and are never reused, not even
//! after a crash, because a number is only ever committed together with a
//! reservation that covers it. A restart starts at the end of the last
//! reservation, so the numbers jump by up to a block there (gaps are
//! allowed: `docs/semantics.md`).

use rusqlite::Connection;

use crate::error::HubResult;

/// Numbers reserved at a time: one write of `c2d_seq` per this many sends.
pub(crate) const BLOCK: i64 = 1024;

/// The writer's counter. It lives on the writer thread, like the trace's
/// tail indexer: jobs take numbers through [`WriteCtx`](crate::store::WriteCtx),
/// and the writer calls [`reserve`](Self::reserve) in each group's
/// transaction just before the commit and [`committed`](Self::committed)
/// after it.
#[derive(Debug, Default)]
pub(crate) struct SequenceBlock {
    /// The next number to hand out (read from `c2d_seq` on first use).
    next: Option<i64>,
    /// The end (exclusive) of the reservation known to be committed.
    reserved: i64,
    /// A reservation written in the open transaction.
    pending: Option<i64>,
}

impl SequenceBlock {
    /// A fresh number. A group that is rolled back leaves its numbers
    /// unused; they are skipped, never handed out again by this process.
    pub(crate) fn take(&mut self, conn: &Connection) -> HubResult<i64> {
        let n = match self.next {
            Some(n) => n,
            None => {
                let upto: i64 = conn
                    .prepare_cached("SELECT upto FROM c2d_seq")?
                    .query_row([], |r| r.get(0))?;
                self.reserved = upto;
                upto
            }
        };
        self.next = Some(n + 1);
        Ok(n)
    }

    /// In the open transaction, before its commit: extends the reservation
    /// if the group used numbers past it. An error here must keep the group
    /// from committing (its numbers would not be covered).
    pub(crate) fn reserve(&mut self, conn: &Connection) -> HubResult<()> {
        self.pending = None;
        let Some(next) = self.next else {
            return Ok(());
        };
        if next <= self.reserved {
            return Ok(());
        }
        let upto = next.saturating_add(BLOCK);
        conn.prepare_cached("UPDATE c2d_seq SET upto = ?1")?
            .execute([upto])?;
        self.pending = Some(upto);
        Ok(())
    }

    /// After the group's commit (or its failure).
    pub(crate) fn committed(&mut self, ok: bool) {
        if let Some(upto) = self.pending.take()
            && ok
        {
            self.reserved = upto;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(upto: i64) -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(&format!(
            "CREATE TABLE c2d_seq (upto INTEGER NOT NULL); INSERT INTO c2d_seq VALUES ({upto});"
        ))
        .unwrap();
        c
    }

    fn upto(c: &Connection) -> i64 {
        c.query_row("SELECT upto FROM c2d_seq", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn numbers_start_at_the_reservation_and_are_covered_by_the_next_commit() {
        let c = db(7);
        let mut s = SequenceBlock::default();
        assert_eq!((s.take(&c).unwrap(), s.take(&c).unwrap()), (7, 8));
        s.reserve(&c).unwrap();
        s.committed(true);
        assert_eq!(upto(&c), 9 + BLOCK);
        // Within the block: no write.
        c.execute("UPDATE c2d_seq SET upto = -1", []).unwrap();
        assert_eq!(s.take(&c).unwrap(), 9);
        s.reserve(&c).unwrap();
        s.committed(true);
        assert_eq!(upto(&c), -1);
    }

    #[test]
    fn a_failed_commit_leaves_the_next_group_to_reserve_again() {
        let c = db(1);
        let mut s = SequenceBlock::default();
        c.execute_batch("BEGIN").unwrap();
        assert_eq!(s.take(&c).unwrap(), 1);
        s.reserve(&c).unwrap();
        c.execute_batch("ROLLBACK").unwrap();
        s.committed(false);
        assert_eq!(upto(&c), 1, "the reservation went with the group");
        // The lost number is skipped; the next group reserves past it.
        assert_eq!(s.take(&c).unwrap(), 2);
        s.reserve(&c).unwrap();
        s.committed(true);
        assert_eq!(upto(&c), 3 + BLOCK);
    }
}
