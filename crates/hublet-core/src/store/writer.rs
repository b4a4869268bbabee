//! The writer thread: owns the read-write connection and commits in groups.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot};

use crate::clock::{SharedClock, Timestamp};
use crate::error::{HubError, HubResult};
use crate::mailbox::sequence::SequenceBlock;
use crate::store::StorageHealth;
use crate::store::syncer::{Answer, Finished, Finisher, Plan};
use crate::trace::{NewEvent, TraceEvent, table as trace_table};

/// How hard a commit tries to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// A write is answered once its commit is on the disk (an `fdatasync`
    /// of the WAL, which the syncer thread runs for many commits at once):
    /// survives power loss, like SQLite's `synchronous=FULL`.
    #[default]
    Full,
    /// No fsync on commit: survives a killed process but not power loss
    /// (`synchronous=NORMAL` in WAL mode).
    Normal,
}

/// Most jobs taken into one transaction; bounds commit latency under a flood.
const MAX_GROUP: usize = 32_768;

/// What a job sees: the open transaction, the time, and the trace.
pub(crate) struct WriteCtx<'a> {
    /// The connection, inside the job's savepoint.
    pub conn: &'a Connection,
    /// The clock's time when the job started.
    pub now: Timestamp,
    clock: &'a SharedClock,
    events: &'a mut Vec<TraceEvent>,
    /// Someone watches the live trace: keep stored events for broadcast.
    live: bool,
    /// The newest trace event id stored in this group, which tells the
    /// trace's tail indexer whether a batch may be due without a query.
    newest_event: &'a mut Option<i64>,
    /// C2D sequence numbers, reserved in blocks (see [`SequenceBlock`]).
    sequences: &'a mut SequenceBlock,
}

impl WriteCtx<'_> {
    /// Records a trace event in the same transaction as the job's changes.
    pub fn trace(&mut self, ev: NewEvent) -> HubResult<()> {
        let mono = self.mono_us();
        let id = trace_table::insert(self.conn, self.now, mono, &ev)?;
        self.stored(id);
        if self.live {
            self.events.push(TraceEvent::stored(id, self.now, mono, ev));
        }
        Ok(())
    }

    /// Records an event that was queued on its own, with the time it was
    /// queued (not the time the writer got to it).
    fn trace_queued(&mut self, q: &QueuedEvent) -> HubResult<()> {
        let id = trace_table::insert(self.conn, q.at, q.mono_us, &q.event)?;
        self.stored(id);
        if self.live {
            self.events
                .push(TraceEvent::stored(id, q.at, q.mono_us, q.event.clone()));
        }
        Ok(())
    }

    /// The next C2D sequence number, covered by the group's commit.
    pub fn next_c2d_sequence(&mut self) -> HubResult<i64> {
        self.sequences.take(self.conn)
    }

    fn stored(&mut self, id: i64) {
        *self.newest_event = Some(self.newest_event.map_or(id, |n| n.max(id)));
    }

    fn mono_us(&self) -> u64 {
        u64::try_from(self.clock.monotonic().as_micros()).unwrap_or(u64::MAX)
    }
}

/// A closure waiting for the writer. It may run twice: see [`Group::run`].
pub(crate) trait Job: Send {
    /// Runs the closure; true when it succeeded.
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> bool;
    /// The error of a failed run.
    fn failure(&self) -> Option<&HubError>;
    /// Answers the caller once the group's fate is known.
    fn finish(self: Box<Self>, commit: Result<(), HubError>);
    /// Runs the job's hook, then answers a caller that asked not to wait
    /// for the disk, once the group has run in the open transaction.
    fn reply_early(&mut self);
    /// Whether the caller waits for the commit (most do).
    fn waits_for_commit(&self) -> bool;
}

/// Runs on the writer thread once a job's group has run (see
/// [`Work::job_then`]), with the job's successful result.
pub(crate) type Hook<T> = Box<dyn FnOnce(&mut T) + Send>;

struct TypedJob<F, T> {
    f: F,
    out: Option<HubResult<T>>,
    reply: Option<oneshot::Sender<HubResult<T>>>,
    /// Answer a success before the commit's fsync (see [`Work::early_job`]).
    early: bool,
    hook: Option<Hook<T>>,
}

