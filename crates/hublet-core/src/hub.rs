//! The hub: opens storage, owns the shared state, runs the sweepers, and
//! hands out the per-area faces ([`Hub::registry`], [`Hub::mailbox`],
//! [`Hub::feedback`], [`Hub::methods`], [`Hub::trace`]) and the attachment
//! interface ([`Hub::attach`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::attach::{DetachReason, Presence};
use crate::auth::{self, Permission, Policy};
use crate::clock::{SharedClock, SystemClock, Timestamp};
use crate::error::{HubError, HubResult};
use crate::feedback::Feedback;
use crate::mailbox::Mailbox;
use crate::methods::Methods;
use crate::registry::Registry;
use crate::registry::table::DeviceRow;
use crate::settings::HubSettings;
use crate::store::{DataDirLock, Db, Durability};
use crate::trace::detail::{SettingChange, SettingsChanged};
use crate::trace::{NewEvent, Trace, TraceDetail, TraceEvent};

/// How to open a hub.
#[derive(Clone)]
pub struct HubOptions {
    /// The SQLite file (created if missing).
    pub db_path: PathBuf,
    /// The time source.
    pub clock: SharedClock,
    /// fsync policy.
    pub durability: Durability,
    /// Settings for a brand-new database (an existing one keeps its own).
    pub initial_settings: HubSettings,
    /// Run the expiry sweeper and trace retention in the background.
    pub background_tasks: bool,
    /// How often the sweeper runs.
    pub sweep_interval: Duration,
    /// How often trace retention runs.
    pub retention_interval: Duration,
    /// A cap on the database's size, in pages (SQLite's `max_page_count`);
    /// a write past it fails as if the disk were full. None: no cap. Tests
    /// use it to provoke a full disk without filling one.
    pub max_database_pages: Option<u64>,
}

impl HubOptions {
    /// Defaults: system clock, full durability, IoT Hub's settings, background tasks on.
    pub fn new(db_path: impl Into<PathBuf>) -> HubOptions {
        HubOptions {
            db_path: db_path.into(),
            clock: SystemClock::shared(),
            durability: Durability::Full,
            initial_settings: HubSettings::default(),
            background_tasks: true,
            sweep_interval: Duration::from_secs(1),
            retention_interval: Duration::from_secs(60),
            max_database_pages: None,
        }
    }

    /// Caps the database at `pages` pages (see [`HubOptions::max_database_pages`]).
    pub fn max_database_pages(mut self, pages: u64) -> HubOptions {
        self.max_database_pages = Some(pages);
        self
    }

    /// Uses `clock` instead of the system clock.
    pub fn clock(mut self, clock: SharedClock) -> HubOptions {
        self.clock = clock;
        self
    }

    /// Sets the durability.
    pub fn durability(mut self, d: Durability) -> HubOptions {
        self.durability = d;
        self
    }

    /// Settings for a new database.
    pub fn settings(mut self, s: HubSettings) -> HubOptions {
        self.initial_settings = s;
        self
    }

    /// Turns the background sweeper and retention on or off (tests drive them by hand).
    pub fn background_tasks(mut self, on: bool) -> HubOptions {
        self.background_tasks = on;
        self
    }
}

/// The platform's data directory for Hublet (e.g. `~/.local/share/hublet`).
pub fn default_data_dir() -> PathBuf {
    directories::ProjectDirs::from("dev", "Hublet", "hublet")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".hublet"))
}

/// The database file name inside a data directory.
pub const DB_FILE: &str = "hublet.db";

