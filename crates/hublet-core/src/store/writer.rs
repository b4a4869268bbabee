//! The writer thread: owns the read-write connection and commits in groups.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot};

use crate::clock::{SharedClock, Timestamp};
use crate::error::{HubError, HubResult};
use crate::store::StorageHealth;
use crate::trace::{NewEvent, TraceEvent, table as trace_table};

/// How hard a commit tries to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// fsync on every group commit: survives power loss (SQLite `synchronous=FULL`).
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
}

impl WriteCtx<'_> {
    /// Records a trace event in the same transaction as the job's changes.
    pub fn trace(&mut self, ev: NewEvent) -> HubResult<()> {
        let mono = self.mono_us();
        let id = trace_table::insert(self.conn, self.now, mono, &ev)?;
        if self.live {
            self.events.push(TraceEvent::stored(id, self.now, mono, ev));
        }
        Ok(())
    }

    fn trace_ref(&mut self, ev: &NewEvent) -> HubResult<()> {
        let mono = self.mono_us();
        let id = trace_table::insert(self.conn, self.now, mono, ev)?;
        if self.live {
            self.events
                .push(TraceEvent::stored(id, self.now, mono, ev.clone()));
        }
        Ok(())
    }

    fn mono_us(&self) -> u64 {
        u64::try_from(self.clock.monotonic().as_micros()).unwrap_or(u64::MAX)
    }
}

/// A closure waiting for the writer. It may run twice: see [`run_group`].
pub(crate) trait Job: Send {
    /// Runs the closure; true when it succeeded.
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> bool;
    /// The error of a failed run.
    fn failure(&self) -> Option<&HubError>;
    /// Answers the caller once the group's fate is known.
    fn finish(self: Box<Self>, commit: Result<(), HubError>);
}

struct TypedJob<F, T> {
    f: F,
    out: Option<HubResult<T>>,
    reply: oneshot::Sender<HubResult<T>>,
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
        let result = match (commit, self.out) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(out)) => out,
            (Ok(()), None) => Err(HubError::Internal("a storage job never ran".into())),
        };
        let _ = self.reply.send(result);
    }
}

/// One unit of work for the writer.
pub(crate) enum Work {
    /// A closure; its reply waits for the commit.
    Job(Box<dyn Job>),
    /// A trace event with no caller waiting (boxed: events are large and
    /// most work items are small).
    Trace(Box<NewEvent>),
    /// Ask the thread to finish and exit.
    Stop(oneshot::Sender<()>),
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
        Work::Job(Box::new(TypedJob {
            f,
            out: None,
            reply,
        }))
    }
}