impl<F, T> Job for TypedJob<F, T>
where
    T: Send + 'static,
    F: Fn(&mut WriteCtx<'_>) -> HubResult<T> + Send + 'static,
{
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> bool {
        let r = (self.f)(ctx);
        let ok = r.is_ok();
        self.out = Some(r);
        ok
    }

    fn failure(&self) -> Option<&HubError> {
        self.out.as_ref().and_then(|r| r.as_ref().err())
    }

    fn finish(self: Box<Self>, commit: Result<(), HubError>) {
        let Some(reply) = self.reply else { return };
        let result = match (commit, self.out) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(out)) => out,
            (Ok(()), None) => Err(HubError::Internal("a storage job never ran".into())),
        };
        let _ = reply.send(result);
    }

    fn waits_for_commit(&self) -> bool {
        !self.early
    }

    fn reply_early(&mut self) {
        if let (Some(hook), Some(Ok(out))) = (self.hook.take(), self.out.as_mut()) {
            hook(out);
        }
        if self.early
            && matches!(self.out, Some(Ok(_)))
            && let (Some(reply), Some(out)) = (self.reply.take(), self.out.take())
        {
            let _ = reply.send(out);
        }
    }
}

/// A trace event queued without a job, stamped when it was queued, so
/// its time is when it happened even if the writer is busy.
pub(crate) struct QueuedEvent {
    pub(crate) event: NewEvent,
    pub(crate) at: Timestamp,
    pub(crate) mono_us: u64,
}

/// One unit of work for the writer.
pub(crate) enum Work {
    /// A closure; its reply waits for the commit.
    Job(Box<dyn Job>),
    /// A trace event with no caller waiting (boxed: events are large and
    /// most work items are small).
    Trace(Box<QueuedEvent>),
    /// Ask the thread to finish and exit.
    Stop(oneshot::Sender<()>),
    /// The syncer caught up with the groups handed to it (see
    /// [`Finisher::hold`]).
    Synced,
}

