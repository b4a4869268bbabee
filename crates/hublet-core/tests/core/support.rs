//! Shared fixtures: a hub on a temporary directory driven by a manual clock.

use std::time::Duration;

use hublet_core::{Hub, HubOptions, HubSettings, ManualClock, NewDevice};
use tempfile::TempDir;

pub struct TestHub {
    pub hub: Hub,
    pub clock: ManualClock,
    pub _dir: TempDir,
}

impl TestHub {
    pub async fn new() -> TestHub {
        TestHub::with_settings(HubSettings::default()).await
    }

    pub async fn with_settings(settings: HubSettings) -> TestHub {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::at_2030();
        let hub = Hub::open(
            HubOptions::new(dir.path().join("hub.db"))
                .clock(clock.shared())
                .settings(settings)
                .background_tasks(false),
        )
        .await
        .unwrap();
        TestHub {
            hub,
            clock,
            _dir: dir,
        }
    }

    pub async fn device(&self, id: &str) {
        self.hub
            .registry()
            .create(NewDevice::named(id))
            .await
            .unwrap();
    }

    /// Moves virtual time forward and runs the sweeper once, as the
    /// background task would.
    pub async fn advance(&self, d: Duration) {
        self.clock.advance(d);
        self.hub.sweep().await.unwrap();
    }
}

/// Lets spawned tasks run until `cond` holds (never sleeps on the wall clock
/// for long: it yields, then naps a millisecond at a time, up to 5 s).
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for i in 0..5000 {
        if cond() {
            return;
        }
        if i < 100 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    panic!("timed out waiting for: {what}");
}

/// Waits until the manual clock has at least `n` sleepers (a task parked on a timeout).
pub async fn sleepers(clock: &ManualClock, n: usize) {
    eventually(&format!("{n} tasks waiting on the clock"), || {
        clock.sleepers() >= n
    })
    .await;
}

/// SQL that takes a database's trace back from schema 9 (batched indexing)
/// to the shape versions 1 to 8 had, for tests that roll a file back.
/// Takes a database back from schema 11 (C2D sequence numbers in reserved
/// blocks) as far as the migration needs: it rebuilds the table either way.
pub const UNDO_C2D_V11: &str = "DROP TABLE c2d_seq;";

pub const UNDO_TRACE_V9: &str = "
DROP TABLE trace_tail;
DROP INDEX trace_by_device; DROP INDEX trace_by_kind; DROP INDEX trace_by_time; DROP INDEX trace_by_corr;
ALTER TABLE trace_events DROP COLUMN pending;
CREATE INDEX trace_by_device  ON trace_events (device_id, id) WHERE device_id IS NOT NULL;
CREATE INDEX trace_by_kind    ON trace_events (kind, id);
CREATE INDEX trace_by_time    ON trace_events (ts_ms);
CREATE INDEX trace_by_corr    ON trace_events (corr) WHERE corr IS NOT NULL;
";

/// Opens (or reopens) the hub whose database is `path`, on a manual clock
/// and without background tasks: for tests that edit the file between runs.
pub async fn open_file(path: &std::path::Path) -> hublet_core::HubResult<Hub> {
    Hub::open(
        HubOptions::new(path)
            .clock(ManualClock::at_2030().shared())
            .background_tasks(false),
    )
    .await
}
