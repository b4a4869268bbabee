//! One simulated device: a real client of the hub, driven by its profile.
//!
//! The device connects to the hub's own MQTT listener exactly as firmware
//! would (SAS token made from its registry key), and receives C2D over the
//! HTTP device endpoints when its profile rejects or abandons (MQTT can only
//! complete). There is no shortcut into the engine: what a simulated device
//! sees and does shows in the trace as a board's would, plus `sim.action`
//! events for its own decisions (going offline, withholding an ack, ...).
//!
//! All waiting goes through the hub's clock, so tests drive a simulated
//! device in virtual time; all randomness comes from the device's seeded
//! generator, so a run can be repeated exactly.

pub mod fault;
mod http;
mod session;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hublet_core::trace::detail::{SimAction, SimActionKind};
use hublet_core::trace::{NewEvent, TraceDetail};
use hublet_core::{Hub, Timestamp};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::profile::Profile;

/// Where simulated devices connect.
#[derive(Clone)]
pub struct Target {
    /// MQTT listener (the plain one when there is one).
    pub mqtt: SocketAddr,
    /// TLS settings when `mqtt` is the TLS listener; the host name is `localhost`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Base URL of the hub's HTTP API (for the device endpoints), e.g. `http://127.0.0.1:8480`.
    pub http: Option<String>,
}

/// What a simulated device is doing, for lists and the app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimStatus {
    /// Device id.
    pub device_id: String,
    /// Profile name.
    pub profile: String,
    /// The fleet's seed as given to `sim run --seed` (or drawn at random):
    /// run the same profile with it to replay the fleet.
    pub seed: u64,
    /// The device's position in its fleet (0-based); its random generator
    /// is seeded from the fleet's seed and this position. `None` for a
    /// device Hublet 0.1 persisted (its `seed` is its own).
    pub fleet_index: Option<usize>,
    /// Restarted with the hub.
    pub persist: bool,
    /// `waiting`, `online`, `offline`, `reconnecting` or `stopped`.
    pub state: String,
    /// When the state last changed.
    pub since: Option<Timestamp>,
    /// C2D messages received (redeliveries included).
    pub c2d_received: u64,
    /// C2D messages completed.
    pub c2d_completed: u64,
    /// C2D messages rejected.
    pub c2d_rejected: u64,
    /// C2D messages abandoned.
    pub c2d_abandoned: u64,
    /// C2D deliveries left unacknowledged on purpose.
    pub c2d_withheld: u64,
    /// Method calls answered.
    pub methods_answered: u64,
    /// Method calls left unanswered on purpose.
    pub methods_ignored: u64,
    /// Telemetry messages sent.
    pub telemetry_sent: u64,
    /// Times the link dropped.
    pub drops: u64,
}

/// Shared, updated by the device task.
pub type StatusCell = Arc<Mutex<SimStatus>>;

pub(crate) fn update(cell: &StatusCell, f: impl FnOnce(&mut SimStatus)) {
    let mut s = cell.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut s);
}

/// Everything one device task needs.
pub(crate) struct Device {
    pub hub: Hub,
    pub target: Target,
    pub id: String,
    pub profile: Arc<Profile>,
    pub status: StatusCell,
    pub cancel: CancellationToken,
    pub rng: StdRng,
    pub started: Duration,
    pub method_counts: std::collections::BTreeMap<String, u64>,
    pub telemetry_count: u64,
    /// Twin requests sent (their `$rid`s).
    pub twin_requests: u64,
    /// Desired values it took, by property (a declining device reports
    /// these back instead of the new ones).
    pub twin_kept: serde_json::Map<String, serde_json::Value>,
    /// Shared by every device of the simulator (one connection pool).
    pub http: reqwest::Client,
    /// Faults injected from outside ([`fault`]).
    pub faults: fault::FaultReceiver,
}

