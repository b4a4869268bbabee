//! A hub with its MQTT gateway and HTTP API on 127.0.0.1 and a simulator
//! pointed at them, all on a manual clock.

use std::time::Duration;

use hublet_api::{ApiServer, AppState, SecurityConfig, ServerFacts};
use hublet_core::{Hub, HubOptions, HubSettings, ManualClock, TraceEvent, TraceQuery};
use hublet_mqtt::{Gateway, GatewayConfig};
use hublet_sim::{FleetRequest, Simulator, Target};
use tempfile::TempDir;

pub struct Lab {
    pub hub: Hub,
    pub clock: ManualClock,
    pub gw: Gateway,
    pub api: ApiServer,
    pub sim: Simulator,
    pub dir: TempDir,
}

impl Lab {
    pub async fn new() -> Lab {
        Lab::open(tempfile::tempdir().unwrap()).await
    }

    pub async fn open(dir: TempDir) -> Lab {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let clock = ManualClock::at_2030();
        let hub = Hub::open(
            HubOptions::new(dir.path().join("hub.db"))
                .clock(clock.shared())
                .settings(HubSettings::default())
                .background_tasks(false),
        )
        .await
        .unwrap();
        let gw = Gateway::start(
            hub.clone(),
            GatewayConfig {
                tcp: Some("127.0.0.1:0".parse().unwrap()),
                ..GatewayConfig::default()
            },
        )
        .await
        .unwrap();
        let state = AppState::new(
            hub.clone(),
            "t".into(),
            SecurityConfig::default(),
            ServerFacts::default(),
        );
        let api = ApiServer::start(
            state,
            Some("127.0.0.1:0".parse().unwrap()),
            None,
            hublet_api::Limits::default(),
        )
        .await
        .unwrap();
        let target = Target {
            mqtt: gw.tcp_addr().unwrap(),
            tls: None,
            http: Some(format!("http://{}", api.http_addr().unwrap())),
        };
        let sim = Simulator::new(hub.clone(), target, Some(dir.path().join("profiles")));
        Lab {
            hub,
            clock,
            gw,
            api,
            sim,
            dir,
        }
    }

    pub async fn stop(self) -> TempDir {
        self.sim.shutdown().await;
        self.gw.shutdown().await;
        self.api.shutdown().await;
        self.hub.close().await.unwrap();
        self.dir
    }

    /// Starts one device of `profile` (a built-in name, or TOML saved first).
    pub async fn start(&self, profile: &str, prefix: &str, seed: u64) -> String {
        let ids = self
            .sim
            .start(FleetRequest {
                profile: profile.into(),
                count: Some(1),
                prefix: Some(prefix.into()),
                seed: Some(seed),
                persist: false,
                ids: Vec::new(),
            })
            .await
            .unwrap();
        ids[0].clone()
    }

    pub async fn start_toml(&self, toml: &str, prefix: &str, seed: u64) -> String {
        let name = toml
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .unwrap()
            .trim_end_matches('"')
            .to_string();
        self.sim.save_profile(&name, toml).await.unwrap();
        self.start(&name, prefix, seed).await
    }

    /// Events of `kind` for `device` (flushing first).
    pub async fn events(&self, device: &str, kind: &str) -> Vec<TraceEvent> {
        self.hub.trace().flush().await.unwrap();
        self.hub
            .trace()
            .query(TraceQuery {
                device_id: Some(device.into()),
                kinds: vec![kind.into()],
                limit: Some(10_000),
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// Waits (real time, up to 10 s) until there are at least `n` events of `kind` for `device`.
    pub async fn wait(&self, device: &str, kind: &str, n: usize) -> Vec<TraceEvent> {
        for _ in 0..1000 {
            let evs = self.events(device, kind).await;
            if evs.len() >= n {
                return evs;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "{device}: fewer than {n} {kind} events: {:?}",
            self.events(device, "").await
        );
    }

    /// Waits (real time, up to 10 s) until the simulated device's status satisfies `pred`.
    pub async fn wait_sim(
        &self,
        device: &str,
        what: &str,
        pred: impl Fn(&hublet_sim::SimStatus) -> bool,
    ) {
        for _ in 0..1000 {
            if self
                .sim
                .list()
                .iter()
                .any(|s| s.device_id == device && pred(s))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{device}: never {what}: {:?}", self.sim.list());
    }

    /// Waits until the device is online (its timers are then set).
    pub async fn online(&self, device: &str) {
        self.wait_sim(device, "online", |s| s.state == "online")
            .await;
    }

    /// Moves the hub's clock and runs the sweeper, as time passing would.
    pub async fn advance(&self, d: Duration) {
        self.clock.advance(d);
        self.hub.sweep().await.unwrap();
    }

    /// Advances in steps so each step's timers run before the next.
    pub async fn advance_by_steps(&self, total: Duration, step: Duration) {
        let mut done = Duration::ZERO;
        while done < total {
            self.advance(step).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            done += step;
        }
    }
}