impl Work {
    /// Wraps a typed closure and its reply channel. The closure must be
    /// re-runnable (`Fn`): if another job in its group fails half-way, the
    /// group is rolled back and run again with savepoints.
    pub(crate) fn job<T, F>(f: F, reply: oneshot::Sender<HubResult<T>>) -> Work
    where
        T: Send + 'static,
        F: Fn(&mut WriteCtx<'_>) -> HubResult<T> + Send + 'static,
    {
        Work::typed(f, reply, false, None)
    }

    /// A job whose success is answered as soon as its group has run, before
    /// the commit reaches the disk; failures still wait for the group. For
    /// changes a crash may lose without breaking a promise (a C2D lock: a
    /// lost lock only means the message is delivered again), so the caller
    /// does not wait for an fsync. Jobs still commit in queue order, so a
    /// later job sees this one's changes.
    pub(crate) fn early_job<T, F>(f: F, reply: oneshot::Sender<HubResult<T>>) -> Work
    where
        T: Send + 'static,
        F: Fn(&mut WriteCtx<'_>) -> HubResult<T> + Send + 'static,
    {
        Work::typed(f, reply, true, None)
    }

    /// A job with a `hook` that runs on the writer thread, in queue order,
    /// once the job's group has run and before its commit, given the job's
    /// successful result. It runs once, even when the job ran twice, and
    /// never for a failed job or a group SQLite rolled back.
    ///
    /// Why: a C2D delivery hands a locked message to a device's connection
    /// from here, so that deliveries reach the connection in the order
    /// their locks were taken, whichever path (a send, the device's pump)
    /// took them, and without another trip through an async task.
    pub(crate) fn job_then<T, F>(
        f: F,
        hook: Hook<T>,
        reply: oneshot::Sender<HubResult<T>>,
        early: bool,
    ) -> Work
    where
        T: Send + 'static,
        F: Fn(&mut WriteCtx<'_>) -> HubResult<T> + Send + 'static,
    {
        Work::typed(f, reply, early, Some(hook))
    }

    fn typed<T, F>(
        f: F,
        reply: oneshot::Sender<HubResult<T>>,
        early: bool,
        hook: Option<Hook<T>>,
    ) -> Work
    where
        T: Send + 'static,
        F: Fn(&mut WriteCtx<'_>) -> HubResult<T> + Send + 'static,
    {
        Work::Job(Box::new(TypedJob {
            f,
            out: None,
            reply: Some(reply),
            early,
            hook,
        }))
    }
}

/// The async side's handle on the writer thread.
pub(crate) struct WriterHandle {
    tx: Sender<Work>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// A job answered early has changes not committed yet (readers on
    /// other connections do not see them).
    uncommitted: Arc<AtomicBool>,
    /// The syncer's way to wake the writer, emptied when this handle goes:
    /// the thread must still see its queue close then.
    wake: WakeSlot,
}

type WakeSlot = Arc<std::sync::Mutex<Option<Sender<Work>>>>;

impl Drop for WriterHandle {
    fn drop(&mut self) {
        self.wake.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

impl WriterHandle {
    /// Whether a job answered early still waits for its commit.
    pub(crate) fn has_uncommitted(&self) -> bool {
        self.uncommitted.load(Ordering::Acquire)
    }

    pub(crate) fn send(&self, w: Work) -> HubResult<()> {
        self.tx
            .send(w)
            .map_err(|_| HubError::Internal("the storage writer stopped".into()))
    }

    /// Asks the thread to stop after the work already queued, and joins it.
    pub(crate) async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Work::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }
}

/// Starts the writer thread on `conn`. Each group is answered through
/// `answer` once its commit is as durable as `plan` says (see [`Finisher`]).
pub(crate) fn spawn(conn: Connection, answer: Answer, plan: Plan) -> HubResult<WriterHandle> {
    // The writer reports to the same live trace, health and clock as the
    // group's answers do.
    let (clock, live, health) = (
        answer.clock.clone(),
        answer.live.clone(),
        answer.health.clone(),
    );
    let (tx, rx) = channel();
    let wake: WakeSlot = Arc::new(std::sync::Mutex::new(Some(tx.clone())));
    let slot = wake.clone();
    let finisher = Finisher::start(
        plan,
        answer,
        Box::new(move || {
            if let Some(tx) = slot.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                let _ = tx.send(Work::Synced);
            }
        }),
    )?;
    let uncommitted = Arc::new(AtomicBool::new(false));
    let flag = uncommitted.clone();
    let thread = std::thread::Builder::new()
        .name("hublet-db-writer".into())
        .spawn(move || run(conn, rx, clock, live, health, flag, finisher))
        .map_err(|e| HubError::Internal(format!("cannot start the storage writer: {e}")))?;
    Ok(WriterHandle {
        tx,
        thread: std::sync::Mutex::new(Some(thread)),
        uncommitted,
        wake,
    })
}

fn run(
    mut conn: Connection,
    rx: Receiver<Work>,
    clock: SharedClock,
    live: broadcast::Sender<Arc<TraceEvent>>,
    health: Arc<StorageHealth>,
    uncommitted: Arc<AtomicBool>,
    mut finisher: Finisher,
) {
    let mut stop_reply = None;
    // The queue closed (every handle dropped): commit what is open, then end.
    let mut closed = false;
    let (mut groups, mut items) = (0u64, 0u64);
    let mut group = Group::default();
    let mut tail = trace_table::TailIndexer::default();
    let mut sequences = SequenceBlock::default();
    while !closed && stop_reply.is_none() {
        match rx.recv() {
            Ok(first) => group.push(first, &mut stop_reply),
            Err(_) => closed = true,
        }
        while group.len() < MAX_GROUP && stop_reply.is_none() {
            match rx.try_recv() {
                Ok(w) => group.push(w, &mut stop_reply),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        if group.has_new() {
            items += group.new_items() as u64;
            // Raised before a job is answered early, so a reader that
            // follows the answer knows to wait for the commit.
            if group.new_jobs().iter().any(|j| !j.waits_for_commit()) {
                uncommitted.store(true, Ordering::Release);
            }
            let watched = live.receiver_count() > 0;
            if let Err(e) = group.run(&mut conn, &clock, watched, &mut sequences) {
                // Nothing in the group was stored.
                tail.committed(false);
                sequences.committed(false);
                settle(
                    &mut group,
                    Err(e),
                    &health,
                    &clock,
                    &uncommitted,
                    &mut finisher,
                );
                continue;
            }
        }
        let ending = closed || stop_reply.is_some();
        if group.len() == 0 || (!ending && group.len() < MAX_GROUP && finisher.hold()) {
            // Nothing to commit, or the syncer still syncs the last group:
            // the next work (or the syncer's wake-up) runs in this same
            // transaction, which commits once the syncer is free.
            continue;
        }
        if group.open {
            // Nothing waits on the index: a failed batch is tried again
            // with the next group, and this group's own work still commits.
            if let Err(e) = tail.due(&conn, group.newest_event) {
                tracing::warn!("indexing the trace's newest events failed: {e}");
            }
        }
        let commit = group.commit(&conn, &mut sequences);
        tail.committed(commit.is_ok());
        sequences.committed(commit.is_ok());
        groups += 1;
        settle(
            &mut group,
            commit,
            &health,
            &clock,
            &uncommitted,
            &mut finisher,
        );
    }
    // Everyone handed over is answered before the hub says it stopped.
    finisher.stop();
    tracing::debug!(
        groups,
        items,
        "storage writer stopped ({:.1} items per group commit)",
        items as f64 / groups.max(1) as f64
    );
    // Fold the WAL into the database file, so that a stopped hub's hub.db
    // is complete on its own (people copy it as a backup).
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!("final checkpoint failed: {e}");
    }
    drop(conn);
    if let Some(reply) = stop_reply {
        let _ = reply.send(());
    }
}

/// Hands a group whose fate is known (committed, or rolled back with this
/// error) to the finisher, and starts an empty one.
fn settle(
    group: &mut Group,
    commit: Result<(), HubError>,
    health: &StorageHealth,
    clock: &SharedClock,
    uncommitted: &AtomicBool,
    finisher: &mut Finisher,
) {
    match &commit {
        Err(HubError::DiskFull { .. }) => health.report_full(clock.now()),
        Err(e) => tracing::error!("group commit failed: {e}"),
        Ok(_) => {}
    }
    uncommitted.store(false, Ordering::Release);
    let done = std::mem::take(group);
    finisher.finish(Finished {
        jobs: done.jobs,
        events: done.events,
        commit,
    });
}

/// The work of one transaction (a group commit).
///
/// With a syncer, work that arrives while the syncer syncs the last group
/// runs in increments in this group's open transaction, which commits once
/// the syncer is free (see `store/syncer.rs`). That wait is never longer
/// than what a waited-for job would wait anyway: its own sync could not
/// start before the running one ends.
///
/// Measured and left out: keeping the transaction open for a few
/// milliseconds, with no sync running, while only unwaited work (trace
/// events, C2D locks and completions) arrives, to share its pages with the
/// next waited-for commit. It did not lower the bytes written per C2D
/// message (with senders always waiting, nearly every group holds a send
/// anyway) and it moved the deferred writes into the critical path of the
/// next waited-for job: one method caller's round trip went from 0.16 to
/// 0.25 ms (`cargo bench -p hublet --bench versus`).
#[derive(Default)]
struct Group {
    order: Vec<Item>,
    jobs: Vec<Box<dyn Job>>,
    traces: Vec<QueuedEvent>,
    events: Vec<TraceEvent>,
    /// The newest trace event id stored (see [`WriteCtx`]).
    newest_event: Option<i64>,
    /// The transaction is open.
    open: bool,
    /// Items in `order` that have run.
    ran: usize,
    /// Jobs that have run (and had their early answer and hook).
    ran_jobs: usize,
}

impl Group {
    /// Adds a unit of work; a stop request is kept in `stop`, and the
    /// syncer's wake-up only wakes.
    fn push(&mut self, w: Work, stop: &mut Option<oneshot::Sender<()>>) {
        match w {
            Work::Job(j) => {
                self.order.push(Item::Job(self.jobs.len()));
                self.jobs.push(j);
            }
            Work::Trace(ev) => {
                self.order.push(Item::Trace(self.traces.len()));
                self.traces.push(*ev);
            }
            Work::Stop(r) => *stop = Some(r),
            Work::Synced => {}
        }
    }

    fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether work arrived that has not run yet.
    fn has_new(&self) -> bool {
        self.ran < self.order.len()
    }

    fn new_items(&self) -> usize {
        self.order.len() - self.ran
    }

    fn new_jobs(&self) -> &[Box<dyn Job>] {
        &self.jobs[self.ran_jobs..]
    }

    /// Runs the work that has not run yet in the group's transaction
    /// (beginning it if needed), then answers the early jobs among it
    /// (before the commit). On an error SQLite rolled back the whole
    /// transaction: nothing in the group was stored.
    ///
    /// Fast path: every job runs directly in the transaction. A job that
    /// fails without having written anything (the normal shape of a refused
    /// request: check, then write) costs nothing more. Only if a job fails
    /// *after* writing is the increment rolled back (the whole transaction
    /// for the first, a savepoint for later ones) and run again, each job
    /// inside its own savepoint, so the failed job's partial writes are
    /// undone and every other job still commits. Earlier increments are
    /// never run again: their early answers and hooks have gone out with
    /// their results. Savepoints are not used per job on the fast path
    /// because SQLite copies each touched page into a sub-journal for
    /// them, which halves throughput; one per increment copies each page
    /// at most once.
    fn run(
        &mut self,
        conn: &mut Connection,
        clock: &SharedClock,
        watched: bool,
        sequences: &mut SequenceBlock,
    ) -> Result<(), HubError> {
        let r = self.begin_and_run(conn, clock, watched, sequences);
        if r.is_err() {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            self.open = false;
        }
        r
    }

    fn begin_and_run(
        &mut self,
        conn: &mut Connection,
        clock: &SharedClock,
        watched: bool,
        sequences: &mut SequenceBlock,
    ) -> Result<(), HubError> {
        let now = clock.now();
        let later = self.open;
        if later {
            conn.prepare_cached("SAVEPOINT increment")?.execute([])?;
        } else {
            // Cached: parsing even this costs the writer at every group.
            conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
            self.open = true;
        }
        let mark = self.events.len();
        if let Err(Dirty) = self.run_items(conn, clock, now, watched, sequences, false) {
            // Start the increment over with savepoints.
            if later {
                conn.execute_batch("ROLLBACK TO increment")?;
            } else {
                conn.execute_batch("ROLLBACK; BEGIN IMMEDIATE")?;
            }
            self.events.truncate(mark);
            let _ = self.run_items(conn, clock, now, watched, sequences, true);
        }
        if later && !conn.is_autocommit() {
            conn.prepare_cached("RELEASE increment")?.execute([])?;
        }
        if conn.is_autocommit() {
            // SQLite ended the transaction by itself (a full disk, an I/O
            // error): nothing in the group was stored.
            self.open = false;
            let failed = self.jobs.iter().find_map(|j| j.failure().cloned());
            return Err(failed.unwrap_or_else(|| {
                HubError::Internal("SQLite rolled back the transaction".into())
            }));
        }
        self.ran = self.order.len();
        for j in self.jobs[self.ran_jobs..].iter_mut() {
            j.reply_early();
        }
        self.ran_jobs = self.jobs.len();
        Ok(())
    }

    /// Runs the items that have not run yet; `Err(Dirty)` when a job failed
    /// after writing on the fast path (or SQLite ended the transaction: then
    /// the caller sees autocommit). `careful` runs each job in a savepoint.
    fn run_items(
        &mut self,
        conn: &Connection,
        clock: &SharedClock,
        now: crate::clock::Timestamp,
        watched: bool,
        sequences: &mut SequenceBlock,
        careful: bool,
    ) -> Result<(), Dirty> {
        for k in self.ran..self.order.len() {
            let item = self.order[k];
            let mut ctx = WriteCtx {
                conn,
                now,
                clock,
                events: &mut self.events,
                live: watched,
                newest_event: &mut self.newest_event,
                sequences: &mut *sequences,
            };
            match item {
                Item::Trace(i) => {
                    if let Err(e) = ctx.trace_queued(&self.traces[i]) {
                        if conn.is_autocommit() {
                            return Ok(());
                        }
                        tracing::warn!("trace event not stored: {e}");
                    }
                }
                Item::Job(i) if careful => {
                    let mark = ctx.events.len();
                    if conn.execute_batch("SAVEPOINT job").is_err() {
                        return Ok(());
                    }
                    if self.jobs[i].run(&mut ctx) {
                        if conn.execute_batch("RELEASE job").is_err() {
                            return Ok(());
                        }
                    } else {
                        if conn.is_autocommit() {
                            return Ok(());
                        }
                        if conn.execute_batch("ROLLBACK TO job; RELEASE job").is_err() {
                            return Ok(());
                        }
                        ctx.events.truncate(mark);
                    }
                }
                Item::Job(i) => {
                    let before = conn.total_changes();
                    let mark = ctx.events.len();
                    if !self.jobs[i].run(&mut ctx) {
                        if conn.is_autocommit() {
                            return Ok(());
                        }
                        if conn.total_changes() != before {
                            return Err(Dirty);
                        }
                        ctx.events.truncate(mark);
                    }
                }
            }
        }
        Ok(())
    }

    /// Commits, after covering the C2D sequence numbers the group used with
    /// a reservation in the same transaction (a group whose numbers cannot
    /// be covered is rolled back, not committed).
    fn commit(&mut self, conn: &Connection, sequences: &mut SequenceBlock) -> Result<(), HubError> {
        if !self.open {
            return Ok(());
        }
        self.open = false;
        if let Err(e) = sequences.reserve(conn) {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            return Err(e);
        }
        match conn
            .prepare_cached("COMMIT")
            .and_then(|mut c| c.execute([]))
        {
            Ok(_) => Ok(()),
            Err(e) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                Err(HubError::from(e))
            }
        }
    }
}

/// A job failed after writing on the fast path.
struct Dirty;

#[derive(Clone, Copy)]
enum Item {
    Job(usize),
    Trace(usize),
}
