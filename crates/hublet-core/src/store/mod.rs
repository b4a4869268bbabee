//! Storage: one SQLite file, one writer thread, group commit.
//!
//! rusqlite is synchronous, so async code never touches a connection. All
//! writes go to a single writer thread as closures ([`Db::write`]); the
//! thread takes every job waiting in its queue, runs each inside its own
//! savepoint of one shared transaction, commits once, and only then answers
//! the callers. That is group commit: under load many sends share one fsync,
//! yet every send that returns `Ok` is committed. With full durability the
//! syncer thread answers them once an `fdatasync` has the commit on the disk,
//! while the writer goes on with the next group (`syncer.rs`).
//!
//! Trace events written by a job are inserted in the same transaction as the
//! state change they describe, and published to live subscribers only after
//! the commit (and its sync), so nobody ever sees an event for a change that
//! was rolled back.
//!
//! Reads run on a small pool of read-only connections on tokio's blocking
//! threads; in WAL mode they never wait for the writer.
//!
//! To add a table: create `your_module/table.rs` with its `CREATE` statements
//! and row functions, and append a migration to [`migrations::MIGRATIONS`].

mod checkpoint;
mod health;
pub mod integrity;
pub(crate) mod migrations;
mod open;
mod syncer;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::{broadcast, oneshot};

use crate::clock::SharedClock;
use crate::error::{HubError, HubResult};
use crate::trace::{NewEvent, TraceEvent};

pub(crate) use health::StorageHealth;
pub use health::StorageProblem;
pub(crate) use open::DataDirLock;
pub use writer::Durability;
pub(crate) use writer::WriteCtx;
use writer::{Work, WriterHandle};

/// Handle to the database: the writer thread and the reader pool.
pub(crate) struct Db {
    writer: WriterHandle,
    checkpointer: checkpoint::Checkpointer,
    path: PathBuf,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// Bounds the reads in flight (see [`MAX_READS`]).
    reads: Arc<tokio::sync::Semaphore>,
    health: Arc<StorageHealth>,
    clock: SharedClock,
}

const MAX_IDLE_READERS: usize = 4;

/// Most reads running at once, each on a blocking thread. Without a bound a
/// burst (2,000 devices connecting at once, each read for its session)
/// started a blocking thread per read, up to tokio's 512, and their stacks
/// and allocator caches stayed in the process's memory; more threads than
/// this do not read faster on a desktop's cores anyway (docs/benchmarks.md).
const MAX_READS: usize = 8;

impl Db {
    /// Opens (creating and migrating if needed) the database at `path`.
    /// Refuses, without modifying it, a file that is not a Hublet database or
    /// comes from a newer Hublet.
    pub(crate) fn open(
        path: &Path,
        durability: Durability,
        clock: SharedClock,
        live: broadcast::Sender<Arc<TraceEvent>>,
        max_pages: Option<u64>,
    ) -> HubResult<Db> {
        open::check_existing(path)?;
        let conn = open::open_rw(path, durability)?;
        if let Some(n) = max_pages {
            conn.query_row(&format!("PRAGMA max_page_count={n}"), [], |_| Ok(()))?;
        }
        migrations::migrate(&conn)?;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let health = Arc::new(StorageHealth::new(dir.display().to_string()));
        let answer = syncer::Answer {
            live: live.clone(),
            health: health.clone(),
            clock: clock.clone(),
        };
        let plan = syncer::for_durability(durability, &conn, path)?;
        let writer = writer::spawn(conn, answer, plan)?;
        let checkpointer = checkpoint::Checkpointer::spawn(path)?;
        Ok(Db {
            writer,
            checkpointer,
            path: path.to_path_buf(),
            readers: Arc::new(Mutex::new(Vec::new())),
            reads: Arc::new(tokio::sync::Semaphore::new(MAX_READS)),
            health,
            clock,
        })
    }

