//! Whether the hub can store what it is given, for people to see.
//!
//! A failed write answers its caller, but much of what the hub stores has
//! no caller waiting (telemetry's trace events, feedback batches), and the
//! person at the desk sees neither. So the store keeps one piece of state,
//! "the disk is full since …", published on a watch channel: the API shows
//! it in `/api/hub` and streams changes to the app, which shows a banner.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::clock::Timestamp;

/// How long writes must succeed, after the last failure, before the problem
/// is considered gone: a nearly full disk lets small writes through between
/// failing large ones, and the banner should not flicker.
const QUIET_MS: i64 = 5_000;

/// What is wrong with storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct StorageProblem {
    /// IoT Hub-style error code (507001 DiskFull).
    pub code: u32,
    /// The directory whose disk is full.
    pub dir: String,
    /// When writes started failing.
    pub since: Timestamp,
    /// When a write last failed.
    pub last_failure: Timestamp,
    /// One sentence for the user: what is wrong and what to do.
    pub message: String,
}

/// The store's health, shared by the writer thread and async callers.
#[derive(Debug)]
pub(crate) struct StorageHealth {
    dir: String,
    tx: watch::Sender<Option<StorageProblem>>,
    /// Serialises report/clear so `since` is kept across reports.
    gate: Mutex<()>,
}

impl StorageHealth {
    pub(crate) fn new(dir: String) -> StorageHealth {
        StorageHealth {
            dir,
            tx: watch::Sender::new(None),
            gate: Mutex::new(()),
        }
    }

    /// The directory named in disk-full errors.
    pub(crate) fn dir(&self) -> &str {
        &self.dir
    }

    /// A write failed because the disk is full.
    pub(crate) fn report_full(&self, now: Timestamp) {
        let _g = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        let since = self.tx.borrow().as_ref().map(|p| p.since).unwrap_or(now);
        if self.tx.borrow().is_none() {
            tracing::error!("the disk holding {} is full; writes are failing", self.dir);
        }
        self.tx.send_replace(Some(StorageProblem {
            code: crate::error::ErrorCode::DiskFull.number(),
            dir: self.dir.clone(),
            since,
            last_failure: now,
            message: format!(
                "The disk holding {} is full: the hub cannot store new messages, events or changes. Free space on that disk (or lower the trace retention in Settings); nothing stored before is lost.",
                self.dir
            ),
        }));
    }

    /// A group of writes committed.
    pub(crate) fn committed(&self, now: Timestamp) {
        if self.tx.borrow().is_none() {
            return;
        }
        let _g = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        let quiet = self
            .tx
            .borrow()
            .as_ref()
            .is_some_and(|p| now.0 - p.last_failure.0 >= QUIET_MS);
        if quiet {
            tracing::info!("the hub can store again in {}", self.dir);
            self.tx.send_replace(None);
        }
    }

    /// The problem now, if any.
    pub(crate) fn current(&self) -> Option<StorageProblem> {
        self.tx.borrow().clone()
    }

    /// Follows changes.
    pub(crate) fn watch(&self) -> watch::Receiver<Option<StorageProblem>> {
        self.tx.subscribe()
    }
}
