//! The syncer thread: makes committed groups durable, then answers them.
//!
//! Why: with `durability = full`, SQLite (`synchronous=FULL`) calls fsync
//! inside every COMMIT, so the single writer thread sat idle for the disk
//! once per group, and nothing else could be written meanwhile. Measured on
//! 2026-11-29, that wait was a fifth of the writer's time per C2D message
//! and `normal` (no fsync at all) was 25–30 % faster (docs/benchmarks.md).
//!
//! So with `full` the writer commits with `synchronous=NORMAL` (the WAL's
//! frames are written to the file, not forced to the disk) and hands the
//! group's waiting callers and live events to this thread. It calls
//! `fdatasync` on the WAL file and only then answers them. Meanwhile the
//! writer runs the work that arrives in a new transaction, and commits it
//! as soon as this thread is done: so the disk is never idle while work
//! waits, the CPU work overlaps the disk's, and there is one commit per
//! sync, with larger groups than before (a quarter fewer bytes and a fifth
//! less writer CPU per C2D message). Measured and dropped: committing each
//! group at once and letting one sync cover the commits made meanwhile;
//! the writer then made several small commits per sync, and one caller's
//! method round trip went from 0.11–0.12 to 0.15–0.18 ms.
//!
//! Why this keeps `full`'s promise (an answered write survives power loss):
//! - `fdatasync` on any descriptor of a file forces every write made to that
//!   file before the call, whoever made it; a group's frames were written
//!   when its COMMIT returned, before the group was handed over.
//! - That is what SQLite's own `FULL` does in WAL mode on Linux: append the
//!   frames, sync the WAL (no sector padding: SQLite assumes power-safe
//!   overwrites there). SQLite still syncs the WAL's header whenever it
//!   restarts the log, and the WAL and database around every checkpoint,
//!   also with `NORMAL`, so a checkpoint never copies frames the disk could
//!   still lose, and the log is never restarted over frames that are not in
//!   the synced database file.
//! - Nothing is answered out of order: batches are finished in commit order,
//!   and a sync covers every earlier commit, so whoever hears "done" for one
//!   change can rely on every change committed before it.
//!
//! What changes: a committed change is visible to readers a fraction of a
//! millisecond before its caller is answered (a send's push to its device
//! already came before the commit). If the disk then fails the sync, the
//! waiting callers get the error, although their changes stay visible and
//! may well survive (docs/semantics.md).

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::broadcast;

use crate::clock::SharedClock;
use crate::error::{HubError, HubResult};
use crate::store::StorageHealth;
use crate::store::writer::{Durability, Job};
use crate::trace::TraceEvent;

/// Forces what was written to the WAL onto the disk. A trait so that tests
/// can hold a sync back or make it fail.
pub(crate) trait WalSync: Send + 'static {
    fn sync(&mut self) -> std::io::Result<()>;
}

impl WalSync for File {
    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }
}

/// A group the writer has finished with: its callers, the live events it
/// stored, and the fate of its commit.
pub(crate) struct Finished {
    pub(crate) jobs: Vec<Box<dyn Job>>,
    pub(crate) events: Vec<TraceEvent>,
    /// Whether the group committed (or SQLite rolled it back).
    pub(crate) commit: Result<(), HubError>,
}

/// How answers reach the disk, chosen when the store opens.
pub(crate) enum Plan {
    /// SQLite's COMMIT syncs as much as promised: answer at once.
    Inline,
    /// A syncer thread syncs the WAL through this before answering.
    Sync(Box<dyn WalSync>),
}

/// Wakes the writer when it waits for the syncer to catch up.
pub(crate) type Wake = Box<dyn Fn() + Send>;

/// How far the syncer got, shared with the writer.
#[derive(Default)]
pub(crate) struct Progress {
    /// Groups answered so far.
    finished: AtomicU64,
    /// The writer holds its next group until the syncer catches up, and
    /// must be woken then.
    writer_waits: AtomicBool,
    /// The syncer thread ended (it never should while the writer runs):
    /// nothing is held for it any more.
    gone: AtomicBool,
    /// Whether the syncer still takes groups. The writer hands a group over
    /// only with this held and open, and the ending syncer closes it before
    /// it fails what is queued: so no group slips into a queue that nobody
    /// will read.
    open: Mutex<bool>,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            open: Mutex::new(true),
            ..Progress::default()
        }
    }

    fn door(&self) -> MutexGuard<'_, bool> {
        // Never held across anything that panics, but a poisoned flag is
        // still the right flag.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The error of every caller the syncer could not vouch for.