/// The async side's handle on the writer thread.
pub(crate) struct WriterHandle {
    tx: Sender<Work>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl WriterHandle {
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

pub(crate) fn spawn(
    conn: Connection,
    clock: SharedClock,
    live: broadcast::Sender<Arc<TraceEvent>>,
    health: Arc<StorageHealth>,
) -> HubResult<WriterHandle> {
    let (tx, rx) = channel();
    let thread = std::thread::Builder::new()
        .name("hublet-db-writer".into())
        .spawn(move || run(conn, rx, clock, live, health))
        .map_err(|e| HubError::Internal(format!("cannot start the storage writer: {e}")))?;
    Ok(WriterHandle {
        tx,
        thread: std::sync::Mutex::new(Some(thread)),
    })
}

fn run(
    mut conn: Connection,
    rx: Receiver<Work>,
    clock: SharedClock,
    live: broadcast::Sender<Arc<TraceEvent>>,
    health: Arc<StorageHealth>,
) {
    let mut batch: Vec<Work> = Vec::with_capacity(MAX_GROUP);
    let mut stop_reply = None;
    let (mut groups, mut items) = (0u64, 0u64);
    while stop_reply.is_none() {
        match rx.recv() {
            Ok(w) => batch.push(w),
            Err(_) => break,
        }
        while batch.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        groups += 1;
        items += batch.len() as u64;
        let mut jobs: Vec<Box<dyn Job>> = Vec::new();
        let mut traces: Vec<NewEvent> = Vec::new();
        let mut order: Vec<Item> = Vec::with_capacity(batch.len());
        for w in batch.drain(..) {
            match w {
                Work::Job(j) => {
                    order.push(Item::Job(jobs.len()));
                    jobs.push(j);
                }
                Work::Trace(ev) => {
                    order.push(Item::Trace(traces.len()));
                    traces.push(*ev);
                }
                Work::Stop(r) => stop_reply = Some(r),
            }
        }
        let mut events = Vec::new();
        let watched = live.receiver_count() > 0;
        let commit = run_group(
            &mut conn,
            &clock,
            watched,
            &order,
            &mut jobs,
            &traces,
            &mut events,
        );
        match &commit {
            Err(HubError::DiskFull { .. }) => {
                health.report_full(clock.now());
                events.clear();
            }
            Err(e) => {
                tracing::error!("group commit failed: {e}");
                events.clear();
            }
            Ok(()) => health.committed(clock.now()),
        }
        for j in jobs {
            j.finish(commit.clone());
        }
        for ev in events {
            // No receivers is fine: nobody is watching the live trace.
            let _ = live.send(Arc::new(ev));
        }
    }
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

#[derive(Clone, Copy)]
enum Item {
    Job(usize),
    Trace(usize),
}

/// SQLite ends the whole transaction by itself on some errors (a full disk,
/// an I/O error): then nothing in the group was stored, and every job in it
/// is answered with the failing job's error.
fn rolled_back(job: &dyn Job) -> HubError {
    job.failure()
        .cloned()
        .unwrap_or_else(|| HubError::Internal("SQLite rolled back the transaction".into()))
}

/// Runs one group in one transaction.
///
/// Fast path: every job runs directly in the transaction. A job that fails
/// without having written anything (the normal shape of a refused request:
/// check, then write) costs nothing more. Only if a job fails *after*
/// writing is the whole transaction rolled back and the group run again,
/// each job inside its own savepoint, so the failed job's partial writes are
/// undone and every other job still commits. Savepoints are not used on the
/// fast path because SQLite copies each touched page into a sub-journal for
/// them, which halves throughput.
fn run_group(
    conn: &mut Connection,
    clock: &SharedClock,
    watched: bool,
    order: &[Item],
    jobs: &mut [Box<dyn Job>],
    traces: &[NewEvent],
    events: &mut Vec<TraceEvent>,
) -> Result<(), HubError> {
    let now = clock.now();
    for careful in [false, true] {
        events.clear();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut dirty_failure = false;
        for item in order {
            let mut ctx = WriteCtx {
                conn: &tx,
                now,
                clock,
                events,
                live: watched,
            };
            match *item {
                Item::Trace(i) => {
                    if let Err(e) = ctx.trace_ref(&traces[i]) {
                        if tx.is_autocommit() {
                            return Err(e);
                        }
                        tracing::warn!("trace event not stored: {e}");
                    }
                }
                Item::Job(i) if careful => {
                    let mark = ctx.events.len();
                    tx.execute_batch("SAVEPOINT job")?;
                    if jobs[i].run(&mut ctx) {
                        tx.execute_batch("RELEASE job")?;
                    } else {
                        if tx.is_autocommit() {
                            return Err(rolled_back(jobs[i].as_ref()));
                        }
                        tx.execute_batch("ROLLBACK TO job; RELEASE job")?;
                        ctx.events.truncate(mark);
                    }
                }
                Item::Job(i) => {
                    let before = tx.total_changes();
                    let mark = ctx.events.len();
                    if !jobs[i].run(&mut ctx) {
                        if tx.is_autocommit() {
                            return Err(rolled_back(jobs[i].as_ref()));
                        }
                        if tx.total_changes() != before {
                            dirty_failure = true;
                            break;
                        }
                        ctx.events.truncate(mark);
                    }
                }
            }
        }
        if dirty_failure {
            tx.rollback()?;
            continue;
        }
        return tx.commit().map_err(HubError::from);
    }
    Err(HubError::Internal(
        "unreachable: the careful pass always commits or fails".into(),
    ))
}