/// How a connected period ended.
pub(crate) enum SessionEnd {
    /// The profile's offline time began.
    Planned,
    /// The link dropped (on purpose, or the hub closed it).
    Dropped(String),
    /// Connecting failed.
    Failed(String),
    /// The device was stopped.
    Cancelled,
    /// A `disconnect` fault was injected.
    Faulted,
}

impl Device {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        hub: Hub,
        target: Target,
        http: reqwest::Client,
        id: String,
        profile: Arc<Profile>,
        seed: u64,
        status: StatusCell,
        cancel: CancellationToken,
        faults: fault::FaultReceiver,
    ) -> Device {
        let started = hub.clock().monotonic();
        Device {
            hub,
            target,
            id,
            profile,
            status,
            cancel,
            rng: StdRng::seed_from_u64(seed),
            started,
            method_counts: Default::default(),
            telemetry_count: 0,
            twin_requests: 0,
            twin_kept: serde_json::Map::new(),
            http,
            faults,
        }
    }

    /// Traces something the device did on its own (`sim.action`).
    pub(crate) fn action(&self, action: SimActionKind) {
        let detail = TraceDetail::SimAction(SimAction {
            profile: self.profile.name.clone(),
            action,
        });
        self.hub
            .trace()
            .append(NewEvent::new(self.id.as_str(), detail));
    }

    fn set_state(&self, state: &str) {
        let now = self.hub.now();
        update(&self.status, |s| {
            s.state = state.to_string();
            s.since = Some(now);
        });
    }

    /// Sleeps on the hub's clock; false if the device was stopped meanwhile.
    pub(crate) async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = self.hub.clock().sleep(d) => true,
            _ = self.cancel.cancelled() => false,
        }
    }

    pub(crate) fn uptime(&self) -> f64 {
        self.hub
            .clock()
            .monotonic()
            .saturating_sub(self.started)
            .as_secs_f64()
    }

    /// While a `disconnect` fault lasts, stays offline; false if the device
    /// was stopped meanwhile.
    async fn stay_offline_while_faulted(&mut self) -> bool {
        loop {
            let state = *self.faults.borrow_and_update();
            let now = self.hub.now();
            if !state.is_offline(now) {
                return true;
            }
            self.set_state("offline");
            let until = state.offline_until();
            let clock = self.hub.clock().clone();
            tokio::select! {
                _ = self.cancel.cancelled() => return false,
                _ = self.faults.changed() => {}
                _ = async {
                    match until {
                        Some(t) => clock.sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
    }

    /// The device's life: wait, connect, stay online for its share of the
    /// cycle (or until the link drops), go offline, and again.
    pub(crate) async fn run(mut self) {
        self.set_state("waiting");
        if !self.sleep(self.profile.online_after()).await {
            return self.set_state("stopped");
        }
        let c = self.profile.connectivity.clone();
        let mut backoff = c.backoff_initial_secs;
        loop {
            if !self.stay_offline_while_faulted().await {
                break;
            }
            let end = session::run(&mut self).await;
            match end {
                SessionEnd::Cancelled => break,
                SessionEnd::Faulted => backoff = c.backoff_initial_secs,
                SessionEnd::Planned => {
                    backoff = c.backoff_initial_secs;
                    self.set_state("offline");
                    self.action(SimActionKind::Offline {
                        for_secs: c.offline_for_secs,
                    });
                    if !self
                        .sleep(Duration::from_secs_f64(c.offline_for_secs))
                        .await
                    {
                        break;
                    }
                }
                SessionEnd::Dropped(why) | SessionEnd::Failed(why) => {
                    self.set_state("reconnecting");
                    self.action(SimActionKind::Reconnect {
                        after: why,
                        backoff_secs: backoff,
                    });
                    if !self.sleep(Duration::from_secs_f64(backoff)).await {
                        break;
                    }
                    backoff = (backoff * 2.0).min(c.backoff_max_secs);
                }
            }
        }
        self.set_state("stopped");
    }
}