fn syncer_stopped() -> HubError {
    HubError::Internal("the storage syncer stopped".into())
}

/// The syncer's queue and the batch it is working on. When the syncer's
/// thread ends, even by a panic, its drop fails every group not yet
/// answered, marks the syncer gone and wakes the writer, so that no caller
/// hangs and the writer never holds a group for it.
struct Farewell<'a> {
    rx: Receiver<Finished>,
    /// Taken from the queue, not yet answered, in commit order (reversed:
    /// popped from the end).
    batch: Vec<Finished>,
    progress: &'a Progress,
    wake: &'a Wake,
}

impl Drop for Farewell<'_> {
    fn drop(&mut self) {
        let lost = Err(syncer_stopped());
        {
            let mut open = self.progress.door();
            *open = false;
            let queued: Vec<Finished> = self.rx.try_iter().collect();
            drop(open);
            for done in self.batch.drain(..).rev().chain(queued) {
                for j in done.jobs {
                    j.finish(lost.clone());
                }
            }
        }
        self.progress.gone.store(true, Ordering::SeqCst);
        (self.wake)();
    }
}

/// Who answers a finished group: the writer itself when its COMMIT already
/// synced (or nothing needs to), or the syncer thread.
pub(crate) enum Finisher {
    Inline(Answer),
    Syncer {
        tx: Sender<Finished>,
        thread: JoinHandle<()>,
        progress: Arc<Progress>,
        /// Groups handed over so far.
        handed: u64,
    },
}

impl Finisher {
    /// Starts what `plan` asks for; `wake` is called (from the syncer's
    /// thread) when the writer waits for the syncer and it caught up.
    pub(crate) fn start(plan: Plan, answer: Answer, wake: Wake) -> HubResult<Finisher> {
        let wal = match plan {
            Plan::Inline => return Ok(Finisher::Inline(answer)),
            Plan::Sync(wal) => wal,
        };
        let (tx, rx) = channel();
        let progress = Arc::new(Progress::new());
        let shared = progress.clone();
        let thread = std::thread::Builder::new()
            .name("hublet-db-sync".into())
            .spawn(move || run(rx, wal, answer, &shared, wake))
            .map_err(|e| HubError::Internal(format!("cannot start the storage syncer: {e}")))?;
        Ok(Finisher::Syncer {
            tx,
            thread,
            progress,
            handed: 0,
        })
    }

    /// Answers `done` now, or once the disk has it.
    pub(crate) fn finish(&mut self, done: Finished) {
        match self {
            Finisher::Inline(answer) => {
                let sync = Ok(());
                answer.finish(done, &sync);
            }
            Finisher::Syncer {
                tx,
                handed,
                progress,
                ..
            } => {
                *handed += 1;
                let open = progress.door();
                let refused = if *open {
                    tx.send(done).err().map(|back| back.0)
                } else {
                    Some(done)
                };
                drop(open);
                if let Some(done) = refused {
                    // The syncer is gone (it panicked): nothing can vouch
                    // for the disk, so nobody is told their write is safe.
                    let lost = Err(syncer_stopped());
                    for j in done.jobs {
                        j.finish(lost.clone());
                    }
                }
            }
        }
    }