pub(crate) struct HubInner {
    pub(crate) db: Db,
    pub(crate) clock: SharedClock,
    /// Shared with storage jobs that hand C2D messages to connections.
    pub(crate) presence: Arc<Presence>,
    pub(crate) live: broadcast::Sender<Arc<TraceEvent>>,
    pub(crate) request_ids: crate::methods::request_ids::RequestIds,
    /// Serializes service writes to twins through their notifications.
    pub(crate) twin_writes: tokio::sync::Mutex<()>,
    /// Who reads which Event Hub partition (epochs, the plain-reader limit).
    pub(crate) owners: Arc<crate::events::owners::Owners>,
    settings: RwLock<Arc<HubSettings>>,
    policies: RwLock<Arc<Vec<Policy>>>,
    next_attachment: AtomicU64,
    shutdown: watch::Sender<bool>,
    lock: DataDirLock,
}

/// A running hub. Cheap to clone; every clone is the same hub.
#[derive(Clone)]
pub struct Hub {
    pub(crate) inner: Arc<HubInner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("db", &self.inner.db.path())
            .finish()
    }
}

/// Live events buffered per subscriber before it counts as lagging.
const LIVE_BUFFER: usize = 65_536;

/// Counts for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubStats {
    /// Registered devices.
    pub devices: u64,
    /// Devices attached now.
    pub connected: u64,
    /// C2D messages in all queues.
    pub queued_messages: u64,
    /// Feedback records not yet batched.
    pub pending_feedback_records: u64,
    /// Feedback messages waiting for a receiver.
    pub feedback_messages: u64,
    /// Trace events stored.
    pub trace_events: u64,
    /// The database file.
    pub database: String,
    /// Its size on disk in bytes (with the WAL).
    pub database_bytes: u64,
    /// What is wrong with storage (a full disk), if anything.
    pub storage: Option<crate::store::StorageProblem>,
}

impl Hub {
    /// Opens the hub on `opts.db_path`: takes the data-directory lock,
    /// opens and migrates the database, and starts the background tasks.
    /// Must be called inside a tokio runtime.
    pub async fn open(opts: HubOptions) -> HubResult<Hub> {
        opts.initial_settings.validate()?;
        let lock = DataDirLock::acquire(&opts.db_path)?;
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        let db_path = opts.db_path.clone();
        let durability = opts.durability;
        let clock = opts.clock.clone();
        let live2 = live.clone();
        let max_pages = opts.max_database_pages;
        let db = tokio::task::spawn_blocking(move || {
            Db::open(&db_path, durability, clock, live2, max_pages)
        })
        .await
        .map_err(|e| HubError::Internal(format!("open task failed: {e}")))??;
        let initial = opts.initial_settings.clone();
        let (settings, policies) = db
            .write(move |ctx| {
                let settings = match crate::settings::table::load(ctx.conn)? {
                    Some(s) => s,
                    None => {
                        crate::settings::table::save(ctx.conn, &initial)?;
                        initial.clone()
                    }
                };
                let mut policies = auth::table::load(ctx.conn)?;
                if policies.is_empty() {
                    policies = auth::default_policies();
                    for p in &policies {
                        auth::table::insert(ctx.conn, p)?;
                    }
                    policies = auth::table::load(ctx.conn)?;
                }
                // Connections of an earlier run are gone: their C2D locks too.
                let released = crate::mailbox::ops::release_pushed(ctx, &settings)?;
                if released > 0 {
                    tracing::info!(
                        "released {released} C2D locks held by connections of the previous run"
                    );
                }
                Ok((settings, policies))
            })
            .await?;
        let request_ids = crate::methods::request_ids::RequestIds::open(&db).await?;
        let (shutdown, _) = watch::channel(false);
        let hub = Hub {
            inner: Arc::new(HubInner {
                db,
                clock: opts.clock.clone(),
                presence: Arc::new(Presence::default()),
                live,
                request_ids,
                twin_writes: tokio::sync::Mutex::new(()),
                owners: Arc::default(),
                settings: RwLock::new(Arc::new(settings)),
                policies: RwLock::new(Arc::new(policies)),
                next_attachment: AtomicU64::new(1),
                shutdown,
                lock,
            }),
        };
        if opts.background_tasks {
            hub.spawn_background(opts.sweep_interval, opts.retention_interval);
        }
        Ok(hub)
    }

