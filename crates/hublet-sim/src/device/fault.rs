//! Faults injected into a running simulated device from outside (a
//! scenario's `fault` step, `POST /api/sim/devices/{id}/fault`), on top of
//! what its profile does: QA makes a device misbehave at a chosen moment
//! instead of waiting for its profile's dice.

use std::time::Duration;

use hublet_core::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// A fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimFault {
    /// Disconnect cleanly and stay offline.
    Disconnect,
    /// Break the connection without a goodbye (the hub sees it die); the
    /// device reconnects after its back-off.
    DropLink,
    /// Stay connected but answer no method and acknowledge no C2D message.
    Unresponsive,
    /// End a `disconnect` or `unresponsive` fault.
    Resume,
}

impl SimFault {
    /// Its name in files and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            SimFault::Disconnect => "disconnect",
            SimFault::DropLink => "drop_link",
            SimFault::Unresponsive => "unresponsive",
            SimFault::Resume => "resume",
        }
    }
}

/// The fault a device is under now; every change is a new value on the
/// device's watch channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultState {
    /// Offline on purpose, until this time (`None` inside: until resumed).
    pub offline: Option<Option<Timestamp>>,
    /// Answering nothing, until this time (`None` inside: until resumed).
    pub unresponsive: Option<Option<Timestamp>>,
    /// Bumped for each `drop_link`.
    pub drops: u64,
}

fn active(f: Option<Option<Timestamp>>, now: Timestamp) -> bool {
    matches!(f, Some(None)) || matches!(f, Some(Some(until)) if now < until)
}

impl FaultState {
    /// The state after `fault` at `now`, lasting `for_time` (none: until resumed).
    pub fn apply(
        mut self,
        fault: SimFault,
        now: Timestamp,
        for_time: Option<Duration>,
    ) -> FaultState {
        let until = for_time.map(|d| now.plus(d));
        match fault {
            SimFault::Disconnect => self.offline = Some(until),
            SimFault::Unresponsive => self.unresponsive = Some(until),
            SimFault::DropLink => self.drops += 1,
            SimFault::Resume => {
                self.offline = None;
                self.unresponsive = None;
            }
        }
        self
    }

    /// Offline on purpose at `now`.
    pub fn is_offline(&self, now: Timestamp) -> bool {
        active(self.offline, now)
    }

    /// Answering nothing at `now`.
    pub fn is_unresponsive(&self, now: Timestamp) -> bool {
        active(self.unresponsive, now)
    }

    /// When the offline fault ends by itself, if it does.
    pub fn offline_until(&self) -> Option<Timestamp> {
        self.offline.flatten()
    }
}

/// The sending half, kept by the simulator.
pub type FaultSender = watch::Sender<FaultState>;
/// The receiving half, kept by the device.
pub type FaultReceiver = watch::Receiver<FaultState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_last_until_resumed_or_their_time() {
        let t0 = Timestamp(1_000_000);
        let s = FaultState::default().apply(SimFault::Disconnect, t0, None);
        assert!(s.is_offline(t0.plus(Duration::from_secs(3600))));
        assert!(!s.apply(SimFault::Resume, t0, None).is_offline(t0));
        let s =
            FaultState::default().apply(SimFault::Unresponsive, t0, Some(Duration::from_secs(5)));
        assert!(s.is_unresponsive(t0.plus(Duration::from_secs(4))));
        assert!(!s.is_unresponsive(t0.plus(Duration::from_secs(5))));
        let s = s.apply(SimFault::DropLink, t0, None);
        assert_eq!(s.drops, 1);
    }
}