    /// Whether the writer should hold its next group: a group it handed
    /// over still waits for the disk. When this says yes, the writer is
    /// woken (see [`Finisher::start`]) once the syncer has caught up.
    pub(crate) fn hold(&self) -> bool {
        let Finisher::Syncer {
            progress, handed, ..
        } = self
        else {
            return false;
        };
        // A syncer that died would never catch up: the writer's groups are
        // then failed in `finish`, not held forever.
        if progress.finished.load(Ordering::SeqCst) == *handed
            || progress.gone.load(Ordering::SeqCst)
        {
            return false;
        }
        progress.writer_waits.store(true, Ordering::SeqCst);
        // Checked again after raising the flag: the syncer raises its count
        // before it reads the flag, so one of the two sees the other.
        if progress.finished.load(Ordering::SeqCst) == *handed {
            progress.writer_waits.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Waits until everything handed over has been answered.
    pub(crate) fn stop(self) {
        if let Finisher::Syncer { tx, thread, .. } = self {
            drop(tx);
            let _ = thread.join();
        }
    }
}

/// The plan `durability` asks for, for the writer's `conn` on the database
/// at `db_path`.
///
/// With `full`, the connection switches to `synchronous=NORMAL` and the
/// syncer thread syncs the WAL file. If that file cannot be opened (it
/// should exist once the database has been read in WAL mode), SQLite keeps
/// syncing inside each COMMIT instead: slower, never less safe.
pub(crate) fn for_durability(
    durability: Durability,
    conn: &Connection,
    db_path: &Path,
) -> HubResult<Plan> {
    if durability == Durability::Normal {
        return Ok(Plan::Inline);
    }
    // A read in WAL mode opens (and if needed creates) the log.
    conn.query_row("PRAGMA schema_version", [], |_| Ok(()))?;
    let mut name = db_path.as_os_str().to_owned();
    name.push("-wal");
    let wal = match OpenOptions::new().read(true).write(true).open(&name) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(
                "cannot open {} to sync it ({e}); SQLite syncs each commit itself",
                Path::new(&name).display()
            );
            return Ok(Plan::Inline);
        }
    };
    conn.execute_batch("PRAGMA synchronous=NORMAL")?;
    Ok(Plan::Sync(Box::new(wal)))
}

/// What answering needs: the live trace and the store's health.
pub(crate) struct Answer {
    pub(crate) live: broadcast::Sender<Arc<TraceEvent>>,
    pub(crate) health: Arc<StorageHealth>,
    pub(crate) clock: SharedClock,
}

impl Answer {
    /// Answers a group's callers and publishes its events, given the
    /// outcome of the sync that covers its commit.
    fn finish(&self, done: Finished, sync: &Result<(), HubError>) {
        let result = match (&done.commit, sync) {
            (Err(e), _) | (Ok(()), Err(e)) => Err(e.clone()),
            (Ok(()), Ok(())) => Ok(()),
        };
        if result.is_ok() {
            self.health.committed(self.clock.now());
        }
        for j in done.jobs {
            j.finish(result.clone());
        }
        if done.commit.is_ok() {
            // Stored and visible to queries even if the sync failed, so the
            // live trace shows them as well.
            for ev in done.events {
                // No receivers is fine: nobody is watching the live trace.
                let _ = self.live.send(Arc::new(ev));
            }
        }
    }

    /// The callers' error for a failed sync; a full disk is reported as such.
    fn sync_failed(&self, e: &std::io::Error) -> HubError {
        let full = matches!(
            e.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        );
        if full {
            self.health.report_full(self.clock.now());
            return HubError::DiskFull {
                dir: self.health.dir().to_string(),
            };
        }
        tracing::error!("syncing the database's log to disk failed: {e}");
        HubError::Internal(format!(
            "the disk did not confirm the write ({e}); it is stored but may not survive a power cut"
        ))
    }
}