    /// Detaches every device, stops the background tasks, and commits
    /// everything queued. The data-directory lock is released when the last
    /// clone of the hub is dropped.
    pub async fn close(&self) -> HubResult<()> {
        let _ = self.inner.shutdown.send(true);
        for (device, id) in self.inner.presence.attached() {
            self.detach_attachment(&device, id, DetachReason::Shutdown)
                .await;
        }
        self.inner.db.close().await
    }

    /// Resolves when [`Hub::close`] is called.
    pub async fn shutdown_signal(&self) {
        let mut rx = self.inner.shutdown.subscribe();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    fn spawn_background(&self, sweep: Duration, retention: Duration) {
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = hub.inner.clock.sleep(sweep) => {}
                    _ = hub.shutdown_signal() => return,
                }
                if let Err(e) = hub.sweep().await {
                    tracing::warn!("sweep failed: {e}");
                }
            }
        });
        let hub = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = hub.inner.clock.sleep(retention) => {}
                    _ = hub.shutdown_signal() => return,
                }
                if let Err(e) = hub.trace().enforce_retention().await {
                    tracing::warn!("trace retention failed: {e}");
                }
                if let Err(e) = hub.events().enforce_retention().await {
                    tracing::warn!("event retention failed: {e}");
                }
            }
        });
    }

    /// One sweep of everything timed: C2D locks and TTLs, feedback batching and expiry.
    pub async fn sweep(&self) -> HubResult<crate::mailbox::SweepReport> {
        let r = self.mailbox().sweep().await?;
        self.feedback().sweep().await?;
        Ok(r)
    }

    /// The device registry.
    pub fn registry(&self) -> Registry<'_> {
        Registry { hub: self }
    }

    /// The C2D mailboxes.
    pub fn mailbox(&self) -> Mailbox<'_> {
        Mailbox { hub: self }
    }

    /// The feedback queue.
    pub fn feedback(&self) -> Feedback<'_> {
        Feedback { hub: self }
    }

    /// The device twins.
    pub fn twins(&self) -> crate::twin::Twins<'_> {
        crate::twin::Twins { hub: self }
    }

    /// The Event Hub-compatible event log: partitions, positions, consumer groups.
    pub fn events(&self) -> crate::events::Events<'_> {
        crate::events::Events { hub: self }
    }

    /// Module identities: create, list, get, update, delete, connection strings.
    pub fn modules(&self) -> crate::modules::Modules<'_> {
        crate::modules::Modules { hub: self }
    }

    /// The direct-method engine.
    pub fn methods(&self) -> Methods<'_> {
        Methods { hub: self }
    }

    /// QA run records ([`crate::runs`]).
    pub fn test_runs(&self) -> crate::runs::TestRuns<'_> {
        crate::runs::TestRuns { hub: self }
    }

    /// Per-device state of one transport adapter (`namespace` names the adapter, e.g. `mqtt`).
    pub fn adapter_state(&self, namespace: &'static str) -> crate::adapter::AdapterState<'_> {
        crate::adapter::AdapterState {
            hub: self,
            namespace,
        }
    }

    /// The trace log.
    pub fn trace(&self) -> Trace<'_> {
        Trace { hub: self }
    }

    /// The hub's clock.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The clock's current time.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        self.inner.db.path()
    }

    /// The data-directory lock file.
    pub fn lock_path(&self) -> &Path {
        self.inner.lock.path()
    }

    /// The current settings.
    pub fn settings(&self) -> Arc<HubSettings> {
        self.inner
            .settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Validates and stores new settings.
    pub async fn update_settings(&self, new: HubSettings) -> HubResult<Arc<HubSettings>> {
        new.validate()?;
        let old = self.settings();
        if new.event_partitions != old.event_partitions
            && self.inner.db.read(crate::events::table::ever_used).await?
        {
            return Err(HubError::invalid_field(
                "eventPartitions",
                format!(
                    "the partition count is fixed once events are stored (it is {}), as on IoT Hub",
                    old.event_partitions
                ),
            ));
        }
        let saved = new.clone();
        let changes = settings_diff(&old, &new);
        self.inner
            .db
            .write(move |ctx| {
                crate::settings::table::save(ctx.conn, &saved)?;
                ctx.trace(NewEvent::hub(TraceDetail::SettingsChanged(
                    SettingsChanged {
                        changes: changes.clone(),
                    },
                )))
            })
            .await?;
        let new = Arc::new(new);
        *self
            .inner
            .settings
            .write()
            .unwrap_or_else(|p| p.into_inner()) = new.clone();
        Ok(new)
    }

    /// What is wrong with storage now (a full disk), if anything.
    pub fn storage_problem(&self) -> Option<crate::store::StorageProblem> {
        self.inner.db.health().current()
    }

    /// Follows [`Hub::storage_problem`] as it changes.
    pub fn watch_storage(&self) -> watch::Receiver<Option<crate::store::StorageProblem>> {
        self.inner.db.health().watch()
    }

    /// The shared access policies.
    pub fn policies(&self) -> Arc<Vec<Policy>> {
        self.inner
            .policies
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Checks a service SAS token for a permission; returns the policy name.
    pub fn authenticate_service(&self, token: &str, needed: Permission) -> HubResult<String> {
        auth::verify_service_token(
            token,
            needed,
            &self.policies(),
            &self.settings().host_names(),
            self.now().unix_seconds(),
        )
        .map_err(|e| HubError::Unauthorized(e.to_string()))
    }

    /// Dashboard counts.
    pub async fn stats(&self) -> HubResult<HubStats> {
        let connected = self.inner.presence.connected_count() as u64;
        let path = self.db_path().to_path_buf();
        let mut s = self
            .inner
            .db
            .read(move |conn| {
                Ok(HubStats {
                    devices: crate::registry::table::count(conn)?,
                    connected: 0,
                    queued_messages: crate::mailbox::table::total(conn)?,
                    pending_feedback_records: crate::feedback::table::pending_count(conn)?,
                    feedback_messages: crate::feedback::table::batch_count(conn)?,
                    trace_events: crate::trace::table::extent(conn)?.0,
                    database: path.display().to_string(),
                    database_bytes: file_size(&path),
                    storage: None,
                })
            })
            .await?;
        s.connected = connected;
        s.storage = self.storage_problem();
        Ok(s)
    }

    pub(crate) async fn device_row(&self, device: &str) -> HubResult<DeviceRow> {
        let d = device.to_string();
        self.inner
            .db
            .read(move |conn| crate::registry::table::get_required(conn, &d))
            .await
    }

    pub(crate) fn touch(&self, device: &str) {
        self.inner.presence.touch(device, self.now());
    }

    pub(crate) fn next_attachment_id(&self) -> u64 {
        self.inner.next_attachment.fetch_add(1, Ordering::Relaxed)
    }
}

fn file_size(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_path_buf(), PathBuf::from(wal)]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Each setting whose value differs, by its (camelCase) name.
fn settings_diff(
    old: &HubSettings,
    new: &HubSettings,
) -> std::collections::BTreeMap<String, SettingChange> {
    let (o, n) = (
        serde_json::to_value(old).unwrap_or_default(),
        serde_json::to_value(new).unwrap_or_default(),
    );
    let mut out = std::collections::BTreeMap::new();
    if let (Some(o), Some(n)) = (o.as_object(), n.as_object()) {
        for (k, v) in n {
            let from = o.get(k).cloned().unwrap_or_default();
            if &from != v {
                out.insert(
                    k.clone(),
                    SettingChange {
                        from,
                        to: v.clone(),
                    },
                );
            }
        }
    }
    out
}
