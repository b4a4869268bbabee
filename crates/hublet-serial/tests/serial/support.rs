//! A hub on a manual clock with a serial bridge, and emulated boards
//! reached through a symlink (so a test can "re-plug" a board on a new
//! pseudo-terminal under the same path, as udev rules do for real boards).

use std::path::PathBuf;
use std::time::Duration;

use hublet_core::{Hub, HubOptions, HubSettings, ManualClock, TraceEvent, TraceQuery};
use hublet_serial::{BoardState, Emulator, SerialBridge, SerialSettings};
use tempfile::TempDir;

pub struct Bench {
    pub hub: Hub,
    pub clock: ManualClock,
    pub bridge: SerialBridge,
    pub dir: TempDir,
}

impl Bench {
    pub async fn new() -> Bench {
        Bench::open(tempfile::tempdir().unwrap()).await
    }

    pub async fn open(dir: TempDir) -> Bench {
        let clock = ManualClock::at_2030();
        let hub = Hub::open(
            HubOptions::new(dir.path().join("hub.db"))
                .clock(clock.shared())
                .settings(HubSettings::default())
                .background_tasks(false),
        )
        .await
        .unwrap();
        let bridge = SerialBridge::new(hub.clone());
        Bench {
            hub,
            clock,
            bridge,
            dir,
        }
    }

    pub async fn stop(self) -> TempDir {
        self.bridge.shutdown().await;
        self.hub.close().await.unwrap();
        self.dir
    }

    /// The stable path a board is known by.
    pub fn link(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Plugs `emu` in under `name` (replacing what was there).
    pub fn plug(&self, name: &str, emu: &Emulator) -> String {
        let link = self.link(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(emu.path(), &link).unwrap();
        link.to_string_lossy().into_owned()
    }

    /// A board emulator plugged in under `name` and attached as `device`.
    pub async fn board(&self, name: &str, device: &str) -> Emulator {
        let emu = Emulator::start(Some(device)).unwrap();
        let path = self.plug(name, &emu);
        self.bridge
            .bind(&path, device, SerialSettings::default(), false)
            .await
            .unwrap();
        self.wait_state(device, BoardState::Connected).await;
        emu
    }

    /// Waits (real time, bounded) until the board is in `state`.
    pub async fn wait_state(&self, device: &str, state: BoardState) {
        for _ in 0..1000 {
            if self.bridge.status(device).is_some_and(|s| s.state == state) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{device} never {state:?}: {:?}", self.bridge.status(device));
    }

    /// Events of `kind` for `device` (flushing first).
    pub async fn events(&self, device: &str, kind: &str) -> Vec<TraceEvent> {
        self.hub.trace().flush().await.unwrap();
        self.hub
            .trace()
            .query(TraceQuery {
                device_id: Some(device.into()),
                kinds: if kind.is_empty() {
                    vec![]
                } else {
                    vec![kind.into()]
                },
                limit: Some(100_000),
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// Waits (real time, bounded) until an event of `kind` for `device` satisfies `pred`.
    pub async fn wait_event(
        &self,
        device: &str,
        kind: &str,
        pred: impl Fn(&TraceEvent) -> bool,
    ) -> TraceEvent {
        for _ in 0..1000 {
            if let Some(e) = self.events(device, kind).await.into_iter().find(&pred) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "{device}: no matching {kind}: {:#?}",
            self.events(device, "").await
        );
    }

    /// The text of every console line from the board, in order.
    pub async fn console_in(&self, device: &str) -> Vec<String> {
        self.events(device, "serial.line")
            .await
            .iter()
            .filter_map(|e| e.detail.detail_value()["text"].as_str().map(str::to_string))
            .collect()
    }
}

/// Waits (real time, bounded) until the emulated board received a line
/// satisfying `pred`, and returns it.
pub async fn wait_line(emu: &Emulator, pred: impl Fn(&str) -> bool) -> String {
    for _ in 0..1000 {
        if let Some(l) = emu.received().iter().map(|l| text(l)).find(|l| pred(l)) {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the board never received it: {:?}",
        emu.received().iter().map(|l| text(l)).collect::<Vec<_>>()
    );
}

/// The text of a line the emulator received.
pub fn text(l: &[u8]) -> String {
    String::from_utf8_lossy(l).into_owned()
}