fn run(
    rx: Receiver<Finished>,
    mut wal: Box<dyn WalSync>,
    answer: Answer,
    progress: &Progress,
    wake: Wake,
) {
    let mut farewell = Farewell {
        rx,
        batch: Vec::new(),
        progress,
        wake: &wake,
    };
    while let Ok(first) = farewell.rx.recv() {
        let mut batch = vec![first];
        batch.extend(farewell.rx.try_iter());
        batch.reverse();
        farewell.batch = batch;
        let batch = &mut farewell.batch;
        let n = batch.len() as u64;
        // A batch of groups SQLite rolled back has nothing on the disk.
        let committed = batch.iter().any(|d| d.commit.is_ok());
        let sync = if committed {
            wal.sync().map_err(|e| answer.sync_failed(&e))
        } else {
            Ok(())
        };
        // The writer may commit its next group now, while these callers
        // are answered.
        progress.finished.fetch_add(n, Ordering::SeqCst);
        if progress.writer_waits.swap(false, Ordering::SeqCst) {
            wake();
        }
        // Popped one by one, so that a panic here leaves the rest to
        // `Farewell`.
        while let Some(done) = batch.pop() {
            answer.finish(done, &sync);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::SyncSender;

    use tokio::sync::oneshot;

    use super::*;
    use crate::clock::{ManualClock, Timestamp};
    use crate::store::writer::{Work, WriteCtx};
    use crate::trace::detail::DeviceDeleted;
    use crate::trace::{NewEvent, TraceDetail};

    /// A sync that waits for the test's go-ahead, then reports what the
    /// test sent.
    struct Gate {
        go: Receiver<std::io::Result<()>>,
        calls: Arc<AtomicUsize>,
    }

    impl WalSync for Gate {
        fn sync(&mut self) -> std::io::Result<()> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.go.recv().unwrap_or(Ok(()))
        }
    }

    /// The syncer's side of a test: what to answer with and through.
    struct Parts {
        plan: Plan,
        answer: Answer,
        go: SyncSender<std::io::Result<()>>,
        calls: Arc<AtomicUsize>,
        health: Arc<StorageHealth>,
        live: broadcast::Receiver<Arc<TraceEvent>>,
    }

    struct Rig {
        finisher: Finisher,
        go: SyncSender<std::io::Result<()>>,
        calls: Arc<AtomicUsize>,
        health: Arc<StorageHealth>,
        live: broadcast::Receiver<Arc<TraceEvent>>,
    }

    fn rig() -> Rig {
        let p = parts();
        Rig {
            finisher: Finisher::start(p.plan, p.answer, Box::new(|| {})).unwrap(),
            go: p.go,
            calls: p.calls,
            health: p.health,
            live: p.live,
        }
    }

    fn parts() -> Parts {
        let (go_tx, go_rx) = std::sync::mpsc::sync_channel(8);
        let calls = Arc::new(AtomicUsize::new(0));
        let (live_tx, live) = broadcast::channel(16);
        let health = Arc::new(StorageHealth::new("/data".into()));
        let clock: SharedClock = Arc::new(ManualClock::new(Timestamp(0)));
        let answer = Answer {
            live: live_tx,
            health: health.clone(),
            clock,
        };
        let gate = Gate {
            go: go_rx,
            calls: calls.clone(),
        };
        Parts {
            plan: Plan::Sync(Box::new(gate)),
            answer,
            go: go_tx,
            calls,
            health,
            live,
        }
    }

    /// A job that ran and returned 7 (its commit's fate still to come),
    /// and the receiver of its answer.
    struct Ran(Option<oneshot::Sender<HubResult<u32>>>);

    impl Job for Ran {
        fn run(&mut self, _: &mut WriteCtx<'_>) -> bool {
            true
        }
        fn failure(&self) -> Option<&HubError> {
            None
        }
        fn finish(mut self: Box<Self>, commit: Result<(), HubError>) {
            if let Some(reply) = self.0.take() {
                let _ = reply.send(commit.map(|()| 7));
            }
        }
        fn reply_early(&mut self) {}
        fn waits_for_commit(&self) -> bool {
            true
        }
    }

    fn job() -> (Box<dyn Job>, oneshot::Receiver<HubResult<u32>>) {
        let (tx, rx) = oneshot::channel();
        (Box::new(Ran(Some(tx))), rx)
    }

    /// A group of one job that committed.
    fn committed(j: Box<dyn Job>) -> Finished {
        Finished {
            jobs: vec![j],
            events: vec![],
            commit: Ok(()),
        }
    }

    /// A writer on a new database holding a table `t(x)`, answering
    /// through `plan` (its directory, the database's path, the writer).
    fn writer_on(
        plan: Plan,
        answer: Answer,
    ) -> (
        tempfile::TempDir,
        std::path::PathBuf,
        crate::store::writer::WriterHandle,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.db");
        let conn = crate::store::open::open_rw(&path, Durability::Full).unwrap();
        conn.execute_batch("CREATE TABLE t(x); PRAGMA synchronous=NORMAL")
            .unwrap();
        let writer = crate::store::writer::spawn(conn, answer, plan).unwrap();
        (dir, path, writer)
    }

    fn event() -> TraceEvent {
        let detail = TraceDetail::DeviceDeleted(DeviceDeleted {
            dropped_messages: 0,
            dropped_feedback_records: 0,
            generation_id: "g".into(),
        });
        TraceEvent::stored(1, Timestamp(0), 0, NewEvent::new("dev", detail))
    }

    fn wait_for_calls(calls: &AtomicUsize, n: usize) {
        // Generous: a loaded CI machine may not run the syncer for a while.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while calls.load(Ordering::SeqCst) < n {
            assert!(
                std::time::Instant::now() < deadline,
                "the syncer never synced"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn nobody_hears_done_before_the_disk_confirms_and_one_sync_covers_the_groups_before_it() {
        let mut r = rig();
        let (a, mut a_rx) = job();
        r.finisher.finish(Finished {
            jobs: vec![a],
            events: vec![event()],
            commit: Ok(()),
        });
        wait_for_calls(&r.calls, 1);
        // The first sync is under way: two more groups commit meanwhile.
        let (b, mut b_rx) = job();
        let (c, mut c_rx) = job();
        for j in [b, c] {
            r.finisher.finish(committed(j));
        }
        assert!(a_rx.try_recv().is_err(), "answered before its sync");
        assert!(r.live.try_recv().is_err(), "published before its sync");
        r.go.send(Ok(())).unwrap();
        assert_eq!(a_rx.blocking_recv().unwrap().unwrap(), 7);
        assert!(r.live.blocking_recv().is_ok());
        wait_for_calls(&r.calls, 2);
        assert!(b_rx.try_recv().is_err() && c_rx.try_recv().is_err());
        r.go.send(Ok(())).unwrap();
        assert_eq!(b_rx.blocking_recv().unwrap().unwrap(), 7);
        assert_eq!(c_rx.blocking_recv().unwrap().unwrap(), 7);
        r.finisher.stop();
        assert_eq!(
            r.calls.load(Ordering::SeqCst),
            2,
            "one sync for both groups"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_runs_the_next_work_while_the_disk_confirms_the_last_group_and_commits_it_after()
     {
        let p = parts();
        let (_dir, path, writer) = writer_on(p.plan, p.answer);
        let insert = |x: i64| {
            move |ctx: &mut WriteCtx<'_>| -> HubResult<()> {
                ctx.conn.execute("INSERT INTO t VALUES (?1)", [x])?;
                Ok(())
            }
        };
        let reader = crate::store::open::open_ro(&path).unwrap();
        let rows = || {
            reader
                .query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                .unwrap()
        };
        let (tx1, mut rx1) = oneshot::channel();
        writer.send(Work::job(insert(1), tx1)).unwrap();
        wait_for_calls(&p.calls, 1);
        assert_eq!(rows(), 1, "committed before its sync");
        // While the disk has the first group, the writer runs the next
        // work: the early job queued after a waited-for one is answered...
        let (tx3, mut rx3) = oneshot::channel();
        writer.send(Work::job(insert(3), tx3)).unwrap();
        let (tx2, rx2) = oneshot::channel();
        writer.send(Work::early_job(insert(2), tx2)).unwrap();
        rx2.await.unwrap().unwrap();
        // ...but its group commits only once the syncer is free.
        assert_eq!(rows(), 1);
        assert!(rx1.try_recv().is_err() && rx3.try_recv().is_err());
        p.go.send(Ok(())).unwrap();
        rx1.await.unwrap().unwrap();
        wait_for_calls(&p.calls, 2);
        assert_eq!(rows(), 3, "the held group committed as one");
        assert!(rx3.try_recv().is_err(), "answered before its sync");
        p.go.send(Ok(())).unwrap();
        rx3.await.unwrap().unwrap();
        writer.stop().await;
        assert_eq!(
            p.calls.load(Ordering::SeqCst),
            2,
            "nothing more to sync at the stop"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_failing_half_way_in_a_held_group_undoes_only_itself_and_runs_nothing_twice() {
        let p = parts();
        let (_dir, path, writer) = writer_on(p.plan, p.answer);
        let runs = Arc::new(AtomicUsize::new(0));
        let insert = |x: i64, fail: bool| {
            let runs = runs.clone();
            move |ctx: &mut WriteCtx<'_>| -> HubResult<()> {
                runs.fetch_add(1, Ordering::SeqCst);
                ctx.conn.execute("INSERT INTO t VALUES (?1)", [x])?;
                if fail {
                    return Err(HubError::invalid("refused after writing"));
                }
                Ok(())
            }
        };
        let (tx1, rx1) = oneshot::channel();
        writer.send(Work::job(insert(1, false), tx1)).unwrap();
        wait_for_calls(&p.calls, 1);
        let (tx2, rx2) = oneshot::channel();
        writer.send(Work::early_job(insert(2, false), tx2)).unwrap();
        rx2.await.unwrap().unwrap();
        // A later increment of the held group: one job fails after writing.
        // (4 is answered early, so once it is, 3 has run too.)
        let (tx3, rx3) = oneshot::channel();
        writer.send(Work::job(insert(3, true), tx3)).unwrap();
        let (tx4, rx4) = oneshot::channel();
        writer.send(Work::early_job(insert(4, false), tx4)).unwrap();
        rx4.await.unwrap().unwrap();
        p.go.send(Ok(())).unwrap();
        p.go.send(Ok(())).unwrap();
        rx1.await.unwrap().unwrap();
        assert!(rx3.await.unwrap().is_err());
        writer.stop().await;
        let reader = crate::store::open::open_ro(&path).unwrap();
        let rows: Vec<i64> = reader
            .prepare("SELECT x FROM t ORDER BY x")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [1, 2, 4]);
        // 1, 2 and 4 once each, 3 twice: the increment stopped at 3's
        // failure and ran again from 3, with savepoints; 1 and 2 never
        // ran again.
        assert_eq!(runs.load(Ordering::SeqCst), 5);
    }

    /// A sync that panics, as a bug in the syncer would.
    struct Broken;

    impl WalSync for Broken {
        fn sync(&mut self) -> std::io::Result<()> {
            panic!("a bug in the syncer (this panic is the test's)")
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn if_the_syncer_dies_callers_get_an_error_and_the_writer_never_holds_their_group() {
        let p = parts();
        let plan = Plan::Sync(Box::new(Broken));
        let (_dir, _path, writer) = writer_on(plan, p.answer);
        let insert = |ctx: &mut WriteCtx<'_>| -> HubResult<()> {
            ctx.conn.execute("INSERT INTO t VALUES (1)", [])?;
            Ok(())
        };
        let limit = std::time::Duration::from_secs(20);
        let (tx1, rx1) = oneshot::channel();
        writer.send(Work::job(insert, tx1)).unwrap();
        let mut answers = vec![rx1];
        for _ in 0..3 {
            let (tx, rx) = oneshot::channel();
            writer.send(Work::job(insert, tx)).unwrap();
            answers.push(rx);
        }
        // The group the syncer died on, those queued behind it and those
        // handed over after: never "done", always told why.
        for rx in answers {
            let answer = tokio::time::timeout(limit, rx).await.expect("held");
            let err = answer.expect("answered").unwrap_err();
            assert!(err.to_string().contains("syncer stopped"), "{err}");
        }
        writer.stop().await;
    }

    /// Hands over a committed group of one job whose sync fails with
    /// `errno`; the job's answer.
    fn a_sync_failing_with(r: &mut Rig, errno: i32) -> HubError {
        let (a, a_rx) = job();
        r.go.send(Err(std::io::Error::from_raw_os_error(errno)))
            .unwrap();
        r.finisher.finish(committed(a));
        a_rx.blocking_recv().unwrap().unwrap_err()
    }

    #[test]
    fn a_full_disk_at_sync_fails_the_waiting_callers_as_disk_full_and_says_so() {
        let mut r = rig();
        let err = a_sync_failing_with(&mut r, 28);
        assert!(
            matches!(err, HubError::DiskFull { ref dir } if dir == "/data"),
            "{err}"
        );
        assert!(r.health.current().is_some(), "the full disk is shown");
        r.finisher.stop();
    }

    #[test]
    fn any_other_sync_error_fails_the_waiting_callers_and_the_next_sync_starts_afresh() {
        let mut r = rig();
        let err = a_sync_failing_with(&mut r, 5);
        assert_eq!(err.code().number(), 500001, "{err}");
        assert!(err.to_string().contains("power cut"), "{err}");
        assert!(r.health.current().is_none());
        let (b, b_rx) = job();
        r.go.send(Ok(())).unwrap();
        r.finisher.finish(committed(b));
        assert_eq!(b_rx.blocking_recv().unwrap().unwrap(), 7);
        r.finisher.stop();
    }

    #[test]
    fn a_group_sqlite_rolled_back_is_answered_without_a_sync_and_shows_nothing() {
        let mut r = rig();
        let (b, b_rx) = job();
        r.finisher.finish(Finished {
            jobs: vec![b],
            events: vec![event()],
            commit: Err(HubError::DiskFull {
                dir: "/data".into(),
            }),
        });
        assert!(b_rx.blocking_recv().unwrap().is_err());
        let mut live = r.live;
        assert!(
            live.try_recv().is_err(),
            "a rolled-back group's events are never shown"
        );
        r.finisher.stop();
        assert_eq!(r.calls.load(Ordering::SeqCst), 0);
    }
}