    /// Whether the store can write, for people to see.
    pub(crate) fn health(&self) -> &StorageHealth {
        &self.health
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the writer thread in the next group transaction and
    /// returns its result once that transaction committed. If `f` fails, its
    /// changes (and trace events) are undone and the rest of the group still
    /// commits. `f` may run twice (see `writer::Group::run`), so it must not
    /// consume what it captures.
    pub(crate) async fn write<T, F>(&self, f: F) -> HubResult<T>
    where
        T: Send + 'static,
        F: Fn(&mut WriteCtx<'_>) -> HubResult<T> + Send + 'static,
    {
        self.submit(f)?.await
    }

    /// Like [`write`](Self::write), but a success is returned as soon as
    /// the job's group has run, without waiting for the commit's fsync
    /// ([`Work::early_job`]): for changes a crash may lose.
    pub(crate) async fn write_unsynced<T, F>(&self, f: F) -> HubResult<T>
    where
        T: Send + 'static,
        F: Fn(&mut WriteCtx<'_>) -> HubResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.writer.send(Work::early_job(f, tx))?;
        rx.await
            .map_err(|_| HubError::Internal("the storage writer stopped".into()))?
    }

    /// Queues `f` for the writer now and returns a future of its committed
    /// result. Jobs commit in the order they were queued, so a caller that
    /// must keep an order (a link's deliveries) queues in that order and
    /// awaits the results later, with many in flight.
    pub(crate) fn submit<T, F>(
        &self,
        f: F,
    ) -> HubResult<impl std::future::Future<Output = HubResult<T>> + Send + 'static + use<T, F>>
    where
        T: Send + 'static,
        F: Fn(&mut WriteCtx<'_>) -> HubResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.writer.send(Work::job(f, tx))?;
        Ok(self.committed(rx))
    }

    /// [`submit`](Self::submit) with a hook run on the writer thread, in
    /// queue order, once the job's group has run (before the commit; see
    /// [`Work::job_then`]).
    pub(crate) fn submit_then<T, F>(
        &self,
        f: F,
        hook: writer::Hook<T>,
    ) -> HubResult<impl std::future::Future<Output = HubResult<T>> + Send + 'static + use<T, F>>
    where
        T: Send + 'static,
        F: Fn(&mut WriteCtx<'_>) -> HubResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.writer.send(Work::job_then(f, hook, tx, false))?;
        Ok(self.committed(rx))
    }

    /// [`write_unsynced`](Self::write_unsynced) with a hook, as in
    /// [`submit_then`](Self::submit_then).
    pub(crate) async fn write_unsynced_then<T, F>(
        &self,
        f: F,
        hook: writer::Hook<T>,
    ) -> HubResult<T>
    where
        T: Send + 'static,
        F: Fn(&mut WriteCtx<'_>) -> HubResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.writer.send(Work::job_then(f, hook, tx, true))?;
        rx.await
            .map_err(|_| HubError::Internal("the storage writer stopped".into()))?
    }

    /// The answer of a job queued with `rx`, a full disk reported as such.
    fn committed<T: Send + 'static>(
        &self,
        rx: oneshot::Receiver<HubResult<T>>,
    ) -> impl std::future::Future<Output = HubResult<T>> + Send + 'static + use<T> {
        let health = self.health.clone();
        let clock = self.clock.clone();
        async move {
            let result = rx
                .await
                .map_err(|_| HubError::Internal("the storage writer stopped".into()))?;
            result.map_err(|e| match e {
                HubError::DiskFull { .. } => {
                    health.report_full(clock.now());
                    HubError::DiskFull {
                        dir: health.dir().to_string(),
                    }
                }
                e => e,
            })
        }
    }

    /// Queues a trace event without waiting for its commit. Events keep the
    /// order in which they were queued relative to all other writes.
    pub(crate) fn append(&self, ev: NewEvent) {
        let queued = writer::QueuedEvent {
            event: ev,
            at: self.clock.now(),
            mono_us: u64::try_from(self.clock.monotonic().as_micros()).unwrap_or(u64::MAX),
        };
        if self.writer.send(Work::Trace(Box::new(queued))).is_err() {
            tracing::warn!("trace event dropped: the storage writer stopped");
        }
    }

    /// Resolves when everything queued before it is committed.
    pub(crate) async fn flush(&self) -> HubResult<()> {
        self.write(|_| Ok(())).await
    }

    /// Runs a read-only query on a pooled connection off the async threads.
    /// It sees every change whose caller was answered: changes answered
    /// before their commit (C2D locks and completions, see
    /// [`write_unsynced`](Self::write_unsynced)) are committed first if any
    /// are pending.
    pub(crate) async fn read<T, F>(&self, f: F) -> HubResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> HubResult<T> + Send + 'static,
    {
        if self.writer.has_uncommitted() {
            self.flush().await?;
        }
        self.read_committed(f).await
    }

    /// [`read`](Self::read) without committing pending early-answered changes
    /// first: for readers that only follow committed data (the event log,
    /// read after the commit that woke them).
    pub(crate) async fn read_committed<T, F>(&self, f: F) -> HubResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> HubResult<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let path = self.path.clone();
        let permit = self
            .reads
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HubError::Internal("the storage readers stopped".into()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = match lock(&readers).pop() {
                Some(c) => c,
                None => open::open_ro(&path)?,
            };
            let out = f(&conn);
            let mut pool = lock(&readers);
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|e| HubError::Internal(format!("read task failed: {e}")))?
    }

    /// Stops the writer after it has committed everything queued, and waits for it.
    pub(crate) async fn close(&self) -> HubResult<()> {
        self.flush().await?;
        self.writer.stop().await;
        self.checkpointer.stop().await;
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
